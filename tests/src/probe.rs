//! A debug-probe FUS client: what STM32CubeProgrammer does over SWD, done through the
//! machine's debug access port. It lays out the shared tables in SRAM2a (as the operator
//! image and ST's transport layer do, `wb_proto::layout::tables`), starts CPU2 with
//! PWR_CR4.C2BOOT, and exchanges system commands and events with whatever CPU2 runs through
//! the IPCC registers. CPU1 idles in a WFI loop.

use wb_firmware::presets;
use wb_machine::{Config, CoreId, Exit, Machine, ResetCause};
use wb_proto::layout::{self, tables};
use wb_proto::tl::{ReadyEvent, SysCommand, SysEvent};

pub use wb_proto;

const PWR_CR4: u32 = 0x5800_040C;
const C2BOOT: u32 = 1 << 15;
const IPCC: u32 = 0x5800_0C00;
const C1SCR: u32 = IPCC + 0x08;
const C1TOC2SR: u32 = IPCC + 0x0C;
const C2TOC1SR: u32 = IPCC + 0x1C;
const RCC_AHB3ENR: u32 = 0x5800_0050;
const CH2: u32 = 1 << 1;

/// One millisecond of simulated time.
pub const MS: u64 = 1_000_000_000;

/// A device on the bench with a probe attached.
pub struct Probe {
    pub m: Machine,
    /// READY payloads seen, in order.
    pub readies: Vec<u8>,
    /// Power cuts an armed cut caused, with the operation each tore.
    pub power_cuts: Vec<Option<u64>>,
}

/// CPU1's idle program at the start of flash: SP, Reset → `wfi; b .`.
fn park_cpu1(m: &mut Machine) {
    let mut code = Vec::new();
    for w in [0x2000_1000u32, 0x0800_0009] {
        code.extend_from_slice(&w.to_le_bytes());
    }
    code.extend_from_slice(&[0x30, 0xBF, 0xFD, 0xE7]);
    assert!(m.poke(layout::FLASH_BASE, &code));
}

impl Probe {
    /// A virgin device (the `virgin` preset) powered on, CPU2 not started yet.
    pub fn virgin() -> Probe {
        let dev = (presets::preset("virgin").expect("virgin preset").build)();
        Probe::with_device(&dev)
    }

    pub fn with_device(dev: &wb_machine::Device) -> Probe {
        let config = Config {
            option_bytes: presets::virgin_options(),
            ..Config::default()
        };
        let mut m = Machine::new(config).expect("machine");
        m.load_device(dev);
        park_cpu1(&mut m);
        m.reset(ResetCause::PowerOn);
        Probe {
            m,
            readies: Vec::new(),
            power_cuts: Vec::new(),
        }
    }

    pub fn read(&mut self, addr: u32) -> u32 {
        self.m
            .debug_read32(addr)
            .unwrap_or_else(|| panic!("probe read {addr:#010x}"))
    }

    pub fn write(&mut self, addr: u32, v: u32) {
        assert!(self.m.debug_write32(addr, v), "probe write {addr:#010x}");
    }

    fn write_bytes(&mut self, addr: u32, bytes: &[u8]) {
        assert!(self.m.poke(addr, bytes), "probe write {addr:#010x}");
    }

    /// Run `ps` of simulated time; the guest must not stop the run. An armed power cut may
    /// (it is recorded; the chip is then back from its power-on reset, CPU2 held).
    pub fn run(&mut self, ps: u64) {
        let exit = self.m.run_until(self.m.now() + ps);
        if let Exit::PowerCut(torn) = exit {
            self.power_cuts.push(torn);
            return;
        }
        assert!(
            matches!(exit, Exit::Limit | Exit::Halted),
            "run ended: {}",
            exit
        );
    }

