//! `wbemu demo`: the end-to-end demo behind `make run`. A virgin device (or `--device`)
//! gets the operator image on CPU1 and a signed wireless-stack image in user flash; the
//! operator starts CPU2, which boots the FUS, and asks it to install the stack, polls, and
//! talks to the stack once it runs. The output narrates it: the operator's console, each
//! boot, READY event and answer, option-byte changes, flash work, and the time taken.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use wb_firmware::images::{download_address, Stack, WS_1_0_0, WS_1_1_0};
use wb_image::wb_proto::layout::{self, operator as op};
use wb_machine::{Config, CoreId, Machine, ResetCause, Uart};
use wb_periph::flash::reg;

#[derive(clap::Args)]
pub struct Args {
    /// Device file to start from (default: the "virgin" preset, as shipped).
    #[arg(long)]
    device: Option<PathBuf>,
    /// Write the device back to --device at the end.
    #[arg(long, requires = "device")]
    save: bool,
    /// Sample stack to install: 1.0.0 (16 KiB) or 1.1.0 (132 KiB).
    #[arg(long, default_value = "1.0.0")]
    stack: String,
    /// Give up after this much simulated time, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    max_ms: u64,
    /// Print a JSON summary instead of the narration.
    #[arg(long)]
    json: bool,
}

const MS: u64 = 1_000_000_000;

#[derive(Serialize)]
struct Summary {
    stack: String,
    completed: bool,
    simulated_ms: f64,
    host_ms: f64,
    cpu1_instructions: u64,
    cpu2_instructions: u64,
    flash_operations: usize,
    flash_programs: usize,
    flash_erases: usize,
    option_programs: usize,
    system_resets: u32,
    sfr: String,
    srrvr: String,
}

/// The script: state, install, poll until the stack runs, then an echo through it.
fn script() -> Vec<u32> {
    let steps: [[u32; 4]; 4] = [
        [op::op::GET_STATE, 0, 0, 0],
        [op::op::FW_UPGRADE, 0, 0, 0],
        [op::op::POLL, 100, 200, 0],
        [op::op::ECHO, 0x5742_454D, 0, 0],
    ];
    let mut w = vec![op::SCRIPT_MAGIC, steps.len() as u32];
    w.extend(steps.iter().flatten());
    w
}

