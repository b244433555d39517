//! A debug-probe FUS client: what STM32CubeProgrammer does over SWD, done through the
//! machine's debug access port. It lays out the shared tables in SRAM2a (as the operator
//! image and ST's transport layer do, `wb_proto::layout::tables`), starts CPU2 with
//! PWR_CR4.C2BOOT, and exchanges system commands and events with whatever CPU2 runs through
//! the IPCC registers. CPU1 idles in a WFI loop.
//!
//! No answer within a timeout is behaviour (`Ok(None)`): CPU2 may have reset the system, or
//! be busy. Errors are for what the probe cannot do: a refused debug access, a run the guest
//! stopped (lockup, breakpoint), an event that does not parse.

use wb_machine::{Config, Device, Exit, Machine, MachineError, Picos, ResetCause};
use wb_proto::layout::{self, tables};
use wb_proto::tl::{ReadyEvent, SysEvent};

use wb_regs::{ipcc, pwr};

use crate::task::{self, Answer, Boot, Step};

const PWR_CR4: u32 = pwr::addr(pwr::reg::CR4);
const C1SCR: u32 = ipcc::addr(ipcc::reg::C1SCR);
const C2TOC1SR: u32 = ipcc::addr(ipcc::reg::C2TOC1SR);
/// IPCC channel 2: system commands and events (fus-clients.md).
const CH2: u32 = ipcc::clear(2);
const FUS_GET_STATE: u16 = 0xFC52;

pub use wb_machine::picos::MS;

/// What the probe cannot do.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The debug port refused an access to this address.
    #[error("debug access to {0:#010x} refused")]
    Access(u32),
    /// The run stopped for another reason than time passing: the guest locked up or hit a
    /// breakpoint.
    #[error("the run stopped: {0}")]
    Stopped(Exit),
    /// CPU2 queued a system event that does not parse.
    #[error("CPU2 queued a malformed system event: {0}")]
    Event(wb_proto::Error),
    /// A command larger than the command buffer.
    #[error("the command does not fit the command buffer: {0}")]
    Command(wb_proto::Error),
    #[error(transparent)]
    Machine(#[from] MachineError),
}

pub type Result<T> = std::result::Result<T, ProbeError>;

/// A device on the bench with a probe attached.
pub struct Probe {
    pub m: Machine,
    /// READY payloads seen, in order.
    pub readies: Vec<u8>,
    /// Power cuts an armed cut caused, with the operation each tore.
    pub power_cuts: Vec<Option<u64>>,
}

/// How a poll of FUS_GET_STATE ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollEnd {
    /// The state left the upgrade range: (state, error code).
    State(u8, u8),
    /// A wireless stack announced itself (READY 0x00): the FUS is gone.
    StackRunning,
    /// Still busy when the time ran out: the last state seen, if any.
    Timeout(Option<(u8, u8)>),
}

impl Probe {
    /// `dev` powered on with CPU1 halted at its reset vector after every reset (the probe's
    /// reset vector catch: the application in flash never runs, and nothing of it changes),
    /// CPU2 not started yet.
    pub fn with_device(dev: &Device) -> Result<Probe> {
        let mut m = Machine::new(Config::default())?;
        m.load_device(dev);
        m.set_boot(layout::FLASH_BASE, None);
        m.catch_cpu1_reset(true);
        m.reset(ResetCause::PowerOn);
        Ok(Probe::attach(m))
    }

    /// A probe on a machine set up otherwise (CPU1 may run an image of its own).
    pub fn attach(m: Machine) -> Probe {
        Probe {
            m,
            readies: Vec::new(),
            power_cuts: Vec::new(),
        }
    }

    pub fn read(&mut self, addr: u32) -> Result<u32> {
        self.m.debug_read32(addr).ok_or(ProbeError::Access(addr))
    }

    pub fn write(&mut self, addr: u32, v: u32) -> Result<()> {
        self.m
            .debug_write32(addr, v)
            .then_some(())
            .ok_or(ProbeError::Access(addr))
    }

    pub(crate) fn write_bytes(&mut self, addr: u32, bytes: &[u8]) -> Result<()> {
        self.m
            .poke(addr, bytes)
            .then_some(())
            .ok_or(ProbeError::Access(addr))
    }

    /// Run `ps` of simulated time (a device where nothing can happen just lets it pass). An
    /// armed power cut may end it early (it is recorded; the chip is then back from its
    /// power-on reset, CPU2 held).
    pub fn run(&mut self, ps: Picos) -> Result<()> {
        let end = self.m.now() + ps;
        match self.m.run_until(end) {
            Exit::PowerCut(torn) => {
                self.power_cuts.push(torn);
                Ok(())
            }
            Exit::Limit => Ok(()),
            Exit::Halted => {
                self.m.advance_halted(end);
                Ok(())
            }
            exit => Err(ProbeError::Stopped(exit)),
        }
    }

