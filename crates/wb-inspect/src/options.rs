//! The option bytes decoded: readout protection, boot bits, the secure flash and SRAM2
//! boundaries, CPU2's boot vector and the shared-table address (RM0434 §3.10,
//! stm32wb55-registers.md §3).

use serde::Serialize;
use wb_machine::DEFAULT_SAFEBOOT_VECTOR;
use wb_periph::flash::{self, reg, OptionBytes, OPTION_SLOTS, PAGE_SIZE};
use wb_proto::tables::ref_table_address;

use crate::hex32;

const FLASH_BASE: u32 = 0x0800_0000;
const SRAM2A_BASE: u32 = 0x2003_0000;
const SRAM2B_BASE: u32 = 0x2003_8000;
const OPTION_AREA: u32 = 0x1FFF_8000;

/// One value/complement pair of the option-byte area.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub name: &'static str,
    /// Where the value is in the option-byte area.
    pub address: String,
    /// The value word as stored (its complement follows it).
    pub value: String,
    pub complement_ok: bool,
}

/// Readout protection level (OPTR.RDP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Rdp {
    /// 0xAA: no protection.
    Level0,
    /// Any other value: debug and boot from RAM/system memory cannot read flash.
    Level1,
    /// 0xCC: debug disabled for good.
    Level2,
}

impl Rdp {
    pub fn of(optr: u32) -> Rdp {
        match optr & 0xFF {
            0xAA => Rdp::Level0,
            0xCC => Rdp::Level2,
            _ => Rdp::Level1,
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Rdp::Level0 => 0,
            Rdp::Level1 => 1,
            Rdp::Level2 => 2,
        }
    }
}

/// Where CPU2 starts at C2BOOT, and why there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Cpu2Boot {
    /// The vector table the chip will use.
    pub vector: u32,
    /// SFR or SRRVR failed its complement check: the hardware boots CPU2 on safeboot
    /// whatever SBRV says (AN5185 FAQ "What is a safeboot").
    pub safeboot: bool,
    /// The vector SRRVR names (SBRV, C2OPT), used when the check passes.
    pub sbrv_vector: u32,
}

/// The option bytes of a chip, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The values the chip loads (a slot whose complement fails takes its default).
    pub values: OptionBytes,
    /// Every slot as stored, with its complement check.
    pub slots: Vec<Slot>,
}

impl Options {
    /// Decode an option-byte area (4 KiB at 0x1FFF_8000) as an option-byte load would.
    pub fn decode(area: &[u8]) -> Options {
        let (values, bad) = OptionBytes::load(area);
        let word = |at: u32| {
            let at = at as usize;
            area.get(at..at + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let slots = OPTION_SLOTS
            .iter()
            .enumerate()
            .map(|(i, s)| Slot {
                name: s.name,
                address: hex32(OPTION_AREA + s.area_offset),
                value: hex32(word(s.area_offset)),
                complement_ok: !bad.contains(&i),
            })
            .collect();
        Options { values, slots }
    }

    /// Option bytes as loaded in a running chip (the flash controller's live values, which
    /// passed their check or took their defaults).
    pub fn live(values: OptionBytes) -> Options {
        let slots = OPTION_SLOTS
            .iter()
            .zip(values.0)
            .map(|(s, v)| Slot {
                name: s.name,
                address: hex32(OPTION_AREA + s.area_offset),
                value: hex32(v),
                complement_ok: true,
            })
            .collect();
        Options { values, slots }
    }

    fn get(&self, register: u32) -> u32 {
        self.values.get(register).unwrap_or(0)
    }

    pub fn optr(&self) -> u32 {
        self.get(reg::OPTR)
    }

    pub fn sfr(&self) -> u32 {
        self.get(reg::SFR)
    }

    pub fn srrvr(&self) -> u32 {
        self.get(reg::SRRVR)
    }

    pub fn rdp(&self) -> Rdp {
        Rdp::of(self.optr())
    }

    /// OPTR nBOOT0 (bit 27), nSWBOOT0 (bit 26), nBOOT1 (bit 23).
    pub fn boot_bits(&self) -> BootBits {
        let optr = self.optr();
        BootBits {
            n_boot0: optr & (1 << 27) != 0,
            n_swboot0: optr & (1 << 26) != 0,
            n_boot1: optr & (1 << 23) != 0,
        }
    }

    /// First secure flash page (SFSA), when the flash is in secure mode (FSD = 0).
    pub fn sfsa(&self) -> Option<u32> {
        self.values.secure_flash_page()
    }

    /// Address of the first secure flash page.
    pub fn secure_flash_from(&self) -> Option<u32> {
        self.sfsa().map(|p| FLASH_BASE + p * PAGE_SIZE)
    }

    /// Where CPU2 boots at C2BOOT: SBRV, or safeboot when SFR/SRRVR fail their check or
    /// SFSA = 0.
    pub fn cpu2_boot(&self) -> Cpu2Boot {
        let bad: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.complement_ok)
            .map(|(i, _)| i)
            .collect();
        let safeboot = flash::cpu2_boots_safeboot(&self.values, &bad);
        let sbrv_vector = self.values.cpu2_boot_vector();
        Cpu2Boot {
            vector: if safeboot {
                DEFAULT_SAFEBOOT_VECTOR
            } else {
                sbrv_vector
            },
            safeboot,
            sbrv_vector,
        }
    }

    /// Start of the secure part of SRAM2a, when SRAM2a has one (BRSD = 0).
    pub fn sram2a_secure_from(&self) -> Option<u32> {
        self.values.sram2a_secure_from().map(|o| SRAM2A_BASE + o)
    }

    /// Start of the secure part of SRAM2b, when SRAM2b has one (NBRSD = 0).
    pub fn sram2b_secure_from(&self) -> Option<u32> {
        self.values.sram2b_secure_from().map(|o| SRAM2B_BASE + o)
    }

    /// Secure SRAM2a in KiB (0 when none).
    pub fn sram2a_secure_kib(&self) -> u32 {
        self.values
            .sram2a_secure_from()
            .map_or(0, |o| 32 - o / 1024)
    }

    /// Secure SRAM2b in KiB (0 when none).
    pub fn sram2b_secure_kib(&self) -> u32 {
        self.values
            .sram2b_secure_from()
            .map_or(0, |o| 32 - o / 1024)
    }

    /// IPCCDBA (IPCCBR bits 13:0): the shared tables' place, in double-words from SRAM2a.
    pub fn ipccdba(&self) -> u32 {
        self.get(reg::IPCCBR) & 0x3FFF
    }

    /// Where CPU2 reads the reference table (ST's scaling of IPCCDBA).
    pub fn reference_table(&self) -> u32 {
        ref_table_address(self.ipccdba())
    }

    /// The decoded view, as `wbemu device info --json` prints it.
    pub fn summary(&self) -> OptionsSummary {
        let boot = self.cpu2_boot();
        OptionsSummary {
            rdp_level: self.rdp().number(),
            boot: self.boot_bits(),
            sfsa: self.sfsa().map(|p| format!("{p:#04x}")),
            secure_flash_from: self.secure_flash_from().map(hex32),
            cpu2_boot_vector: hex32(boot.vector),
            cpu2_safeboot: boot.safeboot,
            sbrv_vector: hex32(boot.sbrv_vector),
            sram2a_secure_from: self.sram2a_secure_from().map(hex32),
            sram2b_secure_from: self.sram2b_secure_from().map(hex32),
            ipccdba: format!("{:#x}", self.ipccdba()),
            reference_table: hex32(self.reference_table()),
        }
    }
}

/// The boot-configuration bits of OPTR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BootBits {
    pub n_boot0: bool,
    pub n_swboot0: bool,
    pub n_boot1: bool,
}

