//! Closing auctions: the scheduled `close-auctions` run and the seller's `end-auction` share this path.
//!
//! 1. A conditional write moves the auction active → ended: exactly once, however many closers race.
//! 2. `auction.ended` is posted to every viewer, then every viewer is revoked (DeleteConnection + record
//!    removed), then the auction is marked finalized.
//!
//! A run that dies between 1 and 2 leaves the auction ended but not finalized; `due_auctions` keeps listing
//! it and the next run announces and revokes (at least once). To avoid racing a closer that is still
//! working, a run only finishes someone else's close after [`FINALIZE_GRACE_MS`].

use super::App;
use crate::domain::{Auction, AuctionId, CloseOutcome, Closing};
use crate::fanout::FanoutReport;
use crate::frames::Frame;
use crate::ports::{Broadcaster, Store, StoreError};
use serde::Serialize;

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
    pub status_frames: usize,
    pub errors: usize,
}

/// The outcome of closing one auction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// This call ended it (and announced it).
    Now(Auction),
    /// It was already ended; the announcement was completed here if it had been left undone.
    Earlier {
        auction: Auction,
        recovered: bool,
    },
    NotDue(Auction),
    NotFound,
}

impl<S: Store, B: Broadcaster> App<S, B> {
    /// One scheduled run (`close-auctions`): close what is due, finish interrupted closes, then send
    /// `auction.status` to viewers of active auctions (bounded by `status_broadcast_auctions`).
    pub async fn close_run(&self) -> Result<CloseRunReport, CloseFailed> {
        let mut report = CloseRunReport::default();
        let due = self
            .store
            .due_auctions(self.now(), self.settings.close_batch)
            .await?;
        for id in due {
            match self.close_due(&id).await {
                Ok(Closed::Now(a)) => {
                    report.closed.push(a.auction_id.to_string());
                }
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
        if self.settings.status_broadcast_auctions > 0 {
            let active = self
                .store
                .list_active(self.now(), self.settings.status_broadcast_auctions)
                .await?;
            for auction in active {
                let connections = self
                    .store
                    .connections_for_auction(&auction.auction_id)
                    .await?;
                if connections.is_empty() {
                    continue;
                }
                let r = self
                    .fanout
                    .publish(&connections, &Frame::status(&auction))
                    .await;
                report.status_frames += r.delivered;
            }
        }
        tracing::info!(?report, "close run done");
        Ok(report)
    }

    /// Close one auction whose `endsAt` has passed (the schedule's close).
    pub async fn close_due(&self, id: &AuctionId) -> Result<Closed, StoreError> {
        self.close(id, Closing::Due).await
    }

    /// End one auction now, before its `endsAt` (the seller's or an admin's end).
    pub async fn end_early(&self, id: &AuctionId) -> Result<Closed, StoreError> {
        self.close(id, Closing::Early).await
    }

    async fn close(&self, id: &AuctionId, closing: Closing) -> Result<Closed, StoreError> {
        let now = self.now();
        match self.store.close_auction(id, now, closing).await? {
            CloseOutcome::Closed(a) => {
                self.finalize(&a).await?;
                Ok(Closed::Now(a))
            }
            CloseOutcome::AlreadyEnded(a) => {
                let stale = a.ended_at.is_none_or(|t| now - t >= FINALIZE_GRACE_MS);
                let recovered = !a.finalized && stale;
                if recovered {
                    self.finalize(&a).await?;
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

    /// Announce the result and revoke every viewer, then mark the auction finalized.
    async fn finalize(
        &self,
        auction: &Auction,
    ) -> Result<(FanoutReport, FanoutReport), StoreError> {
        let id = &auction.auction_id;
        let connections = self.store.connections_for_auction(id).await?;
        let announced = self
            .fanout
            .publish(&connections, &Frame::ended(auction))
            .await;
        // Viewers that were gone are already removed; revoke the rest.
        let remaining = self.store.connections_for_auction(id).await?;
        let revoked = self.fanout.revoke_all(&remaining).await;
        self.store.mark_finalized(id).await?;
        tracing::info!(
            auction_id = %id,
            winner = auction.high_bid.as_ref().map(|b| b.bidder_id.as_str()),
            announced = announced.delivered,
            gone = announced.gone,
            revoked = revoked.delivered + revoked.gone,
            "auction finalized"
        );
        Ok((announced, revoked))
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
