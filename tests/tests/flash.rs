//! The flash controller through the machine: guest code on both cores programming and erasing
//! as the HAL does, secure areas in each core's view, stalls, ECC errors and power cuts.

use wb_machine::{Clocks, Config, CoreId, Exit};
use wb_periph::flash::{reg, sr, Ecc, OptionBytes, Outcome};
use wb_tests::Bench;

use CoreId::{Cpu1, Cpu2};

/// A free page, above both test programs.
const PAGE: u32 = 0xC0;
const ADDR: u32 = 0x0800_0000 + PAGE * 4096;

fn config(options: OptionBytes) -> Config {
    Config {
        clocks: Clocks::Fixed {
            cpu1_hz: 64_000_000,
            cpu2_hz: 32_000_000,
        },
        option_bytes: options,
        ..Config::default()
    }
}

fn c2(id: CoreId) -> u32 {
    (id == Cpu2) as u32
}

#[test]
fn guests_program_and_erase_like_the_hal() {
    for id in CoreId::ALL {
        let mut b = Bench::new(config(OptionBytes::default()), &[id]);
        let (cr, _) = b.call(id, "flash_unlock", &[]);
        assert_eq!(cr & (1 << 31), 0, "{id}: unlocked");
        let (flags, _) = b.call(
            id,
            "flash_program",
            &[ADDR, 0x1122_3344, 0x5566_7788, c2(id)],
        );
        assert_eq!(flags, 0, "{id}");
        assert_eq!(
            (b.m.read_u32(ADDR), b.m.read_u32(ADDR + 4)),
            (Some(0x1122_3344), Some(0x5566_7788))
        );
        // Programming a programmed double-word: PROGERR, nothing changes.
        let (flags, _) = b.call(id, "flash_program", &[ADDR, 0, 1, c2(id)]);
        assert_eq!(flags, sr::PROGERR, "{id}");
        assert_eq!(b.m.read_u32(ADDR + 4), Some(0x5566_7788));
        // Misaligned: PGAERR; the second word then meets the uncleared error: PGSERR.
        let (flags, _) = b.call(id, "flash_program", &[ADDR + 12, 0, 0, c2(id)]);
        assert_eq!(flags, sr::PGAERR | sr::PGSERR, "{id}");
        let (flags, _) = b.call(id, "flash_erase", &[PAGE, c2(id)]);
        assert_eq!(flags, 0, "{id}");
        assert_eq!(b.m.read_u32(ADDR), Some(0xFFFF_FFFF));
        let log = b.m.flash_log();
        let kinds: Vec<_> = log
            .iter()
            .map(|r| (r.kind.name(), r.core, r.outcome))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("program", id, Outcome::Done),
                ("program", id, Outcome::Refused(sr::PROGERR)),
                ("program", id, Outcome::Refused(sr::PGAERR)),
                ("program", id, Outcome::Refused(sr::PGSERR)),
                ("page-erase", id, Outcome::Done),
            ]
        );
    }
}

#[test]
fn a_core_fetching_from_flash_stalls_during_an_erase() {
    let mut b = Bench::new(config(OptionBytes::default()), &[Cpu1]);
    b.call(Cpu1, "flash_unlock", &[]);
    let (flags, cycles) = b.call(Cpu1, "flash_erase", &[PAGE, 0]);
    assert_eq!(flags, 0);
    // 22 ms at 64 MHz; the erase loop itself runs from flash, so it waits the whole time.
    let erase = 22 * 64_000;
    assert!(
        (erase..erase + 400).contains(&cycles),
        "erase took {cycles} cycles"
    );
    // The core did not execute its polling loop 1.4 million times: it was stalled.
    assert!(b.m.stats(Cpu1).insns < 10_000, "{:?}", b.m.stats(Cpu1));
}

