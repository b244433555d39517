//! The operator image (CPU1) and the sample wireless stack (CPU2) together, without a FUS:
//! CPU2 boots the stack through C2BOOT and the option bytes, the two talk through the shared
//! tables and IPCC channel 2, and the operator's log in SRAM1 and its USART1 text say what
//! happened — including the stack's way back to the FUS after two FUS_GET_STATE in a row.
//! Also: both stack builds cover exactly the flash the FUS installs them in.

use wb_machine::{Config, CoreId, Exit, Machine, ResetCause, Uart};
use wb_periph::flash::{reg, OptionBytes};
use wb_periph::rcc::csr;

use wb_machine::picos::MS;

/// `wb_proto::layout` in the shapes these tests use.
mod layout {
    pub use wb_proto::layout::operator::{
        entry, op, LOG_ADDR, LOG_MAGIC, SCRIPT_ADDR, SCRIPT_MAGIC,
    };
    pub use wb_proto::layout::tables::{DEVICE_INFO, SYS_TABLE};
    pub use wb_proto::layout::{sbrv_for, sfr, FLASH_BASE, FUS_SBRV, FUS_VECTOR};
    pub const WS_ECHO_OPCODE: u32 = wb_proto::layout::WS_ECHO_OPCODE as u32;
    pub const FUS_VERSION: u32 = wb_proto::layout::FUS_VERSION.0;
    pub const FUS_MEMORY_SIZE: u32 = wb_proto::layout::FUS_MEMORY_SIZE.0;

    pub const fn srrvr(sbrv: u32, sram2a_kib: u32, sram2b_kib: u32) -> u32 {
        wb_proto::layout::srrvr(sbrv, sram2a_kib as u8, sram2b_kib as u8)
    }
}

use layout::{entry, op};

/// The two stack builds: (image, origin, flash bytes, version word, memory-size word).
const WS_1_0_0: (&[u8], u32, u32, u32, u32) = (
    wb_firmware::WS_1_0_0,
    0x080F_0000,
    16 * 1024,
    0x0100_0001,
    0x1004_0004, // SRAM2b 16 KiB, SRAM2a 4 KiB, 4 sectors
);
const WS_1_1_0: (&[u8], u32, u32, u32, u32) = (
    wb_firmware::WS_1_1_0,
    0x080D_3000,
    132 * 1024,
    0x0101_0001,
    0x1408_0021, // SRAM2b 20 KiB, SRAM2a 8 KiB, 33 sectors
);

const NONE: u32 = 0xFFFF_FFFF;
const NO_STEP: u32 = 0xFF;

/// One log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    kind: u32,
    step: u32,
    a: u32,
    b: u32,
    c: u32,
}

fn e(kind: u32, step: u32, a: u32, b: u32, c: u32) -> Entry {
    Entry {
        kind,
        step,
        a,
        b,
        c,
    }
}

struct Rig {
    m: Machine,
    uart: String,
    srrvr: u32,
    /// The operator's NVIC_SystemReset, where the runs stop to take the USART text: a reset
    /// loses what the host has not taken yet.
    sys_reset: u32,
}

impl Rig {
    /// A device with `ws` installed as the FUS would leave it (SFSA at its first page, SBRV
    /// at its vector table, its SRAM secure), the operator in user flash, `script` at the
    /// script address, powered on. CPU2 waits for C2BOOT.
    fn new(ws: (&[u8], u32, u32, u32, u32), script: Option<&[[u32; 4]]>) -> Rig {
        Rig::with_ipccdba(ws, script, 0)
    }

