//! The payload of an ELF file: its loadable segments placed by physical address from the
//! lowest one, gaps filled with 0xFF (as `objcopy -O binary` makes them).

use crate::Error;

/// The flattened payload and the address of its first byte.
pub fn elf_payload(raw: &[u8]) -> Result<(u32, Vec<u8>), Error> {
    let bad = |detail: String| Error::Elf(detail);
    let elf =
        goblin::elf::Elf::parse(raw).map_err(|e| bad(format!("not a valid ELF file: {e}")))?;
    let mut segs = Vec::new();
    for ph in &elf.program_headers {
        if ph.p_type != goblin::elf::program_header::PT_LOAD || ph.p_filesz == 0 {
            continue;
        }
        let data = usize::try_from(ph.p_offset)
            .ok()
            .zip(usize::try_from(ph.p_filesz).ok())
            .and_then(|(o, n)| raw.get(o..o.checked_add(n)?))
            .ok_or_else(|| {
                bad(format!(
                    "segment at {:#x}: file range {:#x}+{:#x} is outside the file",
                    ph.p_paddr, ph.p_offset, ph.p_filesz
                ))
            })?;
        segs.push((ph.p_paddr, data));
    }
    segs.sort_by_key(|s| s.0);
    let Some(&(base, _)) = segs.first() else {
        return Err(bad("no loadable segment with file contents".into()));
    };
    let end = segs
        .iter()
        .map(|(a, d)| a.saturating_add(d.len() as u64))
        .max()
        .unwrap_or(base);
    let span = end - base;
    let max = crate::format::MAX_PAYLOAD_LEN as u64;
    if span > max || base > u64::from(u32::MAX) {
        return Err(bad(format!(
            "loadable segments span {base:#x}..{end:#x} ({span} bytes), more than an image \
             carries ({max} bytes)"
        )));
    }
    let mut out = vec![0xFFu8; span as usize];
    let mut covered = base;
    for (addr, data) in segs {
        if addr < covered {
            return Err(bad(format!("segments overlap at {addr:#x}")));
        }
        let at = (addr - base) as usize;
        out.get_mut(at..at + data.len())
            .ok_or_else(|| bad(format!("segment at {addr:#x} outside the span")))?
            .copy_from_slice(data);
        covered = addr + data.len() as u64;
    }
    Ok((base as u32, out))
}
