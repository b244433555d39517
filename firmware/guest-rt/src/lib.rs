//! Minimal start-up for the guest programs: a typed vector table ([`vectors`]), the reset
//! handler (copy .data, zero .bss, call `app_main`), default handlers, a panic handler, and
//! volatile helpers.
#![no_std]

pub mod flash;
pub mod ipcc;
pub mod pka;
pub mod scenarios;
pub mod system;
pub mod uart;
pub mod vectors;

/// The SRAM2a mailbox of the two-core ping-pong demo.
pub mod mailbox {
    pub const MB_REQ: u32 = 0x2003_0000;
    pub const MB_SEQ: u32 = 0x2003_0004;
    pub const MB_RESP: u32 = 0x2003_0008;
    pub const MB_ACK: u32 = 0x2003_000C;
    pub const MB_SUM: u32 = 0x2003_0010;
    pub const ROUNDS: u32 = 64;
}

use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};

extern "C" {
    static mut __sdata: u32;
    static mut __edata: u32;
    static __sidata: u32;
    static mut __sbss: u32;
    static mut __ebss: u32;
    fn app_main() -> !;
}

/// The reset vector of every guest program.
///
/// # Safety
/// Called once by the core at reset, with the linker-script symbols describing memory.
#[no_mangle]
pub unsafe extern "C" fn Reset() -> ! {
    let mut src = addr_of!(__sidata);
    let mut dst = addr_of_mut!(__sdata);
    while dst < addr_of_mut!(__edata) {
        write_volatile(dst, read_volatile(src));
        dst = dst.add(1);
        src = src.add(1);
    }
    let mut b = addr_of_mut!(__sbss);
    while b < addr_of_mut!(__ebss) {
        write_volatile(b, 0);
        b = b.add(1);
    }
    app_main()
}

/// Unused vectors: stop with BKPT #0xEE so the host sees an unexpected exception.
#[no_mangle]
pub extern "C" fn DefaultHandler() {
    unsafe { core::arch::asm!("bkpt #0xEE") };
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        unsafe { core::arch::asm!("bkpt #0xEF") };
    }
}

pub fn read32(addr: u32) -> u32 {
    unsafe { read_volatile(addr as *const u32) }
}

pub fn write32(addr: u32, v: u32) {
    unsafe { write_volatile(addr as *mut u32, v) }
}

/// Stop and hand control to the host (BKPT ends the emulator run).
#[inline(always)]
pub fn host_stop() {
    unsafe { core::arch::asm!("bkpt #0") };
}

pub use wb_regs;
pub use wb_regs::scs::at::{
    BFAR as SCB_BFAR, CFSR as SCB_CFSR, HFSR as SCB_HFSR, NVIC_ICPR, NVIC_IPR, NVIC_ISER,
    NVIC_ISPR, SYST_CSR, SYST_CVR, SYST_RVR,
};

pub fn nvic_enable(irq: u32) {
    write32(NVIC_ISER + 4 * (irq / 32), 1 << (irq % 32));
}

/// Pend `irq`; the barriers make the core recognise it before the next instruction, as the
/// architecture requires for software-pended interrupts.
pub fn nvic_pend(irq: u32) {
    write32(NVIC_ISPR + 4 * (irq / 32), 1 << (irq % 32));
    unsafe { core::arch::asm!("dsb", "isb") };
}

/// Set an IRQ priority with word accesses (the M0+ NVIC has no byte access).
pub fn nvic_priority(irq: u32, prio: u8) {
    let addr = NVIC_IPR + 4 * (irq / 4);
    let shift = 8 * (irq % 4);
    let v = read32(addr) & !(0xFF << shift);
    write32(addr, v | (prio as u32) << shift);
}

/// A small event log in RAM that the host reads back by symbol.
#[repr(C)]
pub struct Log {
    pub len: u32,
    pub items: [u32; 31],
}

impl Default for Log {
    fn default() -> Log {
        Log::new()
    }
}

impl Log {
    pub const fn new() -> Log {
        Log {
            len: 0,
            items: [0; 31],
        }
    }
}

/// Append `v` to `log` (callable from handlers: volatile, no locking needed on one core).
///
/// # Safety
/// `log` points to a `Log` that lives as long as the program (a static).
pub unsafe fn log(log: *mut Log, v: u32) {
    unsafe {
        let n = read_volatile(addr_of!((*log).len));
        if (n as usize) < 31 {
            write_volatile(addr_of_mut!((*log).items[n as usize]), v);
            write_volatile(addr_of_mut!((*log).len), n + 1);
        }
    }
}

/// Empty `log`.
///
/// # Safety
/// As for [`log`].
pub unsafe fn log_clear(log: *mut Log) {
    unsafe { write_volatile(addr_of_mut!((*log).len), 0) };
}

/// CRC-32 (reflected, poly 0xEDB88320) over a 1 KiB buffer, `rounds` times: the compiled
/// benchmark workload.
#[no_mangle]
pub extern "C" fn bench_crc(rounds: u32) -> u32 {
    static mut BUF: [u8; 1024] = [0; 1024];
    let buf = unsafe { &mut *addr_of_mut!(BUF) };
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    let mut crc = 0xFFFF_FFFFu32;
    for _ in 0..rounds {
        for &b in buf.iter() {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
            }
        }
    }
    !crc
}

/// Keep the functions only the host calls (by symbol) in a program: guest-rt's scenarios,
/// flash routines and benchmark, plus the program's own `extra` ones. Referenced from a kept
/// section so that the linker does not drop them.
#[macro_export]
macro_rules! keep_host_calls {
    ($($extra:literal),* $(,)?) => {
        core::arch::global_asm!(
            ".section .host_calls, \"a\"",
            ".word scen_svc",
            ".word scen_ispr",
            ".word scen_nested",
            ".word scen_tailchain",
            ".word scen_primask",
            ".word scen_systick",
            ".word scen_wfi_periph",
            ".word scen_fault",
            ".word scen_read",
            ".word scen_read_byte",
            ".word flash_unlock",
            ".word flash_program",
            ".word flash_erase",
            ".word bench_crc",
            ".word sys_ipcc_enable",
            ".word sys_c2boot_toggle",
            ".word sys_clock_64mhz",
            ".word sys_reset_flags",
            ".word sys_clear_reset_flags",
            ".word sys_reset",
            ".word sys_program_option",
            ".word sys_read32",
            ".word sys_write32",
            ".word ipcc_client",
            ".word ipcc_server",
            ".word uart_echo",
            ".word pka_verify",
            $(concat!(".word ", $extra),)*
        );
    };
}
