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

/// Run the image whose vector table is at `vector` as if CPU2 had booted there, interrupts
/// masked: its table in VTOR (its NMI handler, not ours), its stack, its reset handler.
pub fn enter(vector: u32) -> ! {
    unsafe { core::arch::asm!("cpsid i") };
    write32(wb_regs::scs::at::VTOR, vector);
    let (sp, pc) = (read32(vector), read32(vector + 4));
    // SAFETY: nothing of this image runs again; the other image starts from its reset.
    unsafe {
        core::arch::asm!("msr msp, {sp}", "bx {pc}", sp = in(reg) sp, pc = in(reg) pc, options(noreturn))
    }
}

// The register map is wb-regs'; these are the registers the FUS uses, by block.

pub mod rcc {
    pub use wb_regs::rcc::at::{C2AHB1ENR, C2AHB3ENR};
    pub use wb_regs::rcc::enable::{AES2EN, CRCEN, IPCCEN, PKAEN};
}

pub mod ipcc {
    pub use wb_regs::ipcc::at::{C1TOC2SR, C2CR, C2MR, C2SCR};
    pub use wb_regs::ipcc::RXOIE;
    /// CPU2's combined IPCC/HSEM interrupt line.
    pub const IRQ: u32 = 19;
}

pub mod flash {
    pub use wb_regs::flash::at::{C2CR, C2SR, CR, ECCR, IPCCBR, KEYR, OPTKEYR, SFR, SR, SRRVR};
    pub use wb_regs::flash::{KEY1, KEY2, OPTKEY1, OPTKEY2};
    /// The option-byte area: SFR's and SRRVR's value words as programmed (loaded into the
    /// registers only at OBL_LAUNCH or power-on).
    pub const OB_SFR: u32 = 0x1FFF_8070;
    pub const OB_SRRVR: u32 = 0x1FFF_8078;
}

pub mod crc {
    pub use wb_regs::crc::at::{CR, DR, INIT, POL};
}

pub mod aes2 {
    use wb_regs::aes1::reg;
    use wb_regs::aes2::addr;
    pub const CR: u32 = addr(reg::CR);
    pub const SR: u32 = addr(reg::SR);
    pub const DINR: u32 = addr(reg::DINR);
    pub const DOUTR: u32 = addr(reg::DOUTR);
    pub const KEYR0: u32 = addr(reg::KEYR0);
    pub const IVR0: u32 = addr(reg::IVR0);
    pub const KEYR4: u32 = addr(reg::KEYR4);
}

pub mod pka {
    pub use wb_regs::pka::at::{CLRFR, CR, SR};
    pub use wb_regs::pka::BASE;
}

/// UID64 in the engineering bytes.
pub const UID64: u32 = 0x1FFF_7580;
