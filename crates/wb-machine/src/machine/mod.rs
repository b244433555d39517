//! The machine: two cores, shared memories and peripherals, one deterministic clock. This
//! file holds what it is made of and how it is set up, loaded and reset; the rest is by
//! concern:
//!
//! - `sched.rs`: the scheduler (lock-step quanta, pauses, cycle limits, exceptions taken
//!   between slices);
//! - `sync.rs`: bringing the cores up to date with the flash controller, the RCC and PWR;
//! - `power.rs`: power cuts;
//! - `debug.rs`: the debug port (memory and register access from the host);
//! - `snapshot.rs`: snapshots and restore.

mod debug;
mod power;
mod sched;
mod snapshot;
mod sync;

pub use snapshot::{CoreSnapshot, Snapshot};

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use tracing::debug;
use unicorn_engine::RegisterARM;
use wb_periph::{CoreId, Peripheral, Picos, ResetKind};

use crate::bus::{Bus, IrqRoute, Mapped, Target};
use crate::chip::{self, ChipConfig, Uart};
use crate::clock::Clocks;
use crate::core::FlashWaits;
use crate::core::{BootAlias, Core, CoreState, EngineError, Fault, RunState, Stop};
use crate::device::Device;
use crate::exception::{fp_reg, CpuContext, Exceptions};
use crate::loader::{self, LoadError, LoadedImage};
use crate::memory;
use crate::memory::{EngineeringBytes, Memories};
pub use crate::power_cut::{CutPoint, Injection, OpMatch, PowerCut};
use crate::scs::{exc, Scs, SCR_SEVONPEND};
use crate::timing::is_wide;
use crate::view::View;
use wb_periph::flash::{Ecc, Flash, OpRecord, OptionBytes, Outcome};
use wb_periph::rcc::{Frequencies, ResetCause};
use wb_periph::usart::Serial;

/// How the machine is built.
#[derive(Debug)]
pub struct Config {
    pub clocks: Clocks,
    /// Length of one lock-step quantum: the most one core can run ahead of the other.
    pub quantum: Picos,
    pub engineering: EngineeringBytes,
    pub boot_alias: BootAlias,
    /// Vector table where CPU2 is released at every reset (a test-harness shortcut). `None`
    /// is the chip: CPU2 is held until PWR_CR4.C2BOOT, then boots at SBRV/C2OPT.
    pub cpu2_boot: Option<u32>,
    /// Vector table CPU1 boots from (0: the boot alias).
    pub cpu1_boot: u32,
    /// Option bytes written into the option-byte area of a new machine.
    pub option_bytes: OptionBytes,
    /// Where CPU2 boots when its option bytes (SFR, SRRVR) failed their complement check:
    /// the hardware forces safeboot (AN5185 FAQ). The FUS image places safeboot here.
    pub safeboot_vector: u32,
    /// Configuration of the chip's peripherals (the RNG seed).
    pub chip: ChipConfig,
}

/// Default safeboot vector: the last flash page, inside the secure area.
pub const DEFAULT_SAFEBOOT_VECTOR: u32 = 0x080F_F000;

/// Default quantum: 10 us of simulated time (640 CPU1 cycles at 64 MHz). `wbemu bench`: with
/// both cores busy it costs 1.3x the host time of a 100 us quantum (250 ns: 13x), while the
/// SRAM2a ping-pong takes within 4 % of the simulated time it takes with 250 ns.
pub const DEFAULT_QUANTUM: Picos = crate::picos::from_us(10);

