//! The embedded, durable store: one SQLite file, the same atomic semantics as the DynamoDB design.
//!
//! Every state change is ONE write transaction started with `BEGIN IMMEDIATE` (the write lock is taken
//! before anything is read), and the decision inside it is made by the same pure rules the DynamoDB
//! adapter runs before its conditional write: [`domain::judge_bid`] for bids (the ladder, soft close, maxima,
//! reserve, start), [`domain::close_allowed`] / [`domain::apply_close`] for the close.
//!
//! # Durability
//!
//! [`SqliteStore::open`] sets `journal_mode=WAL` and `synchronous=FULL`: a transaction is fsynced to the WAL
//! before `COMMIT` returns, so a bid reported as accepted survives a process or machine crash.
//! `busy_timeout` makes a writer from another process wait for the lock instead of failing at once; if the
//! wait still times out, the store answers [`StoreError::Throttled`] (retryable).
//!
//! # Concurrency
//!
//! One connection behind a `std::sync::Mutex`, used only inside `tokio::task::spawn_blocking` (the mutex is
//! never held across an `.await`). Within a process that makes every operation serial, which is exactly
//! the single-writer model SQLite has anyway; reads are short and indexed. The store is `Clone` (an `Arc`).
//!
//! # Schema (`PRAGMA user_version = 4`, created idempotently on every open)
//!
//! ```sql
//! -- The auction item: `data` is the JSON of `domain::Auction`, the single source of truth. `status`,
//! -- `ends_at` and `finalized` are copies of its fields, rewritten with it, for the indexed queries.
//! CREATE TABLE auctions (
//!     auction_id TEXT PRIMARY KEY NOT NULL,
//!     status     TEXT NOT NULL CHECK (status IN ('active', 'ended')),
//!     ends_at    INTEGER NOT NULL,
//!     finalized  INTEGER NOT NULL CHECK (finalized IN (0, 1)),
//!     data       TEXT NOT NULL
//! );
//! CREATE INDEX auctions_by_status_ends_at ON auctions (status, ends_at);
//!
//! -- What only the auction's page shows (`domain::AuctionDetails`), apart from the row every bid rewrites.
//! -- No row: empty details. Deleted with its auction (the purge).
//! CREATE TABLE auction_details (
//!     auction_id  TEXT PRIMARY KEY NOT NULL,
//!     description TEXT NOT NULL
//! );
//!
//! -- Accepted bids: `data` is the JSON of `domain::Bid`; `seq` is the auction's sequence number.
//! CREATE TABLE bids (
//!     auction_id TEXT NOT NULL,
//!     seq        INTEGER NOT NULL,
//!     data       TEXT NOT NULL,
//!     PRIMARY KEY (auction_id, seq)
//! );
//!
//! -- One row per accepted bid request that carried an Idempotency-Key. `auction_after` is the JSON of its
//! -- `domain::BidReceipt` (what the bidder was answered; `seq` = the auction's seq after it), so a replay
//! -- returns exactly the original result. Rows written before the proxy rules hold the auction right after
//! -- the bid instead (`seq` then points at the bid); both are read.
//! -- `expires_at` (epoch seconds) = placedAt + 24 h, as the DynamoDB item's TTL (added in version 2).
//! CREATE TABLE idempotency (
//!     auction_id    TEXT NOT NULL,
//!     bidder_id     TEXT NOT NULL,
//!     idem_key      TEXT NOT NULL,
//!     seq           INTEGER NOT NULL,
//!     auction_after TEXT NOT NULL,
//!     expires_at    INTEGER NOT NULL,
//!     PRIMARY KEY (auction_id, bidder_id, idem_key)
//! );
//! CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);
//!
//! -- Viewer connections; `expires_at` is epoch seconds (the DynamoDB TTL attribute).
//! CREATE TABLE connections (
//!     connection_id TEXT PRIMARY KEY NOT NULL,
//!     auction_id    TEXT NOT NULL,
//!     user_id       TEXT NOT NULL,
//!     connected_at  INTEGER NOT NULL,
//!     expires_at    INTEGER NOT NULL
//! );
//! CREATE INDEX connections_by_auction ON connections (auction_id);
//! CREATE INDEX connections_by_expiry ON connections (expires_at);
//! ```
//!
//! An older file is migrated when opened, in the same transaction that sets the new version: version 1 (no
//! `idempotency.expires_at`) gets the column, filled from each record's bid (`placedAt` + 24 h); version 2
//! the connections' shard and counters; version 3 (the description inside the auction's JSON) has each
//! description moved to `auction_details`.
//!
//! `mark_finalized` only ever sets `finalized` on an ended auction (unknown or active: a no-op).
//!
//! # Expiry
//!
//! DynamoDB deletes expired connection and idempotency items itself (TTL on `expiresAt`); here
//! [`SqliteStore::sweep_expired`] does, and the local stack runs it on a timer. As with DynamoDB before its
//! sweeper has run, an expired row stays visible until it is swept: nothing reads `expires_at` but the
//! sweep.

use crate::domain::{
    self, Admission, Auction, AuctionDetails, AuctionId, AuctionStatus, Bid, BidDecision,
    BidOutcome, BidRequest, CloseOutcome, Closing, Connection, ConnectionId, Millis, PlacedBid,
    Publication, SyncVerdict, UserId,
};
use crate::ports::{
    ActivePage, AuctionStore, BidRate, ConnectionStore, Creation, LimitStore, ListCursor,
    RateVerdict, StoreError, StoreResult,
};
use async_trait::async_trait;
use rusqlite::{params, ErrorCode, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a write waits for another process's write lock before answering `Throttled`.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA_VERSION: i64 = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS auctions (
    auction_id TEXT PRIMARY KEY NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'ended')),
    ends_at    INTEGER NOT NULL,
    finalized  INTEGER NOT NULL CHECK (finalized IN (0, 1)),
    data       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS auctions_by_status_ends_at ON auctions (status, ends_at);
