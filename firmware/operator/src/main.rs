//! The operator (CPU1): a user image that drives the FUS (or a wireless stack) through the
//! shared tables and IPCC, following a script in flash and keeping a log in SRAM1 that
//! survives the system resets the FUS makes (`wb_proto::layout::operator`).
//!
//! Every boot: count the boot in the log (BOOT entry), switch to 64 MHz, set up USART1 for a
//! human-readable log, the shared tables and the IPCC as ST's TL_Init / shci_init /
//! TL_MM_Init / TL_Enable do, start CPU2 (C2BOOT), wait (at most 3 s) for its READY event,
//! then run the script from the step saved in the log header. Steps whose effect may be a
//! system reset save the following step first, so the script goes on after the reboot.
#![no_std]
#![no_main]

mod console;
mod mailbox;
mod oplog;

use core::sync::atomic::{AtomicU32, Ordering};

use guest_rt::{read32, write32};
use wb_proto::fus::Opcode;
use wb_proto::layout::operator::{entry, op, MAX_STEPS, SCRIPT_ADDR, SCRIPT_MAGIC, STEP_WORDS};
use wb_proto::layout::WS_ECHO_OPCODE;
use wb_proto::tables::DEVICE_INFO_VALID_MAGIC;
use wb_proto::tl::{self, CommandComplete, ReadyKind, SysCommand, SysEventCode};

use oplog::NO_STEP;

/// SysTick counts milliseconds; IRQ 36 is USART1, 44/45 the IPCC's RX and TX lines.
#[link_section = ".vector_table"]
#[no_mangle]
pub static VECTORS: guest_rt::vectors::Cpu1Vectors = guest_rt::vectors::VectorTable::new()
    .catch_all(guest_rt::DefaultHandler)
    .systick(OpSysTick)
    .irq(36, console::OpUsart1Irq)
    .irq(44, mailbox::OpIpccRxIrq)
    .irq(45, mailbox::OpIpccTxIrq);

use wb_regs::rcc::at::CSR as RCC_CSR;
use wb_regs::rcc::csr::RMVF;
use wb_regs::scs::at::{AIRCR as SCB_AIRCR, SYST_CSR, SYST_CVR, SYST_RVR};
/// HCLK1 after `sys_clock_64mhz`.
const CLOCK_HZ: u32 = 64_000_000;

/// How long to wait for the READY event after starting CPU2.
const BOOT_READY_MS: u32 = 3_000;
/// How long to wait for the answer to a command.
const COMMAND_MS: u32 = 2_000;

const GET_STATE: u16 = Opcode::FusGetState as u16;

/// Milliseconds since boot (SysTick).
static MS: AtomicU32 = AtomicU32::new(0);

#[no_mangle]
pub extern "C" fn OpSysTick() {
    MS.store(
        MS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Release,
    );
}

fn now_ms() -> u32 {
    MS.load(Ordering::Acquire)
}

fn wfi() {
    unsafe { core::arch::asm!("wfi") };
}

/// NVIC_SystemReset (its own symbol: a debugger or test can stop there).
#[no_mangle]
#[inline(never)]
pub extern "C" fn operator_reset() -> ! {
    unsafe { core::arch::asm!("dsb") };
    write32(SCB_AIRCR, 0x05FA_0004);
    loop {
        unsafe { core::arch::asm!("dsb") };
    }
}

#[no_mangle]
pub extern "C" fn app_main() -> ! {
    let csr = read32(RCC_CSR);
    let boots = oplog::start();
    oplog::append(entry::BOOT, NO_STEP, boots, csr, 0);
    write32(RCC_CSR, read32(RCC_CSR) | RMVF);

    guest_rt::system::sys_clock_64mhz();
    write32(SYST_RVR, CLOCK_HZ / 1000 - 1);
    write32(SYST_CVR, 0);
    write32(SYST_CSR, 0b111); // core clock, interrupt, enable
    console::init(CLOCK_HZ);
    console::str("boot ");
    console::dec(boots);
    console::str(" csr ");
    console::hex8(csr);
    console::end_line();

    mailbox::init_tables();
    mailbox::init_ipcc();
    guest_rt::system::sys_ipcc_enable();

    let mut run = Run {
        step: NO_STEP,
        ready_count: 0,
        ready_mark: 0,
        ws_running: false,
    };
    match Script::read() {
        Ok(script) => run.script(&script),
        Err(bad) => {
            oplog::append(entry::BAD_SCRIPT, NO_STEP, bad.word0, bad.step, bad.value);
            console::str("bad script: word0 ");
            console::hex8(bad.word0);
            console::str(" at step ");
            console::dec(bad.step);
            console::str(" value ");
            console::hex8(bad.value);
            console::end_line();
        }
    }
    loop {
        run.service();
        wfi();
    }
}

