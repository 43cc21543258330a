//! The loader's decode budget: how many bytes its parallel decodes may hold at once, so the item stage's memory
//! does not grow with the number of threads.

use std::sync::{Condvar, Mutex, PoisonError};

/// Bytes that the decodes in flight may hold, shared by a loader's threads.
///
/// A holder never waits for anything while it holds its share (decoding and resizing run no rayon tasks), so
/// every wait ends when the decodes ahead of it finish.
#[derive(Debug)]
pub(crate) struct DecodeBudget {
    total: u64,
    available: Mutex<u64>,
    freed: Condvar,
}

/// A share of a [`DecodeBudget`], given back when dropped (also while unwinding).
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    budget: &'a DecodeBudget,
    bytes: u64,
}

impl DecodeBudget {
    /// A budget of `total` bytes (at least 1).
    pub fn new(total: u64) -> Self {
        let total = total.max(1);
        Self { total, available: Mutex::new(total), freed: Condvar::new() }
    }

    /// Waits until `bytes` are free and takes them. A request above the total waits until nothing else is in
    /// flight and takes everything: it runs alone, and never waits forever.
    pub fn acquire(&self, bytes: u64) -> Permit<'_> {
        let bytes = bytes.min(self.total);
        // A poisoned lock only means a holder panicked; the count itself is still right (permits drop on unwind).
        let mut available = self.available.lock().unwrap_or_else(PoisonError::into_inner);
        while *available < bytes {
            available = self.freed.wait(available).unwrap_or_else(PoisonError::into_inner);
        }
        *available -= bytes;
        Permit { budget: self, bytes }
    }

    /// Bytes not held by any permit.
    #[cfg(test)]
    pub fn available(&self) -> u64 {
        *self.available.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut available = self.budget.available.lock().unwrap_or_else(PoisonError::into_inner);
        *available += self.bytes;
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests;