fn words(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn options(m: &Machine) -> (u32, u32) {
    m.with_flash(|f| {
        let o = f.options();
        (o.get(reg::SFR).unwrap_or(0), o.get(reg::SRRVR).unwrap_or(0))
    })
}

/// One operator log entry as a narration line.
fn describe(e: [u32; 4]) -> String {
    let kind = e[0] & 0xFF;
    let step = (e[0] >> 8) & 0xFF;
    match kind {
        op::entry::BOOT => format!("CPU1 boot #{} (RCC_CSR {:#010x})", e[1], e[2]),
        op::entry::READY => format!(
            "READY from CPU2: {} (version word {:#010x})",
            if e[1] == 1 {
                "FUS running"
            } else {
                "wireless stack running"
            },
            e[3]
        ),
        op::entry::RESPONSE => format!(
            "step {step}: answer to {:#06x}: status {:#04x}{}",
            e[1],
            e[2],
            if e[3] == u32::MAX {
                String::new()
            } else {
                format!(", payload {:#04x}", e[3])
            }
        ),
        op::entry::STEP_DONE => format!("step {} done", e[1]),
        op::entry::TIMEOUT => format!("step {step}: no answer in time"),
        op::entry::END => format!("script done ({} steps)", e[1]),
        op::entry::ECHO => format!(
            "step {step}: the stack echoed {:#010x} (status {:#04x})",
            e[2], e[1]
        ),
        op::entry::BAD_SCRIPT => format!("bad script (word 0 {:#010x})", e[1]),
        k => format!("log entry {k}"),
    }
}

pub fn run(a: Args) -> Result<ExitCode> {
    let stack: Stack = match a.stack.as_str() {
        "1.0.0" => WS_1_0_0,
        "1.1.0" => WS_1_1_0,
        s => bail!("--stack {s}: the sample stack comes as 1.0.0 or 1.1.0"),
    };
    let device = match &a.device {
        Some(p) => super::device::load(p)?,
        None => (wb_firmware::presets::preset("virgin")
            .expect("virgin preset")
            .build)(),
    };
    let sfr0 = device.options().0.get(reg::SFR).unwrap_or(0x1FF);
    let mut m = Machine::new(Config::default()).context("creating the machine")?;
    m.load_device(&device);
    m.load_elf_bytes("operator", wb_firmware::OPERATOR)?;
    let image = stack.image();
    let at = download_address(sfr0 & 0xFF, image.len());
    if !m.poke(at, &image) || !m.poke(op::SCRIPT_ADDR, &words(&script())) {
        bail!(
            "image of {} bytes does not fit below SFSA {:#x}",
            image.len(),
            sfr0 & 0xFF
        );
    }
    m.set_boot(layout::FLASH_BASE, None);
    m.reset(ResetCause::PowerOn);
    let say = |line: String| {
        if !a.json {
            println!("{line}");
        }
    };
    say(format!(
        "wbemu demo: {} device, operator on CPU1, stack {} ({} bytes) written at {at:#010x}",
        if a.device.is_some() { "your" } else { "virgin" },
        stack.version,
        image.len()
    ));
    let tty = std::io::stdout().is_terminal() && !a.json;
    let started = std::time::Instant::now();
    let (mut seen, mut resets, mut opts, mut last_ops, mut console) =
        (0u32, 0u32, options(&m), 0usize, String::new());
    let mut completed = false;
    while m.now() < a.max_ms * MS {
        m.run_until(m.now() + 5 * MS);
        console.push_str(&String::from_utf8_lossy(&m.uart_take(Uart::Usart1)));
        while let Some(i) = console.find('\n') {
            let line: String = console.drain(..=i).collect();
            say(format!("  [cpu1 console] {}", line.trim_end()));
        }
        let ops = m.flash_log().len();
        if ops != last_ops && tty {
            print!(
                "\r  flash: {ops} operations, {:.1} ms simulated ",
                m.now() as f64 / 1e6 / 1e3
            );
            let _ = std::io::stdout().flush();
        }
        last_ops = ops;
        let now_opts = options(&m);
        if now_opts != opts {
            resets += 1;
            if tty {
                println!();
            }
            say(format!(
                "system reset by OBL_LAUNCH: SFSA {:#04x} -> {:#04x}, SRRVR {:#010x} -> {:#010x} (CPU2 boots {:#010x})",
                opts.0 & 0xFF, now_opts.0 & 0xFF, opts.1, now_opts.1,
                layout::FLASH_BASE + (now_opts.1 & 0x3_FFFF) * 4
            ));
            opts = now_opts;
        }
        let count = m
            .read_u32(op::LOG_ADDR + 12)
            .unwrap_or(0)
            .min(op::LOG_MAX_ENTRIES);
        while seen < count {
            let at = op::LOG_ADDR + 4 * (op::LOG_HEADER_WORDS + 4 * seen);
            let e = [0, 1, 2, 3].map(|k| m.read_u32(at + 4 * k).unwrap_or(0));
            if tty {
                println!();
            }
            say(format!("  {}", describe(e)));
            seen += 1;
            if e[0] & 0xFF == op::entry::END {
                completed = true;
            }
        }
        if completed {
            break;
        }
    }
    if tty {
        println!();
    }
    let log = m.flash_log();
    let count = |f: fn(&str) -> bool| log.iter().filter(|r| f(r.kind)).count();
    let (sfr, srrvr) = options(&m);
    let summary = Summary {
        stack: stack.version.to_string(),
        completed,
        simulated_ms: m.now() as f64 / 1e9,
        host_ms: started.elapsed().as_secs_f64() * 1e3,
        cpu1_instructions: m.stats(CoreId::Cpu1).insns,
        cpu2_instructions: m.stats(CoreId::Cpu2).insns,
        flash_operations: log.len(),
        flash_programs: count(|k| k == "program" || k == "fast-program"),
        flash_erases: count(|k| k.ends_with("erase")),
        option_programs: count(|k| k == "option-program"),
        system_resets: resets,
        sfr: format!("{sfr:#x}"),
        srrvr: format!("{srrvr:#010x}"),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{}: simulated {:.1} ms in {:.1} ms of host time ({:.2}x real time); \
             CPU1 {} / CPU2 {} instructions; {} flash operations ({} programs, {} erases, {} option-byte programs); \
             SFSA {:#04x}, SRRVR {:#010x}",
            if completed { "stack installed and running" } else { "did not finish" },
            summary.simulated_ms, summary.host_ms, summary.simulated_ms / summary.host_ms,
            summary.cpu1_instructions, summary.cpu2_instructions, summary.flash_operations,
            summary.flash_programs, summary.flash_erases, summary.option_programs,
            sfr & 0xFF, srrvr
        );
    }
    if a.save {
        let path = a.device.as_ref().expect("clap: --save requires --device");
        super::device::save(&m.device(), path)?;
    }
    Ok(if completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
