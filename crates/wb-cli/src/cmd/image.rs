//! `wbemu image`: build, sign, inspect, verify and decrypt WS/FUS images
//! (docs/image-format.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use wb_image::keys::{
    find_key_file, load_signing_key, load_verifying_key, CUSTOMER_PUBLIC_KEY, CUSTOMER_SIGNING_KEY,
    ST_PUBLIC_KEY,
};
use wb_image::wb_proto::image::{FooterType, Version};
use wb_image::{BuildOptions, FoundImage, FoundTag, ImageKind, StKeys, VerifyingKey};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// Wireless stack (magic 0x23372991 with footer type 1, 0xB10C8B99 with type 2).
    Ws,
    /// FUS (magic 0x32279221).
    Fus,
    /// Other firmware (magic 0x42769811).
    Other,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Encrypt a payload (ELF or raw binary) with the ST body key, add the image footer and
    /// sign it with the ST key.
    Build {
        /// What the image holds.
        #[arg(long, value_enum)]
        kind: Kind,
        /// Version: MAJOR.MINOR.SUB, MAJOR.MINOR.SUB.BRANCH.BUILD, a raw 0x word, or "none"
        /// (0xFFFFFFFF).
        #[arg(long, value_parser = parse_version)]
        version: Version,
        /// Secure SRAM2a the image needs, KiB (1-KiB sectors).
        #[arg(long, default_value_t = 0)]
        sram2a: u8,
        /// Secure SRAM2b the image needs, KiB (1-KiB sectors).
        #[arg(long, default_value_t = 0)]
        sram2b: u8,
        /// Footer type: 1 (no pairing-data migration) or 2 (NVM section supported).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
        footer_type: u8,
        /// NVM section size, 4-KiB sectors (footer type 2 only).
        #[arg(long, default_value_t = 0)]
        nvm_size: u8,
        /// Pad the payload with 0xFF to this many bytes (e.g. 16K). The FUS installs a stack
        /// as high as its size allows, so a stack linked at a fixed address is padded to
        /// end right below the FUS.
        #[arg(long, value_parser = parse_size)]
        pad_to: Option<usize>,
        /// Directory holding *st-signing-key.pem and *st-aes-key.hex.
        #[arg(long)]
        st_key: PathBuf,
        /// Payload: an ELF file (its loadable segments, gaps filled with 0xFF) or raw bytes.
        input: PathBuf,
        /// Image file to write.
        output: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add (or replace) the customer signature tag at the end of an image.
    Sign {
        /// Customer private key (PEM), or a directory holding *customer-signing-key.pem.
        #[arg(long)]
        customer_key: PathBuf,
        /// The image, signed in place unless -o is given.
        image: PathBuf,
        /// Write the signed image here instead.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Decode the footers, descriptor and tags of an image file.
    Inspect {
        image: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check an image as the FUS would. Exit 0: valid; 1: invalid (the FUS error is printed).
    Verify {
        image: PathBuf,
        /// ST public key (PEM), or a directory holding *st-public-key.pem.
        #[arg(long)]
        st_pub: PathBuf,
        /// Customer public key (PEM) or its directory; makes the customer tag required.
        #[arg(long)]
        customer_pub: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decrypt an image's payload with the ST body key (checks the plaintext CRC).
    Decrypt {
        image: PathBuf,
        /// Directory holding *st-aes-key.hex.
        #[arg(long)]
        st_key: PathBuf,
        /// Where to write the payload.
        #[arg(long, short)]
        out: PathBuf,
    },
}

pub fn run(a: Args) -> Result<ExitCode> {
    match a.command {
        Command::Build {
            kind,
            version,
            sram2a,
            sram2b,
            footer_type,
            nvm_size,
            pad_to,
            st_key,
            input,
            output,
            json,
        } => {
            let keys = StKeys::load_dir(&st_key).context("--st-key")?;
            let raw = read(&input)?;
            let payload = if raw.starts_with(b"\x7fELF") {
                wb_image::elf_payload(&raw)
                    .map(|(_, p)| p)
                    .with_context(|| format!("{}: ELF", input.display()))?
            } else {
                raw
            };
            let payload = match pad_to {
                Some(n) if payload.len() > n => bail!(
                    "{}: payload of {} bytes does not fit --pad-to {n}",
                    input.display(),
                    payload.len()
                ),
                Some(n) => {
                    let mut p = payload;
                    p.resize(n, 0xFF);
                    p
                }
                None => payload,
            };
            let opts = BuildOptions {
                kind: match kind {
                    Kind::Ws => ImageKind::WirelessStack,
                    Kind::Fus => ImageKind::Fus,
                    Kind::Other => ImageKind::Other,
                },
                version,
                sram2a_kb: sram2a,
                sram2b_kb: sram2b,
                footer_type: if footer_type == 2 {
                    FooterType::Type2
                } else {
                    FooterType::Type1
                },
                nvm_sectors: nvm_size,
            };
            let image = wb_image::build(&payload, &opts, &keys)
                .with_context(|| format!("building from {}", input.display()))?;
            write(&output, &image)?;
            let info = wb_image::inspect(&image)?;
            let img = info
                .scan
                .image
                .as_ref()
                .ok_or_else(|| anyhow!("internal: built image not found by the scan"))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "output": output.display().to_string(),
                        "bytes": image.len(),
                        "payload_bytes": payload.len(),
                        "image": image_json(img, info.body_crc_ok),
                    }))?
                );
            } else {
                println!(
                    "{}: {} bytes, {:?} image {}, payload {} bytes, {} sectors, {}, ST-signed",
                    output.display(),
                    image.len(),
                    img.footer.magic,
                    img.footer.version,
                    payload.len(),
                    img.footer.flash_sectors,
                    img.descriptor.cipher.name()
                );
            }
        }
        Command::Sign {
            customer_key,
            image,
            out,
        } => {
            let kp = key_path(&customer_key, CUSTOMER_SIGNING_KEY)?;
            let key = load_signing_key(&kp).context("--customer-key")?;
            let bytes = read(&image)?;
            let signed = wb_image::sign_customer(&bytes, &key)
                .with_context(|| format!("{}", image.display()))?;
            let dest = out.unwrap_or(image);
            write(&dest, &signed)?;
            println!(
                "{}: customer tag added ({} bytes)",
                dest.display(),
                signed.len()
            );
        }
        Command::Inspect { image, json } => {
            let bytes = read(&image)?;
            let info = wb_image::inspect(&bytes).with_context(|| format!("{}", image.display()))?;
            let s = &info.scan;
            if json {
                let rejected: Vec<Value> = s
                    .rejected
                    .iter()
                    .map(|r| {
                        json!({
                            "magic_offset": r.magic_offset,
                            "magic": format!("{:#010x}", u32::from(r.magic)),
                            "magic_name": format!("{:?}", r.magic),
                            "reason": r.reason,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "file": image.display().to_string(),
                        "bytes": info.len,
                        "image": s.image.as_ref().map(|i| image_json(i, info.body_crc_ok)),
                        "st_tag": s.st_tag.as_ref().map(tag_json),
                        "customer_tag": s.customer_tag.as_ref().map(tag_json),
                        "rejected": rejected,
                    }))?
                );
            } else {
                print_inspection(&image, &info);
            }
        }
        Command::Verify {
            image,
            st_pub,
            customer_pub,
            json,
        } => {
            let st = load_pub(&st_pub, ST_PUBLIC_KEY).context("--st-pub")?;
            let cust = customer_pub
                .as_ref()
                .map(|p| load_pub(p, CUSTOMER_PUBLIC_KEY).context("--customer-pub"))
                .transpose()?;
            let bytes = read(&image)?;
            let verdict = wb_image::classify(&bytes, &st, cust.as_ref());
            let valid = verdict.is_ok();
            if json {
                let v = match &verdict {
                    Ok(v) => json!({
                        "file": image.display().to_string(),
                        "valid": true,
                        "fus_error": "FUS_STATE_NO_ERROR",
                        "code": 0,
                        "customer_tag": v.customer_tag.is_some(),
                        "customer_verified": v.customer_verified,
                    }),
                    Err(e) => json!({
                        "file": image.display().to_string(),
                        "valid": false,
                        "fus_error": e.fus_name(),
                        "code": u8::from(e.fus_error()),
                        "detail": e.to_string(),
                    }),
                };
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                match &verdict {
                    Ok(v) => println!(
                        "{}: valid ({:?} {}, ST signature ok{})",
                        image.display(),
                        v.image.footer.magic,
                        v.image.footer.version,
                        if v.customer_verified {
                            ", customer signature ok"
                        } else if v.customer_tag.is_some() {
                            ", customer tag present but not checked (no --customer-pub)"
                        } else {
                            ""
                        }
                    ),
                    Err(e) => println!("{}: invalid: {e}", image.display()),
                }
            }
            return Ok(if valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        Command::Decrypt { image, st_key, out } => {
            let keys = StKeys::load_dir(&st_key).context("--st-key")?;
            let bytes = read(&image)?;
            let s = wb_image::scan(&bytes);
            let img = s
                .image
                .ok_or_else(|| anyhow!("{}: no image footer found", image.display()))?;
            let plain = wb_image::decrypt(&bytes, &img, &keys.aes)
                .with_context(|| format!("{}", image.display()))?;
            write(&out, &plain)?;
            println!("{}: {} payload bytes", out.display(), plain.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

use crate::files::{read, write};

/// A key given as a file, or as a directory holding the one file with the role's suffix.
fn key_path(p: &Path, suffix: &str) -> Result<PathBuf> {
    if p.is_dir() {
        Ok(find_key_file(p, suffix)?)
    } else {
        Ok(p.to_path_buf())
    }
}

fn load_pub(p: &Path, suffix: &str) -> Result<VerifyingKey> {
    Ok(load_verifying_key(&key_path(p, suffix)?)?)
}

fn parse_version(s: &str) -> std::result::Result<Version, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(Version::NONE);
    }
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u32::from_str_radix(h, 16)
            .map(Version)
            .map_err(|e| format!("{s}: not a hex version word ({e})"));
    }
    let parts: Vec<u8> = s
        .split('.')
        .map(|p| p.parse::<u8>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("{s}: version parts must be numbers 0..=255 ({e})"))?;
    let v = match parts[..] {
        [major, minor, sub] => Version::new(major, minor, sub, 0, 0),
        [major, minor, sub, branch, build] => Version::new(major, minor, sub, branch, build),
        _ => return Err(format!("{s}: expected MAJOR.MINOR.SUB[.BRANCH.BUILD]")),
    };
    v.map_err(|e| format!("{s}: {e}"))
}

/// A byte count: decimal, 0x hex, or with a K (KiB) suffix.
fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let (digits, unit) = match s.strip_suffix(['K', 'k']) {
        Some(d) => (d, 1024),
        None => (s, 1),
    };
    let n = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(h) => usize::from_str_radix(h, 16),
        None => digits.parse(),
    }
    .map_err(|e| format!("{s}: not a size in bytes, 0x hex or KiB like 16K ({e})"))?;
    n.checked_mul(unit)
        .filter(|&n| n > 0 && n <= 1 << 20)
        .ok_or_else(|| format!("{s}: sizes go from 1 byte to 1 MiB (the flash)"))
}

