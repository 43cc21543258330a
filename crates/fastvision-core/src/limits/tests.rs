use super::*;

#[test]
fn human_bytes_picks_the_largest_unit() {
    assert_eq!(human_bytes(12), "12 bytes");
    assert_eq!(human_bytes(1_200_000_000), "1.1 GiB");
    assert_eq!(human_bytes(MAX_BATCH_BYTES), "2 GiB");
    assert_eq!(human_bytes(79_000_000), "75.3 MiB");
}