    fn with_ipccdba(
        ws: (&[u8], u32, u32, u32, u32),
        script: Option<&[[u32; 4]]>,
        ipccdba: u32,
    ) -> Rig {
        let (image, origin, _, _, memory_size) = ws;
        let sram2b_kib = memory_size >> 24;
        let sram2a_kib = (memory_size >> 16) & 0xFF;
        let srrvr = layout::srrvr(layout::sbrv_for(origin), sram2a_kib, sram2b_kib);
        let mut options = OptionBytes::default();
        options.set(reg::SRRVR, srrvr);
        options.set(reg::SFR, layout::sfr((origin - layout::FLASH_BASE) / 4096));
        options.set(reg::IPCCBR, ipccdba);
        let config = Config {
            option_bytes: options,
            ..Config::default()
        };
        let mut m = Machine::new(config).expect("machine");
        let operator = m
            .load_elf_bytes("operator", wb_firmware::OPERATOR)
            .expect("operator image");
        let sys_reset = operator.symbol("operator_reset").expect("operator_reset") & !1;
        m.set_breakpoints(CoreId::Cpu1, &[sys_reset]);
        m.load_elf_bytes("wireless-stack", image)
            .expect("stack image");
        if let Some(steps) = script {
            let mut words = vec![layout::SCRIPT_MAGIC, steps.len() as u32];
            words.extend(steps.iter().flatten());
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            assert!(m.poke(layout::SCRIPT_ADDR, &bytes), "script in flash");
        }
        // A stand-in for the FUS: a vector table whose reset handler sleeps forever.
        let mut fus = 0x2004_0000u32.to_le_bytes().to_vec();
        fus.extend((layout::FUS_VECTOR + 9).to_le_bytes());
        fus.extend([0x30, 0xBF, 0xFD, 0xE7]); // wfi; b <wfi>
        assert!(m.poke(layout::FUS_VECTOR, &fus));
        m.set_boot(layout::FLASH_BASE, None);
        m.reset(ResetCause::PowerOn);
        Rig {
            m,
            uart: String::new(),
            srrvr,
            sys_reset,
        }
    }

    /// Runs until `done` holds, at most `limit_ms` of simulated time.
    fn run_until(&mut self, what: &str, limit_ms: u64, done: impl Fn(&Rig) -> bool) {
        let end = self.m.now() + limit_ms * MS;
        while !done(self) {
            assert!(
                self.m.now() < end,
                "no {what} within {limit_ms} ms\nlog: {:#x?}\nuart:\n{}",
                self.log(),
                self.uart
            );
            let mut exit = self.m.run_until((self.m.now() + 5 * MS).min(end));
            self.uart
                .push_str(&String::from_utf8_lossy(&self.m.uart_take(Uart::Usart1)));
            if exit == Exit::Breakpoint(CoreId::Cpu1, self.sys_reset) {
                // Past the breakpoint and through the reset, then stop there again.
                self.m.set_breakpoints(CoreId::Cpu1, &[]);
                let at = self.m.core(CoreId::Cpu1).state().now();
                exit = self.m.run_until(at.max(self.m.now()) + MS / 10);
                self.m.set_breakpoints(CoreId::Cpu1, &[self.sys_reset]);
            }
            assert_eq!(
                exit,
                Exit::Limit,
                "log: {:#x?}\nuart:\n{}",
                self.log(),
                self.uart
            );
        }
    }

    /// Runs 20 ms more: the USART drains what the operator queued.
    fn settle(&mut self) {
        let exit = self.m.run_until(self.m.now() + 20 * MS);
        assert_eq!(exit, Exit::Limit);
        self.uart
            .push_str(&String::from_utf8_lossy(&self.m.uart_take(Uart::Usart1)));
    }

    fn word(&self, addr: u32) -> u32 {
        self.m.read_u32(addr).expect("readable")
    }

    /// Header (magic, next step, boots, entries) and the entries.
    fn header(&self) -> [u32; 4] {
        [0, 4, 8, 12].map(|o| self.word(layout::LOG_ADDR + o))
    }

    fn log(&self) -> Vec<Entry> {
        let n = self.header()[3].min(250);
        (0..n)
            .map(|i| {
                let at = layout::LOG_ADDR + 16 + 16 * i;
                let w0 = self.word(at);
                e(
                    w0 & 0xFF,
                    (w0 >> 8) & 0xFF,
                    self.word(at + 4),
                    self.word(at + 8),
                    self.word(at + 12),
                )
            })
            .collect()
    }

    fn has(&self, kind: u32, step: u32) -> bool {
        self.log().iter().any(|x| x.kind == kind && x.step == step)
    }

    fn ended(&self) -> bool {
        self.has(entry::END, NO_STEP)
    }
}

fn raw(opcode: u32, ty: u32, plen: u32, fill: u32) -> [u32; 4] {
    [op::RAW, opcode | ty << 16, plen, fill]
}