fn image_json(i: &FoundImage, body_crc_ok: Option<bool>) -> Value {
    let f = &i.footer;
    let d = &i.descriptor;
    json!({
        "start": i.start,
        "descriptor_offset": i.descriptor_offset,
        "footer_offset": i.footer_offset(),
        "end": i.end,
        "magic": format!("{:#010x}", u32::from(f.magic)),
        "magic_name": format!("{:?}", f.magic),
        "footer_type": match f.footer_type { FooterType::Type1 => 1, FooterType::Type2 => 2 },
        "version": f.version.to_string(),
        "version_word": format!("{:#010x}", f.version.0),
        "sram2a_kb": f.sram2a_kb,
        "sram2b_kb": f.sram2b_kb,
        "flash_sectors": f.flash_sectors,
        "nvm_sectors": f.nvm_section_size(),
        "info1": format!("{:#010x}", f.info1),
        "check_word": format!("{:#010x}", f.info2),
        "payload_bytes": d.payload_len,
        "cipher": d.cipher.name(),
        "nonce": d.nonce.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "body_crc": format!("{:#010x}", d.body_crc),
        "plain_crc": format!("{:#010x}", d.plain_crc),
        "body_crc_ok": body_crc_ok,
    })
}

fn tag_json(t: &FoundTag) -> Value {
    json!({
        "offset": t.offset,
        "footer_offset": t.footer_offset(),
        "source": format!("{:?}", t.footer.source),
        "size": t.footer.size,
        "version": t.footer.version.to_string(),
        "version_word": format!("{:#010x}", t.footer.version.0),
    })
}

