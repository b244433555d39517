//! Snapshots are plain, owned data: restored into any machine built from the same `Config`
//! they give it exactly the snapshotted state and touch no other machine; machines and
//! snapshots move to other threads (a campaign fans one prepared snapshot out to workers).

use wb_machine::{Config, CoreId, Exit, Machine, Picos, ResetCause, Snapshot};

use wb_machine::picos::MS;
const FLASH_REGS: u32 = 0x5800_4000;
const PAGE_16: u32 = 0x0801_0000;

fn assert_send<T: Send>() {}

#[test]
fn machines_and_snapshots_can_move_to_another_thread() {
    assert_send::<Machine>();
    assert_send::<Snapshot>();
}

/// A virgin device whose operator (CPU1) starts the FUS (CPU2) and asks it to install the
/// sample stack: both cores busy, flash operations, option-byte changes, resets.
fn installing() -> Machine {
    let mut m = Machine::new(Config::default()).unwrap();
    m.load_device(&(wb_firmware::presets::preset("virgin").unwrap().build)());
    m.load_elf_bytes("operator", wb_firmware::OPERATOR).unwrap();
    let image = wb_firmware::images::WS_1_0_0.image();
    let at = wb_firmware::images::download_address(0xF4, image.len());
    assert!(m.poke(at, &image));
    // The operator's script: FUS_GET_STATE, FUS_FW_UPGRADE, poll.
    let script: Vec<u32> = vec![0x3153_504F, 3, 1, 0, 0, 0, 2, 0, 0, 0, 5, 100, 200, 0];
    let bytes: Vec<u8> = script.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert!(m.poke(wb_proto::layout::operator::SCRIPT_ADDR, &bytes));
    m.set_boot(0x0800_0000, None);
    m.reset(ResetCause::PowerOn);
    m
}

#[derive(Debug, PartialEq, Eq)]
struct Figures {
    now: Picos,
    trace: u64,
    insns: [u64; 2],
    cycles: [u64; 2],
    flash_ops: usize,
    flash: Vec<u8>,
}

fn figures(m: &Machine) -> Figures {
    Figures {
        now: m.now(),
        trace: m.trace_hash(),
        insns: CoreId::ALL.map(|c| m.stats(c).insns),
        cycles: CoreId::ALL.map(|c| m.stats(c).cycles),
        flash_ops: m.flash_log().len(),
        flash: m.device().flash,
    }
}

#[test]
fn a_snapshot_restored_in_another_thread_runs_to_the_same_end() {
    let mut m = installing();
    assert_eq!(m.run_until(1_000 * MS), Exit::Limit);
    let snap = m.snapshot();
    assert_eq!(m.run_until(1_500 * MS), Exit::Limit);
    let here = figures(&m);
    assert!(
        here.flash_ops > 100,
        "the install is under way: {}",
        here.flash_ops
    );

    let there = std::thread::spawn(move || {
        let mut w = Machine::new(Config::default()).unwrap();
        w.restore(&snap);
        assert_eq!(w.run_until(1_500 * MS), Exit::Limit);
        figures(&w)
    })
    .join()
    .unwrap();
    assert_eq!(there, here);

    // The machine itself moves too, and goes on as if it had stayed.
    let mut a = installing();
    let mut b = installing();
    assert_eq!(a.run_until(1_000 * MS), Exit::Limit);
    assert_eq!(b.run_until(1_000 * MS), Exit::Limit);
    let b = std::thread::spawn(move || {
        assert_eq!(b.run_until(1_500 * MS), Exit::Limit);
        b
    })
    .join()
    .unwrap();
    assert_eq!(a.run_until(1_500 * MS), Exit::Limit);
    assert_eq!(figures(&b), figures(&a));
}

/// Erase page 16 through the machine's FLASH registers, as a debugger would, and let the
/// 22 ms erase end.
fn erase_page_16(m: &mut Machine) {
    let w = |m: &mut Machine, off: u32, v: u32| assert!(m.debug_write32(FLASH_REGS + off, v));
    w(m, 0x08, 0x4567_0123); // KEYR
    w(m, 0x08, 0xCDEF_89AB);
    w(m, 0x14, (16 << 3) | (1 << 1)); // CR: PNB = 16, PER
    w(m, 0x14, (16 << 3) | (1 << 1) | (1 << 16)); // STRT
    let t = m.now() + 30 * MS;
    m.run_until(t);
}

#[test]
fn restoring_a_snapshot_touches_no_other_machine() {
    let pattern = [0x5Au8; 64];
    let mut a = Machine::new(Config::default()).unwrap();
    let mut b = Machine::new(Config::default()).unwrap();
    for m in [&mut a, &mut b] {
        // No program: both cores stay held, only the flash controller works.
        m.set_boot(0x0800_0000, None);
        m.reset(ResetCause::PowerOn);
        m.hold(CoreId::Cpu1);
        assert!(m.poke(PAGE_16, &pattern));
    }
    let snap = a.snapshot();
    b.restore(&snap);
    erase_page_16(&mut b);
    assert_eq!(
        b.peek(PAGE_16, 64).unwrap(),
        [0xFF; 64],
        "B erased its own page"
    );
    assert_eq!(
        a.peek(PAGE_16, 64).unwrap(),
        pattern,
        "A's page is untouched"
    );
    // And the other way round: A's own registers erase A's page.
    erase_page_16(&mut a);
    assert_eq!(a.peek(PAGE_16, 64).unwrap(), [0xFF; 64]);
    let op = a.flash_log().last().cloned().unwrap();
    assert_eq!((op.kind.name(), op.address), ("page-erase", PAGE_16));
    drop(a);
    // B lives on without A.
    assert!(b.poke(PAGE_16, &pattern));
    assert_eq!(b.peek(PAGE_16, 64).unwrap(), pattern);
}

#[test]
fn a_snapshot_restores_the_boot_vectors_and_quantum_it_was_taken_with() {
    let mut a = Machine::new(Config::default()).unwrap();
    a.set_boot(0x0800_4000, Some(0x0808_0000));
    a.set_quantum(2_500_000);
    let snap = a.snapshot();
    let mut b = Machine::new(Config::default()).unwrap();
    assert_eq!(b.boot_vectors(), (0, None));
    b.restore(&snap);
    assert_eq!(b.boot_vectors(), (0x0800_4000, Some(0x0808_0000)));
    // The configuration is what the machine was built with: set_boot did not rewrite it.
    assert_eq!(a.config().cpu1_boot, 0);
    assert_eq!(a.config().quantum, Config::default().quantum);
}
