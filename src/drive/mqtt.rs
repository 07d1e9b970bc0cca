//! The MQTT side of live mode: connection options (TLS, credentials, last will, packet
//! sizes), the event loop task and the bookkeeping that ties broker acknowledgements to
//! outbox rows.
//!
//! rumqttc's sharp edges, handled here: its 10 KiB default packet limit is raised to the
//! largest frame; it does not re-subscribe after a reconnect (the publisher does, on every
//! ConnAck); it drops its in-memory queue on a clean reconnect (the outbox is the only source
//! of truth: everything not acknowledged is sent again); and publishing from the polling task
//! can deadlock (the polling task only routes, other tasks publish).
//!
//! The request channel has capacity 0, so every request a task hands over has been taken by
//! the event loop, which then emits exactly one `Outgoing::Publish(pkid)` for it (or
//! `AwaitAck` first on a packet-id collision). The publisher records a [`Tag`] before each
//! request; the loop pairs tags with packet ids in order and reports each PUBACK's tag.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumqttc::{
    AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, Publish, QoS,
    SubscribeReasonCode, TlsConfiguration, Transport,
};
use tokio::sync::mpsc;

use super::inbox::{Inbox, Received};
use crate::config::{Config, Mqtt};
use crate::engine::FrameTopic;

/// What a publish was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// An outbox row, sent in connection `generation`.
    Row {
        /// Connection generation the row was sent in.
        generation: u64,
        /// Outbox row id.
        id: i64,
    },
    /// The gateway's own status word.
    Status,
}

/// Pairs publish requests with packet ids and acknowledgements.
#[derive(Debug, Default)]
pub struct Tracker {
    queued: VecDeque<Tag>,
    collided: Option<Tag>,
    inflight: HashMap<u16, Tag>,
}

impl Tracker {
    /// Records the tag of the next publish request; call just before handing it over.
    pub fn expect(&mut self, tag: Tag) {
        self.queued.push_back(tag);
    }

    /// Forgets the last expected tag (its request could not be handed over).
    pub fn unexpect(&mut self) {
        self.queued.pop_back();
    }

    fn sent(&mut self, pkid: u16) {
        // A publish that collided is the next one sent.
        if let Some(tag) = self.collided.take().or_else(|| self.queued.pop_front()) {
            self.inflight.insert(pkid, tag);
        }
    }

    fn collided(&mut self) {
        self.collided = self.queued.pop_front();
    }

    /// A new connection: a publish that was waiting out a packet-id collision is gone (the
    /// publisher sends its row again).
    fn reconnected(&mut self) {
        self.collided = None;
        self.inflight.clear();
    }

    fn acked(&mut self, pkid: u16) -> Option<Tag> {
        self.inflight.remove(&pkid)
    }
}

/// What the event loop tells the publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Connected (again); the number counts connections.
    Connected(u64),
    /// The connection dropped.
    Disconnected,
    /// The broker acknowledged a publish.
    Acked(Tag),
}

/// Counters the watchdog and the status line read.
#[derive(Debug, Default)]
pub struct Progress {
    /// Event loop iterations.
    pub mqtt_polls: AtomicU64,
    /// Engine loop iterations (at least one a second).
    pub engine_ticks: AtomicU64,
    /// Frames received from the broker.
    pub frames_received: AtomicU64,
    /// Frames the engine handled.
    pub frames_handled: AtomicU64,
    /// Frames that failed to decode (all cameras).
    pub decode_errors: AtomicU64,
    /// Commands the engine handled.
    pub commands_handled: AtomicU64,
    /// Connections made.
    pub connections: AtomicU64,
    /// 1 while connected.
    pub connected: AtomicU64,
}

/// Milliseconds since the Unix epoch (the live engine's clock).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Why the MQTT settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Bad URL.
    #[error("mqtt.url {0:?}: expected mqtt://host:port or mqtts://host:port")]
    Url(String),
    /// A file could not be read.
    #[error("{key} {path}: {error}")]
    File {
        /// Config key.
        key: &'static str,
        /// Path.
        path: String,
        /// What went wrong.
        error: String,
    },
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(String),
}

