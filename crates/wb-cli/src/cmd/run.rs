//! `wbemu run`: load images, run headless, print per-core instructions, cycles, time and the
//! exit reason (JSON with `--json`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use wb_machine::{Clocks, Config, CoreId, Exit, Machine, ResetCause};

#[derive(clap::Args)]
pub struct Args {
    /// CPU1 image (ELF, or raw binary with --cpu1-base). Default: the built-in two-core demo.
    #[arg(long)]
    cpu1: Option<PathBuf>,
    /// CPU2 image (ELF, or raw binary with --cpu2-base).
    #[arg(long)]
    cpu2: Option<PathBuf>,
    /// Load the CPU1 image as a raw binary at this address (e.g. 0x08000000).
    #[arg(long, value_parser = parse_addr)]
    cpu1_base: Option<u32>,
    /// Load the CPU2 image as a raw binary at this address.
    #[arg(long, value_parser = parse_addr)]
    cpu2_base: Option<u32>,
    /// Vector table CPU1 boots from (default: the image's lowest load address).
    #[arg(long, value_parser = parse_addr)]
    cpu1_vector: Option<u32>,
    /// Vector table CPU2 is released at (default: the image's lowest load address).
    #[arg(long, value_parser = parse_addr)]
    cpu2_vector: Option<u32>,
    /// Stop after this many CPU1 clock cycles.
    #[arg(long, default_value_t = 640_000_000)]
    max_cycles: u64,
    /// Core clocks in MHz as CPU1,CPU2 (the usual run configuration is 64,32; reset is 4,4).
    #[arg(long, default_value = "64,32")]
    mhz: String,
    /// Lock-step quantum in nanoseconds.
    #[arg(long, default_value_t = wb_machine::machine::DEFAULT_QUANTUM / 1000)]
    quantum_ns: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_addr(s: &str) -> Result<u32, String> {
    let t = s.trim_start_matches("0x").trim_start_matches("0X");
    u32::from_str_radix(
        &t.replace('_', ""),
        if t.len() != s.len() { 16 } else { 10 },
    )
    .map_err(|e| format!("{s}: not an address ({e})"))
}

#[derive(Serialize)]
struct CoreReport {
    core: &'static str,
    mhz: f64,
    instructions: u64,
    cycles: u64,
    idle_cycles: u64,
    simulated_us: f64,
    pc: String,
    state: String,
}

#[derive(Serialize)]
struct Report {
    exit: String,
    simulated_us: f64,
    cores: Vec<CoreReport>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let (mhz1, mhz2) = a
        .mhz
        .split_once(',')
        .and_then(|(x, y)| Some((x.trim().parse::<u64>().ok()?, y.trim().parse::<u64>().ok()?)))
        .filter(|(x, y)| *x > 0 && *y > 0)
        .with_context(|| format!("--mhz {}: expected two frequencies like 64,32", a.mhz))?;
    let config = Config {
        clocks: Clocks::Fixed {
            cpu1_hz: mhz1 * 1_000_000,
            cpu2_hz: mhz2 * 1_000_000,
        },
        quantum: a.quantum_ns.max(1) * 1000,
        ..Config::default()
    };
    let mut m = Machine::new(config).context("creating the machine")?;
    let lowest =
        |img: &wb_machine::loader::LoadedImage| img.ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let (v1, v2) = match (&a.cpu1, &a.cpu2) {
        (None, None) => {
            m.load_elf_bytes("built-in cpu1 demo", wb_firmware::CPU1_TESTS)?;
            m.load_elf_bytes("built-in cpu2 demo", wb_firmware::CPU2_TESTS)?;
            (
                wb_firmware::CPU1_TESTS_VECTORS,
                Some(wb_firmware::CPU2_TESTS_VECTORS),
            )
        }
        (c1, c2) => {
            let v1 = match c1 {
                Some(p) => a.cpu1_vector.unwrap_or(lowest(&m.load(p, a.cpu1_base)?)),
                None => a.cpu1_vector.unwrap_or(0),
            };
            let v2 = match c2 {
                Some(p) => Some(a.cpu2_vector.unwrap_or(lowest(&m.load(p, a.cpu2_base)?))),
                None => None,
            };
            (v1, v2)
        }
    };
    m.set_boot(v1, v2);
    m.reset(ResetCause::PowerOn);
    if a.cpu1.is_none() && a.cpu2.is_some() {
        m.hold(CoreId::Cpu1);
    }
    let exit = m.run_cycles(a.max_cycles);
    let report = Report {
        exit: exit.describe(),
        simulated_us: m.now() as f64 / 1e6,
        cores: CoreId::ALL
            .iter()
            .map(|&id| {
                let s = m.stats(id);
                CoreReport {
                    core: id.name(),
                    mhz: s.hz as f64 / 1e6,
                    instructions: s.insns,
                    cycles: s.cycles,
                    idle_cycles: s.idle_cycles,
                    simulated_us: s.cycles as f64 * 1e6 / s.hz as f64,
                    pc: format!("{:#010x}", s.pc),
                    state: format!("{:?}", s.run),
                }
            })
            .collect(),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "exit: {}   simulated time: {:.3} us",
            report.exit, report.simulated_us
        );
        println!(
            "{:<5} {:>7} {:>14} {:>14} {:>14} {:>12}  state",
            "core", "MHz", "instructions", "cycles", "idle cycles", "pc"
        );
        for c in &report.cores {
            println!(
                "{:<5} {:>7.1} {:>14} {:>14} {:>14} {:>12}  {}",
                c.core, c.mhz, c.instructions, c.cycles, c.idle_cycles, c.pc, c.state
            );
        }
        if a.cpu1.is_none() && a.cpu2.is_none() {
            let sum = m.read_u32(0x2003_0010).unwrap_or(0);
            println!(
                "demo: 64 SRAM2a request/response rounds between the cores, checksum {sum:#010x}"
            );
        }
    }
    Ok(match exit {
        Exit::Lockup(_) => ExitCode::from(3),
        _ => ExitCode::SUCCESS,
    })
}
