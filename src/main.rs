//! The `shedwatch` command line. The only place `anyhow` is used.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use shedwatch::config::{Config, ConfigError};
use shedwatch::drive::replay;
use shedwatch::engine::Engine;

/// Thermal-camera fire watch for e-bike charging sheds.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        /// The recording directory (holding recording.jsonl).
        recording: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CheckConfig {
            config,
            print_effective,
        } => check_config(&config, print_effective),
        Command::Replay {
            config,
            realtime,
            run_on,
            recording,
        } => {
            init_logs("warn");
            run_replay(config, &recording, realtime, run_on)
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
) -> anyhow::Result<ExitCode> {
    let config_path = config.unwrap_or_else(|| recording.join("config.toml"));
    let config = Config::load(&config_path).context("cannot use the config")?;
    let mut engine = Engine::new(Arc::new(config));
    let options = replay::Options {
        realtime,
        run_on_ms: (run_on_s.max(0.0) * 1000.0) as u64,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = replay::replay(&mut engine, recording, &options, &mut out, &mut |e| {
        eprintln!("{e}");
    })?;
    out.flush()?;
    for (camera, c) in engine.camera_counters() {
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
