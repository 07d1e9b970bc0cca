//! The `shedwatch` command line. The only place `anyhow` is used.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use shedwatch::config::{Config, ConfigError};
use shedwatch::drive::replay;
use shedwatch::drive::{self, node::Node};
use shedwatch::engine::Engine;
use shedwatch::incident::store::{self, Store};

/// Thermal-camera fire watch for e-bike charging sheds.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Shows the closure chain end to end on this machine: an embedded broker, the daemon, a
    /// simulated camera over a shed whose battery catches fire, and scripted staff.
    Demo {
        /// How many times faster than real time the scene runs.
        #[arg(long, default_value_t = drive::demo::DEFAULT_SPEED)]
        speed: f64,
        /// Keep the config and the incident store in this directory (default: a temporary
        /// one, deleted at the end).
        #[arg(long, value_name = "DIR")]
        keep: Option<PathBuf>,
    },
    /// Checks a config file and prints every problem.
    CheckConfig {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// Print the merged configuration (defaults, file, environment).
        #[arg(long)]
        print_effective: bool,
    },
    /// Feeds a recording through the engine and prints what it would publish.
    Replay {
        /// The config file (default: config.toml in the recording).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Wait between messages as long as the recording did.
        #[arg(long)]
        realtime: bool,
        /// Keep the simulated clock running this many seconds after the last line.
        #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
        run_on: f64,
        /// Commit every step to this incident store, as the daemon does; a replay stopped at
        /// any point resumes after its last commit.
        #[arg(long, value_name = "FILE")]
        store: Option<PathBuf>,
        /// With --store: drain the outbox into this file (appended), standing in for the
        /// broker.
        #[arg(long, value_name = "FILE", requires = "store")]
        outbox_log: Option<PathBuf>,
        /// The recording directory (holding recording.jsonl).
        recording: PathBuf,
    },
    /// Runs the daemon: MQTT in and out, the engine, the store (under systemd).
    Run {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// Log as JSON lines.
        #[arg(long)]
        log_json: bool,
    },
    /// Captures the live frame and command topics into a recording for `replay`.
    Record {
        /// The config file (broker, topics).
        #[arg(long)]
        config: PathBuf,
        /// The recording directory to create.
        #[arg(long)]
        out: PathBuf,
        /// How long to record (e.g. 60s, 15m, 2h); until Ctrl-C when not given.
        #[arg(long, value_parser = drive::record::parse_duration)]
        duration: Option<std::time::Duration>,
    },
    /// Runs an embedded MQTT broker on a loopback port (for trying shedwatch out and tests).
    Broker {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:1883")]
        listen: std::net::SocketAddr,
    },
    /// Reads the incident store (works while the daemon runs).
    Incidents {
        /// The config file (names the store).
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        /// The store file (instead of the config's).
        #[arg(long, global = true)]
        store: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        what: IncidentsCommand,
    },
}

