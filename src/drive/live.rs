//! `shedwatch run`: the engine on the network, under systemd.
//!
//! ```text
//!  broker ──► MQTT loop task ──► inbox (drop-oldest per camera) ──► engine thread ──► store
//!    ▲          │  PUBACKs                                            │ commit, then
//!    │          ▼                                                     ▼ notify
//!    └────── publisher task ◄──────────── outbox (in the store) ◄─────┘
//! ```
//!
//! The engine runs on its own thread (detection and SQLite commits are blocking work) and
//! sleeps until its next deadline or the next message. The MQTT loop only routes; the
//! publisher drains the outbox; a watchdog task pings systemd only while the MQTT loop, the
//! engine's timer loop and the frame path all make progress.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Publish};
use tokio::sync::{Notify, mpsc};

use super::inbox::{Batch, Inbox};
use super::mqtt::{self, Backoff, Progress, Routes, Tracker, wall_ms};
use super::node::Node;
use super::publisher::{Health, Publisher};
use crate::config::Config;
use crate::engine::FrameTopic;
use crate::incident::store::{self, Store};

/// The live engine's clock: wall-clock ms since the Unix epoch, or a faster one for the demo.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin_ms: u64,
    origin: Instant,
    speed: f64,
}

impl Clock {
    /// The wall clock.
    pub fn wall() -> Clock {
        Clock::accelerated(1.0)
    }

    /// A clock that starts at the wall clock's time and runs `speed` times faster.
    pub fn accelerated(speed: f64) -> Clock {
        Clock {
            origin_ms: wall_ms(),
            origin: Instant::now(),
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }

    /// Now (ms).
    pub fn now_ms(&self) -> u64 {
        if self.speed == 1.0 {
            return wall_ms();
        }
        self.origin_ms + (self.origin.elapsed().as_secs_f64() * 1000.0 * self.speed) as u64
    }

    /// How long `engine_ms` of this clock's time takes in real time.
    pub fn real(&self, engine_ms: u64) -> Duration {
        Duration::from_secs_f64(engine_ms as f64 / 1000.0 / self.speed)
    }
}

/// Commands waiting beyond this many bytes are a flood (see [`Inbox`]).
const MAX_COMMAND_BYTES: usize = 8 << 20;
/// How long a clean stop may take to drain the outbox before `stopped` (SIGTERM to exit
/// stays under 10 s).
const STOP_GRACE: Duration = Duration::from_secs(6);

/// Runs the daemon until SIGTERM or SIGINT (or `shutdown` resolves).
pub async fn run(
    config_path: PathBuf,
    config: Config,
    clock: Clock,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let store_path = store::resolve_path(&config.store.path);
    if let Some(dir) = store_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let node = Node::open(config.clone(), &store_path, Some(clock.now_ms()))?;
    let publisher_store = Store::open(
        &store_path,
        config.store.audit_retain,
        config.commands.remember_requests,
    )?;
    tracing::info!(store = %store_path.display(), gateway = %config.gateway, "store open");

    let options = mqtt::options(&config)?;
    let (client, eventloop) = AsyncClient::new(options, 0);
    let inbox: Arc<Inbox<Publish>> = Arc::new(Inbox::new(
        config.mqtt.frame_queue_per_camera,
        MAX_COMMAND_BYTES,
    ));
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    let progress = Arc::new(Progress::default());
    let (link_tx, link_rx) = mpsc::unbounded_channel();
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    let outbox_changed = Arc::new(Notify::new());
    let stopping = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(Notify::new());

    let routes = Routes {
        frames: FrameTopic::new(&config.mqtt.frame_topic),
        command_prefix: format!("shedwatch/{}/cmd/", config.gateway),
        inbox: inbox.clone(),
        acks: acks_tx.clone(),
    };
    let backoff = Backoff::new(
        Duration::from_secs_f64(config.mqtt.reconnect_min_s),
        Duration::from_secs_f64(config.mqtt.reconnect_max_s),
    );
    let mqtt_task = tokio::spawn(mqtt::run_event_loop(
        eventloop,
        routes,
        tracker.clone(),
        link_tx,
        progress.clone(),
        backoff,
        stopping.clone(),
    ));
    let acker = tokio::spawn(mqtt::run_acker(client.clone(), acks_rx));
    let publisher = Publisher {
        store: Mutex::new(publisher_store),
        client: client.clone(),
        tracker,
        link: link_rx,
        outbox_changed: outbox_changed.clone(),
        subscriptions: mqtt::subscriptions(&config),
        status_topic: mqtt::status_topic(&config.gateway),
        window: config.mqtt.inflight as usize,
        health: Health {
            topic: format!("shedwatch/{}/health", config.gateway),
            every: Duration::from_secs_f64(config.mqtt.health_interval_s),
            progress: progress.clone(),
            inbox: inbox.clone(),
        },
        stopping: stopping.clone(),
        stop: stop.clone(),
    };
    let publisher_task = tokio::spawn(publisher.run(STOP_GRACE));

    let engine_thread = {
        let inbox = inbox.clone();
        let progress = progress.clone();
        let outbox_changed = outbox_changed.clone();
        let config_path = config_path.clone();
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                engine_loop(
                    node,
                    &inbox,
                    &acks_tx,
                    &outbox_changed,
                    &progress,
                    &config_path,
                    clock,
                )
            })?
    };

    // Ready once the store is open and the first connection attempt is under way.
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let watchdog = tokio::spawn(watchdog(
        progress.clone(),
        inbox.clone(),
        store_path.clone(),
    ));

    let hup_inbox = inbox.clone();
    let reloads = tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            hup_inbox.reload();
        }
    });

    let engine_done = Arc::new(Notify::new());
    let engine_wait = {
        let engine_done = engine_done.clone();
        tokio::task::spawn_blocking(move || {
            let result = engine_thread.join();
            engine_done.notify_one();
            result
        })
    };
    tokio::select! {
        _ = shutdown => tracing::info!("stopping"),
        _ = engine_done.notified() => tracing::error!("the engine stopped"),
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    // Stop taking frames; the engine commits what it holds and returns.
    inbox.shutdown();
    let engine_result = engine_wait.await?;
    stopping.store(true, Ordering::Relaxed);
    stop.notify_one();
    let published = tokio::time::timeout(STOP_GRACE + Duration::from_secs(2), publisher_task).await;
    reloads.abort();
    watchdog.abort();
    acker.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), mqtt_task).await;
    match engine_result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => anyhow::bail!("the engine thread panicked"),
    }
    match published {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(e.into()),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => {
            tracing::warn!("the publisher did not finish in time");
            Ok(())
        }
    }
}