CREATE TABLE IF NOT EXISTS auction_details (
    auction_id  TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS bids (
    auction_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (auction_id, seq)
);
CREATE TABLE IF NOT EXISTS idempotency (
    auction_id    TEXT NOT NULL,
    bidder_id     TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    auction_after TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (auction_id, bidder_id, idem_key)
);
CREATE INDEX IF NOT EXISTS idempotency_by_expiry ON idempotency (expires_at);
CREATE TABLE IF NOT EXISTS connections (
    connection_id  TEXT PRIMARY KEY NOT NULL,
    auction_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    connected_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    shard          INTEGER NOT NULL DEFAULT 0,
    last_sync_at   INTEGER,
    last_notice_at INTEGER,
    strikes        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS connections_by_expiry ON connections (expires_at);
CREATE INDEX IF NOT EXISTS connections_by_shard ON connections (auction_id, shard);
CREATE INDEX IF NOT EXISTS connections_by_user ON connections (auction_id, user_id);
";

/// Version 3 → 4 (after [`SCHEMA`] has created `auction_details`): descriptions leave the auction's JSON.
const MIGRATE_3_TO_4: [&str; 2] = [
    "INSERT OR IGNORE INTO auction_details (auction_id, description)
     SELECT auction_id, json_extract(data, '$.description') FROM auctions
     WHERE COALESCE(json_extract(data, '$.description'), '') <> ''",
    "UPDATE auctions SET data = json_remove(data, '$.description')
     WHERE json_extract(data, '$.description') IS NOT NULL",
];

/// Version 2 → 3: connections get their shard and the client-message counters (sync rate, strikes), and
/// are indexed by shard and by user instead of by auction.
const MIGRATE_2_TO_3: [&str; 5] = [
    "ALTER TABLE connections ADD COLUMN shard INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE connections ADD COLUMN last_sync_at INTEGER",
    "ALTER TABLE connections ADD COLUMN last_notice_at INTEGER",
    "ALTER TABLE connections ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0",
    "DROP INDEX IF EXISTS connections_by_auction",
];

/// Version 1 → 2: idempotency records get their expiry column, filled from their bid as new ones are
/// (`?1` = the retention in seconds).
const MIGRATE_1_TO_2: [&str; 2] = [
    "ALTER TABLE idempotency ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0",
    // A record whose bid is missing (it could only answer Corrupt) gets 0: the next sweep removes it.
    "UPDATE idempotency SET expires_at = COALESCE((
         SELECT json_extract(b.data, '$.placedAt') / 1000 + ?1
         FROM bids b WHERE b.auction_id = idempotency.auction_id AND b.seq = idempotency.seq
     ), 0)",
];

/// The tables of [`LimitStore`], created if missing on every open (new tables only: the schema version is
/// unchanged, an older file simply gains them), and the bid-rate windows in [`EPHEMERAL_SCHEMA`]:
///
/// ```sql
/// -- The auctions holding a slot of their seller's quota (DynamoDB: the SELLER#<seller>/ACTIVE set).
/// CREATE TABLE seller_active (seller_id TEXT, auction_id TEXT, PRIMARY KEY (seller_id, auction_id));
/// -- When an ended auction, its bids and its idempotency records are deleted (DynamoDB: PURGE/<at>#<id>).
/// CREATE TABLE purge_schedule (auction_id TEXT PRIMARY KEY, purge_at INTEGER);
/// ```
const LIMITS_SCHEMA: &str = "
DROP TABLE IF EXISTS main.bid_windows;
CREATE TABLE IF NOT EXISTS seller_active (
    seller_id  TEXT NOT NULL,
    auction_id TEXT NOT NULL,
    PRIMARY KEY (seller_id, auction_id)
);
CREATE TABLE IF NOT EXISTS purge_schedule (
    auction_id TEXT PRIMARY KEY NOT NULL,
    purge_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS purge_schedule_by_time ON purge_schedule (purge_at);
";

/// A user's bids in one fixed rate window (DynamoDB: `RATE#<user>/BIDS#<windowStart>`; `expires_at` in epoch
/// seconds, removed by `sweep_limits`), in the connection's TEMP database, in memory: a bid's rate check
/// then writes nothing to the file and waits for no fsync. A counter is worth one window (10 s by default),
/// so durability buys nothing; what it costs was measured: on the file store the fsync of the counter on
/// every bid, refused ones included, cut accepted bids/s at 50 bidders from ≈ 2,200 to ≈ 240
/// (BENCHMARKS §2). The price: a restart forgives the current window, and two processes sharing one file
/// count separately.
const EPHEMERAL_SCHEMA: &str = "
CREATE TEMP TABLE IF NOT EXISTS bid_windows (
    user_id      TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, window_start)
);
CREATE INDEX IF NOT EXISTS temp.bid_windows_by_expiry ON bid_windows (expires_at);
";

/// What one [`SqliteStore::sweep_expired`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub connections: usize,
    pub idempotency_records: usize,
}

/// The embedded store. Cheap to clone: every clone shares the one connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Open (or create) the database file at `path`, creating its parent directory, in WAL mode with
    /// `synchronous=FULL`, and create the schema if it is missing.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with_busy_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// [`open`](Self::open) with an explicit wait for other processes' write locks.
    pub fn open_with_busy_timeout(path: &Path, busy_timeout: Duration) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let conn = rusqlite::Connection::open(path).map_err(map_err)?;
        conn.busy_timeout(busy_timeout).map_err(map_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(map_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "{}: could not switch to WAL mode (journal_mode is {mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(map_err)?;
        Self::init(conn)
    }

    /// A private in-memory database, for tests. Nothing survives the last clone.
    pub fn in_memory() -> StoreResult<Self> {
        let conn = rusqlite::Connection::open_in_memory().map_err(map_err)?;
        Self::init(conn)
    }

    fn init(mut conn: rusqlite::Connection) -> StoreResult<Self> {
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(map_err)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(map_err)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Unavailable(format!(
                "database schema version {version} is newer than this build understands ({SCHEMA_VERSION})"
            )));
        }
        if version == 1 {
            migrate_1_to_2(&tx)?;
        }
        if (1..=2).contains(&version) {
            for sql in MIGRATE_2_TO_3 {
                tx.execute(sql, []).map_err(map_err)?;
            }
        }
        tx.execute_batch(SCHEMA).map_err(map_err)?;
        if (1..=3).contains(&version) {
            for sql in MIGRATE_3_TO_4 {
                tx.execute(sql, []).map_err(map_err)?;
            }
        }
        tx.execute_batch(LIMITS_SCHEMA).map_err(map_err)?;
        tx.execute_batch(EPHEMERAL_SCHEMA).map_err(map_err)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Delete the connections and idempotency records whose `expires_at` (epoch seconds) is before `now`,
    /// as DynamoDB's TTL deletes the items whose `expiresAt` has passed. One write transaction.
    pub async fn sweep_expired(&self, now: Millis) -> StoreResult<Swept> {
        let now_secs = now.div_euclid(1000);
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let delete = |sql: &str| {
                tx.prepare_cached(sql)
                    .and_then(|mut st| st.execute(params![now_secs]))
                    .map_err(map_err)
            };
            let swept = Swept {
                connections: delete("DELETE FROM connections WHERE expires_at < ?1")?,
                idempotency_records: delete("DELETE FROM idempotency WHERE expires_at < ?1")?,
            };
            tx.commit().map_err(map_err)?;
            Ok(swept)
        })
        .await
    }

    /// Delete the bid-rate windows whose `expires_at` (epoch seconds) is before `now`, as DynamoDB's TTL
    /// deletes the `RATE#` items. Returns how many.
    pub async fn sweep_limits(&self, now: Millis) -> StoreResult<usize> {
        let now_secs = now.div_euclid(1000);
        self.run(move |conn| {
            conn.prepare_cached("DELETE FROM bid_windows WHERE expires_at < ?1")
                .and_then(|mut st| st.execute(params![now_secs]))
                .map_err(map_err)
        })
        .await
    }

    /// Run `f` on the connection on the blocking thread pool.
    async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    {
        run_blocking(&self.conn, "sqlite", f).await
    }
}

