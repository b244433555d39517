//! The System Control Space of one core (0xE000_E000): NVIC, SCB, SysTick, and the few debug
//! registers software uses for timing (DWT_CYCCNT, DEMCR). Plain data: the exception model in
//! the exception model (`crate::exception`) reads and updates it; guest accesses arrive through [`Scs::read`] /
//! [`Scs::write`].

use crate::timing::CoreKind;
use tracing::warn;

/// Exception numbers (ARMv7-M / ARMv6-M).
pub mod exc {
    pub const RESET: u32 = 1;
    pub const NMI: u32 = 2;
    pub const HARDFAULT: u32 = 3;
    pub const MEMMANAGE: u32 = 4;
    pub const BUSFAULT: u32 = 5;
    pub const USAGEFAULT: u32 = 6;
    pub const SVCALL: u32 = 11;
    pub const DEBUGMON: u32 = 12;
    pub const PENDSV: u32 = 14;
    pub const SYSTICK: u32 = 15;
    pub const IRQ0: u32 = 16;
}

/// Register offsets from 0xE000_E000 (ARMv7-M / ARMv6-M ARM B3.2), from the shared register
/// map, and where this model keeps the DWT.
pub mod reg {
    pub use wb_regs::scs::reg::*;
    /// DWT sits at 0xE000_1000; the bus maps it into this model at this offset.
    pub const DWT_CTRL: u32 = 0x1_0000;
    pub const DWT_CYCCNT: u32 = 0x1_0004;
}

/// CFSR bits (M4).
pub mod cfsr {
    pub const IACCVIOL: u32 = 1 << 0;
    pub const MSTKERR: u32 = 1 << 4;
    pub const IBUSERR: u32 = 1 << 8;
    pub const PRECISERR: u32 = 1 << 9;
    pub const IMPRECISERR: u32 = 1 << 10;
    pub const UNSTKERR: u32 = 1 << 11;
    pub const STKERR: u32 = 1 << 12;
    pub const BFARVALID: u32 = 1 << 15;
    pub const UNDEFINSTR: u32 = 1 << 16;
    pub const INVSTATE: u32 = 1 << 17;
    pub const INVPC: u32 = 1 << 18;
    pub const NOCP: u32 = 1 << 19;
    pub const UNALIGNED: u32 = 1 << 24;
    pub const DIVBYZERO: u32 = 1 << 25;
}

pub const HFSR_VECTTBL: u32 = 1 << 1;
pub const HFSR_FORCED: u32 = 1 << 30;

const SHCSR_MEMFAULTENA: u32 = 1 << 16;
const SHCSR_BUSFAULTENA: u32 = 1 << 17;
const SHCSR_USGFAULTENA: u32 = 1 << 18;

pub const SCR_SLEEPONEXIT: u32 = 1 << 1;
pub const SCR_SEVONPEND: u32 = 1 << 4;

mod guest;
mod systick;

pub use systick::SysTick;

/// The System Control Space state of one core.
#[derive(Clone, Debug)]
pub struct Scs {
    pub kind: CoreKind,
    /// Number of external interrupt lines (CPU1: 63, CPU2: 32).
    pub n_irq: u32,
    pub irq_enabled: u64,
    pub irq_pending: u64,
    pub irq_active: u64,
    /// Priority byte per IRQ (only the implemented high bits are kept).
    pub irq_prio: [u8; 64],
    /// Pending / active system exceptions, bit = exception number (< 16).
    pub sys_pending: u16,
    pub sys_active: u16,
    /// Priority byte per system exception number 4..=15 (SHPR1..3).
    pub sys_prio: [u8; 16],
    /// The exception number being handled (mirror of IPSR, which the exception model sets).
    pub ipsr: u32,
    pub vtor: u32,
    pub prigroup: u32,
    pub scr: u32,
    pub ccr: u32,
    pub shcsr: u32,
    pub cfsr: u32,
    pub hfsr: u32,
    pub mmfar: u32,
    pub bfar: u32,
    pub cpacr: u32,
    pub actlr: u32,
    pub fpccr: u32,
    pub fpcar: u32,
    pub fpdscr: u32,
    pub demcr: u32,
    pub dwt_ctrl: u32,
    /// DWT_CYCCNT = core cycles - `cyccnt_base` while enabled.
    cyccnt_base: u64,
    cyccnt_frozen: u32,
    pub systick: SysTick,
    /// AIRCR.SYSRESETREQ was written with the key: the reset controller must act.
    pub reset_request: bool,
    /// Something changed that may let an exception preempt: the core must re-evaluate.
    pub attention: bool,
}

