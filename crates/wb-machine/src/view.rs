//! Each core's view of memory, applied by the engine's TLB fill hook (1 KiB pages).
//!
//! Unicorn's virtual TLB lets a fill hook decide, per page and access type, which physical
//! address an access reaches. We use that for everything the bus decides per access:
//! - stores into flash go to a write port (an MMIO window) that feeds the flash controller,
//!   as on the chip, where flash is programmed by ordinary stores while PG is set;
//! - secure flash and secure SRAM2 are unreachable for CPU1: their pages map to an unmapped
//!   "hole" whose address encodes the original one, so the fault names the exact address;
//! - while a flash operation runs, flash reads map to another hole: the core stalls;
//! - pages holding double-words with ECC errors, and CPU1's PCROP pages, are read through a
//!   read port that checks each access. (Fetches cannot go through MMIO: the block hook
//!   checks those, see `core`.)
//!
//! Views are recomputed at every reset and whenever the flash state changes; the machine then
//! flushes the TLBs.

use unicorn_engine::unicorn_const::{MemType, Prot};
use wb_periph::CoreId;

use crate::memory::{self, SRAM2A_BASE, SRAM2B_BASE, SRAM2_SIZE};

/// Flash stores land here (offset = flash offset).
pub const WRITE_PORT: u32 = 0x7000_0000;
/// Reads of flash pages that hold ECC errors land here (offset = flash offset).
pub const READ_PORT: u32 = 0x7010_0000;
pub const PORT_SIZE: u32 = memory::FLASH.size;
/// Unmapped: accesses the view forbids (slot 0 flash, 1 SRAM, 2 the ports themselves).
const DENY_HOLE: u32 = 0x7800_0000;
const SLOT: u32 = 0x20_0000;
/// Unmapped: flash reads while an operation runs.
const STALL_HOLE: u32 = 0x7C00_0000;

/// What a core may see, beyond the fixed memory map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// CPU1 only: flash from this address up is secure (SFSA).
    pub secure_flash_from: Option<u32>,
    /// CPU1 only: secure SRAM2a/2b ranges `[start, end)`.
    pub secure_sram: Vec<(u32, u32)>,
    /// A flash operation runs: flash reads stall.
    pub flash_busy: bool,
    /// 1 KiB flash pages (offset >> 10) holding double-words with ECC errors.
    pub ecc_pages: Vec<u32>,
    /// CPU1 only: PCROP flash ranges (offsets, `[start, end)`): data reads are refused.
    pub pcrop: Vec<(u32, u32)>,
}

/// How an access that faulted in the unmapped holes is to be understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hole {
    /// The view forbids the access at this (original) address.
    Denied(u32),
    /// The flash is busy.
    Stall,
}

impl View {
    /// The view of `core` given the live option bytes and the flash state.
    pub fn new(
        core: CoreId,
        options: &wb_periph::flash::OptionBytes,
        flash_busy: bool,
        ecc_pages: Vec<u32>,
    ) -> View {
        let mut v = View {
            flash_busy,
            ecc_pages,
            ..View::default()
        };
        if core == CoreId::Cpu1 {
            v.pcrop = options.pcrop_areas().collect();
            v.secure_flash_from = options
                .secure_flash_page()
                .map(|p| memory::FLASH.base + p * wb_periph::flash::PAGE_SIZE);
            if let Some(from) = options.sram2a_secure_from() {
                v.secure_sram
                    .push((SRAM2A_BASE + from, SRAM2A_BASE + SRAM2_SIZE));
            }
            if let Some(from) = options.sram2b_secure_from() {
                v.secure_sram
                    .push((SRAM2B_BASE + from, SRAM2B_BASE + SRAM2_SIZE));
            }
        }
        v
    }