impl Default for Config {
    fn default() -> Self {
        Config {
            clocks: Clocks::Rcc,
            quantum: DEFAULT_QUANTUM,
            engineering: EngineeringBytes::default(),
            boot_alias: BootAlias::Flash,
            cpu2_boot: None,
            cpu1_boot: 0,
            option_bytes: OptionBytes::default(),
            safeboot_vector: DEFAULT_SAFEBOOT_VECTOR,
            chip: ChipConfig::default(),
        }
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The time (or cycle) limit of the run was reached.
    Limit,
    /// No core can run again: all are asleep, held or locked up, with no timed event left.
    Halted,
    Lockup(CoreId),
    /// A breakpoint set with [`Machine::set_breakpoints`] was reached.
    Breakpoint(CoreId, u32),
    /// The guest executed BKPT (no debugger: the run stops there).
    Bkpt(CoreId, u32),
    /// The power cut armed with [`Machine::arm_power_cut`] happened (the machine has already
    /// powered on again); with the sequence number of the operation it tore or dropped.
    PowerCut(Option<u64>),
    /// The external reset armed with [`Machine::arm_fault`] happened (the chip is out of
    /// reset again); with the sequence number of the operation it interrupted or dropped.
    ExternalReset(Option<u64>),
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Limit => write!(f, "limit reached"),
            Exit::Halted => write!(f, "all cores halted"),
            Exit::Lockup(c) => write!(f, "{c} locked up"),
            Exit::Breakpoint(c, a) => write!(f, "{c} hit breakpoint at {a:#010x}"),
            Exit::Bkpt(c, a) => write!(f, "{c} executed BKPT at {a:#010x}"),
            Exit::PowerCut(Some(n)) => write!(f, "power cut during flash operation {n}"),
            Exit::PowerCut(None) => write!(f, "power cut"),
            Exit::ExternalReset(Some(n)) => {
                write!(f, "external reset during flash operation {n}")
            }
            Exit::ExternalReset(None) => write!(f, "external reset"),
        }
    }
}

/// Per-core statistics of a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreStats {
    pub core: CoreId,
    pub hz: u64,
    pub cycles: u64,
    pub idle_cycles: u64,
    pub insns: u64,
    pub blocks: u64,
    pub pc: u32,
    pub run: RunState,
}

pub struct Machine {
    // Field order matters: the engines (which hold pointers into `mem`) drop first.
    cores: [Core; 2],
    bus: Rc<RefCell<Bus>>,
    mem: Memories,
    config: Config,
    now: Picos,
    trace: u64,
    /// What the cores' views were last computed from (see `sync_flash`).
    flash_key: Option<FlashKey>,
    /// An armed power cut and the seed that decides how a torn operation ends.
    power_cut: Option<(PowerCut, Injection)>,
    /// Every start of a core from reset, oldest first.
    boots: Vec<Boot>,
    /// A run stops when this core's cycle counter reaches this count (see
    /// [`Machine::set_cycle_limit`]).
    cycle_limit: Option<(usize, u64)>,
    /// Where each core starts at the next reset ([`Machine::set_boot`]), from `Config` first.
    boot: BootVectors,
    /// The lock-step quantum ([`Machine::set_quantum`]), from `Config` first.
    quantum: Picos,
}

/// Where each core starts after a reset: CPU1's vector table, and CPU2's when it is released
/// at reset rather than by C2BOOT; and whether a debugger's reset vector catch holds CPU1 there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct BootVectors {
    cpu1: u32,
    cpu2: Option<u32>,
    /// DEMCR.VC_CORERESET as a debugger sets it: CPU1 halts at its reset vector after every
    /// reset, before running anything ([`Machine::catch_cpu1_reset`]).
    catch_cpu1: bool,
}

// SAFETY: a machine moves between threads whole; it is never shared (it is not `Sync`). What
// keeps the compiler from deriving `Send` is only what it owns inside: the `Rc<RefCell<Bus>>`
// whose clones all live in this machine (its `shared` field and the two engines' hook data,
// which no accessor hands out), the two unicorn engines (`Unicorn` is an `Rc` around the C
// engine; unicorn 2 keeps no per-thread state for an engine: the only `__thread` variable in
// its sources is qemu's guest-random generator, which ARM M-profile never uses), and raw
// pointers into this machine's own heap buffers. Moved together, none of them leaves an alias
// on the old thread. It stores no closure, and every `Peripheral` is `Send`.
unsafe impl Send for Machine {}

/// A core starting from reset: after a system reset, or CPU2 released by C2BOOT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boot {
    pub at: Picos,
    pub core: CoreId,
    /// The vector table it starts from.
    pub vector: u32,
    pub cause: BootCause,
    /// The instructions each core (CPU1, CPU2) had executed then.
    pub insns: [u64; 2],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootCause {
    /// A system reset (both cores).
    Reset(ResetCause),
    /// PWR_CR4.C2BOOT released CPU2; `safeboot` when its option bytes failed their check or
    /// locked the whole flash.
    C2Boot { safeboot: bool },
}

