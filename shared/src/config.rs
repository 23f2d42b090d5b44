//! One typed configuration, read once per cold start from the environment. Secrets never print.

use secrecy::SecretString;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The DynamoDB table the functions use. (The embedded store is the local stack's, chosen by its flags.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// `TABLE_NAME`.
    pub table: String,
    /// `DYNAMODB_ENDPOINT`: another endpoint (moto_server, DynamoDB Local); unset in AWS.
    pub endpoint: Option<String>,
}

/// Behaviour knobs shared by the handlers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Management API calls in flight at once, per fan-out and across all fan-outs of the process
    /// (`FANOUT_CONCURRENCY`; see [`crate::fanout::CallSlots`]). Also the number of HTTP connections
    /// the fan-out keeps open (HTTP/1.1: one request per connection at a time).
    pub fanout_concurrency: usize,
    /// Attempts per connection for retryable failures (429, 5xx, timeout) (`FANOUT_MAX_ATTEMPTS`).
    pub fanout_max_attempts: u32,
    /// First retry backoff; doubles with full jitter (`FANOUT_BACKOFF_MS`).
    pub fanout_backoff: Duration,
    /// Timeout of a Management API call's first attempt (`FANOUT_CALL_TIMEOUT_MS`): a call that never answers
    /// is cut here and retried. Above the Management API's latency tail, well under a second. Each retry
    /// doubles it, up to 4× (see [`Settings::attempt_timeout`]).
    pub call_timeout: Duration,
    /// Connection records expire this long after connecting: API Gateway's 2 h limit plus a margin.
    pub connection_ttl_secs: i64,
    /// Bids returned by GET /auctions/{id}.
    pub recent_bids: usize,
    /// Close runs send `auction.status` to viewers of at most this many active auctions per run.
    pub status_broadcast_auctions: usize,
    /// How often viewers of a quiet auction get the periodic `auction.status` (`STATUS_INTERVAL_MS`).
    pub status_interval: Duration,
    /// How many due auctions one close run handles at most.
    pub close_batch: usize,
    /// The coalescing window (`PUBLISH_WINDOW_MS`): viewers get at most one frame per window, carrying
    /// every change of it; a change after a quiet window goes out at once.
    pub publish_window: Duration,
    /// The posts per second one auction's deliveries may make (`PUBLISH_POSTS_PER_SECOND`): the share of
    /// the account's PostToConnection quota (10,000/s by default, shared with every API Gateway call).
    pub publish_posts_per_second: u32,
    /// Viewers per delivery slice (`SLICE_VIEWERS`): a larger audience is delivered by several slices in
    /// parallel (other invocations on AWS).
    pub slice_viewers: u64,
    /// Shard partitions per auction for viewer connection records (`VIEWER_SHARDS`), fixed at creation.
    pub viewer_shards: u16,
    /// Sockets one user may have open to one auction (`MAX_SOCKETS_PER_USER`); the next is refused (429).
    pub max_sockets_per_user: usize,
    /// Viewers one auction may have (`MAX_VIEWERS_PER_AUCTION`), as counted by its last delivery.
    pub max_viewers_per_auction: u64,
    /// What one account may make the system do (issue 11): bid rate, open auctions, listing, close budget,
    /// retention.
    pub limits: Limits,
}

/// The abuse limits, each from its own environment variable (README, "Configuration").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bids one user may place per window (`BID_RATE_LIMIT`), whatever the auction; more answer
    /// `429 rate_limited`. 20 per 10 s: a person bidding by hand (a bid every second or two, a short burst
    /// at the end) never meets it; a script is held at 2 bids/s.
    pub bid_rate_limit: u32,
    /// The bid rate window (`BID_RATE_WINDOW_MS`).
    pub bid_rate_window: Duration,
    /// Auctions one seller may have open (created, not yet closed) at once (`MAX_ACTIVE_AUCTIONS_PER_SELLER`);
    /// one more answers `429 too_many_auctions`.
    pub max_active_auctions_per_seller: usize,
    /// Auctions whose last known minimum bid a process remembers (`KNOWN_MINIMUMS`): a bid below it is
    /// refused without a store call.
    pub known_minimums: usize,
    /// Auctions per page of `GET /auctions`: the default and the most a `limit` may ask for
    /// (`LIST_PAGE_DEFAULT`, `LIST_PAGE_MAX`).
    pub list_page_default: usize,
    pub list_page_max: usize,
    /// How long one close run keeps taking batches of due auctions (`CLOSE_BUDGET_MS`); well under the
    /// function's 60 s timeout, so a run never dies mid-batch.
    pub close_budget: Duration,
    /// Days an ended auction, its bids and its idempotency records are kept after it ended
    /// (`RETENTION_DAYS`); then the closer deletes them.
    pub retention_days: u32,
    /// Auctions one close run purges at most (`PURGE_BATCH`).
    pub purge_batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            bid_rate_limit: 20,
            bid_rate_window: Duration::from_secs(10),
            max_active_auctions_per_seller: 25,
            known_minimums: 10_000,
            list_page_default: 20,
            list_page_max: 50,
            close_budget: Duration::from_secs(40),
            retention_days: 30,
            purge_batch: 25,
        }
    }
}