/// Resolves a secret file name: a relative name is looked up in `$CREDENTIALS_DIRECTORY`
/// (systemd `LoadCredential=`) when set.
pub fn credential_path(name: &str) -> PathBuf {
    let path = Path::new(name);
    if path.is_relative()
        && let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY")
    {
        return Path::new(&dir).join(path);
    }
    path.to_owned()
}

fn read_file(key: &'static str, name: &str) -> Result<Vec<u8>, SetupError> {
    let path = credential_path(name);
    std::fs::read(&path).map_err(|e| SetupError::File {
        key,
        path: path.display().to_string(),
        error: e.to_string(),
    })
}

/// Splits `mqtt://host:port` into (TLS?, host, port).
pub fn parse_url(url: &str) -> Result<(bool, String, u16), SetupError> {
    let bad = || SetupError::Url(url.to_owned());
    let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("mqtt://") {
        (false, r)
    } else {
        return Err(bad());
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| bad())?)
        }
        _ => (rest, if tls { 8883 } else { 1883 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((tls, host.to_owned(), port))
}

/// Largest incoming packet accepted: the largest frame the limits allow, with room for JSON.
pub fn max_incoming_packet(config: &Config) -> usize {
    let px = config.limits.max_width_px as usize * config.limits.max_height_px as usize;
    (px * 4 + 65_536).clamp(1 << 20, 64 << 20)
}

/// Builds the rumqttc options: client id, keep-alive, packet sizes, manual acks, clean
/// session, the `offline` last will, credentials and TLS.
pub fn options(config: &Config) -> Result<MqttOptions, SetupError> {
    let m: &Mqtt = &config.mqtt;
    let (tls, host, port) = parse_url(&m.url)?;
    let client_id = if m.client_id.is_empty() {
        format!("shedwatch-{}", config.gateway)
    } else {
        m.client_id.clone()
    };
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs_f64(m.keep_alive_s.max(5.0)));
    o.set_max_packet_size(max_incoming_packet(config), 1 << 20);
    o.set_manual_acks(true);
    o.set_clean_session(true);
    // rumqttc stops taking *any* request (our PUBACKs for received commands included) once
    // its in-flight window is full; the publisher keeps at most `m.inflight` unacknowledged, so
    // a window twice that size is never full and acknowledgements always get out. (A full
    // window would let a broker that waits for our PUBACKs stall both directions.)
    o.set_inflight(m.inflight.saturating_mul(2).saturating_add(2));
    o.set_last_will(LastWill::new(
        status_topic(&config.gateway),
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    let password = if !m.password_file.is_empty() {
        let bytes = read_file("mqtt.password_file", &m.password_file)?;
        Some(
            String::from_utf8_lossy(&bytes)
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        )
    } else if !m.password.is_empty() {
        Some(m.password.clone())
    } else {
        None
    };
    if !m.username.is_empty() || password.is_some() {
        o.set_credentials(m.username.clone(), password.unwrap_or_default());
    }
    if tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(tls_config(m)?),
        )));
    }
    Ok(o)
}