/// What the cores' views were computed from: flash busy, live option bytes, ACR/C2ACR, the
/// double-words (indices) with ECC errors.
type FlashKey = (bool, OptionBytes, [u32; 2], Vec<u32>);

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("now", &self.now)
            .field("cores", &self.cores)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MachineError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "peripheral {name} at {base:#010x}..{end:#010x} overlaps memory or another peripheral"
    )]
    Overlap {
        name: &'static str,
        base: u32,
        end: u32,
    },
}
impl Machine {
    pub fn new(config: Config) -> Result<Machine, MachineError> {
        let mut mem = Memories::new(&config.engineering);
        config
            .option_bytes
            .store(mem.region_mut(memory::OPTION_BYTES));
        let bus = Rc::new(RefCell::new(Bus::new()));
        let reset_freqs = bus.borrow().rcc.frequencies();
        let hz = |c| core_hz(config.clocks, reset_freqs, c);
        let cpu1 = Core::new(
            CoreId::Cpu1,
            &mut mem,
            bus.clone(),
            hz(CoreId::Cpu1),
            config.boot_alias,
        )?;
        let cpu2 = Core::new(
            CoreId::Cpu2,
            &mut mem,
            bus.clone(),
            hz(CoreId::Cpu2),
            config.boot_alias,
        )?;
        let mut m = Machine {
            cores: [cpu1, cpu2],
            bus,
            mem,
            now: 0,
            trace: 0xcbf2_9ce4_8422_2325,
            flash_key: None,
            power_cut: None,
            boots: Vec::new(),
            cycle_limit: None,
            boot: BootVectors {
                cpu1: config.cpu1_boot,
                cpu2: config.cpu2_boot,
                catch_cpu1: false,
            },
            quantum: config.quantum.max(1),
            config,
        };
        for (target, base) in chip::SYSTEM_BLOCKS {
            for c in &mut m.cores {
                c.map_peripheral(target, base, chip::SYSTEM_WINDOW)?;
            }
        }
        for part in chip::PARTS {
            let dev = (part.make)(&m.config.chip);
            m.map(Mapped::of(part, dev))?;
        }
        m.reset(ResetCause::PowerOn);
        Ok(m)
    }

    pub fn core(&self, id: CoreId) -> &Core {
        &self.cores[id.index()]
    }

    pub fn core_mut(&mut self, id: CoreId) -> &mut Core {
        &mut self.cores[id.index()]
    }

    pub fn memories(&self) -> &Memories {
        &self.mem
    }

    pub fn now(&self) -> Picos {
        self.now
    }

    /// How the machine was built (never changed afterwards: [`Machine::set_boot`] and
    /// [`Machine::set_quantum`] change the machine's state, which snapshots carry).
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn set_quantum(&mut self, quantum: Picos) {
        self.quantum = quantum.max(1);
    }

    /// Where CPU1 starts after the next reset, and CPU2 when it is released at reset.
    pub fn boot_vectors(&self) -> (u32, Option<u32>) {
        (self.boot.cpu1, self.boot.cpu2)
    }

    /// A rolling hash of every scheduling event (core, PC, cycles, instructions, stop): two runs
    /// with the same inputs give the same value.
    pub fn trace_hash(&self) -> u64 {
        self.trace
    }

    pub fn stats(&self, id: CoreId) -> CoreStats {
        let c = self.core(id);
        let st = c.state();
        CoreStats {
            core: id,
            hz: st.domain.hz,
            cycles: st.cycles,
            idle_cycles: st.idle_cycles,
            insns: st.insns,
            blocks: st.blocks,
            pc: c.pc(),
            run: st.run,
        }
    }

    /// Core `id`'s registers and fault status, as a debugger would read them.
    pub fn registers(&self, id: CoreId) -> crate::registers::CoreRegisters {
        crate::registers::CoreRegisters::of(self.core(id))
    }

    /// Attach a peripheral at `base`, with its interrupt lines routed as `routes` say.
    pub fn attach(
        &mut self,
        base: u32,
        dev: Box<dyn Peripheral>,
        routes: &[IrqRoute],
    ) -> Result<(), MachineError> {
        self.map(Mapped::extra(base, dev, routes))
    }

