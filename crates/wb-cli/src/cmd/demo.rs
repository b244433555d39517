//! `wbemu demo`: the end-to-end demo behind `make run`. A virgin device, as shipped, is
//! written to a temp dir (or `--device` is used); it gets the operator image on CPU1 and a
//! signed wireless-stack image in user flash. The operator starts CPU2, which boots the FUS,
//! asks it to install the stack, polls, and talks to the stack once it runs. The narration
//! comes from the machine: each core's boots, the operator's console, every FUS phase (from
//! the FUS's own state record in flash), option-byte loads, a progress bar while the stack is
//! decrypted into place, and simulated against host time.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use wb_firmware::images::{download_address, Stack, WS_1_0_0, WS_1_1_0};
use wb_host::fus::describe;
use wb_inspect::boots::{BootStory, Cause};
use wb_inspect::fus::{self, Operation};
use wb_inspect::info_table::{self, Cpu2Firmware};
use wb_inspect::options::Options;
use wb_inspect::wb_proto::fus::{FusError, Opcode};
use wb_inspect::wb_proto::layout::{self, operator as op, record as rec};
use wb_inspect::{hex32, oplog, version_text};
use wb_machine::{Boot, BootCause, Config, CoreId, Machine, ResetCause, Uart};
use wb_periph::flash::FlashOpKind;

#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 the requested stack version runs and the operator's \
    script ended; 1 it does not (the FUS's answers are named); 2 a host error."
)]
pub struct Args {
    /// Device file to start from (default: a "virgin" device, as shipped, in a temp dir).
    #[arg(long)]
    device: Option<PathBuf>,
    /// Write the device back to --device at the end.
    #[arg(long, requires = "device")]
    save: bool,
    /// Keep the temp-dir device at the end (and print where it is) instead of removing it.
    #[arg(long, conflicts_with = "device")]
    keep: bool,
    /// Sample stack to install: 1.0.0 (16 KiB) or 1.1.0 (132 KiB).
    #[arg(long, default_value = "1.0.0")]
    stack: String,
    /// Give up after this much simulated time, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    max_ms: u64,
    /// Print a JSON summary (with every narrated event) instead of the narration.
    #[arg(long)]
    json: bool,
    /// Write the device the demo starts from (the stack image and the operator's script in
    /// user flash, before anything ran) to FILE, and go on: `wbemu run --device FILE --cpu1
    /// OPERATOR.elf` (see `wbemu firmware export`) reruns the flow.
    #[arg(long, value_name = "FILE")]
    export_device: Option<PathBuf>,
}

use wb_machine::picos::MS;
/// Simulated time per step of the narration loop.
const SLICE: u64 = 5 * MS;

#[derive(Serialize)]
struct Event {
    t_us: f64,
    /// "machine" (boots, option loads), "cpu1" (the operator's console) or "fus" (its record).
    source: &'static str,
    text: String,
    #[serde(flatten)]
    what: What,
}

/// What an event is, with its fields.
#[derive(Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum What {
    Start {
        image_address: String,
        image_bytes: usize,
    },
    Boot {
        core: &'static str,
        vector: String,
        /// What the vector holds: user flash, the FUS, the wireless stack, safeboot...
        firmware: String,
        cause: String,
    },
    OptionLoad {
        sfsa: String,
        srrvr: String,
        cpu2_vector: String,
        sram2a_secure_kib: u32,
        sram2b_secure_kib: u32,
    },
    /// A line of the operator's USART1 console.
    Console,
    FusPhase {
        operation: Operation,
        phase: u32,
        phase_name: &'static str,
    },
    FusIdle {
        /// The Table 14 error the next FUS_GET_STATE reports.
        error: Option<String>,
        error_code: Option<u8>,
    },
}

/// An answer the operator logged (docs/fus-layout.md §6).
#[derive(Serialize)]
struct Answer {
    step: Option<u32>,
    opcode: String,
    command: String,
    status: String,
    /// The first payload byte (FUS_GET_STATE: the error code).
    payload: Option<String>,
}

