//! Hardware semaphores (HSEM @ 0x5800_1400): 32 semaphores with 2-step (write, then read
//! back) and 1-step (read) locking, unlock protected by COREID + PROCID, a per-COREID clear
//! guarded by a key, and a "semaphore freed" interrupt per processor.
//!
//! The COREID of an access is the bus master's: 4 for CPU1, 8 for CPU2 (CMSIS
//! HSEM_CR_COREID_CPU1/CPU2). A lock write whose COREID is not the writer's is discarded, as
//! an unauthorised master's would be. Only 32-bit accesses are accepted (RM0453 rev. 2 for
//! the same IP: narrower ones "are ignored ... they generate a bus error").

use crate::{Access, BusError, BusResult, CoreId, Peripheral, ResetKind, Width};
use tracing::debug;

/// Register offsets (RM0434 §38.4), from the shared register map.
pub use wb_regs::hsem::reg;

pub const LOCK: u32 = 1 << 31;
const COREID_SHIFT: u32 = 8;
const COREID_MASK: u32 = 0xF << COREID_SHIFT;
const PROCID_MASK: u32 = 0xFF;
const KEY_MASK: u32 = 0xFFFF_0000;

/// The HSEM COREID of a bus master.
pub const fn core_id(core: CoreId) -> u32 {
    match core {
        CoreId::Cpu1 => 4,
        CoreId::Cpu2 => 8,
    }
}

/// Bits of [`Peripheral::irq_lines`]: CPU1's HSEM line, CPU2's (its combined IPCC/HSEM line).
pub mod line {
    pub const C1: u32 = 0;
    pub const C2: u32 = 1;
}

#[derive(Clone, Debug)]
pub struct Hsem {
    /// LOCK | COREID | PROCID of each semaphore; 0 when free.
    sems: [u32; 32],
    /// Interrupt enable and status, per processor.
    ier: [u32; 2],
    isr: [u32; 2],
    key: u32,
}

impl Default for Hsem {
    fn default() -> Self {
        Hsem::new()
    }
}

impl Hsem {
    pub fn new() -> Hsem {
        Hsem {
            sems: [0; 32],
            ier: [0; 2],
            isr: [0; 2],
            key: 0,
        }
    }

    /// The semaphore register `i` (LOCK | COREID | PROCID).
    pub fn semaphore(&self, i: usize) -> u32 {
        self.sems[i]
    }

    fn free(&mut self, i: usize) {
        self.sems[i] = 0;
        // Every processor is told; the first to react takes it (RM0453 §8.3.7).
        for isr in &mut self.isr {
            *isr |= 1 << i;
        }
    }

    /// Interrupt-register offsets: (processor, register offset within its bank).
    fn interrupt_reg(offset: u32) -> Option<(usize, u32)> {
        match offset {
            reg::C1IER..=reg::C1MISR => Some((0, offset - reg::C1IER)),
            reg::C2IER..=reg::C2MISR => Some((1, offset - reg::C2IER)),
            _ => None,
        }
    }
}

