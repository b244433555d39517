//! The persistent part of a chip, and its file: main flash, the option-byte area, OTP and
//! engineering bytes, and the double-words whose ECC is broken. Everything else is volatile.
//!
//! File layout (version 1, little-endian; docs/device-file.md):
//!
//! ```text
//! 0   8  magic "WBEMUDEV"
//! 8   4  format version (1)
//! 12  4  section count
//! 16  .. sections: tag (4 ASCII bytes), base address, length, data, zero padding to 4 bytes
//! end 4  CRC-32/ISO-HDLC of every byte before it
//! ```
//!
//! Sections: `FLSH` flash (1 MiB at 0x0800_0000), `OPTB` option-byte area (4 KiB at
//! 0x1FFF_8000), `INFO` OTP + engineering bytes (4 KiB at 0x1FFF_7000), `ECCE` ECC errors
//! (8 bytes each: flash offset of the double-word, kind 1 = correctable, 2 = uncorrectable,
//! 3 bytes 0), `NOTE` free UTF-8 text (e.g. the preset it was made from). Each must appear
//! exactly once, except `NOTE` (optional).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use wb_periph::flash::{Ecc, OptionBytes, DOUBLE_WORD};

use crate::memory::{self, EngineeringBytes, Region};

pub const MAGIC: &[u8; 8] = b"WBEMUDEV";
pub const VERSION: u32 = 1;
const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// What a chip keeps without power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub flash: Vec<u8>,
    pub option_bytes: Vec<u8>,
    /// OTP (1 KiB) then the engineering bytes (3 KiB).
    pub info: Vec<u8>,
    /// Flash offset of each double-word with an ECC error.
    pub ecc: BTreeMap<u32, Ecc>,
    pub note: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The OS error follows as the source (printed once, after this).
    #[error("cannot read or write the device file")]
    Io(#[from] std::io::Error),
    #[error("not a wbemu device file: it starts with {} (\"{}\"), not \"WBEMUDEV\"",
        hex_bytes(found), found.escape_ascii())]
    Magic { found: Vec<u8> },
    #[error(
        "device file format version {0} is not supported (this wbemu reads version {VERSION})"
    )]
    Version(u32),
    #[error("device file truncated: {0}")]
    Truncated(&'static str),
    #[error("device file corrupt: CRC-32 {stored:#010x} stored, {computed:#010x} computed")]
    Checksum { stored: u32, computed: u32 },
    #[error("device file section {tag}: {problem}")]
    Section { tag: String, problem: String },
    #[error("device file has no {0} section")]
    Missing(&'static str),
    #[error("address range {addr:#010x}+{len:#x} is not in the device's persistent memory (flash 0x08000000-0x080fffff, OTP/engineering 0x1fff7000-0x1fff7fff, option bytes 0x1fff8000-0x1fff8fff)")]
    Range { addr: u32, len: usize },
}

/// `57 42 45 4d`: bytes as hex, spaced.
fn hex_bytes(b: &[u8]) -> String {
    b.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The persistent regions, with their section tags.
const SECTIONS: [(&[u8; 4], Region); 3] = [
    (b"FLSH", memory::FLASH),
    (b"OPTB", memory::OPTION_BYTES),
    (b"INFO", memory::INFO),
];

impl Device {
    /// A chip straight from the wafer: flash erased, OTP erased, the given option bytes and
    /// engineering bytes, no ECC errors.
    pub fn blank(options: &OptionBytes, engineering: &EngineeringBytes) -> Device {
        let mut ob = vec![0xFF; memory::OPTION_BYTES.size as usize];
        options.store(&mut ob);
        let mut info = vec![0xFF; memory::INFO.size as usize];
        engineering.store(&mut info);
        Device {
            flash: vec![0xFF; memory::FLASH.size as usize],
            option_bytes: ob,
            info,
            ecc: BTreeMap::new(),
            note: String::new(),
        }
    }

    fn region_mut(&mut self, region: Region) -> &mut Vec<u8> {
        if region == memory::FLASH {
            &mut self.flash
        } else if region == memory::OPTION_BYTES {
            &mut self.option_bytes
        } else {
            &mut self.info
        }
    }

    fn region(&self, region: Region) -> &[u8] {
        if region == memory::FLASH {
            &self.flash
        } else if region == memory::OPTION_BYTES {
            &self.option_bytes
        } else {
            &self.info
        }
    }

    /// The bytes at `addr..addr+len`, which must lie in one persistent region.
    pub fn read(&self, addr: u32, len: usize) -> Result<&[u8], DeviceError> {
        let (region, at) = locate(addr, len)?;
        Ok(&self.region(region)[at..at + len])
    }

    /// Overwrite bytes as a programmer would (no flash rules). Writing flash clears the ECC
    /// errors of the double-words it covers: the programmer rewrote them whole.
    pub fn write(&mut self, addr: u32, bytes: &[u8]) -> Result<(), DeviceError> {
        let (region, at) = locate(addr, bytes.len())?;
        self.region_mut(region)[at..at + bytes.len()].copy_from_slice(bytes);
        if region == memory::FLASH && !bytes.is_empty() {
            let first = at as u32 / DOUBLE_WORD;
            let last = (at + bytes.len() - 1) as u32 / DOUBLE_WORD;
            self.ecc.retain(|dw, _| *dw < first || *dw > last);
        }
        Ok(())
    }

    /// The option bytes as loaded at power-on, and the slots whose complement failed.
    pub fn options(&self) -> (OptionBytes, Vec<usize>) {
        OptionBytes::load(&self.option_bytes)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.flash.len() + 16 * 1024);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        let count = SECTIONS.len() as u32 + 1 + !self.note.is_empty() as u32;
        out.extend_from_slice(&count.to_le_bytes());
        for (tag, region) in SECTIONS {
            put_section(&mut out, tag, region.base, self.region(region));
        }
        let mut ecc = Vec::with_capacity(self.ecc.len() * 8);
        for (dw, kind) in &self.ecc {
            ecc.extend_from_slice(&(dw * DOUBLE_WORD).to_le_bytes());
            ecc.extend_from_slice(&[ecc_code(*kind), 0, 0, 0]);
        }
        put_section(&mut out, b"ECCE", 0, &ecc);
        if !self.note.is_empty() {
            put_section(&mut out, b"NOTE", 0, self.note.as_bytes());
        }
        let crc = CRC.checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Device, DeviceError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(DeviceError::Magic {
                found: bytes[..bytes.len().min(8)].to_vec(),
            });
        }
        if bytes.len() < 20 {
            return Err(DeviceError::Truncated("header"));
        }
        let version = le32(bytes, 8);
        if version != VERSION {
            return Err(DeviceError::Version(version));
        }
        let (body, trailer) = bytes.split_at(bytes.len() - 4);
        let stored = le32(trailer, 0);
        let computed = CRC.checksum(body);
        if stored != computed {
            return Err(DeviceError::Checksum { stored, computed });
        }
        let count = le32(body, 12);
        let mut dev = Device {
            flash: Vec::new(),
            option_bytes: Vec::new(),
            info: Vec::new(),
            ecc: BTreeMap::new(),
            note: String::new(),
        };
        let mut seen = Vec::new();
        let mut at = 16usize;
        for _ in 0..count {
            if body.len() < at + 12 {
                return Err(DeviceError::Truncated("section header"));
            }
            let tag = &body[at..at + 4];
            let name = String::from_utf8_lossy(tag).into_owned();
            let base = le32(body, at + 4);
            let len = le32(body, at + 8) as usize;
            let data = body
                .get(at + 12..at + 12 + len)
                .ok_or(DeviceError::Truncated("section data"))?;
            at += 12 + len.next_multiple_of(4);
            let bad = |problem: String| DeviceError::Section {
                tag: name.clone(),
                problem,
            };
            if seen.iter().any(|t: &Vec<u8>| t == tag) {
                return Err(bad("appears twice".into()));
            }
            seen.push(tag.to_vec());
            if let Some((_, region)) = SECTIONS.iter().find(|(t, _)| &t[..] == tag) {
                if base != region.base || len != region.size as usize {
                    return Err(bad(format!(
                        "{len:#x} bytes at {base:#010x}, expected {:#x} bytes at {:#010x}",
                        region.size, region.base
                    )));
                }
                *dev.region_mut(*region) = data.to_vec();
            } else if tag == b"ECCE" {
                if !len.is_multiple_of(8) {
                    return Err(bad(format!("length {len} is not a multiple of 8")));
                }
                for e in data.chunks_exact(8) {
                    let off = le32(e, 0);
                    let kind = match e[4] {
                        1 => Ecc::Correctable,
                        2 => Ecc::Uncorrectable,
                        k => return Err(bad(format!("unknown ECC kind {k} at offset {off:#x}"))),
                    };
                    if off >= memory::FLASH.size || !off.is_multiple_of(DOUBLE_WORD) {
                        return Err(bad(format!("offset {off:#x} is not a flash double-word")));
                    }
                    dev.ecc.insert(off / DOUBLE_WORD, kind);
                }
            } else if tag == b"NOTE" {
                dev.note =
                    String::from_utf8(data.to_vec()).map_err(|_| bad("not UTF-8 text".into()))?;
            } else {
                return Err(bad("unknown section".into()));
            }
        }
        if at != body.len() {
            return Err(DeviceError::Section {
                tag: "(after the last section)".into(),
                problem: format!("{} unexpected bytes", body.len() - at),
            });
        }
        for (tag, name) in [(&b"FLSH"[..], "FLSH"), (b"OPTB", "OPTB"), (b"INFO", "INFO")] {
            if !seen.iter().any(|t| t == tag) {
                return Err(DeviceError::Missing(name));
            }
        }
        Ok(dev)
    }

    pub fn load(path: &Path) -> Result<Device, DeviceError> {
        Device::decode(&std::fs::read(path)?)
    }

    /// Write the file atomically (see [`write_atomically`]).
    pub fn save(&self, path: &Path) -> Result<(), DeviceError> {
        Ok(write_atomically(path, &self.encode())?)
    }
}

