//! Both cores at once: the SRAM2a ping-pong with SEV/WFE handshakes, determinism, snapshots.

use wb_machine::{Clocks, Config, CoreId, Exit, Machine, ResetCause};
use wb_tests::{CPU1_TESTS, CPU1_TESTS_VECTORS, CPU2_TESTS, CPU2_TESTS_VECTORS};

const MB_SUM: u32 = 0x2003_0010;

fn expected_sum() -> u32 {
    (1..=64u32).fold(0u32, |s, i| {
        s.wrapping_mul(31).wrapping_add((i * 7) * (i * 7) + 1)
    })
}

fn machine() -> Machine {
    let config = Config {
        clocks: Clocks::Fixed {
            cpu1_hz: 64_000_000,
            cpu2_hz: 32_000_000,
        },
        ..Config::default()
    };
    let mut m = Machine::new(config).unwrap();
    m.load_elf_bytes("cpu1", CPU1_TESTS).unwrap();
    m.load_elf_bytes("cpu2", CPU2_TESTS).unwrap();
    m.set_boot(CPU1_TESTS_VECTORS, Some(CPU2_TESTS_VECTORS));
    m.reset(ResetCause::PowerOn);
    m
}

#[test]
fn ping_pong_through_sram2a_completes() {
    let mut m = machine();
    let exit = m.run_until(1_000_000_000_000);
    assert!(matches!(exit, Exit::Bkpt(CoreId::Cpu1, _)), "{exit:?}");
    assert_eq!(m.read_u32(MB_SUM), Some(expected_sum()));
    // CPU1 waits for each answer asleep in WFE (sleeping costs no instructions); CPU2 did the
    // work. CPU2 hardly ever sleeps: woken CPU1 posts the next request (~0.3 µs at 64 MHz)
    // before CPU2 at 32 MHz has looped back to its second WFE (~0.5 µs).
    let (s1, s2) = (m.stats(CoreId::Cpu1), m.stats(CoreId::Cpu2));
    assert!(s1.idle_cycles > s1.cycles / 10, "{s1:?}");
    assert!(s2.insns > 64 * 5, "{s2:?}");
}

#[test]
fn the_same_run_twice_is_identical() {
    let run = || {
        let mut m = machine();
        let exit = m.run_until(1_000_000_000_000);
        (
            exit,
            m.trace_hash(),
            m.stats(CoreId::Cpu1),
            m.stats(CoreId::Cpu2),
            m.now(),
        )
    };
    let a = run();
    let b = run();
    assert_eq!(a, b);
}

#[test]
fn snapshot_run_restore_run_is_bit_identical() {
    let mut m = machine();
    m.run_until(200_000_000); // part-way through the exchange
    let snap = m.snapshot();
    let first = m.run_until(1_000_000_000_000);
    let after_first = (
        m.trace_hash(),
        m.stats(CoreId::Cpu1),
        m.stats(CoreId::Cpu2),
        m.now(),
    );
    let sram_first = m.peek(0x2000_0000, 256 * 1024).unwrap().to_vec();
    m.restore(&snap);
    let second = m.run_until(1_000_000_000_000);
    let after_second = (
        m.trace_hash(),
        m.stats(CoreId::Cpu1),
        m.stats(CoreId::Cpu2),
        m.now(),
    );
    assert_eq!(first, second);
    assert_eq!(after_first, after_second);
    assert_eq!(sram_first, m.peek(0x2000_0000, 256 * 1024).unwrap());
    assert_eq!(m.read_u32(MB_SUM), Some(expected_sum()));
}

#[test]
fn quantum_does_not_change_the_result_and_hardly_the_timing() {
    let mut times = Vec::new();
    for q in [250_000, 1_000_000, 50_000_000, 1_000_000_000] {
        let mut m = machine();
        m.set_quantum(q);
        let exit = m.run_until(1_000_000_000_000);
        assert!(matches!(exit, Exit::Bkpt(CoreId::Cpu1, _)));
        assert_eq!(m.read_u32(MB_SUM), Some(expected_sum()), "quantum {q}");
        times.push(m.now());
    }
    // A core that wakes the other ends the quantum there: a sleeper is not left asleep until
    // the quantum ends, so 64 round trips take about as long with a 1 ms quantum as with 250 ns.
    let (lo, hi) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    assert!(hi - lo < lo / 10, "simulated times by quantum: {times:?}");
}

#[test]
fn sysresetreq_resets_both_cores_and_keeps_sram() {
    let mut m = machine();
    m.run_until(1_000_000_000_000);
    assert_eq!(m.read_u32(MB_SUM), Some(expected_sum()));
    // Ask for a system reset the way NVIC_SystemReset does, from CPU2's view of the SCB.
    let c2 = m.core_mut(CoreId::Cpu2);
    assert!(c2.write_scs(0xD0C, 0x05FA_0004));
    let exit = m.run_until(m.now() + 1_000_000_000_000);
    assert!(matches!(exit, Exit::Bkpt(CoreId::Cpu1, _)), "{exit:?}");
    // The demo ran again from reset; SRAM (and its checksum) survived.
    assert_eq!(m.read_u32(MB_SUM), Some(expected_sum()));
}