    /// The tables of `layout::tables` with IPCCDBA = 0, as ST's TL_Init/shci_init/TL_MM_Init
    /// lay them out.
    pub fn setup_tables(&mut self) {
        let zero = [0u8; (tables::END - tables::REF_TABLE) as usize];
        self.write_bytes(tables::REF_TABLE, &zero);
        let words = [
            (tables::REF_TABLE, tables::DEVICE_INFO),
            (tables::REF_TABLE + 0x0C, tables::SYS_TABLE),
            (tables::REF_TABLE + 0x10, tables::MEM_MANAGER_TABLE),
            (tables::SYS_TABLE, tables::SYS_CMD_BUFFER),
            (tables::SYS_TABLE + 4, tables::SYS_QUEUE),
            (tables::SYS_QUEUE, tables::SYS_QUEUE),
            (tables::SYS_QUEUE + 4, tables::SYS_QUEUE),
            (tables::MEM_MANAGER_TABLE + 4, tables::SYS_SPARE_EVT_BUFFER),
            (tables::MEM_MANAGER_TABLE + 0x10, tables::FREE_BUF_QUEUE),
            (tables::FREE_BUF_QUEUE, tables::FREE_BUF_QUEUE),
            (tables::FREE_BUF_QUEUE + 4, tables::FREE_BUF_QUEUE),
        ];
        for (a, v) in words {
            self.write(a, v);
        }
    }

    /// The run clocks ST's applications set before starting CPU2 (AN5185 §1.5: the RCC is
    /// CPU1's job): flash LATENCY 3, HSE 32 MHz → PLL 64 MHz for CPU1, CPU2 at 32 MHz.
    pub fn clock_64mhz(&mut self) {
        const RCC_CR: u32 = 0x5800_0000;
        let acr = self.read(0x5800_4000);
        self.write(0x5800_4000, (acr & !7) | 3);
        let cr = self.read(RCC_CR);
        self.write(RCC_CR, cr | 1 << 16);
        while self.read(RCC_CR) & (1 << 17) == 0 {
            self.run(MS / 10);
        }
        self.write(0x5800_000C, 3 | (1 << 4) | (8 << 8) | (1 << 28) | (1 << 29));
        let cr = self.read(RCC_CR);
        self.write(RCC_CR, cr | 1 << 24);
        while self.read(RCC_CR) & (1 << 25) == 0 {
            self.run(MS / 10);
        }
        let ext = self.read(0x5800_0108);
        self.write(0x5800_0108, (ext & !0xF0) | (0b1000 << 4));
        let cfgr = self.read(0x5800_0008);
        self.write(0x5800_0008, (cfgr & !3) | 3);
    }

    /// Tables, IPCC clock, C2BOOT; then wait for READY (returns its payload).
    pub fn boot_cpu2(&mut self) -> Option<u8> {
        self.clock_64mhz();
        self.setup_tables();
        let en = self.read(RCC_AHB3ENR);
        self.write(RCC_AHB3ENR, en | 1 << 20);
        let cr4 = self.read(PWR_CR4);
        self.write(PWR_CR4, cr4 | C2BOOT);
        self.wait_ready(50 * MS)
    }

    /// Whether CPU2 has been started since the last reset.
    pub fn cpu2_started(&mut self) -> bool {
        self.read(PWR_CR4) & C2BOOT != 0
    }

    /// Take a pending system event off the queue, if CPU2 signalled one; READY is recorded.
    pub fn take_event(&mut self) -> Option<Vec<u8>> {
        if self.read(C2TOC1SR) & CH2 == 0 {
            return None;
        }
        let head = tables::SYS_QUEUE;
        let node = self.read(head);
        if node == head {
            self.write(C1SCR, CH2);
            return None;
        }
        // LST_remove_head.
        let next = self.read(node);
        self.write(head, next);
        self.write(next + 4, head);
        let serial = self
            .m
            .peek(node + 8, 3 + 255)
            .expect("event in SRAM2a")
            .to_vec();
        self.write(C1SCR, CH2);
        let ev = SysEvent::parse(&serial).expect("well-formed system event");
        if let Ok(r) = ReadyEvent::from_event(&ev) {
            self.readies.push(r.kind.into());
        }
        Some(serial[..3 + ev.payload.len() + 2].to_vec())
    }

