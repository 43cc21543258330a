//! Launch descriptions: sizes that do not fit a CUDA `int`, `long long` or grid are errors naming the size,
//! never a truncated launch.

use fastvision_ops::launch::{grid_for, Arg, Launch};
use fastvision_ops::Error;

fn named(error: Error, expected_what: &str, expected_value: usize) {
    match error {
        Error::LaunchArgument { what, value, .. } => {
            assert_eq!((what, value), (expected_what, expected_value));
        }
        other => panic!("expected Error::LaunchArgument, got {other:?}"),
    }
}

#[test]
fn sizes_that_fit_become_arguments_and_grids() {
    assert_eq!(Arg::<()>::int("n_rows", 37).unwrap(), Arg::I32(37));
    assert_eq!(Arg::<()>::int("n_rows", i32::MAX as usize).unwrap(), Arg::I32(i32::MAX));
    assert_eq!(Arg::<()>::long("n", 1 << 40).unwrap(), Arg::I64(1 << 40));
    assert_eq!(Arg::<()>::flag(true), Arg::I32(1));
    assert_eq!(grid_for(1000, 256).unwrap(), 4);
    assert_eq!(grid_for(1024, 256).unwrap(), 4);
    assert_eq!(grid_for(0, 256).unwrap(), 0);
    let launch = Launch::<()>::threads("k", 257, 256, vec![]).unwrap();
    assert_eq!((launch.grid, launch.block), (2, 256));
}

#[test]
fn sizes_that_do_not_fit_are_errors_naming_them() {
    let too_big = i32::MAX as usize + 1;
    named(Arg::<()>::int("n_rows", too_big).unwrap_err(), "n_rows", too_big);
    named(Arg::<()>::long("n", usize::MAX).unwrap_err(), "n", usize::MAX);
    let blocks = u32::MAX as usize + 1;
    named(Launch::<()>::blocks("k", blocks, 256, vec![]).unwrap_err(), "the number of blocks", blocks);
    let threads = (u32::MAX as usize + 1) * 256;
    named(grid_for(threads, 256).unwrap_err(), "the number of threads", threads);
    named(Launch::<()>::threads("k", usize::MAX, 256, vec![]).unwrap_err(), "the number of threads", usize::MAX);
}
