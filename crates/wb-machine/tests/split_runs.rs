//! Pausing a run must not change it: a replay of recorded host input pauses the machine at
//! other times than the recorded run did (there, every slice of real-time pacing), and both
//! must end cycle-exact identical. `run_past` is that pause; `run_until` stops exactly.

use wb_machine::{Clocks, Config, CoreId, CoreStats, Exit, Machine, Picos, RegisterARM};

use wb_machine::picos::US;
const CPU1_BASE: u32 = 0x0800_0000;
/// Where CPU2 boots: `Config::cpu2_boot`, or SBRV of the blank option bytes after C2BOOT.
const CPU2_BASE: u32 = 0x0808_0000;
/// Each core's words in SRAM1: loop count, checksum, SysTick count, SysTick checksum.
const CPU1_SLOT: u32 = 0x2000_0100;
const CPU2_SLOT: u32 = 0x2000_0200;
/// Where CPU2's copy of the program sends its RCC and PWR writes: SRAM, so only CPU1 acts.
const CPU2_SCRATCH: u32 = 0x2000_0300;

/// A vector table and a program (Thumb-1, so both cores run it): SysTick every `reload` + 1
/// cycles, and a loop that counts and folds the other core's count into a checksum, so that
/// the result depends on when each core sees the other's stores and when the ticks come. At
/// the count of 200 it writes 0x81 to `rcc_cr` (RCC_CR: MSI to 16 MHz), at 250 it sets bit 15
/// of `pwr_cr4` (PWR_CR4.C2BOOT: CPU2 starts).
fn program(base: u32, mine: u32, theirs: u32, reload: u32, rcc_cr: u32, pwr_cr4: u32) -> Vec<u8> {
    const CODE: [u16; 43] = [
        0x4f15, // 0x40 reset:   ldr r7, =mine
        0x4e16, //               ldr r6, =theirs
        0x4816, //               ldr r0, =0xE000E010 (SYST_CSR)
        0x4917, //               ldr r1, =reload
        0x6041, //               str r1, [r0, #4]    (RVR)
        0x2100, //               movs r1, #0
        0x6081, //               str r1, [r0, #8]    (CVR)
        0x2107, //               movs r1, #7         (ENABLE | TICKINT | CLKSOURCE)
        0x6001, //               str r1, [r0]
        0x6839, // 0x52 loop:    ldr r1, [r7]
        0x3101, //               adds r1, #1
        0x6039, //               str r1, [r7]
        0x29c8, //               cmp r1, #200
        0xd102, //               bne 1f
        0x4812, //               ldr r0, =rcc_cr
        0x2281, //               movs r2, #0x81
        0x6002, //               str r2, [r0]
        0x29fa, // 0x62 1:       cmp r1, #250
        0xd105, //               bne 2f
        0x4811, //               ldr r0, =pwr_cr4
        0x6802, //               ldr r2, [r0]
        0x2301, //               movs r3, #1
        0x03db, //               lsls r3, r3, #15
        0x431a, //               orrs r2, r3
        0x6002, //               str r2, [r0]
        0x6832, // 0x72 2:       ldr r2, [r6]        (the other core's count)
        0x687b, //               ldr r3, [r7, #4]
        0x2421, //               movs r4, #33
        0x4363, //               muls r3, r4
        0x4053, //               eors r3, r2
        0x607b, //               str r3, [r7, #4]
        0xe7e8, //               b loop
        0x68b8, // 0x80 systick: ldr r0, [r7, #8]
        0x3001, //               adds r0, #1
        0x60b8, //               str r0, [r7, #8]
        0x6839, //               ldr r1, [r7]        (where the loop was)
        0x68fa, //               ldr r2, [r7, #12]
        0x00d3, //               lsls r3, r2, #3
        0x18d2, //               adds r2, r2, r3
        0x404a, //               eors r2, r1
        0x60fa, //               str r2, [r7, #12]
        0x4770, //               bx lr
        0xe7fe, // 0x94 hang:    b hang
    ];
    let stack = mine + 0x8000;
    let mut words = vec![stack, base + 0x41];
    words.extend([base + 0x95; 13]); // NMI .. PendSV
    words.push(base + 0x81); // SysTick
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes.extend(CODE.iter().flat_map(|h| h.to_le_bytes()));
    bytes.extend([0, 0]); // the literal pool is word-aligned (0x98)
    for w in [mine, theirs, 0xE000_E010, reload, rcc_cr, pwr_cr4] {
        bytes.extend(w.to_le_bytes());
    }
    bytes
}