/// Run `f` on a shared SQLite connection on the blocking thread pool (the store's and the local hand-off
/// queue's). A panic while the lock was held poisons it: any open transaction was rolled back when its
/// `Transaction` was dropped during unwinding; this makes sure of it, then carries on.
pub(crate) async fn run_blocking<T, F>(
    conn: &Arc<Mutex<rusqlite::Connection>>,
    what: &'static str,
    f: F,
) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection) -> StoreResult<T> + Send + 'static,
{
    let conn = Arc::clone(conn);
    tokio::task::spawn_blocking(move || {
        let mut guard = match conn.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                let guard = poisoned.into_inner();
                if !guard.is_autocommit() {
                    guard.execute_batch("ROLLBACK").map_err(|e| {
                        StoreError::Other(format!(
                            "{what} connection poisoned and rollback failed: {e}"
                        ))
                    })?;
                }
                conn.clear_poison();
                guard
            }
        };
        f(&mut guard)
    })
    .await
    .map_err(|e| StoreError::Other(format!("{what} task failed: {e}")))?
}

fn migrate_1_to_2(tx: &rusqlite::Transaction<'_>) -> StoreResult<()> {
    let [add_column, fill] = MIGRATE_1_TO_2;
    tx.execute(add_column, []).map_err(map_err)?;
    tx.execute(fill, params![domain::IDEMPOTENCY_RETENTION_SECS])
        .map_err(map_err)?;
    Ok(())
}

/// SQLite errors → store errors: lock contention is retryable, I/O is unavailability, undecodable rows
/// are corruption.
fn map_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Throttled,
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt(e.to_string())
        }
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed,
        ) => StoreError::Unavailable(e.to_string()),
        _ => match e {
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Other(e.to_string()),
        },
    }
}

fn is_primary_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

fn to_json<T: serde::Serialize>(what: &str, value: &T) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Other(format!("cannot encode {what}: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, key: &str, data: &str) -> StoreResult<T> {
    serde_json::from_str(data).map_err(|e| StoreError::Corrupt(format!("{what} {key}: {e}")))
}

fn to_i64(what: &str, n: u64) -> StoreResult<i64> {
    i64::try_from(n)
        .map_err(|_| StoreError::Other(format!("{what} {n} does not fit in an INTEGER")))
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn status_str(status: AuctionStatus) -> &'static str {
    match status {
        AuctionStatus::Active => "active",
        AuctionStatus::Ended => "ended",
    }
}

/// The bids `sql` selects (`seq, data` rows) for auction `id`, in the query's order.
fn query_bids(
    conn: &rusqlite::Connection,
    id: &AuctionId,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> StoreResult<Vec<Bid>> {
    let mut st = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = st
        .query_map(params, |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(map_err)?;
    rows.map(|row| {
        let (seq, data) = row.map_err(map_err)?;
        from_json("bid", &format!("{id}#{seq}"), &data)
    })
    .collect()
}

fn load_auction(conn: &rusqlite::Connection, id: &AuctionId) -> StoreResult<Option<Auction>> {
    let data: Option<String> = conn
        .prepare_cached("SELECT data FROM auctions WHERE auction_id = ?1")
        .and_then(|mut st| st.query_row(params![id.as_str()], |r| r.get(0)).optional())
        .map_err(map_err)?;
    data.map(|d| from_json("auction", id.as_str(), &d))
        .transpose()
}

/// Rewrite an existing auction row (data and its indexed copies). Errors if the row vanished.
fn update_auction(conn: &rusqlite::Connection, a: &Auction) -> StoreResult<()> {
    let data = to_json("auction", a)?;
    let n = conn
        .prepare_cached(
            "UPDATE auctions SET status = ?2, ends_at = ?3, finalized = ?4, data = ?5 WHERE auction_id = ?1",
        )
        .and_then(|mut st| {
            st.execute(params![a.auction_id.as_str(), status_str(a.status), a.ends_at, a.finalized, data])
        })
        .map_err(map_err)?;
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Other(format!(
            "auction {} vanished inside a write transaction",
            a.auction_id
        )))
    }
}

fn load_bid(conn: &rusqlite::Connection, id: &AuctionId, seq: i64) -> StoreResult<Option<Bid>> {
    let data: Option<String> = conn
        .prepare_cached("SELECT data FROM bids WHERE auction_id = ?1 AND seq = ?2")
        .and_then(|mut st| {
            st.query_row(params![id.as_str(), seq], |r| r.get(0))
                .optional()
        })
        .map_err(map_err)?;
    data.map(|d| from_json("bid", &format!("{id}#{seq}"), &d))
        .transpose()
}

fn row_to_connection(
    connection_id: String,
    auction_id: String,
    user_id: String,
    connected_at: i64,
    expires_at: i64,
    shard: u16,
) -> StoreResult<Connection> {
    let corrupt =
        |e: domain::DomainError| StoreError::Corrupt(format!("connection {connection_id}: {e}"));
    Ok(Connection {
        connection_id: ConnectionId::parse(&connection_id).map_err(corrupt)?,
        auction_id: AuctionId::parse(&auction_id).map_err(corrupt)?,
        user_id: UserId::parse(&user_id).map_err(corrupt)?,
        connected_at,
        expires_at,
        shard,
    })
}

type ConnectionRow = (String, String, String, i64, i64, u16);

/// The columns every connection query selects, in [`connection_columns`]' order.
const CONNECTION_COLUMNS: &str =
    "connection_id, auction_id, user_id, connected_at, expires_at, shard";

fn connection_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConnectionRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn into_connection(row: ConnectionRow) -> StoreResult<Connection> {
    let (c, a, u, at, exp, shard) = row;
    row_to_connection(c, a, u, at, exp, shard)
}

/// The bid transaction. Runs entirely inside one `BEGIN IMMEDIATE` transaction.
fn place_bid_tx(conn: &mut rusqlite::Connection, req: &BidRequest) -> StoreResult<BidOutcome> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;

    // 1. A retried request: answer with the original result, write nothing.
    if let Some(key) = &req.idempotency_key {
        let seen: Option<(i64, String)> = tx
            .prepare_cached(
                "SELECT seq, auction_after FROM idempotency
                 WHERE auction_id = ?1 AND bidder_id = ?2 AND idem_key = ?3",
            )
            .and_then(|mut st| {
                st.query_row(
                    params![
                        req.auction_id.as_str(),
                        req.bidder_id.as_str(),
                        key.as_str()
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })
            .map_err(map_err)?;
        if let Some((seq, stored)) = seen {
            let original = stored_receipt(&tx, req, seq, &stored)?;
            return Ok(domain::replay_or_reused(original, req));
        }
    }

    // 2. The decision, on the state inside the write lock, and its commit: the auction, its bids and the
    // idempotency record in one transaction. Refused: nothing is written (dropping `tx` rolls back).
    let current = load_auction(&tx, &req.auction_id)?;
    let placed = match domain::judge_bid(current.as_ref(), req) {
        BidDecision::Accept(placed) => placed,
        BidDecision::Committed(outcome) => return Ok(outcome),
        BidDecision::Reject(r) => return Ok(BidOutcome::Rejected(r)),
    };
    update_auction(&tx, &placed.auction)?;
    for bid in &placed.bids {
        let seq = to_i64("seq", bid.seq)?;
        let bid_json = to_json("bid", bid)?;
        tx.prepare_cached("INSERT INTO bids (auction_id, seq, data) VALUES (?1, ?2, ?3)")
            .and_then(|mut st| st.execute(params![req.auction_id.as_str(), seq, bid_json]))
            .map_err(map_err)?;
    }
    if let Some(key) = &req.idempotency_key {
        let receipt = placed.receipt();
        let (seq, receipt_json) = (to_i64("seq", receipt.seq)?, to_json("receipt", &receipt)?);
        tx.prepare_cached(
            "INSERT INTO idempotency (auction_id, bidder_id, idem_key, seq, auction_after, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut st| {
            st.execute(params![
                req.auction_id.as_str(),
                req.bidder_id.as_str(),
                key.as_str(),
                seq,
                receipt_json,
                domain::idempotency_expires_at(req.now)
            ])
        })
        .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)?;
    Ok(BidOutcome::Accepted(placed))
}

/// The answer an idempotency record keeps: a `BidReceipt` (since the proxy rules), or, in a record written
/// before them, the auction right after a plain bid (its `seq` points at the bid).
fn stored_receipt(
    tx: &rusqlite::Transaction<'_>,
    req: &BidRequest,
    seq: i64,
    stored: &str,
) -> StoreResult<domain::BidReceipt> {
    if let Ok(receipt) = serde_json::from_str::<domain::BidReceipt>(stored) {
        return Ok(receipt);
    }
    let bid = load_bid(tx, &req.auction_id, seq)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "an idempotency record of auction {} points at missing bid #{seq}",
            req.auction_id
        ))
    })?;
    let auction: Auction = from_json("auction snapshot", req.auction_id.as_str(), stored)?;
    Ok(PlacedBid {
        bidder_id: bid.bidder_id.clone(),
        kind: domain::BidKind::Plain,
        asked: bid.amount,
        bids: vec![bid],
        auction,
    }
    .receipt())
}