/// A step of the script.
#[derive(Clone, Copy)]
struct Step {
    op: u32,
    args: [u32; 3],
}

/// The script block in flash.
struct Script {
    count: u32,
}

/// Why a script was refused: word 0, the step at fault (count when the header is), the value.
struct BadScript {
    word0: u32,
    step: u32,
    value: u32,
}

impl Script {
    fn read() -> Result<Script, BadScript> {
        let word0 = read32(SCRIPT_ADDR);
        let count = read32(SCRIPT_ADDR + 4);
        if word0 != SCRIPT_MAGIC {
            return Err(BadScript {
                word0,
                step: 0,
                value: word0,
            });
        }
        if count > MAX_STEPS {
            return Err(BadScript {
                word0,
                step: count,
                value: count,
            });
        }
        let script = Script { count };
        for i in 0..count {
            let s = script.step(i);
            if !(op::GET_STATE..=op::RESET).contains(&s.op) {
                return Err(BadScript {
                    word0,
                    step: i,
                    value: s.op,
                });
            }
        }
        Ok(script)
    }

    fn step(&self, i: u32) -> Step {
        let at = SCRIPT_ADDR + 8 + 4 * STEP_WORDS * i;
        Step {
            op: read32(at),
            args: [read32(at + 4), read32(at + 8), read32(at + 12)],
        }
    }
}

/// Opcode and status of an answer that is not a command-complete packet.
const UNPARSED: u32 = 0xFFFF_FFFF;

/// The answer to a command.
struct Answer {
    opcode: u32,
    status: u32,
    /// Up to 4 payload bytes, little-endian, and how many there were.
    payload: u32,
    payload_len: usize,
}

impl Answer {
    /// The first payload byte (0xFFFF_FFFF when none); the buffer's first word when the
    /// answer did not parse.
    fn first(&self) -> u32 {
        if self.opcode == UNPARSED {
            self.payload
        } else if self.payload_len > 0 {
            self.payload & 0xFF
        } else {
            0xFFFF_FFFF
        }
    }
}

/// What this boot has seen, and where the script stands.
struct Run {
    /// Step being run (its index goes into log entries), NO_STEP outside steps.
    step: u32,
    /// READY events seen in this boot.
    ready_count: u32,
    /// `ready_count` when the last step ended (WAIT_READY waits for a newer one).
    ready_mark: u32,
    /// A READY "wireless firmware running" was seen in this boot.
    ws_running: bool,
}

impl Run {
    fn script(&mut self, script: &Script) {
        let next = oplog::next_step();
        console::str("script: ");
        console::dec(script.count);
        console::str(" steps, next ");
        console::dec(next);
        console::end_line();
        if next < script.count && !self.wait(BOOT_READY_MS, |r| r.ready_count > 0) {
            oplog::append(entry::TIMEOUT, NO_STEP, NO_STEP, 0, 0);
            console::str("no READY after boot");
            console::end_line();
        }
        for i in next..script.count {
            self.step = i;
            self.run_step(i, script.step(i));
            oplog::append(entry::STEP_DONE, i, i, 0, 0);
            oplog::set_next_step(i + 1);
            self.ready_mark = self.ready_count;
            self.step = NO_STEP;
        }
        if !oplog::contains(entry::END) {
            oplog::append(entry::END, NO_STEP, script.count, 0, 0);
            console::str("script done");
            console::end_line();
        }
    }

    /// Logs the events the RX interrupt recorded.
    fn service(&mut self) {
        while let Some(e) = mailbox::take_event() {
            if SysEventCode::from(e.subevt as u16) != SysEventCode::Ready {
                console::str("event ");
                console::hex(e.subevt, 4);
                console::end_line();
                continue;
            }
            self.ready_count = self.ready_count.wrapping_add(1);
            if e.payload == u32::from(u8::from(ReadyKind::WirelessFwRunning)) {
                self.ws_running = true;
            }
            oplog::append(entry::READY, self.step, e.payload, e.info_word0, e.version);
            console::str("ready ");
            match e.payload {
                0x00 => console::str("ws"),
                0x01 => console::str("fus"),
                p => console::hex2(p),
            }
            console::str(if e.info_word0 == DEVICE_INFO_VALID_MAGIC {
                " (fus table) "
            } else {
                " (ws table) "
            });
            console::version(e.version);
            console::end_line();
        }
    }

