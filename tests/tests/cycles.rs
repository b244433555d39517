//! Cycle counts per instruction class against the ARM technical reference manuals
//! (shared/reference/timing.md). Each case is a guest function measured against an empty one;
//! the expected totals are written out from the manuals, with the documented choices
//! (M4 pipeline refill P = 2, divide = 12; M0+ exception return = 15) named where they apply.

use wb_machine::{Config, CoreId};
use wb_tests::Bench;

const RAM: u32 = 0x2000_1000;
const RAM2: u32 = 0x2003_9000;

fn measure(b: &mut Bench, id: CoreId, case: &str, args: &[u32]) -> u64 {
    b.call(id, &format!("case_{case}"), args).1
}

fn check(id: CoreId, cases: &[(&str, &[u32], u64)], bx: u64) {
    let mut b = Bench::new(Config::default(), &[id]);
    let ram = if id == CoreId::Cpu1 { RAM } else { RAM2 };
    b.m.poke(ram, &(ram + 8).to_le_bytes());
    let empty = measure(&mut b, id, "empty", &[]);
    assert_eq!(empty, bx, "{id}: an empty function is one BX LR");
    let mut failures = Vec::new();
    for (case, args, expected) in cases {
        let args: Vec<u32> = args
            .iter()
            .map(|a| if *a == u32::MAX { ram } else { *a })
            .collect();
        let got = measure(&mut b, id, case, &args);
        if got != *expected {
            failures.push(format!("{case}: measured {got}, TRM {expected}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{id} cycle mismatches:\n{}",
        failures.join("\n")
    );
}

/// `u32::MAX` in an argument list stands for a RAM address.
const P: u32 = u32::MAX;

#[test]
// The expected counts are written as sums of the TRM terms, zeros included.
#[allow(clippy::identity_op)]
fn cortex_m4_instruction_classes() {
    // BX LR = 1+P = 3 closes every case.
    let cases: &[(&str, &[u32], u64)] = &[
        ("nop4", &[], 4 + 3),
        ("alu", &[1, 2, 3, 4], 4 + 3),
        ("mul", &[3, 5], 1 + 3),
        ("mla", &[1, 2, 3, 4], 1 + 3),
        ("udiv", &[100, 0, 7], 12 + 3),
        ("sdiv", &[100, 0, 7], 12 + 3),
        ("ldr", &[0, P], 2 + 3),
        ("ldr_ldr", &[0, P], 3 + 3), // pipelined: 2 + 1
        ("ldr_dep", &[0, P], 4 + 3), // second address depends on the first load
        ("str", &[0, P], 2 + 3),
        ("ldrd", &[0, P], 3 + 3),
        ("ldm", &[0, P], 5 + 3), // 1+N, N = 4
        ("stm", &[0, P], 5 + 3),
        ("pushpop", &[], 5 + 5 + 3),
        ("b", &[], 3 + 3),                     // 1+P
        ("beq_taken", &[], 1 + 3 + 3),         // CMP, taken branch 1+P
        ("bne_not_taken", &[], 1 + 1 + 1 + 3), // CMP, not taken 1, NOP
        ("cbz_taken", &[0], 3 + 3),
        ("bl", &[], 1 + 3 + 3 + 1 + 3), // MOV, BL, callee BX, MOV, BX
        ("it_fold", &[0], 1 + 0 + 1 + 3), // IT folds onto the 16-bit CMP
        ("tbb", &[0], 6 + 3),
        ("mrs_msr", &[0, 0, 0, 0], 1 + 2 + 3),
        ("barriers", &[], 1 + 3 + 3), // DSB 1+B (B=0), ISB 1+P
        ("vadd", &[], 1 + 3),
        ("vmul", &[], 1 + 3),
        ("vmla", &[], 3 + 3),
        ("vdiv", &[], 14 + 3),
        ("vsqrt", &[], 14 + 3),
        ("vldr", &[0, P], 2 + 3),
        ("vmov_core", &[0], 2 + 3),
        ("vpushpop", &[], 5 + 5 + 3),
        // SVC: entry 12, handler ADDS + BX (1 + 3), return 10, then BX LR.
        ("svc", &[], 12 + 4 + 10 + 3),
    ];
    check(CoreId::Cpu1, cases, 3);
}

#[test]
fn cortex_m0plus_instruction_classes() {
    // BX LR = 2 closes every case.
    let cases: &[(&str, &[u32], u64)] = &[
        ("nop4", &[], 4 + 2),
        ("alu", &[1, 2, 3, 4], 4 + 2),
        ("mul", &[3, 5], 1 + 2),
        ("ldr", &[0, P], 2 + 2),
        ("ldr_ldr", &[0, P], 4 + 2), // no pipelining on the M0+
        ("str", &[0, P], 2 + 2),
        ("ldm", &[0, P], 5 + 2),
        ("stm", &[0, P], 5 + 2),
        ("pushpop", &[], 5 + 5 + 2),
        ("pop_pc", &[], 2 + 3), // PUSH {LR} 1+1, POP {PC} 3+0
        ("b", &[], 2 + 2),
        ("beq_taken", &[], 1 + 2 + 2),
        ("bne_not_taken", &[], 1 + 1 + 1 + 2),
        ("bl", &[], 1 + 3 + 2 + 1 + 2),
        ("mrs_msr", &[0, 0, 0, 0], 3 + 3 + 2),
        ("barriers", &[], 3 + 3 + 2),
        ("cps", &[], 1 + 1 + 2),
        ("ldr_literal", &[], 2 + 2),
        ("extend", &[1, 2, 3, 4], 1 + 1 + 2),
        ("mov_pc", &[], 1 + 1 + 2 + 2), // ADR, ADDS, MOV PC (2), BX
        // SVC: entry 15, handler ADDS + BX (1 + 2), return 15, then BX LR.
        ("svc", &[], 15 + 3 + 15 + 2),
    ];
    check(CoreId::Cpu2, cases, 2);
}

#[test]
fn instruction_counts_are_exact() {
    let mut b = Bench::new(Config::default(), &[CoreId::Cpu1]);
    let before = b.m.stats(CoreId::Cpu1).insns;
    b.call(CoreId::Cpu1, "case_bench_loop", &[1000]);
    // 1000 iterations of SUBS+BNE, then BX LR.
    assert_eq!(b.m.stats(CoreId::Cpu1).insns - before, 2001);
}