/// Code in SRAM reading flash while the other core erases it: the read waits for the erase
/// and sees the erased word, though the same page was read (and mapped) just before.
#[test]
fn code_in_sram_reading_flash_during_an_erase_stalls_until_it_ends() {
    use wb_machine::RegisterARM::{LR, PC, R0};
    let mut b = Bench::new(config(OptionBytes::default()), &[Cpu1, Cpu2]);
    assert!(b.m.poke(ADDR, &0x1234_5678u32.to_le_bytes()));
    // ldr r0, [r0]; bx lr
    const CODE: u32 = 0x2000_8000;
    assert!(b.m.poke(CODE, &[0x00, 0x68, 0x70, 0x47]));
    let done = b.sym(Cpu2, "call_done");
    let read = |b: &mut Bench| {
        let c = b.m.core_mut(Cpu2);
        c.set_reg(R0, ADDR);
        c.set_reg(LR, done | 1);
        c.set_reg(PC, CODE);
        b.m.set_breakpoints(Cpu2, &[done]);
        let start = b.time(Cpu2);
        assert_eq!(
            b.m.run_until(start + 100_000_000_000),
            Exit::Breakpoint(Cpu2, done)
        );
        (b.m.core(Cpu2).reg(R0), b.time(Cpu2) - start)
    };
    let (before, t) = read(&mut b);
    assert_eq!(before, 0x1234_5678);
    assert!(t < 1_000_000, "{t} ps");
    // Page erase from the debug port (CPU1's registers): KEYR, then PER | PNB | STRT.
    for w in [0x4567_0123, 0xCDEF_89AB] {
        assert!(b.m.debug_write32(0x5800_4008, w));
    }
    assert!(b.m.debug_write32(0x5800_4014, (1 << 16) | (PAGE << 3) | 2));
    let (after, t) = read(&mut b);
    assert_eq!(after, 0xFFFF_FFFF, "the erased word");
    assert!(
        (20_000_000_000..23_000_000_000).contains(&t),
        "the read waited for the 22 ms erase: {t} ps"
    );
}

fn secure_options() -> OptionBytes {
    let mut o = OptionBytes::default();
    o.set(reg::SFR, 0xF4); // secure flash from page 0xF4, FSD = 0
                           // SRAM2a secure from 16 KiB (BRSD = 0); SRAM2b (CPU2's RAM here) left open; boot as before.
    o.set(reg::SRRVR, 0x8000_0000 | (1 << 30) | (16 << 18) | 0x2_0000);
    o
}

#[test]
fn cpu1_is_kept_out_of_secure_flash_and_sram2_and_cpu2_is_not() {
    let mut b = Bench::new(config(secure_options()), &[Cpu1, Cpu2]);
    assert!(b.m.poke(0x080F_4000, &0xC0DE_0001u32.to_le_bytes()));
    assert!(b.m.poke(0x2003_4000, &0xC0DE_0002u32.to_le_bytes()));
    let insn = b.sym(Cpu1, "fault_insn");
    for addr in [0x080F_4000u32, 0x2003_4000] {
        b.call(Cpu1, "scen_read", &[addr]);
        // CFSR: PRECISERR | BFARVALID; HFSR: FORCED; BFAR; stacked PC; then execution went on.
        assert_eq!(
            b.log(Cpu1),
            vec![(1 << 9) | (1 << 15), 1 << 30, addr, insn, 2],
            "{addr:#x}"
        );
    }
    b.call(Cpu1, "flash_unlock", &[]);
    let (flags, _) = b.call(Cpu1, "flash_erase", &[0xF4, 0]);
    assert_eq!(flags, sr::WRPERR);
    let (flags, _) = b.call(Cpu1, "flash_program", &[0x080F_4008, 0, 0, 0]);
    assert_eq!(flags, sr::WRPERR);
    assert_eq!(b.m.read_u32(0x080F_4000), Some(0xC0DE_0001));
    // CPU2 reads both and may erase the secure page.
    assert_eq!(b.call(Cpu2, "scen_read", &[0x080F_4000]).0, 0xC0DE_0001);
    assert_eq!(b.call(Cpu2, "scen_read", &[0x2003_4000]).0, 0xC0DE_0002);
    assert_eq!(b.call(Cpu2, "flash_erase", &[0xF4, 1]).0, 0);
    assert_eq!(b.m.read_u32(0x080F_4000), Some(0xFFFF_FFFF));
    // Below the boundaries CPU1 reads as usual.
    assert_eq!(b.call(Cpu1, "scen_read", &[0x2003_3FFC]).0, 0);
}

