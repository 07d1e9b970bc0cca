//! Tests of the daemon against a real broker that the test starts itself on a free loopback
//! port: the embedded broker (`shedwatch broker`) by default, or mosquitto 2 when
//! `TEST_BROKER=mosquitto` (CI runs both; a missing mosquitto is then a failure).

mod camera_fault;
mod flood;
mod outage;
mod record;
mod restart;
mod service;
mod shared;
mod slow_consumer;
mod tls;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// Live tests depend on timing, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A broker process on a fixed loopback port, restartable. Holding one keeps other live
/// tests waiting.
pub struct TestBroker {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl TestBroker {
    pub fn start() -> TestBroker {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut b = TestBroker {
            port,
            child: None,
            dir: tempfile::tempdir().unwrap(),
            _serial: serial,
        };
        b.restart();
        b
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let child = match std::env::var("TEST_BROKER").as_deref() {
            Ok("mosquitto") => {
                let conf = self.dir.path().join("mosquitto.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 100\nmax_queued_messages 100000\n",
                        self.port
                    ),
                )
                .unwrap();
                Command::new("mosquitto")
                    .arg("-c")
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("TEST_BROKER=mosquitto but mosquitto cannot be started (apt-get install mosquitto)")
            }
            Ok("embedded") | Err(_) => Command::new(env!("CARGO_BIN_EXE_shedwatch"))
                .args(["broker", "--listen", &format!("127.0.0.1:{}", self.port)])
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
            Ok(other) => panic!("TEST_BROKER={other}: expected embedded or mosquitto"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "broker did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The daemon as a process, with its config, store and log in a temp dir.
pub struct Daemon {
    child: Option<Child>,
    env: Vec<(String, PathBuf)>,
    pub config: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Writes `config` (TOML) and starts `shedwatch run` on it.
    pub fn start(dir: &Path, config: &str) -> Daemon {
        Self::start_with_env(dir, config, &[])
    }

    /// Like [`Daemon::start`], with extra environment variables (e.g. a credentials
    /// directory, as systemd's `LoadCredential=` sets).
    pub fn start_with_env(dir: &Path, config: &str, env: &[(&str, &Path)]) -> Daemon {
        let path = dir.join("config.toml");
        std::fs::write(&path, config).unwrap();
        let mut d = Daemon {
            child: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_path_buf()))
                .collect(),
            config: path,
            log: dir.join("daemon.log"),
        };
        d.restart();
        d
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shedwatch"));
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        // The daemon reads SHEDWATCH_* overrides; the test's own environment must not leak in.
        for (k, _) in std::env::vars() {
            if k.starts_with("SHEDWATCH_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub fn kill(&mut self) {
        let mut c = self.child.take().unwrap();
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
    }

    /// SIGTERM; returns how long the exit took.
    pub fn terminate(&mut self) -> Duration {
        let mut c = self.child.take().unwrap();
        let started = Instant::now();
        unsafe_kill(c.id(), "TERM");
        let status = c.wait().unwrap();
        assert!(
            status.success(),
            "daemon exited with {status}; log:\n{}",
            self.log_text()
        );
        started.elapsed()
    }

    /// Resident memory (kB).
    pub fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("daemon log:\n{}", self.log_text());
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn unsafe_kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A message seen by the watcher.
#[derive(Debug, Clone)]
pub struct Seen {
    pub topic: String,
    pub payload: Vec<u8>,
    pub at: Instant,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// A client that records everything under `filter`, reconnecting quickly after outages.
pub struct Watcher {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    client: AsyncClient,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Watcher {
    pub fn start(
        runtime: &Arc<tokio::runtime::Runtime>,
        port: u16,
        id: &str,
        filters: &[&str],
    ) -> Watcher {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options.set_max_packet_size(64 << 20, 64 << 20);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 1000);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        let (sub_client, sink) = (client.clone(), seen.clone());
        runtime.spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for f in &filters {
                            let _ = sub_client.subscribe(f.clone(), QoS::AtLeastOnce).await;
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => sink.lock().unwrap().push(Seen {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                        at: Instant::now(),
                    }),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Watcher {
            seen,
            client,
            runtime: runtime.clone(),
        }
    }

    /// Publishes (QoS 1).
    pub fn publish(&self, topic: &str, payload: Vec<u8>) {
        let client = self.client.clone();
        let topic = topic.to_owned();
        self.runtime
            .block_on(async move {
                client
                    .publish(topic, QoS::AtLeastOnce, false, payload)
                    .await
            })
            .unwrap();
    }

    /// Waits until `pred` holds over what was seen; panics with `what` after `timeout`.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&[Seen]) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(&self.seen.lock().unwrap()) {
                return;
            }
            if Instant::now() > deadline {
                let seen = self.seen.lock().unwrap();
                let tail: Vec<String> = seen
                    .iter()
                    .rev()
                    .take(10)
                    .map(|s| format!("{} {}", s.topic, String::from_utf8_lossy(&s.payload)))
                    .collect();
                panic!(
                    "timed out waiting for {what}; last seen (newest first):\n{}",
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Events seen so far (payloads of `…/events`).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.topic.ends_with("/events"))
            .map(Seen::json)
            .collect()
    }
}

pub fn runtime() -> Arc<tokio::runtime::Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    )
}

/// A daemon config on `url` with one 16×12 camera `cam` (two bays), the store in `dir`, and
/// `extra` TOML appended.
pub fn daemon_config(url: &str, dir: &Path, extra: &str) -> String {
    format!(
        r#"gateway = "gw"
[mqtt]
url = "{url}"
keep_alive_s = 5
reconnect_min_s = 0.5
reconnect_max_s = 4
[store]
path = "{}"
{extra}
{}"#,
        dir.join("store.db").display(),
        crate::support::CAMERA.replace("height = 12", "height = 12\noffline_after_s = 100")
    )
}

/// Writes a line to stderr so a failing test shows where it was.
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "[{:?}] {text}", Instant::now());
}

/// Every `(incident, seq)` seen, checking duplicates are identical; returns first-arrival
/// order per incident.
pub fn check_events(events: &[serde_json::Value]) -> std::collections::BTreeMap<String, Vec<u64>> {
    let mut content = std::collections::BTreeMap::new();
    let mut order: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for e in events {
        let id = e["incident"].as_str().unwrap().to_owned();
        let seq = e["seq"].as_u64().unwrap();
        match content.get(&(id.clone(), seq)) {
            Some(previous) => assert_eq!(
                previous, e,
                "({id}, {seq}) seen twice with different content"
            ),
            None => {
                content.insert((id.clone(), seq), e.clone());
                order.entry(id).or_default().push(seq);
            }
        }
    }
    order
}