#[test]
fn the_operator_drives_the_stack_and_two_get_states_send_it_to_the_fus() {
    let script = [
        [op::ECHO, 0x1234_5678, 0, 0],
        [op::GET_STATE, 0, 0, 0],
        raw(0xFC66, 0, 0, 0),      // BLE_INIT
        raw(0x1234, 0, 0, 0),      // unknown opcode
        raw(0xFFF0, 0, 255, 0xA5), // echo with 255 bytes: too long
        raw(0xFC66, 0x20, 0, 0),   // wrong packet type
        raw(0xFC54, 0, 0, 0),      // a FUS command
        [op::ECHO, 0xCAFE_F00D, 0, 0],
        [op::GET_STATE, 0, 0, 0],
        [op::GET_STATE, 0, 0, 0], // the second in a row: back to the FUS
    ];
    let mut r = Rig::new(WS_1_0_0, Some(&script));

    // The stack's device information table, in the wireless-stack layout.
    r.run_until("the first echo", 1_000, |r| r.has(entry::STEP_DONE, 0));
    let info: Vec<u32> = (0..8)
        .map(|i| r.word(layout::DEVICE_INFO + 4 * i))
        .collect();
    assert_eq!(
        info,
        [
            0, // safeboot version: none
            layout::FUS_VERSION,
            layout::FUS_MEMORY_SIZE,
            0,
            WS_1_0_0.3,
            WS_1_0_0.4,
            0x01, // BLE_FULL
            0,
        ]
    );

    r.run_until("the end of the script", 5_000, Rig::ended);
    r.settle();
    let first_csr = r.log()[0].b;
    assert_eq!(
        first_csr & csr::FLAGS,
        csr::BORRSTF | csr::PINRSTF,
        "power-on"
    );
    let log = r.log();
    let second_csr = log
        .iter()
        .filter(|x| x.kind == entry::BOOT)
        .nth(1)
        .map(|x| x.b)
        .expect("a second boot");
    assert_ne!(second_csr & csr::OBLRSTF, 0, "option-byte-load reset");
    let expected = [
        e(entry::BOOT, NO_STEP, 1, first_csr, 0),
        e(entry::READY, NO_STEP, 0x00, 0, WS_1_0_0.3),
        e(entry::ECHO, 0, 0x00, 0x1234_5678, 0),
        e(entry::STEP_DONE, 0, 0, 0, 0),
        e(entry::RESPONSE, 1, 0xFC52, 0xFF, 0xFE),
        e(entry::STEP_DONE, 1, 1, 0, 0),
        e(entry::RESPONSE, 2, 0xFC66, 0x00, NONE),
        e(entry::STEP_DONE, 2, 2, 0, 0),
        e(entry::RESPONSE, 3, 0x1234, 0x01, NONE),
        e(entry::STEP_DONE, 3, 3, 0, 0),
        e(entry::RESPONSE, 4, layout::WS_ECHO_OPCODE, 0x12, NONE),
        e(entry::STEP_DONE, 4, 4, 0, 0),
        e(entry::RESPONSE, 5, 0xFC66, 0x01, NONE),
        e(entry::STEP_DONE, 5, 5, 0, 0),
        e(entry::RESPONSE, 6, 0xFC54, 0xFF, NONE),
        e(entry::STEP_DONE, 6, 6, 0, 0),
        e(entry::ECHO, 7, 0x00, 0xCAFE_F00D, 0),
        e(entry::STEP_DONE, 7, 7, 0, 0),
        e(entry::RESPONSE, 8, 0xFC52, 0xFF, 0xFE),
        e(entry::STEP_DONE, 8, 8, 0, 0),
        // Step 9 is never answered: the stack reloads the option bytes (a system reset).
        e(entry::BOOT, NO_STEP, 2, second_csr, 0),
        e(entry::END, NO_STEP, 10, 0, 0),
    ];
    assert_eq!(log, expected, "uart:\n{}", r.uart);
    assert_eq!(
        r.header(),
        [layout::LOG_MAGIC, 10, 2, expected.len() as u32]
    );

    // SBRV now points at the FUS; the rest of SRRVR and SFR are unchanged.
    let (srrvr, sfr) = r.m.with_flash(|f| {
        (
            f.options().get(reg::SRRVR).unwrap(),
            f.options().get(reg::SFR).unwrap(),
        )
    });
    assert_eq!(srrvr, (r.srrvr & !0x3_FFFF) | layout::FUS_SBRV);
    assert_eq!(sfr, layout::sfr(0xF0));
    assert_eq!(
        r.m.with_flash(|f| f.options().cpu2_boot_vector()),
        layout::FUS_VECTOR
    );

    for line in [
        "boot 1 ",
        "ready ws (ws table) 1.0.0\r\n",
        "step 0 echo 0x12345678 -> status 0x00 echo 0x12345678\r\n",
        "step 1 FUS_GET_STATE -> status 0xff payload 0xfe\r\n",
        "step 4 raw -> status 0x12\r\n",
        "step 8 FUS_GET_STATE -> status 0xff payload 0xfe\r\n",
        "boot 2 ",
        "script done\r\n",
    ] {
        assert!(r.uart.contains(line), "{line:?} in\n{}", r.uart);
    }
    assert_eq!(r.uart.matches("script done").count(), 1);
}

