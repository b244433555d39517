//! `wbemu run`: load a device and images, run headless (optionally cutting the power at a
//! flash operation), print per-core instructions, cycles, time, the flash operations and the
//! exit reason (JSON with `--json`). Flash operations are streamed as they end.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use wb_machine::{Clocks, Config, CoreId, Exit, Machine, Picos, PowerCut, ResetCause, Uart};
use wb_periph::flash::OpRecord;

use super::parse_addr;
use crate::input_log::{self, Input, Recorder};
use crate::serial::{self, Endpoint, Link};

#[derive(clap::Args)]
pub struct Args {
    /// CPU1 image (ELF, or raw binary with --cpu1-base), programmed into the device before the
    /// run. Default without images and --device: the built-in two-core demo.
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
    /// Vector table CPU2 is released at from reset (default with --cpu2: the image's lowest
    /// load address; without --cpu2, CPU2 waits for PWR_CR4.C2BOOT and boots at SBRV).
    #[arg(long, value_parser = parse_addr)]
    cpu2_vector: Option<u32>,
    /// Stop after this many CPU1 clock cycles.
    #[arg(long, default_value_t = 640_000_000)]
    max_cycles: u64,
    /// Core clocks: "rcc" (the chip: MSI 4 MHz after reset, then what the firmware sets up),
    /// or pinned frequencies in MHz as CPU1,CPU2, e.g. 64,32.
    #[arg(long, default_value = "rcc")]
    mhz: String,
    /// Device file to run (flash, option bytes, OTP); see `wbemu device new`.
    #[arg(long)]
    device: Option<PathBuf>,
    /// Write the device's persistent state back to --device when the run ends.
    #[arg(long, requires = "device")]
    save: bool,
    /// Print every flash operation as soon as it ends, while the run goes on: sequence,
    /// start time, core, kind, address, outcome, duration. With --json they are listed in the
    /// report instead (flash_ops).
    #[arg(long)]
    trace_flash: bool,
    /// Write every flash operation to FILE as soon as it ends, one JSON object per line
    /// (flushed per line: watch a run with `tail -f`); the fields are those of the report's
    /// flash_ops. Operations still running when the run ends come last, outcome "Pending".
    #[arg(long, value_name = "FILE")]
    trace_flash_jsonl: Option<PathBuf>,
    /// Cut the power once: before:N, during:N or after:N (flash operation N, from 1), or
    /// at:T (T microseconds of simulated time). The chip powers on again and the run goes on.
    #[arg(long, value_parser = parse_cut)]
    cut_power: Option<PowerCut>,
    /// Seed deciding how a torn flash operation ends.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Lock-step quantum in nanoseconds.
    #[arg(long, default_value_t = wb_machine::machine::DEFAULT_QUANTUM / 1000)]
    quantum_ns: u64,
    /// Attach USART1 to the host: "pty" (prints the pseudo-terminal's path for serial tools),
    /// "tcp:HOST:PORT" (listens; one client at a time) or "stdio". With a UART attached the
    /// run goes in real time (simulated time never ahead of the wall clock); host input makes
    /// the run depend on when bytes arrive, so it cannot be repeated unless recorded with
    /// --record-input.
    #[arg(long, value_parser = crate::serial::parse_endpoint)]
    uart1: Option<Endpoint>,
    /// Attach LPUART1 to the host, as --uart1.
    #[arg(long, value_parser = crate::serial::parse_endpoint)]
    lpuart1: Option<Endpoint>,
    /// Record the host input of the attached UARTs in FILE: one JSON line per batch of bytes,
    /// with the simulated time it entered the machine (picoseconds) and the port, e.g.
    /// {"t_ps":2000000000,"port":"usart1","hex":"48414c"}, written as it happens.
    #[arg(long, value_name = "FILE")]
    record_input: Option<PathBuf>,
    /// Replay the input recorded in FILE with --record-input: the same bytes at the same
    /// simulated times, with no host end and no real-time pacing (as fast as it goes). With
    /// the same images, device and options as the recorded run, the replay is cycle-exact
    /// the same run: UART output, per-core cycles and instructions, flash.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["uart1", "lpuart1", "record_input"])]
    replay_input: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Simulated time run between two exchanges with the host ends of the UARTs: 1 ms.
const SLICE: Picos = 1_000_000_000;

fn parse_cut(s: &str) -> Result<PowerCut, String> {
    let (kind, n) = s
        .split_once(':')
        .ok_or_else(|| format!("{s}: expected before:N, during:N, after:N or at:MICROSECONDS"))?;
    let n: u64 = n
        .parse()
        .map_err(|e| format!("{s}: {n:?} is not a number ({e})"))?;
    if n == 0 && kind != "at" {
        return Err(format!("{s}: flash operations are numbered from 1"));
    }
    match kind {
        "before" => Ok(PowerCut::BeforeOp(n)),
        "during" => Ok(PowerCut::DuringOp(n)),
        "after" => Ok(PowerCut::AfterOp(n)),
        "at" => Ok(PowerCut::At(n * 1_000_000)),
        _ => Err(format!("{s}: {kind:?} is not before, during, after or at")),
    }
}

#[derive(Serialize)]
struct FlashOp {
    seq: u64,
    start_us: f64,
    end_us: f64,
    core: &'static str,
    kind: &'static str,
    address: String,
    outcome: String,
}

impl FlashOp {
    fn of(r: &OpRecord) -> FlashOp {
        FlashOp {
            seq: r.seq,
            start_us: r.start as f64 / 1e6,
            end_us: r.end as f64 / 1e6,
            core: r.core.name(),
            kind: r.kind,
            address: format!("{:#010x}", r.address),
            outcome: format!("{:?}", r.outcome),
        }
    }
}

/// The human line for an operation, e.g.
/// `flash #12 t=1.234567 ms cpu1 program 0x08001000 ok (81.700 us)` (t: when it was
/// requested; one still running has no duration).
fn flash_line(r: &OpRecord) -> String {
    use wb_periph::flash::{sr, Outcome};
    let outcome = match r.outcome {
        Outcome::Pending => "running".to_string(),
        Outcome::Done => "ok".to_string(),
        Outcome::Torn => "torn".to_string(),
        Outcome::Dropped => "dropped".to_string(),
        Outcome::Refused(flag) => {
            let names = [
                (sr::PROGERR, "PROGERR"),
                (sr::WRPERR, "WRPERR"),
                (sr::PGAERR, "PGAERR"),
                (sr::SIZERR, "SIZERR"),
                (sr::PGSERR, "PGSERR"),
                (sr::MISERR, "MISERR"),
                (sr::FASTERR, "FASTERR"),
                (sr::OPERR, "OPERR"),
            ];
            match names.iter().find(|(bit, _)| *bit == flag) {
                Some((_, name)) => format!("refused ({name})"),
                None => format!("refused (SR {flag:#x})"),
            }
        }
    };
    let took = match r.outcome {
        Outcome::Pending => String::new(),
        _ => format!(" ({:.3} us)", (r.end - r.start) as f64 / 1e6),
    };
    format!(
        "flash #{} t={:.6} ms {} {} {:#010x} {outcome}{took}",
        r.seq,
        r.start as f64 / 1e9,
        r.core.name(),
        r.kind,
        r.address
    )
}

/// Where flash operations go as they end: human lines on stdout, JSON lines to a file.
struct FlashStream {
    lines: bool,
    jsonl: Option<(PathBuf, BufWriter<File>)>,
    /// Operations written so far (the log's first ones: they end in order).
    written: usize,
    /// The first write error; the run goes on, the command fails at the end.
    error: Option<anyhow::Error>,
}

impl FlashStream {
    /// An operation has ended.
    fn ended(&mut self, r: &OpRecord) {
        self.written += 1;
        if self.lines {
            println!("{}", flash_line(r));
        }
        self.write_json(r);
    }