/// The engine thread: waits for messages or its next deadline, handles them, commits, then
/// acknowledges QoS 1 commands and wakes the publisher.
fn engine_loop(
    mut node: Node,
    inbox: &Inbox<Publish>,
    acks: &mpsc::UnboundedSender<Publish>,
    outbox_changed: &Notify,
    progress: &Progress,
    config_path: &Path,
    clock: Clock,
) -> anyhow::Result<()> {
    let mut dropped_logged = (0u64, Instant::now() - Duration::from_secs(60));
    loop {
        let now_ms = clock.now_ms();
        // Wake at the next deadline, and at least once a second for the watchdog.
        let mut wake = Instant::now() + Duration::from_secs(1);
        if let Some(due) = node.engine().next_deadline() {
            wake = wake.min(Instant::now() + clock.real(due.saturating_sub(now_ms)));
        }
        let batch: Batch<Publish> = inbox.take(Some(wake));
        progress.engine_ticks.fetch_add(1, Ordering::Relaxed);
        if batch.reload {
            reload(&mut node, config_path);
        }
        let mut committed = !node.advance(clock.now_ms(), &[])?.is_empty();
        // Commands first: people waiting on a reply, and closing the loop matters more than
        // one more frame. One commit for the whole burst, then the acknowledgements.
        if !batch.commands.is_empty() {
            let step = node.handle_all(
                clock.now_ms(),
                batch
                    .commands
                    .iter()
                    .map(|c| (c.topic.as_str(), c.payload.as_slice())),
            )?;
            committed |= !step.is_empty();
            progress
                .commands_handled
                .fetch_add(batch.commands.len() as u64, Ordering::Relaxed);
            for p in batch.commands.into_iter().filter_map(|c| c.ack) {
                let _ = acks.send(p);
            }
        }
        let frames = batch.frames.len() as u64;
        if !batch.frames.is_empty() {
            let step = node.handle_all(
                clock.now_ms(),
                batch
                    .frames
                    .iter()
                    .map(|f| (f.topic.as_str(), f.payload.as_slice())),
            )?;
            if !step.is_empty() {
                committed = true;
                let oldest = batch.frames.iter().map(|f| f.arrived).min();
                if let Some(arrived) =
                    oldest.filter(|_| step.messages.iter().any(|m| m.topic.ends_with("/events")))
                {
                    tracing::debug!(
                        latency_ms = arrived.elapsed().as_secs_f64() * 1000.0,
                        "frames to committed events"
                    );
                }
            }
            inbox.recycle(batch.frames.into_iter().map(|f| f.payload));
        }
        progress.frames_handled.fetch_add(frames, Ordering::Relaxed);
        let decode_errors: u64 = node
            .engine()
            .camera_counters()
            .map(|(_, c)| c.decode_errors.values().sum::<u64>())
            .sum();
        progress
            .decode_errors
            .store(decode_errors, Ordering::Relaxed);
        let (dropped, _) = inbox.dropped();
        if dropped > dropped_logged.0 && dropped_logged.1.elapsed() >= Duration::from_secs(10) {
            tracing::warn!(
                dropped,
                "frames dropped: a camera sends faster than the engine handles; its oldest frames go first"
            );
            dropped_logged = (dropped, Instant::now());
        }
        if committed {
            outbox_changed.notify_one();
        }
        if batch.shutdown {
            tracing::info!("engine stopped; state is committed");
            return Ok(());
        }
    }
}

