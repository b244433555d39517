//! `wbemu run`: load a device and images, run headless (optionally cutting the power at a
//! flash operation), and report per-core figures, registers, the flash operations and why the
//! run ended (JSON with `--json`; docs/cli.md). Flash operations are streamed as they end.

mod host;
mod record;
mod report;

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use wb_inspect::digest::Digests;
use wb_machine::{Clocks, Config, CoreId, Exit, Machine, Picos, PowerCut, ResetCause, Uart};

use super::parse_addr;
use crate::input_log::{self, Recorder};
use crate::serial::{self, Endpoint, Link};
use host::{FlashStream, Host, UARTS};
use report::{
    us, CoreReport, CutReport, End, ExitReport, FlashOp, LockupReport, Report, UartReport,
};

#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 the run ended as asked; 2 a host error (bad argument \
    or file, named); 3 a core locked up and that ended the run; 4 --until-uart: a limit came \
    before the text; 5 --cut-power: the run ended before the cut. The JSON report (--json) \
    is printed in every case but 2; docs/cli.md lists its fields."
)]
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
    /// Stop when CPU1 has run this many clock cycles (counted from power-on, idle cycles
    /// included, whatever its clock does meanwhile).
    #[arg(long)]
    max_cycles: Option<u64>,
    /// Stop after this much simulated time: a number and a unit, s, ms, us, ns or ps
    /// (e.g. 10s, 2.5ms).
    #[arg(long, default_value = "10s", value_parser = super::parse_duration)]
    max_time: Picos,
    /// Stop as soon as USART1 or LPUART1 has sent TEXT (the output is looked at every
    /// millisecond of simulated time). Exit code 4 if a limit comes first.
    #[arg(long, value_name = "TEXT")]
    until_uart: Option<String>,
    /// End the run when CPU2 locks up too (a CPU1 lockup always ends it); without it the run
    /// goes on, so that CPU1's reaction can be seen.
    #[arg(long)]
    stop_on_lockup: bool,
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
    /// Cut the power once: before:N, during:N or after:N (flash operation N, from 1);
    /// before|during|after:KIND[@START-END][#N] (the Nth operation of that kind in that address
    /// range, e.g. during:option-program, before:page-erase@0x080f0000-0x080f4000#2); or
    /// at:T (T microseconds of simulated time). The chip powers on again and the run goes on.
    #[arg(long, value_parser = parse_cut)]
    cut_power: Option<PowerCut>,
    /// Seed deciding how a torn flash operation ends, by seed % 4: 0 unchanged, 1 done, 2 and
    /// 3 partly done (a seeded part; a program's ECC left invalid, an option byte's complement
    /// not written).
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
    /// Write the run down as a scenario file (docs/scenarios.md): the device as it started
    /// (copied beside OUT as OUT-STEM.start.wbdev), the images, the power cut, the UART input
    /// with the simulated times it went in, the end. `wbemu scenario run OUT` is the same run.
    #[arg(long, value_name = "OUT")]
    record_scenario: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Exit codes beyond 0 (success) and 2 (a host error: bad argument or file).
pub mod code {
    /// The run ended because a core locked up.
    pub const LOCKUP: u8 = 3;
    /// --until-uart: a limit came before the text.
    pub const UART_TEXT_NOT_SEEN: u8 = 4;
    /// --cut-power: the run ended before the cut.
    pub const CUT_NOT_MADE: u8 = 5;
}

