//! Interrupt and fault scenarios run on both cores. The host calls each `scen_*` function
//! (PC set to it, LR to `call_done`) and reads `LOG` back by symbol.

use crate::*;
use core::ptr::{addr_of_mut, read_volatile, write_volatile};

#[no_mangle]
pub static mut LOG: Log = Log::new();
/// Selects what the shared handlers do in the current scenario.
#[no_mangle]
pub static mut MODE: u32 = 0;
#[no_mangle]
pub static mut TICKS: u32 = 0;

/// Software-pended test interrupts: IRQ 5 and IRQ 6 exist on both cores' tables.
pub const IRQ_A: u32 = 5;
pub const IRQ_B: u32 = 6;

const MODE_NESTED: u32 = 1;
const MODE_LOCKUP: u32 = 2;

fn log_(v: u32) {
    unsafe { log(addr_of_mut!(LOG), v) };
}

fn start(mode: u32) {
    unsafe {
        log_clear(addr_of_mut!(LOG));
        write_volatile(addr_of_mut!(MODE), mode);
    }
}

#[no_mangle]
pub extern "C" fn IrqA() {
    if unsafe { read_volatile(addr_of_mut!(MODE)) } == MODE_NESTED {
        log_(0x50);
        nvic_pend(IRQ_B); // higher priority: preempts this handler at once
        log_(0x51);
    } else {
        log_(IRQ_A);
    }
}

#[no_mangle]
pub extern "C" fn IrqB() {
    log_(IRQ_B);
    // On the M4 the handler also clobbers the caller-saved FP registers: the interrupted code
    // must find them intact (extended stack frame).
    #[cfg(target_abi = "eabihf")]
    unsafe {
        core::arch::asm!(
            "vmov.f32 s0, #-1.0",
            "vmov.f32 s1, #-1.0",
            "vmov.f32 s2, #-1.0",
            "vmov.f32 s15, #-1.0",
            out("s0") _, out("s1") _, out("s2") _, out("s15") _,
        )
    };
}

#[no_mangle]
pub extern "C" fn SysTickHandler() {
    unsafe { write_volatile(addr_of_mut!(TICKS), read_volatile(addr_of_mut!(TICKS)) + 1) };
}

/// HardFault with the stacked frame in r0 (see the entry stub of each program).
///
/// # Safety
/// `frame` is the exception frame the core stacked for this HardFault.
#[no_mangle]
pub unsafe extern "C" fn hard_fault_frame(frame: *mut u32) {
    if unsafe { read_volatile(addr_of_mut!(MODE)) } == MODE_LOCKUP {
        read32(0x3000_0000); // a fault inside HardFault: the core locks up
    }
    let stacked_pc = unsafe { read_volatile(frame.add(6)) };
    #[cfg(target_abi = "eabihf")]
    {
        log_(read32(SCB_CFSR));
        log_(read32(SCB_HFSR));
        log_(read32(SCB_BFAR));
    }
    log_(stacked_pc);
    // Resume after the faulting 16-bit load.
    unsafe { write_volatile(frame.add(6), stacked_pc + 2) };
}

/// SVC: the handler (`SvcEntry` of each program) increments r4.
#[no_mangle]
pub extern "C" fn scen_svc() -> u32 {
    let mut n: u32 = 41;
    unsafe { core::arch::asm!("mov r4, {0}", "svc #0", "mov {0}, r4", inout(reg) n, out("r4") _) };
    n
}

#[no_mangle]
pub extern "C" fn scen_ispr() {
    start(0);
    nvic_enable(IRQ_A);
    log_(1);
    nvic_pend(IRQ_A);
    log_(2);
}

#[no_mangle]
pub extern "C" fn scen_nested() {
    start(MODE_NESTED);
    nvic_priority(IRQ_A, 0x80);
    nvic_priority(IRQ_B, 0x40);
    nvic_enable(IRQ_A);
    nvic_enable(IRQ_B);
    nvic_pend(IRQ_A);
    log_(2);
}

#[no_mangle]
pub extern "C" fn scen_tailchain() {
    start(0);
    nvic_priority(IRQ_A, 0x40);
    nvic_priority(IRQ_B, 0x80);
    nvic_enable(IRQ_A);
    nvic_enable(IRQ_B);
    unsafe { core::arch::asm!("cpsid i") };
    nvic_pend(IRQ_B);
    nvic_pend(IRQ_A);
    unsafe { core::arch::asm!("cpsie i") };
    log_(2);
}

