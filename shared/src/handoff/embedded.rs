//! The local stack's publish hand-off: a durable queue in its own SQLite file, with SQS FIFO's rules — a job
//! is kept until it is acknowledged, a job being handled is invisible until its lease ends (then it is
//! retried), a duplicate of a queued job is dropped, and one message group's jobs ([`PublishJob::group`]: an
//! auction's changes, or its viewer counts) are handed out one at a time, in order. A job accepted before a
//! crash is handed out after the restart.

use crate::domain::Millis;
use crate::ports::{HandOff, HandOffError, StoreError, StoreResult};
use crate::publisher::PublishJob;
use async_trait::async_trait;
use rusqlite::params;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id   TEXT NOT NULL,
    dedup_id   TEXT NOT NULL UNIQUE,
    job        TEXT NOT NULL,
    visible_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_group ON jobs (group_id, id);
";

/// A queue file from before viewer counts had their own group keyed its groups by `auction_id`: the same
/// values (an auction's id is its changes' group), under the new name.
const MIGRATE_AUCTION_TO_GROUP: [&str; 2] = [
    "ALTER TABLE jobs RENAME COLUMN auction_id TO group_id",
    "DROP INDEX IF EXISTS jobs_by_auction",
];

/// A job handed out by [`EmbeddedHandOff::claim`].
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub job: PublishJob,
    /// 1 the first time it is handed out.
    pub attempts: u32,
}

#[derive(Clone)]
pub struct EmbeddedHandOff {
    conn: Arc<Mutex<rusqlite::Connection>>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for EmbeddedHandOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedHandOff").finish_non_exhaustive()
    }
}

fn map_err(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("hand-off queue: {e}"))
}