    /// The tables of `layout::tables` with IPCCDBA = 0, as ST's TL_Init/shci_init/TL_MM_Init
    /// lay them out.
    pub fn setup_tables(&mut self) -> Result<()> {
        let zero = [0u8; (tables::END - tables::REF_TABLE) as usize];
        self.write_bytes(tables::REF_TABLE, &zero)?;
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
            self.write(a, v)?;
        }
        Ok(())
    }

    /// Run `task` to its end: poll it, let the time it asks for pass, again.
    pub fn drive<T>(&mut self, mut poll: impl FnMut(&mut Probe) -> Result<Step<T>>) -> Result<T> {
        loop {
            match poll(self)? {
                Step::Wait(ps) => self.run(ps)?,
                Step::Done(v) => return Ok(v),
            }
        }
    }

    /// Clocks, tables, IPCC clock, C2BOOT; then wait for READY (returns its payload).
    pub fn boot_cpu2(&mut self) -> Result<Option<u8>> {
        let mut boot = Boot::start(self)?;
        self.drive(|p| boot.poll(p))
    }

    /// Whether CPU2 has been started since the last reset.
    pub fn cpu2_started(&mut self) -> Result<bool> {
        Ok(self.read(PWR_CR4)? & pwr::CR4_C2BOOT != 0)
    }

    /// Take a pending system event off the queue, if CPU2 signalled one; READY is recorded.
    pub fn take_event(&mut self) -> Result<Option<Vec<u8>>> {
        if self.read(C2TOC1SR)? & CH2 == 0 {
            return Ok(None);
        }
        let head = tables::SYS_QUEUE;
        let node = self.read(head)?;
        if node == head {
            self.write(C1SCR, CH2)?;
            return Ok(None);
        }
        // LST_remove_head.
        let next = self.read(node)?;
        self.write(head, next)?;
        self.write(next + 4, head)?;
        let serial = self
            .m
            .peek(node + 8, 3 + 255)
            .ok_or(ProbeError::Access(node + 8))?
            .to_vec();
        self.write(C1SCR, CH2)?;
        let ev = SysEvent::parse(&serial).map_err(ProbeError::Event)?;
        if let Ok(r) = ReadyEvent::from_event(&ev) {
            self.readies.push(r.kind.into());
        }
        Ok(Some(serial[..3 + ev.payload.len() + 2].to_vec()))
    }

    pub(crate) fn drain_events(&mut self) -> Result<()> {
        while self.take_event()?.is_some() {}
        Ok(())
    }

    /// Run until a READY event arrives (its payload), at most `limit`.
    pub fn wait_ready(&mut self, limit: Picos) -> Result<Option<u8>> {
        let (seen, deadline) = (self.readies.len(), self.m.now() + limit);
        self.drive(|p| task::wait_ready(p, seen, deadline))
    }

    /// Send a system command with `opcode` and `payload`; run until CPU2 releases the channel
    /// and return the response bytes at offset 0 of the command buffer (`None` if none was
    /// written: CPU2 reset the system instead, or `limit` passed).
    pub fn command(
        &mut self,
        opcode: u16,
        payload: &[u8],
        limit: Picos,
    ) -> Result<Option<Vec<u8>>> {
        let packet = task::packet(opcode, payload)?;
        self.raw_command(&packet, limit)
    }

    /// Send raw packet bytes (garbage included) as a system command.
    pub fn raw_command(&mut self, packet: &[u8], limit: Picos) -> Result<Option<Vec<u8>>> {
        let answer = Answer::send(self, packet, limit)?;
        self.drive(|p| answer.poll(p))
    }

    /// FUS_GET_STATE → (state, error).
    pub fn get_state(&mut self) -> Result<Option<(u8, u8)>> {
        Ok(self
            .command(FUS_GET_STATE, &[], 100 * MS)?
            .map(|r| (r[6], r[7])))
    }

    /// Poll FUS_GET_STATE every 20 ms until the state is no longer an upgrade in progress,
    /// starting CPU2 again after each system reset, as ST's clients do. The first look comes
    /// a period after the request: asked at once, the FUS may still answer idle, not having
    /// recorded the request yet (ST's clients never ask at once either).
    pub fn poll(&mut self, limit: Picos) -> Result<PollEnd> {
        let end = self.m.now() + limit;
        let mut last = None;
        self.run(20 * MS)?;
        while self.m.now() < end {
            if !self.cpu2_started()? {
                if self.boot_cpu2()? == Some(0x00) {
                    return Ok(PollEnd::StackRunning);
                }
                continue;
            }
            if let Some((s, e)) = self.get_state()? {
                if !(0x10..=0x2F).contains(&s) {
                    return Ok(PollEnd::State(s, e));
                }
                last = Some((s, e));
            }
            self.run(20 * MS)?;
        }
        Ok(PollEnd::Timeout(last))
    }

    /// Run until a system reset has stopped CPU2 (at most `limit`); whether it did.
    pub fn wait_reset(&mut self, limit: Picos) -> Result<bool> {
        let end = self.m.now() + limit;
        while self.cpu2_started()? {
            if self.m.now() >= end {
                return Ok(false);
            }
            self.run(MS)?;
        }
        Ok(true)
    }

    /// SFR and SRRVR in force.
    pub fn options(&self) -> (u32, u32) {
        let o = wb_inspect::options::Options::live(self.m.with_flash(|f| *f.options()));
        (o.sfr(), o.srrvr())
    }

    pub fn core_running(&self, id: wb_machine::CoreId) -> bool {
        self.m.stats(id).run == wb_machine::RunState::Running
    }
}
