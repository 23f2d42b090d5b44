//! The store conformance suite on the embedded SQLite store: once in memory (a fresh database per case) and
//! once on a real WAL file, shared by all cases as a deployed table would be.

use auction::store::sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// One file-backed store for the whole test binary, in a file unique to this run under cargo's
/// `target/tmp`. Databases of runs older than an hour are removed first, so they do not pile up.
fn shared_file_store() -> SqliteStore {
    static STORE: OnceLock<SqliteStore> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("store_sqlite");
            remove_stale(&dir, Duration::from_secs(3_600));
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let path: PathBuf = dir.join(format!("run-{}-{nanos}.db", std::process::id()));
            SqliteStore::open(&path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
        })
        .clone()
}

/// Best effort: delete files in `dir` not modified for `age` (a database and its -wal/-shm files).
fn remove_stale(dir: &Path, age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|elapsed| elapsed > age);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

mod in_memory {
    auction::store_conformance_tests!(async {
        auction::store::sqlite::SqliteStore::in_memory().expect("in-memory store")
    });
}

mod file_backed {
    auction::store_conformance_tests!(async { super::shared_file_store() });
}
