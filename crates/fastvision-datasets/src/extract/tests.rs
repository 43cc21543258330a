//! Unit tests of the archive checks: digests match published test vectors.

use super::*;

#[test]
fn digests_match_known_vectors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("abc.txt");
    std::fs::write(&path, b"abc").expect("writing the vector");
    let (md5, sha256) = digests(&path, 3, &mut |_| {}).expect("digests");
    assert_eq!(md5, "900150983cd24fb0d6963f7d28e17f72", "RFC 1321 test vector");
    assert_eq!(sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "FIPS 180-2 test vector");
}