impl EmbeddedHandOff {
    /// Open (or create) the queue file at `path` (WAL, `synchronous=FULL`: an accepted job is on disk).
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let conn = rusqlite::Connection::open(path).map_err(map_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(map_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(map_err)?;
        Self::init(conn)
    }

    /// A private in-memory queue (tests).
    pub fn in_memory() -> StoreResult<Self> {
        Self::init(rusqlite::Connection::open_in_memory().map_err(map_err)?)
    }

    fn init(conn: rusqlite::Connection) -> StoreResult<Self> {
        let old: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('jobs') WHERE name = 'auction_id'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(map_err)?
            > 0;
        if old {
            for sql in MIGRATE_AUCTION_TO_GROUP {
                conn.execute(sql, []).map_err(map_err)?;
            }
        }
        conn.execute_batch(SCHEMA).map_err(map_err)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            wake: Arc::new(Notify::new()),
        })
    }

    /// Resolves when a job may have been queued (or at once if one was queued since the last call).
    pub async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Hand out at most `limit` jobs visible at `now`: the oldest job of each group that has no job being
    /// handled. Each is invisible for `lease_ms` (then handed out again unless acknowledged).
    pub async fn claim(
        &self,
        now: Millis,
        lease_ms: Millis,
        limit: usize,
    ) -> StoreResult<Vec<Claimed>> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let picked: Vec<(i64, String, u32)> = {
                let mut st = tx
                    .prepare_cached(
                        "SELECT j.id, j.job, j.attempts FROM jobs j
                         WHERE j.id = (SELECT MIN(f.id) FROM jobs f WHERE f.group_id = j.group_id)
                           AND j.visible_at <= ?1
                         ORDER BY j.id LIMIT ?2",
                    )
                    .map_err(map_err)?;
                let rows = st
                    .query_map(params![now, limit as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .map_err(map_err)?;
                rows.collect::<Result<_, _>>().map_err(map_err)?
            };
            let mut claimed = Vec::with_capacity(picked.len());
            for (id, text, attempts) in picked {
                tx.execute(
                    "UPDATE jobs SET visible_at = ?2, attempts = attempts + 1 WHERE id = ?1",
                    params![id, now + lease_ms],
                )
                .map_err(map_err)?;
                let job: PublishJob = serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("hand-off job {id}: {e}")))?;
                claimed.push(Claimed {
                    id,
                    job,
                    attempts: attempts + 1,
                });
            }
            tx.commit().map_err(map_err)?;
            Ok(claimed)
        })
        .await
    }

    /// The job was handled: forget it (its auction's next job can be handed out).
    pub async fn ack(&self, id: i64) -> StoreResult<()> {
        self.run(move |conn| {
            conn.execute("DELETE FROM jobs WHERE id = ?1", params![id])
                .map_err(map_err)?;
            Ok(())
        })
        .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// The job failed: hand it out again at `at` (its auction's later jobs wait for it).
    pub async fn retry_at(&self, id: i64, at: Millis) -> StoreResult<()> {
        self.run(move |conn| {
            conn.execute(
                "UPDATE jobs SET visible_at = ?2 WHERE id = ?1",
                params![id, at],
            )
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    /// End every lease: after a restart no worker of the previous process is handling anything, so what it
    /// had claimed is handed out again at once instead of when its lease would have ended.
    pub async fn release_all(&self) -> StoreResult<usize> {
        self.run(|conn| {
            conn.execute("UPDATE jobs SET visible_at = 0 WHERE attempts > 0", [])
                .map_err(map_err)
        })
        .await
    }

    /// Jobs queued (handed out or not).
    pub async fn len(&self) -> StoreResult<usize> {
        self.run(|conn| {
            conn.query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get::<_, i64>(0))
                .map(|n| n as usize)
                .map_err(map_err)
        })
        .await
    }

    /// True when no job is queued.
    pub async fn is_empty(&self) -> StoreResult<bool> {
        Ok(self.len().await? == 0)
    }

    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    {
        crate::store::sqlite::run_blocking(&self.conn, "hand-off", f).await
    }
}

#[async_trait]
impl HandOff for EmbeddedHandOff {
    async fn enqueue(&self, job: &PublishJob) -> Result<(), HandOffError> {
        let text = serde_json::to_string(job).map_err(|e| HandOffError(e.to_string()))?;
        let (group, dedup) = (job.group(), job.dedup_id());
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO jobs (group_id, dedup_id, job, visible_at) VALUES (?1, ?2, ?3, 0)",
            )
            .and_then(|mut st| st.execute(params![group, dedup, text]))
            .map_err(map_err)?;
            Ok(())
        })
        .await
        .map_err(|e| HandOffError(e.to_string()))?;
        self.wake.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AuctionId;

    fn job(auction: &str, seq: u64) -> PublishJob {
        PublishJob::changed(&AuctionId::parse(auction).unwrap(), seq, 1)
    }

    #[tokio::test]
    async fn one_job_per_auction_at_a_time_in_order_duplicates_dropped_failures_retried() {
        let q = EmbeddedHandOff::in_memory().unwrap();
        for (a, s) in [("a", 1), ("a", 2), ("b", 1), ("a", 2)] {
            q.enqueue(&job(a, s)).await.unwrap();
        }
        assert_eq!(
            q.len().await.unwrap(),
            3,
            "the duplicate of a:2 was dropped"
        );
        let first = q.claim(100, 1_000, 10).await.unwrap();
        let got: Vec<(String, u64)> = first
            .iter()
            .map(|c| (c.job.auction_id.to_string(), c.job.seq))
            .collect();
        assert_eq!(got, [("a".to_owned(), 1), ("b".to_owned(), 1)]);
        assert!(
            q.claim(100, 1_000, 10).await.unwrap().is_empty(),
            "a:2 waits for a:1"
        );
        q.ack(first[1].id).await.unwrap();
        q.retry_at(first[0].id, 500).await.unwrap();
        assert!(
            q.claim(400, 1_000, 10).await.unwrap().is_empty(),
            "a:1 retries at 500"
        );
        let again = q.claim(500, 1_000, 10).await.unwrap();
        assert_eq!(
            (again.len(), again[0].job.seq, again[0].attempts),
            (1, 1, 2)
        );
        q.ack(again[0].id).await.unwrap();
        let next = q.claim(500, 1_000, 10).await.unwrap();
        assert_eq!(next[0].job.seq, 2);
        // An unacknowledged job comes back when its lease ends.
        assert!(q.claim(1_000, 1_000, 10).await.unwrap().is_empty());
        assert_eq!(q.claim(1_500, 1_000, 10).await.unwrap()[0].job.seq, 2);
    }

    #[tokio::test]
    async fn a_viewer_count_in_flight_never_holds_back_its_auctions_bids() {
        // GIVEN a viewer-count job of auction a handed out (its publisher may wait out the 2 s interval)
        let q = EmbeddedHandOff::in_memory().unwrap();
        let a = AuctionId::parse("a").unwrap();
        q.enqueue(&PublishJob::viewers(&a, 1)).await.unwrap();
        let counting = q.claim(100, 60_000, 10).await.unwrap();
        assert!(counting.len() == 1 && counting[0].job.viewers);
        // WHEN a bid of a is handed off meanwhile, and a later viewer count
        q.enqueue(&job("a", 1)).await.unwrap();
        q.enqueue(&PublishJob::viewers(&a, 5_000)).await.unwrap();
        // THEN the bid is handed out at once; the second count waits for the first
        let next = q.claim(200, 60_000, 10).await.unwrap();
        let got: Vec<(bool, u64)> = next.iter().map(|c| (c.job.viewers, c.job.seq)).collect();
        assert_eq!(got, [(false, 1)]);
        q.ack(counting[0].id).await.unwrap();
        let after = q.claim(300, 60_000, 10).await.unwrap();
        assert!(after.len() == 1 && after[0].job.viewers);
    }

    #[tokio::test]
    async fn a_queue_file_keyed_by_auction_is_migrated_with_its_jobs() {
        // GIVEN a queue file of the previous layout holding a job
        let dir = std::env::temp_dir().join(format!("auction-handoff-{}", ulid::Ulid::generate()));
        let path = dir.join("handoff.db");
        std::fs::create_dir_all(&dir).unwrap();
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, auction_id TEXT NOT NULL,
                     dedup_id TEXT NOT NULL UNIQUE, job TEXT NOT NULL, visible_at INTEGER NOT NULL,
                     attempts INTEGER NOT NULL DEFAULT 0);
                 CREATE INDEX jobs_by_auction ON jobs (auction_id, id);",
            )
            .unwrap();
            let text = serde_json::to_string(&job("a", 7)).unwrap();
            conn.execute(
                "INSERT INTO jobs (auction_id, dedup_id, job, visible_at) VALUES ('a', 'a:7', ?1, 0)",
                params![text],
            )
            .unwrap();
        }
        // WHEN this build opens it THEN the job is still handed out, and new jobs queue beside it
        let q = EmbeddedHandOff::open(&path).unwrap();
        q.enqueue(&job("b", 1)).await.unwrap();
        let got: Vec<u64> = q
            .claim(1, 1_000, 10)
            .await
            .unwrap()
            .iter()
            .map(|c| c.job.seq)
            .collect();
        assert_eq!(got, [7, 1]);
        drop(q);
        let _ = std::fs::remove_dir_all(dir);
    }
}
