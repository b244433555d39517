//! `wbemu firmware`: the guest programs built into wbemu (from `firmware/`, at build time),
//! listed or exported as ELF files, with the signed sample-stack images.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use wb_firmware::images::{WS_1_0_0, WS_1_1_0};
use wb_inspect::{hex32, version_text};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List the built-in guest programs: name, core, load address, size.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write every guest program to DIR as NAME.elf, and the sample stacks as signed,
    /// encrypted WS images (ws-1.0.0.img, ws-1.1.0.img, test-only keys), ready for `wbemu run
    /// --cpu1`, `wbemu image inspect` or a FUS install.
    Export { dir: PathBuf },
}

#[derive(Serialize)]
struct Entry {
    name: &'static str,
    core: &'static str,
    /// Lowest load address of its segments.
    address: String,
    /// Bytes loaded (the flash it takes).
    bytes: usize,
    about: &'static str,
}

fn entries() -> Result<Vec<Entry>> {
    wb_firmware::GUESTS
        .iter()
        .map(|g| {
            let (base, payload) =
                wb_image::elf_payload(g.elf).with_context(|| format!("built-in {}", g.name))?;
            Ok(Entry {
                name: g.name,
                core: g.core,
                address: hex32(base),
                bytes: payload.len(),
                about: g.about,
            })
        })
        .collect()
}

pub fn run(a: Args) -> Result<ExitCode> {
    match a.command {
        Command::List { json } => {
            let list = entries()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in &list {
                    println!(
                        "{:<13} {}  {}  {:>7} bytes  {}",
                        e.name, e.core, e.address, e.bytes, e.about
                    );
                }
            }
        }
        Command::Export { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for g in &wb_firmware::GUESTS {
                let path = dir.join(format!("{}.elf", g.name));
                crate::files::write(&path, g.elf)?;
                println!("{}: {} ({})", path.display(), g.about, g.core);
            }
            for stack in [WS_1_0_0, WS_1_1_0] {
                let v = version_text(stack.version);
                let path = dir.join(format!("ws-{v}.img"));
                crate::files::write(&path, &stack.image())?;
                println!(
                    "{}: WS image of sample stack {v}, signed and encrypted with the test-only ST keys",
                    path.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
