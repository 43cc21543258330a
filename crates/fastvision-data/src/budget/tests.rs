use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::*;

#[test]
fn permits_are_given_back_and_oversized_requests_run_alone() {
    let budget = DecodeBudget::new(100);
    {
        let _a = budget.acquire(60);
        let _b = budget.acquire(40);
        assert_eq!(budget.available(), 0);
    }
    assert_eq!(budget.available(), 100);
    let alone = budget.acquire(1_000);
    assert_eq!(budget.available(), 0);
    drop(alone);
    assert_eq!(budget.available(), 100);
}

#[test]
fn concurrent_holders_never_exceed_the_total() {
    let budget = Arc::new(DecodeBudget::new(100));
    let (held, peak) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (budget, held, peak) = (Arc::clone(&budget), Arc::clone(&held), Arc::clone(&peak));
            std::thread::spawn(move || {
                for round in 0..50 {
                    let bytes = 10 + (i * 7 + round) % 60;
                    let _permit = budget.acquire(bytes);
                    let now = held.fetch_add(bytes, Ordering::SeqCst) + bytes;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                    held.fetch_sub(bytes, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 100, "peak {}", peak.load(Ordering::SeqCst));
    assert_eq!(budget.available(), 100);
}
