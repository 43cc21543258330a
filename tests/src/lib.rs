//! End-to-end tests live in tests/it; this library is empty.
