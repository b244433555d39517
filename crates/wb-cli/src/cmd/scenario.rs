//! `wbemu scenario run|check FILE`: a scenario file (docs/scenarios.md) checked, or run and
//! judged. The logic is wb-campaign's; this file parses and prints.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use wb_campaign::{Report, Run, Scenario};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Run a scenario and judge it by its expectations.
    #[command(
        after_help = "Exit codes: 0 every expectation held; 1 one failed (each is named \
        with its line); 2 the scenario cannot be run (the message names file, line and key) \
        or a host error."
    )]
    Run {
        file: PathBuf,
        /// Print the report as JSON (docs/scenarios.md lists its fields).
        #[arg(long)]
        json: bool,
        /// List every flash operation in the report.
        #[arg(long)]
        trace_flash: bool,
        /// Write the device as the run left it to this device file.
        #[arg(long, value_name = "OUT")]
        save_device: Option<PathBuf>,
    },
    /// Check a scenario without running it: its keys, values, files and images.
    #[command(
        after_help = "Exit codes: 0 the scenario can be run; 2 it cannot (the message \
        names file, line and key)."
    )]
    Check { file: PathBuf },
}

pub fn run(a: Args) -> Result<ExitCode> {
    match a.command {
        Command::Check { file } => {
            let sc = Scenario::load(&file)?;
            // Building the start machine checks the images and the symbols waits name.
            wb_campaign::setup::machine(&sc)?;
            println!(
                "{}: scenario {:?} is good: {} steps",
                file.display(),
                sc.name,
                sc.steps.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            file,
            json,
            trace_flash,
            save_device,
        } => {
            let sc = Scenario::load(&file)?;
            let started = std::time::Instant::now();
            let mut run = Run::new(&sc)?;
            run.run()?;
            let host_ms = started.elapsed().as_secs_f64() * 1e3;
            if let Some(out) = &save_device {
                let mut dev = run.p.m.device();
                dev.note = format!("wbemu scenario run {}", file.display());
                super::device::save(&dev, out)?;
            }
            let report = Report::of(&run, host_ms, trace_flash);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print(&report);
            }
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn print(r: &Report) {
    println!("scenario {} ({})", r.scenario, r.file);
    for s in &r.steps {
        let end = s
            .ended_us
            .map_or(String::new(), |t| format!(" -> {:.3} ms", t / 1e3));
        println!(
            "  step {:>2} line {:>3} [{:9.3} ms{end}] {}: {}",
            s.index,
            s.line,
            s.started_us / 1e3,
            s.what,
            s.outcome
        );
    }
    for c in &r.faults {
        let torn = c.torn_op.map_or(String::new(), |n| {
            format!(", flash operation {n} interrupted")
        });
        println!("  {} {} at {:.3} ms{torn}", c.kind, c.plan, c.at_us / 1e3);
    }
    for l in &r.lockups {
        println!(
            "  {} locked up at {:.3} ms, pc {}",
            l.core,
            l.at_us / 1e3,
            l.pc
        );
    }
    println!(
        "  {:.3} ms simulated in {:.0} ms; {} flash operations; boots cpu1 {} cpu2 {}; trace {}",
        r.simulated_us / 1e3,
        r.host_ms,
        r.flash_op_count,
        r.boots["cpu1"],
        r.boots["cpu2"],
        r.trace_hash
    );
    for f in &r.failures {
        println!("  FAIL line {}: {}: {}", f.line, f.key, f.message);
    }
    println!("verdict: {}", r.verdict);
}
