//! Reset and clock control (RCC @ 0x5800_0000).
//!
//! Modelled: the system clock sources (MSI with its ranges, HSI16, HSE 32 MHz with HSEPRE, the
//! main PLL), SW/SWS switching that waits for the source to be ready, the HCLK1 (HPRE), HCLK2
//! (C2HPRE) and HCLK4 (SHDHPRE) prescalers that give the cores their frequencies, the
//! peripheral clock enables of both CPUs (a peripheral is clocked when either CPU enables it),
//! and the reset flags of RCC_CSR with RMVF.
//!
//! Stored but without modelled effect (traced once when software changes them): trims, the
//! SAI PLL's output, clock interrupts, peripheral resets (xxxRSTR), sleep-mode enables, kernel
//! clock selection, LSE/RTC, HSI48 and the HSE tuning register.

use tracing::{debug, warn};

use crate::regs::{Bank, RegDef};
use crate::{Access, BusResult, CoreId, Peripheral, Picos, ResetKind};

/// Register offsets and bits (RM0434 §8.4), from the shared register map.
pub use wb_regs::rcc::{cfgr, cr, csr, extcfgr, reg};

/// Start-up times of the sources whose ready flag software waits for.
pub mod startup {
    use crate::Picos;
    /// HSE: 250 us typical to XOREADY (DS11929 §6.3.10, Tables 54-56).
    pub const HSE: Picos = 250_000_000;
    /// PLL lock time tLOCK: 15 us typical (DS11929 §6.3.12).
    pub const PLL_LOCK: Picos = 15_000_000;
    // MSI, HSI16 and the LSIs are ready at once: the reference gives no start-up figure.
}

/// MSI frequencies by MSIRANGE (RM0434 RCC_CR; 12..15 are not allowed).
pub const MSI_RANGES: [u64; 12] = [
    100_000, 200_000, 400_000, 800_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000,
    24_000_000, 32_000_000, 48_000_000,
];
pub const HSI16_HZ: u64 = 16_000_000;
pub const HSE_HZ: u64 = 32_000_000;

/// The divisor an HPRE / C2HPRE / SHDHPRE code selects (registers reference, timing §5).
pub fn ahb_divisor(code: u32) -> u64 {
    match code & 0xF {
        0b0001 => 3,
        0b0010 => 5,
        0b0101 => 6,
        0b0110 => 10,
        0b0111 => 32,
        0b1000 => 2,
        0b1001 => 4,
        0b1010 => 8,
        0b1011 => 16,
        0b1100 => 64,
        0b1101 => 128,
        0b1110 => 256,
        0b1111 => 512,
        _ => 1, // 0000, and 0011 / 0100 which the table leaves out
    }
}

/// The divisor a PPRE1 / PPRE2 code selects (0xx: 1, 100: 2, 101: 4, 110: 8, 111: 16).
pub fn apb_divisor(code: u32) -> u64 {
    match code & 0x7 {
        c @ 0b100..=0b111 => 2 << (c - 0b100),
        _ => 1,
    }
}

