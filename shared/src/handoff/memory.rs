//! A hand-off that records jobs in memory, for tests: they decide when the publisher runs (`take`), and can
//! make the next enqueues fail (a hand-off lost between the commit and the queue). A duplicate of a queued
//! job (same `dedup_id`) is dropped, as SQS FIFO does.

use crate::ports::{HandOff, HandOffError};
use crate::publisher::PublishJob;
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryHandOff {
    jobs: Mutex<VecDeque<PublishJob>>,
    failures: AtomicUsize,
    enqueued: AtomicUsize,
}

impl MemoryHandOff {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every job queued so far, oldest first; the queue is left empty.
    pub fn take(&self) -> Vec<PublishJob> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.drain(..).collect()
    }

    /// The next `n` enqueues fail (and queue nothing).
    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }

    /// Jobs accepted since the start.
    pub fn enqueued(&self) -> usize {
        self.enqueued.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl HandOff for MemoryHandOff {
    async fn enqueue(&self, job: &PublishJob) -> Result<(), HandOffError> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(HandOffError("injected hand-off failure".into()));
        }
        self.enqueued.fetch_add(1, Ordering::SeqCst);
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        // Like SQS FIFO (and the local queue): a duplicate of a job still queued is accepted and dropped.
        if !jobs.iter().any(|j| j.dedup_id() == job.dedup_id()) {
            jobs.push_back(job.clone());
        }
        Ok(())
    }
}
