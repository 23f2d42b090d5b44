//! Logging: `tracing`, JSON lines in Lambda (CloudWatch), human-readable elsewhere. Level from `RUST_LOG`.
//!
//! `RUST_LOG` takes `target=level` directives and a bare default level, e.g. `info`, `debug`,
//! `info,auction=debug,aws_smithy_runtime=warn` (`tracing_subscriber::filter::Targets`). Span and field
//! filters (`[span{field=…}]`) are not supported: they need `EnvFilter`'s regex engine, which was ≈ 350 KB of
//! every Lambda binary (bench/results/coldstart.md). An unreadable value is reported once on stderr and
//! `info` is used.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The filter for a `RUST_LOG` value (`None` or blank: `info`), and the error if it could not be read.
pub fn filter_from(rust_log: Option<&str>) -> (Targets, Option<String>) {
    let default = Targets::new().with_default(LevelFilter::INFO);
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => (default, None),
        Some(s) => match s.parse::<Targets>() {
            Ok(t) => (t, None),
            Err(e) => (
                default,
                Some(format!("RUST_LOG={s:?} ignored ({e}); using info")),
            ),
        },
    }
}

fn filter() -> Targets {
    let (targets, problem) = filter_from(std::env::var("RUST_LOG").ok().as_deref());
    if let Some(p) = problem {
        eprintln!("{p}");
    }
    targets
}

/// For Lambda: JSON, no ANSI colours, no timestamps (CloudWatch adds them), the target kept for filtering.
/// Metric events (`crate::metrics`) bypass it and `RUST_LOG`: each is written to stdout as its EMF line.
pub fn init_lambda() {
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .with_ansi(false)
                .without_time()
                .with_filter(filter().with_target(crate::metrics::TARGET, LevelFilter::OFF)),
        )
        .with(
            crate::metrics::layer(std::io::stdout)
                .with_filter(Targets::new().with_target(crate::metrics::TARGET, LevelFilter::INFO)),
        )
        .try_init();
}

/// For the local stack and tools: compact, readable lines.
pub fn init_local() {
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().compact())
        .with(filter())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_directives_set_levels_per_target() {
        let (t, problem) = filter_from(Some("warn,auction=debug,aws_smithy_runtime=error"));
        assert_eq!(problem, None);
        assert!(t.would_enable("auction::handlers", &Level::DEBUG));
        assert!(!t.would_enable("auction::handlers", &Level::TRACE));
        assert!(!t.would_enable("hyper", &Level::INFO));
        assert!(t.would_enable("hyper", &Level::WARN));
        assert!(!t.would_enable("aws_smithy_runtime::client", &Level::WARN));
    }

    #[test]
    fn unset_blank_or_unreadable_rust_log_means_info() {
        for value in [None, Some(""), Some("  "), Some("auction=loud")] {
            let (t, problem) = filter_from(value);
            assert!(t.would_enable("auction", &Level::INFO), "{value:?}");
            assert!(!t.would_enable("auction", &Level::DEBUG), "{value:?}");
            assert_eq!(
                problem.is_some(),
                value == Some("auction=loud"),
                "{value:?}"
            );
        }
    }
}
