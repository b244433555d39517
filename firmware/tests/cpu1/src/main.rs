//! CPU1 (Cortex-M4F) test program: vector table, cycle-measurement cases, the interrupt and
//! fault scenarios of guest-rt, the FP-context scenario, benchmark workloads, and the CPU1 side
//! of the two-core SRAM2a ping-pong (`app_main`).
#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};
use guest_rt::mailbox::*;
use guest_rt::*;

guest_rt::keep_host_calls!("bench_flash", "scen_fp", "it_load");

extern "C" {
    fn HardFaultEntry();
    fn SvcEntry();
    fn PendSvEntry();
}

/// The scenarios' handlers: IRQ 5/6 (nesting), 10 (the test peripheral), 44/45 (IPCC).
#[link_section = ".vector_table"]
#[no_mangle]
pub static VECTORS: guest_rt::vectors::Cpu1Vectors = guest_rt::vectors::VectorTable::new()
    .catch_all(guest_rt::DefaultHandler)
    .hard_fault(HardFaultEntry)
    .svcall(SvcEntry)
    .pendsv(PendSvEntry)
    .systick(guest_rt::scenarios::SysTickHandler)
    .irq(5, guest_rt::scenarios::IrqA)
    .irq(6, guest_rt::scenarios::IrqB)
    .irq(10, guest_rt::scenarios::PeriphIrq)
    .irq(44, guest_rt::ipcc::Ipcc1RxIrq)
    .irq(45, guest_rt::ipcc::Ipcc1TxIrq);

core::arch::global_asm!(
    r#"
    .text
    .thumb_func
    .global HardFaultEntry
HardFaultEntry:
    tst lr, #4
    ite eq
    mrseq r0, msp
    mrsne r0, psp
    b hard_fault_frame

    /* SVC handler used by the cycle cases and scen_svc: counts in r4. */
    .thumb_func
    .global SvcEntry
SvcEntry:
    adds r4, #1
    bx lr

    .thumb_func
    .global PendSvEntry
PendSvEntry:
    bx lr

    .thumb_func
    .global call_done
call_done:
    b call_done
"#
);

// Cycle cases: each is called by the host with r0-r3 set, returns with `bx lr`.
core::arch::global_asm!(
    r#"
    .text
    .balign 4
    .macro case name
    .thumb_func
    .global case_\name
case_\name:
    .endm

    case empty
    bx lr
    case nop4
    nop
    nop
    nop
    nop
    bx lr
    case alu
    adds r0, r1
    eor.w r2, r2, r3
    lsls r0, r0, #2
    mov.w r1, #5
    bx lr
    case mul
    muls r0, r1, r0
    bx lr
    case mla
    mla r0, r1, r2, r3
    bx lr
    case udiv
    udiv r0, r0, r2
    bx lr
    case sdiv
    sdiv r0, r0, r2
    bx lr
    case ldr
    ldr r0, [r1]
    bx lr
    case ldr_ldr
    ldr r0, [r1]
    ldr r2, [r1, #4]
    bx lr
    case ldr_dep
    ldr r0, [r1]
    ldr r2, [r0]
    bx lr
    case str
    str r0, [r1]
    bx lr
    case ldrd
    ldrd r2, r3, [r1]
    bx lr
    case ldm
    ldm r1, {{r2, r3, r4, r5}}
    bx lr
    case stm
    stm r1, {{r2, r3, r4, r5}}
    bx lr
    case pushpop
    push {{r4, r5, r6, r7}}
    pop {{r4, r5, r6, r7}}
    bx lr
    case b
    b 1f
1:  bx lr
    case beq_taken
    cmp r0, r0
    beq 2f
    nop
2:  bx lr
    case bne_not_taken
    cmp r0, r0
    bne 2f
    nop
2:  bx lr
    case cbz_taken
    cbz r0, 2f
    nop
2:  bx lr
    case bl
    mov r12, lr
    bl 1f
    mov lr, r12
    bx lr
1:  bx lr
    case it_fold
    cmp r0, #0
    it eq
    moveq r0, #1
    bx lr
    case tbb
    tbb [pc, r0]
1:  .byte (2f - 1b) / 2
    .byte 0
2:  bx lr
    case mrs_msr
    mrs r0, primask
    msr basepri, r3
    bx lr
    case barriers
    dsb
    isb
    bx lr
    case vadd
    vadd.f32 s0, s1, s2
    bx lr
    case vmul
    vmul.f32 s0, s1, s2
    bx lr
    case vmla
    vmla.f32 s0, s1, s2
    bx lr
    case vdiv
    vdiv.f32 s0, s1, s2
    bx lr
    case vsqrt
    vsqrt.f32 s0, s1
    bx lr
    case vldr
    vldr s0, [r1]
    bx lr
    case vmov_core
    vmov s0, r0
    bx lr
    case vpushpop
    vpush {{s16-s19}}
    vpop {{s16-s19}}
    bx lr
    case svc
    svc #0
    bx lr

    /* Benchmark: a tight count-down loop. */
    case bench_loop
1:  subs r0, #1
    bne 1b
    bx lr
"#
);

/// Keep `s0..s15` across an interrupt whose handler clobbers them (extended frame).
#[no_mangle]
pub extern "C" fn scen_fp() -> u32 {
    let ok: u32;
    write32(0xE000_ED88, 0xF << 20); // CPACR: CP10/CP11 full access
    nvic_enable(scenarios::IRQ_B);
    unsafe {
        core::arch::asm!(
            "vmov.f32 s0, #1.0",
            "vmov.f32 s15, #2.5",
            "ldr r1, ={ispr}",
            "mov r2, #(1 << {irq})",
            "str r2, [r1]",
            "dsb",
            "isb",
            "vmov.f32 s1, #1.0",
            "vmov.f32 s2, #2.5",
            "vcmp.f32 s0, s1",
            "vmrs APSR_nzcv, fpscr",
            "bne 1f",
            "vcmp.f32 s15, s2",
            "vmrs APSR_nzcv, fpscr",
            "bne 1f",
            "movs r0, #1",
            "b 2f",
            "1: movs r0, #0",
            "2:",
            ispr = const 0xE000_E200u32,
            irq = const scenarios::IRQ_B,
            out("r0") ok, out("r1") _, out("r2") _,
            out("s0") _, out("s1") _, out("s2") _, out("s15") _,
        );
    }
    ok
}

/// The demo: ask CPU2 to compute `x*x + 1` for 64 values through SRAM2a, with SEV/WFE
/// handshakes, check every answer, leave a checksum at 0x20030010 and stop.
#[no_mangle]
pub extern "C" fn app_main() -> ! {
    let mut sum = 0u32;
    for i in 1..=ROUNDS {
        write32(MB_REQ, i * 7);
        write32(MB_SEQ, i);
        unsafe { core::arch::asm!("dsb", "sev") };
        while unsafe { read_volatile(MB_ACK as *const u32) } != i {
            unsafe { core::arch::asm!("wfe") };
        }
        let r = read32(MB_RESP);
        if r != (i * 7) * (i * 7) + 1 {
            sum = 0xBAD0_0000 | i;
            break;
        }
        sum = sum.wrapping_mul(31).wrapping_add(r);
    }
    unsafe { write_volatile(MB_SUM as *mut u32, sum) };
    loop {
        host_stop();
    }
}