impl Limits {
    /// The retention as milliseconds.
    pub fn retention_ms(&self) -> i64 {
        i64::from(self.retention_days) * 86_400_000
    }

    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Self::default();
        let ms = |v: Duration| u64::try_from(v.as_millis()).unwrap_or(u64::MAX);
        let list_page_max = parse(get, "LIST_PAGE_MAX", d.list_page_max, 1..=100)?;
        Ok(Self {
            bid_rate_limit: parse(get, "BID_RATE_LIMIT", d.bid_rate_limit, 1..=10_000)?,
            bid_rate_window: Duration::from_millis(parse(
                get,
                "BID_RATE_WINDOW_MS",
                ms(d.bid_rate_window),
                100..=3_600_000,
            )?),
            max_active_auctions_per_seller: parse(
                get,
                "MAX_ACTIVE_AUCTIONS_PER_SELLER",
                d.max_active_auctions_per_seller,
                1..=1_000,
            )?,
            known_minimums: parse(get, "KNOWN_MINIMUMS", d.known_minimums, 1..=1_000_000)?,
            list_page_default: parse(
                get,
                "LIST_PAGE_DEFAULT",
                d.list_page_default.min(list_page_max),
                1..=list_page_max,
            )?,
            list_page_max,
            close_budget: Duration::from_millis(parse(
                get,
                "CLOSE_BUDGET_MS",
                ms(d.close_budget),
                1_000..=840_000,
            )?),
            retention_days: parse(get, "RETENTION_DAYS", d.retention_days, 1..=3_650)?,
            purge_batch: parse(get, "PURGE_BATCH", d.purge_batch, 0..=1_000)?,
        })
    }
}

impl Settings {
    /// The timeout of attempt `attempt` (1-based) of one Management API call: `call_timeout`, doubled per
    /// retry up to 4×.
    ///
    /// The timeout is wall time. A process short of CPU (a small Lambda, or many fan-outs at once) can hold a
    /// post that was already answered longer than `call_timeout` before it sees the answer; a fixed timeout
    /// would cut it again on every retry and finally give up on a live viewer. Growing the timeout lets a
    /// retry outlast such a stall while a call that truly hangs is still cut at `call_timeout` the first time.
    pub fn attempt_timeout(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(2);
        self.call_timeout.saturating_mul(1 << doublings)
    }