#[test]
fn the_stack_survives_garbage_tables() {
    let script = [
        [op::ECHO, 0x0000_0001, 0, 0],
        [op::DELAY, 50, 0, 0],
        [op::ECHO, 0x0000_0002, 0, 0],
        [op::DELAY, 50, 0, 0],
        [op::ECHO, 0x0000_0003, 0, 0],
    ];
    let mut r = Rig::new(WS_1_0_0, Some(&script));
    r.run_until("the first echo", 1_000, |r| r.has(entry::STEP_DONE, 0));
    // The command buffer pointer goes wild while the operator waits.
    let good = r.word(layout::SYS_TABLE);
    assert!(r.m.poke(layout::SYS_TABLE, &0xDEAD_BEEFu32.to_le_bytes()));
    r.run_until("the second echo", 1_000, |r| r.has(entry::STEP_DONE, 2));
    assert!(r.m.poke(layout::SYS_TABLE, &good.to_le_bytes()));
    r.run_until("the end", 1_000, Rig::ended);
    let echoes: Vec<Entry> = r
        .log()
        .into_iter()
        .filter(|x| x.kind == entry::ECHO)
        .collect();
    assert_eq!(echoes.len(), 3);
    assert_eq!(echoes[0], e(entry::ECHO, 0, 0, 1, 0));
    // The stack had nowhere to answer and freed the channel without an answer: the operator
    // finds no command-complete packet (status 0xFFFFFFFF, the buffer's first word, which it
    // cleared before sending).
    assert_eq!(echoes[1], e(entry::ECHO, 2, NONE, 0, 0));
    assert_eq!(
        echoes[2],
        e(entry::ECHO, 4, 0, 3, 0),
        "the stack still answers"
    );
    assert!(!r.has(entry::TIMEOUT, 2));
}

#[test]
fn the_script_resumes_after_a_reset_and_polls_no_running_stack() {
    let script = [
        [op::RESET, 0, 0, 0],
        [op::WAIT_READY, 500, 0, 0], // the READY of this boot
        [op::POLL, 3, 10, 0],        // the stack runs: not asked
        [op::ECHO, 0x5555_AAAA, 0, 0],
        [op::WAIT_READY, 100, 0, 0], // no new READY
    ];
    let mut r = Rig::new(WS_1_0_0, Some(&script));
    r.run_until("the end", 2_000, Rig::ended);
    r.settle();
    let log = r.log();
    let csr2 = log[3].b;
    assert_eq!(csr2 & csr::FLAGS, csr::SFTRSTF | csr::PINRSTF, "{log:#x?}");
    let ready = |step| e(entry::READY, step, 0x00, 0, WS_1_0_0.3);
    let done = |step| e(entry::STEP_DONE, step, step, 0, 0);
    assert_eq!(
        log[1..],
        [
            ready(NO_STEP),
            done(0),
            e(entry::BOOT, NO_STEP, 2, csr2, 0),
            ready(NO_STEP),
            done(1),
            done(2),
            e(entry::ECHO, 3, 0, 0x5555_AAAA, 0),
            done(3),
            e(entry::TIMEOUT, 4, 4, 0, 0),
            done(4),
            e(entry::END, NO_STEP, 5, 0, 0),
        ],
        "uart:\n{}",
        r.uart
    );
    for line in [
        "step 0 reset\r\n",
        "step 1 ready seen\r\n",
        "step 2 poll: wireless stack running\r\n",
        "step 4 wait ready: timeout\r\n",
    ] {
        assert!(r.uart.contains(line), "{line:?} in\n{}", r.uart);
    }
}

