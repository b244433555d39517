//! Power control (PWR @ 0x5800_0400).
//!
//! Modelled: PWR_CR4.C2BOOT, which releases CPU2 once per reset ("once C2BOOT has been set, a
//! clear/set on C2BOOT has no effect", WPAN hw_ipcc.c), and voltage scaling (CR1.VOS with
//! SR2.VOSF during the transition). Stored without modelled effect (traced once): low-power
//! mode selection, the voltage detectors, wake-up pins, SMPS, pull-up/down configuration.

use tracing::{debug, warn};

use crate::regs::{Bank, RegDef};
use crate::{Access, BusResult, Peripheral, Picos, ResetKind};

/// Register offsets and bits (RM0434 §6.6), from the shared register map.
pub use wb_regs::pwr::{reg, CR1_VOS_SHIFT, CR4_C2BOOT, SR2_VOSF};

/// Range 2↔1 transition time tVOST: 21.4 us typical (DS11929 Tables 51-52).
pub const VOS_TRANSITION: Picos = 21_400_000;

/// CR1 resets in Range 1 (VOS=01), CR3 with the internal wake-up line enabled (EIWUL).
static REGS: [RegDef; 27] = [
    RegDef::new("CR1", reg::CR1, 0x0000_0200, 0x0000_4737),
    RegDef::new("CR2", reg::CR2, 0, 0x0000_045F),
    RegDef::new("CR3", reg::CR3, 0x0000_8000, 0x0000_FF1F),
    RegDef::new("CR4", reg::CR4, 0, 0x0000_831F),
    RegDef::new("SR1", reg::SR1, 0, 0),
    RegDef::new("SR2", reg::SR2, 0, 0),
    RegDef::new("SCR", reg::SCR, 0, 0),
    RegDef::new("CR5", reg::CR5, 0, 0x0000_817F),
    RegDef::new("PUCRA", 0x020, 0, 0xFFFF_FFFF),
    RegDef::new("PDCRA", 0x024, 0, 0xFFFF_FFFF),
    RegDef::new("PUCRB", 0x028, 0, 0xFFFF_FFFF),
    RegDef::new("PDCRB", 0x02C, 0, 0xFFFF_FFFF),
    RegDef::new("PUCRC", 0x030, 0, 0xFFFF_FFFF),
    RegDef::new("PDCRC", 0x034, 0, 0xFFFF_FFFF),
    RegDef::new("PUCRD", 0x038, 0, 0xFFFF_FFFF),
    RegDef::new("PDCRD", 0x03C, 0, 0xFFFF_FFFF),
    RegDef::new("PUCRE", 0x040, 0, 0xFFFF_FFFF),
    RegDef::new("PDCRE", 0x044, 0, 0xFFFF_FFFF),
    RegDef::new("PUCRF", 0x048, 0, 0xFFFF_FFFF),
    RegDef::new("PDCRF", 0x04C, 0, 0xFFFF_FFFF),
    RegDef::new("PUCRG", 0x050, 0, 0xFFFF_FFFF),
    RegDef::new("PDCRG", 0x054, 0, 0xFFFF_FFFF),
    RegDef::new("PUCRH", 0x058, 0, 0xFFFF_FFFF),
    RegDef::new("PDCRH", 0x05C, 0, 0xFFFF_FFFF),
    RegDef::new("C2CR1", reg::C2CR1, 0, 0x0000_C037),
    RegDef::new("C2CR3", reg::C2CR3, 0x0000_8000, 0x0000_961F),
    RegDef::new("EXTSCR", reg::EXTSCR, 0, 0),
];

#[derive(Clone, Debug)]
pub struct Pwr {
    regs: Bank,
    now: Picos,
    /// C2BOOT has been set since the last reset: CPU2 is released, further writes do nothing.
    cpu2_booted: bool,
    /// CPU2 must be started (taken by the machine).
    boot_request: bool,
    vos_done_at: Option<Picos>,
}

impl Default for Pwr {
    fn default() -> Self {
        Pwr::new()
    }
}

impl Pwr {
    pub fn new() -> Pwr {
        Pwr {
            regs: Bank::new(&REGS),
            now: 0,
            cpu2_booted: false,
            boot_request: false,
            vos_done_at: None,
        }
    }

