//! The emulator itself, on its scratch kernels (`cuda/selftest.cu`): shared memory, barriers, every shuffle,
//! votes, atomics, 3-D indices, the misuses it must report, argument checks, and the `__half`/`__nv_bfloat16`
//! conversions against the `half` crate.

use fastvision_cuda_emu::{launch, Arg, Dim3, Error};

#[test]
fn the_kernels_are_sanitized() {
    assert!(fastvision_cuda_emu::sanitized(), "build.rs must compile the kernels with AddressSanitizer and UBSan");
}

#[test]
fn block_sum_uses_shared_memory_barriers_and_shuffles() {
    let n = 1000usize;
    let mut input: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let blocks = n.div_ceil(128);
    let mut out = vec![0.0f32; blocks];
    // SAFETY: `input` holds n values, `out` one per block.
    unsafe {
        launch(
            "selftest_block_sum",
            blocks as u32,
            128,
            0,
            &[Arg::slice(&mut input), Arg::slice(&mut out), Arg::I32(n as i32)],
        )
    }
    .expect("launch");
    for (b, &sum) in out.iter().enumerate() {
        let expected: f32 = input[b * 128..((b + 1) * 128).min(n)].iter().sum();
        assert_eq!(sum, expected, "block {b}");
    }
}

#[test]
fn dynamic_shared_memory_is_per_block() {
    let mut input: Vec<i32> = (0..3 * 64).collect();
    let mut out = vec![0i32; input.len()];
    // SAFETY: three blocks of 64 threads over 192 values; 64 ints of dynamic shared memory.
    unsafe { launch("selftest_reverse", 3, 64, 64 * 4, &[Arg::slice(&mut input), Arg::slice(&mut out)]) }
        .expect("launch");
    for (i, &value) in out.iter().enumerate() {
        let (block, t) = (i / 64, i % 64);
        assert_eq!(value, (block * 64 + 63 - t) as i32, "element {i}");
    }
}

/// CUDA's source lane of each shuffle for lane `lane`, in a segment of `width`; `None`: the caller's own value.
fn expected_shuffles(lane: i32, width: i32, arg: i32) -> [i32; 4] {
    let segment = lane / width * width;
    let index = segment + arg.rem_euclid(width);
    let up = if lane - segment >= arg { lane - arg } else { lane };
    let down = if lane - segment + arg < width { lane + arg } else { lane };
    let xor = if (lane ^ arg) < segment + width { lane ^ arg } else { lane };
    [index, up, down, xor]
}

#[test]
fn every_shuffle_reads_cudas_source_lane() {
    for (width, arg) in [(32, 1), (32, 5), (32, 16), (32, 31), (8, 3), (4, 1), (16, 7), (32, 0)] {
        let threads = 64usize;
        let mut out = vec![0i32; 5 * threads];
        // SAFETY: five ints per thread.
        unsafe {
            launch("selftest_shuffles", 1, threads as u32, 0, &[Arg::slice(&mut out), Arg::I32(width), Arg::I32(arg)])
        }
        .expect("launch");
        for i in 0..threads as i32 {
            let warp = i / 32 * 32;
            let lanes = expected_shuffles(i - warp, width, arg).map(|lane| 1000 + warp + lane);
            assert_eq!(&out[5 * i as usize..5 * i as usize + 4], &lanes, "thread {i}, width {width}, arg {arg}");
            assert_eq!(out[5 * i as usize + 4], lanes[3], "thread {i}: the 8-byte shuffle");
        }
    }
}

#[test]
fn votes_see_the_whole_warp() {
    let mut input: Vec<i32> = (0..64).map(|i| if i < 32 { i % 3 } else { 5 }).collect();
    let mut out = vec![0u32; 3 * 64];
    // SAFETY: one int in and three out per thread.
    unsafe { launch("selftest_votes", 1, 64, 0, &[Arg::slice(&mut input), Arg::slice(&mut out), Arg::I32(1)]) }
        .expect("launch");
    let ballot0: u32 = (0..32).filter(|i| i % 3 == 2).map(|i| 1u32 << i).sum();
    assert_eq!(&out[..3], &[ballot0, 1, 0]);
    assert_eq!(&out[3 * 40..3 * 41], &[u32::MAX, 1, 1]);
}

#[test]
fn atomics_from_every_block_add_up() {
    let n = 777usize;
    let mut values: Vec<i32> = (0..n as i32).map(|i| 5000 - (i * 37) % 4999).collect();
    let (mut count, mut lowest, mut total) = (vec![0i32], vec![u64::MAX], vec![0.0f32]);
    let args = [
        Arg::slice(&mut values),
        Arg::I32(n as i32),
        Arg::slice(&mut count),
        Arg::slice(&mut lowest),
        Arg::slice(&mut total),
    ];
    // SAFETY: n values; one counter each.
    unsafe { launch("selftest_atomics", n.div_ceil(96) as u32, 96, 0, &args) }.expect("launch");
    assert_eq!(count[0], n as i32);
    assert_eq!(lowest[0], values.iter().copied().min().unwrap() as u64);
    assert_eq!(total[0], 0.5 * n as f32);
}