/// Both cores running the program from reset at pinned clocks (`both`), or CPU1 alone on the
/// RCC's clocks, which switches MSI to 16 MHz and then starts CPU2 through C2BOOT.
fn machine(both: bool) -> Machine {
    let config = Config {
        clocks: if both {
            Clocks::Fixed {
                cpu1_hz: 64_000_000,
                cpu2_hz: 32_000_000,
            }
        } else {
            Clocks::Rcc
        },
        cpu1_boot: CPU1_BASE,
        cpu2_boot: both.then_some(CPU2_BASE),
        ..Config::default()
    };
    let mut m = Machine::new(config).unwrap();
    // Tick periods that do not divide the 10 µs quantum: SysTick events end quanta all the
    // time, off the quantum's rhythm.
    let cpu1 = program(
        CPU1_BASE,
        CPU1_SLOT,
        CPU2_SLOT,
        997,
        0x5800_0000,
        0x5800_040C,
    );
    let cpu2 = program(
        CPU2_BASE,
        CPU2_SLOT,
        CPU1_SLOT,
        613,
        CPU2_SCRATCH,
        CPU2_SCRATCH,
    );
    assert!(m.poke(CPU1_BASE, &cpu1));
    assert!(m.poke(CPU2_BASE, &cpu2));
    m.reset(wb_machine::ResetCause::PowerOn);
    m
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    now: Picos,
    stats: [CoreStats; 2],
    regs: [[u32; 9]; 2],
    slots: [[u32; 4]; 2],
}

fn outcome(m: &Machine) -> Outcome {
    use RegisterARM::*;
    Outcome {
        now: m.now(),
        stats: CoreId::ALL.map(|id| m.stats(id)),
        regs: CoreId::ALL.map(|id| [R0, R1, R2, R3, R4, R6, R7, SP, PC].map(|r| m.core(id).reg(r))),
        slots: [CPU1_SLOT, CPU2_SLOT].map(|at| [0, 4, 8, 12].map(|o| m.read_u32(at + o).unwrap())),
    }
}

/// The run to `end` in one call; the same run paused with `run_past` at each of `pauses` is
/// identical, and so is a replay that pauses where that one stopped.
fn check_pauses(both: bool, end: Picos, pauses: &[&[Picos]]) -> Outcome {
    let quantum = Config::default().quantum;
    let mut m = machine(both);
    assert_eq!(m.run_until(end), Exit::Limit);
    assert_eq!(m.now(), end, "run_until stops exactly at its limit");
    let reference = outcome(&m);
    for &pauses in pauses {
        let mut m = machine(both);
        let mut stops = Vec::new();
        for &t in pauses {
            assert_eq!(m.run_past(t), Exit::Limit);
            // Where the lock-step quantum (or a lone core's block) holding t ends.
            assert!(m.now() >= t && m.now() - t <= quantum, "{t} -> {}", m.now());
            stops.push(m.now());
        }
        assert_eq!(m.run_until(end), Exit::Limit);
        assert_eq!(outcome(&m), reference, "paused at {pauses:?}");
        let mut m = machine(both);
        for &t in &stops {
            assert_eq!(m.run_past(t), Exit::Limit);
            assert_eq!(m.now(), t, "a pause where a run paused is exact");
        }
        assert_eq!(m.run_until(end), Exit::Limit);
        assert_eq!(outcome(&m), reference, "replayed stops at {stops:?}");
    }
    reference
}

#[test]
fn pausing_two_busy_cores_anywhere_does_not_change_the_run() {
    let reference = check_pauses(
        true,
        2_000 * US,
        &[
            &[1_000 * US],
            &[1, 12_345_678, 730 * US + 1, 1_990 * US],
            &[
                340 * US,
                341 * US,
                342_500_000,
                343 * US,
                344 * US,
                360 * US,
            ],
            &[
                15_625_000,
                15_640_625,
                31_250_000,
                500 * US,
                1_000 * US,
                1_500 * US,
            ],
        ],
    );
    // Both cores did work, took ticks, and saw each other's counts.
    for [count, checksum, ticks, _] in reference.slots {
        assert!(count > 2_000, "loop count {count}");
        assert!((100..200).contains(&ticks), "ticks {ticks}");
        assert_ne!(checksum, 0);
    }
}

