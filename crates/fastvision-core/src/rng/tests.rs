use super::*;

#[test]
fn same_seed_same_stream() {
    let a: Vec<u64> = (0..5)
        .map({
            let mut r = Rng::new(42);
            move |_| r.next_u64()
        })
        .collect();
    let b: Vec<u64> = (0..5)
        .map({
            let mut r = Rng::new(42);
            move |_| r.next_u64()
        })
        .collect();
    assert_eq!(a, b);
    assert_ne!(Rng::new(42).next_u64(), Rng::new(43).next_u64());
    assert_ne!(Rng::derive(42, 0).next_u64(), Rng::derive(42, 1).next_u64());
}

#[test]
fn permutation_is_a_permutation_and_uniformish() {
    let mut rng = Rng::new(7);
    let mut perm = rng.permutation(1000);
    perm.sort_unstable();
    assert_eq!(perm, (0..1000).collect::<Vec<_>>());
    let mean: f64 = (0..10_000).map(|_| rng.next_f64()).sum::<f64>() / 10_000.0;
    assert!((mean - 0.5).abs() < 0.02, "{mean}");
    let counts = (0..6000).fold([0usize; 3], |mut c, _| {
        c[rng.below(3)] += 1;
        c
    });
    assert!(counts.iter().all(|&c| (1800..2200).contains(&c)), "{counts:?}");
}