    fn write_json(&mut self, r: &OpRecord) {
        if let Some((path, file)) = &mut self.jsonl {
            if self.error.is_some() {
                return;
            }
            let line = serde_json::to_string(&FlashOp::of(r)).expect("plain data serializes");
            if let Err(e) = writeln!(file, "{line}").and_then(|()| file.flush()) {
                self.error = Some(
                    anyhow::Error::new(e)
                        .context(format!("writing --trace-flash-jsonl {}", path.display())),
                );
            }
        }
    }
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
    /// Power cuts that happened, with the operation each tore or dropped.
    power_cuts: Vec<String>,
    cores: Vec<CoreReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flash_ops: Option<Vec<FlashOp>>,
    /// Bytes each UART transmitted during the run (hex), for the UARTs that sent any.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    uart_output: BTreeMap<&'static str, String>,
    /// FNV-1a (64 bits) of flash and the option-byte area at the end of the run.
    flash_digest: String,
}

const UARTS: [Uart; 2] = [Uart::Usart1, Uart::Lpuart1];

fn fnv1a64<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    parts
        .into_iter()
        .flatten()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
        })
}

/// Open the host ends the arguments ask for, and say where to connect.
fn open_links(a: &Args) -> Result<Vec<(Uart, Link)>> {
    let wanted = [(Uart::Usart1, &a.uart1), (Uart::Lpuart1, &a.lpuart1)];
    serial::check_endpoints(wanted.iter().filter_map(|(_, e)| e.as_ref()))?;
    let mut links = Vec::new();
    for (port, endpoint) in wanted {
        if let Some(e) = endpoint {
            let link = serial::open(e).with_context(|| format!("--{}", port.name()))?;
            eprintln!("wbemu: {} on {}", port.name(), link.description);
            links.push((port, link));
        }
    }
    Ok(links)
}