/// Write `bytes` to `path` atomically: a temporary file beside it, synced, then renamed over
/// it. A crash or an error leaves either the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn locate(addr: u32, len: usize) -> Result<(Region, usize), DeviceError> {
    SECTIONS
        .iter()
        .map(|(_, r)| *r)
        .find(|r| r.contains(addr) && (addr - r.base) as usize + len <= r.size as usize)
        .map(|r| (r, (addr - r.base) as usize))
        .ok_or(DeviceError::Range { addr, len })
}

fn put_section(out: &mut Vec<u8>, tag: &[u8; 4], base: u32, data: &[u8]) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&base.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

fn ecc_code(e: Ecc) -> u8 {
    match e {
        Ecc::Correctable => 1,
        Ecc::Uncorrectable => 2,
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Device {
        let mut d = Device::blank(&OptionBytes::default(), &EngineeringBytes::default());
        d.write(0x0800_1000, b"hello").unwrap();
        d.ecc.insert(0x1008 / DOUBLE_WORD, Ecc::Uncorrectable);
        d.note = "test".into();
        d
    }

    #[test]
    fn encode_decode_round_trip() {
        let d = sample();
        let bytes = d.encode();
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(Device::decode(&bytes).unwrap(), d);
    }

    #[test]
    fn damaged_files_are_refused_with_the_reason() {
        let bytes = sample().encode();
        let err = |b: &[u8]| Device::decode(b).unwrap_err().to_string();
        assert!(err(b"ELF\x7f").contains("not a wbemu device file"));
        assert!(err(&bytes[..bytes.len() / 2]).contains("CRC-32"));
        let mut flipped = bytes.clone();
        flipped[0x2000] ^= 1;
        assert!(err(&flipped).contains("corrupt"));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert!(err(&v2).contains("version 2"));
        // A well-formed file whose FLSH section sits at the wrong address (CRC recomputed).
        let mut wrong = bytes[..bytes.len() - 4].to_vec();
        wrong[16 + 4..16 + 8].copy_from_slice(&0x0800_1000u32.to_le_bytes());
        let crc = CRC.checksum(&wrong);
        wrong.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            err(&wrong),
            "device file section FLSH: 0x100000 bytes at 0x08001000, expected 0x100000 bytes at 0x08000000"
        );
    }

    #[test]
    fn programmer_writes_stay_in_persistent_memory() {
        let mut d = sample();
        assert!(d.write(0x2000_0000, &[0]).is_err());
        assert!(d.write(0x080F_FFFF, &[0, 0]).is_err(), "straddles the end");
        d.write(0x0800_1008, &[0; 8]).unwrap();
        assert!(d.ecc.is_empty(), "rewritten double-word has a good ECC");
        assert_eq!(d.read(0x0800_1000, 5).unwrap(), b"hello");
    }
}