    /// The longest any single attempt may take: the SDK's own timeouts are set to this as a safety net.
    pub fn longest_call(&self) -> Duration {
        self.attempt_timeout(self.fanout_max_attempts)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            // Measured in bench/results/fanout.md (bench-fanout): 256 in flight at ~25 ms per post is ~10k
            // posts/s, API Gateway's steady account quota, with 256 connections (Lambda allows 1,024 fds).
            fanout_concurrency: 256,
            fanout_max_attempts: 4,
            fanout_backoff: Duration::from_millis(25),
            // Above the Management API's latency tail (p99 ~100 ms): a hung call is retried after 0.3 s.
            call_timeout: Duration::from_millis(300),
            connection_ttl_secs: 2 * 3600 + 600,
            recent_bids: 20,
            status_broadcast_auctions: 50,
            status_interval: Duration::from_secs(60),
            close_batch: 25,
            publish_window: Duration::from_millis(250),
            publish_posts_per_second: 5_000,
            slice_viewers: 2_000,
            viewer_shards: 16,
            max_sockets_per_user: 3,
            max_viewers_per_auction: 100_000,
            limits: Limits::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `JWT_SECRET`; absent in functions that never verify a token (and on AWS, where the secret is read
    /// from Secrets Manager instead: `JWT_SECRET_ARN`).
    pub jwt_secret: Option<SecretString>,
    /// `JWT_SECRET_ARN`: the Secrets Manager secret holding the HS256 key, read once at cold start
    /// (`wiring.rs`); only the functions that verify tokens get it.
    pub jwt_secret_arn: Option<String>,
    pub store: StoreConfig,
    /// `WS_MANAGEMENT_ENDPOINT`: the WebSocket API's callback URL (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
    pub ws_management_endpoint: Option<String>,
    /// `PUBLISH_QUEUE_URL`: the SQS FIFO queue of the publish hand-off.
    pub publish_queue_url: Option<String>,
    /// `DELIVER_FUNCTION`: the Lambda function that delivers one slice of a large audience.
    pub deliver_function: Option<String>,
    /// `CLOSE_TIMER_ARN`: the state machine that wakes the closer at each auction's end (create-auction).
    pub close_timer_arn: Option<String>,
    pub settings: Settings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Testable core of [`Config::from_env`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        // Only functions that verify tokens get the secret (least privilege); the others run without it.
        let jwt_secret = get("JWT_SECRET");
        if jwt_secret
            .as_ref()
            .is_some_and(|s| s.len() < crate::auth::MIN_SECRET_LEN)
        {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: "must be at least 32 bytes".into(),
            });
        }
        let store = StoreConfig {
            table: get("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?,
            endpoint: get("DYNAMODB_ENDPOINT"),
        };
        let d = Settings::default();
        let settings = Settings {
            fanout_concurrency: parse(
                &get,
                "FANOUT_CONCURRENCY",
                d.fanout_concurrency,
                1..=10_000,
            )?,
            fanout_max_attempts: parse(&get, "FANOUT_MAX_ATTEMPTS", d.fanout_max_attempts, 1..=10)?,
            fanout_backoff: Duration::from_millis(parse(
                &get,
                "FANOUT_BACKOFF_MS",
                d.fanout_backoff.as_millis() as u64,
                1..=10_000,
            )?),
            call_timeout: Duration::from_millis(parse(
                &get,
                "FANOUT_CALL_TIMEOUT_MS",
                d.call_timeout.as_millis() as u64,
                10..=30_000,
            )?),
            connection_ttl_secs: parse(
                &get,
                "CONNECTION_TTL_SECONDS",
                d.connection_ttl_secs,
                60..=86_400,
            )?,
            recent_bids: parse(&get, "RECENT_BIDS", d.recent_bids, 1..=100)?,
            status_broadcast_auctions: parse(
                &get,
                "STATUS_BROADCAST_AUCTIONS",
                d.status_broadcast_auctions,
                0..=1_000,
            )?,
            status_interval: Duration::from_millis(parse(
                &get,
                "STATUS_INTERVAL_MS",
                d.status_interval.as_millis() as u64,
                1_000..=3_600_000,
            )?),
            close_batch: parse(&get, "CLOSE_BATCH", d.close_batch, 1..=1_000)?,
            publish_window: Duration::from_millis(parse(
                &get,
                "PUBLISH_WINDOW_MS",
                d.publish_window.as_millis() as u64,
                0..=60_000,
            )?),
            publish_posts_per_second: parse(
                &get,
                "PUBLISH_POSTS_PER_SECOND",
                d.publish_posts_per_second,
                1..=1_000_000,
            )?,
            slice_viewers: parse(&get, "SLICE_VIEWERS", d.slice_viewers, 100..=1_000_000)?,
            viewer_shards: parse(&get, "VIEWER_SHARDS", d.viewer_shards, 1..=1_024)?,
            max_sockets_per_user: parse(
                &get,
                "MAX_SOCKETS_PER_USER",
                d.max_sockets_per_user,
                1..=100,
            )?,
            max_viewers_per_auction: parse(
                &get,
                "MAX_VIEWERS_PER_AUCTION",
                d.max_viewers_per_auction,
                1..=100_000_000,
            )?,
            limits: Limits::from_lookup(&get)?,
        };
        Ok(Self {
            jwt_secret: jwt_secret.map(SecretString::from),
            jwt_secret_arn: get("JWT_SECRET_ARN"),
            store,
            ws_management_endpoint: get("WS_MANAGEMENT_ENDPOINT"),
            publish_queue_url: get("PUBLISH_QUEUE_URL"),
            deliver_function: get("DELIVER_FUNCTION"),
            close_timer_arn: get("CLOSE_TIMER_ARN"),
            settings,
        })
    }
}

fn parse<T>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = get(name) else {
        return Ok(default);
    };
    match raw.trim().parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(ConfigError::Invalid {
            name,
            reason: format!(
                "expected a number from {} to {}",
                range.start(),
                range.end()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn attempt_timeouts_double_up_to_four_times() {
        let s = Settings {
            call_timeout: Duration::from_millis(300),
            fanout_max_attempts: 6,
            ..Settings::default()
        };
        let t: Vec<u128> = (1..=6).map(|a| s.attempt_timeout(a).as_millis()).collect();
        assert_eq!(t, [300, 600, 1200, 1200, 1200, 1200]);
        assert_eq!(s.longest_call(), Duration::from_millis(1200));
        let one = Settings {
            fanout_max_attempts: 1,
            ..s
        };
        assert_eq!(one.longest_call(), Duration::from_millis(300));
    }

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn limits_come_from_their_variables_and_are_bounded() {
        let s = "x".repeat(32);
        let base = [("JWT_SECRET", s.as_str()), ("TABLE_NAME", "t")];
        let with = |extra: &[(&str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(extra);
            cfg(&all)
        };
        assert_eq!(with(&[]).unwrap().settings.limits, Limits::default());
        let c = with(&[
            ("BID_RATE_LIMIT", "5"),
            ("BID_RATE_WINDOW_MS", "2000"),
            ("MAX_ACTIVE_AUCTIONS_PER_SELLER", "3"),
            ("LIST_PAGE_MAX", "10"),
            ("CLOSE_BUDGET_MS", "5000"),
            ("RETENTION_DAYS", "7"),
        ])
        .unwrap()
        .settings
        .limits;
        assert_eq!(c.bid_rate_limit, 5);
        assert_eq!(c.bid_rate_window, Duration::from_secs(2));
        assert_eq!(c.max_active_auctions_per_seller, 3);
        assert_eq!((c.list_page_default, c.list_page_max), (10, 10));
        assert_eq!(c.close_budget, Duration::from_secs(5));
        assert_eq!(c.retention_ms(), 7 * 86_400_000);
        for bad in [
            ("BID_RATE_LIMIT", "0"),
            ("MAX_ACTIVE_AUCTIONS_PER_SELLER", "0"),
            ("LIST_PAGE_MAX", "101"),
            ("CLOSE_BUDGET_MS", "10"),
        ] {
            assert!(with(&[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn requires_secret_and_table() {
        assert!(matches!(cfg(&[]), Err(ConfigError::Missing("TABLE_NAME"))));
        assert!(matches!(
            cfg(&[("JWT_SECRET", "short")]),
            Err(ConfigError::Invalid { .. })
        ));
        let s = "x".repeat(32);
        assert!(matches!(
            cfg(&[("JWT_SECRET", &s)]),
            Err(ConfigError::Missing("TABLE_NAME"))
        ));
        let c = cfg(&[
            ("JWT_SECRET", &s),
            ("TABLE_NAME", "t"),
            ("FANOUT_CONCURRENCY", "16"),
        ])
        .unwrap();
        assert_eq!(
            c.store,
            StoreConfig {
                table: "t".into(),
                endpoint: None
            }
        );
        assert_eq!(c.settings.fanout_concurrency, 16);
        assert!(cfg(&[
            ("JWT_SECRET", &s),
            ("TABLE_NAME", "t"),
            ("FANOUT_CONCURRENCY", "0")
        ])
        .is_err());
        // The secret never prints.
        assert!(!format!("{c:?}").contains(&s));
        assert_eq!(c.jwt_secret_arn, None);
        let arn = "arn:aws:secretsmanager:us-east-1:000000000000:secret:jwt-AbCdEf";
        let c = cfg(&[("JWT_SECRET_ARN", arn), ("TABLE_NAME", "t")]).unwrap();
        assert_eq!(c.jwt_secret_arn.as_deref(), Some(arn));
        assert!(c.jwt_secret.is_none());
    }
}