fn print_inspection(path: &Path, info: &wb_image::Inspection) {
    let s = &info.scan;
    println!("{}: {} bytes", path.display(), info.len);
    match &s.image {
        Some(i) => {
            let f = &i.footer;
            let d = &i.descriptor;
            println!(
                "image footer at {:#x}: {:?} (magic {:#010x}), footer type {}, {}",
                i.footer_offset(),
                f.magic,
                u32::from(f.magic),
                match f.footer_type {
                    FooterType::Type1 => "1",
                    FooterType::Type2 => "2",
                },
                f.version
            );
            println!(
                "  flash {} sectors of 4 KiB, SRAM2a {} KiB, SRAM2b {} KiB, NVM {} sectors, \
                 check word {:#010x}",
                f.flash_sectors,
                f.sram2a_kb,
                f.sram2b_kb,
                f.nvm_section_size(),
                f.info2
            );
            match i.start {
                Some(st) => println!(
                    "  body {st:#x}..{:#x}: {} payload bytes, {}, body CRC {:#010x} {}",
                    i.descriptor_offset,
                    d.payload_len,
                    d.cipher.name(),
                    d.body_crc,
                    match info.body_crc_ok {
                        Some(true) => "(ok)",
                        _ => "(MISMATCH)",
                    }
                ),
                None => println!(
                    "  body: {} bytes, but only {} bytes precede the descriptor (TRUNCATED)",
                    d.body_len(),
                    i.descriptor_offset
                ),
            }
        }
        None => println!("image footer: none found"),
    }
    for (name, t) in [("ST tag", &s.st_tag), ("customer tag", &s.customer_tag)] {
        match t {
            Some(t) => println!(
                "{name} at {:#x}: {}-byte signature, {}",
                t.offset, t.footer.size, t.footer.version
            ),
            None => println!("{name}: none found"),
        }
    }
    for r in &s.rejected {
        println!(
            "rejected {:?} magic at {:#x}: {}",
            r.magic, r.magic_offset, r.reason
        );
    }
}