#[test]
fn three_dimensional_indices_run_x_fastest() {
    let (grid, block) = (Dim3 { x: 3, y: 2, z: 2 }, Dim3 { x: 4, y: 3, z: 2 });
    let per_block = 24;
    let mut out = vec![-1i32; 12 * per_block];
    // SAFETY: one int per thread of the grid.
    unsafe { launch("selftest_indices", grid, block, 0, &[Arg::slice(&mut out)]) }.expect("launch");
    let expected: Vec<i32> = (0..12).flat_map(|b| (0..per_block as i32).map(move |t| b * 10000 + t)).collect();
    assert_eq!(out, expected);
}

#[test]
fn a_barrier_after_an_early_return_is_reported() {
    let mut out = vec![0i32; 64];
    // SAFETY: 64 ints, one per thread.
    let err = unsafe { launch("selftest_divergent_barrier", 1, 64, 0, &[Arg::slice(&mut out), Arg::I32(40)]) }
        .expect_err("part of the block exited before __syncthreads");
    let message = err.to_string();
    assert!(message.contains("__syncthreads") && message.contains("has exited"), "{message}");
    // The whole block at the barrier is fine.
    // SAFETY: as above.
    unsafe { launch("selftest_divergent_barrier", 2, 64, 0, &[Arg::slice(&mut out), Arg::I32(64)]) }.expect("launch");
    assert!(out.iter().all(|&v| v == 1));
}

#[test]
fn a_shuffle_with_an_exited_lane_is_reported() {
    let mut out = vec![0i32; 32];
    // SAFETY: 32 ints.
    let err = unsafe { launch("selftest_shuffle_exited_lane", 1, 32, 0, &[Arg::slice(&mut out)]) }
        .expect_err("lane 3 exited");
    assert!(err.to_string().contains("has exited"), "{err}");
}

#[test]
fn launches_are_checked_before_they_run() {
    let mut out = vec![0i32; 32];
    // SAFETY: nothing runs: each launch is refused.
    unsafe {
        let err = launch("selftest_indices", 1, 32, 0, &[Arg::I32(3)]).expect_err("an int for a pointer");
        assert!(matches!(err, Error::Arguments { .. }), "{err}");
        let err = launch("no_such_kernel", 1, 32, 0, &[]).expect_err("unknown");
        assert!(matches!(err, Error::UnknownKernel { .. }), "{err}");
        let err = launch("selftest_indices", 1, 2048, 0, &[Arg::slice(&mut out)]).expect_err("2048 threads");
        assert!(err.to_string().contains("invalid launch"), "{err}");
        let err = launch("selftest_indices", 0, 32, 0, &[Arg::slice(&mut out)]).expect_err("empty grid");
        assert!(err.to_string().contains("invalid launch"), "{err}");
    }
}

/// Special values and every rounding case the conversions have to get right, plus a sweep of bit patterns.
fn test_floats() -> Vec<f32> {
    let mut values = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        65504.0,
        65519.99,
        65520.0,
        1e9,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MIN_POSITIVE,
        5.960_464_5e-8,
        2.980_232_2e-8,
        2.980_233e-8,
        6.097_555e-5,
        6.103_515_6e-5,
        1.0 + 1.0 / 2048.0,
        1.0 + 3.0 / 2048.0,
        3.389_531_4e38,
    ];
    values.extend((0..1u32 << 20).map(|i| f32::from_bits(i.wrapping_mul(0x9E37_79B9) ^ (i << 7))));
    values.retain(|v| !v.is_nan());
    values
}

#[test]
fn half_conversions_round_to_nearest_even() {
    for value in test_floats() {
        let bits = fastvision_cuda_emu::f32_to_f16_bits(value);
        assert_eq!(bits, half::f16::from_f32(value).to_bits(), "f16 of {value:e} ({:#010x})", value.to_bits());
        let back = fastvision_cuda_emu::f16_bits_to_f32(bits);
        assert_eq!(back.to_bits(), half::f16::from_bits(bits).to_f32().to_bits(), "f32 of f16 {bits:#06x}");
        let bf16 = fastvision_cuda_emu::f32_to_bf16_bits(value);
        assert_eq!(bf16, half::bf16::from_f32(value).to_bits(), "bf16 of {value:e} ({:#010x})", value.to_bits());
    }
    assert!(f32::from_bits(u32::from(fastvision_cuda_emu::f32_to_f16_bits(f32::NAN)) << 16).is_nan());
    assert!(fastvision_cuda_emu::f16_bits_to_f32(fastvision_cuda_emu::f32_to_f16_bits(f32::NAN)).is_nan());
}