/// Where the UARTs' input comes from.
enum Host {
    /// Nothing: the run goes as fast as it can.
    None,
    /// Host ends, in real time, their input optionally recorded.
    Live {
        links: Vec<(Uart, Link)>,
        recorder: Option<Recorder>,
    },
    /// A record, replayed from `inputs[next]` on.
    Replay {
        path: PathBuf,
        inputs: Vec<Input>,
        next: usize,
    },
}

impl Host {
    /// Run the next slice. With host input the machine pauses only where that does not
    /// change the run (`Machine::run_past`), so that a replay pausing just where input went
    /// in is the same run as the recorded one, which paused at every slice.
    fn run_slice(&self, m: &mut Machine, limit: Picos) -> Exit {
        match self {
            Host::None => m.run_until(limit),
            Host::Live { .. } => m.run_past(limit.min((m.now() / SLICE + 1) * SLICE)),
            Host::Replay { inputs, next, .. } => {
                m.run_past(inputs.get(*next).map_or(limit, |i| i.at.min(limit)))
            }
        }
    }

    /// Take what the UARTs transmitted: to their host ends, and into `output` for the report.
    fn take_output(&self, m: &mut Machine, output: &mut [Vec<u8>; 2]) {
        for (i, port) in UARTS.into_iter().enumerate() {
            let out = m.uart_take(port);
            if out.is_empty() {
                continue;
            }
            if let Host::Live { links, .. } = self {
                if let Some((_, link)) = links.iter().find(|(p, _)| *p == port) {
                    // The host end may have gone away; the device keeps running regardless.
                    let _ = link.to_host.send(out.clone());
                }
            }
            output[i].extend(out);
        }
    }

    /// Inject the input due now, at a pause between two slices.
    fn inject(&mut self, m: &mut Machine) -> Result<()> {
        match self {
            Host::None => {}
            Host::Live { links, recorder } => {
                for (port, link) in links.iter() {
                    while let Ok(bytes) = link.from_host.try_recv() {
                        if let Some(r) = recorder.as_mut() {
                            r.record(m.now(), *port, &bytes)?;
                        }
                        m.uart_send(*port, &bytes);
                    }
                }
            }
            Host::Replay { path, inputs, next } => {
                while let Some(input) = inputs.get(*next).filter(|i| i.at <= m.now()) {
                    if input.at != m.now() {
                        bail!(
                            "{}:{}: recorded at {} ps, but the replay paused at {} ps: this is \
                             not the recorded run (same images, device and options?)",
                            path.display(),
                            input.line,
                            input.at,
                            m.now()
                        );
                    }
                    m.uart_send(input.port, &input.bytes);
                    *next += 1;
                }
            }
        }
        Ok(())
    }
}