#[derive(Serialize)]
struct Summary {
    stack: String,
    device: String,
    completed: bool,
    /// What CPU2 runs at the end, from its device information table.
    running: Option<String>,
    /// Why the demo failed, naming the FUS's answer; none on success.
    failure: Option<String>,
    answers: Vec<Answer>,
    simulated_us: f64,
    host_us: f64,
    cpu1_instructions: u64,
    cpu2_instructions: u64,
    flash_operations: usize,
    flash_programs: usize,
    flash_erases: usize,
    option_programs: usize,
    system_resets: usize,
    cpu2_boots: usize,
    sfr: String,
    srrvr: String,
    events: Vec<Event>,
}

/// The script: two FUS_GET_STATE (a running stack hands over to the FUS at the second, by a
/// reset: AN5185 §2.1), install, poll until the stack runs, then an echo through it.
fn script() -> Vec<u8> {
    let steps: [[u32; 4]; 5] = [
        [op::op::GET_STATE, 0, 0, 0],
        [op::op::GET_STATE, 0, 0, 0],
        [op::op::FW_UPGRADE, 0, 0, 0],
        [op::op::POLL, 100, 200, 0],
        [op::op::ECHO, 0x5742_454D, 0, 0],
    ];
    let mut w = vec![op::SCRIPT_MAGIC, steps.len() as u32];
    w.extend(steps.iter().flatten());
    w.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The option bytes in force.
fn options(m: &Machine) -> Options {
    Options::live(m.with_flash(|f| *f.options()))
}

fn boot_event(m: &Machine, b: &Boot) -> (String, What) {
    let story = BootStory::of(b, &options(m));
    let what = What::Boot {
        core: b.core.name(),
        vector: hex32(b.vector),
        firmware: story.target.to_string(),
        cause: Cause(b.cause).to_string(),
    };
    (story.to_string(), what)
}

/// A change of option bytes (they go live at the OBL_LAUNCH reset).
fn options_event(old: &Options, new: &Options) -> (String, What) {
    let vector = new.cpu2_boot().vector;
    let text = format!(
        "option bytes loaded: SFSA {:#04x} -> {:#04x}, SRRVR {:#010x} -> {:#010x} \
         (CPU2 vector {vector:#010x}, secure SRAM2a {} KiB, SRAM2b {} KiB)",
        old.sfr() & 0xFF,
        new.sfr() & 0xFF,
        old.srrvr(),
        new.srrvr(),
        new.sram2a_secure_kib(),
        new.sram2b_secure_kib(),
    );
    let what = What::OptionLoad {
        sfsa: format!("{:#04x}", new.sfr() & 0xFF),
        srrvr: hex32(new.srrvr()),
        cpu2_vector: hex32(vector),
        sram2a_secure_kib: new.sram2a_secure_kib(),
        sram2b_secure_kib: new.sram2b_secure_kib(),
    };
    (text, what)
}

/// What the narration shows and keeps: events in time order, and the decrypt progress bar.
struct Narrator {
    json: bool,
    events: Vec<Event>,
    bar: Option<ProgressBar>,
}

impl Narrator {
    fn say(&mut self, t: u64, source: &'static str, text: String, what: What) {
        if !self.json {
            let line = format!("[{:9.3} ms] {source:>7} | {text}", t as f64 / 1e9);
            let print = || println!("{line}");
            match &self.bar {
                Some(bar) => bar.suspend(print),
                None => print(),
            }
        }
        self.events.push(Event {
            t_us: t as f64 / 1e6,
            source,
            text,
            what,
        });
    }

    /// Show `done` of `total` bytes decrypted; `None` ends the bar.
    fn progress(&mut self, work: Option<(u64, u64)>) {
        match (work, &self.bar) {
            (Some((done, total)), Some(bar)) => {
                bar.set_length(total);
                bar.set_position(done.min(total));
            }
            (Some((done, total)), None) if !self.json => {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "            decrypting into place [{bar:40}] {bytes}/{total_bytes}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_position(done.min(total));
                self.bar = Some(bar);
            }
            (None, Some(bar)) => {
                bar.finish_and_clear();
                self.bar = None;
            }
            _ => {}
        }
    }
}

/// The device to start from: `--device`, or a virgin one written to a fresh temp dir.
fn prepare_device(a: &Args) -> Result<(PathBuf, Option<PathBuf>)> {
    if let Some(p) = &a.device {
        return Ok((p.clone(), None));
    }
    let dir = std::env::temp_dir().join(format!("wbemu-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("device.wbdev");
    let virgin = wb_firmware::presets::preset("virgin").expect("virgin preset");
    super::device::save(&(virgin.build)(), &path)?;
    Ok((path, Some(dir)))
}

pub fn run(a: Args) -> Result<ExitCode> {
    let stack: Stack = match a.stack.as_str() {
        "1.0.0" => WS_1_0_0,
        "1.1.0" => WS_1_1_0,
        s => bail!("--stack {s}: the sample stack comes as 1.0.0 or 1.1.0"),
    };
    let (path, temp_dir) = prepare_device(&a)?;
    let result = demo(&a, stack, &path, temp_dir.is_some());
    if let Some(dir) = temp_dir {
        if a.keep && result.is_ok() {
            eprintln!(
                "wbemu: the device is kept at {} (try: wbemu device info {0})",
                path.display()
            );
        } else {
            // Best effort: a temp dir left behind harms nothing.
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}

fn demo(a: &Args, stack: Stack, path: &Path, temp: bool) -> Result<ExitCode> {
    let device = super::device::load(path)?;
    let sfsa0 = Options::decode(&device.option_bytes).sfr() & 0xFF;
    let mut m = Machine::new(Config::default()).context("creating the machine")?;
    m.load_device(&device);
    m.load_elf_bytes("operator", wb_firmware::OPERATOR)?;
    let image = stack.image();
    let at = download_address(sfsa0, image.len());
    if !m.poke(at, &image) || !m.poke(op::SCRIPT_ADDR, &script()) {
        bail!(
            "{}: an image of {} bytes does not fit below SFSA {sfsa0:#x}",
            path.display(),
            image.len()
        );
    }
    if let Some(export) = &a.export_device {
        let mut start = m.device();
        start.note = format!("wbemu demo --stack {} start", a.stack);
        super::device::save(&start, export)?;
    }
    m.set_boot(layout::FLASH_BASE, None);
    m.reset(ResetCause::PowerOn);
    let mut n = Narrator {
        json: a.json,
        events: Vec::new(),
        bar: None,
    };
    let what = if temp { "virgin device" } else { "device" };
    n.say(
        0,
        "machine",
        format!(
            "{what} {}; operator image on CPU1, stack {} ({} bytes) written at {at:#010x}",
            path.display(),
            version_text(stack.version),
            image.len()
        ),
        What::Start {
            image_address: hex32(at),
            image_bytes: image.len(),
        },
    );

    let started = std::time::Instant::now();
    // The story starts at the power-on above (the machine's own earlier resets are set-up).
    let (mut boots_seen, mut console) = (m.boots().len() - 1, String::new());
    let mut opts = options(&m);
    let mut fus_state = fus::state_record(&m).map(|r| (r.operation, r.phase, r.error));
    let mut ended_at = None;
    while m.now() < a.max_ms * MS && ended_at.is_none_or(|t| m.now() < t + 4 * SLICE) {
        // Pauses that change nothing: the narration does not alter the run it tells.
        m.run_past(m.now() + SLICE);
        let now = m.now();
        let mut slice: Vec<(u64, &'static str, String, What)> = Vec::new();
        let mut loaded_at = now;
        for b in &m.boots()[boots_seen..] {
            let (text, what) = boot_event(&m, b);
            slice.push((b.at, "machine", text, what));
            if b.cause == BootCause::Reset(ResetCause::OptionLoad) {
                loaded_at = b.at;
            }
        }
        boots_seen = m.boots().len();
        let now_opts = options(&m);
        if now_opts != opts {
            // Option bytes go live at the OBL_LAUNCH reset.
            let (text, what) = options_event(&opts, &now_opts);
            slice.push((loaded_at, "machine", text, what));
            opts = now_opts;
        }
        console.push_str(&String::from_utf8_lossy(&m.uart_take(Uart::Usart1)));
        while let Some(i) = console.find('\n') {
            let line: String = console.drain(..=i).collect();
            slice.push((now, "cpu1", line.trim_end().to_string(), What::Console));
        }
        let record = fus::state_record(&m);
        let state = record.map(|r| (r.operation, r.phase, r.error));
        if state != fus_state {
            if let Some(r) = record {
                let (text, what) = match (r.operation, r.error) {
                    (Operation::Idle, None) => (
                        "idle".to_string(),
                        What::FusIdle {
                            error: None,
                            error_code: None,
                        },
                    ),
                    (Operation::Idle, Some(e)) => (
                        format!("idle, error {e:?} recorded for the next FUS_GET_STATE"),
                        What::FusIdle {
                            error: Some(format!("{e:?}")),
                            error_code: Some(u8::from(e)),
                        },
                    ),
                    (operation, _) => (
                        format!("phase {}: {}", r.phase, r.phase_name()),
                        What::FusPhase {
                            operation,
                            phase: r.phase,
                            phase_name: r.phase_name(),
                        },
                    ),
                };
                slice.push((now, "fus", text, what));
            }
            fus_state = state;
        }
        slice.sort_by_key(|e| e.0);
        for (t, source, text, what) in slice {
            n.say(t, source, text, what);
        }
        let decrypting =
            record.filter(|r| r.operation == Operation::Install && r.phase == rec::phase::DECRYPT);
        n.progress(decrypting.map(|r| {
            let page = u64::from(layout::PAGE_SIZE);
            (
                u64::from(r.progress) * page,
                u64::from(r.image_len).div_ceil(page) * page,
            )
        }));
        // The operator's log in SRAM1 says when its script has ended; a few more slices let
        // its console catch up.
        if oplog::read(&m).is_some_and(|log| log.ended()) {
            ended_at.get_or_insert(now);
        }
    }
    n.progress(None);

    let answers = oplog::read(&m).map_or(Vec::new(), |log| {
        log.entries
            .iter()
            .filter_map(|e| match e.event {
                oplog::Event::Response {
                    opcode,
                    status,
                    first,
                } => Some((e.step, opcode, status, first)),
                _ => None,
            })
            .collect()
    });
    let running = info_table::read(&m, options(&m).ipccdba()).map(|t| Cpu2Firmware::of(&t));
    let failure = judge(&stack, ended_at.is_some(), running, &answers);
    let completed = failure.is_none();

    let log = m.flash_log();
    let count = |f: fn(FlashOpKind) -> bool| log.iter().filter(|r| f(r.kind)).count();
    let end_opts = options(&m);
    let boots = m.boots();
    let summary = Summary {
        stack: version_text(stack.version),
        device: path.display().to_string(),
        completed,
        running: running.as_ref().map(describe),
        failure: failure.clone(),
        answers: answers
            .iter()
            .map(|&(step, opcode, status, first)| Answer {
                step,
                opcode: format!("{opcode:#06x}"),
                command: fus::command_name(opcode),
                status: format!("{status:#04x}"),
                payload: first.map(|b| format!("{b:#04x}")),
            })
            .collect(),
        simulated_us: m.now() as f64 / 1e6,
        host_us: started.elapsed().as_secs_f64() * 1e6,
        cpu1_instructions: m.stats(CoreId::Cpu1).insns,
        cpu2_instructions: m.stats(CoreId::Cpu2).insns,
        flash_operations: log.len(),
        flash_programs: count(FlashOpKind::is_program),
        flash_erases: count(FlashOpKind::is_erase),
        option_programs: count(|k| k == FlashOpKind::OptionProgram),
        system_resets: boots
            .iter()
            .filter(|b| b.core == CoreId::Cpu1 && b.cause != BootCause::Reset(ResetCause::PowerOn))
            .count(),
        cpu2_boots: boots.iter().filter(|b| b.core == CoreId::Cpu2).count(),
        sfr: format!("{:#x}", end_opts.sfr()),
        srrvr: hex32(end_opts.srrvr()),
        events: n.events,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        let verdict = match &failure {
            None => format!("stack {} installed and running", summary.stack),
            Some(why) => format!("FAILED: {why}"),
        };
        println!("{verdict}");
        println!(
            "simulated {:.1} ms in {:.1} ms of host time ({:.2}x real time); \
             CPU1 {} / CPU2 {} instructions; {} flash operations ({} programs, {} erases, \
             {} option-byte programs); {} system resets, {} CPU2 boots; SFSA {:#04x}, SRRVR {:#010x}",
            summary.simulated_us / 1e3, summary.host_us / 1e3,
            summary.simulated_us / summary.host_us,
            summary.cpu1_instructions, summary.cpu2_instructions, summary.flash_operations,
            summary.flash_programs, summary.flash_erases, summary.option_programs,
            summary.system_resets, summary.cpu2_boots, end_opts.sfr() & 0xFF, end_opts.srrvr()
        );
    }
    if a.save || (temp && a.keep) {
        let mut end = m.device();
        end.note = device.note;
        super::device::save(&end, path)?;
    }
    if let Some(why) = failure {
        if a.json {
            eprintln!("wbemu: demo failed: {why}");
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Why the demo failed, or `None` when the requested stack runs and the script ended. The
/// reason names the FUS's answers that were not a success.
fn judge(
    stack: &Stack,
    script_ended: bool,
    running: Option<Cpu2Firmware>,
    answers: &[(Option<u32>, u32, u32, Option<u8>)],
) -> Option<String> {
    let wanted = version_text(stack.version);
    let runs_it = matches!(running, Some(Cpu2Firmware::WirelessStack { version, .. })
        if version.triple() == stack.version.triple());
    if runs_it && script_ended {
        return None;
    }
    let mut why = vec![match running {
        None => format!("stack {wanted} is not running (CPU2 wrote no device information table)"),
        Some(f) if runs_it => format!(
            "{} runs, but the operator's script did not end",
            describe(&f)
        ),
        Some(f) => format!(
            "stack {wanted} is not running: CPU2 runs the {}",
            describe(&f)
        ),
    }];
    for &(_, opcode, status, first) in answers {
        let get_state = opcode == u32::from(Opcode::FusGetState as u16);
        let name = fus::command_name(opcode);
        if get_state && status == 0xFF {
            // AN5185 Table 13/14: state ERROR, the error code follows.
            let error = first.map_or("no error code".to_string(), |e| {
                fus::error_name(FusError::from(e))
            });
            why.push(format!("{name} answered state 0xff (error): {error}"));
        } else if !get_state && status != 0 {
            why.push(format!("{name} answered status {status:#04x}"));
        }
    }
    Some(why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wb_inspect::wb_proto::image::Version;

    const GET_STATE: u32 = 0xFC52;
    const FW_UPGRADE: u32 = 0xFC54;

    #[test]
    fn the_old_stack_still_running_is_a_failure_that_names_the_answers() {
        // What happened before the demo judged by the version: the stack, not the FUS,
        // answered FUS_FW_UPGRADE, and 1.0.0 went on running.
        let old = Cpu2Firmware::WirelessStack {
            version: Version(0x0100_0001),
            fus_version: layout::FUS_VERSION,
        };
        let answers = [
            (Some(0), GET_STATE, 0xFF, Some(0xFF)),
            (Some(1), FW_UPGRADE, 0xFF, None),
        ];
        let why = judge(&WS_1_1_0, true, Some(old), &answers).expect("a failure");
        assert!(
            why.starts_with("stack 1.1.0 is not running: CPU2 runs the wireless stack 1.0.0"),
            "{why}"
        );
        assert!(why.contains("FUS_FW_UPGRADE answered status 0xff"), "{why}");
        // The same stack running after the script ended is the success.
        let new = Cpu2Firmware::WirelessStack {
            version: WS_1_1_0.version,
            fus_version: layout::FUS_VERSION,
        };
        assert_eq!(judge(&WS_1_1_0, true, Some(new), &answers), None);
        assert!(judge(&WS_1_1_0, false, Some(new), &answers).is_some());
    }
}
