//! Loading guest images: ELF32 ARM (program headers) or raw binaries, into flash, SRAM or
//! system memory.

use std::path::{Path, PathBuf};

use goblin::elf::{header, program_header::PT_LOAD, Elf};

use crate::memory::Memories;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The OS error follows as the source.
    #[error("{path}: cannot read")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid ELF file: {reason}")]
    BadElf { path: PathBuf, reason: String },
    #[error("{path}: ELF for {what}, expected a 32-bit little-endian ARM executable")]
    WrongTarget { path: PathBuf, what: String },
    #[error("{path}: segment {index} ({addr:#010x}..{end:#010x}) lies outside flash, SRAM and system memory")]
    SegmentOutside {
        path: PathBuf,
        index: usize,
        addr: u64,
        end: u64,
    },
    #[error("{path}: segment {index} claims file bytes {offset}..{end} but the file has {len}")]
    Truncated {
        path: PathBuf,
        index: usize,
        offset: u64,
        end: u64,
        len: usize,
    },
    #[error("{path}: a raw binary of {len} bytes does not fit at {addr:#010x}")]
    BinaryOutside {
        path: PathBuf,
        addr: u32,
        len: usize,
    },
}

/// What was loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    /// Address ranges written, `[start, end)`.
    pub ranges: Vec<(u32, u32)>,
    /// The ELF entry point (0 for raw binaries).
    pub entry: u32,
    /// Symbols (name, address) of an ELF, for tests and breakpoints.
    pub symbols: Vec<(String, u32)>,
}

impl LoadedImage {
    pub fn symbol(&self, name: &str) -> Option<u32> {
        self.symbols
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }
}

/// Load an ELF or (when `raw_base` is given) a raw binary from `path`.
pub fn load_file(
    mem: &mut Memories,
    path: &Path,
    raw_base: Option<u32>,
) -> Result<LoadedImage, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.into(),
        source,
    })?;
    match raw_base {
        Some(base) => load_binary(mem, path, &bytes, base),
        None => load_elf(mem, path, &bytes),
    }
}

pub fn load_binary(
    mem: &mut Memories,
    path: &Path,
    bytes: &[u8],
    base: u32,
) -> Result<LoadedImage, LoadError> {
    let dst = mem
        .slice_mut(base, bytes.len())
        .ok_or(LoadError::BinaryOutside {
            path: path.into(),
            addr: base,
            len: bytes.len(),
        })?;
    dst.copy_from_slice(bytes);
    Ok(LoadedImage {
        ranges: vec![(base, base + bytes.len() as u32)],
        entry: 0,
        symbols: vec![],
    })
}

pub fn load_elf(mem: &mut Memories, path: &Path, bytes: &[u8]) -> Result<LoadedImage, LoadError> {
    let elf = Elf::parse(bytes).map_err(|e| LoadError::BadElf {
        path: path.into(),
        reason: e.to_string(),
    })?;
    if elf.is_64 || !elf.little_endian || elf.header.e_machine != header::EM_ARM {
        let what = format!(
            "{}-bit {}-endian {}",
            if elf.is_64 { 64 } else { 32 },
            if elf.little_endian { "little" } else { "big" },
            header::machine_to_str(elf.header.e_machine)
        );
        return Err(LoadError::WrongTarget {
            path: path.into(),
            what,
        });
    }
    // Check every segment before writing anything: a bad file loses nothing.
    let mut plan = Vec::new();
    for (index, ph) in elf.program_headers.iter().enumerate() {
        if ph.p_type != PT_LOAD || ph.p_filesz == 0 {
            continue;
        }
        let (offset, filesz) = (ph.p_offset, ph.p_filesz);
        let end = offset.saturating_add(filesz);
        if end > bytes.len() as u64 {
            return Err(LoadError::Truncated {
                path: path.into(),
                index,
                offset,
                end,
                len: bytes.len(),
            });
        }
        // Load at the physical address: initialised data lives in flash (LMA), not in RAM.
        let addr = ph.p_paddr;
        let seg_end = addr + filesz;
        if addr > u32::MAX as u64 || mem.slice(addr as u32, filesz as usize).is_none() {
            return Err(LoadError::SegmentOutside {
                path: path.into(),
                index,
                addr,
                end: seg_end,
            });
        }
        plan.push((addr as u32, &bytes[offset as usize..end as usize]));
    }
    let mut ranges = Vec::new();
    for (addr, data) in plan {
        mem.slice_mut(addr, data.len())
            .expect("checked above")
            .copy_from_slice(data);
        ranges.push((addr, addr + data.len() as u32));
    }
    Ok(LoadedImage {
        ranges,
        entry: elf.entry as u32,
        symbols: symbols_of(&elf),
    })
}

fn symbols_of(elf: &Elf) -> Vec<(String, u32)> {
    elf.syms
        .iter()
        .filter(|s| s.st_name != 0 && s.st_value != 0)
        .filter_map(|s| {
            elf.strtab
                .get_at(s.st_name)
                .map(|n| (n.to_string(), s.st_value as u32))
        })
        .collect()
}

/// The symbols of an ELF image, without loading it; none for what is not an ELF file.
pub fn elf_symbols(bytes: &[u8]) -> Vec<(String, u32)> {
    Elf::parse(bytes).map_or(Vec::new(), |elf| symbols_of(&elf))
}
