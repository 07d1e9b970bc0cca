//! The engine bound to its store: every step is committed before anything in it is
//! published. A failed commit poisons the node: its memory may now be ahead of the store,
//! so the process must stop and resume from the store.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::engine::{Engine, Step};
use crate::incident::escalation::ms;
use crate::incident::store::{Store, StoreError};

/// An engine whose every step is durable.
pub struct Node {
    engine: Engine,
    store: Store,
    poisoned: bool,
}

impl Node {
    /// Opens the store at `path` and resumes the engine from it. `now_ms` bounds which closed
    /// incidents are loaded (those the engine still remembers: twice the reopen window);
    /// pass `None` to load all.
    pub fn open(config: Arc<Config>, path: &Path, now_ms: Option<u64>) -> Result<Node, StoreError> {
        let store = Store::open(
            path,
            config.store.audit_retain,
            config.commands.remember_requests,
        )?;
        let since = now_ms.map_or(0, |n| {
            n.saturating_sub(2 * ms(config.commands.reopen_within_s))
        });
        let snapshot = store.snapshot(since)?;
        let open = snapshot.incidents.iter().filter(|i| i.is_open()).count();
        if open > 0 {
            tracing::info!(open, "resuming open incidents from the store");
        }
        Ok(Node {
            engine: Engine::restore(config, snapshot),
            store,
            poisoned: false,
        })
    }

    /// The engine (read-only: changes go through the node).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Takes a new configuration (see [`Engine::reload`]).
    pub fn reload(&mut self, config: Arc<Config>) {
        self.engine.reload(config);
    }

    /// The store.
    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Handles a message and commits what it changed, with `meta` key/values in the same
    /// transaction (nothing is written when nothing changed).
    pub fn handle(
        &mut self,
        at_ms: u64,
        topic: &str,
        payload: &[u8],
        meta: &[(&str, &str)],
    ) -> Result<Step, StoreError> {
        self.check()?;
        let step = self.engine.handle(at_ms, topic, payload);
        self.commit(step, meta)
    }

    /// Handles several messages and commits them in one transaction (group commit: one disk
    /// sync for a burst of commands instead of one each).
    pub fn handle_all<'a>(
        &mut self,
        at_ms: u64,
        messages: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Step, StoreError> {
        self.check()?;
        let mut step = Step::default();
        for (topic, payload) in messages {
            step.extend(self.engine.handle(at_ms, topic, payload));
        }
        self.commit(step, &[])
    }

    /// Runs due timers and commits what they changed.
    pub fn advance(&mut self, at_ms: u64, meta: &[(&str, &str)]) -> Result<Step, StoreError> {
        self.check()?;
        let step = self.engine.advance(at_ms);
        self.commit(step, meta)
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Corrupt {
                path: self.store.path().display().to_string(),
                message: "an earlier commit failed; restart to resume from the store".into(),
            });
        }
        Ok(())
    }

    fn commit(&mut self, step: Step, meta: &[(&str, &str)]) -> Result<Step, StoreError> {
        // Meta rides along with real changes only, so idle frames cost no disk write.
        if step.is_empty() {
            return Ok(step);
        }
        if let Err(e) = self.store.commit(&step, meta) {
            self.poisoned = true;
            return Err(e);
        }
        Ok(step)
    }
}
