//! Closing auctions: the scheduled `close-auctions` run and the seller's `end-auction` share this path.
//!
//! 1. A conditional write moves the auction active → ended: exactly once, however many closers race. It
//!    bumps `seq`, so the close is a change like a bid.
//! 2. The change is handed to the publisher, which delivers whatever bids were not delivered yet and
//!    `auction.ended` in one frame, in order after every bid frame, then revokes every viewer and marks the
//!    auction finalized ([`super::publish`]).
//!
//! A close whose hand-off or publication did not finish leaves the auction ended but not finalized;
//! `due_auctions` keeps listing it and a later run hands it off again (at least once). To avoid racing a
//! publication still in progress, a run only hands off someone else's close after [`FINALIZE_GRACE_MS`].
//!
//! Each run also hands off, for active auctions, whatever a lost hand-off left undelivered (after
//! [`REDELIVER_AFTER_MS`]) and the periodic `auction.status` (every `STATUS_INTERVAL_MS`).
//!
//! A run keeps taking batches of `CLOSE_BATCH` due auctions until none is left or its time budget
//! (`CLOSE_BUDGET_MS`, well under the function's timeout) is spent, so a flood of auctions ending together
//! is closed in one run, not one batch a minute. Every close also gives back the auction's slot of its
//! seller's quota and schedules its deletion `RETENTION_DAYS` after it ended, before the hand-off (both
//! idempotent, and repeated whenever a later run finds the close unfinished); each run then deletes up to
//! `PURGE_BATCH` auctions whose retention has passed.

use super::App;
use crate::domain::{Auction, AuctionId, AuctionStatus, CloseOutcome, Closing, EndedBy, Millis};
use crate::ports::{Broadcaster, Store, StoreError};
use crate::publisher::{PublishJob, REDELIVER_AFTER_MS};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Instant;

/// How long after an auction ended another run may take over its announcement.
pub const FINALIZE_GRACE_MS: i64 = 10_000;

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloseRunReport {
    /// Auctions this run moved to ended.
    pub closed: Vec<String>,
    /// Auctions ended earlier whose announcement this run completed (after a crash).
    pub recovered: Vec<String>,
    /// Due auctions another closer got to first.
    pub skipped: usize,
    /// Active auctions handed to the publisher for their periodic status or undelivered changes.
    pub status_jobs: usize,
    /// Active auctions whose changes were still undelivered `REDELIVER_AFTER_MS` after they happened.
    pub redelivered: Vec<String>,
    /// Batches of due auctions this run took (it stops when none is due or its budget is spent).
    pub batches: usize,
    /// Ended auctions deleted (with their bids) because their retention had passed.
    pub purged: Vec<String>,
    pub errors: usize,
}

/// Closes one run makes at once.
const CLOSE_CONCURRENCY: usize = 16;

/// The outcome of closing one auction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// This call ended it (and handed the announcement to the publisher).
    Now(Auction),
    /// It was already ended; the announcement was handed off again here if it had been left undone.
    Earlier {
        auction: Auction,
        recovered: bool,
    },
    NotDue(Auction),
    NotFound,
}

/// What the close timer's task sends (`{"auctionId": …}`; Step Functions passes its state, which may carry more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseTimerEvent {
    pub auction_id: AuctionId,
}

/// The answer to the close timer: done (ended, by this call or before), or wait until `wakeAt` (the soft close
/// moved the end) and ask again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimerReply {
    pub auction_id: AuctionId,
    pub done: bool,
    /// RFC 3339, whole seconds (the Step Functions `Wait` state's `TimestampPath`).
    pub wake_at: String,
    /// The same, in epoch ms (the local stack's timer).
    pub wake_at_ms: Millis,
}

/// Longest the function itself sleeps before a close: the rest of the second the `Wait` state woke in.
const MAX_SLEEP_MS: Millis = 1_500;
/// Sleep-and-close rounds of one `close_at_end` call.
const MAX_ROUNDS: usize = 4;