/// Reset values: CR (MSI on and ready at 4 MHz), CFGR (prescaler-applied flags), PLLCFGR
/// (HAL's `RCC_PLLCFR_RESET_VALUE`), EXTCFGR (HAL_RCC_DeInit), AHB3ENR (flash interface
/// clocked); the others are 0.
static REGS: [RegDef; 48] = [
    RegDef::new("CR", reg::CR, 0x0000_0061, 0x0517_0BFD),
    RegDef::new("ICSCR", reg::ICSCR, 0x4000_0000, 0x7F00_FF00),
    RegDef::new("CFGR", reg::CFGR, cfgr::APPLIED, 0x7F00_BFF3),
    RegDef::new("PLLCFGR", reg::PLLCFGR, 0x2204_0100, 0xFFFF_7F73),
    RegDef::new("PLLSAI1CFGR", reg::PLLSAI1CFGR, 0x2204_0100, 0xFFFF_7F00),
    RegDef::new("CIER", reg::CIER, 0, 0x0000_077F),
    RegDef::new("CIFR", reg::CIFR, 0, 0),
    RegDef::new("CICR", reg::CICR, 0, 0),
    RegDef::new("SMPSCR", reg::SMPSCR, 0, 0x0000_0033),
    RegDef::new("AHB1RSTR", reg::AHB1RSTR, 0, 0x0001_1007),
    RegDef::new("AHB2RSTR", reg::AHB2RSTR, 0, 0x0001_209F),
    RegDef::new("AHB3RSTR", reg::AHB3RSTR, 0, 0x021F_0100),
    RegDef::new("APB1RSTR1", reg::APB1RSTR1, 0, 0x85A0_4201),
    RegDef::new("APB1RSTR2", reg::APB1RSTR2, 0, 0x0000_0021),
    RegDef::new("APB2RSTR", reg::APB2RSTR, 0, 0x0026_5800),
    RegDef::new("APB3RSTR", reg::APB3RSTR, 0, 0x0000_0001),
    RegDef::new("AHB1ENR", reg::AHB1ENR, 0, 0x0001_1007),
    RegDef::new("AHB2ENR", reg::AHB2ENR, 0, 0x0001_209F),
    RegDef::new("AHB3ENR", reg::AHB3ENR, 1 << 25, 0x021F_0100),
    RegDef::new("APB1ENR1", reg::APB1ENR1, 0, 0x85A0_4E01),
    RegDef::new("APB1ENR2", reg::APB1ENR2, 0, 0x0000_0021),
    RegDef::new("APB2ENR", reg::APB2ENR, 0, 0x0026_5800),
    RegDef::new("AHB1SMENR", reg::AHB1SMENR, 0, 0x0001_1207),
    RegDef::new("AHB2SMENR", reg::AHB2SMENR, 0, 0x0001_209F),
    RegDef::new("AHB3SMENR", reg::AHB3SMENR, 0, 0x031F_0100),
    RegDef::new("APB1SMENR1", reg::APB1SMENR1, 0, 0x85A0_4E01),
    RegDef::new("APB1SMENR2", reg::APB1SMENR2, 0, 0x0000_0021),
    RegDef::new("APB2SMENR", reg::APB2SMENR, 0, 0x0026_5800),
    RegDef::new("CCIPR", reg::CCIPR, 0, 0xFFFF_FFFF),
    RegDef::new("BDCR", reg::BDCR, 0, 0x0301_83BD),
    RegDef::new("CSR", reg::CSR, 0, 0x0080_CF05),
    RegDef::new("CRRCR", reg::CRRCR, 0, 0x0000_0001),
    RegDef::new("HSECR", reg::HSECR, 0, 0x0000_3F7F),
    RegDef::new("EXTCFGR", reg::EXTCFGR, extcfgr::APPLIED, 0x0010_00FF),
    RegDef::new("C2AHB1ENR", reg::C2AHB1ENR, 0, 0x0001_1207),
    RegDef::new("C2AHB2ENR", reg::C2AHB2ENR, 0, 0x0001_209F),
    RegDef::new("C2AHB3ENR", reg::C2AHB3ENR, 0, 0x021F_0000),
    RegDef::new("C2APB1ENR1", reg::C2APB1ENR1, 0, 0x85A0_4601),
    RegDef::new("C2APB1ENR2", reg::C2APB1ENR2, 0, 0x0000_0021),
    RegDef::new("C2APB2ENR", reg::C2APB2ENR, 0, 0x0026_5800),
    RegDef::new("C2APB3ENR", reg::C2APB3ENR, 0, 0x0000_0003),
    RegDef::new("C2AHB1SMENR", reg::C2AHB1SMENR, 0, 0x0001_1207),
    RegDef::new("C2AHB2SMENR", reg::C2AHB2SMENR, 0, 0x0001_209F),
    RegDef::new("C2AHB3SMENR", reg::C2AHB3SMENR, 0, 0x031F_0000),
    RegDef::new("C2APB1SMENR1", reg::C2APB1SMENR1, 0, 0x85A0_4601),
    RegDef::new("C2APB1SMENR2", reg::C2APB1SMENR2, 0, 0x0000_0021),
    RegDef::new("C2APB2SMENR", reg::C2APB2SMENR, 0, 0x0026_5800),
    RegDef::new("C2APB3SMENR", reg::C2APB3SMENR, 0, 0x0000_0003),
];