#[derive(Subcommand)]
enum IncidentsCommand {
    /// Open incidents, newest first.
    List {
        /// Include closed incidents.
        #[arg(long)]
        all: bool,
    },
    /// One incident's current state.
    Show {
        /// Incident id.
        id: String,
    },
    /// One incident's audit trail: every transition and command.
    History {
        /// Incident id.
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { speed, keep } => {
            // The embedded broker logs every client that goes away at shutdown as an error.
            init_logs("error,rumqttd=off");
            run_demo(speed, keep)
        }
        Command::CheckConfig {
            config,
            print_effective,
        } => check_config(&config, print_effective),
        Command::Replay {
            config,
            realtime,
            run_on,
            store,
            outbox_log,
            recording,
        } => {
            init_logs("error");
            run_replay(
                config,
                &recording,
                realtime,
                run_on,
                store.as_deref(),
                outbox_log.as_deref(),
            )
        }
        Command::Incidents {
            config,
            store,
            json,
            what,
        } => incidents(config.as_deref(), store.as_deref(), json, what),
        Command::Run { config, log_json } => {
            init_logs_with("info", log_json);
            run_daemon(config)
        }
        Command::Record {
            config,
            out,
            duration,
        } => {
            init_logs("info");
            run_record(&config, &out, duration)
        }
        Command::Broker { listen } => {
            init_logs("warn");
            run_broker(listen)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shedwatch: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logs(default: &str) {
    init_logs_with(default, false);
}

/// Logs to stderr with a `RUST_LOG`-style filter; JSON lines for log collectors.
fn init_logs_with(default: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

fn run_daemon(config_path: PathBuf) -> anyhow::Result<ExitCode> {
    limit_malloc_arenas();
    let config = match Config::load(&config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let shutdown = async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        drive::live::run(config_path, config, drive::live::Clock::wall(), shutdown).await
    })?;
    // Background tasks may still hold the runtime; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(ExitCode::SUCCESS)
}

/// Caps glibc's malloc at two arenas. By default each thread that allocates gets its own (up
/// to eight per core) and keeps the large blocks it freed there: with 8 cameras of 221 KB
/// frames under load the daemon peaked at 35–48 MB, with two arenas at 31–33 MB (the e2e
/// bench). Must run before any thread starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn run_demo(speed: f64, keep: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let options = drive::demo::Options {
        speed,
        keep,
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(drive::demo::run(&options, &mut std::io::stdout()));
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(match outcome? {
        drive::demo::Outcome::Closed => ExitCode::SUCCESS,
        drive::demo::Outcome::Incomplete => {
            eprintln!(
                "shedwatch: the closure chain did not close within {} of scene time",
                drive::demo::mmss(options.limit_s * 1000)
            );
            ExitCode::from(1)
        }
        drive::demo::Outcome::Interrupted => ExitCode::from(130),
    })
}

fn run_record(
    config_path: &Path,
    out: &Path,
    duration: Option<std::time::Duration>,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path).context("cannot use the config")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let count = runtime.block_on(drive::record::record(&config, out, duration, async {
        let _ = tokio::signal::ctrl_c().await;
    }))?;
    eprintln!("recorded {count} messages into {}", out.display());
    Ok(ExitCode::SUCCESS)
}

fn run_broker(listen: std::net::SocketAddr) -> anyhow::Result<ExitCode> {
    drive::broker::spawn(listen)?;
    println!("broker listening on {listen}");
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}

fn incidents(
    config: Option<&Path>,
    store: Option<&Path>,
    json: bool,
    what: IncidentsCommand,
) -> anyhow::Result<ExitCode> {
    let path = match (store, config) {
        (Some(s), _) => s.to_owned(),
        (None, Some(c)) => {
            let config = Config::load(c).context("cannot use the config")?;
            store::resolve_path(&config.store.path)
        }
        (None, None) => anyhow::bail!("give --config FILE or --store FILE"),
    };
    anyhow::ensure!(path.exists(), "no incident store at {}", path.display());
    let store = Store::open_read_only(&path)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match what {
        IncidentsCommand::List { all } => drive::incidents::list(&store, all, json, &mut out)?,
        IncidentsCommand::Show { id } => match store.incident(&id)? {
            Some(i) => drive::incidents::show(&i, json, &mut out)?,
            None => {
                eprintln!("shedwatch: no incident {id:?}");
                return Ok(ExitCode::from(1));
            }
        },
        IncidentsCommand::History { id } => {
            let entries = store.history(&id)?;
            if entries.is_empty() && store.incident(&id)?.is_none() {
                eprintln!("shedwatch: no incident {id:?}");
                return Ok(ExitCode::from(1));
            }
            drive::incidents::history(&entries, json, &mut out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_config(path: &Path, print_effective: bool) -> anyhow::Result<ExitCode> {
    match Config::load(path) {
        Ok(config) => {
            if print_effective {
                print!("{}", config.to_toml());
            } else {
                println!("config ok");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ConfigError::Invalid(problems)) => {
            for p in &problems {
                println!("{p}");
            }
            println!("{} problem(s) in {}", problems.len(), path.display());
            Ok(ExitCode::from(1))
        }
        Err(e @ ConfigError::Parse(_)) => {
            println!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn run_replay(
    config: Option<PathBuf>,
    recording: &Path,
    realtime: bool,
    run_on_s: f64,
    store: Option<&Path>,
    outbox_log: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let config_path = config.unwrap_or_else(|| recording.join("config.toml"));
    let config = Arc::new(Config::load(&config_path).context("cannot use the config")?);
    let mut target: Box<dyn replay::Target> = match store {
        None => Box::new(Engine::new(config)),
        Some(path) => {
            let node = Node::open(config, path, None)?;
            Box::new(replay::Durable::new(node, outbox_log)?)
        }
    };
    let options = replay::Options {
        realtime,
        run_on_ms: (run_on_s.max(0.0) * 1000.0) as u64,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = replay::replay(target.as_mut(), recording, &options, &mut out, &mut |e| {
        eprintln!("{e}");
    })?;
    out.flush()?;
    for (camera, c) in target.engine().camera_counters() {
        let errors: u64 = c.decode_errors.values().sum();
        let kinds: Vec<String> = c
            .decode_errors
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        eprintln!(
            "camera {camera}: {} frames, {} analysed, {errors} decode errors{}",
            c.frames,
            c.analysed,
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            }
        );
    }
    eprintln!(
        "replayed {} lines, {} bad, {} messages out",
        summary.inputs, summary.bad_lines, summary.outputs
    );
    Ok(if summary.bad_lines > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