/// `ms` as RFC 3339 in UTC, rounded down to the second (what a `Wait` state's timestamp takes).
pub fn wake_at_iso(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

impl<S: Store, B: Broadcaster> App<S, B> {
    /// The close timer's wake-up at (or just before) an auction's end: sleep the rest of the way, close it
    /// through the same path as the schedule, and follow a soft-close extension (wait again for the new end).
    pub async fn close_at_end(&self, event: CloseTimerEvent) -> Result<TimerReply, CloseFailed> {
        let id = event.auction_id;
        let reply = |done: bool, at: Millis| TimerReply {
            auction_id: id.clone(),
            done,
            wake_at: wake_at_iso(at),
            wake_at_ms: at,
        };
        // A few rounds at most: each follows an end a bid moved while this call slept.
        for _ in 0..MAX_ROUNDS {
            let Some(a) = self.store.get_auction(&id).await? else {
                return Ok(reply(true, self.now()));
            };
            if a.status == AuctionStatus::Ended {
                // Ended already; an interrupted announcement is the sweep's (after its grace).
                return Ok(reply(true, self.now()));
            }
            let rest = a.ends_at - self.now();
            if rest > MAX_SLEEP_MS {
                return Ok(reply(false, a.ends_at));
            }
            if rest > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(rest as u64)).await;
            }
            match self.close_due(&id).await? {
                // A bid moved the end while we slept: decide again on the new end.
                Closed::NotDue(_) => continue,
                Closed::Now(a) => {
                    tracing::info!(auction_id = %id, lag_ms = a.ended_at.unwrap_or_default() - a.ends_at, "closed at its end");
                    return Ok(reply(true, self.now()));
                }
                Closed::Earlier { .. } | Closed::NotFound => return Ok(reply(true, self.now())),
            }
        }
        // Still moving: let the timer wake us again (the state machine's next Wait).
        let ends_at = match self.store.get_auction(&id).await? {
            Some(a) => a.ends_at,
            None => return Ok(reply(true, self.now())),
        };
        Ok(reply(false, ends_at))
    }

    /// One scheduled run (`close-auctions`): close what is due, hand off interrupted closes again, and hand
    /// off active auctions' undelivered changes and periodic status. Closes run in parallel across auctions.
    pub async fn close_run(&self) -> Result<CloseRunReport, CloseFailed> {
        let mut report = CloseRunReport::default();
        let started = Instant::now();
        let budget = self.settings.limits.close_budget;
        let batch = self.settings.close_batch.max(1);
        // Every auction this run tried once: a batch takes only new ones, so one that keeps failing (or an
        // announcement still in its grace) cannot make the run spin.
        let mut attempted: HashSet<AuctionId> = HashSet::new();
        loop {
            let due = self
                .store
                .due_auctions(self.now(), attempted.len().saturating_add(batch))
                .await?;
            let fresh: Vec<AuctionId> = due
                .into_iter()
                .filter(|id| !attempted.contains(id))
                .take(batch)
                .collect();
            if fresh.is_empty() {
                break;
            }
            attempted.extend(fresh.iter().cloned());
            report.batches += 1;
            self.close_batch(fresh, &mut report).await;
            if started.elapsed() >= budget {
                tracing::warn!(
                    batches = report.batches,
                    "close run budget spent; the next run goes on"
                );
                break;
            }
        }
        report.closed.sort();
        report.recovered.sort();
        self.status_jobs(&mut report).await?;
        if started.elapsed() < budget {
            let l = &self.settings.limits;
            for id in self.store.purge_due(self.now(), l.purge_batch).await? {
                report.purged.push(id.to_string());
            }
        }
        crate::metrics::close_run(report.closed.len(), report.errors);
        tracing::info!(?report, "close run done");
        Ok(report)
    }

    /// Close one batch of due auctions, in parallel.
    async fn close_batch(&self, due: Vec<AuctionId>, report: &mut CloseRunReport) {
        let outcomes: Vec<_> = futures::stream::iter(due)
            .map(|id| async move { (self.close_due(&id).await, id) })
            .buffer_unordered(CLOSE_CONCURRENCY)
            .collect()
            .await;
        for (outcome, id) in outcomes {
            match outcome {
                Ok(Closed::Now(a)) => report.closed.push(a.auction_id.to_string()),
                Ok(Closed::Earlier {
                    recovered: true,
                    auction,
                }) => report.recovered.push(auction.auction_id.to_string()),
                Ok(_) => report.skipped += 1,
                Err(e) => {
                    // One bad auction must not stop the others; it stays due and the next run retries it.
                    tracing::error!(auction_id = %id, error = %e, "close failed; will retry next run");
                    report.errors += 1;
                }
            }
        }
    }

    /// Hand off active auctions' undelivered changes and their periodic status.
    async fn status_jobs(&self, report: &mut CloseRunReport) -> Result<(), CloseFailed> {
        if self.settings.status_broadcast_auctions > 0 {
            let now = self.now();
            let active = self
                .store
                .list_active(now, self.settings.status_broadcast_auctions)
                .await?;
            let status_ms =
                i64::try_from(self.settings.status_interval.as_millis()).unwrap_or(i64::MAX);
            for a in active {
                let p = &a.publication;
                let lost = a.needs_publishing() && now - a.last_change_at() >= REDELIVER_AFTER_MS;
                let status_due = p.audience > 0 && now - p.at.max(p.status_at) >= status_ms;
                if lost {
                    report.redelivered.push(a.auction_id.to_string());
                }
                if lost || status_due {
                    self.hand_off(PublishJob::status(&a.auction_id, a.seq, now))
                        .await;
                    report.status_jobs += 1;
                }
            }
        }
        Ok(())
    }

    /// Close one auction whose `endsAt` has passed (the schedule's close).
    pub async fn close_due(&self, id: &AuctionId) -> Result<Closed, StoreError> {
        self.close(id, Closing::Due).await
    }

    /// End one auction now, before its `endsAt`: an admin's end, or its seller's while it has no bids.
    pub async fn end_early(&self, id: &AuctionId, by: EndedBy) -> Result<Closed, StoreError> {
        self.close(id, Closing::Early(by)).await
    }

    async fn close(&self, id: &AuctionId, closing: Closing) -> Result<Closed, StoreError> {
        let now = self.now();
        match self.store.close_auction(id, now, &closing).await? {
            CloseOutcome::Closed(a) => {
                if let Some(by) = &a.ended_by {
                    tracing::info!(auction_id = %id, ended_by = %by.user_id, role = ?by.role, bids = a.bid_count, "ended early");
                }
                crate::metrics::auction_closed(&closing, a.ends_at, now);
                self.after_close(&a, now).await?;
                self.hand_off(PublishJob::changed(id, a.seq, now)).await;
                Ok(Closed::Now(a))
            }
            CloseOutcome::AlreadyEnded(a) => {
                let stale = a.ended_at.is_none_or(|t| now - t >= FINALIZE_GRACE_MS);
                let recovered = !a.finalized && stale;
                if !a.finalized {
                    self.after_close(&a, now).await?;
                }
                if recovered {
                    self.hand_off(PublishJob::changed(id, a.seq, now)).await;
                }
                Ok(Closed::Earlier {
                    auction: a,
                    recovered,
                })
            }
            CloseOutcome::NotDue(a) => Ok(Closed::NotDue(a)),
            CloseOutcome::NotFound => Ok(Closed::NotFound),
        }
    }
}

impl<S: Store, B: Broadcaster> App<S, B> {
    /// What a close owes the seller and the table, before the close is handed off (so a close whose
    /// hand-off happened has done it): the seller's quota slot back, and the auction's deletion scheduled
    /// `RETENTION_DAYS` after it ended. Both idempotent; an unfinished close repeats them.
    async fn after_close(&self, a: &Auction, now: i64) -> Result<(), StoreError> {
        self.store
            .release_seller_slot(&a.seller_id, &a.auction_id)
            .await?;
        let ended_at = a.ended_at.unwrap_or(now);
        let purge_at = ended_at.saturating_add(self.settings.limits.retention_ms());
        self.store.schedule_purge(&a.auction_id, purge_at).await
    }
}

/// A failed close run, reported to Lambda with an error type an alarm can match (`CloseFailed`).
#[derive(Debug, thiserror::Error)]
#[error("close run failed: {0}")]
pub struct CloseFailed(#[from] pub StoreError);

impl From<CloseFailed> for lambda_runtime::Diagnostic {
    fn from(e: CloseFailed) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "CloseFailed".into(),
            error_message: e.to_string(),
        }
    }
}
