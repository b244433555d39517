//! `wbemu device`: create, inspect and edit device files (the persistent state of a chip).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use wb_machine::Device;
use wb_periph::flash::{reg, Ecc, OPTION_SLOTS, PAGES, PAGE_SIZE};

use super::parse_addr;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Make a new device file from a preset.
    New {
        file: PathBuf,
        /// Preset to start from (see --list-presets).
        #[arg(long, default_value = "blank")]
        preset: String,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
        /// List the presets and exit.
        #[arg(long, exclusive = true)]
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
            file,
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
        Command::Info { file, json } => {
            let info = Info::of(&load(&file)?);
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                info.print(&file);
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
                Some(path) => std::fs::write(&path, bytes)
                    .with_context(|| format!("writing {}", path.display()))?,
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
                (None, Some(p)) => {
                    std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?
                }
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
struct OptionInfo {
    name: &'static str,
    address: String,
    value: String,
    complement_ok: bool,
}

#[derive(Serialize)]
struct Info {
    note: String,
    option_bytes: Vec<OptionInfo>,
    /// "0", "1" or "2".
    rdp_level: &'static str,
    /// nBOOT0, nSWBOOT0, nBOOT1.
    boot: BootInfo,
    /// First secure flash page and its address, when the flash is in secure mode (FSD=0).
    sfsa: Option<u32>,
    secure_flash_from: Option<String>,
    cpu2_boot_vector: String,
    sram2a_secure_from: Option<String>,
    sram2b_secure_from: Option<String>,
    /// IPCCDBA and where the reference table is with the SHCI / MicroPython scaling (×4).
    ipccdba: u32,
    reference_table: String,
    /// Pages holding anything but 0xFF, as inclusive ranges.
    used_pages: Vec<(u32, u32)>,
    erased_pages: u32,
    ecc_errors: Vec<EccInfo>,
}

#[derive(Serialize)]
struct BootInfo {
    n_boot0: bool,
    n_swboot0: bool,
    n_boot1: bool,
}

#[derive(Serialize)]
struct EccInfo {
    address: String,
    kind: &'static str,
}

impl Info {
    fn of(dev: &Device) -> Info {
        let (ob, bad) = dev.options();
        let word = |at: u32| {
            u32::from_le_bytes(
                dev.option_bytes[at as usize..at as usize + 4]
                    .try_into()
                    .expect("4 bytes"),
            )
        };
        let option_bytes = OPTION_SLOTS
            .iter()
            .enumerate()
            .map(|(i, s)| OptionInfo {
                name: s.name,
                address: format!("{:#010x}", 0x1FFF_8000 + s.area_offset),
                value: format!("{:#010x}", word(s.area_offset)),
                complement_ok: !bad.contains(&i),
            })
            .collect();
        let optr = ob.get(reg::OPTR).unwrap_or(0);
        let ipccdba = ob.get(reg::IPCCBR).unwrap_or(0) & 0x3FFF;
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
        let sfsa = ob.secure_flash_page();
        Info {
            note: dev.note.clone(),
            option_bytes,
            rdp_level: match optr & 0xFF {
                0xAA => "0",
                0xCC => "2",
                _ => "1",
            },
            boot: BootInfo {
                n_boot0: optr & (1 << 27) != 0,
                n_swboot0: optr & (1 << 26) != 0,
                n_boot1: optr & (1 << 23) != 0,
            },
            sfsa,
            secure_flash_from: sfsa.map(|p| format!("{:#010x}", 0x0800_0000 + p * PAGE_SIZE)),
            cpu2_boot_vector: format!("{:#010x}", ob.cpu2_boot_vector()),
            sram2a_secure_from: ob
                .sram2a_secure_from()
                .map(|o| format!("{:#010x}", 0x2003_0000 + o)),
            sram2b_secure_from: ob
                .sram2b_secure_from()
                .map(|o| format!("{:#010x}", 0x2003_8000 + o)),
            ipccdba,
            reference_table: format!("{:#010x}", 0x2003_0000 + ipccdba * 4),
            used_pages,
            erased_pages: PAGES - used,
            ecc_errors: dev
                .ecc
                .iter()
                .map(|(dw, e)| EccInfo {
                    address: format!("{:#010x}", 0x0800_0000 + dw * 8),
                    kind: match e {
                        Ecc::Correctable => "correctable",
                        Ecc::Uncorrectable => "uncorrectable",
                    },
                })
                .collect(),
        }
    }

    fn print(&self, file: &Path) {
        println!(
            "device {}{}",
            file.display(),
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
        println!(
            "RDP level {}; nBOOT0={} nSWBOOT0={} nBOOT1={}",
            self.rdp_level,
            self.boot.n_boot0 as u8,
            self.boot.n_swboot0 as u8,
            self.boot.n_boot1 as u8
        );
        match (&self.sfsa, &self.secure_flash_from) {
            (Some(p), Some(a)) => println!("secure flash: from page {p:#04x} ({a})"),
            _ => println!("secure flash: none (FSD=1)"),
        }
        println!("CPU2 boot vector: {}", self.cpu2_boot_vector);
        let or_none = |o: &Option<String>| o.clone().unwrap_or_else(|| "not secure".into());
        println!(
            "secure SRAM2a from: {}; secure SRAM2b from: {}",
            or_none(&self.sram2a_secure_from),
            or_none(&self.sram2b_secure_from)
        );
        println!(
            "IPCCDBA {:#x}: reference table at {}",
            self.ipccdba, self.reference_table
        );
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
    }
}
