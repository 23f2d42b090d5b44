//! `bench-coldstart`'s runner: exec one Lambda bootstrap against the [`RuntimeApi`] mock, time its init (exec
//! → first `GET …/invocation/next`), run invocations, read its peak RSS (`VmHWM`), kill it.

use crate::runtime_mock::{Outcome, RuntimeApi};
use crate::tls_proxy::ProxyStats;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One cold start and the invocations after it.
#[derive(Debug, Clone)]
pub struct ColdRun {
    pub init: Duration,
    /// Latency of each invocation (served → response received), the first one first.
    pub invocations: Vec<Duration>,
    /// Answers by `statusCode` (HTTP and WebSocket functions), `ok` (others) or `error` (…/error).
    pub statuses: BTreeMap<String, u64>,
    /// Peak resident set (`VmHWM`), KiB, read after the last invocation.
    pub vm_hwm_kib: Option<u64>,
    /// Handshakes (ok, failed) seen by each TLS endpoint during init, and during the first invocation.
    pub tls_init: Vec<(u64, u64)>,
    pub tls_first: Vec<(u64, u64)>,
}

impl ColdRun {
    pub fn first_ms(&self) -> f64 {
        self.invocations
            .first()
            .map(|d| d.as_secs_f64() * 1e3)
            .unwrap_or(f64::NAN)
    }
    /// Median of the invocations after the first.
    pub fn warm_median_ms(&self) -> f64 {
        let mut v: Vec<f64> = self
            .invocations
            .iter()
            .skip(1)
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        crate::stats::percentile(&mut v, 50.0).unwrap_or(f64::NAN)
    }
}

pub struct Launch<'a> {
    pub name: &'a str,
    pub bin: &'a Path,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
    pub invocations: usize,
    /// The event of invocation `i`.
    pub event: &'a mut dyn FnMut(usize) -> Vec<u8>,
    pub tls: Vec<Arc<ProxyStats>>,
}

fn diff(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (b.0 - a.0, b.1 - a.1)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// `VmHWM` of a live process, KiB.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn status_of(outcome: Outcome, body: &[u8]) -> String {
    if outcome == Outcome::Error {
        return "error".into();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => match v.get("statusCode").and_then(|s| s.as_i64()) {
            Some(code) => code.to_string(),
            None => "ok".into(),
        },
        Err(_) => "ok".into(),
    }
}

pub async fn cold_start(l: Launch<'_>) -> Result<ColdRun, String> {
    let mut api = RuntimeApi::start(l.name)
        .await
        .map_err(|e| format!("runtime API mock: {e}"))?;
    let log = std::fs::File::create(&l.log).map_err(|e| format!("{}: {e}", l.log.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = tokio::process::Command::new(l.bin);
    cmd.env_clear()
        .envs(l.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", l.name)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .kill_on_drop(true);
    let tls_before: Vec<(u64, u64)> = l.tls.iter().map(|s| s.snapshot()).collect();
    let t0 = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("exec {}: {e}", l.bin.display()))?;
    let pid = child.id().unwrap_or(0);
    let first = tokio::select! {
        r = api.wait_first_next(Duration::from_secs(30)) => r,
        status = child.wait() => Err(format!("exited during init: {status:?}")),
    };
    let first = match first {
        Ok(t) => t,
        Err(e) => {
            let _ = child.kill().await;
            return Err(format!("{}: {e}\n{}", l.name, log_tail(&l.log)));
        }
    };
    let init = first.saturating_duration_since(t0);
    let tls_mid: Vec<(u64, u64)> = l.tls.iter().map(|s| s.snapshot()).collect();
    let mut run = ColdRun {
        init,
        invocations: Vec::with_capacity(l.invocations),
        statuses: BTreeMap::new(),
        vm_hwm_kib: None,
        tls_init: tls_before
            .iter()
            .zip(&tls_mid)
            .map(|(a, b)| diff(*a, *b))
            .collect(),
        tls_first: Vec::new(),
    };
    for i in 0..l.invocations {
        let event = (l.event)(i);
        let c = match api.invoke(event, Duration::from_secs(30)).await {
            Ok(c) => c,
            Err(e) => {
                let _ = child.kill().await;
                return Err(format!(
                    "{}: invocation {i}: {e}\n{}",
                    l.name,
                    log_tail(&l.log)
                ));
            }
        };
        if i == 0 {
            run.tls_first = tls_mid
                .iter()
                .zip(l.tls.iter().map(|s| s.snapshot()))
                .map(|(a, b)| diff(*a, b))
                .collect();
        }
        run.invocations.push(c.latency());
        *run.statuses
            .entry(status_of(c.outcome, &c.body))
            .or_default() += 1;
    }
    run.vm_hwm_kib = vm_hwm_kib(pid);
    let _ = child.kill().await;
    let _ = child.wait().await;
    Ok(run)
}