/// SIGHUP: detection, cameras, zones, escalation (for new incidents) and command limits take
/// effect at once; the gateway id, the broker connection and the store need a restart, so
/// the running ones are kept.
fn reload(node: &mut Node, config_path: &Path) {
    match Config::load(config_path) {
        Ok(mut config) => {
            let running = node.engine().config();
            if config.gateway != running.gateway
                || config.mqtt != running.mqtt
                || config.store != running.store
            {
                tracing::warn!(
                    "gateway, [mqtt] and [store] changes take effect after a restart; keeping the running ones"
                );
                config.gateway = running.gateway.clone();
                config.mqtt = running.mqtt.clone();
                config.store = running.store.clone();
            }
            node.reload(Arc::new(config));
        }
        Err(e) => {
            tracing::error!(config = %config_path.display(), error = %e, "config reload refused; keeping the running config");
        }
    }
}

/// Pings systemd's watchdog only while every path makes progress, and keeps `STATUS=` short
/// and current.
async fn watchdog(progress: Arc<Progress>, inbox: Arc<Inbox<Publish>>, store_path: PathBuf) {
    let watchdog = sd_notify::watchdog_enabled();
    let interval = watchdog.map_or(Duration::from_secs(10), |d| d / 2);
    let status_store = Store::open_read_only(&store_path).ok();
    let mut last = (0, 0, 0);
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        let polls = progress.mqtt_polls.load(Ordering::Relaxed);
        let ticks = progress.engine_ticks.load(Ordering::Relaxed);
        let frames = progress.frames_handled.load(Ordering::Relaxed);
        // The frame path is fine when it handled frames, or has none waiting.
        let frames_ok = frames != last.2 || inbox.waiting_frames() == 0;
        let healthy = polls != last.0 && ticks != last.1 && frames_ok;
        last = (polls, ticks, frames);
        let open = status_store
            .as_ref()
            .and_then(|s| s.list(false, 1000).ok())
            .map_or(0, |l| l.len());
        let outbox = status_store
            .as_ref()
            .and_then(|s| s.pending_count().ok())
            .unwrap_or(0);
        let (dropped_frames, _) = inbox.dropped();
        let status = format!(
            "{}; {open} open incidents; outbox {outbox}; {frames} frames ({dropped_frames} dropped)",
            if progress.connected.load(Ordering::Relaxed) == 1 {
                "connected"
            } else {
                "broker unreachable"
            }
        );
        let mut states = vec![sd_notify::NotifyState::Status(&status)];
        if healthy {
            states.push(sd_notify::NotifyState::Watchdog);
        } else if watchdog.is_some() {
            tracing::warn!(
                mqtt_polls = polls,
                engine_ticks = ticks,
                frames,
                "a path made no progress; watchdog not pinged"
            );
        }
        let _ = sd_notify::notify(&states);
    }
}
