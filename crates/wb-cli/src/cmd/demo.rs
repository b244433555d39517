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
use wb_image::wb_proto::fus::FusError;
use wb_image::wb_proto::layout::{self, operator as op, record as rec};
use wb_machine::{Boot, BootCause, Config, CoreId, Machine, ResetCause, Uart};
use wb_periph::flash::reg;

#[derive(clap::Args)]
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
}

/// Picoseconds per millisecond.
const MS: u64 = 1_000_000_000;
/// Simulated time per step of the narration loop.
const SLICE: u64 = 5 * MS;

#[derive(Serialize)]
struct Event {
    t_ms: f64,
    /// "machine" (boots, option loads), "cpu1" (the operator's console) or "fus" (its record).
    source: &'static str,
    text: String,
}

#[derive(Serialize)]
struct Summary {
    stack: String,
    device: String,
    completed: bool,
    simulated_ms: f64,
    host_ms: f64,
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

/// The script: state, install, poll until the stack runs, then an echo through it.
fn script() -> Vec<u8> {
    let steps: [[u32; 4]; 4] = [
        [op::op::GET_STATE, 0, 0, 0],
        [op::op::FW_UPGRADE, 0, 0, 0],
        [op::op::POLL, 100, 200, 0],
        [op::op::ECHO, 0x5742_454D, 0, 0],
    ];
    let mut w = vec![op::SCRIPT_MAGIC, steps.len() as u32];
    w.extend(steps.iter().flatten());
    w.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// SFR and SRRVR as loaded.
fn options(m: &Machine) -> (u32, u32) {
    m.with_flash(|f| {
        let o = f.options();
        (o.get(reg::SFR).unwrap_or(0), o.get(reg::SRRVR).unwrap_or(0))
    })
}

/// The FUS's current state record: the valid one with the highest sequence number.
fn fus_record(m: &Machine) -> Option<[u32; rec::WORDS]> {
    let mut best: Option<[u32; rec::WORDS]> = None;
    for page in layout::FUS_RECORD_PAGES {
        let bytes = m.peek(layout::page_address(page), layout::PAGE_SIZE as usize)?;
        for slot in bytes.chunks_exact(rec::SIZE as usize) {
            let mut w = [0u32; rec::WORDS];
            for (v, b) in w.iter_mut().zip(slot.chunks_exact(4)) {
                *v = u32::from_le_bytes(b.try_into().expect("4 bytes"));
            }
            let valid = w[0] == rec::MAGIC
                && w[rec::WORDS - 1] == wb_image::format::crc32(&slot[..slot.len() - 4]);
            if valid && best.is_none_or(|b| w[rec::SEQ] > b[rec::SEQ]) {
                best = Some(w);
            }
        }
    }
    best
}

/// What a boot vector holds on this device.
fn what_boots(m: &Machine, b: &Boot) -> &'static str {
    match (b.core, b.cause) {
        (CoreId::Cpu2, BootCause::C2Boot { safeboot: true }) => "safeboot",
        (CoreId::Cpu2, _) if b.vector == layout::FUS_VECTOR => "the FUS",
        (CoreId::Cpu2, _) => {
            let sfsa = options(m).0 & 0xFF;
            if b.vector >= layout::page_address(sfsa) {
                "the wireless stack"
            } else {
                "user flash"
            }
        }
        (CoreId::Cpu1, _) => "the operator",
    }
}

fn boot_line(m: &Machine, b: &Boot) -> String {
    let why = match b.cause {
        BootCause::Reset(ResetCause::PowerOn) => "power-on reset".to_string(),
        BootCause::Reset(ResetCause::OptionLoad) => "system reset by OBL_LAUNCH".to_string(),
        BootCause::Reset(ResetCause::Software) => "system reset by SYSRESETREQ".to_string(),
        BootCause::Reset(c) => format!("{c:?} reset"),
        BootCause::C2Boot { .. } => "released by PWR_CR4.C2BOOT".to_string(),
    };
    format!(
        "{} boots {} at {:#010x} ({why})",
        match b.core {
            CoreId::Cpu1 => "CPU1",
            CoreId::Cpu2 => "CPU2",
        },
        what_boots(m, b),
        b.vector
    )
}

/// One line for a change of option bytes (they go live at the OBL_LAUNCH reset).
fn options_line(old: (u32, u32), new: (u32, u32)) -> String {
    let kib = |shift: u32, disabled: u32, v: u32| {
        if v & (1 << disabled) != 0 {
            0
        } else {
            32 - ((v >> shift) & 0x1F)
        }
    };
    format!(
        "option bytes loaded: SFSA {:#04x} -> {:#04x}, SRRVR {:#010x} -> {:#010x} \
         (CPU2 vector {:#010x}, secure SRAM2a {} KiB, SRAM2b {} KiB)",
        old.0 & 0xFF,
        new.0 & 0xFF,
        old.1,
        new.1,
        layout::FLASH_BASE + (new.1 & 0x3_FFFF) * 4,
        kib(18, 23, new.1),
        kib(25, 30, new.1),
    )
}

/// What the narration shows and keeps: events in time order, and the decrypt progress bar.
struct Narrator {
    json: bool,
    events: Vec<Event>,
    bar: Option<ProgressBar>,
}

impl Narrator {
    fn say(&mut self, t: u64, source: &'static str, text: String) {
        let t_ms = t as f64 / MS as f64;
        if !self.json {
            let line = format!("[{t_ms:9.3} ms] {source:>7} | {text}");
            let print = || println!("{line}");
            match &self.bar {
                Some(bar) => bar.suspend(print),
                None => print(),
            }
        }
        self.events.push(Event { t_ms, source, text });
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
    let sfsa0 = device.options().0.get(reg::SFR).unwrap_or(0x1FF) & 0xFF;
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
            stack.version,
            image.len()
        ),
    );

