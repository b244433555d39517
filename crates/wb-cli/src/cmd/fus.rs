//! `wbemu fus`: STM32CubeProgrammer's FUS verbs on a device file, through the debug probe
//! (`wb_host`): CPU1 is halted at its reset vector, the probe lays out the shared tables,
//! starts CPU2 and talks to the FUS over IPCC, polling through the resets it makes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use wb_host::fus::{self, Outcome};
use wb_host::Probe;
use wb_inspect::hex32;
use wb_inspect::options::Options;

use super::parse_addr;

#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 done (for get-state: answered); 1 the FUS refused or \
    failed, or what was asked for is not what runs (the answer is named); 2 a host error (bad \
    argument or file)."
)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

/// What every verb takes.
#[derive(clap::Args)]
struct On {
    /// The device file to work on.
    #[arg(long)]
    device: PathBuf,
    /// Write the device back to --device at the end (atomically), whatever the outcome.
    #[arg(long)]
    save: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum Command {
    /// FUS_GET_STATE: the state and error code of whatever runs on CPU2.
    GetState {
        #[command(flatten)]
        on: On,
    },
    /// Install or upgrade the wireless stack from IMAGE: written at ADDR (default: AN5185
    /// §2.1's download address below the current SFSA), FUS_FW_UPGRADE, polled to the end.
    /// Succeeds when the image's version runs.
    Upgrade {
        image: PathBuf,
        #[arg(value_parser = parse_addr)]
        addr: Option<u32>,
        #[command(flatten)]
        on: On,
    },
    /// FUS_FW_DELETE: remove the wireless stack, polled to the end.
    Delete {
        #[command(flatten)]
        on: On,
    },
    /// FUS_START_WS: start the installed wireless stack. Succeeds when it announces itself.
    StartWs {
        #[command(flatten)]
        on: On,
    },
}

#[derive(Serialize)]
struct ExchangeJson {
    opcode: String,
    command: String,
    status: Option<String>,
    payload: String,
    text: String,
}

#[derive(Serialize)]
struct Report {
    verb: &'static str,
    device: String,
    ok: bool,
    failure: Option<String>,
    /// What CPU2 runs at the end ("wireless stack 1.1.0", "FUS 2.0.0").
    running: Option<String>,
    exchanges: Vec<ExchangeJson>,
    /// SFSA and SRRVR in force at the end.
    sfsa: String,
    srrvr: String,
    simulated_us: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_address: Option<String>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let (verb, on) = match &a.command {
        Command::GetState { on } => ("get-state", on),
        Command::Upgrade { on, .. } => ("upgrade", on),
        Command::Delete { on } => ("delete", on),
        Command::StartWs { on } => ("start-ws", on),
    };
    let device = super::device::load(&on.device)?;
    let mut p = Probe::with_device(&device).context("attaching the probe")?;
    let mut image_address = None;
    let outcome = match &a.command {
        Command::GetState { .. } => fus::get_state(&mut p)?,
        Command::Upgrade { image, addr, .. } => {
            let bytes = crate::files::read(image)?;
            let Some(found) = wb_image::scan(&bytes).image else {
                bail!(
                    "{}: no image footer found (see `wbemu image inspect`)",
                    image.display()
                );
            };
            let sfsa = Options::decode(&device.option_bytes).sfr() & 0xFF;
            let at = addr.unwrap_or(wb_inspect::wb_proto::layout::download_address(
                sfsa,
                bytes.len(),
            ));
            image_address = Some(at);
            fus::upgrade(&mut p, &bytes, at, found.footer.version)?
        }
        Command::Delete { .. } => fus::delete(&mut p)?,
        Command::StartWs { .. } => fus::start_ws(&mut p)?,
    };
    if on.save {
        let mut end = p.m.device();
        end.note = device.note.clone();
        super::device::save(&end, &on.device)?;
    }
    let report = report(verb, &on.device, &p, &outcome, image_address);
    if on.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn report(
    verb: &'static str,
    device: &Path,
    p: &Probe,
    outcome: &Outcome,
    image_address: Option<u32>,
) -> Report {
    let (sfr, srrvr) = p.options();
    Report {
        verb,
        device: device.display().to_string(),
        ok: outcome.failure.is_none(),
        failure: outcome.failure.clone(),
        running: outcome.running.as_ref().map(fus::describe),
        exchanges: outcome
            .exchanges
            .iter()
            .map(|e| ExchangeJson {
                opcode: format!("{:#06x}", e.opcode),
                command: wb_inspect::fus::command_name(u32::from(e.opcode)),
                status: e.status.map(|s| format!("{s:#04x}")),
                payload: e.payload.iter().map(|b| format!("{b:02x}")).collect(),
                text: e.describe(),
            })
            .collect(),
        sfsa: format!("{:#04x}", sfr & 0xFF),
        srrvr: hex32(srrvr),
        simulated_us: p.m.now() as f64 / 1e6,
        image_address: image_address.map(hex32),
    }
}

fn print(r: &Report) {
    if let Some(at) = &r.image_address {
        println!("image written at {at}");
    }
    for e in &r.exchanges {
        println!("{}", e.text);
    }
    match &r.failure {
        None => println!("{}: ok", r.verb),
        Some(why) => println!("{}: FAILED: {why}", r.verb),
    }
    println!(
        "CPU2 runs {}; SFSA {}, SRRVR {}; {:.1} ms simulated",
        r.running.as_deref().unwrap_or("nothing that answers"),
        r.sfsa,
        r.srrvr,
        r.simulated_us / 1e3
    );
}
