//! The System Control Space of one core (0xE000_E000): NVIC, SCB, SysTick, and the few debug
//! registers software uses for timing (DWT_CYCCNT, DEMCR). Plain data: the exception model in
//! `exception.rs` reads and updates it; guest accesses arrive through [`Scs::read`] /
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

/// Register offsets from 0xE000_E000 (ARMv7-M / ARMv6-M ARM, CMSIS core_cm4.h / core_cm0plus.h).
pub mod reg {
    pub const ICTR: u32 = 0x004;
    pub const ACTLR: u32 = 0x008;
    pub const SYST_CSR: u32 = 0x010;
    pub const SYST_RVR: u32 = 0x014;
    pub const SYST_CVR: u32 = 0x018;
    pub const SYST_CALIB: u32 = 0x01C;
    pub const NVIC_ISER: u32 = 0x100;
    pub const NVIC_ICER: u32 = 0x180;
    pub const NVIC_ISPR: u32 = 0x200;
    pub const NVIC_ICPR: u32 = 0x280;
    pub const NVIC_IABR: u32 = 0x300;
    pub const NVIC_IPR: u32 = 0x400;
    pub const CPUID: u32 = 0xD00;
    pub const ICSR: u32 = 0xD04;
    pub const VTOR: u32 = 0xD08;
    pub const AIRCR: u32 = 0xD0C;
    pub const SCR: u32 = 0xD10;
    pub const CCR: u32 = 0xD14;
    pub const SHPR1: u32 = 0xD18;
    pub const SHPR2: u32 = 0xD1C;
    pub const SHPR3: u32 = 0xD20;
    pub const SHCSR: u32 = 0xD24;
    pub const CFSR: u32 = 0xD28;
    pub const HFSR: u32 = 0xD2C;
    pub const DFSR: u32 = 0xD30;
    pub const MMFAR: u32 = 0xD34;
    pub const BFAR: u32 = 0xD38;
    pub const AFSR: u32 = 0xD3C;
    pub const CPACR: u32 = 0xD88;
    pub const MPU_TYPE: u32 = 0xD90;
    pub const DEMCR: u32 = 0xDFC;
    pub const STIR: u32 = 0xF00;
    pub const FPCCR: u32 = 0xF34;
    pub const FPCAR: u32 = 0xF38;
    pub const FPDSCR: u32 = 0xF3C;
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

/// The SysTick timer, counted in core cycles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SysTick {
    pub enable: bool,
    pub tickint: bool,
    /// CLKSOURCE: 1 = the core clock, 0 = the external reference (HCLK/8 on STM32WB).
    pub core_clock: bool,
    pub countflag: bool,
    pub rvr: u32,
    /// Counter value at `start` (when the counter was last written or enabled).
    start_value: u32,
    start: u64,
    /// The core cycle at which the counter next goes from 1 to 0.
    next_wrap: Option<u64>,
}

impl SysTick {
    fn div(&self) -> u64 {
        if self.core_clock {
            1
        } else {
            8
        }
    }

    fn period(&self) -> u64 {
        (self.rvr as u64 + 1) * self.div()
    }

    /// Current counter value at core cycle `now`.
    pub fn value(&self, now: u64) -> u32 {
        if !self.enable {
            return self.start_value;
        }
        let ticks = (now.saturating_sub(self.start)) / self.div();
        let v0 = self.start_value as u64;
        if ticks <= v0 {
            (v0 - ticks) as u32
        } else {
            let t = (ticks - v0 - 1) % (self.rvr as u64 + 1);
            (self.rvr as u64 - t) as u32
        }
    }

    /// Restart counting from `value` at cycle `now`.
    fn restart(&mut self, value: u32, now: u64) {
        self.start_value = value;
        self.start = now;
        self.next_wrap = if self.enable && self.rvr != 0 {
            let first_ticks = if value > 0 {
                value as u64
            } else {
                self.rvr as u64 + 1
            };
            Some(now + first_ticks * self.div())
        } else {
            None
        };
    }

