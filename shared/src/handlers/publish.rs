//! The publisher: delivers an auction's committed changes to its viewers. One call per hand-off job; one
//! auction's changes are published by one call at a time (SQS FIFO message groups on AWS, the local stack's
//! queue worker), so every viewer receives one auction's frames in seq order; its viewer counts are a group of
//! their own ([`PublishJob::group`]), so a count waiting out its interval never holds a bid back.
//!
//! 1. Read the auction. Nothing undelivered (and no status asked for): done — a duplicate job costs a read.
//! 2. Coalescing: if the last delivery started less than a window ago (`publisher::window`: 250 ms, wider for a
//!    large audience), wait out the window and read again: everything committed meanwhile goes in the same
//!    frame. A change after a quiet window goes out at once.
//! 3. Read the bids of the undelivered range (`bids_between`) and build ONE frame covering it (at most
//!    `FRAME_BUDGET_BYTES` of bids, well under API Gateway's 128 KB: ≈ 600 bids, what 20 bids/s for 30 s
//!    make; a longer backlog is several frames, in order).
//! 4. Deliver it: the auction's shard partitions split into slices (`publisher::slices`), delivered in
//!    parallel — in this process, or by the `deliver` function when the audience needs several slices —
//!    each paced to its share of the posts-per-second budget. A slice reads only its own shard partitions.
//! 5. Record the delivery (`mark_published`): the next frame starts right after it. If the range included
//!    the close, every viewer is revoked in the same slices and the auction is marked finalized.
//!
//! A slice that takes longer than a window grows its frame with the bids committed meanwhile
//! (`grow_frame`), so a bid reaches a large audience within one pass.
//!
//! A call that fails or dies anywhere leaves `publication.seq` where it was: the job is retried (the queue)
//! or handed off again by the schedule, and viewers that already had part of it drop the repeated seqs.

use super::App;
use crate::domain::{Auction, AuctionStatus, Publication, UserId};
use crate::fanout::{self, FanoutReport};
use crate::frames::Frame;
use crate::ports::{Broadcaster, SliceError, Store, StoreError};
use crate::publisher::{
    self, Pacer, PublishJob, SliceJob, BID_ITEM_BYTES, FRAME_BUDGET_BYTES, MAX_BIDS_PER_FRAME,
    VIEWERS_INTERVAL_MS,
};
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::future::Either;
use serde::Serialize;
use std::sync::Arc;

/// What one publish call did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishReport {
    /// Frames delivered (to every slice).
    pub frames: usize,
    /// The last seq delivered.
    pub seq: u64,
    /// Slices of the last frame.
    pub slices: usize,
    /// Every post of every frame.
    pub posts: FanoutReport,
    /// The close was announced and every viewer revoked.
    pub finalized: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Slice(#[from] SliceError),
}

impl From<PublishError> for lambda_runtime::Diagnostic {
    fn from(e: PublishError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "PublishFailed".into(),
            error_message: e.to_string(),
        }
    }
}