#[test]
fn an_uncorrectable_ecc_error_raises_nmi_on_the_reader() {
    let mut b = Bench::new(config(OptionBytes::default()), &[Cpu2]);
    b.m.inject_ecc(ADDR + 8, Ecc::Uncorrectable);
    // A neighbour in the same page reads cleanly.
    assert_eq!(b.call(Cpu2, "scen_read", &[ADDR]).0, 0xFFFF_FFFF);
    let (_, _, exit) = b.call_exit(Cpu2, "scen_read", &[ADDR + 12], 1_000_000_000);
    // NMI's vector is the default handler, which stops on BKPT 0xEE.
    let handler = b.sym(Cpu2, "DefaultHandler");
    assert!(
        matches!(exit, Exit::Bkpt(Cpu2, pc) if pc & !1 >= handler && pc < handler + 16),
        "{exit:?}"
    );
    let eccr = b.m.with_flash(|f| f.eccr());
    assert_eq!(eccr & 0x1_FFFF, (ADDR + 8 - 0x0800_0000) / 8);
    assert_eq!((eccr >> 31, (eccr >> 26) & 7), (1, 1), "ECCD, read by CPU2");
}

#[test]
fn power_cut_during_an_erase_tears_the_page_and_loses_sram() {
    let mut b = Bench::new(config(OptionBytes::default()), &[Cpu1]);
    b.call(Cpu1, "flash_unlock", &[]);
    b.call(Cpu1, "flash_program", &[ADDR + 0x800, 0, 0, 0]);
    assert!(b.m.poke(0x2000_8000, &[0xAB; 4]));
    // Start the erase and stop half-way through it.
    let f = b.sym(Cpu1, "flash_erase");
    let c = b.m.core_mut(Cpu1);
    c.set_reg(wb_machine::RegisterARM::R0, PAGE);
    c.set_reg(wb_machine::RegisterARM::R1, 0);
    c.set_reg(wb_machine::RegisterARM::PC, f);
    let now = b.m.now();
    b.m.run_until(now + 11_000_000_000);
    assert_eq!(b.m.flash_log().last().unwrap().outcome, Outcome::Pending);
    let seq = b.m.cut_power(6).expect("an operation was running"); // class 2: partly erased
    let rec = b.m.flash_log()[seq as usize - 1].clone();
    assert_eq!(
        (rec.kind.name(), rec.outcome),
        ("page-erase", Outcome::Torn)
    );
    // Part of the page erased, the boundary double-word left with an invalid ECC.
    let bad: Vec<_> = b.m.with_flash(|f| f.ecc_errors().keys().copied().collect());
    assert_eq!(bad.len(), 1);
    assert_eq!(
        b.m.read_u32(0x2000_8000),
        Some(0),
        "SRAM does not survive a power cut"
    );
}

/// Three operations from CPU1: program at ADDR, program at ADDR + 8, erase the next page.
/// Returns how the sequence ended (a power cut stops it).
fn three_operations(b: &mut Bench) -> Exit {
    b.call(Cpu1, "flash_unlock", &[]);
    let calls: [(&str, [u32; 4]); 3] = [
        ("flash_program", [ADDR, 1, 2, 0]),
        ("flash_program", [ADDR + 8, 3, 4, 0]),
        ("flash_erase", [PAGE + 1, 0, 0, 0]),
    ];
    for (f, args) in calls {
        let (_, _, exit) = b.call_exit(Cpu1, f, &args, 1_000_000_000_000);
        if let Exit::PowerCut(_) = exit {
            return exit;
        }
    }
    Exit::Limit
}

