//! Logging: `tracing`, JSON lines in Lambda (CloudWatch), human-readable elsewhere. Level from `RUST_LOG`.

use tracing_subscriber::EnvFilter;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// For Lambda: JSON, no ANSI colours, no timestamps (CloudWatch adds them), the target kept for filtering.
pub fn init_lambda() {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter())
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .try_init();
}

/// For the local stack and tools: compact, readable lines.
pub fn init_local() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .compact()
        .try_init();
}