    /// Where an access of type `ty` to the page at physical address `page` goes.
    pub fn translate(&self, page: u32, ty: MemType) -> (u32, Prot) {
        let flash = memory::FLASH;
        if (WRITE_PORT..STALL_HOLE + SLOT).contains(&page) {
            return (DENY_HOLE + 2 * SLOT + (page & (SLOT - 1)), Prot::ALL);
        }
        if flash.contains(page) {
            let off = page - flash.base;
            return match ty {
                // Stores go to the controller even into secure flash: it answers WRPERR.
                MemType::WRITE => (WRITE_PORT + off, Prot::WRITE),
                _ if self.secure_flash_from.is_some_and(|s| page >= s) => {
                    (DENY_HOLE + off, Prot::ALL)
                }
                _ if self.flash_busy => (STALL_HOLE + off, Prot::ALL),
                MemType::READ
                    if self.ecc_pages.contains(&(off >> 10))
                        || self.pcrop.iter().any(|&(s, e)| off < e && s < off + 0x400) =>
                {
                    (READ_PORT + off, Prot::READ)
                }
                // One permission per fill: a fetch entry must not serve later data reads
                // (unicorn also fills for FETCH when it drops translated code of a range).
                MemType::FETCH => (page, Prot::EXEC),
                _ => (page, Prot::READ),
            };
        }
        if self.secure_sram.iter().any(|&(s, e)| page >= s && page < e) {
            return (DENY_HOLE + SLOT + (page - memory::SRAM.base), Prot::ALL);
        }
        (page, Prot::ALL)
    }
}

/// Undo a hole mapping: the unmapped physical address an access reached.
pub fn decode_hole(paddr: u32) -> Option<Hole> {
    if (STALL_HOLE..STALL_HOLE + SLOT).contains(&paddr) {
        return Some(Hole::Stall);
    }
    if !(DENY_HOLE..DENY_HOLE + 3 * SLOT).contains(&paddr) {
        return None;
    }
    let off = (paddr - DENY_HOLE) % SLOT;
    Some(Hole::Denied(match (paddr - DENY_HOLE) / SLOT {
        0 => memory::FLASH.base + off,
        1 => memory::SRAM.base + off,
        _ => WRITE_PORT + off,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wb_periph::flash::{reg, OptionBytes};

    #[test]
    fn cpu1_is_kept_out_of_secure_areas_and_cpu2_is_not() {
        let mut o = OptionBytes::default();
        o.set(reg::SFR, 0xF4);
        o.set(reg::SRRVR, 0x8000_0000 | (4 << 18) | (1 << 30)); // SRAM2a secure from 4 KiB
        let v1 = View::new(CoreId::Cpu1, &o, false, vec![]);
        let v2 = View::new(CoreId::Cpu2, &o, false, vec![]);
        let (p, _) = v1.translate(0x080F_4400, MemType::READ);
        assert_eq!(decode_hole(p + 0x12), Some(Hole::Denied(0x080F_4412)));
        assert_eq!(
            v2.translate(0x080F_4400, MemType::READ),
            (0x080F_4400, Prot::READ)
        );
        let (p, _) = v1.translate(0x2003_1000, MemType::WRITE);
        assert_eq!(decode_hole(p + 4), Some(Hole::Denied(0x2003_1004)));
        assert_eq!(
            v1.translate(0x2003_0C00, MemType::WRITE),
            (0x2003_0C00, Prot::ALL)
        );
        assert_eq!(
            v1.translate(0x2003_8000, MemType::READ),
            (0x2003_8000, Prot::ALL),
            "SRAM2b not secure"
        );
    }

    #[test]
    fn flash_stores_reach_the_write_port_and_busy_reads_stall() {
        let v = View {
            flash_busy: true,
            ecc_pages: vec![3],
            ..View::default()
        };
        assert_eq!(
            v.translate(0x0800_0C00, MemType::WRITE),
            (WRITE_PORT + 0xC00, Prot::WRITE)
        );
        let (p, _) = v.translate(0x0800_0C00, MemType::FETCH);
        assert_eq!(decode_hole(p), Some(Hole::Stall));
        let idle = View {
            ecc_pages: vec![3],
            ..View::default()
        };
        assert_eq!(
            idle.translate(0x0800_0C00, MemType::READ),
            (READ_PORT + 0xC00, Prot::READ)
        );
        assert_eq!(
            idle.translate(0x0800_0C00, MemType::FETCH),
            (0x0800_0C00, Prot::EXEC)
        );
        // The ports are not for the guest.
        let (p, _) = idle.translate(WRITE_PORT, MemType::WRITE);
        assert_eq!(decode_hole(p), Some(Hole::Denied(WRITE_PORT)));
    }
}