fn dw(b: &Bench, addr: u32) -> u64 {
    let w = |a| b.m.read_u32(a).unwrap() as u64;
    w(addr) | w(addr + 4) << 32
}

#[test]
fn power_cuts_before_during_and_after_each_operation() {
    use wb_machine::PowerCut;
    let next_page = ADDR + 4096;
    for n in 1..=3u64 {
        for (mode, cut) in [
            ("before", PowerCut::BeforeOp(n)),
            ("during", PowerCut::DuringOp(n)),
            ("after", PowerCut::AfterOp(n)),
        ] {
            let mut b = Bench::new(config(OptionBytes::default()), &[Cpu1]);
            assert!(b.m.poke(next_page, &[0u8; 4096]));
            assert!(b.m.poke(0x2000_8000, &[0xAB; 4]));
            b.m.arm_power_cut(cut, 11);
            let exit = three_operations(&mut b);
            assert_eq!(
                exit,
                Exit::PowerCut(if mode == "after" { None } else { Some(n) }),
                "{mode} {n}"
            );
            let log = b.m.flash_log();
            assert_eq!(log.len() as u64, n, "{mode} {n}: nothing after the cut");
            let outcome = log[n as usize - 1].outcome;
            let expected = match mode {
                "before" => Outcome::Dropped,
                "during" => Outcome::Torn,
                _ => Outcome::Done,
            };
            assert_eq!(outcome, expected, "{mode} {n}");
            // Earlier operations are intact.
            if n > 1 {
                assert_eq!(dw(&b, ADDR), 2 << 32 | 1, "{mode} {n}");
            }
            if n > 2 {
                assert_eq!(dw(&b, ADDR + 8), 4 << 32 | 3, "{mode} {n}");
            }
            let ecc = b.m.with_flash(|f| f.ecc_errors().len());
            match (mode, n) {
                ("before", 1) => assert_eq!(dw(&b, ADDR), u64::MAX),
                ("before", 3) => {
                    assert!(b.m.peek(next_page, 4096).unwrap().iter().all(|x| *x == 0))
                }
                ("after", 3) => assert!(b
                    .m
                    .peek(next_page, 4096)
                    .unwrap()
                    .iter()
                    .all(|x| *x == 0xFF)),
                ("during", 3) => assert_eq!(ecc, 1, "the erase's boundary double-word"),
                _ => {}
            }
            if mode != "during" {
                assert_eq!(ecc, 0, "{mode} {n}");
            }
            assert_eq!(b.m.read_u32(0x2000_8000), Some(0), "{mode} {n}: SRAM lost");
        }
    }
}

#[test]
fn a_power_cut_during_the_first_operation_of_a_kind() {
    // Cut during the first page erase (a plan that is data: `during:page-erase`): it is
    // torn; both programs before it are intact.
    let mut b = Bench::new(config(OptionBytes::default()), &[Cpu1]);
    b.m.arm_power_cut("during:page-erase".parse().unwrap(), 3);
    assert_eq!(three_operations(&mut b), Exit::PowerCut(Some(3)));
    let log = b.m.flash_log();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].outcome, Outcome::Torn);
    assert_eq!(dw(&b, ADDR + 8), 4 << 32 | 3);
}

