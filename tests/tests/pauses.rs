//! Pausing a run with `Machine::run_past` (as `wbemu run` does between slices when a UART
//! is attached, and a replay of recorded input does where input went in) leaves the run as it
//! is: the guest programs' runs paused anywhere equal the runs in one call.

use wb_machine::{Clocks, Config, CoreId, CoreStats, Exit, Machine, Picos, PowerCut, ResetCause};
use wb_periph::flash::OpRecord;
use wb_tests::{CPU1_TESTS, CPU1_TESTS_VECTORS, CPU2_TESTS, CPU2_TESTS_VECTORS};

use wb_machine::picos::US;

/// Everything a run ends with that a pause could disturb.
#[derive(Debug, PartialEq)]
struct Outcome {
    exits: Vec<(Exit, Picos)>,
    stats: [CoreStats; 2],
    log: Vec<OpRecord>,
    sram2a: Vec<u8>,
}

/// Run `m` to `end`, pausing at each of `pauses` first, noting every exit but the pauses.
fn run(mut m: Machine, pauses: &[Picos], end: Picos) -> Outcome {
    let mut exits = Vec::new();
    for &t in pauses.iter().chain([&end]) {
        loop {
            let exit = if t == end {
                m.run_until(t)
            } else {
                m.run_past(t)
            };
            match exit {
                Exit::Limit => break,
                Exit::PowerCut(_) => exits.push((exit, m.now())),
                other => {
                    exits.push((other, m.now()));
                    break;
                }
            }
        }
        if exits
            .last()
            .is_some_and(|(e, _)| !matches!(e, Exit::PowerCut(_)))
        {
            break;
        }
    }
    Outcome {
        exits,
        stats: CoreId::ALL.map(|id| m.stats(id)),
        log: m.flash_log(),
        sram2a: m.peek(0x2003_0000, 0x100).unwrap().to_vec(),
    }
}

/// The built-in two-core demo as `wbemu run` boots it: both cores from reset on the RCC's
/// 4 MHz, where a core's block is long and the SRAM2a ping-pong wakes the sleeping core with
/// SEV at the end of blocks that overshoot a pause.
fn ping_pong(quantum: Picos) -> Machine {
    let mut m = Machine::new(Config {
        quantum,
        ..Config::default()
    })
    .unwrap();
    m.load_elf_bytes("cpu1", CPU1_TESTS).unwrap();
    m.load_elf_bytes("cpu2", CPU2_TESTS).unwrap();
    m.set_boot(CPU1_TESTS_VECTORS, Some(CPU2_TESTS_VECTORS));
    m.reset(ResetCause::PowerOn);
    m
}

#[test]
fn pausing_the_ping_pong_anywhere_does_not_change_it() {
    for quantum in [1_000_000, 10_000_000] {
        let whole = run(ping_pong(quantum), &[], 2_000 * US);
        assert!(
            matches!(whole.exits[..], [(Exit::Bkpt(CoreId::Cpu1, _), _)]),
            "{:?}",
            whole.exits
        );
        let every = |step: Picos| -> Vec<Picos> {
            (1..)
                .map(|k| k * step)
                .take_while(|&t| t < 1_100 * US)
                .collect()
        };
        for pauses in [
            vec![1_000 * US],
            every(3_700_001),
            every(10 * US),
            every(1_234_567),
        ] {
            let paused = run(ping_pong(quantum), &pauses, 2_000 * US);
            assert_eq!(
                paused,
                whole,
                "quantum {quantum}, pauses every {:?}",
                pauses.first()
            );
        }
    }
}

/// The boot counter on CPU1 alone (CPU2 held): at every boot it programs a record; a power
/// cut before or after that operation makes it boot again and program another.
fn counter(cut: PowerCut) -> Machine {
    let mut m = Machine::new(Config {
        clocks: Clocks::Rcc,
        ..Config::default()
    })
    .unwrap();
    let img = m
        .load_elf_bytes("boot-counter", wb_firmware::BOOT_COUNTER)
        .unwrap();
    let vectors = img.ranges.iter().map(|r| r.0).min().unwrap();
    m.set_boot(vectors, None);
    m.reset(ResetCause::PowerOn);
    m.arm_power_cut(cut, 0); // a torn record is left unchanged: the counter boots and programs again
    m
}

#[test]
fn pausing_around_a_power_cut_does_not_move_it() {
    for cut in [
        PowerCut::BeforeOp(1),
        PowerCut::AfterOp(1),
        PowerCut::DuringOp(1),
    ] {
        let end = 100_000 * US;
        let whole = run(counter(cut), &[], end);
        assert_eq!(whole.exits.len(), 1, "{cut:?}: {:?}", whole.exits);
        assert!(
            whole.log.len() >= 2,
            "{cut:?}: booted again and programmed: {:?}",
            whole.log
        );
        let at = whole.exits[0].1;
        // Pauses just before the cut, where it lands between two, and after it.
        for pauses in [
            vec![at - 3 * US, at - US, at + 5 * US],
            vec![at / 2, at - 7 * US - 1, at + US],
            (1..200).map(|k| k * at / 100 + 1).collect(),
        ] {
            let paused = run(counter(cut), &pauses, end);
            assert_eq!(paused, whole, "{cut:?} paused at {:?}", &pauses[..3]);
        }
    }
}