    /// Waits at most `ms` for `done`, logging events meanwhile.
    fn wait(&mut self, ms: u32, mut done: impl FnMut(&Run) -> bool) -> bool {
        let start = now_ms();
        loop {
            self.service();
            if done(self) {
                return true;
            }
            if now_ms().wrapping_sub(start) >= ms {
                return false;
            }
            wfi();
        }
    }

    fn step_prefix(&self) {
        console::str("step ");
        console::dec(self.step);
        console::str(" ");
    }

    /// Sends a command (serial bytes from the packet type) and waits for its answer.
    fn command(&mut self, serial: &[u8]) -> Option<Answer> {
        if !self.wait(COMMAND_MS, |_| mailbox::channel_free()) {
            return None;
        }
        mailbox::send(serial);
        if !self.wait(COMMAND_MS, |_| mailbox::answered()) {
            return None;
        }
        let rsp = mailbox::response();
        let Ok(cc) = CommandComplete::parse(&rsp) else {
            // No command-complete packet at offset 0: opcode and status 0xFFFF_FFFF, the
            // buffer's first word as payload.
            return Some(Answer {
                opcode: UNPARSED,
                status: UNPARSED,
                payload: u32::from_le_bytes([rsp[0], rsp[1], rsp[2], rsp[3]]),
                payload_len: 4,
            });
        };
        let mut payload = 0u32;
        for (i, b) in cc.payload.iter().take(4).enumerate() {
            payload |= u32::from(*b) << (8 * i);
        }
        Some(Answer {
            opcode: u32::from(cc.opcode),
            status: u32::from(cc.status),
            payload,
            payload_len: cc.payload.len(),
        })
    }

    /// A command built from an opcode and payload.
    fn sys_command(&mut self, opcode: u16, payload: &[u8]) -> Option<Answer> {
        let mut serial = [0u8; tl::CMD_HDR_LEN + 8];
        let cmd = SysCommand { opcode, payload };
        let n = cmd.encode(&mut serial).ok()?;
        self.command(serial.get(..n)?)
    }

    fn timeout(&self, what: &str) {
        oplog::append(entry::TIMEOUT, self.step, self.step, 0, 0);
        self.step_prefix();
        console::str(what);
        console::str(": timeout");
        console::end_line();
    }

    fn unparsed(&self, name: &str, a: &Answer) {
        self.step_prefix();
        console::str(name);
        console::str(" -> no command-complete packet (word0 ");
        console::hex8(a.payload);
        console::str(")");
        console::end_line();
    }

    /// Logs an answer (RESPONSE entry and a line) or the timeout.
    fn report(&self, name: &str, answer: &Option<Answer>) {
        match answer {
            Some(a) if a.opcode == UNPARSED => {
                oplog::append(entry::RESPONSE, self.step, a.opcode, a.status, a.first());
                self.unparsed(name, a);
            }
            Some(a) => {
                oplog::append(entry::RESPONSE, self.step, a.opcode, a.status, a.first());
                self.step_prefix();
                console::str(name);
                console::str(" -> status ");
                console::hex2(a.status);
                if a.payload_len > 0 {
                    console::str(" payload ");
                    console::hex2(a.first());
                }
                console::end_line();
            }
            None => self.timeout(name),
        }
    }