/// The close transaction: active → ended exactly once.
fn close_tx(
    conn: &mut rusqlite::Connection,
    id: &AuctionId,
    now: Millis,
    closing: &Closing,
) -> StoreResult<CloseOutcome> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let Some(before) = load_auction(&tx, id)? else {
        return Ok(CloseOutcome::NotFound);
    };
    if domain::close_allowed(&before, now, closing) {
        let after = domain::apply_close(&before, now, closing);
        update_auction(&tx, &after)?;
        tx.commit().map_err(map_err)?;
        Ok(CloseOutcome::Closed(after))
    } else if before.status == AuctionStatus::Ended {
        Ok(CloseOutcome::AlreadyEnded(before))
    } else {
        Ok(CloseOutcome::NotDue(before))
    }
}

/// Insert a new auction row and its details (none for empty ones); `AlreadyExists` if the id is taken.
/// Run inside the caller's transaction.
fn insert_auction(
    conn: &rusqlite::Connection,
    a: &Auction,
    details: &AuctionDetails,
) -> StoreResult<()> {
    let data = to_json("auction", a)?;
    let res = conn
        .prepare_cached(
            "INSERT INTO auctions (auction_id, status, ends_at, finalized, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut st| {
            st.execute(params![a.auction_id.as_str(), status_str(a.status), a.ends_at, a.finalized, data])
        });
    match res {
        Ok(_) => {}
        Err(e) if is_primary_key_violation(&e) => return Err(StoreError::AlreadyExists),
        Err(e) => return Err(map_err(e)),
    }
    if !details.is_empty() {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO auction_details (auction_id, description) VALUES (?1, ?2)",
        )
        .and_then(|mut st| st.execute(params![a.auction_id.as_str(), details.description]))
        .map_err(map_err)?;
    }
    Ok(())
}

