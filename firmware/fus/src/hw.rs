//! Register addresses and volatile access. The FUS touches only the resources AN5185 Table 5
//! lists: flash and option bytes, IPCC, CRC, PKA, the AES2 unit (ours: the body key never
//! reaches AES1, which belongs to the user), RCC clock enables for CPU2, and SRAM2.

use core::ptr::{read_volatile, write_volatile};

pub fn read32(addr: u32) -> u32 {
    unsafe { read_volatile(addr as *const u32) }
}

pub fn write32(addr: u32, v: u32) {
    unsafe { write_volatile(addr as *mut u32, v) }
}

pub fn read8(addr: u32) -> u8 {
    unsafe { read_volatile(addr as *const u8) }
}

pub fn write8(addr: u32, v: u8) {
    unsafe { write_volatile(addr as *mut u8, v) }
}

pub fn set_bits(addr: u32, bits: u32) {
    write32(addr, read32(addr) | bits);
}

pub fn clear_bits(addr: u32, bits: u32) {
    write32(addr, read32(addr) & !bits);
}

/// `len` bytes of memory at `addr` (flash or RAM the FUS may read).
pub fn bytes(addr: u32, len: u32) -> &'static [u8] {
    unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) }
}

/// Mask interrupts around `f` (the IPCC handler shares the state with the main loop).
pub fn critical<R>(f: impl FnOnce() -> R) -> R {
    let primask: u32;
    unsafe { core::arch::asm!("mrs {}, PRIMASK", "cpsid i", out(reg) primask) };
    let r = f();
    if primask & 1 == 0 {
        unsafe { core::arch::asm!("cpsie i") };
    }
    r
}

pub fn wfi() {
    unsafe { core::arch::asm!("wfi") };
}

pub mod rcc {
    pub const C2AHB1ENR: u32 = 0x5800_0148;
    pub const C2AHB3ENR: u32 = 0x5800_0150;
    pub const CRCEN: u32 = 1 << 12;
    pub const PKAEN: u32 = 1 << 16;
    pub const AES2EN: u32 = 1 << 17;
    pub const IPCCEN: u32 = 1 << 20;
}

pub mod ipcc {
    const BASE: u32 = 0x5800_0C00;
    pub const C1TOC2SR: u32 = BASE + 0x0C;
    pub const C2CR: u32 = BASE + 0x10;
    pub const C2MR: u32 = BASE + 0x14;
    pub const C2SCR: u32 = BASE + 0x18;
    pub const RXOIE: u32 = 1;
    /// CPU2's combined IPCC/HSEM interrupt line.
    pub const IRQ: u32 = 19;
}

pub mod flash {
    pub const BASE: u32 = 0x5800_4000;
    pub const KEYR: u32 = BASE + 0x08;
    pub const OPTKEYR: u32 = BASE + 0x0C;
    pub const SR: u32 = BASE + 0x10;
    pub const CR: u32 = BASE + 0x14;
    pub const ECCR: u32 = BASE + 0x18;
    pub const IPCCBR: u32 = BASE + 0x3C;
    pub const C2SR: u32 = BASE + 0x60;
    pub const C2CR: u32 = BASE + 0x64;
    pub const SFR: u32 = BASE + 0x80;
    pub const SRRVR: u32 = BASE + 0x84;
    /// The option-byte area: SFR's and SRRVR's value words as programmed (loaded into the
    /// registers only at OBL_LAUNCH or power-on).
    pub const OB_SFR: u32 = 0x1FFF_8070;
    pub const OB_SRRVR: u32 = 0x1FFF_8078;
}

pub mod crc {
    const BASE: u32 = 0x4002_3000;
    pub const DR: u32 = BASE;
    pub const CR: u32 = BASE + 0x08;
    pub const INIT: u32 = BASE + 0x10;
    pub const POL: u32 = BASE + 0x14;
}

pub mod aes2 {
    pub const BASE: u32 = 0x5800_1800;
    pub const CR: u32 = BASE;
    pub const SR: u32 = BASE + 0x04;
    pub const DINR: u32 = BASE + 0x08;
    pub const DOUTR: u32 = BASE + 0x0C;
    pub const KEYR0: u32 = BASE + 0x10;
    pub const IVR0: u32 = BASE + 0x20;
    pub const KEYR4: u32 = BASE + 0x30;
}

pub mod pka {
    pub const BASE: u32 = 0x5800_2000;
    pub const CR: u32 = BASE;
    pub const SR: u32 = BASE + 0x04;
    pub const CLRFR: u32 = BASE + 0x08;
}

/// UID64 in the engineering bytes.
pub const UID64: u32 = 0x1FFF_7580;