    pub fn next_wrap(&self) -> Option<u64> {
        self.next_wrap
    }

    /// Account for wraps up to cycle `now`; returns true when SysTick must be pended.
    pub fn catch_up(&mut self, now: u64) -> bool {
        let mut fire = false;
        while let Some(w) = self.next_wrap {
            if w > now {
                break;
            }
            self.countflag = true;
            fire |= self.tickint;
            self.next_wrap = Some(w + self.period());
        }
        fire
    }
}

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

    // ---- guest register interface ----

    fn cpuid(&self) -> u32 {
        match self.kind {
            CoreKind::M4 => 0x410F_C241,     // Cortex-M4 r0p1
            CoreKind::M0Plus => 0x410C_C601, // Cortex-M0+ r0p1
        }
    }

    fn icsr(&self) -> u32 {
        let mut v = self.ipsr & 0x1FF;
        if let Some((n, _)) = self.highest_pending() {
            v |= (n & 0x1FF) << 12;
        }
        if self.irq_pending != 0 {
            v |= 1 << 22; // ISRPENDING
        }
        if self.sys_pending & (1 << exc::NMI) != 0 {
            v |= 1 << 31;
        }
        if self.sys_pending & (1 << exc::PENDSV) != 0 {
            v |= 1 << 28;
        }
        if self.sys_pending & (1 << exc::SYSTICK) != 0 {
            v |= 1 << 26;
        }
        if self.is_m4() {
            // RETTOBASE: at most one active exception.
            let count = self.sys_active.count_ones() + self.irq_active.count_ones();
            if count <= 1 && self.ipsr != 0 {
                v |= 1 << 11;
            }
        }
        v
    }

    fn shpr(&self, index: usize) -> u32 {
        u32::from_le_bytes([
            self.sys_prio[index * 4],
            self.sys_prio[index * 4 + 1],
            self.sys_prio[index * 4 + 2],
            self.sys_prio[index * 4 + 3],
        ])
    }

    fn set_prio_bytes(&mut self, target: Prio, first: usize, value: u32, bytes: usize) {
        let mask = self.prio_mask();
        for k in 0..bytes {
            let b = ((value >> (8 * k)) as u8) & mask;
            let i = first + k;
            match target {
                Prio::Irq => {
                    if (i as u32) < self.n_irq {
                        self.irq_prio[i] = b;
                    }
                }
                Prio::Sys => {
                    // SHPR1 holds 4..7 (M4 only), SHPR2 11, SHPR3 14, 15; others reserved.
                    let ok = match i {
                        4..=6 => self.is_m4(),
                        11 | 14 | 15 => true,
                        12 => self.is_m4(),
                        _ => false,
                    };
                    if ok {
                        self.sys_prio[i] = b;
                    }
                }
            }
        }
        self.attention = true;
    }

    fn irq_word(&self, bits: u64, index: u32) -> u32 {
        if index * 32 >= self.n_irq {
            return 0;
        }
        let valid = if self.n_irq >= 64 {
            u64::MAX
        } else {
            (1u64 << self.n_irq) - 1
        };
        ((bits & valid) >> (index * 32)) as u32
    }

    fn valid_irq_mask(&self, index: u32, value: u32) -> u64 {
        let valid = if self.n_irq >= 64 {
            u64::MAX
        } else {
            (1u64 << self.n_irq) - 1
        };
        ((value as u64) << (index * 32)) & valid
    }

    /// Guest read. `cycles` is the core's cycle count now. `None` means a bus fault.
    pub fn read(&mut self, offset: u32, size: u32, cycles: u64) -> Option<u32> {
        let word = offset & !3;
        let v = match word {
            reg::ICTR if self.is_m4() => (self.n_irq - 1) / 32,
            reg::ACTLR if self.is_m4() => self.actlr,
            reg::SYST_CSR => {
                let mut v = self.systick.enable as u32
                    | (self.systick.tickint as u32) << 1
                    | (self.systick.core_clock as u32) << 2;
                self.systick.catch_up(cycles);
                if self.systick.countflag {
                    v |= 1 << 16;
                    self.systick.countflag = false; // cleared by a read
                }
                v
            }
            reg::SYST_RVR => self.systick.rvr,
            reg::SYST_CVR => self.systick.value(cycles),
            // NOREF = 0, SKEW = 1: the reference is HCLK/8 and TENMS is not calibrated.
            reg::SYST_CALIB => 1 << 30,
            0x100..=0x13C => self.irq_word(self.irq_enabled, (word - reg::NVIC_ISER) / 4),
            0x180..=0x1BC => self.irq_word(self.irq_enabled, (word - reg::NVIC_ICER) / 4),
            0x200..=0x23C => self.irq_word(self.irq_pending, (word - reg::NVIC_ISPR) / 4),
            0x280..=0x2BC => self.irq_word(self.irq_pending, (word - reg::NVIC_ICPR) / 4),
            0x300..=0x33C if self.is_m4() => {
                self.irq_word(self.irq_active, (word - reg::NVIC_IABR) / 4)
            }
            0x400..=0x4EF => {
                let i = (word - reg::NVIC_IPR) as usize;
                u32::from_le_bytes([
                    self.irq_prio[i],
                    self.irq_prio[i + 1],
                    self.irq_prio[i + 2],
                    self.irq_prio[i + 3],
                ])
            }
            reg::CPUID => self.cpuid(),
            reg::ICSR => self.icsr(),
            reg::VTOR => self.vtor,
            reg::AIRCR => 0xFA05_0000 | if self.is_m4() { self.prigroup << 8 } else { 0 },
            reg::SCR => self.scr,
            reg::CCR => self.ccr,
            reg::SHPR1 if self.is_m4() => self.shpr(1),
            reg::SHPR2 => self.shpr(2),
            reg::SHPR3 => self.shpr(3),
            reg::SHCSR => self.shcsr_value(),
            reg::CFSR if self.is_m4() => self.cfsr,
            reg::HFSR if self.is_m4() => self.hfsr,
            reg::DFSR => 0,
            reg::MMFAR if self.is_m4() => self.mmfar,
            reg::BFAR if self.is_m4() => self.bfar,
            reg::AFSR if self.is_m4() => 0,
            reg::CPACR if self.is_m4() => self.cpacr,
            // No MPU is modelled: MPU_TYPE.DREGION = 0 tells software so.
            reg::MPU_TYPE => 0,
            reg::DEMCR if self.is_m4() => self.demcr,
            reg::FPCCR if self.is_m4() => self.fpccr,
            reg::FPCAR if self.is_m4() => self.fpcar,
            reg::FPDSCR if self.is_m4() => self.fpdscr,
            reg::DWT_CTRL if self.is_m4() => self.dwt_ctrl,
            reg::DWT_CYCCNT if self.is_m4() => self.cyccnt(cycles),
            _ => {
                warn!(target: "wb::scs", offset = format_args!("{:#x}", 0xE000_E000u32.wrapping_add(offset)), "read of an unmodelled system register");
                return None;
            }
        };
        Some(v >> ((offset & 3) * 8) & size_mask(size))
    }

    fn shcsr_value(&self) -> u32 {
        let mut v = self.shcsr & (SHCSR_MEMFAULTENA | SHCSR_BUSFAULTENA | SHCSR_USGFAULTENA);
        let act = |n: u32| self.sys_active & (1 << n) != 0;
        let pend = |n: u32| self.sys_pending & (1 << n) != 0;
        if self.is_m4() {
            v |= act(exc::MEMMANAGE) as u32
                | (act(exc::BUSFAULT) as u32) << 1
                | (act(exc::USAGEFAULT) as u32) << 3
                | (act(exc::SVCALL) as u32) << 7
                | (act(exc::DEBUGMON) as u32) << 8
                | (act(exc::PENDSV) as u32) << 10
                | (act(exc::SYSTICK) as u32) << 11
                | (pend(exc::USAGEFAULT) as u32) << 12
                | (pend(exc::MEMMANAGE) as u32) << 13
                | (pend(exc::BUSFAULT) as u32) << 14;
        }
        v | (pend(exc::SVCALL) as u32) << 15
    }

    fn cyccnt(&self, cycles: u64) -> u32 {
        if self.dwt_ctrl & 1 != 0 && self.demcr & (1 << 24) != 0 {
            (cycles - self.cyccnt_base) as u32
        } else {
            self.cyccnt_frozen
        }
    }

    /// Guest write. Returns false for a bus fault.
    pub fn write(&mut self, offset: u32, size: u32, value: u32, cycles: u64) -> bool {
        let word = offset & !3;
        let byte_regs = (0x400..=0x4EF).contains(&word) || (0xD18..=0xD23).contains(&word);
        if size != 4 && !(byte_regs && self.is_m4()) {
            warn!(target: "wb::scs", offset = format_args!("{:#x}", 0xE000_E000u32.wrapping_add(offset)), size, "sub-word write to a word-only system register");
            return false;
        }
        match word {
            reg::ACTLR if self.is_m4() => self.actlr = value & 0x307,
            reg::SYST_CSR => {
                let now_value = self.systick.value(cycles);
                self.systick.catch_up(cycles);
                let was = self.systick.enable;
                self.systick.enable = value & 1 != 0;
                self.systick.tickint = value & 2 != 0;
                self.systick.core_clock = value & 4 != 0;
                let start = if !was && self.systick.enable {
                    now_value
                } else {
                    self.systick.value(cycles)
                };
                self.systick.restart(start, cycles);
                self.attention = true;
            }
            reg::SYST_RVR => {
                self.systick.catch_up(cycles);
                let v = self.systick.value(cycles);
                self.systick.rvr = value & 0x00FF_FFFF;
                self.systick.restart(v, cycles);
            }
            reg::SYST_CVR => {
                // Any write clears the counter and COUNTFLAG.
                self.systick.catch_up(cycles);
                self.systick.countflag = false;
                self.systick.restart(0, cycles);
            }
            reg::SYST_CALIB => {}
            0x100..=0x13C => {
                self.irq_enabled |= self.valid_irq_mask((word - reg::NVIC_ISER) / 4, value)
            }
            0x180..=0x1BC => {
                self.irq_enabled &= !self.valid_irq_mask((word - reg::NVIC_ICER) / 4, value)
            }
            0x200..=0x23C => {
                self.irq_pending |= self.valid_irq_mask((word - reg::NVIC_ISPR) / 4, value);
                self.attention = true;
            }
            0x280..=0x2BC => {
                self.irq_pending &= !self.valid_irq_mask((word - reg::NVIC_ICPR) / 4, value)
            }
            0x300..=0x33C if self.is_m4() => {} // IABR is read-only
            0x400..=0x4EF => {
                let first = (offset - reg::NVIC_IPR) as usize;
                self.set_prio_bytes(Prio::Irq, first, value, size as usize);
            }
            reg::CPUID => {}
            reg::ICSR => self.write_icsr(value),
            reg::VTOR => {
                self.vtor = value
                    & if self.is_m4() {
                        0xFFFF_FF80
                    } else {
                        0xFFFF_FF00
                    }
            }
            reg::AIRCR => {
                if value >> 16 != 0x05FA {
                    return true; // writes without the key are ignored
                }
                if self.is_m4() {
                    self.prigroup = (value >> 8) & 7;
                }
                if value & (1 << 2) != 0 {
                    self.reset_request = true;
                    self.attention = true;
                }
            }
            reg::SCR => self.scr = value & 0x16,
            reg::CCR => {
                if self.is_m4() {
                    let before = self.ccr;
                    self.ccr = value & 0x31B;
                    if (before ^ self.ccr) & 0x18 != 0 {
                        warn!(target: "wb::scs", "CCR.UNALIGN_TRP / DIV_0_TRP are recorded but not enforced");
                    }
                }
            }
            0xD18..=0xD23 => {
                let first = (offset - reg::SHPR1) as usize + 4;
                self.set_prio_bytes(Prio::Sys, first, value, size as usize);
            }
            reg::SHCSR => {
                self.shcsr = value & (SHCSR_MEMFAULTENA | SHCSR_BUSFAULTENA | SHCSR_USGFAULTENA);
            }
            reg::CFSR if self.is_m4() => self.cfsr &= !value, // write-one-to-clear
            reg::HFSR if self.is_m4() => self.hfsr &= !value,
            reg::DFSR => {}
            reg::MMFAR if self.is_m4() => self.mmfar = value,
            reg::BFAR if self.is_m4() => self.bfar = value,
            reg::CPACR if self.is_m4() => self.cpacr = value & 0x00F0_0000,
            reg::DEMCR if self.is_m4() => {
                let before = self.cyccnt(cycles);
                self.demcr = value & 0x010F_07F1;
                self.reload_cyccnt(before, cycles);
            }
            reg::STIR if self.is_m4() => {
                self.pend_irq(value & 0x1FF);
            }
            reg::FPCCR if self.is_m4() => {
                self.fpccr = (self.fpccr & 0x3FFF_FFFF) | (value & 0xC000_0000)
            }
            reg::FPCAR if self.is_m4() => self.fpcar = value & !7,
            reg::FPDSCR if self.is_m4() => self.fpdscr = value & 0x07C0_0000,
            reg::DWT_CTRL if self.is_m4() => {
                let before = self.cyccnt(cycles);
                self.dwt_ctrl = (self.dwt_ctrl & 0xFFFF_0000) | (value & 0xFFFF);
                self.reload_cyccnt(before, cycles);
            }
            reg::DWT_CYCCNT if self.is_m4() => self.reload_cyccnt(value, cycles),
            _ => {
                warn!(target: "wb::scs", offset = format_args!("{:#x}", 0xE000_E000u32.wrapping_add(offset)), value = format_args!("{value:#x}"), "write to an unmodelled system register");
                return false;
            }
        }
        true
    }

    fn reload_cyccnt(&mut self, value: u32, cycles: u64) {
        self.cyccnt_frozen = value;
        self.cyccnt_base = cycles.wrapping_sub(value as u64);
    }

    fn write_icsr(&mut self, value: u32) {
        if value & (1 << 31) != 0 {
            self.set_pending(exc::NMI, true);
        }
        if value & (1 << 28) != 0 {
            self.set_pending(exc::PENDSV, true);
        } else if value & (1 << 27) != 0 {
            self.set_pending(exc::PENDSV, false);
        }
        if value & (1 << 26) != 0 {
            self.set_pending(exc::SYSTICK, true);
        } else if value & (1 << 25) != 0 {
            self.set_pending(exc::SYSTICK, false);
        }
    }
}

#[derive(Clone, Copy)]
enum Prio {
    Irq,
    Sys,
}

fn size_mask(size: u32) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => 0xFFFF_FFFF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systick_counts_down_and_wraps() {
        let mut s = SysTick {
            rvr: 9,
            core_clock: true,
            enable: true,
            tickint: true,
            ..Default::default()
        };
        s.restart(0, 100);
        assert_eq!(s.value(100), 0);
        assert_eq!(s.value(101), 9);
        assert_eq!(s.value(110), 0);
        assert_eq!(s.next_wrap(), Some(110));
        assert!(!s.catch_up(109));
        assert!(s.catch_up(110));
        assert_eq!(s.next_wrap(), Some(120));
        assert!(s.countflag);
    }

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