/// Registers whose effect the model implements (the rest are storage, traced once).
const MODELLED: [u32; 17] = [
    reg::CR,
    reg::CFGR,
    reg::PLLCFGR,
    reg::CSR,
    reg::EXTCFGR,
    reg::AHB1ENR,
    reg::AHB2ENR,
    reg::AHB3ENR,
    reg::APB1ENR1,
    reg::APB1ENR2,
    reg::APB2ENR,
    reg::C2AHB1ENR,
    reg::C2AHB2ENR,
    reg::C2AHB3ENR,
    reg::C2APB1ENR1,
    reg::C2APB1ENR2,
    reg::C2APB2ENR,
];

/// Why the chip was reset: decides the RCC_CSR flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetCause {
    /// Power-on or brown-out.
    PowerOn,
    /// The NRST pin.
    Pin,
    /// SYSRESETREQ from either core.
    Software,
    /// OBL_LAUNCH (option-byte load).
    OptionLoad,
    Iwdg,
    Wwdg,
    LowPower,
}

impl ResetCause {
    /// The CSR flags this reset sets. An internal reset also drives the NRST pin, so PINRSTF
    /// comes with every cause.
    pub fn flags(self) -> u32 {
        csr::PINRSTF
            | match self {
                ResetCause::PowerOn => csr::BORRSTF,
                ResetCause::Pin => 0,
                ResetCause::Software => csr::SFTRSTF,
                ResetCause::OptionLoad => csr::OBLRSTF,
                ResetCause::Iwdg => csr::IWDGRSTF,
                ResetCause::Wwdg => csr::WWDGRSTF,
                ResetCause::LowPower => csr::LPWRRSTF,
            }
    }

    pub fn kind(self) -> ResetKind {
        match self {
            ResetCause::PowerOn => ResetKind::PowerOn,
            ResetCause::OptionLoad => ResetKind::OptionLoad,
            _ => ResetKind::System,
        }
    }
}

/// The clock-enable bit of a peripheral, for each CPU (the machine's chip table gives each
/// peripheral its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    pub name: &'static str,
    /// CPU1's enable register (AHBxENR / APBxENRy) and CPU2's (C2...), if it has one.
    pub cpu1: u32,
    pub cpu2: Option<u32>,
    pub bit: u32,
}

/// Core and bus frequencies, in Hz.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frequencies {
    pub sysclk: u64,
    /// CPU1, AHB1/2/3.
    pub hclk1: u64,
    /// CPU2.
    pub hclk2: u64,
    /// AHB4 (flash, RCC, PWR, IPCC, ...), SRAM2.
    pub hclk4: u64,
    /// APB1 and APB2 peripheral clocks.
    pub pclk1: u64,
    pub pclk2: u64,
}

/// The clock a peripheral's registers and timing run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusClock {
    /// AHB1, AHB2 (and AHB3's CPU1-side peripherals).
    Hclk1,
    /// AHB4, the shared bus (IPCC, HSEM, AES2, PKA, RNG, ...).
    Hclk4,
    Pclk1,
    Pclk2,
}

/// The bus of the peripheral whose registers start at `base` (RM0434 Table 1 memory map).
pub fn bus_clock_for(base: u32) -> BusClock {
    match base {
        0x4000_0000..=0x4000_FFFF => BusClock::Pclk1,
        0x4001_0000..=0x4001_FFFF => BusClock::Pclk2,
        0x5800_0000.. => BusClock::Hclk4,
        _ => BusClock::Hclk1,
    }
}