#[test]
fn pcrop_areas_refuse_cpu1_data_reads_and_changes() {
    let mut options = OptionBytes::default();
    // PCROP area A over the 4 KiB page at ADDR (2 KiB units).
    let unit = (ADDR - 0x0800_0000) >> 11;
    options.set(reg::PCROP1ASR, unit);
    options.set(reg::PCROP1AER, unit + 1);
    let mut b = Bench::new(config(options), &[Cpu1, Cpu2]);
    assert!(b.m.poke(ADDR + 0x10, &0x5EC2_E700u32.to_le_bytes()));
    // CPU1: the read gives 0 and sets RDERR; no fault.
    assert_eq!(b.call(Cpu1, "sys_read32", &[ADDR + 0x10]).0, 0);
    assert_ne!(b.call(Cpu1, "sys_read32", &[0x5800_4010]).0 & sr::RDERR, 0);
    // The page below reads normally.
    assert_eq!(b.call(Cpu1, "sys_read32", &[ADDR - 4]).0, 0xFFFF_FFFF);
    b.call(Cpu1, "flash_unlock", &[]);
    assert_eq!(b.call(Cpu1, "flash_erase", &[PAGE, 0]).0, sr::WRPERR);
    assert_eq!(
        b.call(Cpu1, "flash_program", &[ADDR + 0x20, 0, 0, 0]).0,
        sr::WRPERR
    );
    assert_eq!(b.m.read_u32(ADDR + 0x10), Some(0x5EC2_E700));
    // CPU2 reads it.
    assert_eq!(b.call(Cpu2, "sys_read32", &[ADDR + 0x10]).0, 0x5EC2_E700);
}

#[test]
fn a_correctable_ecc_error_sets_eccc_and_interrupts_when_enabled() {
    const ECCR: u32 = 0x5800_4018;
    let mut b = Bench::new(config(OptionBytes::default()), &[Cpu1]);
    b.m.inject_ecc(ADDR + 8, Ecc::Correctable);
    // Corrected: the data reads right, ECCC and the address latch in ECCR, no NMI.
    assert_eq!(b.call(Cpu1, "sys_read32", &[ADDR + 8]).0, 0xFFFF_FFFF);
    let eccr = b.call(Cpu1, "sys_read32", &[ECCR]).0;
    assert_eq!(eccr & (1 << 30), 1 << 30, "ECCC");
    assert_eq!(eccr & 0x1_FFFF, (ADDR + 8 - 0x0800_0000) / 8, "ADDR_ECC");
    // Clear ECCC (write 1), enable ECCCIE and the flash IRQ: the next corrected read
    // interrupts (IRQ 4 goes to the test program's default handler, which stops on BKPT).
    b.call(Cpu1, "sys_write32", &[ECCR, (1 << 30) | (1 << 24)]);
    b.call(Cpu1, "sys_write32", &[0xE000_E100, 1 << 4]);
    let (_, _, exit) = b.call_exit(Cpu1, "sys_read32", &[ADDR + 8], 1_000_000_000);
    let handler = b.sym(Cpu1, "DefaultHandler");
    assert!(
        matches!(exit, Exit::Bkpt(Cpu1, pc) if pc & !1 >= handler && pc < handler + 16),
        "{exit:?}"
    );
}

/// Thumb code the fetch tests run: r0 = 0x55, nops, r0 += 1, return. 20 bytes from a
/// double-word boundary: one straight-line block over three double-words (the second at +8).
const FETCHED: [u16; 10] = [
    0x2055, // movs r0, #0x55
    0xBF00, 0xBF00, 0xBF00, 0xBF00, 0xBF00, 0xBF00, 0xBF00, // nop x7
    0x3001, // adds r0, #1
    0x4770, // bx lr
];

/// Place `FETCHED` at `code`, call it on core `id` with r0 = 0x1234 and run until it
/// returns or the core stops elsewhere.
fn call_fetched(b: &mut Bench, id: CoreId, code: u32) -> Exit {
    use wb_machine::RegisterARM::{LR, PC, R0};
    let bytes: Vec<u8> = FETCHED.iter().flat_map(|h| h.to_le_bytes()).collect();
    assert!(b.m.poke(code, &bytes));
    let done = b.sym(id, "call_done");
    let c = b.m.core_mut(id);
    c.set_reg(R0, 0x1234);
    c.set_reg(LR, done | 1);
    c.set_reg(PC, code);
    b.m.set_breakpoints(id, &[done]);
    let exit = b.m.run_until(b.time(id) + 1_000_000_000);
    b.m.set_breakpoints(id, &[]);
    exit
}

