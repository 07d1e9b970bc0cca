//! Store-and-forward: drains the durable outbox to the broker in order, at QoS 1, and
//! deletes a message only after its PUBACK. On every (re)connect it subscribes again,
//! publishes the retained `online` status and starts over from the oldest message still in
//! the outbox, so after an outage of any length every committed message is delivered at least
//! once, in order.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, QoS};
use tokio::sync::{Notify, mpsc};

use super::inbox::Inbox;
use super::mqtt::{Link, Progress, Tag, Tracker, subscribe};
use crate::incident::store::{Store, StoreError};

/// What the publisher needs.
pub struct Publisher {
    /// Its own connection to the store (behind a mutex only so the task can be sent between
    /// threads; nothing else uses it).
    pub store: Mutex<Store>,
    /// The MQTT client.
    pub client: AsyncClient,
    /// Pairs publishes with acknowledgements.
    pub tracker: Arc<Mutex<Tracker>>,
    /// Events from the MQTT loop.
    pub link: mpsc::UnboundedReceiver<Link>,
    /// Signalled when the engine committed new messages.
    pub outbox_changed: Arc<Notify>,
    /// Subscriptions to make after every connect.
    pub subscriptions: Vec<(String, QoS)>,
    /// `shedwatch/{gateway}/status`.
    pub status_topic: String,
    /// Messages unacknowledged at a time.
    pub window: usize,
    /// The periodic health report.
    pub health: Health,
    /// Set when the daemon stops: drain, publish `stopped`, return.
    pub stopping: Arc<AtomicBool>,
    /// Signalled with `stopping`.
    pub stop: Arc<Notify>,
}

/// What goes into the retained `shedwatch/{gateway}/health` report, and how often.
pub struct Health {
    /// The topic.
    pub topic: String,
    /// Interval.
    pub every: Duration,
    /// Counters of the daemon's paths.
    pub progress: Arc<Progress>,
    /// The engine's inbox (dropped frames).
    pub inbox: Arc<Inbox<rumqttc::Publish>>,
}

/// The health report: counters since the daemon started.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct HealthReport {
    /// Wall-clock time of the report (ms since the Unix epoch).
    pub at_ms: u64,
    /// Frames received from the broker.
    pub frames_received: u64,
    /// Frames the engine handled.
    pub frames_handled: u64,
    /// Frames dropped because their camera's queue was full.
    pub frames_dropped: u64,
    /// Frames that failed to decode.
    pub decode_errors: u64,
    /// Commands handled.
    pub commands: u64,
    /// Commands dropped in a flood.
    pub commands_dropped: u64,
    /// Messages waiting in the outbox.
    pub outbox: u64,
    /// Broker connections made.
    pub connections: u64,
}

struct State {
    generation: Option<u64>,
    last_sent: i64,
    inflight: BTreeSet<i64>,
    acked: Vec<i64>,
    status_acked: bool,
}

