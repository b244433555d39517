//! RCC, PWR and reset through the machine: CPU2 started by C2BOOT the way ST's HW_IPCC_Enable
//! does it, the clock tree driving the cores' frequencies, reset flags, SRAM across resets,
//! option bytes loaded by OBL_LAUNCH and the safeboot vector after a complement mismatch.

use wb_machine::{BootCause, Clocks, Config, CoreId, Device, Exit, PowerCut, ResetCause, RunState};
use wb_periph::flash::{reg, sr};
use wb_periph::rcc::csr;
use wb_tests::Bench;

use CoreId::{Cpu1, Cpu2};

use wb_machine::picos::MS;

fn chip() -> Config {
    Config::default() // the RCC decides the clocks: MSI 4 MHz after reset
}

#[test]
fn c2boot_starts_cpu2_at_sbrv_once() {
    let mut b = Bench::held_cpu2(chip());
    assert_eq!(b.m.stats(Cpu2).run, RunState::Held);
    b.call(Cpu1, "bench_crc", &[1]);
    assert_eq!(b.m.stats(Cpu2).run, RunState::Held, "held until C2BOOT");
    assert_eq!(b.m.stats(Cpu2).insns, 0);

    let (cr4, _) = b.call(Cpu1, "sys_ipcc_enable", &[]);
    assert_eq!(cr4, 1 << 15);
    // The blank device's SBRV (0x20000 words, C2OPT=1) is the CPU2 program at 0x0808_0000.
    assert_eq!(
        b.m.with_flash(|f| f.options().cpu2_boot_vector()),
        wb_tests::CPU2_TESTS_VECTORS
    );
    let main = b.sym(Cpu2, "app_main");
    assert_eq!(b.run_to(Cpu2, "app_main", MS), Exit::Breakpoint(Cpu2, main));

    // Clear and set C2BOOT again: CPU2 does not restart.
    b.call(Cpu1, "sys_c2boot_toggle", &[]);
    assert_eq!(b.run_to(Cpu2, "Reset", MS), Exit::Limit);
    assert_ne!(b.m.stats(Cpu2).run, RunState::Held);
}

#[test]
fn a_system_reset_keeps_sram_and_holds_cpu2_again_a_power_cut_loses_sram() {
    let mut b = Bench::held_cpu2(chip());
    let (csr0, _) = b.call(Cpu1, "sys_reset_flags", &[]);
    assert_eq!(csr0 & csr::FLAGS, csr::BORRSTF | csr::PINRSTF, "power-on");
    let (csr1, _) = b.call(Cpu1, "sys_clear_reset_flags", &[]);
    assert_eq!(csr1 & csr::FLAGS, 0, "RMVF");
    b.call(Cpu1, "sys_ipcc_enable", &[]);
    b.run_to(Cpu2, "app_main", MS);
    assert!(b.m.poke(0x2001_0000, b"kept across NVIC_SystemReset"));
    assert!(b.m.poke(0x2003_8000, b"SRAM2b too"));

    // NVIC_SystemReset from CPU1: both cores reset; CPU1 restarts at its vector table.
    let main = b.sym(Cpu1, "app_main");
    let exit = b.call_to(Cpu1, "sys_reset", &[], "app_main", MS);
    assert_eq!(
        exit,
        Exit::Breakpoint(Cpu1, main),
        "back at app_main after the reset"
    );
    assert_eq!(
        b.m.stats(Cpu2).run,
        RunState::Held,
        "CPU2 waits for C2BOOT again"
    );
    assert_eq!(
        b.m.peek(0x2001_0000, 28),
        Some(&b"kept across NVIC_SystemReset"[..])
    );
    assert_eq!(b.m.peek(0x2003_8000, 10), Some(&b"SRAM2b too"[..]));
    let (csr2, _) = b.call(Cpu1, "sys_reset_flags", &[]);
    assert_eq!(
        csr2 & csr::FLAGS,
        csr::SFTRSTF | csr::PINRSTF,
        "software reset"
    );

    b.m.cut_power(0);
    assert_eq!(b.m.peek(0x2001_0000, 4), Some(&[0u8; 4][..]), "SRAM lost");
    assert_eq!(b.m.stats(Cpu2).run, RunState::Held);
    assert_eq!(b.run_to(Cpu1, "app_main", MS), Exit::Breakpoint(Cpu1, main));
    let (csr3, _) = b.call(Cpu1, "sys_reset_flags", &[]);
    assert_eq!(
        csr3 & csr::FLAGS,
        csr::BORRSTF | csr::PINRSTF,
        "power-on again"
    );

    // The boot log tells the story: C2BOOT, software reset, power cut.
    let story: Vec<(CoreId, BootCause, u32)> =
        b.m.boots()
            .iter()
            .map(|x| (x.core, x.cause, x.vector))
            .collect();
    let cpu1 = b.m.boot_vectors().0;
    assert_eq!(
        story[story.len() - 3..],
        [
            (
                Cpu2,
                BootCause::C2Boot { safeboot: false },
                wb_tests::CPU2_TESTS_VECTORS
            ),
            (Cpu1, BootCause::Reset(ResetCause::Software), cpu1),
            (Cpu1, BootCause::Reset(ResetCause::PowerOn), cpu1),
        ]
    );
}