impl Scs {
    pub fn new(kind: CoreKind, n_irq: u32, vtor: u32) -> Scs {
        Scs {
            kind,
            n_irq,
            irq_enabled: 0,
            irq_pending: 0,
            irq_active: 0,
            irq_prio: [0; 64],
            sys_pending: 0,
            sys_active: 0,
            sys_prio: [0; 16],
            ipsr: 0,
            vtor,
            prigroup: 0,
            scr: 0,
            ccr: match kind {
                CoreKind::M4 => 1 << 9,                  // STKALIGN
                CoreKind::M0Plus => (1 << 9) | (1 << 3), // STKALIGN, UNALIGN_TRP (fixed)
            },
            shcsr: 0,
            cfsr: 0,
            hfsr: 0,
            mmfar: 0,
            bfar: 0,
            cpacr: 0,
            actlr: 0,
            fpccr: 0xC000_0000, // ASPEN, LSPEN
            fpcar: 0,
            fpdscr: 0,
            demcr: 0,
            dwt_ctrl: 0x4000_0000, // NUMCOMP = 4
            cyccnt_base: 0,
            cyccnt_frozen: 0,
            systick: SysTick::default(),
            reset_request: false,
            attention: false,
        }
    }

    /// Feed `h` with the state, cycle numbers relative to the core's count `cycles`.
    pub fn digest(&self, cycles: u64, h: &mut dyn std::hash::Hasher) {
        let mut c = self.clone();
        // Stopped, the counter shows its frozen value and the base is set again when it
        // starts; running, it shows the distance to the base.
        c.cyccnt_base = if self.dwt_ctrl & 1 != 0 && self.demcr & (1 << 24) != 0 {
            cycles.wrapping_sub(self.cyccnt_base)
        } else {
            0
        };
        c.systick = SysTick::default();
        h.write(format!("{c:?}").as_bytes());
        self.systick.digest(cycles, h);
    }

    pub fn is_m4(&self) -> bool {
        self.kind == CoreKind::M4
    }

    /// Priority bits implemented: 4 on this M4, 2 on the M0+.
    pub fn prio_mask(&self) -> u8 {
        match self.kind {
            CoreKind::M4 => 0xF0,
            CoreKind::M0Plus => 0xC0,
        }
    }

    /// Group priority used for preemption (AIRCR.PRIGROUP splits off sub-priority bits).
    pub fn group(&self, prio: u8) -> i32 {
        let shift = if self.is_m4() { self.prigroup + 1 } else { 0 };
        ((prio as u32 >> shift) << shift) as i32
    }

    /// Priority of exception `n` (negative for the fixed ones).
    pub fn priority(&self, n: u32) -> i32 {
        match n {
            exc::RESET => -3,
            exc::NMI => -2,
            exc::HARDFAULT => -1,
            4..=15 => self.sys_prio[n as usize] as i32,
            _ => self.irq_prio[(n - exc::IRQ0) as usize] as i32,
        }
    }

    /// Priority of exception `n` for preemption: its group priority, or the fixed negative one.
    pub fn group_priority(&self, n: u32) -> i32 {
        let p = self.priority(n);
        if p < 0 {
            p
        } else {
            self.group(p as u8)
        }
    }

    pub fn is_active(&self, n: u32) -> bool {
        if n < exc::IRQ0 {
            self.sys_active & (1 << n) != 0
        } else {
            self.irq_active & (1 << (n - exc::IRQ0)) != 0
        }
    }

    pub fn set_active(&mut self, n: u32, on: bool) {
        if n < exc::IRQ0 {
            let b = 1u16 << n;
            if on {
                self.sys_active |= b
            } else {
                self.sys_active &= !b
            }
        } else {
            let b = 1u64 << (n - exc::IRQ0);
            if on {
                self.irq_active |= b
            } else {
                self.irq_active &= !b
            }
        }
    }

    pub fn set_pending(&mut self, n: u32, on: bool) {
        if n < exc::IRQ0 {
            let b = 1u16 << n;
            if on {
                self.sys_pending |= b
            } else {
                self.sys_pending &= !b
            }
        } else {
            let b = 1u64 << (n - exc::IRQ0);
            if on {
                self.irq_pending |= b
            } else {
                self.irq_pending &= !b
            }
        }
        if on {
            self.attention = true;
        }
    }

