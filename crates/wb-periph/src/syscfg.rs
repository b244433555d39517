//! System configuration controller (SYSCFG @ 0x4001_0000).
//!
//! Modelled: SIPCR, the secure-IP control register through which CPU2 (only) makes AES1's key
//! registers, AES2, the PKA or the RNG inaccessible to CPU1 (CMSIS SYSCFG_SIPCR_SAES1..SRNG);
//! the bus enforces it. Stored without modelled effect (traced once): memory remap, FPU
//! interrupt enables, EXTI source selection, SRAM2 erase/write protection, interrupt masks.

use tracing::warn;

use crate::regs::{Bank, RegDef};
use crate::{Access, BusResult, CoreId, Peripheral, ResetKind};

/// Register offsets and bits (RM0434 §9.2), from the shared register map.
pub use wb_regs::syscfg::{reg, sipcr};

static REGS: [RegDef; 16] = [
    RegDef::new("MEMRMP", reg::MEMRMP, 0, 0x7),
    RegDef::new("CFGR1", reg::CFGR1, 0x7C00_0001, 0xFC3F_0100),
    RegDef::new("EXTICR1", reg::EXTICR1, 0, 0x7777),
    RegDef::new("EXTICR2", 0x00C, 0, 0x7777),
    RegDef::new("EXTICR3", 0x010, 0, 0x7777),
    RegDef::new("EXTICR4", 0x014, 0, 0x7777),
    RegDef::new("SCSR", reg::SCSR, 0, 0x1),
    RegDef::new("CFGR2", reg::CFGR2, 0, 0x10F),
    RegDef::new("SWPR", reg::SWPR, 0, !0),
    RegDef::new("SKR", reg::SKR, 0, 0xFF),
    RegDef::new("SWPR2", reg::SWPR2, 0, !0),
    RegDef::new("IMR1", reg::IMR1, 0, !0),
    RegDef::new("IMR2", reg::IMR2, 0, !0),
    RegDef::new("C2IMR1", reg::C2IMR1, 0, !0),
    RegDef::new("C2IMR2", reg::C2IMR2, 0, !0),
    RegDef::new("SIPCR", reg::SIPCR, 0, 0xF),
];

#[derive(Clone, Debug)]
pub struct Syscfg {
    regs: Bank,
    cpu1_sipcr_traced: bool,
}

impl Default for Syscfg {
    fn default() -> Self {
        Syscfg::new()
    }
}

impl Syscfg {
    pub fn new() -> Syscfg {
        Syscfg {
            regs: Bank::new(&REGS),
            cpu1_sipcr_traced: false,
        }
    }

    /// The secure-IP bits (see [`sipcr`]).
    pub fn sipcr(&self) -> u32 {
        self.regs.get(reg::SIPCR)
    }
}

impl Peripheral for Syscfg {
    fn name(&self) -> &'static str {
        "syscfg"
    }

    fn size(&self) -> u32 {
        0x200
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        self.regs.read(offset, access.width)
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        let (i, _old, new) = self.regs.merged(offset, value, access.width)?;
        if offset & !3 == reg::SIPCR {
            if access.core != CoreId::Cpu2 {
                if !std::mem::replace(&mut self.cpu1_sipcr_traced, true) {
                    warn!(target: "wb::syscfg", "CPU1 write to SIPCR ignored: only CPU2 sets secure IPs");
                }
                return Ok(());
            }
        } else if let Some(register) = self.regs.first_note(i) {
            warn!(target: "wb::syscfg", register, "written: stored, but its effect is not modelled");
        }
        self.regs.store(i, new);
        Ok(())
    }

    fn reset(&mut self, _kind: ResetKind) {
        *self = Syscfg::new();
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(core: CoreId) -> Access {
        Access::word(core, 0)
    }

    #[test]
    fn only_cpu2_sets_secure_ips() {
        let mut s = Syscfg::new();
        s.write(reg::SIPCR, sipcr::SAES1, acc(CoreId::Cpu1))
            .unwrap();
        assert_eq!(s.sipcr(), 0);
        s.write(reg::SIPCR, 0xFF, acc(CoreId::Cpu2)).unwrap();
        assert_eq!(s.sipcr(), 0xF);
        assert_eq!(s.read(reg::SIPCR, acc(CoreId::Cpu1)).unwrap(), 0xF);
        s.reset(ResetKind::System);
        assert_eq!(s.sipcr(), 0);
        assert_eq!(s.read(reg::CFGR1, acc(CoreId::Cpu1)).unwrap(), 0x7C00_0001);
    }
}