impl Publisher {
    /// Runs until stopped; returns once `stopped` is published (or could not be, within
    /// `grace`).
    pub async fn run(mut self, grace: Duration) -> Result<(), StoreError> {
        let mut s = State {
            generation: None,
            last_sent: 0,
            inflight: BTreeSet::new(),
            acked: Vec::new(),
            status_acked: false,
        };
        let mut health = tokio::time::interval(self.health.every);
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.stopping.load(Ordering::Relaxed) {
                return self.finish(&mut s, grace).await;
            }
            tokio::select! {
                link = self.link.recv() => match link {
                    Some(link) => self.on_link(&mut s, link, "online").await,
                    None => return Ok(()),
                },
                _ = self.outbox_changed.notified() => {}
                _ = self.stop.notified() => {}
                _ = health.tick() => {
                    if s.generation.is_some() {
                        self.report_health().await?;
                    }
                }
            }
            // Take every event already waiting before touching the store.
            while let Ok(link) = self.link.try_recv() {
                self.on_link(&mut s, link, "online").await;
            }
            self.flush(&mut s).await?;
        }
    }

    async fn on_link(&mut self, s: &mut State, link: Link, status: &str) {
        match link {
            Link::Connected(g) => {
                s.generation = Some(g);
                s.last_sent = 0;
                s.inflight.clear();
                s.status_acked = false;
                if let Err(e) = subscribe(&self.client, &self.subscriptions).await {
                    tracing::error!(error = %e, "cannot subscribe");
                }
                self.publish(
                    Tag::Status,
                    &self.status_topic.clone(),
                    status.as_bytes(),
                    true,
                )
                .await;
            }
            Link::Disconnected => {
                s.generation = None;
            }
            Link::Acked(Tag::Row { generation, id }) => {
                if Some(generation) == s.generation {
                    s.inflight.remove(&id);
                }
                // An old connection's acknowledgement still proves delivery.
                s.acked.push(id);
            }
            Link::Acked(Tag::Status) => s.status_acked = true,
        }
    }

    /// Deletes acknowledged rows, then sends what the window allows.
    async fn flush(&mut self, s: &mut State) -> Result<(), StoreError> {
        if !s.acked.is_empty() {
            let ids = std::mem::take(&mut s.acked);
            tokio::task::block_in_place(|| self.store().acknowledge(&ids))?;
        }
        let Some(generation) = s.generation else {
            return Ok(());
        };
        loop {
            let room = self.window.saturating_sub(s.inflight.len());
            if room == 0 {
                return Ok(());
            }
            let after = s.last_sent;
            let pending = tokio::task::block_in_place(|| self.store().pending(after, room))?;
            if pending.is_empty() {
                return Ok(());
            }
            for p in pending {
                let tag = Tag::Row {
                    generation,
                    id: p.id,
                };
                if !self
                    .publish(tag, &p.message.topic, &p.message.payload, p.message.retain)
                    .await
                {
                    return Ok(());
                }
                s.inflight.insert(p.id);
                s.last_sent = p.id;
            }
        }
    }

    async fn report_health(&self) -> Result<(), StoreError> {
        let p = &self.health.progress;
        let (frames_dropped, commands_dropped) = self.health.inbox.dropped();
        let report = HealthReport {
            at_ms: super::mqtt::wall_ms(),
            frames_received: p.frames_received.load(Ordering::Relaxed),
            frames_handled: p.frames_handled.load(Ordering::Relaxed),
            frames_dropped,
            decode_errors: p.decode_errors.load(Ordering::Relaxed),
            commands: p.commands_handled.load(Ordering::Relaxed),
            commands_dropped,
            outbox: tokio::task::block_in_place(|| self.store().pending_count())?,
            connections: p.connections.load(Ordering::Relaxed),
        };
        let payload = serde_json::to_vec(&report).expect("reports serialise");
        let topic = self.health.topic.clone();
        self.publish(Tag::Status, &topic, &payload, true).await;
        Ok(())
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn publish(&self, tag: Tag, topic: &str, payload: &[u8], retain: bool) -> bool {
        self.tracker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expect(tag);
        // Never cancelled: the tracker must see every request it was told about.
        let sent = self
            .client
            .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .await;
        if let Err(e) = sent {
            self.tracker
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unexpect();
            tracing::debug!(error = %e, topic, "publish not handed over");
            return false;
        }
        true
    }

    /// Drains what it can within `grace`, publishes the retained `stopped` status and
    /// disconnects.
    async fn finish(&mut self, s: &mut State, grace: Duration) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + grace;
        let mut stopped_sent = false;
        loop {
            self.flush(s).await?;
            let drained = s.inflight.is_empty()
                && tokio::task::block_in_place(|| self.store().pending_count())? == 0;
            if s.generation.is_some() && drained && !stopped_sent {
                s.status_acked = false;
                let topic = self.status_topic.clone();
                stopped_sent = self.publish(Tag::Status, &topic, b"stopped", true).await;
            }
            if stopped_sent && s.status_acked {
                break;
            }
            let link = tokio::time::timeout_at(deadline, self.link.recv()).await;
            match link {
                Ok(Some(link)) => {
                    let resend = matches!(link, Link::Connected(_));
                    self.on_link(s, link, "online").await;
                    if resend {
                        stopped_sent = false;
                    }
                }
                Ok(None) | Err(_) => {
                    tracing::warn!(
                        waiting = tokio::task::block_in_place(|| self.store().pending_count())
                            .unwrap_or(0),
                        "stopping before the outbox drained; the rest goes out after the next start"
                    );
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.disconnect()).await;
        Ok(())
    }
}