#[test]
fn the_clock_tree_sets_the_core_frequencies() {
    let mut b = Bench::held_cpu2(chip());
    assert_eq!(
        (b.m.stats(Cpu1).hz, b.m.stats(Cpu2).hz),
        (4_000_000, 4_000_000)
    );
    // CPU1's own clock: the machine's `now` moves in quanta.
    let cpu1_time = |b: &Bench| b.m.core(Cpu1).state().now();
    let t0 = cpu1_time(&b);
    let (cfgr, _) = b.call(Cpu1, "sys_clock_64mhz", &[]);
    assert_eq!((cfgr >> 2) & 3, 3, "SWS = PLL");
    assert_eq!(
        (b.m.stats(Cpu1).hz, b.m.stats(Cpu2).hz),
        (64_000_000, 32_000_000)
    );
    // The sequence waits for the HSE (250 us) and the PLL lock (15 us).
    let took = cpu1_time(&b) - t0;
    assert!((265_000_000..300_000_000).contains(&took), "took {took} ps");
    // The same loop now runs 16 times faster in simulated time.
    let t1 = cpu1_time(&b);
    let (_, cycles) = b.call(Cpu1, "bench_crc", &[1]);
    let fast = cpu1_time(&b) - t1;
    assert!(cycles > 10_000);
    let expect = cycles * 1_000_000 / 64; // ps at 64 MHz
    assert!(
        fast.abs_diff(expect) < expect / 50,
        "{fast} ps for {cycles} cycles"
    );
    // A system reset brings the chip back to MSI 4 MHz.
    let main = b.sym(Cpu1, "app_main");
    let exit = b.call_to(Cpu1, "sys_reset", &[], "app_main", MS);
    assert_eq!(exit, Exit::Breakpoint(Cpu1, main));
    assert_eq!(
        (b.m.stats(Cpu1).hz, b.m.stats(Cpu2).hz),
        (4_000_000, 4_000_000)
    );
}

#[test]
fn pinned_clocks_ignore_the_rcc() {
    let config = Config {
        clocks: Clocks::Fixed {
            cpu1_hz: 48_000_000,
            cpu2_hz: 24_000_000,
        },
        ..Config::default()
    };
    let mut b = Bench::held_cpu2(config);
    b.call(Cpu1, "sys_clock_64mhz", &[]);
    assert_eq!(
        (b.m.stats(Cpu1).hz, b.m.stats(Cpu2).hz),
        (48_000_000, 24_000_000)
    );
}

#[test]
fn option_bytes_go_live_at_obl_launch() {
    let mut b = Bench::held_cpu2(chip());
    // IPCCBR (IPCCDBA): CPU1 may program it.
    let main = b.sym(Cpu1, "app_main");
    let exit = b.call_to(
        Cpu1,
        "sys_program_option",
        &[reg::IPCCBR, 0x0123],
        "app_main",
        100 * MS,
    );
    assert_eq!(
        exit,
        Exit::Breakpoint(Cpu1, main),
        "OBL_LAUNCH resets the system"
    );
    assert_eq!(
        b.m.with_flash(|f| f.options().get(reg::IPCCBR)),
        Some(0x0123)
    );
    let area = b.m.peek(0x1FFF_8068, 8).unwrap().to_vec();
    assert_eq!(
        area,
        [0x23, 0x01, 0, 0, 0xDC, 0xFE, 0xFF, 0xFF],
        "value + complement"
    );
    let (csr_v, _) = b.call(Cpu1, "sys_reset_flags", &[]);
    assert_ne!(csr_v & csr::OBLRSTF, 0, "option-byte-load reset flag");
    // And in the device file.
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("obl.wbdev");
    b.m.device().save(&path).unwrap();
    let (options, bad) = Device::load(&path).unwrap().options();
    assert_eq!((options.get(reg::IPCCBR), bad.len()), (Some(0x0123), 0));
}