fn tls_config(m: &Mqtt) -> Result<tokio_rustls::rustls::ClientConfig, SetupError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;

    let mut roots = rustls::RootCertStore::empty();
    if m.ca_file.is_empty() {
        return Err(SetupError::Tls(
            "mqtts:// needs mqtt.ca_file (the broker's CA certificate, PEM)".into(),
        ));
    }
    let ca = read_file("mqtt.ca_file", &m.ca_file)?;
    for cert in CertificateDer::pem_slice_iter(&ca) {
        let cert = cert.map_err(|e| SetupError::Tls(format!("mqtt.ca_file: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| SetupError::Tls(format!("mqtt.ca_file: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    if m.client_cert_file.is_empty() {
        return Ok(builder.with_no_client_auth());
    }
    let cert = read_file("mqtt.client_cert_file", &m.client_cert_file)?;
    let certs = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SetupError::Tls(format!("mqtt.client_cert_file: {e}")))?;
    let key = read_file("mqtt.client_key_file", &m.client_key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key)
        .map_err(|e| SetupError::Tls(format!("mqtt.client_key_file: {e}")))?;
    builder
        .with_client_auth_cert(certs, key)
        .map_err(|e| SetupError::Tls(e.to_string()))
}

/// `shedwatch/{gateway}/status`: `online`, `stopped`, or the `offline` last will.
pub fn status_topic(gateway: &str) -> String {
    format!("shedwatch/{gateway}/status")
}

/// The subscriptions: frames (possibly shared) at the configured QoS, commands at QoS 1.
pub fn subscriptions(config: &Config) -> Vec<(String, QoS)> {
    let frames = FrameTopic::new(&config.mqtt.frame_topic).filter();
    let frames = if config.mqtt.share_group.is_empty() {
        frames
    } else {
        format!("$share/{}/{frames}", config.mqtt.share_group)
    };
    let qos = if config.mqtt.frame_qos == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    };
    let mut subs = vec![(frames, qos)];
    for role in ["platform", "property", "community"] {
        subs.push((
            format!("shedwatch/{}/cmd/{role}", config.gateway),
            QoS::AtLeastOnce,
        ));
    }
    subs
}

/// Capped exponential back-off with ±25 % jitter.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
    seed: u64,
}

impl Backoff {
    /// Back-off from `min` doubling up to `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        let seed = wall_ms() ^ (std::process::id() as u64) << 32 | 1;
        Backoff {
            min,
            max,
            next: min,
            seed,
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let jitter = 0.75 + (self.seed % 1000) as f64 / 2000.0;
        let delay = self.next.mul_f64(jitter);
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Back to the shortest delay (after a good connection).
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// Where the event loop routes what it receives.
pub struct Routes {
    /// Frame topic matching.
    pub frames: FrameTopic,
    /// `shedwatch/{gateway}/cmd/` (commands are the three role topics under it).
    pub command_prefix: String,
    /// The engine's inbox.
    pub inbox: Arc<Inbox<Publish>>,
    /// QoS 1 frames to acknowledge at once.
    pub acks: mpsc::UnboundedSender<Publish>,
}

/// Polls the event loop until `stop` is set and the connection ends: routes frames and
/// commands to the inbox, pairs publishes with acknowledgements, reconnects with back-off.
pub async fn run_event_loop(
    mut eventloop: EventLoop,
    routes: Routes,
    tracker: Arc<Mutex<Tracker>>,
    link: mpsc::UnboundedSender<Link>,
    progress: Arc<Progress>,
    mut backoff: Backoff,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut generation = 0u64;
    let mut connected_at: Option<Instant> = None;
    let mut failures = 0u32;
    loop {
        let polled = eventloop.poll().await;
        progress.mqtt_polls.fetch_add(1, Ordering::Relaxed);
        match polled {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                // rumqttc keeps a collided publish across a clean reconnect, which would block
                // every later request waiting for an acknowledgement that never comes.
                eventloop.state.collision = None;
                tracker
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .reconnected();
                generation += 1;
                connected_at = Some(Instant::now());
                progress.connections.fetch_add(1, Ordering::Relaxed);
                progress.connected.store(1, Ordering::Relaxed);
                tracing::info!(code = ?ack.code, connection = generation, "connected to the broker");
                failures = 0;
                let _ = link.send(Link::Connected(generation));
            }
            Ok(Event::Incoming(Packet::Publish(p))) => route(&routes, &progress, p),
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                let tag = tracker
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .acked(ack.pkid);
                if let Some(tag) = tag {
                    let _ = link.send(Link::Acked(tag));
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, SubscribeReasonCode::Failure))
                {
                    tracing::error!(
                        codes = ?ack.return_codes,
                        "the broker refused a subscription; check its ACL"
                    );
                }
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) if pkid != 0 => {
                tracker.lock().unwrap_or_else(|p| p.into_inner()).sent(pkid);
            }
            Ok(Event::Outgoing(Outgoing::AwaitAck(_))) => {
                tracker.lock().unwrap_or_else(|p| p.into_inner()).collided();
            }
            Ok(_) => {}
            Err(e) => {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                progress.connected.store(0, Ordering::Relaxed);
                if connected_at.take().is_some() {
                    tracing::warn!(error = %e, "broker connection lost; reconnecting");
                    let _ = link.send(Link::Disconnected);
                    // A connection that lasted resets the back-off.
                    backoff.reset();
                }
                failures += 1;
                let delay = backoff.next_delay();
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(error = %e, attempts = failures, retry_in_s = delay.as_secs_f64(), "cannot reach the broker");
                } else {
                    tracing::debug!(error = %e, attempts = failures, "cannot reach the broker");
                }
                tokio::time::sleep(delay).await;
            }
        }
        if stop.load(Ordering::Relaxed) && connected_at.is_none() {
            break;
        }
    }
}