    /// Runs step `i` (RESET does not return: it logs its STEP_DONE itself).
    fn run_step(&mut self, i: u32, s: Step) {
        let [arg0, arg1, arg2] = s.args;
        match s.op {
            op::GET_STATE => {
                // A wireless stack goes back to the FUS after two of these in a row: a reset.
                oplog::set_next_step(i + 1);
                console::flush();
                let a = self.sys_command(GET_STATE, &[]);
                self.report("FUS_GET_STATE", &a);
            }
            op::FW_UPGRADE => {
                let mut payload = [0u8; 8];
                payload[..4].copy_from_slice(&arg1.to_le_bytes());
                payload[4..].copy_from_slice(&arg2.to_le_bytes());
                let len = (arg0 as usize).min(8);
                self.reset_command(i, Opcode::FusFwUpgrade, &payload[..len], "FUS_FW_UPGRADE");
            }
            op::FW_DELETE => self.reset_command(i, Opcode::FusFwDelete, &[], "FUS_FW_DELETE"),
            op::START_WS => self.reset_command(i, Opcode::FusStartWs, &[], "FUS_START_WS"),
            op::POLL => self.poll(arg0, arg1),
            op::RAW => self.raw(i, arg0, arg1, arg2),
            op::ECHO => {
                let a = self.sys_command(WS_ECHO_OPCODE, &arg0.to_le_bytes());
                match a {
                    Some(a) if a.opcode == UNPARSED => {
                        oplog::append(entry::ECHO, self.step, a.status, a.payload, 0);
                        self.unparsed("echo", &a);
                    }
                    Some(a) => {
                        oplog::append(entry::ECHO, self.step, a.status, a.payload, 0);
                        self.step_prefix();
                        console::str("echo ");
                        console::hex8(arg0);
                        console::str(" -> status ");
                        console::hex2(a.status);
                        console::str(" echo ");
                        console::hex8(a.payload);
                        console::end_line();
                    }
                    None => self.timeout("echo"),
                }
            }
            op::DELAY => {
                self.step_prefix();
                console::str("delay ");
                console::dec(arg0);
                console::str(" ms");
                console::end_line();
                self.wait(arg0, |_| false);
            }
            op::WAIT_READY => {
                let mark = self.ready_mark;
                if self.wait(arg0, |r| r.ready_count != mark) {
                    self.step_prefix();
                    console::str("ready seen");
                    console::end_line();
                } else {
                    self.timeout("wait ready");
                }
            }
            op::RESET => {
                oplog::set_next_step(i + 1);
                oplog::append(entry::STEP_DONE, i, i, 0, 0);
                self.step_prefix();
                console::str("reset");
                console::end_line();
                console::flush();
                operator_reset();
            }
            _ => {}
        }
    }

    /// A command after which the FUS resets the system: the next step is saved first.
    fn reset_command(&mut self, i: u32, opcode: Opcode, payload: &[u8], name: &str) {
        oplog::set_next_step(i + 1);
        console::flush();
        let a = self.sys_command(opcode.into(), payload);
        self.report(name, &a);
    }

    /// RAW: arg0 = opcode | packet type << 16 (0: 0x10), arg1 = plen (up to 255, may lie
    /// about the payload), arg2 = payload fill byte.
    fn raw(&mut self, i: u32, arg0: u32, arg1: u32, arg2: u32) {
        let opcode = arg0 as u16;
        let ty = match (arg0 >> 16) as u8 {
            0 => u8::from(tl::PacketType::SysCmd),
            t => t,
        };
        let plen = arg1.min(255) as u8;
        if ty == u8::from(tl::PacketType::SysCmd) && opcode == GET_STATE {
            oplog::set_next_step(i + 1);
            console::flush();
        }
        let mut serial = [arg2 as u8; tl::CMD_HDR_LEN + 255];
        serial[0] = ty;
        serial[1..3].copy_from_slice(&opcode.to_le_bytes());
        serial[3] = plen;
        let n = tl::CMD_HDR_LEN + usize::from(plen);
        let a = self.command(serial.get(..n).unwrap_or(&[]));
        self.step_prefix();
        console::str("raw type ");
        console::hex2(u32::from(ty));
        console::str(" opcode ");
        console::hex(u32::from(opcode), 4);
        console::str(" plen ");
        console::dec(u32::from(plen));
        console::end_line();
        self.report("raw", &a);
    }

    /// POLL: every `interval` ms, at most `polls` times, FUS_GET_STATE until the state is no
    /// longer an upgrade in progress (0x10..=0x2F), or until a wireless stack has announced
    /// itself in this boot (it is not asked then).
    fn poll(&mut self, polls: u32, interval: u32) {
        for _ in 0..polls {
            if self.wait(interval, |r| r.ws_running) {
                break;
            }
            let a = self.sys_command(GET_STATE, &[]);
            match a {
                Some(a) if !(0x10..=0x2F).contains(&a.status) => {
                    self.report("poll: FUS_GET_STATE", &Some(a));
                    return;
                }
                Some(a) => {
                    self.step_prefix();
                    console::str("poll: state ");
                    console::hex2(a.status);
                    console::str(" (upgrade ongoing)");
                    console::end_line();
                }
                None => {
                    self.step_prefix();
                    console::str("poll: no answer");
                    console::end_line();
                }
            }
        }
        if self.ws_running {
            self.step_prefix();
            console::str("poll: wireless stack running");
            console::end_line();
        } else {
            self.timeout("poll");
        }
    }
}