impl<S: Store, B: Broadcaster> App<S, B> {
    /// One SQS FIFO batch (possibly several message groups, each in order): each group (an auction's changes,
    /// or its viewer counts: [`PublishJob::group`]) is published once, for its newest job, groups in parallel. A failed auction's messages are reported as
    /// failures (`ReportBatchItemFailures`) so SQS hands them out again, still in order; a message that is
    /// not a job is logged and dropped.
    pub async fn publish_batch(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut groups: Vec<(PublishJob, Vec<String>)> = Vec::new();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let job: PublishJob = match record.body.as_deref().map(serde_json::from_str) {
                Some(Ok(job)) => job,
                other => {
                    tracing::error!(message_id = %id, error = ?other.map(|r| r.err()), "not a publish job; dropped");
                    continue;
                }
            };
            match groups.iter_mut().find(|(g, _)| g.group() == job.group()) {
                Some((merged, ids)) => {
                    merged.seq = merged.seq.max(job.seq);
                    merged.status |= job.status;
                    merged.requested_at = merged.requested_at.max(job.requested_at);
                    ids.push(id);
                }
                None => groups.push((job, vec![id])),
            }
        }
        let results = futures::future::join_all(
            groups
                .iter()
                .map(|(job, _)| async move { self.publish(job).await }),
        )
        .await;
        let mut response = SqsBatchResponse::default();
        for ((job, ids), result) in groups.into_iter().zip(results) {
            if let Err(e) = result {
                tracing::error!(auction_id = %job.auction_id, error = %e, "publish failed; SQS retries it");
                for id in ids {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                }
            }
        }
        response
    }

    /// Deliver whatever `job.auction_id` has not delivered yet (and, for a status job, the current status).
    pub async fn publish(&self, job: &PublishJob) -> Result<PublishReport, PublishError> {
        let mut report = PublishReport::default();
        let Some(mut auction) = self.store.get_auction(&job.auction_id).await? else {
            return Ok(report);
        };
        if job.viewers {
            // A count runs beside the auction's deliveries (its own message group): it never delivers bids
            // itself, or two publishers of one auction's frames would break the order viewers rely on.
            if auction.status == AuctionStatus::Active {
                return self.publish_viewers(auction, job).await;
            }
            return Ok(report);
        }
        if !auction.needs_publishing() && !job.status {
            return Ok(report);
        }
        if auction.status == AuctionStatus::Active && auction.needs_publishing() {
            let window = publisher::window(&self.settings, auction.publication.audience);
            let since = self.now().saturating_sub(auction.publication.at);
            let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
            if auction.publication.at > 0 && since < window_ms {
                let rest = std::time::Duration::from_millis((window_ms - since) as u64);
                tokio::time::sleep(rest).await;
                match self.store.get_auction(&job.auction_id).await? {
                    Some(a) => auction = a,
                    None => return Ok(report),
                }
            }
        }
        loop {
            let Some(delivery) = self
                .next_frame(&auction, job.status && report.frames == 0)
                .await?
            else {
                break;
            };
            // The window counts from when a delivery starts, so a paced delivery that takes the whole window
            // (a large audience) is followed at once by the next: the posts-per-second budget is used, not halved.
            let began = self.now();
            let (reached, posts, slices) = self.deliver(&auction, &delivery).await?;
            report.frames += 1;
            report.slices = slices;
            report.posts += posts;
            report.seq = delivery.frame.seq;
            let now = self.now();
            let publication = if delivery.status_only {
                Publication {
                    audience: reached,
                    status_at: now,
                    ..auction.publication
                }
            } else {
                Publication {
                    seq: delivery.frame.seq,
                    at: began,
                    audience: reached,
                    status_at: if delivery.frame.carries_viewers() {
                        now
                    } else {
                        auction.publication.status_at
                    },
                }
            };
            self.store
                .mark_published(&auction.auction_id, publication)
                .await?;
            auction.publication = publication;
            if delivery.revoke {
                self.store.mark_finalized(&auction.auction_id).await?;
                auction.finalized = true;
                report.finalized = true;
                tracing::info!(
                    auction_id = %auction.auction_id,
                    winner = auction.high_bid.as_ref().map(|b| b.bidder_id.as_str()),
                    revoked = reached,
                    "auction finalized"
                );
            }
            if delivery.status_only || !auction.needs_publishing() {
                break;
            }
        }
        tracing::info!(
            auction_id = %job.auction_id,
            frames = report.frames,
            seq = report.seq,
            slices = report.slices,
            targets = report.posts.targets,
            delivered = report.posts.delivered,
            gone = report.posts.gone,
            failed = report.posts.failed,
            "published"
        );
        Ok(report)
    }

    /// `auction.viewers` after viewers joined or left: one count per [`VIEWERS_INTERVAL_MS`] with joins or
    /// leaves, taken when that interval has ended ([`PublishJob::viewers_due`]), so every join and leave of it
    /// is counted (its jobs are one job: they share a deduplication id). Only for an audience one slice can
    /// reach: telling a larger one costs a post per viewer, so its count rides on the bid deliveries instead
    /// (`next_frame`).
    async fn publish_viewers(
        &self,
        mut auction: Auction,
        job: &PublishJob,
    ) -> Result<PublishReport, PublishError> {
        let mut report = PublishReport::default();
        if auction.publication.audience > self.settings.slice_viewers {
            return Ok(report);
        }
        let wait = job.viewers_due() - self.now();
        if wait > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
            match self.store.get_auction(&auction.auction_id).await? {
                Some(a) if a.status == AuctionStatus::Active => auction = a,
                _ => return Ok(report),
            }
        }
        let shards: Vec<u16> = (0..auction.viewer_shards.max(1)).collect();
        let viewers = self
            .store
            .connections_in_shards(&auction.auction_id, &shards)
            .await?;
        let count = viewers.len() as u64;
        let frame = Frame::viewers(&auction, count).at(self.now());
        let pacer = Pacer::new(self.settings.publish_posts_per_second, viewers.len());
        report.posts = self.fanout.publish_paced(&viewers, &frame, &pacer).await;
        report.frames = 1;
        let publication = Publication {
            audience: (report.posts.targets - report.posts.gone) as u64,
            status_at: self.now(),
            ..auction.publication
        };
        self.store
            .mark_published(&auction.auction_id, publication)
            .await?;
        Ok(report)
    }

    /// Deliver one slice: the frame to every viewer in `job.shards` (410 removes that viewer), paced; then,
    /// for the close, revoke them all.
    pub async fn deliver_slice(&self, job: &SliceJob) -> Result<FanoutReport, StoreError> {
        let viewers = self
            .store
            .connections_in_shards(&job.auction_id, &job.shards)
            .await?;
        let pacer = Pacer::new(job.posts_per_second, viewers.len());
        let grows = !job.revoke && pacer.spans(viewers.len()) > self.settings.publish_window;
        let report = match fanout::encode(&job.frame) {
            Some(bytes) if grows => {
                let (payload, live) = tokio::sync::watch::channel(Arc::<[u8]>::from(bytes));
                let posting = std::pin::pin!(self.fanout.publish_live(&viewers, &live, &pacer));
                let growing = std::pin::pin!(self.grow_frame(job, payload));
                match futures::future::select(posting, growing).await {
                    Either::Left((report, _)) => report,
                    Either::Right(((), posting)) => posting.await,
                }
            }
            _ => {
                self.fanout
                    .publish_paced(&viewers, &job.frame, &pacer)
                    .await
            }
        };
        if let Some(notice) = &job.notice {
            let outbid: Vec<_> = viewers
                .iter()
                .filter(|c| job.outbid.contains(&c.user_id))
                .cloned()
                .collect();
            if !outbid.is_empty() {
                let posts = self.fanout.publish_paced(&outbid, notice, &pacer).await;
                tracing::debug!(auction_id = %job.auction_id, delivered = posts.delivered, "outbid notices");
            }
        }
        if job.revoke {
            // Viewers that were gone are already removed; revoke the rest.
            let remaining = self
                .store
                .connections_in_shards(&job.auction_id, &job.shards)
                .await?;
            self.fanout.revoke_all(&remaining, &pacer).await;
        }
        Ok(report)
    }

    /// While a long paced slice runs: every window, take in the bids committed since its frame was built, so
    /// the viewers still ahead in this pass get them now. Returns when the frame stops growing (the auction
    /// ended, a gap, the size budget); a failed read only skips one window. This pass still records only the
    /// original frame's seq: the next pass covers the rest for the viewers this one had already passed.
    async fn grow_frame(&self, job: &SliceJob, payload: tokio::sync::watch::Sender<Arc<[u8]>>) {
        let mut frame = job.frame.clone();
        loop {
            tokio::time::sleep(self.settings.publish_window).await;
            let auction = match self.store.get_auction(&job.auction_id).await {
                Ok(Some(a)) if a.seq > frame.seq => a,
                Ok(Some(a)) if a.status == AuctionStatus::Active => continue,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(auction_id = %job.auction_id, error = %e, "could not read the auction; the frame grows later");
                    continue;
                }
            };
            let bids = match self
                .store
                .bids_between(&job.auction_id, frame.seq + 1, auction.seq)
                .await
            {
                Ok(bids) => bids,
                Err(e) => {
                    tracing::warn!(auction_id = %job.auction_id, error = %e, "could not read the new bids; the frame grows later");
                    continue;
                }
            };
            let Some(grown) = frame.extended(&auction, &bids).map(|f| f.at(self.now())) else {
                return;
            };
            let Some(bytes) = fanout::encode(&grown).filter(|b| b.len() <= FRAME_BUDGET_BYTES)
            else {
                return;
            };
            frame = grown;
            if payload.send(Arc::from(bytes)).is_err() {
                return;
            }
        }
    }

    /// The next frame to deliver for `auction`, or `None` when it is caught up.
    async fn next_frame(
        &self,
        auction: &Auction,
        status_asked: bool,
    ) -> Result<Option<Delivery>, StoreError> {
        let ended = auction.status == AuctionStatus::Ended;
        let from = auction.publication.seq + 1;
        if from <= auction.seq {
            let last = auction.seq.min(from + MAX_BIDS_PER_FRAME - 1);
            // One bid before the range too: its bidder led before it (an outbid notice may be due).
            let mut bids = self
                .store
                .bids_between(&auction.auction_id, from.saturating_sub(1).max(1), last)
                .await?;
            let before = match bids.first() {
                Some(b) if b.seq < from => Some(bids.remove(0)),
                _ => None,
            };
            // At most FRAME_BUDGET_BYTES of bids per frame (API Gateway takes 128 KB per message).
            let mut size = 0;
            let fit = bids
                .iter()
                .take_while(|b| {
                    // A name's JSON is at most twice its bytes (every character escaped).
                    size += 2 * b.bidder_name.len() + BID_ITEM_BYTES;
                    size <= FRAME_BUDGET_BYTES
                })
                .count()
                .max(1);
            bids.truncate(fit);
            let last = match bids.last() {
                Some(b) if fit < (last - from + 1) as usize => b.seq,
                _ => last,
            };
            let tail = last == auction.seq;
            let frame = if tail {
                let mut frame = Frame::delivery(auction, from, &bids);
                // The viewer count rides along, at most every VIEWERS_INTERVAL_MS.
                if !ended
                    && self.now() - auction.publication.status_at >= VIEWERS_INTERVAL_MS
                    && auction.publication.audience > 0
                {
                    frame = frame.with_viewers(auction.publication.audience);
                }
                frame
            } else {
                Frame::backlog(auction, from, last, &bids)
            };
            // Everyone who led during the range but does not lead now was outbid (told with the tail).
            let leader = auction.high_bid.as_ref().map(|b| &b.bidder_id);
            let mut outbid: Vec<UserId> = Vec::new();
            if tail && !ended {
                for b in before.iter().chain(&bids) {
                    if Some(&b.bidder_id) != leader && !outbid.contains(&b.bidder_id) {
                        outbid.push(b.bidder_id.clone());
                    }
                }
            }
            return Ok(Some(Delivery {
                frame: frame.at(self.now()),
                revoke: ended && tail,
                status_only: false,
                outbid,
            }));
        }
        if ended && !auction.finalized {
            // Delivered, but the revocation did not finish: announce the end again and revoke.
            return Ok(Some(Delivery {
                frame: Frame::delivery(auction, auction.seq, &[]).at(self.now()),
                revoke: true,
                status_only: false,
                outbid: Vec::new(),
            }));
        }
        if status_asked && !ended {
            return Ok(Some(Delivery {
                frame: Frame::status(auction).at(self.now()),
                revoke: false,
                status_only: true,
                outbid: Vec::new(),
            }));
        }
        Ok(None)
    }

    /// Deliver `delivery` to every slice of `auction`; returns the viewers reached (not gone), every post,
    /// and the number of slices.
    async fn deliver(
        &self,
        auction: &Auction,
        delivery: &Delivery,
    ) -> Result<(u64, FanoutReport, usize), PublishError> {
        let plan = publisher::slices(
            auction.viewer_shards,
            auction.publication.audience,
            self.settings.slice_viewers,
        );
        // Each slice's share of the budget is in proportion to its shards (its viewers, shards being even), so
        // every slice finishes at the same time and the delivery takes audience ÷ budget, not longer.
        let budget = u64::from(self.settings.publish_posts_per_second);
        let total_shards = u64::from(auction.viewer_shards.max(1));
        let jobs: Vec<SliceJob> = plan
            .into_iter()
            .map(|shards| SliceJob {
                auction_id: auction.auction_id.clone(),
                posts_per_second: (budget * shards.len() as u64 / total_shards).max(1) as u32,
                shards,
                frame: delivery.frame.clone(),
                revoke: delivery.revoke,
                outbid: delivery.outbid.clone(),
                notice: (!delivery.outbid.is_empty())
                    .then(|| Frame::outbid(auction).at(delivery.frame.server_time)),
            })
            .collect();
        let remote = self.remote_slices.as_ref().filter(|_| jobs.len() > 1);
        let results: Vec<Result<FanoutReport, PublishError>> =
            match remote {
                Some(remote) => {
                    futures::future::join_all(jobs.iter().map(|j| async move {
                        remote.deliver(j).await.map_err(PublishError::from)
                    }))
                    .await
                }
                None => {
                    futures::future::join_all(jobs.iter().map(|j| async move {
                        self.deliver_slice(j).await.map_err(PublishError::from)
                    }))
                    .await
                }
            };
        let mut posts = FanoutReport::default();
        for r in results {
            posts += r?;
        }
        let reached = (posts.targets - posts.gone) as u64;
        Ok((reached, posts, jobs.len()))
    }
}

/// One frame to deliver, and what it means.
struct Delivery {
    frame: Frame,
    /// The range includes the close: revoke every viewer after the frame.
    revoke: bool,
    /// A periodic status with nothing new (not a delivery of the range: it does not restart the window).
    status_only: bool,
    /// Bidders who lost the lead in the range: their connections also get `bid.outbid`.
    outbid: Vec<UserId>,
}