    /// Attach a peripheral described by a chip-table row of its own (its model, lines, clock
    /// enable, bus and security), as the chip's own are.
    pub fn attach_part(&mut self, part: &chip::Part) -> Result<(), MachineError> {
        let dev = (part.make)(&self.config.chip);
        self.map(Mapped::of(part, dev))
    }

    /// Put a peripheral on the bus and map its window into both cores.
    fn map(&mut self, mapped: Mapped) -> Result<(), MachineError> {
        let (base, size, name) = (mapped.base, mapped.size, mapped.dev.name());
        let end = base.checked_add(size).ok_or(MachineError::Overlap {
            name,
            base,
            end: u32::MAX,
        })?;
        let overlaps_mem = Memories::locate(base).is_some() || Memories::locate(end - 1).is_some();
        let system = chip::SYSTEM_BLOCKS
            .map(|(_, base)| (base, chip::SYSTEM_WINDOW))
            .into_iter()
            .chain([(chip::FLASH_REGS, chip::SYSTEM_WINDOW)]);
        let taken = self
            .bus
            .borrow()
            .periphs
            .iter()
            .map(|m| (m.base, m.size))
            .collect::<Vec<_>>();
        let overlaps_dev = system
            .chain(taken)
            .any(|(b, size)| base < b + size && b < end);
        if overlaps_mem || overlaps_dev || base >= 0xE000_0000 {
            return Err(MachineError::Overlap { name, base, end });
        }
        let index = {
            let mut sh = self.bus.borrow_mut();
            sh.periphs.push(mapped);
            sh.set_bus_clocks(self.config.clocks);
            sh.periphs.len() - 1
        };
        for c in &mut self.cores {
            c.map_peripheral(Target::Device(index), base, size)?;
        }
        Ok(())
    }

    /// Bytes from the host onto `port`'s receive line (they arrive one frame time apart).
    pub fn uart_send(&mut self, port: Uart, bytes: &[u8]) {
        self.with_serial(port, |s| s.send(bytes));
    }

    /// The bytes `port` has finished transmitting since the last call.
    pub fn uart_take(&mut self, port: Uart) -> Vec<u8> {
        self.with_serial(port, |s| s.take())
    }

    fn with_serial<T>(&mut self, port: Uart, f: impl FnOnce(&mut dyn Serial) -> T) -> T {
        let now = self.now;
        let mut sh = self.bus.borrow_mut();
        let m = sh
            .periphs
            .iter_mut()
            .find(|m| m.base == port.base())
            .expect("every machine carries the chip's UARTs");
        // Bring the line up to now first, so host bytes start arriving from now.
        m.dev.advance(now);
        f(m.dev.serial().expect("a UART has a serial end"))
    }

    /// Load an ELF image (or a raw binary at `raw_base`) and flush stale translations.
    pub fn load(
        &mut self,
        path: &Path,
        raw_base: Option<u32>,
    ) -> Result<LoadedImage, MachineError> {
        let img = loader::load_file(&mut self.mem, path, raw_base)?;
        self.code_changed(&img.ranges);
        Ok(img)
    }

    pub fn load_elf_bytes(
        &mut self,
        name: &str,
        bytes: &[u8],
    ) -> Result<LoadedImage, MachineError> {
        let img = loader::load_elf(&mut self.mem, Path::new(name), bytes)?;
        self.code_changed(&img.ranges);
        Ok(img)
    }

    /// Boot vectors: where each core starts after the next reset.
    pub fn set_boot(&mut self, cpu1: u32, cpu2: Option<u32>) {
        self.boot.cpu1 = cpu1;
        self.boot.cpu2 = cpu2;
    }

    /// A debugger's reset vector catch on CPU1 (DEMCR.VC_CORERESET): from the next reset on,
    /// CPU1 stays halted (held) at its reset vector after every reset, as a probe that drives
    /// the device without running its application wants. `false` lets it run again.
    pub fn catch_cpu1_reset(&mut self, on: bool) {
        self.boot.catch_cpu1 = on;
    }