    /// C2BOOT was set for the first time since reset: the machine starts CPU2.
    pub fn take_cpu2_boot(&mut self) -> bool {
        std::mem::take(&mut self.boot_request)
    }

    pub fn cpu2_booted(&self) -> bool {
        self.cpu2_booted
    }
}

impl Peripheral for Pwr {
    fn name(&self) -> &'static str {
        "pwr"
    }

    fn size(&self) -> u32 {
        0x400
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        self.regs.read(offset, access.width)
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        self.advance(access.now);
        let (i, old, new) = self.regs.merged(offset, value, access.width)?;
        self.regs.store(i, new);
        match offset & !3 {
            reg::CR4 => {
                if new & CR4_C2BOOT != 0 && !self.cpu2_booted {
                    self.cpu2_booted = true;
                    self.boot_request = true;
                    debug!(target: "wb::pwr", core = %access.core, "C2BOOT: CPU2 released");
                }
                if (new ^ old) & !CR4_C2BOOT != 0 {
                    self.note_stored_only(i);
                }
            }
            reg::CR1 => {
                if (new ^ old) >> CR1_VOS_SHIFT & 3 != 0 {
                    self.regs.set_bits(reg::SR2, SR2_VOSF, true);
                    self.vos_done_at = Some(self.now + VOS_TRANSITION);
                }
                if (new ^ old) & !(3 << CR1_VOS_SHIFT) != 0 {
                    self.note_stored_only(i);
                }
            }
            _ if new != old => self.note_stored_only(i),
            _ => {}
        }
        Ok(())
    }

    fn reset(&mut self, _kind: ResetKind) {
        // Every reset holds CPU2 again until C2BOOT is set.
        *self = Pwr {
            now: self.now,
            ..Pwr::new()
        };
    }

    fn next_event(&self) -> Option<Picos> {
        self.vos_done_at
    }

    fn advance(&mut self, now: Picos) {
        self.now = self.now.max(now);
        if self.vos_done_at.is_some_and(|t| t <= self.now) {
            self.vos_done_at = None;
            self.regs.set_bits(reg::SR2, SR2_VOSF, false);
        }
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

impl Pwr {
    fn note_stored_only(&mut self, index: usize) {
        if let Some(register) = self.regs.first_note(index) {
            warn!(target: "wb::pwr", register, "written: stored, but its effect is not modelled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CoreId, Width};

    fn at(now: Picos) -> Access {
        Access {
            core: CoreId::Cpu1,
            width: Width::Word,
            now,
        }
    }

    #[test]
    fn c2boot_releases_cpu2_once_per_reset() {
        let mut p = Pwr::new();
        assert!(!p.take_cpu2_boot());
        p.write(reg::CR4, CR4_C2BOOT, at(0)).unwrap();
        assert!(p.take_cpu2_boot());
        assert_eq!(p.read(reg::CR4, at(0)).unwrap(), CR4_C2BOOT);
        // Clear then set again: no effect.
        p.write(reg::CR4, 0, at(0)).unwrap();
        p.write(reg::CR4, CR4_C2BOOT, at(0)).unwrap();
        assert!(!p.take_cpu2_boot());
        p.reset(ResetKind::System);
        assert_eq!(p.read(reg::CR4, at(0)).unwrap(), 0);
        p.write(reg::CR4, CR4_C2BOOT, at(0)).unwrap();
        assert!(p.take_cpu2_boot());
    }

    #[test]
    fn voltage_scaling_takes_its_transition_time() {
        let mut p = Pwr::new();
        assert_eq!(p.read(reg::CR1, at(0)).unwrap(), 0x200);
        p.write(reg::CR1, 2 << CR1_VOS_SHIFT, at(1000)).unwrap();
        assert_ne!(p.read(reg::SR2, at(0)).unwrap() & SR2_VOSF, 0);
        assert_eq!(p.next_event(), Some(1000 + VOS_TRANSITION));
        p.advance(1000 + VOS_TRANSITION);
        assert_eq!(p.read(reg::SR2, at(0)).unwrap() & SR2_VOSF, 0);
    }
}