fn parse_cut(s: &str) -> Result<PowerCut, String> {
    s.parse()
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

fn clocks(mhz: &str) -> Result<Clocks> {
    if mhz == "rcc" {
        return Ok(Clocks::Rcc);
    }
    let (mhz1, mhz2) = mhz
        .split_once(',')
        .and_then(|(x, y)| Some((x.trim().parse::<u64>().ok()?, y.trim().parse::<u64>().ok()?)))
        .filter(|(x, y)| *x > 0 && *y > 0)
        .with_context(|| format!("--mhz {mhz}: expected rcc, or two frequencies like 64,32"))?;
    Ok(Clocks::Fixed {
        cpu1_hz: mhz1 * 1_000_000,
        cpu2_hz: mhz2 * 1_000_000,
    })
}

/// The machine with the device and images loaded, reset and ready to run, and the device's
/// note (kept when the device is saved).
fn prepare(a: &Args) -> Result<(Machine, String, Option<wb_machine::Device>)> {
    let config = Config {
        clocks: clocks(&a.mhz)?,
        quantum: a.quantum_ns.max(1) * 1000,
        ..Config::default()
    };
    let mut m = Machine::new(config).context("creating the machine")?;
    let mut note = String::new();
    let mut start = None;
    if let Some(path) = &a.device {
        let dev = super::device::load(path)?;
        m.load_device(&dev);
        note = dev.note.clone();
        start = Some(dev);
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
    Ok((m, note, start))
}

/// Looks for the `--until-uart` text in each UART's output as it grows, reading each byte
/// about once.
struct TextWatch<'a> {
    text: &'a [u8],
    /// Bytes of each output already searched (the last `text.len() - 1` are searched again,
    /// for a text that straddles two slices).
    searched: [usize; 2],
}

impl TextWatch<'_> {
    /// The port whose output so far holds the text.
    fn seen(&mut self, output: &[Vec<u8>; 2]) -> Option<Uart> {
        let n = self.text.len();
        for (i, out) in output.iter().enumerate() {
            let from = self.searched[i].saturating_sub(n - 1);
            self.searched[i] = out.len();
            if out[from..].windows(n).any(|w| w == self.text) {
                return Some(UARTS[i]);
            }
        }
        None
    }
}

