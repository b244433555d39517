//! The guest's view of the SCS: register reads and writes by offset (NVIC, SCB, SysTick, FPU
//! control, DWT), with the access size and the core's cycle count for the timers.

use super::*;

impl Scs {
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
