//! Interrupts and faults on both cores, driven by the guest scenarios of guest-rt.

use wb_machine::{Config, CoreId, Exit};
use wb_tests::{Bench, TEST_IRQ, TEST_PERIPH};

fn bench(id: CoreId) -> Bench {
    Bench::new(Config::default(), &[id])
}

#[test]
fn svc_enters_the_handler_and_returns() {
    for id in CoreId::ALL {
        let mut b = bench(id);
        let (r0, _) = b.call(id, "scen_svc", &[]);
        assert_eq!(r0, 42, "{id}: the SVC handler ran once");
    }
}

#[test]
fn nvic_ispr_pends_an_interrupt_taken_at_once() {
    for id in CoreId::ALL {
        let mut b = bench(id);
        b.call(id, "scen_ispr", &[]);
        assert_eq!(b.log(id), vec![1, 5, 2], "{id}");
    }
}

#[test]
fn a_higher_priority_interrupt_preempts_a_handler() {
    for id in CoreId::ALL {
        let mut b = bench(id);
        b.call(id, "scen_nested", &[]);
        assert_eq!(b.log(id), vec![0x50, 6, 0x51, 2], "{id}");
    }
}

#[test]
fn pending_interrupts_tail_chain_in_priority_order() {
    for id in CoreId::ALL {
        let mut b = bench(id);
        b.call(id, "scen_tailchain", &[]);
        assert_eq!(b.log(id), vec![5, 6, 2], "{id}");
    }
}

#[test]
fn a_pending_interrupt_is_taken_when_primask_clears() {
    for id in CoreId::ALL {
        let mut b = bench(id);
        b.call(id, "scen_primask", &[]);
        assert_eq!(b.log(id), vec![1, 5, 2], "{id}");
    }
}

#[test]
fn systick_interrupts_wake_wfi() {
    for id in CoreId::ALL {
        let mut b = bench(id);
        let (ticks, cycles) = b.call(id, "scen_systick", &[999]);
        assert_eq!(ticks, 3, "{id}");
        // Three periods of 1000 cycles, plus set-up and handlers.
        assert!((3000..3400).contains(&cycles), "{id}: {cycles} cycles");
        assert!(b.m.stats(id).idle_cycles > 2000, "{id} slept in WFI");
    }
}

#[test]
fn a_peripheral_interrupt_wakes_wfi() {
    for id in CoreId::ALL {
        let mut b = bench(id);
        // 50 us at 4 MHz = 200 cycles of sleep.
        let (_, cycles) = b.call(id, "scen_wfi_periph", &[TEST_PERIPH, TEST_IRQ, 50_000]);
        assert_eq!(b.log(id), vec![1, 0x1E, 2], "{id}");
        assert!(cycles >= 200, "{id}: woke after {cycles} cycles");
    }
}

#[test]
fn fp_registers_survive_an_interrupt_on_cpu1() {
    let mut b = bench(CoreId::Cpu1);
    let (ok, _) = b.call(CoreId::Cpu1, "scen_fp", &[]);
    assert_eq!(ok, 1, "s0/s15 restored from the extended frame");
}

#[test]
fn a_forbidden_load_is_a_hardfault_with_status() {
    let mut b = bench(CoreId::Cpu1);
    b.call(CoreId::Cpu1, "scen_fault", &[0]);
    let insn = b.sym(CoreId::Cpu1, "fault_insn");
    // CFSR: PRECISERR | BFARVALID; HFSR: FORCED; BFAR: the address; stacked PC: the load.
    assert_eq!(
        b.log(CoreId::Cpu1),
        vec![(1 << 9) | (1 << 15), 1 << 30, 0x3000_0000, insn, 2]
    );

    let mut b = bench(CoreId::Cpu2);
    b.call(CoreId::Cpu2, "scen_fault", &[0]);
    let insn = b.sym(CoreId::Cpu2, "fault_insn");
    assert_eq!(b.log(CoreId::Cpu2), vec![insn, 2]);
}

#[test]
fn a_fault_in_hardfault_locks_the_core_up() {
    for id in CoreId::ALL {
        let mut b = bench(id);
        let (_, _, exit) = b.call_exit(id, "scen_fault", &[1], 1_000_000_000);
        assert_eq!(exit, Exit::Lockup(id));
        assert_eq!(b.m.core(id).pc(), wb_machine::exception::LOCKUP_PC);
    }
}