    let started = std::time::Instant::now();
    // The story starts at the power-on above (the machine's own earlier resets are set-up).
    let (mut boots_seen, mut log_seen, mut console) = (m.boots().len() - 1, 0u32, String::new());
    let mut opts = options(&m);
    let mut fus_state = fus_record(&m).map(|r| (r[rec::OP], r[rec::PHASE], r[rec::ERROR]));
    let mut ended_at = None;
    while m.now() < a.max_ms * MS && ended_at.is_none_or(|t| m.now() < t + 4 * SLICE) {
        // Pauses that change nothing: the narration does not alter the run it tells.
        m.run_past(m.now() + SLICE);
        let now = m.now();
        let mut slice: Vec<(u64, &'static str, String)> = Vec::new();
        let mut loaded_at = now;
        for b in &m.boots()[boots_seen..] {
            slice.push((b.at, "machine", boot_line(&m, b)));
            if b.cause == BootCause::Reset(ResetCause::OptionLoad) {
                loaded_at = b.at;
            }
        }
        boots_seen = m.boots().len();
        let now_opts = options(&m);
        if now_opts != opts {
            // Option bytes go live at the OBL_LAUNCH reset.
            slice.push((loaded_at, "machine", options_line(opts, now_opts)));
            opts = now_opts;
        }
        console.push_str(&String::from_utf8_lossy(&m.uart_take(Uart::Usart1)));
        while let Some(i) = console.find('\n') {
            let line: String = console.drain(..=i).collect();
            slice.push((now, "cpu1", line.trim_end().to_string()));
        }
        let record = fus_record(&m);
        let state = record.map(|r| (r[rec::OP], r[rec::PHASE], r[rec::ERROR]));
        if state != fus_state {
            if let Some((operation, phase, error)) = state {
                let text = match (operation, error) {
                    (rec::op::NONE, 0) => "idle".to_string(),
                    (rec::op::NONE, e) => {
                        format!(
                            "idle, error {:?} recorded for the next FUS_GET_STATE",
                            FusError::from(e as u8)
                        )
                    }
                    (_, _) => format!("phase {phase}: {}", rec::phase_name(operation, phase)),
                };
                slice.push((now, "fus", text));
            }
            fus_state = state;
        }
        slice.sort_by_key(|e| e.0);
        for (t, source, text) in slice {
            n.say(t, source, text);
        }
        let decrypting = record
            .filter(|r| r[rec::OP] == rec::op::INSTALL && r[rec::PHASE] == rec::phase::DECRYPT);
        n.progress(decrypting.map(|r| {
            let page = u64::from(layout::PAGE_SIZE);
            (
                u64::from(r[rec::PROGRESS]) * page,
                u64::from(r[rec::LEN]).div_ceil(page) * page,
            )
        }));
        // The operator's log in SRAM1 says when its script has ended; a few more slices let
        // its console catch up.
        let count = m
            .read_u32(op::LOG_ADDR + 12)
            .unwrap_or(0)
            .min(op::LOG_MAX_ENTRIES);
        while log_seen < count {
            let at = op::LOG_ADDR + 4 * (op::LOG_HEADER_WORDS + 4 * log_seen);
            if m.read_u32(at).unwrap_or(0) & 0xFF == op::entry::END {
                ended_at.get_or_insert(now);
            }
            log_seen += 1;
        }
    }
    n.progress(None);

    let log = m.flash_log();
    let count = |f: fn(&str) -> bool| log.iter().filter(|r| f(r.kind)).count();
    let (sfr, srrvr) = options(&m);
    let boots = m.boots();
    let stack_runs = boots
        .iter()
        .rev()
        .find(|b| b.core == CoreId::Cpu2)
        .is_some_and(|b| what_boots(&m, b) == "the wireless stack");
    let completed = ended_at.is_some() && stack_runs;
    let summary = Summary {
        stack: stack.version.to_string(),
        device: path.display().to_string(),
        completed,
        simulated_ms: m.now() as f64 / MS as f64,
        host_ms: started.elapsed().as_secs_f64() * 1e3,
        cpu1_instructions: m.stats(CoreId::Cpu1).insns,
        cpu2_instructions: m.stats(CoreId::Cpu2).insns,
        flash_operations: log.len(),
        flash_programs: count(|k| k == "program" || k == "fast-program"),
        flash_erases: count(|k| k.ends_with("erase")),
        option_programs: count(|k| k == "option-program"),
        system_resets: boots
            .iter()
            .filter(|b| b.core == CoreId::Cpu1 && b.cause != BootCause::Reset(ResetCause::PowerOn))
            .count(),
        cpu2_boots: boots.iter().filter(|b| b.core == CoreId::Cpu2).count(),
        sfr: format!("{sfr:#x}"),
        srrvr: format!("{srrvr:#010x}"),
        events: n.events,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{}: simulated {:.1} ms in {:.1} ms of host time ({:.2}x real time); \
             CPU1 {} / CPU2 {} instructions; {} flash operations ({} programs, {} erases, \
             {} option-byte programs); {} system resets, {} CPU2 boots; SFSA {:#04x}, SRRVR {:#010x}",
            if completed { "stack installed and running" } else { "did not finish" },
            summary.simulated_ms, summary.host_ms, summary.simulated_ms / summary.host_ms,
            summary.cpu1_instructions, summary.cpu2_instructions, summary.flash_operations,
            summary.flash_programs, summary.flash_erases, summary.option_programs,
            summary.system_resets, summary.cpu2_boots, sfr & 0xFF, srrvr
        );
    }
    if a.save || (temp && a.keep) {
        super::device::save(&m.device(), path)?;
    }
    Ok(if completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
