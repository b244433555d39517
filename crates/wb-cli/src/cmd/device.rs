//! `wbemu device`: create, inspect and edit device files (the persistent state of a chip).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use wb_inspect::digest::Digests;
use wb_inspect::fus::{self, RecordSummary};
use wb_inspect::options::{Options, OptionsSummary, Slot};
use wb_inspect::{hex32, version_text};
use wb_machine::Device;
use wb_periph::flash::{Ecc, PAGES, PAGE_SIZE};

use super::parse_addr;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Make a new device file from a preset (`--list-presets` lists them).
    New {
        #[arg(required_unless_present = "list_presets")]
        file: Option<PathBuf>,
        /// Preset to start from (see --list-presets).
        #[arg(long, default_value = "blank")]
        preset: String,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        /// List the presets and exit.
        #[arg(long, conflicts_with_all = ["file", "force"])]
        list_presets: bool,
    },
    /// Decode a device file: option bytes, secure areas, CPU2 boot, flash use.
    Info {
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Read bytes of flash, OTP/engineering bytes or the option-byte area.
    Read {
        file: PathBuf,
        #[arg(value_parser = parse_addr)]
        addr: u32,
        /// Number of bytes (decimal or 0x hex).
        #[arg(value_parser = parse_addr)]
        len: u32,
        /// Write the raw bytes to this file instead of printing a hex dump.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Overwrite bytes as a programmer would (no flash rules apply).
    Write {
        file: PathBuf,
        #[arg(value_parser = parse_addr)]
        addr: u32,
        /// Bytes in hex, e.g. "deadbeef" or "de ad be ef".
        #[arg(long, conflicts_with = "input", required_unless_present = "input")]
        hex: Option<String>,
        /// Take the bytes from this file.
        #[arg(long = "in")]
        input: Option<PathBuf>,
    },
}

pub fn run(a: Args) -> Result<ExitCode> {
    match a.command {
        Command::New {
            list_presets: true, ..
        } => {
            for p in wb_firmware::presets::PRESETS {
                println!("{:<10} {}", p.name, p.about);
            }
        }
        Command::New {
            file: Some(file),
            preset,
            force,
            ..
        } => {
            let Some(p) = wb_firmware::presets::preset(&preset) else {
                let names: Vec<_> = wb_firmware::presets::PRESETS
                    .iter()
                    .map(|p| p.name)
                    .collect();
                bail!("no preset {preset:?} (there are: {})", names.join(", "));
            };
            if file.exists() && !force {
                bail!("{} exists (use --force to replace it)", file.display());
            }
            save(&(p.build)(), &file)?;
            println!("{}: new device from preset {}", file.display(), p.name);
        }
        Command::New { file: None, .. } => unreachable!("clap requires FILE or --list-presets"),
        Command::Info { file, json } => {
            let info = Info::of(&load(&file)?, &file);
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                info.print();
            }
        }
        Command::Read {
            file,
            addr,
            len,
            out,
        } => {
            let dev = load(&file)?;
            let bytes = dev
                .read(addr, len as usize)
                .with_context(|| format!("{}", file.display()))?;
            match out {
                Some(path) => crate::files::write(&path, bytes)?,
                None => hex_dump(addr, bytes)?,
            }
        }
        Command::Write {
            file,
            addr,
            hex,
            input,
        } => {
            let bytes = match (hex, input) {
                (Some(h), _) => parse_hex(&h)?,
                (None, Some(p)) => crate::files::read(&p)?,
                (None, None) => unreachable!("clap requires --hex or --in"),
            };
            let mut dev = load(&file)?;
            dev.write(addr, &bytes)
                .with_context(|| format!("{}", file.display()))?;
            save(&dev, &file)?;
            println!(
                "{}: wrote {} bytes at {addr:#010x}",
                file.display(),
                bytes.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn load(path: &Path) -> Result<Device> {
    Device::load(path).with_context(|| format!("{}", path.display()))
}

pub fn save(dev: &Device, path: &Path) -> Result<()> {
    dev.save(path)
        .with_context(|| format!("saving {}", path.display()))
}

fn parse_hex(s: &str) -> Result<Vec<u8>> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = digits.trim_start_matches("0x");
    if !digits.len().is_multiple_of(2) {
        bail!("--hex {s:?}: odd number of hex digits");
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .with_context(|| format!("--hex {s:?}: {:?} is not a hex byte", &digits[i..i + 2]))
        })
        .collect()
}

fn hex_dump(addr: u32, bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for (i, line) in bytes.chunks(16).enumerate() {
        write!(out, "{:08x}:", addr as usize + i * 16)?;
        for b in line {
            write!(out, " {b:02x}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Info {
    file: String,
    note: String,
    option_bytes: Vec<Slot>,
    #[serde(flatten)]
    options: OptionsSummary,
    /// The FUS in flash (its identity block), if any.
    fus: Option<FusInfo>,
    /// The version of the safeboot in flash (its identity block), if any.
    safeboot: Option<String>,
    /// The FUS's current state record, if it has written one.
    fus_record: Option<RecordSummary>,
    /// Pages holding anything but 0xFF, as inclusive ranges.
    used_pages: Vec<(u32, u32)>,
    erased_pages: u32,
    ecc_errors: Vec<EccInfo>,
    digests: Digests,
}

#[derive(Serialize)]
struct FusInfo {
    version: String,
    version_word: String,
    memory_word: String,
}

#[derive(Serialize)]
struct EccInfo {
    address: String,
    kind: &'static str,
}

impl Info {
    fn of(dev: &Device, file: &Path) -> Info {
        let options = Options::decode(&dev.option_bytes);
        let mut used_pages: Vec<(u32, u32)> = Vec::new();
        for p in 0..PAGES {
            let page = &dev.flash[(p * PAGE_SIZE) as usize..((p + 1) * PAGE_SIZE) as usize];
            if page.iter().any(|&b| b != 0xFF) {
                match used_pages.last_mut() {
                    Some((_, end)) if *end + 1 == p => *end = p,
                    _ => used_pages.push((p, p)),
                }
            }
        }
        let used: u32 = used_pages.iter().map(|(s, e)| e - s + 1).sum();
        Info {
            file: file.display().to_string(),
            note: dev.note.clone(),
            option_bytes: options.slots.clone(),
            options: options.summary(),
            fus: fus::identity(dev).map(|id| FusInfo {
                version: version_text(id.version),
                version_word: hex32(id.version.0),
                memory_word: hex32(id.memory.0),
            }),
            safeboot: fus::safeboot(dev).map(version_text),
            fus_record: fus::state_record(dev).map(|r| r.summary()),
            used_pages,
            erased_pages: PAGES - used,
            ecc_errors: dev
                .ecc
                .iter()
                .map(|(dw, e)| EccInfo {
                    address: hex32(0x0800_0000 + dw * 8),
                    kind: match e {
                        Ecc::Correctable => "correctable",
                        Ecc::Uncorrectable => "uncorrectable",
                    },
                })
                .collect(),
            digests: Digests::of(dev),
        }
    }

    fn print(&self) {
        println!(
            "device {}{}",
            self.file,
            if self.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.note)
            }
        );
        println!("option bytes:");
        for o in &self.option_bytes {
            let check = if o.complement_ok {
                ""
            } else {
                "  COMPLEMENT MISMATCH (OPTVERR at load)"
            };
            println!("  {:<10} {} = {}{check}", o.name, o.address, o.value);
        }
        let o = &self.options;
        println!(
            "RDP level {}; nBOOT0={} nSWBOOT0={} nBOOT1={}",
            o.rdp_level, o.boot.n_boot0 as u8, o.boot.n_swboot0 as u8, o.boot.n_boot1 as u8
        );
        match (&o.sfsa, &o.secure_flash_from) {
            (Some(p), Some(a)) => println!("secure flash: from page {p} ({a})"),
            _ => println!("secure flash: none (FSD=1)"),
        }
        if o.cpu2_safeboot {
            println!(
                "CPU2 boot vector: {} (safeboot: SFR/SRRVR fail their complement check; SBRV \
                 names {})",
                o.cpu2_boot_vector, o.sbrv_vector
            );
        } else {
            println!("CPU2 boot vector: {}", o.cpu2_boot_vector);
        }
        let or_none = |o: &Option<String>| o.clone().unwrap_or_else(|| "not secure".into());
        println!(
            "secure SRAM2a from: {}; secure SRAM2b from: {}",
            or_none(&o.sram2a_secure_from),
            or_none(&o.sram2b_secure_from)
        );
        println!(
            "IPCCDBA {}: reference table at {}",
            o.ipccdba, o.reference_table
        );
        match &self.fus {
            Some(f) => println!("FUS: version {} ({})", f.version, f.version_word),
            None => println!("FUS: none in flash"),
        }
        match &self.safeboot {
            Some(v) => println!("safeboot: version {v}"),
            None => println!(
                "safeboot: none in flash (corrupted option bytes would leave CPU2 nothing to run)"
            ),
        }
        match &self.fus_record {
            Some(r) => {
                let op = match r.operation {
                    fus::Operation::Idle => "idle".to_string(),
                    other => {
                        format!("{other:?} phase {}: {}", r.phase, r.phase_name).to_lowercase()
                    }
                };
                let error = r.error.as_ref().map_or(String::new(), |e| {
                    format!(
                        ", error {e} (0x{:02x}) for the next FUS_GET_STATE",
                        r.error_code.unwrap_or(0)
                    )
                });
                println!("FUS state record #{} at {}: {op}{error}", r.seq, r.address);
                match &r.stack {
                    Some(st) => println!(
                        "wireless stack: version {} ({}) at {}",
                        st.version, st.version_word, st.address
                    ),
                    None => println!("wireless stack: none installed"),
                }
            }
            None if self.fus.is_some() => {
                println!("FUS state record: none yet; wireless stack: none installed")
            }
            None => {}
        }
        let ranges: Vec<String> = self
            .used_pages
            .iter()
            .map(|(s, e)| {
                let at = |p: u32| 0x0800_0000 + p * PAGE_SIZE;
                if s == e {
                    format!("page {s:#04x} ({:#010x})", at(*s))
                } else {
                    format!(
                        "pages {s:#04x}-{e:#04x} ({:#010x}-{:#010x})",
                        at(*s),
                        at(*e + 1) - 1
                    )
                }
            })
            .collect();
        println!(
            "flash: {} of {PAGES} pages erased; used: {}",
            self.erased_pages,
            if ranges.is_empty() {
                "none".into()
            } else {
                ranges.join(", ")
            }
        );
        if !self.ecc_errors.is_empty() {
            println!("ECC errors:");
            for e in &self.ecc_errors {
                println!("  {} {}", e.address, e.kind);
            }
        }
        let d = &self.digests;
        println!(
            "digests: user flash {} (below {}), secure flash {}, option bytes {}",
            d.user_flash, d.user_flash_end, d.secure_flash, d.option_bytes
        );
    }
}