/// FLASH_ECCR: (ECCD, ECCC, CPU_ID, ADDR_ECC).
fn eccr(b: &Bench) -> (u32, u32, u32, u32) {
    let e = b.m.with_flash(|f| f.eccr());
    (e >> 31, (e >> 30) & 1, (e >> 26) & 7, e & 0x1_FFFF)
}

#[test]
fn fetching_an_uncorrectable_double_word_raises_nmi_before_the_block_runs() {
    for id in CoreId::ALL {
        let mut hashes = Vec::new();
        for _ in 0..2 {
            let mut b = Bench::new(config(OptionBytes::default()), &[id]);
            b.m.inject_ecc(ADDR + 8, Ecc::Uncorrectable);
            let exit = call_fetched(&mut b, id, ADDR);
            // NMI's vector is the default handler, which stops on BKPT 0xEE.
            let handler = b.sym(id, "DefaultHandler");
            assert!(
                matches!(exit, Exit::Bkpt(c, pc) if c == id && pc & !1 >= handler && pc < handler + 16),
                "{id}: {exit:?}"
            );
            let core = b.m.core(id);
            assert_eq!(
                core.reg(wb_machine::RegisterARM::XPSR) & 0x1FF,
                2,
                "{id}: in NMI"
            );
            // Taken before the block: the frame returns to its first instruction, r0 untouched.
            // The handler pushed r7 and lr on top of the exception frame.
            let frame = core.reg(wb_machine::RegisterARM::SP) + 8;
            assert_eq!(b.m.read_u32(frame + 24), Some(ADDR), "{id}: stacked PC");
            assert_eq!(b.m.read_u32(frame), Some(0x1234), "{id}: stacked r0");
            assert_eq!(
                eccr(&b),
                (1, 0, c2(id), (ADDR + 8 - 0x0800_0000) / 8),
                "{id}: ECCD, the fetching CPU, the double-word"
            );
            hashes.push((b.m.trace_hash(), b.m.stats(id).cycles));
        }
        assert_eq!(hashes[0], hashes[1], "{id}: the same run twice");
    }
}

#[test]
fn fetching_a_correctable_double_word_sets_eccc_and_runs_on() {
    const ECCR: u32 = 0x5800_4018;
    for id in CoreId::ALL {
        let mut b = Bench::new(config(OptionBytes::default()), &[id]);
        b.m.inject_ecc(ADDR + 8, Ecc::Correctable);
        let done = b.sym(id, "call_done");
        assert_eq!(
            call_fetched(&mut b, id, ADDR),
            Exit::Breakpoint(id, done),
            "{id}"
        );
        assert_eq!(
            b.m.core(id).reg(wb_machine::RegisterARM::R0),
            0x56,
            "{id}: ran"
        );
        assert_eq!(
            eccr(&b),
            (0, 1, c2(id), (ADDR + 8 - 0x0800_0000) / 8),
            "{id}: ECCC, the fetching CPU, the double-word"
        );
        // Clear ECCC, enable ECCCIE and the flash IRQ (4): the next fetch interrupts (the
        // test program's default handler stops on BKPT).
        b.call(id, "sys_write32", &[ECCR, (1 << 30) | (1 << 24)]);
        b.call(id, "sys_write32", &[0xE000_E100, 1 << 4]);
        let exit = call_fetched(&mut b, id, ADDR);
        let handler = b.sym(id, "DefaultHandler");
        assert!(
            matches!(exit, Exit::Bkpt(c, pc) if c == id && pc & !1 >= handler && pc < handler + 16),
            "{id}: {exit:?}"
        );
        assert_eq!(
            b.m.core(id).reg(wb_machine::RegisterARM::XPSR) & 0x1FF,
            16 + 4,
            "{id}: in the flash interrupt, not NMI"
        );
    }
}

