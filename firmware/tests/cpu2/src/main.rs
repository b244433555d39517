//! CPU2 (Cortex-M0+) test program: vector table, cycle-measurement cases, the interrupt and
//! fault scenarios of guest-rt, and the CPU2 side of the SRAM2a ping-pong (`app_main`).
#![no_std]
#![no_main]

use core::ptr::read_volatile;
use guest_rt::mailbox::*;
use guest_rt::*;

guest_rt::keep_host_calls!();

extern "C" {
    fn HardFaultEntry();
    fn SvcEntry();
    fn PendSvEntry();
}

/// The scenarios' handlers: IRQ 5/6 (nesting), 10 (the test peripheral), 19 (IPCC).
#[link_section = ".vector_table"]
#[no_mangle]
pub static VECTORS: guest_rt::vectors::Cpu2Vectors = guest_rt::vectors::VectorTable::new()
    .hard_fault(HardFaultEntry)
    .svcall(SvcEntry)
    .pendsv(PendSvEntry)
    .systick(guest_rt::scenarios::SysTickHandler)
    .irq(5, guest_rt::scenarios::IrqA)
    .irq(6, guest_rt::scenarios::IrqB)
    .irq(10, guest_rt::scenarios::PeriphIrq)
    .irq(19, guest_rt::ipcc::Ipcc2Irq);

core::arch::global_asm!(
    r#"
    .text
    .thumb_func
    .global HardFaultEntry
HardFaultEntry:
    movs r1, #4
    mov r2, lr
    tst r2, r1
    beq 1f
    mrs r0, psp
    b hard_fault_frame
1:  mrs r0, msp
    b hard_fault_frame

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
    eors r2, r3
    lsls r0, r0, #2
    movs r1, #5
    bx lr
    case mul
    muls r0, r1, r0
    bx lr
    case ldr
    ldr r0, [r1]
    bx lr
    case ldr_ldr
    ldr r0, [r1]
    ldr r2, [r1, #4]
    bx lr
    case str
    str r0, [r1]
    bx lr
    case ldm
    ldm r1!, {{r2, r3, r4, r5}}
    bx lr
    case stm
    stm r1!, {{r2, r3, r4, r5}}
    bx lr
    case pushpop
    push {{r4, r5, r6, r7}}
    pop {{r4, r5, r6, r7}}
    bx lr
    case pop_pc
    push {{lr}}
    pop {{pc}}
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
    case bl
    mov r12, lr
    bl 1f
    mov lr, r12
    bx lr
1:  bx lr
    case mrs_msr
    mrs r0, primask
    msr primask, r3
    bx lr
    case barriers
    dsb
    isb
    bx lr
    case cps
    cpsid i
    cpsie i
    bx lr
    case ldr_literal
    ldr r0, =0x12345678
    bx lr
    case extend
    uxtb r0, r1
    rev r2, r3
    bx lr
    case mov_pc
    adr r0, 2f
    adds r0, #1
    mov pc, r0
    nop
    .balign 4
2:  bx lr
    case svc
    svc #0
    bx lr

    case bench_loop
1:  subs r0, #1
    bne 1b
    bx lr
"#
);

/// Answer CPU1's requests in the SRAM2a mailbox: `x*x + 1`, then SEV.
#[no_mangle]
pub extern "C" fn app_main() -> ! {
    let mut last = 0u32;
    loop {
        let seq = unsafe { read_volatile(MB_SEQ as *const u32) };
        if seq == last {
            unsafe { core::arch::asm!("wfe") };
            continue;
        }
        last = seq;
        let x = read32(MB_REQ);
        write32(MB_RESP, x.wrapping_mul(x).wrapping_add(1));
        write32(MB_ACK, seq);
        unsafe { core::arch::asm!("dsb", "sev") };
        if seq == ROUNDS {
            loop {
                unsafe { core::arch::asm!("wfi") };
            }
        }
    }
}