pub fn run(a: Args) -> Result<ExitCode> {
    // Check a replay before anything else happens.
    let replay = match &a.replay_input {
        Some(path) => Some((path.clone(), input_log::load(path)?)),
        None => None,
    };
    let clocks = if a.mhz == "rcc" {
        Clocks::Rcc
    } else {
        let (mhz1, mhz2) = a
            .mhz
            .split_once(',')
            .and_then(|(x, y)| Some((x.trim().parse::<u64>().ok()?, y.trim().parse::<u64>().ok()?)))
            .filter(|(x, y)| *x > 0 && *y > 0)
            .with_context(|| {
                format!(
                    "--mhz {}: expected rcc, or two frequencies like 64,32",
                    a.mhz
                )
            })?;
        Clocks::Fixed {
            cpu1_hz: mhz1 * 1_000_000,
            cpu2_hz: mhz2 * 1_000_000,
        }
    };
    let config = Config {
        clocks,
        quantum: a.quantum_ns.max(1) * 1000,
        ..Config::default()
    };
    let mut m = Machine::new(config).context("creating the machine")?;
    if let Some(path) = &a.device {
        m.load_device(&super::device::load(path)?);
    }
    let lowest =
        |img: &wb_machine::loader::LoadedImage| img.ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let (v1, v2) = match (&a.cpu1, &a.cpu2) {
        (None, None) if a.device.is_none() => {
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
                None => a.cpu2_vector,
            };
            (v1, v2)
        }
    };
    m.set_boot(v1, v2);
    m.reset(ResetCause::PowerOn);
    if a.cpu1.is_none() && a.cpu2.is_some() {
        m.hold(CoreId::Cpu1);
    }
    if let Some(cut) = a.cut_power {
        m.arm_power_cut(cut, a.seed);
    }
    let links = open_links(&a)?;
    let jsonl = match &a.trace_flash_jsonl {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("--trace-flash-jsonl {}", path.display()))?;
            Some((path.clone(), BufWriter::new(file)))
        }
        None => None,
    };
    let stream = Rc::new(RefCell::new(FlashStream {
        // With --json, stdout is the report alone.
        lines: a.trace_flash && !a.json,
        jsonl,
        written: 0,
        error: None,
    }));
    if a.trace_flash || a.trace_flash_jsonl.is_some() {
        let s = stream.clone();
        m.watch_flash(move |r| s.borrow_mut().ended(r));
    }
    let mut host = match (replay, &a.record_input) {
        (Some((path, inputs)), _) => Host::Replay {
            path,
            inputs,
            next: 0,
        },
        (None, Some(_)) if links.is_empty() => {
            bail!("--record-input: no UART is attached to the host (--uart1 or --lpuart1)")
        }
        (None, record) if !links.is_empty() => Host::Live {
            links,
            recorder: record.as_deref().map(Recorder::create).transpose()?,
        },
        (None, _) => Host::None,
    };
    let limit = m.cpu1_cycles_from_now(a.max_cycles);
    let mut power_cuts = Vec::new();
    let mut output: [Vec<u8>; 2] = Default::default();
    let (start_sim, start_wall) = (m.now(), std::time::Instant::now());
    let exit = loop {
        let exit = host.run_slice(&mut m, limit);
        host.take_output(&mut m, &mut output);
        match exit {
            Exit::PowerCut(op) => power_cuts.push(format!(
                "at {:.3} us{}",
                m.now() as f64 / 1e6,
                op.map(|n| format!(", flash operation {n}"))
                    .unwrap_or_default()
            )),
            Exit::Limit if m.now() < limit => {
                host.inject(&mut m)?;
                if let Host::Live { .. } = host {
                    // Real time: wait until the wall clock catches up with the simulation.
                    let sim = std::time::Duration::from_nanos((m.now() - start_sim) / 1000);
                    if let Some(ahead) = sim.checked_sub(start_wall.elapsed()) {
                        std::thread::sleep(ahead);
                    }
                }
            }
            exit => break exit,
        }
    };
    if let Host::Replay { inputs, next, .. } = &host {
        if let Some(first) = inputs.get(*next) {
            eprintln!(
                "wbemu: warning: {} recorded input(s) from line {} on were not replayed: the run \
                 ended at {:.3} us, before {:.3} us (were the run's options the ones recorded?)",
                inputs.len() - next,
                first.line,
                m.now() as f64 / 1e6,
                first.at as f64 / 1e6
            );
        }
    }
    if let Some(cut) = a.cut_power {
        if power_cuts.is_empty() {
            eprintln!("wbemu: warning: --cut-power {cut:?} never happened (run ended first)");
        }
    }
    if a.save {
        let path = a.device.as_ref().expect("clap: --save requires --device");
        super::device::save(&m.device(), path)?;
    }
    let log = m.flash_log();
    let mut stream = stream.borrow_mut();
    let ended = stream.written;
    // Operations still running: last in the JSON lines, so the file lists every one.
    for r in &log[ended..] {
        stream.write_json(r);
    }
    let device = m.device();
    let report = Report {
        uart_output: UARTS
            .iter()
            .zip(&output)
            .filter(|(_, out)| !out.is_empty())
            .map(|(port, out)| {
                (
                    port.name(),
                    out.iter().map(|b| format!("{b:02x}")).collect(),
                )
            })
            .collect(),
        flash_digest: format!(
            "{:016x}",
            fnv1a64([&device.flash[..], &device.option_bytes[..]])
        ),
        exit: exit.describe(),
        simulated_us: m.now() as f64 / 1e6,
        power_cuts,
        flash_ops: a.trace_flash.then(|| log.iter().map(FlashOp::of).collect()),
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
        for cut in &report.power_cuts {
            println!("power cut {cut}; powered on again");
        }
        for (port, out) in UARTS.iter().zip(&output).filter(|(_, o)| !o.is_empty()) {
            println!(
                "{} sent {} bytes: \"{}\"",
                port.name(),
                out.len(),
                out.escape_ascii()
            );
        }
        if a.trace_flash {
            // Each ended operation was printed as it ended; say which were still running.
            println!("flash operations: {}", log.len());
            for r in &log[ended..] {
                println!("{}", flash_line(r));
            }
        }
        if a.cpu1.is_none() && a.cpu2.is_none() && a.device.is_none() {
            let sum = m.read_u32(0x2003_0010).unwrap_or(0);
            println!(
                "demo: 64 SRAM2a request/response rounds between the cores, checksum {sum:#010x}"
            );
        }
    }
    if let Some(e) = stream.error.take() {
        return Err(e);
    }
    Ok(match exit {
        Exit::Lockup(_) => ExitCode::from(3),
        _ => ExitCode::SUCCESS,
    })
}