#[test]
fn a_torn_option_byte_program_leaves_a_complement_mismatch() {
    let mut b = Bench::held_cpu2(chip());
    b.m.arm_power_cut(PowerCut::DuringOp(1), 7);
    let exit = b.call_to(
        Cpu1,
        "sys_program_option",
        &[reg::IPCCBR, 0x0123],
        "app_main",
        100 * MS,
    );
    assert_eq!(exit, Exit::PowerCut(Some(1)));
    assert_eq!(b.m.flash_log()[0].kind.name(), "option-program");
    let (_, bad) = b.m.device().options();
    assert_eq!(bad.len(), 1, "one slot's complement was not written");
    b.run_to(Cpu1, "app_main", MS);
    let (sr_v, _) = b.call(Cpu1, "sys_read32", &[0x5800_4010]);
    assert_ne!(sr_v & sr::OPTVERR, 0, "OPTVERR after the power-on load");
}

#[test]
fn a_corrupted_cpu2_option_byte_sends_cpu2_to_safeboot() {
    let mut b = Bench::held_cpu2(chip());
    // A safeboot stand-in: a vector table whose reset handler is a CPU2 function the normal
    // boot never runs.
    let safeboot = b.m.config().safeboot_vector;
    let entry = b.sym(Cpu2, "scen_svc");
    let mut table = 0x2003_8000u32.to_le_bytes().to_vec();
    table.extend((entry | 1).to_le_bytes());
    assert!(b.m.poke(safeboot, &table));
    // SRRVR's complement no longer matches (as a torn option-byte program leaves it).
    let c = b.m.peek(0x1FFF_807C, 1).unwrap()[0];
    assert!(b.m.poke(0x1FFF_807C, &[c ^ 0x10]));
    b.m.reset(ResetCause::PowerOn);
    b.run_to(Cpu1, "app_main", MS);
    assert!(b.m.with_flash(|f| f.cpu2_boots_safeboot()));
    let (sr_v, _) = b.call(Cpu1, "sys_read32", &[0x5800_4010]);
    assert_ne!(sr_v & sr::OPTVERR, 0, "FLASH_SR.OPTVERR");
    b.call(Cpu1, "sys_ipcc_enable", &[]);
    assert_eq!(
        b.run_to(Cpu2, "scen_svc", MS),
        Exit::Breakpoint(Cpu2, entry)
    );
    let last = b.m.boots().last().copied().unwrap();
    assert_eq!(
        (last.core, last.cause, last.vector),
        (Cpu2, BootCause::C2Boot { safeboot: true }, safeboot)
    );
}

#[test]
fn a_peripheral_without_its_clock_reads_zero_and_ignores_writes() {
    const GPIOA: u32 = 0x4800_0000; // enable: AHB2ENR / C2AHB2ENR bit 0
    const AHB2ENR: u32 = 0x5800_004C;
    const C2AHB2ENR: u32 = 0x5800_014C;
    static TIMER_AT_GPIOA: wb_machine::chip::Part = wb_machine::chip::Part {
        name: "test timer with GPIOA's clock enable",
        base: GPIOA,
        make: |_| Box::<wb_tests::TestTimer>::default(),
        routes: &[],
        gate: Some(wb_periph::rcc::Gate {
            name: "GPIOA",
            cpu1: AHB2ENR - 0x5800_0000,
            cpu2: Some(C2AHB2ENR - 0x5800_0000),
            bit: 0,
        }),
        clock: wb_periph::rcc::BusClock::Hclk1,
        secure: None,
    };
    let mut b = Bench::held_cpu2(chip());
    b.m.attach_part(&TIMER_AT_GPIOA).unwrap();
    // TestTimer: writing N to offset 0 raises its line (read at offset 4) N ns later.
    let line = |b: &mut Bench| b.call(Cpu1, "sys_read32", &[GPIOA + 4]).0;
    b.call(Cpu1, "sys_write32", &[GPIOA, 100]);
    assert_eq!(line(&mut b), 0, "write lost");
    b.call(Cpu1, "sys_write32", &[C2AHB2ENR, 1]); // CPU2's enable clocks it too
    assert_eq!(line(&mut b), 0, "the lost write stays lost");
    b.call(Cpu1, "sys_write32", &[GPIOA, 100]);
    assert_eq!(line(&mut b), 1);
    b.call(Cpu1, "sys_write32", &[C2AHB2ENR, 0]);
    assert_eq!(line(&mut b), 0, "clock off: reads 0");
    b.call(Cpu1, "sys_write32", &[AHB2ENR, 1]);
    assert_eq!(line(&mut b), 1, "state kept while unclocked");
}