    /// Hold a core in reset (it stops running until the next reset releases it).
    pub fn hold(&mut self, core: CoreId) {
        self.core_mut(core).state_mut().run = RunState::Held;
    }

    pub fn set_breakpoints(&mut self, core: CoreId, addrs: &[u32]) {
        self.core_mut(core).set_breakpoints(addrs);
    }

    /// Reset both cores and the peripherals, as `cause` does (RCC_CSR records it). SRAM
    /// keeps its contents except at power-on; the clock keeps running.
    pub fn reset(&mut self, cause: ResetCause) {
        let kind = cause.kind();
        debug!(target: "wb::machine", ?cause, now = self.now, "reset");
        {
            let mut sh = self.bus.borrow_mut();
            sh.reset(kind, &self.mem.flash_mem());
            sh.rcc.record_reset(cause);
            // A reset peripheral forgets its clock; tell it again.
            sh.set_bus_clocks(self.config.clocks);
        }
        if kind == ResetKind::PowerOn {
            self.mem.clear_volatile();
        }
        let cpu1_boot = self.boot.cpu1;
        self.cores[0].reset(cpu1_boot);
        self.record_boot(CoreId::Cpu1, cpu1_boot, BootCause::Reset(cause));
        if self.boot.catch_cpu1 {
            self.cores[0].state_mut().run = RunState::Held;
        }
        match self.boot.cpu2 {
            Some(v) => {
                self.cores[1].reset(v);
                self.record_boot(CoreId::Cpu2, v, BootCause::Reset(cause));
            }
            None => {
                self.cores[1].reset(0);
                self.cores[1].state_mut().run = RunState::Held;
            }
        }
        for c in &mut self.cores {
            c.flush_all_code();
        }
        self.sync();
    }

    /// Every start of a core from reset so far, oldest first.
    pub fn boots(&self) -> &[Boot] {
        &self.boots
    }

    /// Look at the flash controller (registers, option bytes, ECC state, log).
    pub fn with_flash<R>(&self, f: impl FnOnce(&Flash) -> R) -> R {
        f(&self.bus.borrow().flash)
    }

    /// The persistent state of the chip: flash, option-byte area, OTP and engineering bytes,
    /// ECC errors. (An operation in progress is not in it: save between operations, or cut the
    /// power first to decide how it ends.)
    pub fn device(&self) -> Device {
        let sh = self.bus.borrow();
        Device {
            flash: self.mem.region(memory::FLASH).to_vec(),
            option_bytes: self.mem.region(memory::OPTION_BYTES).to_vec(),
            info: self.mem.region(memory::INFO).to_vec(),
            ecc: sh.flash.ecc_errors().clone(),
            note: String::new(),
        }
    }

    /// Put `dev`'s persistent state into the chip and power it on from there.
    pub fn load_device(&mut self, dev: &Device) {
        for (region, bytes) in [
            (memory::FLASH, &dev.flash),
            (memory::OPTION_BYTES, &dev.option_bytes),
            (memory::INFO, &dev.info),
        ] {
            self.mem.region_mut(region).copy_from_slice(bytes);
        }
        self.bus.borrow_mut().flash.set_ecc_errors(dev.ecc.clone());
        self.code_changed(&[(memory::FLASH.base, memory::FLASH.end())]);
        self.flash_key = None;
        self.reset(ResetCause::PowerOn);
    }

    /// The log of every flash operation since the machine was built.
    pub fn flash_log(&self) -> Vec<wb_periph::flash::OpRecord> {
        self.bus.borrow().flash.log().to_vec()
    }

    /// How many flash operations have been requested (the log's length), without copying it.
    pub fn flash_op_count(&self) -> usize {
        self.bus.borrow().flash.log().len()
    }
}

/// A core's frequency: the RCC's HCLK1 / HCLK2, or the pinned value.
pub(super) fn core_hz(clocks: Clocks, rcc: Frequencies, core: CoreId) -> u64 {
    match (clocks, core) {
        (Clocks::Rcc, c) => rcc.core(c),
        (Clocks::Fixed { cpu1_hz, .. }, CoreId::Cpu1) => cpu1_hz,
        (Clocks::Fixed { cpu2_hz, .. }, CoreId::Cpu2) => cpu2_hz,
    }
}