impl Peripheral for Hsem {
    fn name(&self) -> &'static str {
        "hsem"
    }

    fn size(&self) -> u32 {
        0x400
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        if access.width != Width::Word {
            return Err(BusError::Width);
        }
        if offset < reg::RLR0 {
            return Ok(self.sems[(offset / 4) as usize]);
        }
        if offset < reg::C1IER {
            // 1-step lock: a read of a free semaphore takes it with the reader's COREID.
            let i = ((offset - reg::RLR0) / 4) as usize;
            if self.sems[i] & LOCK == 0 {
                self.sems[i] = LOCK | core_id(access.core) << COREID_SHIFT;
                debug!(target: "wb::hsem", core = %access.core, semaphore = i, "locked (1-step read)");
            }
            return Ok(self.sems[i]);
        }
        if let Some((p, r)) = Self::interrupt_reg(offset) {
            return Ok(match r {
                0x0 => self.ier[p],
                0x4 => 0, // ICR is write-only
                0x8 => self.isr[p],
                _ => self.isr[p] & self.ier[p],
            });
        }
        match offset {
            reg::CR => Ok(0),
            reg::KEYR => Ok(self.key),
            _ => Err(BusError::Unmapped),
        }
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        if access.width != Width::Word {
            return Err(BusError::Width);
        }
        let me = core_id(access.core);
        if offset < reg::RLR0 {
            let i = (offset / 4) as usize;
            let ids = value & (COREID_MASK | PROCID_MASK);
            // The written COREID must be the writer's, for a lock as for an unlock.
            if (ids & COREID_MASK) >> COREID_SHIFT != me {
                return Ok(());
            }
            if value & LOCK != 0 {
                // 2-step lock: only a free semaphore; writes to a locked one are ignored.
                if self.sems[i] & LOCK == 0 {
                    self.sems[i] = LOCK | ids;
                    debug!(target: "wb::hsem", core = %access.core, semaphore = i,
                        procid = ids & PROCID_MASK, "locked (2-step write)");
                }
            } else if self.sems[i] == LOCK | ids {
                self.free(i);
                debug!(target: "wb::hsem", core = %access.core, semaphore = i, "unlocked");
            }
            return Ok(());
        }
        if offset < reg::C1IER {
            return Ok(()); // RLRx is read-only
        }
        if let Some((p, r)) = Self::interrupt_reg(offset) {
            match r {
                0x0 => self.ier[p] = value,
                0x4 => self.isr[p] &= !value,
                _ => {} // ISR and MISR are read-only
            }
            return Ok(());
        }
        match offset {
            // Clear every semaphore held by COREID, if the key matches.
            reg::CR => {
                if value & KEY_MASK == self.key {
                    let id = value & COREID_MASK;
                    debug!(target: "wb::hsem", core = %access.core,
                        coreid = id >> COREID_SHIFT, "semaphores of COREID cleared (HSEM_CR)");
                    for i in 0..32 {
                        if self.sems[i] & LOCK != 0 && self.sems[i] & COREID_MASK == id {
                            self.free(i);
                        }
                    }
                }
            }
            reg::KEYR => self.key = value & KEY_MASK,
            _ => return Err(BusError::Unmapped),
        }
        Ok(())
    }

    fn reset(&mut self, _kind: ResetKind) {
        *self = Hsem::new();
    }

    fn irq_lines(&self) -> u32 {
        let mut lines = 0;
        for (p, line) in [(0, line::C1), (1, line::C2)] {
            if self.isr[p] & self.ier[p] != 0 {
                lines |= 1 << line;
            }
        }
        lines
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CoreId::*;

    fn acc(core: CoreId) -> Access {
        Access::word(core, 0)
    }

    fn w(h: &mut Hsem, core: CoreId, off: u32, v: u32) {
        h.write(off, v, acc(core)).unwrap();
    }

    fn r(h: &mut Hsem, core: CoreId, off: u32) -> u32 {
        h.read(off, acc(core)).unwrap()
    }

    /// HAL_HSEM_Take: write LOCK|COREID|PROCID, then read back and compare.
    fn take(h: &mut Hsem, core: CoreId, sem: u32, procid: u32) -> bool {
        let v = LOCK | core_id(core) << 8 | procid;
        w(h, core, sem * 4, v);
        r(h, core, sem * 4) == v
    }

    #[test]
    fn two_step_lock_excludes_the_other_core_until_released() {
        let mut h = Hsem::new();
        assert!(take(&mut h, Cpu1, 2, 0));
        assert!(!take(&mut h, Cpu2, 2, 0));
        assert!(
            !take(&mut h, Cpu1, 2, 5),
            "another process of the same core"
        );
        // Unlock needs both IDs to match.
        w(&mut h, Cpu1, 2 * 4, core_id(Cpu1) << 8 | 5);
        assert_eq!(h.semaphore(2) & LOCK, LOCK);
        w(&mut h, Cpu1, 2 * 4, core_id(Cpu1) << 8);
        assert_eq!(h.semaphore(2), 0);
        assert!(take(&mut h, Cpu2, 2, 0));
    }

    #[test]
    fn a_core_cannot_lock_or_unlock_with_the_other_cores_id() {
        let mut h = Hsem::new();
        w(&mut h, Cpu1, 0, LOCK | core_id(Cpu2) << 8);
        assert_eq!(h.semaphore(0), 0);
        assert!(take(&mut h, Cpu2, 0, 1));
        w(&mut h, Cpu1, 0, core_id(Cpu2) << 8 | 1);
        assert_eq!(h.semaphore(0), LOCK | 8 << 8 | 1);
    }

    #[test]
    fn one_step_read_lock() {
        let mut h = Hsem::new();
        assert_eq!(r(&mut h, Cpu2, reg::RLR0 + 4 * 7), LOCK | 8 << 8);
        // Locked: reads report the owner, for every reader.
        assert_eq!(r(&mut h, Cpu1, reg::RLR0 + 4 * 7), LOCK | 8 << 8);
        assert_eq!(r(&mut h, Cpu1, 4 * 7), LOCK | 8 << 8);
    }

    #[test]
    fn freeing_raises_the_status_of_both_processors_and_the_enabled_lines() {
        let mut h = Hsem::new();
        assert!(take(&mut h, Cpu1, 6, 0));
        w(&mut h, Cpu2, reg::C2IER, 1 << 6);
        assert_eq!(h.irq_lines(), 0);
        w(&mut h, Cpu1, 6 * 4, core_id(Cpu1) << 8);
        assert_eq!(r(&mut h, Cpu1, reg::C1ISR), 1 << 6);
        assert_eq!(r(&mut h, Cpu1, reg::C1MISR), 0);
        assert_eq!(r(&mut h, Cpu2, reg::C2MISR), 1 << 6);
        assert_eq!(h.irq_lines(), 1 << line::C2);
        w(&mut h, Cpu2, reg::C2ICR, 1 << 6);
        assert_eq!(h.irq_lines(), 0);
        assert_eq!(
            r(&mut h, Cpu1, reg::C1ISR),
            1 << 6,
            "each side clears its own"
        );
    }

    #[test]
    fn keyed_clear_frees_every_semaphore_of_one_core() {
        let mut h = Hsem::new();
        assert!(take(&mut h, Cpu1, 1, 0));
        assert!(take(&mut h, Cpu1, 3, 9));
        assert!(take(&mut h, Cpu2, 4, 0));
        w(&mut h, Cpu2, reg::KEYR, 0xA5A5_0000);
        w(&mut h, Cpu2, reg::CR, 0x1234_0000 | 4 << 8);
        assert_eq!(h.semaphore(1) & LOCK, LOCK, "wrong key");
        w(&mut h, Cpu2, reg::CR, 0xA5A5_0000 | 4 << 8);
        assert_eq!((h.semaphore(1), h.semaphore(3)), (0, 0));
        assert_eq!(h.semaphore(4) & LOCK, LOCK);
        assert_eq!(r(&mut h, Cpu1, reg::C1ISR), 1 << 1 | 1 << 3);
    }

    #[test]
    fn reset_and_access_widths() {
        let mut h = Hsem::new();
        assert!(take(&mut h, Cpu1, 0, 0));
        let half = Access {
            width: Width::Half,
            ..acc(Cpu1)
        };
        assert_eq!(h.read(0, half), Err(BusError::Width));
        assert_eq!(h.write(0, 0, half), Err(BusError::Width));
        assert_eq!(h.read(0x148, acc(Cpu1)), Err(BusError::Unmapped));
        h.reset(ResetKind::System);
        assert_eq!(h.semaphore(0), 0);
        for off in [reg::C1IER, reg::C1ISR, reg::C2IER, reg::C2ISR, reg::KEYR] {
            assert_eq!(r(&mut h, Cpu1, off), 0);
        }
    }
}