fn route(routes: &Routes, progress: &Progress, p: Publish) {
    let topic = p.topic.clone();
    let qos1 = p.qos != QoS::AtMostOnce;
    if let Some(camera) = routes.frames.camera(&topic) {
        progress.frames_received.fetch_add(1, Ordering::Relaxed);
        let camera = camera.to_owned();
        let mut payload = routes.inbox.frame_buffer();
        payload.extend_from_slice(&p.payload);
        let received = Received {
            topic,
            payload,
            arrived: Instant::now(),
            ack: None,
        };
        routes.inbox.push_frame(&camera, received);
        if qos1 {
            let _ = routes.acks.send(p);
        }
    } else if topic
        .strip_prefix(&routes.command_prefix)
        .is_some_and(|role| matches!(role, "platform" | "property" | "community"))
    {
        let payload = p.payload.to_vec();
        let received = Received {
            topic,
            payload,
            arrived: Instant::now(),
            ack: qos1.then(|| p.clone()),
        };
        if !routes.inbox.push_command(received) {
            tracing::error!("command flood: a command was dropped (too many waiting)");
            if qos1 {
                let _ = routes.acks.send(p);
            }
        }
    } else if qos1 {
        let _ = routes.acks.send(p);
    }
}

/// Hands acknowledgements to the event loop (never from the polling task).
pub async fn run_acker(client: AsyncClient, mut acks: mpsc::UnboundedReceiver<Publish>) {
    while let Some(p) = acks.recv().await {
        if client.ack(&p).await.is_err() {
            break;
        }
    }
}

/// Subscribes to `subs` (after every ConnAck: rumqttc does not re-subscribe).
pub async fn subscribe(
    client: &AsyncClient,
    subs: &[(String, QoS)],
) -> Result<(), rumqttc::ClientError> {
    for (filter, qos) in subs {
        client.subscribe(filter.clone(), *qos).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        assert_eq!(
            parse_url("mqtt://127.0.0.1:1884").unwrap(),
            (false, "127.0.0.1".into(), 1884)
        );
        assert_eq!(
            parse_url("mqtts://broker.example").unwrap(),
            (true, "broker.example".into(), 8883)
        );
        assert_eq!(
            parse_url("mqtt://[::1]:1883").unwrap(),
            (false, "::1".into(), 1883)
        );
        assert!(parse_url("http://x:1").is_err());
        assert!(parse_url("mqtt://x:notaport").is_err());
    }

    #[test]
    fn tracker_pairs_tags_in_order_and_survives_collisions() {
        let mut t = Tracker::default();
        let row = |id| Tag::Row { generation: 1, id };
        t.expect(row(1));
        t.expect(row(2));
        t.expect(row(3));
        t.sent(7);
        t.collided(); // row 2 waits for a free packet id
        t.sent(8); // …and goes out later as 8
        t.sent(9);
        assert_eq!(t.acked(8), Some(row(2)));
        assert_eq!(t.acked(7), Some(row(1)));
        assert_eq!(t.acked(9), Some(row(3)));
        assert_eq!(t.acked(9), None);
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(375) && delays[0] <= Duration::from_millis(625));
        assert!(delays[9] <= Duration::from_millis(37_500));
        assert!(delays[9] >= Duration::from_millis(22_500));
    }
}