pub fn run(a: Args) -> Result<ExitCode> {
    // Check a replay before anything else happens.
    let replay = match &a.replay_input {
        Some(path) => Some((path.clone(), input_log::load(path)?)),
        None => None,
    };
    if a.until_uart.as_deref() == Some("") {
        bail!("--until-uart: the text is empty");
    }
    if a.record_scenario.is_some() {
        // What scenario files cannot say yet.
        if a.mhz != "rcc" || a.quantum_ns != wb_machine::machine::DEFAULT_QUANTUM / 1000 {
            bail!("--record-scenario: scenarios run with the RCC's clocks and the default quantum (no --mhz, --quantum-ns)");
        }
        if a.cpu1.is_none() && a.cpu2.is_some() {
            bail!("--record-scenario: a run with --cpu2 alone holds CPU1 until a reset; a scenario without CPU1 holds it after every reset (give --cpu1)");
        }
    }
    let (mut m, note, start_device) = prepare(&a)?;
    let mut scenario = a
        .record_scenario
        .as_ref()
        .map(|out| record::ScenarioRecord {
            out: out.clone(),
            device: start_device,
            inputs: Vec::new(),
        });
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
    let streaming = a.trace_flash || a.trace_flash_jsonl.is_some();
    let mut stream = FlashStream {
        // With --json, stdout is the report alone.
        lines: a.trace_flash && !a.json,
        jsonl,
        written: 0,
        error: None,
    };
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
        // Looking at the UART output or the flash log as the run goes needs pauses (ones that
        // change nothing).
        (None, _) => Host::None {
            sliced: a.until_uart.is_some() || streaming,
        },
    };
    let limit = a.max_time;
    m.set_cycle_limit(a.max_cycles.map(|n| (CoreId::Cpu1, n)));
    let mut power_cuts = Vec::new();
    let mut lockups = Vec::new();
    let mut output: [Vec<u8>; 2] = Default::default();
    let mut watch = a.until_uart.as_deref().map(|t| TextWatch {
        text: t.as_bytes(),
        searched: [0; 2],
    });
    let (start_sim, start_wall) = (m.now(), std::time::Instant::now());
    let end = loop {
        let exit = host.run_slice(&mut m, limit);
        host.take_output(&mut m, &mut output);
        if streaming {
            for r in m.ended_flash_ops(stream.written) {
                stream.ended(&r);
            }
        }
        // A cut or a CPU2 lockup in this slice is recorded before anything ends the run.
        match exit {
            Exit::PowerCut(hit) => {
                let plan = a.cut_power.expect("only an armed cut happens");
                power_cuts.push(CutReport::of(&m, plan, hit, a.seed));
            }
            Exit::Lockup(CoreId::Cpu2) if !a.stop_on_lockup => lockups.push(LockupReport {
                core: CoreId::Cpu2.name(),
                at_us: us(m.now()),
                pc: wb_inspect::hex32(m.stats(CoreId::Cpu2).pc),
            }),
            _ => {}
        }
        if let Some(port) = watch.as_mut().and_then(|w| w.seen(&output)) {
            break End::UartText(port);
        }
        match exit {
            Exit::PowerCut(_) => {}
            Exit::Lockup(CoreId::Cpu2) if !a.stop_on_lockup => {}
            Exit::Limit if m.cycle_limit_reached() => {
                break End::CycleLimit(a.max_cycles.expect("a limit was set"))
            }
            Exit::Limit if m.now() < limit => {
                let injected = host.inject(&mut m)?;
                if let Some(r) = scenario.as_mut() {
                    r.inputs.extend(injected);
                }
                if let Host::Live { .. } = host {
                    // Real time: wait until the wall clock catches up with the simulation.
                    let sim = std::time::Duration::from_nanos((m.now() - start_sim) / 1000);
                    if let Some(ahead) = sim.checked_sub(start_wall.elapsed()) {
                        std::thread::sleep(ahead);
                    }
                }
            }
            exit => break End::Machine(exit),
        }
    };
    if let Host::Replay { inputs, next, .. } = &host {
        if let Some(first) = inputs.get(*next) {
            eprintln!(
                "wbemu: warning: {} recorded input(s) from line {} on were not replayed: the run \
                 ended at {:.3} us, before {:.3} us (were the run's options the ones recorded?)",
                inputs.len() - next,
                first.line,
                us(m.now()),
                us(first.at)
            );
        }
    }
    if let Some(r) = &scenario {
        let demo = a.cpu1.is_none() && a.cpu2.is_none() && a.device.is_none();
        let setup = record::Setup {
            cpu1: a.cpu1.as_deref().map(|p| (p, a.cpu1_base)),
            cpu2: a.cpu2.as_deref().map(|p| (p, a.cpu2_base)),
            vectors: m.boot_vectors(),
            demo,
            cut: a.cut_power.map(|c| (c, a.seed)),
            max_time: a.max_time,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        };
        // A BKPT stops the scenario where it stopped the run (the scenario runs on to its
        // max_time otherwise); any other end is a time.
        let end_at = match end {
            End::Machine(Exit::Bkpt(..)) => a.max_time,
            _ => m.now(),
        };
        r.write(&setup, end_at)?;
    }
    if a.save {
        let path = a.device.as_ref().expect("clap: --save requires --device");
        let mut end = m.device();
        end.note = note;
        super::device::save(&end, path)?;
    }
    let log = m.flash_log();
    if streaming {
        for r in m.ended_flash_ops(stream.written) {
            stream.ended(&r);
        }
    }
    let ended = stream.written;
    // Operations still running: last in the JSON lines, so the file lists every one.
    for r in &log[ended..] {
        stream.write_json(r);
    }
    let device = m.device();
    let digests = Digests::of(&device);
    let report = Report {
        uart_output: UARTS
            .iter()
            .zip(&output)
            .filter(|(_, out)| !out.is_empty())
            .map(|(port, out)| (port.name(), UartReport::of(out)))
            .collect(),
        flash_digest: digests.all.clone(),
        flash_digests: digests,
        exit: ExitReport::of(end),
        simulated_us: us(m.now()),
        power_cuts,
        lockups,
        flash_ops: a.trace_flash.then(|| log.iter().map(FlashOp::of).collect()),
        cores: CoreId::ALL
            .iter()
            .map(|&id| CoreReport::of(&m, id))
            .collect(),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report.print(a.trace_flash, &log[ended..], log.len());
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
    // The first failure that applies decides the exit code.
    if matches!(end, End::Machine(Exit::Lockup(_))) {
        return Ok(ExitCode::from(code::LOCKUP));
    }
    if let (Some(text), false) = (&a.until_uart, matches!(end, End::UartText(_))) {
        eprintln!(
            "wbemu: --until-uart {text:?}: not sent before the run ended ({})",
            report.exit.text
        );
        return Ok(ExitCode::from(code::UART_TEXT_NOT_SEEN));
    }
    if let Some(cut) = a.cut_power.filter(|_| report.power_cuts.is_empty()) {
        eprintln!(
            "wbemu: --cut-power {}: the run ended first ({}, after {} flash operations)",
            cut,
            report.exit.text,
            log.len()
        );
        return Ok(ExitCode::from(code::CUT_NOT_MADE));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_until_uart_text_is_found_across_slices_and_ports() {
        let mut w = TextWatch {
            text: b"done",
            searched: [0; 2],
        };
        let mut out: [Vec<u8>; 2] = Default::default();
        out[1].extend(b"script do");
        assert_eq!(w.seen(&out), None);
        out[0].extend(b"noise");
        out[1].extend(b"ne\r\n");
        assert_eq!(w.seen(&out), Some(Uart::Lpuart1));
    }
}