    /// Run until a READY event arrives (its payload), at most `limit`.
    pub fn wait_ready(&mut self, limit: u64) -> Option<u8> {
        let before = self.readies.len();
        let end = self.m.now() + limit;
        while self.m.now() < end {
            self.run(MS / 10);
            while self.take_event().is_some() {}
            if self.readies.len() > before {
                return self.readies.last().copied();
            }
        }
        None
    }

    /// Send a system command with `opcode` and `payload`; run until CPU2 releases the channel
    /// and return the response bytes at offset 0 of the command buffer (`None` if none was
    /// written: CPU2 reset the system instead, or `limit` passed).
    pub fn command(&mut self, opcode: u16, payload: &[u8], limit: u64) -> Option<Vec<u8>> {
        let mut packet = vec![0u8; 8 + 4 + payload.len()];
        SysCommand { opcode, payload }
            .encode_packet(&mut packet)
            .expect("command fits");
        self.raw_command(&packet, limit)
    }

    /// Send raw packet bytes (garbage included) as a system command.
    pub fn raw_command(&mut self, packet: &[u8], limit: u64) -> Option<Vec<u8>> {
        self.write_bytes(tables::SYS_CMD_BUFFER, packet);
        self.write(C1SCR, CH2 << 16);
        let end = self.m.now() + limit;
        while self.m.now() < end {
            self.run(MS / 20);
            while self.take_event().is_some() {}
            if self.read(C1TOC2SR) & CH2 == 0 {
                let rsp = self.m.peek(tables::SYS_CMD_BUFFER, 16).unwrap().to_vec();
                return (rsp[0] == 0x11).then_some(rsp);
            }
        }
        None
    }

    /// FUS_GET_STATE → (state, error).
    pub fn get_state(&mut self) -> Option<(u8, u8)> {
        let r = self.command(0xFC52, &[], 100 * MS)?;
        Some((r[6], r[7]))
    }

    /// Poll FUS_GET_STATE every 20 ms until the state is no longer an upgrade in progress,
    /// starting CPU2 again after each system reset, as ST's clients do. Stops early when a
    /// wireless stack announces itself (READY 0x00): `None` then.
    pub fn poll(&mut self, limit: u64) -> Option<(u8, u8)> {
        let end = self.m.now() + limit;
        while self.m.now() < end {
            if !self.cpu2_started() {
                if self.boot_cpu2() == Some(0x00) {
                    return None;
                }
                continue;
            }
            if let Some((s, e)) = self.get_state() {
                if !(0x10..=0x2F).contains(&s) {
                    return Some((s, e));
                }
            }
            self.run(20 * MS);
        }
        panic!("FUS still busy after {} ms", limit / MS);
    }

    /// Run until a system reset has stopped CPU2 (at most `limit`).
    pub fn wait_reset(&mut self, limit: u64) {
        let end = self.m.now() + limit;
        while self.cpu2_started() {
            assert!(self.m.now() < end, "no reset within {} ms", limit / MS);
            self.run(MS);
        }
    }

    /// After CPU2 reset the system: start it again and wait for its READY.
    pub fn restart_cpu2(&mut self) -> Option<u8> {
        assert!(!self.cpu2_started(), "a reset happened");
        self.boot_cpu2()
    }

    pub fn options(&self) -> (u32, u32) {
        self.m.with_flash(|f| {
            let o = f.options();
            (
                o.get(wb_periph::flash::reg::SFR).unwrap(),
                o.get(wb_periph::flash::reg::SRRVR).unwrap(),
            )
        })
    }

    pub fn core_running(&self, id: CoreId) -> bool {
        self.m.stats(id).run == wb_machine::RunState::Running
    }
}