#[test]
fn a_stack_whose_tables_do_not_fit_in_sram2a_stays_quiet() {
    // IPCCDBA 0x3FFF: the reference table would start 4 bytes below the end of SRAM2a.
    let mut r = Rig::with_ipccdba(WS_1_0_0, Some(&[[op::ECHO, 1, 0, 0]]), 0x3FFF);
    r.run_until("the end", 6_000, Rig::ended);
    let log = r.log();
    assert_eq!(
        log[1..],
        [
            e(entry::TIMEOUT, NO_STEP, NO_STEP, 0, 0), // no READY
            e(entry::TIMEOUT, 0, 0, 0, 0),             // no answer
            e(entry::STEP_DONE, 0, 0, 0, 0),
            e(entry::END, NO_STEP, 1, 0, 0),
        ]
    );
    let info: Vec<u32> = (0..8)
        .map(|i| r.word(layout::DEVICE_INFO + 4 * i))
        .collect();
    assert_eq!(info, [0; 8], "no device information table");
}

#[test]
fn stack_1_1_0_reports_its_version_and_size() {
    let mut r = Rig::new(WS_1_1_0, Some(&[[op::ECHO, 0xA5A5_5A5A, 0, 0]]));
    r.run_until("the end", 1_000, Rig::ended);
    r.settle();
    let log = r.log();
    assert_eq!(log[1], e(entry::READY, NO_STEP, 0x00, 0, WS_1_1_0.3));
    assert_eq!(log[2], e(entry::ECHO, 0, 0x00, 0xA5A5_5A5A, 0));
    assert_eq!(r.word(layout::DEVICE_INFO + 0x14), WS_1_1_0.4);
    assert!(
        r.uart.contains("ready ws (ws table) 1.1.0\r\n"),
        "{}",
        r.uart
    );
}

#[test]
fn a_missing_script_is_reported_and_the_operator_idles() {
    let mut r = Rig::new(WS_1_0_0, None);
    r.run_until("the READY event", 1_000, |r| r.has(entry::READY, NO_STEP));
    r.settle();
    let log = r.log();
    assert!(
        log.contains(&e(entry::BAD_SCRIPT, NO_STEP, NONE, 0, NONE)),
        "{log:#x?}"
    );
    assert!(!r.ended());
    assert!(
        r.uart.contains("bad script: word0 0xffffffff"),
        "{}",
        r.uart
    );
}

#[test]
fn both_stack_builds_fill_exactly_the_flash_the_fus_installs_them_in() {
    for (image, origin, len, _, memory_size) in [WS_1_0_0, WS_1_1_0] {
        let mut m = Machine::new(Config::default()).expect("machine");
        let loaded = m.load_elf_bytes("ws", image).expect("image");
        let mut ranges = loaded.ranges.clone();
        ranges.sort();
        // Contiguous from the origin to origin + len, nothing elsewhere.
        let mut at = origin;
        for (start, end) in &ranges {
            assert_eq!(*start, at, "{origin:#x}: gap at {at:#x}: {ranges:x?}");
            at = *end;
        }
        assert_eq!(ranges[0].0, origin, "{ranges:x?}");
        assert_eq!(at, origin + len, "{ranges:x?}");
        assert_eq!(origin + len, layout::FUS_VECTOR);
        assert_eq!(len, (memory_size & 0xFF) * 4096);
        // Vector table: the stack at the top of SRAM2b, the reset handler inside the image.
        assert_eq!(m.read_u32(origin), Some(0x2004_0000));
        let reset = m.read_u32(origin + 4).unwrap();
        assert!((origin..origin + len).contains(&(reset & !1)));
    }
}