#[no_mangle]
pub extern "C" fn scen_primask() {
    start(0);
    nvic_priority(IRQ_A, 0);
    nvic_enable(IRQ_A);
    unsafe { core::arch::asm!("cpsid i") };
    nvic_pend(IRQ_A);
    log_(1);
    unsafe { core::arch::asm!("cpsie i") };
    log_(2);
}

/// Three SysTick interrupts of `reload + 1` core cycles each, sleeping in WFI between them.
#[no_mangle]
pub extern "C" fn scen_systick(reload: u32) -> u32 {
    start(0);
    unsafe { write_volatile(addr_of_mut!(TICKS), 0) };
    write32(SYST_RVR, reload);
    write32(SYST_CVR, 0);
    write32(SYST_CSR, 0b111); // core clock, TICKINT, ENABLE
    while unsafe { read_volatile(addr_of_mut!(TICKS)) } < 3 {
        unsafe { core::arch::asm!("wfi") };
    }
    write32(SYST_CSR, 0);
    unsafe { read_volatile(addr_of_mut!(TICKS)) }
}

/// Sleep in WFI until the test peripheral (host side) raises `irq`; its handler logs.
#[no_mangle]
pub extern "C" fn scen_wfi_periph(periph: u32, irq: u32, delay: u32) {
    start(0);
    unsafe { write_volatile(addr_of_mut!(PERIPH), periph) };
    nvic_enable(irq);
    write32(periph, delay); // arm: the line rises `delay` ns from now
    log_(1);
    unsafe { core::arch::asm!("wfi") };
    log_(2);
}

#[no_mangle]
pub static mut PERIPH: u32 = 0;

/// Handler of the test peripheral's line: acknowledge and log.
#[no_mangle]
pub extern "C" fn PeriphIrq() {
    let p = unsafe { read_volatile(addr_of_mut!(PERIPH)) };
    write32(p + 4, 1);
    log_(0x1E);
}

core::arch::global_asm!(
    ".text",
    ".thumb_func",
    ".global fault_load",
    "fault_load:",
    ".global fault_insn",
    "fault_insn:",
    "ldr r0, [r0]",
    "bx lr",
);

// The same with a byte load (16-bit `ldrb`), and on CPU1 a load inside an IT block.
core::arch::global_asm!(
    ".text",
    ".thumb_func",
    ".global fault_load_byte",
    "fault_load_byte:",
    ".global fault_insn_byte",
    "fault_insn_byte:",
    "ldrb r0, [r0]",
    "bx lr",
);

// `it_load(addr, 1)`: r0 = [addr] + 5, the load conditional in an IT block that ends before
// the branch; the block after the branch (`movs r2, #5`) must run unconditionally.
#[cfg(target_abi = "eabihf")]
core::arch::global_asm!(
    ".text",
    ".thumb_func",
    ".global it_load",
    "it_load:",
    "cmp r1, #0",
    "ite ne",
    "ldrne r0, [r0]",
    "moveq r0, #0",
    "b 1f",
    "1:",
    "movs r2, #5",
    "add r0, r2",
    "bx lr",
);

extern "C" {
    fn fault_load(addr: u32) -> u32;
    fn fault_load_byte(addr: u32) -> u32;
}

/// A load from `addr` through the 16-bit `ldr` at `fault_insn` (a HardFault resumes after
/// it), logging 2 afterwards.
#[no_mangle]
pub extern "C" fn scen_read(addr: u32) -> u32 {
    start(0);
    let v = unsafe { fault_load(addr) };
    log_(2);
    v
}

/// As `scen_read` with the byte load at `fault_insn_byte`.
#[no_mangle]
pub extern "C" fn scen_read_byte(addr: u32) -> u32 {
    start(0);
    let v = unsafe { fault_load_byte(addr) };
    log_(2);
    v
}

/// A load from nothing: the 16-bit `ldr` at `fault_insn`.
#[no_mangle]
pub extern "C" fn scen_fault(lockup: u32) {
    start(if lockup != 0 { MODE_LOCKUP } else { 0 });
    unsafe { fault_load(0x3000_0000) };
    log_(2);
}