    /// Pend external interrupt line `irq` (a peripheral's level, or NVIC_ISPR / STIR).
    pub fn pend_irq(&mut self, irq: u32) {
        if irq < self.n_irq {
            self.set_pending(exc::IRQ0 + irq, true);
        }
    }

    /// Whether configurable fault `n` is enabled in SHCSR (M4); the M0+ has none.
    pub fn fault_enabled(&self, n: u32) -> bool {
        self.is_m4()
            && match n {
                exc::MEMMANAGE => self.shcsr & SHCSR_MEMFAULTENA != 0,
                exc::BUSFAULT => self.shcsr & SHCSR_BUSFAULTENA != 0,
                exc::USAGEFAULT => self.shcsr & SHCSR_USGFAULTENA != 0,
                _ => false,
            }
    }

    /// Execution priority from the active exceptions alone (masks are added by the caller,
    /// which reads them from the engine). 256 means thread mode with nothing active.
    pub fn active_priority(&self) -> i32 {
        let mut best = 256;
        for n in 1..16u32 {
            if self.sys_active & (1 << n) != 0 {
                best = best.min(self.group_priority(n));
            }
        }
        let mut act = self.irq_active;
        while act != 0 {
            let i = act.trailing_zeros();
            act &= act - 1;
            best = best.min(self.group(self.irq_prio[i as usize]));
        }
        best
    }

    /// The pending exception that would be taken first (lowest priority value, then lowest
    /// number), with its group priority. Disabled IRQs are not candidates.
    pub fn highest_pending(&self) -> Option<(u32, i32)> {
        let mut best: Option<(u32, i32, i32)> = None; // (n, group, full)
        let mut consider = |n: u32, group: i32, full: i32| {
            if best.is_none_or(|(bn, bg, bf)| (group, full, n) < (bg, bf, bn)) {
                best = Some((n, group, full));
            }
        };
        for n in 2..16u32 {
            if self.sys_pending & (1 << n) != 0 {
                consider(n, self.group_priority(n), self.priority(n));
            }
        }
        let mut pend = self.irq_pending & self.irq_enabled;
        while pend != 0 {
            let i = pend.trailing_zeros();
            pend &= pend - 1;
            let p = self.irq_prio[i as usize];
            consider(exc::IRQ0 + i, self.group(p), p as i32);
        }
        best.map(|(n, g, _)| (n, g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_and_pending_choice() {
        let mut s = Scs::new(CoreKind::M4, 63, 0);
        assert!(s.write(0x400 + 5, 1, 0x80, 0)); // IRQ5 priority 0x80 (byte write)
        assert!(s.write(0x400 + 6, 1, 0x4F, 0)); // IRQ6 priority 0x40 (low bits dropped)
        assert_eq!(s.irq_prio[6], 0x40);
        s.write(reg::NVIC_ISER, 4, (1 << 5) | (1 << 6), 0);
        s.write(reg::NVIC_ISPR, 4, (1 << 5) | (1 << 6), 0);
        assert_eq!(s.highest_pending(), Some((exc::IRQ0 + 6, 0x40)));
        assert_eq!(s.read(reg::ICSR, 4, 0).unwrap() >> 12 & 0x1FF, 22);
        // M0+: word-only, two priority bits
        let mut m0 = Scs::new(CoreKind::M0Plus, 32, 0);
        assert!(!m0.write(0x400 + 1, 1, 0xFF, 0));
        assert!(m0.write(0x400, 4, 0xFFFF_FFFF, 0));
        assert_eq!(m0.irq_prio[1], 0xC0);
        assert_eq!(m0.read(reg::CPUID, 4, 0), Some(0x410C_C601));
    }

    #[test]
    fn aircr_needs_the_key() {
        let mut s = Scs::new(CoreKind::M0Plus, 32, 0);
        s.write(reg::AIRCR, 4, 1 << 2, 0);
        assert!(!s.reset_request);
        s.write(reg::AIRCR, 4, 0x05FA_0004, 0);
        assert!(s.reset_request);
        assert_eq!(s.read(reg::AIRCR, 4, 0).unwrap() >> 16, 0xFA05);
    }
}