#[test]
fn pausing_a_lone_core_that_changes_clock_and_starts_cpu2_does_not_change_the_run() {
    // CPU1 alone at 4 MHz; at the count of 200 (about 1.03 ms, after its fourth tick at
    // 998 µs) it switches to 16 MHz, which held CPU2 follows; at 250 (1.32 ms) it starts CPU2.
    let reference = check_pauses(
        false,
        3_000 * US,
        &[
            &[1, 12_345_678, 249_500_001, 777_777_777],
            &[1_000_000_001, 1_010_000_000, 1_020_000_000, 1_030_000_000],
            &[
                1_290 * US,
                1_300 * US,
                1_310 * US,
                1_315 * US,
                1_318 * US,
                1_325 * US,
            ],
            &[2_900_000_001, 2_975_000_000],
        ],
    );
    let [cpu1, cpu2] = reference.stats;
    assert_eq!((cpu1.hz, cpu2.hz), (16_000_000, 16_000_000));
    assert!(cpu2.insns > 1_000, "CPU2 started: {cpu2:?}");
    assert!(
        cpu2.idle_cycles > 4_000,
        "held for over 1 ms at 4 MHz: {cpu2:?}"
    );
    assert_ne!(reference.slots[0][1], 0, "CPU1 saw CPU2 count");
}

#[test]
fn a_cycle_limit_holds_across_a_clock_change() {
    // CPU1 switches from 4 MHz to 16 MHz at about 1.03 ms (4,100 cycles): a limit of 40,000
    // cycles converted to a time at the reset clock (10 ms) would give it about 150,000.
    const LIMIT: u64 = 40_000;
    let mut m = machine(false);
    m.set_cycle_limit(Some((CoreId::Cpu1, LIMIT)));
    assert_eq!(m.run_until(Picos::MAX), Exit::Limit);
    assert!(m.cycle_limit_reached());
    let [cpu1, cpu2] = [CoreId::Cpu1, CoreId::Cpu2].map(|id| m.stats(id));
    assert_eq!(cpu1.hz, 16_000_000);
    // Stopped at the end of the block that reached the count (a few instructions).
    assert!(
        (LIMIT..LIMIT + 64).contains(&cpu1.cycles),
        "CPU1 ran {} cycles",
        cpu1.cycles
    );
    // CPU2 (started at 1.32 ms, same clock) is no later than CPU1.
    let t1 = m.core(CoreId::Cpu1).state().now();
    assert!(m.core(CoreId::Cpu2).state().now() <= t1 && m.now() <= t1);
    assert!(cpu2.insns > 0);
    // The limit stays: a further run returns at once; lifted, the run goes on.
    let now = m.now();
    assert_eq!(m.run_until(Picos::MAX), Exit::Limit);
    assert_eq!(m.now(), now);
    m.set_cycle_limit(None);
    assert_eq!(m.run_until(now + 100 * US), Exit::Limit);
    assert!(m.stats(CoreId::Cpu1).cycles > LIMIT + 1_000);
}

#[test]
fn the_state_digest_sees_what_decides_the_run_and_not_how_it_was_paused() {
    let end = 1_500 * US;
    let mut straight = machine(true);
    assert_eq!(straight.run_until(end), Exit::Limit);
    let digest = straight.state_digest();
    let mut paused = machine(true);
    for t in [1, 12_345_678, 730 * US + 1] {
        paused.run_past(t);
    }
    assert_eq!(paused.run_until(end), Exit::Limit);
    assert_eq!(paused.state_digest(), digest, "pauses are not state");
    let mut restored = machine(true);
    restored.run_until(100 * US);
    restored.restore(&straight.snapshot());
    let diff: Vec<_> = restored
        .state_parts()
        .into_iter()
        .zip(straight.state_parts())
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.0)
        .collect();
    assert_eq!(
        restored.state_digest(),
        digest,
        "a restored copy is the state: {diff:?}"
    );

    // Anything that changes what happens next changes the digest.
    let changed = |f: &dyn Fn(&mut Machine)| {
        let mut m = machine(true);
        m.restore(&straight.snapshot());
        f(&mut m);
        m.state_digest()
    };
    assert_ne!(changed(&|m| assert!(m.poke(0x2000_0400, &[1]))), digest);
    assert_ne!(
        changed(&|m| m.core_mut(CoreId::Cpu2).set_reg(RegisterARM::R5, 7)),
        digest
    );
    assert_ne!(
        changed(&|m| m.arm_power_cut(wb_machine::PowerCut::At(end + US), 0)),
        digest
    );
    assert_ne!(
        changed(&|m| assert_eq!(m.run_until(end + 1), Exit::Limit)),
        digest
    );
}