fn query_auction_data(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<(String, String)>> {
    let mut st = conn.prepare_cached(sql).map_err(map_err)?;
    let rows = st
        .query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(map_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
}

/// Run `sql` (a SELECT or a DELETE … RETURNING of the connection columns) for one connection id.
fn one_connection(
    conn: &rusqlite::Connection,
    sql: &str,
    id: &ConnectionId,
) -> StoreResult<Option<Connection>> {
    let row = conn
        .prepare_cached(sql)
        .and_then(|mut st| {
            st.query_row(params![id.as_str()], connection_columns)
                .optional()
        })
        .map_err(map_err)?;
    row.map(into_connection).transpose()
}

#[async_trait]
impl AuctionStore for SqliteStore {
    async fn create_auction(&self, auction: &Auction, details: &AuctionDetails) -> StoreResult<()> {
        let (a, d) = (auction.clone(), details.clone());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            insert_auction(&tx, &a, &d)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn get_auction(&self, id: &AuctionId) -> StoreResult<Option<Auction>> {
        let id = id.clone();
        self.run(move |conn| load_auction(conn, &id)).await
    }

    async fn get_details(&self, id: &AuctionId) -> StoreResult<AuctionDetails> {
        let id = id.clone();
        self.run(move |conn| {
            let description: Option<String> = conn
                .prepare_cached("SELECT description FROM auction_details WHERE auction_id = ?1")
                .and_then(|mut st| st.query_row(params![id.as_str()], |r| r.get(0)).optional())
                .map_err(map_err)?;
            Ok(AuctionDetails {
                description: description.unwrap_or_default(),
            })
        })
        .await
    }

    async fn list_active(&self, now: Millis, limit: usize) -> StoreResult<Vec<Auction>> {
        self.run(move |conn| {
            let rows = query_auction_data(
                conn,
                "SELECT auction_id, data FROM auctions WHERE status = 'active' AND ends_at > ?1
                 ORDER BY ends_at, auction_id LIMIT ?2",
                params![now, limit_param(limit)],
            )?;
            rows.iter()
                .map(|(id, data)| from_json("auction", id, data))
                .collect()
        })
        .await
    }

    async fn recent_bids(&self, id: &AuctionId, limit: usize) -> StoreResult<Vec<Bid>> {
        let id = id.clone();
        self.run(move |conn| {
            query_bids(
                conn,
                &id,
                "SELECT seq, data FROM bids WHERE auction_id = ?1 ORDER BY seq DESC LIMIT ?2",
                params![id.as_str(), limit_param(limit)],
            )
        })
        .await
    }

    async fn place_bid(&self, req: &BidRequest) -> StoreResult<BidOutcome> {
        let req = req.clone();
        self.run(move |conn| place_bid_tx(conn, &req)).await
    }

    async fn due_auctions(&self, now: Millis, limit: usize) -> StoreResult<Vec<AuctionId>> {
        self.run(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT auction_id FROM auctions
                     WHERE (status = 'active' AND ends_at <= ?1) OR (status = 'ended' AND finalized = 0)
                     ORDER BY ends_at, auction_id LIMIT ?2",
                )
                .map_err(map_err)?;
            let rows = st.query_map(params![now, limit_param(limit)], |r| r.get::<_, String>(0)).map_err(map_err)?;
            rows.map(|row| {
                let id = row.map_err(map_err)?;
                AuctionId::parse(&id).map_err(|e| StoreError::Corrupt(format!("auction id {id:?}: {e}")))
            })
            .collect()
        })
        .await
    }

    async fn close_auction(
        &self,
        id: &AuctionId,
        now: Millis,
        closing: &Closing,
    ) -> StoreResult<CloseOutcome> {
        let id = id.clone();
        let closing = closing.clone();
        self.run(move |conn| close_tx(conn, &id, now, &closing))
            .await
    }

    async fn mark_finalized(&self, id: &AuctionId) -> StoreResult<()> {
        let id = id.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            // Unknown or not ended: nothing to finalize (a no-op, like the DynamoDB adapter's condition).
            let Some(mut a) = load_auction(&tx, &id)? else {
                return Ok(());
            };
            if a.status == AuctionStatus::Ended && !a.finalized {
                a.finalized = true;
                update_auction(&tx, &a)?;
                tx.commit().map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn bids_between(&self, id: &AuctionId, from: u64, to: u64) -> StoreResult<Vec<Bid>> {
        let id = id.clone();
        let (from, to) = (to_i64("seq", from)?, to_i64("seq", to)?);
        self.run(move |conn| {
            query_bids(
                conn,
                &id,
                "SELECT seq, data FROM bids WHERE auction_id = ?1 AND seq BETWEEN ?2 AND ?3
                 ORDER BY seq",
                params![id.as_str(), from, to],
            )
        })
        .await
    }

    async fn mark_published(&self, id: &AuctionId, publication: Publication) -> StoreResult<()> {
        let id = id.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let Some(mut a) = load_auction(&tx, &id)? else {
                return Ok(());
            };
            if a.publication.seq <= publication.seq {
                a.publication = publication;
                update_auction(&tx, &a)?;
                tx.commit().map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl ConnectionStore for SqliteStore {
    async fn add_connection(&self, c: &Connection, max_per_user: usize) -> StoreResult<Admission> {
        let c = c.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let others: Vec<String> = {
                let mut st = tx
                    .prepare_cached(
                        "SELECT connection_id FROM connections
                         WHERE auction_id = ?1 AND user_id = ?2 AND connection_id <> ?3
                         ORDER BY connected_at, connection_id",
                    )
                    .map_err(map_err)?;
                let rows = st
                    .query_map(
                        params![
                            c.auction_id.as_str(),
                            c.user_id.as_str(),
                            c.connection_id.as_str()
                        ],
                        |r| r.get::<_, String>(0),
                    )
                    .map_err(map_err)?;
                rows.collect::<Result<_, _>>().map_err(map_err)?
            };
            if others.len() >= max_per_user {
                let others = others
                    .iter()
                    .map(|id| {
                        ConnectionId::parse(id)
                            .map_err(|e| StoreError::Corrupt(format!("connection id {id:?}: {e}")))
                    })
                    .collect::<StoreResult<_>>()?;
                return Ok(Admission::UserLimit { others });
            }
            tx.prepare_cached(
                "INSERT OR REPLACE INTO connections
                 (connection_id, auction_id, user_id, connected_at, expires_at, shard)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    c.connection_id.as_str(),
                    c.auction_id.as_str(),
                    c.user_id.as_str(),
                    c.connected_at,
                    c.expires_at,
                    c.shard
                ])
            })
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(Admission::Added)
        })
        .await
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        let id = id.clone();
        self.run(move |conn| {
            one_connection(
                conn,
                &format!("DELETE FROM connections WHERE connection_id = ?1 RETURNING {CONNECTION_COLUMNS}"),
                &id,
            )
        })
        .await
    }

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        let id = id.clone();
        self.run(move |conn| {
            one_connection(
                conn,
                &format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE connection_id = ?1"),
                &id,
            )
        })
        .await
    }

    async fn connections_in_shards(
        &self,
        auction: &AuctionId,
        shards: &[u16],
    ) -> StoreResult<Vec<Connection>> {
        let id = auction.clone();
        let shards = shards.to_vec();
        self.run(move |conn| {
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT {CONNECTION_COLUMNS} FROM connections
                     WHERE auction_id = ?1 AND shard = ?2 ORDER BY connection_id"
                ))
                .map_err(map_err)?;
            let mut all = Vec::new();
            for shard in shards {
                let rows = st
                    .query_map(params![id.as_str(), shard], connection_columns)
                    .map_err(map_err)?;
                for row in rows {
                    all.push(into_connection(row.map_err(map_err)?)?);
                }
            }
            Ok(all)
        })
        .await
    }

    async fn record_sync(&self, id: &ConnectionId, now: Millis) -> StoreResult<SyncVerdict> {
        let id = id.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let counters: Option<(Option<i64>, Option<i64>)> = tx
                .prepare_cached(
                    "SELECT last_sync_at, last_notice_at FROM connections WHERE connection_id = ?1",
                )
                .and_then(|mut st| {
                    st.query_row(params![id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(map_err)?;
            let Some((last_sync, last_notice)) = counters else {
                return Ok(SyncVerdict::Drop);
            };
            let verdict = domain::sync_verdict(last_sync, last_notice, now);
            let column = match verdict {
                SyncVerdict::Answer => "last_sync_at",
                SyncVerdict::Notice => "last_notice_at",
                SyncVerdict::Drop => return Ok(verdict),
            };
            tx.execute(
                &format!("UPDATE connections SET {column} = ?2 WHERE connection_id = ?1"),
                params![id.as_str(), now],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(verdict)
        })
        .await
    }

    async fn record_strike(&self, id: &ConnectionId) -> StoreResult<u32> {
        let id = id.clone();
        self.run(move |conn| {
            let strikes: Option<u32> = conn
                .prepare_cached(
                    "UPDATE connections SET strikes = strikes + 1 WHERE connection_id = ?1
                     RETURNING strikes",
                )
                .and_then(|mut st| st.query_row(params![id.as_str()], |r| r.get(0)).optional())
                .map_err(map_err)?;
            Ok(strikes.unwrap_or(u32::MAX))
        })
        .await
    }
}

#[async_trait]
impl LimitStore for SqliteStore {
    async fn take_bid_slot(
        &self,
        user: &UserId,
        now: Millis,
        rate: BidRate,
    ) -> StoreResult<RateVerdict> {
        let user = user.clone();
        let start = rate.window_start(now);
        let expires_at = rate.counter_expires_at(now);
        self.run(move |conn| {
            // One statement, atomic: counts only while the window has room (the DynamoDB condition).
            let counted = conn
                .prepare_cached(
                    "INSERT INTO bid_windows (user_id, window_start, n, expires_at) VALUES (?1, ?2, 1, ?3)
                     ON CONFLICT (user_id, window_start) DO UPDATE SET n = n + 1 WHERE n < ?4",
                )
                .and_then(|mut st| {
                    st.execute(params![user.as_str(), start, expires_at, i64::from(rate.limit)])
                })
                .map_err(map_err)?;
            Ok(if counted == 1 && rate.limit > 0 {
                RateVerdict::Allowed
            } else {
                RateVerdict::Limited {
                    retry_after_ms: rate.retry_after_ms(now),
                }
            })
        })
        .await
    }

    async fn create_auction_within_quota(
        &self,
        auction: &Auction,
        details: &AuctionDetails,
        max_active: usize,
    ) -> StoreResult<Creation> {
        let (a, d) = (auction.clone(), details.clone());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            // Counted and inserted under the write lock: no other create can interleave.
            let active: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM seller_active WHERE seller_id = ?1")
                .and_then(|mut st| st.query_row(params![a.seller_id.as_str()], |r| r.get(0)))
                .map_err(map_err)?;
            if active >= limit_param(max_active) {
                return Ok(Creation::SellerAtQuota);
            }
            insert_auction(&tx, &a, &d)?;
            tx.prepare_cached("INSERT INTO seller_active (seller_id, auction_id) VALUES (?1, ?2)")
                .and_then(|mut st| st.execute(params![a.seller_id.as_str(), a.auction_id.as_str()]))
                .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(Creation::Created)
        })
        .await
    }

    async fn release_seller_slot(&self, seller: &UserId, auction: &AuctionId) -> StoreResult<()> {
        let (seller, auction) = (seller.clone(), auction.clone());
        self.run(move |conn| {
            conn.prepare_cached(
                "DELETE FROM seller_active WHERE seller_id = ?1 AND auction_id = ?2",
            )
            .and_then(|mut st| st.execute(params![seller.as_str(), auction.as_str()]))
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn list_active_page(
        &self,
        now: Millis,
        limit: usize,
        after: Option<&ListCursor>,
    ) -> StoreResult<ActivePage> {
        let (after_ends, after_id) = match after {
            Some(c) => (c.ends_at, c.auction_id.to_string()),
            None => (Millis::MIN, String::new()),
        };
        self.run(move |conn| {
            let rows = query_auction_data(
                conn,
                "SELECT auction_id, data FROM auctions
                 WHERE status = 'active' AND ends_at > ?1 AND (ends_at, auction_id) > (?2, ?3)
                 ORDER BY ends_at, auction_id LIMIT ?4",
                params![now, after_ends, after_id, limit_param(limit)],
            )?;
            let auctions: Vec<Auction> = rows
                .iter()
                .map(|(id, data)| from_json("auction", id, data))
                .collect::<StoreResult<_>>()?;
            let next = match auctions.last() {
                Some(last) if limit > 0 && auctions.len() >= limit => Some(ListCursor {
                    ends_at: last.ends_at,
                    auction_id: last.auction_id.clone(),
                }),
                _ => None,
            };
            Ok(ActivePage { auctions, next })
        })
        .await
    }

    async fn schedule_purge(&self, id: &AuctionId, at: Millis) -> StoreResult<()> {
        let id = id.clone();
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO purge_schedule (auction_id, purge_at) VALUES (?1, ?2)
                 ON CONFLICT (auction_id) DO UPDATE SET purge_at = excluded.purge_at",
            )
            .and_then(|mut st| st.execute(params![id.as_str(), at]))
            .map_err(map_err)?;
            Ok(())
        })
        .await
    }

    async fn purge_due(&self, now: Millis, limit: usize) -> StoreResult<Vec<AuctionId>> {
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let due: Vec<String> = {
                let mut st = tx
                    .prepare_cached(
                        "SELECT auction_id FROM purge_schedule WHERE purge_at <= ?1
                         ORDER BY purge_at, auction_id LIMIT ?2",
                    )
                    .map_err(map_err)?;
                let rows = st
                    .query_map(params![now, limit_param(limit)], |r| r.get::<_, String>(0))
                    .map_err(map_err)?;
                rows.collect::<Result<_, _>>().map_err(map_err)?
            };
            let mut purged = Vec::with_capacity(due.len());
            for raw in due {
                let id = AuctionId::parse(&raw)
                    .map_err(|e| StoreError::Corrupt(format!("purge schedule {raw:?}: {e}")))?;
                // Only an ended (or already deleted) auction is ever deleted.
                let ended =
                    load_auction(&tx, &id)?.is_none_or(|a| a.status == AuctionStatus::Ended);
                if ended {
                    for sql in [
                        "DELETE FROM bids WHERE auction_id = ?1",
                        "DELETE FROM idempotency WHERE auction_id = ?1",
                        "DELETE FROM auction_details WHERE auction_id = ?1",
                        "DELETE FROM auctions WHERE auction_id = ?1",
                    ] {
                        tx.prepare_cached(sql)
                            .and_then(|mut st| st.execute(params![raw]))
                            .map_err(map_err)?;
                    }
                    purged.push(id);
                }
                tx.prepare_cached("DELETE FROM purge_schedule WHERE auction_id = ?1")
                    .and_then(|mut st| st.execute(params![raw]))
                    .map_err(map_err)?;
            }
            tx.commit().map_err(map_err)?;
            Ok(purged)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuctionDraft, BidRejection, IdempotencyKey, Money, Principal, Role};
    use std::path::PathBuf;

    const NOW: Millis = 1_700_000_000_000;
    const ENDS: Millis = NOW + 3_600_000;

    fn temp_db() -> PathBuf {
        std::env::temp_dir()
            .join(format!("auction-sqlite-unit-{}", ulid::Ulid::generate()))
            .join("nested")
            .join("auction.db")
    }

    fn auction() -> Auction {
        let seller = Principal {
            user_id: UserId::parse("seller-1").unwrap(),
            name: "Sam Seller".into(),
            role: Role::Seller,
        };
        let draft = AuctionDraft {
            viewer_shards: 4,
            title: "Lamp".into(),
            starting_price: Money::new(1_000).unwrap(),
            increments: domain::Ladder::fixed(Money::new(100).unwrap()),
            soft_close_ms: 0,
            reserve_price: None,
            starts_at: 0,
            ends_at: ENDS,
        };
        domain::new_auction(
            AuctionId::parse(&ulid::Ulid::generate().to_string()).unwrap(),
            &seller,
            draft,
            NOW,
        )
    }

    /// A plain bid; each amount's bidder differs from the previous hundred's (a leader may not outbid
    /// themselves).
    fn bid(a: &Auction, amount: i64, key: Option<&str>) -> BidRequest {
        BidRequest {
            auction_id: a.auction_id.clone(),
            bidder_id: UserId::parse(&format!("bidder-{}", amount / 100 % 2)).unwrap(),
            bidder_name: "Bea".into(),
            kind: domain::BidKind::Plain,
            amount: Money::new(amount).unwrap(),
            now: NOW + 1,
            bid_id: ulid::Ulid::generate().to_string(),
            idempotency_key: key.map(|k| IdempotencyKey::parse(k).unwrap()),
        }
    }

    async fn accept(store: &SqliteStore, req: &BidRequest) -> PlacedBid {
        match store.place_bid(req).await.unwrap() {
            BidOutcome::Accepted(placed) => placed,
            other => panic!("bid should be accepted: {other:?}"),
        }
    }

    /// A store on the file at `path` holding `a` and one accepted bid with Idempotency-Key `k1`.
    async fn open_with_keyed_bid(path: &Path, a: &Auction) -> (SqliteStore, PlacedBid) {
        let store = SqliteStore::open(path).unwrap();
        store
            .create_auction(a, &AuctionDetails::default())
            .await
            .unwrap();
        let placed = accept(&store, &bid(a, 1_000, Some("k1"))).await;
        (store, placed)
    }

    #[tokio::test]
    async fn an_accepted_bid_and_a_close_survive_reopening_the_file() {
        // GIVEN a file-backed store (in a directory that does not exist yet) with one auction and one bid
        let path = temp_db();
        let a = auction();
        let (store, placed) = open_with_keyed_bid(&path, &a).await;
        // WHEN the store is dropped (the process ends)
        drop(store);

        // THEN a new store on the same file sees the auction, the bid and the idempotency record
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.get_auction(&a.auction_id).await.unwrap(),
            Some(placed.auction.clone())
        );
        assert_eq!(
            store.recent_bids(&a.auction_id, 10).await.unwrap(),
            placed.bids.clone()
        );
        assert_eq!(
            store.place_bid(&bid(&a, 1_000, Some("k1"))).await.unwrap(),
            BidOutcome::Replayed(placed.receipt())
        );

        // AND a close committed before another reopen is still there
        let CloseOutcome::Closed(closed) = store
            .close_auction(&a.auction_id, ENDS, &Closing::Due)
            .await
            .unwrap()
        else {
            panic!("due auction should close")
        };
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.get_auction(&a.auction_id).await.unwrap(),
            Some(closed)
        );
        assert_eq!(
            store.due_auctions(ENDS, 10).await.unwrap(),
            vec![a.auction_id.clone()]
        );

        // AND the file is in WAL mode with synchronous=FULL (2)
        let conn = store.conn.lock().unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
        drop(conn);
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    fn connection(a: &Auction, id: &str, expires_at: i64) -> Connection {
        Connection {
            connection_id: ConnectionId::parse(id).unwrap(),
            auction_id: a.auction_id.clone(),
            user_id: UserId::parse("viewer-1").unwrap(),
            connected_at: NOW,
            expires_at,
            shard: 0,
        }
    }

    #[tokio::test]
    async fn the_sweep_removes_only_what_has_expired_as_dynamodb_ttl_does() {
        // GIVEN a two-day auction with two connections, one past its expiry, and two keyed bids a day apart
        let store = SqliteStore::in_memory().unwrap();
        let mut a = auction();
        a.ends_at = NOW + 2 * 86_400_000;
        store
            .create_auction(&a, &AuctionDetails::default())
            .await
            .unwrap();
        let now_secs = NOW / 1000;
        store
            .add_connection(&connection(&a, "gone", now_secs - 1), 3)
            .await
            .unwrap();
        store
            .add_connection(
                &connection(
                    &a,
                    "live",
                    now_secs + domain::IDEMPOTENCY_RETENTION_SECS + 3_600,
                ),
                3,
            )
            .await
            .unwrap();
        let first = accept(&store, &bid(&a, 1_000, Some("k1"))).await;
        let day_later = NOW + domain::IDEMPOTENCY_RETENTION_SECS * 1000;
        let mut second = bid(&a, 1_100, Some("k2"));
        second.now = day_later;
        accept(&store, &second).await;

        // WHEN the sweep runs a day and two seconds after the first bid
        let swept = store.sweep_expired(day_later + 2_000).await.unwrap();

        // THEN the expired connection and the first key's record are gone, the rest stays
        assert_eq!(
            swept,
            Swept {
                connections: 1,
                idempotency_records: 1
            }
        );
        let ids: Vec<String> = store
            .connections_for_auction(&a.auction_id, 1)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.connection_id.to_string())
            .collect();
        assert_eq!(ids, ["live"]);
        assert!(matches!(
            store.place_bid(&second).await.unwrap(),
            BidOutcome::Replayed(_)
        ));
        // AND the forgotten key is judged as a new bid (too low now), not replayed
        let mut retry = bid(&a, 1_000, Some("k1"));
        retry.now = day_later + 2_000;
        assert_eq!(
            store.place_bid(&retry).await.unwrap(),
            BidOutcome::Rejected(BidRejection::TooLow {
                current_price: Money::new(1_100).unwrap(),
                minimum_bid: Money::new(1_200).unwrap()
            })
        );
        // AND the bid history is untouched
        assert_eq!(store.recent_bids(&a.auction_id, 10).await.unwrap().len(), 2);
        assert_eq!(first.bids[0].seq, 1);

        // AND a second sweep finds nothing
        assert_eq!(
            store.sweep_expired(day_later + 2_000).await.unwrap(),
            Swept::default()
        );
    }

    #[tokio::test]
    async fn the_bid_rate_check_writes_nothing_to_the_file() {
        // GIVEN a file store, its WAL as it is after the auction was created
        let path = temp_db();
        let store = SqliteStore::open(&path).unwrap();
        store
            .create_auction(&auction(), &AuctionDetails::default())
            .await
            .unwrap();
        let wal = path.with_extension("db-wal");
        let before = std::fs::metadata(&wal).unwrap().len();
        // WHEN 200 bids of 20 users are counted against their rate
        let rate = BidRate {
            limit: 5,
            window_ms: 10_000,
        };
        let mut allowed = 0;
        for i in 0..200 {
            let user = UserId::parse(&format!("user-{}", i % 20)).unwrap();
            if store.take_bid_slot(&user, NOW, rate).await.unwrap() == RateVerdict::Allowed {
                allowed += 1;
            }
        }
        // THEN the limit held (5 per user) and the file's WAL did not grow: no write, no fsync
        assert_eq!(allowed, 20 * 5);
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), before);
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[tokio::test]
    async fn a_version_1_file_is_migrated_with_each_records_expiry() {
        // GIVEN a file written by the version-1 schema (no idempotency.expires_at, the description inside
        // the auction's JSON) holding a keyed bid
        let path = temp_db();
        let a = auction();
        let (store, placed) = open_with_keyed_bid(&path, &a).await;
        store
            .conn
            .lock()
            .unwrap()
            .execute_batch(
                "DROP INDEX idempotency_by_expiry;
                 ALTER TABLE idempotency DROP COLUMN expires_at;
                 DROP INDEX connections_by_shard;
                 DROP INDEX connections_by_user;
                 ALTER TABLE connections DROP COLUMN shard;
                 ALTER TABLE connections DROP COLUMN last_sync_at;
                 ALTER TABLE connections DROP COLUMN last_notice_at;
                 ALTER TABLE connections DROP COLUMN strikes;
                 CREATE INDEX connections_by_auction ON connections (auction_id);
                 DROP TABLE auction_details;
                 UPDATE auctions SET data = json_set(data, '$.description', 'Brass, 1920s');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        drop(store);

        // WHEN it is opened by this build
        let store = SqliteStore::open(&path).unwrap();

        // THEN it is at version 4, the record's expiry is its bid's time + 24 h, the description moved out of
        // the auction row into its details, replays still work, and connections can be written with their
        // shard
        let (version, expires, data): (i64, i64, String) = {
            let conn = store.conn.lock().unwrap();
            let version = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            let expires = conn
                .query_row("SELECT expires_at FROM idempotency", [], |r| r.get(0))
                .unwrap();
            let data = conn
                .query_row("SELECT data FROM auctions", [], |r| r.get(0))
                .unwrap();
            (version, expires, data)
        };
        assert_eq!(version, 4);
        assert!(!data.contains("description"), "{data}");
        assert_eq!(
            store.get_details(&a.auction_id).await.unwrap().description,
            "Brass, 1920s"
        );
        assert_eq!(
            expires,
            domain::idempotency_expires_at(placed.bids[0].placed_at)
        );
        let c = connection(&a, "after-migration", NOW / 1000 + 60);
        assert_eq!(store.add_connection(&c, 3).await.unwrap(), Admission::Added);
        assert_eq!(
            store
                .connections_for_auction(&a.auction_id, 1)
                .await
                .unwrap(),
            vec![c]
        );
        assert_eq!(
            store.place_bid(&bid(&a, 1_000, Some("k1"))).await.unwrap(),
            BidOutcome::Replayed(placed.receipt())
        );
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[tokio::test]
    async fn undecodable_rows_are_corrupt_not_a_panic() {
        // GIVEN an auction row whose JSON was hand-edited into garbage
        let store = SqliteStore::in_memory().unwrap();
        let a = auction();
        store
            .create_auction(&a, &AuctionDetails::default())
            .await
            .unwrap();
        store
            .conn
            .lock()
            .unwrap()
            .execute(
                "UPDATE auctions SET data = '{\"nope\":1}' WHERE auction_id = ?1",
                [a.auction_id.as_str()],
            )
            .unwrap();

        // WHEN it is read or bid on THEN the store reports corruption
        assert!(matches!(
            store.get_auction(&a.auction_id).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            store.place_bid(&bid(&a, 5_000, None)).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            store.list_active(NOW, 10).await,
            Err(StoreError::Corrupt(_))
        ));

        // AND a connection row with an invalid id is corrupt too
        store
            .conn
            .lock()
            .unwrap()
            .execute(
                "INSERT INTO connections (connection_id, auction_id, user_id, connected_at, expires_at)
                 VALUES ('bad#id', ?1, 'u', 1, 2)",
                [a.auction_id.as_str()],
            )
            .unwrap();
        assert!(matches!(
            store.connections_for_auction(&a.auction_id, 1).await,
            Err(StoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn a_write_lock_held_by_another_process_is_throttled() {
        // GIVEN a file whose write lock is held by another connection (as another process would)
        let path = temp_db();
        let store = SqliteStore::open_with_busy_timeout(&path, Duration::from_millis(50)).unwrap();
        let a = auction();
        store
            .create_auction(&a, &AuctionDetails::default())
            .await
            .unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();

        // WHEN the store tries to write THEN it answers Throttled (retryable), and nothing was written
        assert!(matches!(
            store.place_bid(&bid(&a, 1_000, None)).await,
            Err(StoreError::Throttled)
        ));
        other.execute_batch("ROLLBACK").unwrap();
        assert_eq!(
            store.get_auction(&a.auction_id).await.unwrap(),
            Some(a.clone())
        );

        // AND once the lock is released the same write goes through
        assert!(matches!(
            store.place_bid(&bid(&a, 1_000, None)).await.unwrap(),
            BidOutcome::Accepted(_)
        ));
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[tokio::test]
    async fn a_panic_while_holding_the_connection_does_not_kill_the_store() {
        // GIVEN a store whose mutex was poisoned by a panic in the middle of a transaction
        let store = SqliteStore::in_memory().unwrap();
        let a = auction();
        store
            .create_auction(&a, &AuctionDetails::default())
            .await
            .unwrap();
        let poisoner = store.clone();
        let joined = std::thread::spawn(move || {
            let mut guard = poisoner.conn.lock().unwrap();
            let tx = guard.transaction().unwrap();
            tx.execute("DELETE FROM auctions", []).unwrap();
            std::mem::forget(tx); // leave the transaction open, as an abort mid-way could
            panic!("boom");
        })
        .join();
        assert!(joined.is_err());

        // WHEN the store is used again THEN the half-done transaction was rolled back and writes work
        assert_eq!(
            store.get_auction(&a.auction_id).await.unwrap(),
            Some(a.clone())
        );
        let b = auction();
        store
            .create_auction(&b, &AuctionDetails::default())
            .await
            .unwrap();
        assert_eq!(store.get_auction(&b.auction_id).await.unwrap(), Some(b));
    }

    #[test]
    fn errors_map_to_store_errors() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let locked = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_LOCKED),
            None,
        );
        let io = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            None,
        );
        assert!(matches!(map_err(busy), StoreError::Throttled));
        assert!(matches!(map_err(locked), StoreError::Throttled));
        assert!(matches!(map_err(io), StoreError::Unavailable(_)));
    }
}
