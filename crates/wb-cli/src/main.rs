//! `wbemu`: the STM32WB55 emulator command line. One subcommand per file in `cmd/`.

mod cmd;
mod files;
mod input_log;
mod serial;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "wbemu",
    version,
    about = "Cycle-level emulator of the dual-core STM32WB55"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The end-to-end demo: a virgin device's FUS installs the sample wireless stack.
    Demo(cmd::demo::Args),
    /// Run images on the emulated device, headless, and report per-core figures.
    Run(Box<cmd::run::Args>),
    /// Measure emulation speed against raw unicorn in the same process.
    Bench(cmd::bench::Args),
    /// Create, inspect and edit device files (flash, option bytes, OTP of one chip).
    Device(cmd::device::Args),
    /// Build, sign, inspect and verify WS/FUS images (docs/image-format.md).
    Image(cmd::image::Args),
    /// Generate key files for `wbemu image`.
    Keys(cmd::keys::Args),
    /// List or export the guest programs built into wbemu (operator, FUS, sample stacks...).
    Firmware(cmd::firmware::Args),
    /// Drive the FUS of a device file through a debug probe, as STM32CubeProgrammer does.
    Fus(cmd::fus::Args),
    /// Check or run a scenario file: a device, images, a timeline of host steps and power
    /// cuts, and the expectations the run is judged by (docs/scenarios.md).
    Scenario(cmd::scenario::Args),
    /// Fault-injection campaign: a scenario run once per power cut or reset of its fault
    /// plan, each case judged (pass, fail, brick, hang), with JUnit and JSON for CI.
    Campaign(Box<cmd::campaign::Args>),
}

/// Log lines carry the simulated time of the machine that logged (and the host time since
/// start): `host 0.412s sim 1766.123456ms`.
struct SimulatedTime(std::time::Instant);

impl tracing_subscriber::fmt::time::FormatTime for SimulatedTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let sim = wb_periph::log_clock::now();
        write!(
            w,
            "host {:.3}s sim {:.6}ms",
            self.0.elapsed().as_secs_f64(),
            sim as f64 / 1e9
        )
    }
}

fn main() -> std::process::ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("WBEMU_LOG"))
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not in a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(SimulatedTime(std::time::Instant::now()))
        .init();
    quiet_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Run(a) => cmd::run::run(*a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Device(a) => cmd::device::run(a),
        Command::Image(a) => cmd::image::run(a),
        Command::Keys(a) => cmd::keys::run(a),
        Command::Firmware(a) => cmd::firmware::run(a),
        Command::Fus(a) => cmd::fus::run(a),
        Command::Scenario(a) => cmd::scenario::run(a),
        Command::Campaign(a) => cmd::campaign::run(*a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wbemu: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// A reader that went away (`wbemu ... | head`) ends the command quietly with the status a
/// SIGPIPE gives: Rust ignores SIGPIPE, so `println!` would panic instead.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>();
        if message.is_some_and(|m| {
            m.starts_with("failed printing to stdout") && m.contains("Broken pipe")
        }) {
            std::process::exit(128 + 13);
        }
        default(info);
    }));
}