impl Frequencies {
    pub fn core(&self, core: CoreId) -> u64 {
        match core {
            CoreId::Cpu1 => self.hclk1,
            CoreId::Cpu2 => self.hclk2,
        }
    }

    pub fn bus(&self, clock: BusClock) -> u64 {
        match clock {
            BusClock::Hclk1 => self.hclk1,
            BusClock::Hclk4 => self.hclk4,
            BusClock::Pclk1 => self.pclk1,
            BusClock::Pclk2 => self.pclk2,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Rcc {
    regs: Bank,
    now: Picos,
    /// When HSERDY and PLLRDY come up, while their source starts.
    hse_ready_at: Option<Picos>,
    pll_ready_at: Option<Picos>,
    freqs: Frequencies,
    /// The frequencies changed since the machine last asked.
    freq_changed: bool,
}

impl Default for Rcc {
    fn default() -> Self {
        Rcc::new()
    }
}

impl Rcc {
    pub fn new() -> Rcc {
        let mut rcc = Rcc {
            regs: Bank::new(&REGS),
            now: 0,
            hse_ready_at: None,
            pll_ready_at: None,
            freqs: Frequencies {
                sysclk: 0,
                hclk1: 0,
                hclk2: 0,
                hclk4: 0,
                pclk1: 0,
                pclk2: 0,
            },
            freq_changed: false,
        };
        rcc.freqs = rcc.compute();
        rcc
    }

    pub fn frequencies(&self) -> Frequencies {
        self.freqs
    }

    /// Whether the core or bus frequencies changed since the last call.
    pub fn take_freq_change(&mut self) -> bool {
        std::mem::take(&mut self.freq_changed)
    }

    /// Whether the peripheral behind `gate` is clocked (by either CPU's enable).
    pub fn clocked(&self, gate: &Gate) -> bool {
        let on = |r: u32| self.regs.get(r) & (1 << gate.bit) != 0;
        on(gate.cpu1) || gate.cpu2.is_some_and(on)
    }

    /// Record the cause of the reset that just happened in RCC_CSR.
    pub fn record_reset(&mut self, cause: ResetCause) {
        self.regs.set_bits(reg::CSR, cause.flags(), true);
    }

    pub fn csr(&self) -> u32 {
        self.regs.get(reg::CSR)
    }

    fn msi_hz(&self) -> u64 {
        let range = (self.regs.get(reg::CR) >> cr::MSIRANGE_SHIFT) & 0xF;
        MSI_RANGES[(range as usize).min(MSI_RANGES.len() - 1)]
    }

    fn hse_hz(&self) -> u64 {
        if self.regs.get(reg::CR) & cr::HSEPRE != 0 {
            HSE_HZ / 2
        } else {
            HSE_HZ
        }
    }

    /// PLLRCLK: source / M × N / R.
    fn pll_hz(&self) -> u64 {
        let c = self.regs.get(reg::PLLCFGR);
        let src = match c & 3 {
            1 => self.msi_hz(),
            2 => HSI16_HZ,
            3 => self.hse_hz(),
            _ => 0,
        };
        let m = ((c >> 4) & 7) as u64 + 1;
        let n = ((c >> 8) & 0x7F) as u64;
        let r = ((c >> 29) & 7) as u64 + 1;
        src / m * n / r
    }

    fn source_hz(&self, sw: u32) -> u64 {
        match sw & 3 {
            0 => self.msi_hz(),
            1 => HSI16_HZ,
            2 => self.hse_hz(),
            _ => self.pll_hz(),
        }
    }

    fn sws(&self) -> u32 {
        (self.regs.get(reg::CFGR) >> cfgr::SWS_SHIFT) & 3
    }

    fn compute(&self) -> Frequencies {
        let sysclk = self.source_hz(self.sws()).max(1);
        let cfgr = self.regs.get(reg::CFGR);
        let ext = self.regs.get(reg::EXTCFGR);
        let div = |code: u32| (sysclk / ahb_divisor(code)).max(1);
        let hclk1 = div(cfgr >> cfgr::HPRE_SHIFT);
        let apb = |code: u32| (hclk1 / apb_divisor(code)).max(1);
        Frequencies {
            sysclk,
            hclk1,
            hclk2: div(ext >> extcfgr::C2HPRE_SHIFT),
            hclk4: div(ext >> extcfgr::SHDHPRE_SHIFT),
            pclk1: apb(cfgr >> cfgr::PPRE1_SHIFT),
            pclk2: apb(cfgr >> cfgr::PPRE2_SHIFT),
        }
    }

    fn ready_bit(sw: u32) -> u32 {
        match sw & 3 {
            0 => cr::MSIRDY,
            1 => cr::HSIRDY,
            2 => cr::HSERDY,
            _ => cr::PLLRDY,
        }
    }

    fn on_bit(sw: u32) -> u32 {
        match sw & 3 {
            0 => cr::MSION,
            1 => cr::HSION,
            2 => cr::HSEON,
            _ => cr::PLLON,
        }
    }

    /// Oscillators the hardware keeps on: the system clock's source, and the PLL's input
    /// while the PLL runs.
    fn held_on(&self, cr_value: u32) -> u32 {
        let sws = self.sws();
        let mut held = Self::on_bit(sws);
        if sws == 3 || cr_value & cr::PLLON != 0 {
            held |= match self.regs.get(reg::PLLCFGR) & 3 {
                1 => cr::MSION,
                2 => cr::HSION,
                3 => cr::HSEON,
                _ => 0,
            };
        }
        held
    }

    fn write_cr(&mut self, old: u32, mut new: u32) {
        new |= self.held_on(new) & old;
        let rising = new & !old;
        new &= !cr::READY;
        // MSI, HSI16 (and its kernel-clock request) are ready at once.
        if new & cr::MSION != 0 {
            new |= cr::MSIRDY;
        }
        if new & cr::HSION != 0 {
            new |= cr::HSIRDY | cr::HSIKERDY;
        } else if new & cr::HSIKERON != 0 {
            new |= cr::HSIKERDY;
        }
        if new & cr::HSEON == 0 {
            self.hse_ready_at = None;
        } else if rising & cr::HSEON != 0 {
            self.hse_ready_at = Some(self.now + startup::HSE);
        } else if self.hse_ready_at.is_none() {
            new |= cr::HSERDY;
        }
        if new & cr::PLLON == 0 {
            self.pll_ready_at = None;
        } else if rising & cr::PLLON != 0 {
            self.pll_ready_at = Some(self.now + startup::PLL_LOCK);
        } else if self.pll_ready_at.is_none() {
            new |= cr::PLLRDY;
        }
        if new & cr::PLLSAI1ON != 0 {
            new |= cr::PLLSAI1RDY;
        }
        self.regs.set(reg::CR, new);
    }

    /// Switch SWS to SW once the selected source is ready.
    fn try_switch(&mut self) {
        let cfgr_v = self.regs.get(reg::CFGR);
        let sw = cfgr_v & cfgr::SW;
        if sw != self.sws() && self.regs.get(reg::CR) & Self::ready_bit(sw) != 0 {
            let v = (cfgr_v & !(3 << cfgr::SWS_SHIFT)) | (sw << cfgr::SWS_SHIFT);
            self.regs.set(reg::CFGR, v);
            debug!(target: "wb::rcc", sw, "system clock switched");
        }
    }

    fn update(&mut self) {
        self.try_switch();
        let f = self.compute();
        if f != self.freqs {
            debug!(target: "wb::rcc", ?f, "clock frequencies");
            if f.sysclk > 64_000_000 || f.hclk2 > 32_000_000 {
                warn!(target: "wb::rcc", ?f, "clock above the chip's maximum (SYSCLK 64 MHz, HCLK2 32 MHz)");
            }
            self.freqs = f;
            self.freq_changed = true;
        }
    }

    fn note_stored_only(&mut self, index: usize) {
        if let Some(register) = self.regs.first_note(index) {
            warn!(target: "wb::rcc", register, "written: stored, but its effect is not modelled");
        }
    }
}

impl Peripheral for Rcc {
    fn name(&self) -> &'static str {
        "rcc"
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
        let at = offset & !3;
        match at {
            reg::CR => self.write_cr(old, new),
            reg::CSR => {
                let mut v = new;
                // RMVF clears the reset flags; it reads as 0.
                if v & csr::RMVF != 0 {
                    v &= !(csr::RMVF | csr::FLAGS);
                } else {
                    v = (v & !csr::FLAGS) | (old & csr::FLAGS);
                }
                v &= !(csr::LSI1RDY | csr::LSI2RDY);
                if v & csr::LSI1ON != 0 {
                    v |= csr::LSI1RDY;
                }
                if v & csr::LSI2ON != 0 {
                    v |= csr::LSI2RDY;
                }
                self.regs.store(i, v);
            }
            _ => {
                self.regs.store(i, new);
                if new != old && !MODELLED.contains(&at) {
                    self.note_stored_only(i);
                }
            }
        }
        self.update();
        Ok(())
    }

    fn reset(&mut self, kind: ResetKind) {
        // The reset flags survive every reset but a power-on; the backup domain (BDCR) too.
        let keep_csr = self.regs.get(reg::CSR) & csr::FLAGS;
        match kind {
            ResetKind::PowerOn => {
                *self = Rcc {
                    now: self.now,
                    ..Rcc::new()
                };
                self.freq_changed = true;
            }
            ResetKind::System | ResetKind::OptionLoad => {
                self.regs.reset_except(|d| d.offset == reg::BDCR);
                self.regs.set(reg::CSR, keep_csr);
                self.hse_ready_at = None;
                self.pll_ready_at = None;
                self.update();
            }
        }
    }

    fn next_event(&self) -> Option<Picos> {
        [self.hse_ready_at, self.pll_ready_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn advance(&mut self, now: Picos) {
        self.now = self.now.max(now);
        let mut cr_v = self.regs.get(reg::CR);
        if self.hse_ready_at.is_some_and(|t| t <= self.now) {
            self.hse_ready_at = None;
            cr_v |= cr::HSERDY;
        }
        if self.pll_ready_at.is_some_and(|t| t <= self.now) {
            self.pll_ready_at = None;
            cr_v |= cr::PLLRDY;
        }
        self.regs.set(reg::CR, cr_v);
        self.update();
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Width;

    fn at(now: Picos) -> Access {
        Access {
            core: CoreId::Cpu1,
            width: Width::Word,
            now,
        }
    }

    fn w(r: &mut Rcc, off: u32, v: u32, now: Picos) {
        r.write(off, v, at(now)).unwrap();
    }

    fn rd(r: &mut Rcc, off: u32) -> u32 {
        r.read(off, at(0)).unwrap()
    }

    #[test]
    fn resets_to_msi_4mhz_on_every_bus() {
        let mut r = Rcc::new();
        assert_eq!(rd(&mut r, reg::CR), 0x61);
        assert_eq!(rd(&mut r, reg::EXTCFGR), 0x0003_0000);
        assert_eq!(rd(&mut r, reg::PLLCFGR), 0x2204_0100);
        let f = r.frequencies();
        assert_eq!(
            (f.sysclk, f.hclk1, f.hclk2, f.hclk4),
            (4_000_000, 4_000_000, 4_000_000, 4_000_000)
        );
    }

    /// The usual run configuration: HSE 32 MHz → PLL /2 ×8 /2 = 64 MHz, CPU2 at /2.
    #[test]
    fn hse_pll_64mhz_with_cpu2_at_half() {
        let mut r = Rcc::new();
        w(&mut r, reg::CR, 0x61 | cr::HSEON, 0);
        assert_eq!(rd(&mut r, reg::CR) & cr::HSERDY, 0);
        assert_eq!(r.next_event(), Some(startup::HSE));
        r.advance(startup::HSE);
        assert_ne!(rd(&mut r, reg::CR) & cr::HSERDY, 0);
        // PLLSRC=HSE, M=/2 (1), N=8, R=/2 (1), PLLREN.
        w(
            &mut r,
            reg::PLLCFGR,
            3 | (1 << 4) | (8 << 8) | (1 << 29) | (1 << 28),
            startup::HSE,
        );
        let v = rd(&mut r, reg::CR);
        w(&mut r, reg::CR, v | cr::PLLON, startup::HSE);
        // Switching to a PLL that has not locked waits.
        w(&mut r, reg::CFGR, cfgr::APPLIED | 3, startup::HSE);
        assert_eq!(rd(&mut r, reg::CFGR) & 0xC, 0);
        w(&mut r, reg::EXTCFGR, 0b1000 << 4, startup::HSE);
        r.take_freq_change();
        r.advance(startup::HSE + startup::PLL_LOCK);
        assert_eq!(rd(&mut r, reg::CFGR) & 0xC, 0xC, "SWS = PLL once locked");
        assert!(r.take_freq_change());
        let f = r.frequencies();
        assert_eq!(
            (f.hclk1, f.hclk2, f.hclk4),
            (64_000_000, 32_000_000, 64_000_000)
        );
        // The running PLL and its source cannot be switched off.
        w(&mut r, reg::CR, 0, startup::HSE + startup::PLL_LOCK);
        let v = rd(&mut r, reg::CR);
        assert_eq!(v & (cr::PLLON | cr::HSEON), cr::PLLON | cr::HSEON);
    }

    #[test]
    fn prescaler_codes_and_msi_ranges() {
        assert_eq!(ahb_divisor(0b0101), 6);
        assert_eq!(ahb_divisor(0b1111), 512);
        let mut r = Rcc::new();
        w(&mut r, reg::CR, cr::MSION | (11 << 4), 0);
        assert_eq!(r.frequencies().hclk1, 48_000_000);
    }

    #[test]
    fn reset_flags_and_rmvf() {
        let mut r = Rcc::new();
        r.record_reset(ResetCause::PowerOn);
        assert_eq!(r.csr() & csr::FLAGS, csr::BORRSTF | csr::PINRSTF);
        w(&mut r, reg::CSR, csr::RMVF, 0);
        assert_eq!(r.csr(), 0);
        r.reset(ResetKind::System);
        r.record_reset(ResetCause::Software);
        r.reset(ResetKind::OptionLoad);
        r.record_reset(ResetCause::OptionLoad);
        assert_eq!(
            r.csr() & csr::FLAGS,
            csr::SFTRSTF | csr::OBLRSTF | csr::PINRSTF
        );
        // Writing the flags directly does nothing.
        w(&mut r, reg::CSR, 0, 0);
        assert_ne!(r.csr() & csr::SFTRSTF, 0);
        r.reset(ResetKind::PowerOn);
        assert_eq!(r.csr(), 0);
    }

    #[test]
    fn either_cpu_enable_clocks_a_peripheral() {
        let mut r = Rcc::new();
        let ipcc = Gate {
            name: "IPCC",
            cpu1: reg::AHB3ENR,
            cpu2: Some(reg::C2AHB3ENR),
            bit: 20,
        };
        assert!(!r.clocked(&ipcc));
        w(&mut r, reg::C2AHB3ENR, 1 << 20, 0);
        assert!(r.clocked(&ipcc));
        w(&mut r, reg::C2AHB3ENR, 0, 0);
        w(&mut r, reg::AHB3ENR, (1 << 25) | (1 << 20), 0);
        assert!(r.clocked(&ipcc));
    }

    #[test]
    fn unknown_offsets_are_bus_errors() {
        let mut r = Rcc::new();
        assert_eq!(r.read(0x014, at(0)), Err(crate::BusError::Unmapped));
        assert_eq!(r.write(0x200, 0, at(0)), Err(crate::BusError::Unmapped));
    }
}
