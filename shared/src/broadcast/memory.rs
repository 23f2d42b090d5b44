//! An in-memory broadcaster for tests: records every frame per connection, and can be told that a
//! connection is gone (410) or that its next calls fail, to exercise the fan-out's error paths.

use crate::domain::ConnectionId;
use crate::frames::Frame;
use crate::ports::{Broadcaster, PushError};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// A scripted failure for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Gone,
    Throttled,
    ServerError,
    /// Never answers (the fan-out's timeout must cut it).
    Hang,
}

#[derive(Default)]
struct State {
    frames: HashMap<ConnectionId, Vec<Vec<u8>>>,
    gone: HashSet<ConnectionId>,
    faults: HashMap<ConnectionId, VecDeque<Fault>>,
    disconnected: Vec<ConnectionId>,
    calls: usize,
}

#[derive(Default)]
pub struct MemoryBroadcaster {
    state: Mutex<State>,
}

impl MemoryBroadcaster {
    pub fn new() -> Self {
        Self::default()
    }
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
    /// Every later call for `id` answers 410.
    pub fn mark_gone(&self, id: &ConnectionId) {
        self.with(|s| s.gone.insert(id.clone()));
    }
    /// The next calls for `id` fail as scripted, in order.
    pub fn inject(&self, id: &ConnectionId, faults: &[Fault]) {
        self.with(|s| {
            s.faults
                .entry(id.clone())
                .or_default()
                .extend(faults.iter().copied())
        });
    }
    /// Frames delivered to `id`, decoded.
    pub fn frames(&self, id: &ConnectionId) -> Vec<Frame> {
        self.raw_frames(id)
            .iter()
            .filter_map(|b| serde_json::from_slice(b).ok())
            .collect()
    }
    pub fn raw_frames(&self, id: &ConnectionId) -> Vec<Vec<u8>> {
        self.with(|s| s.frames.get(id).cloned().unwrap_or_default())
    }
    pub fn disconnected(&self) -> Vec<ConnectionId> {
        self.with(|s| s.disconnected.clone())
    }
    /// Total calls made (posts and deletes, failed ones included).
    pub fn calls(&self) -> usize {
        self.with(|s| s.calls)
    }

    async fn call(&self, id: &ConnectionId) -> Result<(), PushError> {
        let fault = self.with(|s| {
            s.calls += 1;
            if s.gone.contains(id) {
                Some(Fault::Gone)
            } else {
                s.faults.get_mut(id).and_then(VecDeque::pop_front)
            }
        });
        match fault {
            None => Ok(()),
            Some(Fault::Gone) => Err(PushError::Gone),
            Some(Fault::Throttled) => Err(PushError::Throttled),
            Some(Fault::ServerError) => Err(PushError::Transient("HTTP 500".into())),
            Some(Fault::Hang) => {
                futures::future::pending::<()>().await;
                Ok(())
            }
        }
    }
}

#[async_trait]
impl Broadcaster for MemoryBroadcaster {
    async fn post(&self, id: &ConnectionId, payload: &[u8]) -> Result<(), PushError> {
        self.call(id).await?;
        self.with(|s| {
            s.frames
                .entry(id.clone())
                .or_default()
                .push(payload.to_vec())
        });
        Ok(())
    }
    async fn disconnect(&self, id: &ConnectionId) -> Result<(), PushError> {
        self.call(id).await?;
        self.with(|s| {
            s.disconnected.push(id.clone());
            s.gone.insert(id.clone());
        });
        Ok(())
    }
    async fn probe(&self, id: &ConnectionId) -> Result<(), PushError> {
        if self.with(|s| s.gone.contains(id)) {
            Err(PushError::Gone)
        } else {
            Ok(())
        }
    }
}