/// What the option bytes say, with addresses as hex strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OptionsSummary {
    pub rdp_level: u8,
    pub boot: BootBits,
    /// First secure flash page (hex), none when FSD = 1.
    pub sfsa: Option<String>,
    pub secure_flash_from: Option<String>,
    /// The vector CPU2 will really start at.
    pub cpu2_boot_vector: String,
    /// Whether that is safeboot because SFR/SRRVR failed their complement check.
    pub cpu2_safeboot: bool,
    /// The vector SRRVR names.
    pub sbrv_vector: String,
    pub sram2a_secure_from: Option<String>,
    pub sram2b_secure_from: Option<String>,
    pub ipccdba: String,
    pub reference_table: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(options: &OptionBytes) -> Vec<u8> {
        let mut a = vec![0xFF; 4096];
        options.store(&mut a);
        a
    }

    #[test]
    fn a_virgin_device_boots_cpu2_on_the_fus_with_its_secure_areas() {
        let o = Options::decode(&area(&wb_firmware::presets::virgin_options()));
        assert_eq!(o.sfsa(), Some(0xF4));
        assert_eq!(o.secure_flash_from(), Some(0x080F_4000));
        let boot = o.cpu2_boot();
        assert_eq!((boot.vector, boot.safeboot), (0x080F_4000, false));
        assert_eq!(o.sram2a_secure_from(), Some(0x2003_7000));
        assert_eq!(o.sram2b_secure_from(), Some(0x2003_E000));
        assert_eq!((o.sram2a_secure_kib(), o.sram2b_secure_kib()), (4, 8));
        assert_eq!(o.rdp(), Rdp::Level0);
        assert_eq!(o.reference_table(), 0x2003_0000);
        assert!(o.slots.iter().all(|s| s.complement_ok));
    }

    #[test]
    fn a_broken_srrvr_complement_sends_cpu2_to_safeboot() {
        let mut a = area(&wb_firmware::presets::virgin_options());
        // SRRVR's complement word (value at 0x78, complement at 0x7C).
        a[0x7C] ^= 0x01;
        let o = Options::decode(&a);
        let boot = o.cpu2_boot();
        assert!(boot.safeboot);
        assert_eq!(boot.vector, DEFAULT_SAFEBOOT_VECTOR);
        let bad: Vec<_> = o.slots.iter().filter(|s| !s.complement_ok).collect();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].name, "SRRVR");
    }

    #[test]
    fn a_broken_optr_complement_does_not_touch_cpu2() {
        let mut a = area(&wb_firmware::presets::virgin_options());
        a[0x04] ^= 0x01;
        let boot = Options::decode(&a).cpu2_boot();
        assert!(!boot.safeboot);
        assert_eq!(boot.vector, 0x080F_4000);
    }
}