#[test]
fn code_beside_a_broken_double_word_runs_without_a_flag() {
    for id in CoreId::ALL {
        let mut b = Bench::new(config(OptionBytes::default()), &[id]);
        // Same page (so data reads of it go through the checking port), not fetched.
        b.m.inject_ecc(ADDR + 0x100, Ecc::Uncorrectable);
        let done = b.sym(id, "call_done");
        assert_eq!(
            call_fetched(&mut b, id, ADDR),
            Exit::Breakpoint(id, done),
            "{id}"
        );
        assert_eq!(b.m.core(id).reg(wb_machine::RegisterARM::R0), 0x56, "{id}");
        assert_eq!(b.m.with_flash(|f| f.eccr()), 0, "{id}: no flag");
        // The double-word right after the code is not fetched either.
        b.m.inject_ecc(ADDR + 0x18, Ecc::Uncorrectable);
        assert_eq!(
            call_fetched(&mut b, id, ADDR),
            Exit::Breakpoint(id, done),
            "{id}"
        );
        assert_eq!(b.m.with_flash(|f| f.eccr()), 0, "{id}: no flag");
    }
}

#[test]
fn ended_flash_operations_are_read_with_a_cursor_as_they_end() {
    let run = |read: bool| {
        let mut b = Bench::new(config(OptionBytes::default()), &[Cpu1]);
        let mut told = Vec::new();
        b.m.arm_power_cut(wb_machine::PowerCut::DuringOp(4), 11);
        b.call(Cpu1, "flash_unlock", &[]);
        b.call(Cpu1, "flash_program", &[ADDR, 1, 2, 0]);
        if read {
            // Ended by the time the run that completed it returns.
            told.extend(b.m.ended_flash_ops(told.len()));
            assert_eq!(told.len(), 1);
            assert!(b.m.ended_flash_ops(told.len()).is_empty(), "each once");
        }
        let exit = three_operations(&mut b);
        if read {
            told.extend(b.m.ended_flash_ops(told.len()));
        }
        (exit, b.m.trace_hash(), b.m.flash_log(), told)
    };
    let (exit, hash, log, told) = run(true);
    // The program above, then the same address again, the next double-word, the erase cut.
    assert_eq!(exit, Exit::PowerCut(Some(4)));
    let outcomes: Vec<_> = told.iter().map(|r| (r.seq, r.outcome)).collect();
    assert_eq!(
        outcomes,
        vec![
            (1, Outcome::Done),
            (2, Outcome::Refused(sr::PROGERR)),
            (3, Outcome::Done),
            (4, Outcome::Torn)
        ]
    );
    assert_eq!(told, log, "each operation once, as the log has it");
    let (exit2, hash2, log2, told2) = run(false);
    assert!(told2.is_empty());
    assert_eq!((exit, hash, log), (exit2, hash2, log2), "the same run");
}

#[test]
fn after_a_restore_a_reader_sees_the_operations_that_end_anew() {
    let mut b = Bench::new(config(OptionBytes::default()), &[Cpu1]);
    let mut told: Vec<u64> = Vec::new();
    let mut cursor = 0;
    let read = |b: &Bench, cursor: &mut usize, told: &mut Vec<u64>| {
        let new = b.m.ended_flash_ops(*cursor);
        *cursor += new.len();
        told.extend(new.iter().map(|r| r.seq));
    };
    b.call(Cpu1, "flash_unlock", &[]);
    b.call(Cpu1, "flash_program", &[ADDR, 1, 2, 0]);
    read(&b, &mut cursor, &mut told);
    let snap = b.m.snapshot();
    b.call(Cpu1, "flash_program", &[ADDR + 8, 3, 4, 0]);
    read(&b, &mut cursor, &mut told);
    b.m.restore(&snap);
    cursor = cursor.min(snap.flash_ops_ended());
    b.call(Cpu1, "flash_program", &[ADDR + 16, 5, 6, 0]);
    read(&b, &mut cursor, &mut told);
    assert_eq!(told, vec![1, 2, 2]);
    assert_eq!(
        b.m.flash_log()[1].address,
        ADDR + 16,
        "operation 2 the second time"
    );
}
