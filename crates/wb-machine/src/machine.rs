//! The machine: two cores, shared memories and peripherals, one deterministic clock, and the
//! scheduler that runs the cores in lock-step quanta.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use tracing::debug;
use unicorn_engine::RegisterARM;
use wb_periph::{CoreId, Peripheral, Picos, ResetKind};

use crate::bus::SYSTEM_WINDOWS;
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
pub use crate::power_cut::{CutPoint, OpMatch, PowerCut};
use crate::scs::{exc, Scs, SCR_SEVONPEND};
use crate::timing::is_wide;
use crate::view::View;
use wb_periph::flash::{Ecc, Flash, OpRecord, OptionBytes, Outcome};
use wb_periph::rcc::{Frequencies, ResetCause};
use wb_periph::usart::Serial;

/// How the machine is built.
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
pub const DEFAULT_QUANTUM: Picos = 10_000_000;

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
    power_cut: Option<(PowerCut, u64)>,
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootCause {
    /// A system reset (both cores).
    Reset(ResetCause),
    /// PWR_CR4.C2BOOT released CPU2; `safeboot` when its option bytes failed their check.
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
        for (target, base, size) in SYSTEM_WINDOWS {
            for c in &mut m.cores {
                c.map_peripheral(target, base, size)?;
            }
        }
        for part in chip::PARTS {
            m.attach(part.base, (part.make)(&m.config.chip), part.routes)?;
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
        let size = dev.size();
        let name = dev.name();
        let end = base.checked_add(size).ok_or(MachineError::Overlap {
            name,
            base,
            end: u32::MAX,
        })?;
        let overlaps_mem = Memories::locate(base).is_some() || Memories::locate(end - 1).is_some();
        let system = SYSTEM_WINDOWS
            .map(|(_, base, size)| (base, size))
            .into_iter()
            .chain([(crate::core::FLASH_REGS, 0x400)]);
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
            sh.periphs.push(Mapped::new(base, dev, routes));
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

    /// Write bytes straight into memory (no bus, no timing), e.g. to prepare a test.
    pub fn poke(&mut self, addr: u32, bytes: &[u8]) -> bool {
        match self.mem.slice_mut(addr, bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.code_changed(&[(addr, addr + bytes.len() as u32)]);
                true
            }
            None => false,
        }
    }

    /// The peripheral register window holding `addr`: (target, its base).
    fn register_window(&self, addr: u32) -> Option<(Target, u32)> {
        let system = SYSTEM_WINDOWS
            .into_iter()
            .find(|&(_, base, size)| addr >= base && addr - base < size)
            .map(|(t, base, _)| (t, base));
        system.or_else(|| {
            let sh = self.bus.borrow();
            sh.periphs
                .iter()
                .position(|m| addr >= m.base && addr - m.base < m.size)
                .map(|i| (Target::Device(i), sh.periphs[i].base))
        })
    }

    /// A 32-bit read as a debug probe's access port makes it (CPU1's bus, no time passes):
    /// memories directly, peripheral and flash-controller registers through their models.
    /// `None` where nothing answers or the model refuses the access.
    pub fn debug_read32(&mut self, addr: u32) -> Option<u32> {
        if let Some(v) = self.mem.read_u32(addr) {
            return Some(v);
        }
        let access = wb_periph::Access::word(CoreId::Cpu1, self.now);
        if let Some(off) = flash_register(addr) {
            return self.bus.borrow_mut().flash.read(off, access).ok();
        }
        let (target, base) = self.register_window(addr)?;
        let access = wb_periph::Access::word(CoreId::Cpu1, self.now);
        self.bus.borrow_mut().read(target, addr - base, access).ok()
    }

    /// A 32-bit write through the debug access port: RAM directly, peripheral registers
    /// through their models, whose effects (e.g. PWR_CR4.C2BOOT starting CPU2) follow at
    /// once. Flash is written only through the flash controller, so not here. False where
    /// nothing takes the write.
    pub fn debug_write32(&mut self, addr: u32, value: u32) -> bool {
        if memory::SRAM.contains(addr) {
            return self.poke(addr, &value.to_le_bytes());
        }
        if let Some(off) = flash_register(addr) {
            let access = wb_periph::Access::word(CoreId::Cpu1, self.now);
            let ok = self
                .bus
                .borrow_mut()
                .flash
                .write(off, value, access)
                .is_ok();
            self.sync();
            return ok;
        }
        let Some((target, base)) = self.register_window(addr) else {
            return false;
        };
        let access = wb_periph::Access::word(CoreId::Cpu1, self.now);
        let ok = self
            .bus
            .borrow_mut()
            .write(target, addr - base, value, access)
            .is_ok();
        self.sync();
        ok
    }

    pub fn peek(&self, addr: u32, len: usize) -> Option<&[u8]> {
        self.mem.slice(addr, len)
    }

    pub fn read_u32(&self, addr: u32) -> Option<u32> {
        self.mem.read_u32(addr)
    }

    fn code_changed(&mut self, ranges: &[(u32, u32)]) {
        for c in &mut self.cores {
            for (s, e) in ranges {
                c.invalidate_code(*s, *e);
            }
        }
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

    /// Bring the machine up to date after a core stopped or time advanced: flash state, core
    /// clocks, CPU2 boot.
    fn sync(&mut self) {
        self.sync_flash();
        self.sync_system();
    }

    /// The flash operations that have ended (done, refused, torn, or dropped by a power cut)
    /// from index `from` of the log on, in order: a reader that keeps `from +` what it got
    /// sees each operation once, as soon as it looks (one runs at a time, so they end in log
    /// order). Reading changes nothing. After a [`Machine::restore`], bring the index back to
    /// at most [`Snapshot::flash_ops_ended`]: the operations after it will end anew.
    pub fn ended_flash_ops(&self, from: usize) -> Vec<OpRecord> {
        let sh = self.bus.borrow();
        sh.flash
            .log()
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|r| r.outcome != Outcome::Pending)
            .cloned()
            .collect()
    }

    /// Core frequencies follow the RCC; C2BOOT releases CPU2 (at safeboot when its option
    /// bytes failed their check).
    fn sync_system(&mut self) {
        let (freq_change, boot, freqs, options_valid, vector) = {
            let mut sh = self.bus.borrow_mut();
            let freq_change = sh.rcc.take_freq_change();
            let boot = sh.pwr.take_cpu2_boot();
            let vector = sh.flash.options().cpu2_boot_vector();
            (
                freq_change,
                boot,
                sh.rcc.frequencies(),
                sh.flash.cpu2_options_valid(),
                vector,
            )
        };
        if freq_change {
            // The change happened where the running core that made it stopped (or, with none
            // running, now): a core that is not running idled up to that moment at the old
            // frequency, wherever the last quantum boundary was.
            let at = self
                .cores
                .iter()
                .filter(|c| c.state().run == RunState::Running)
                .map(|c| c.state().now())
                .fold(self.now, Picos::max);
            for c in &mut self.cores {
                let hz = core_hz(self.config.clocks, freqs, c.id);
                let st = c.state_mut();
                if st.domain.hz == hz {
                    continue;
                }
                // A running core changes frequency where it stopped.
                if st.run != RunState::Running {
                    let caught_up = st.domain.cycles_at(at);
                    if caught_up > st.cycles {
                        st.idle_cycles += caught_up - st.cycles;
                        st.cycles = caught_up;
                    }
                }
                let cycles = st.cycles;
                st.domain.rebase(hz, cycles);
            }
            self.bus.borrow_mut().set_bus_clocks(self.config.clocks);
        }
        if boot && self.cores[1].state().run == RunState::Held && self.boot.cpu2.is_none() {
            let vector = if options_valid {
                vector
            } else {
                self.config.safeboot_vector
            };
            debug!(target: "wb::machine", vector = format_args!("{vector:#010x}"), "CPU2 boots");
            self.cores[1].reset(vector);
            let safeboot = !options_valid;
            self.record_boot(CoreId::Cpu2, vector, BootCause::C2Boot { safeboot });
        }
    }

    fn record_boot(&mut self, core: CoreId, vector: u32, cause: BootCause) {
        self.boots.push(Boot {
            at: self.now,
            core,
            vector,
            cause,
        });
    }

    /// Every start of a core from reset so far, oldest first.
    pub fn boots(&self) -> &[Boot] {
        &self.boots
    }

    /// Bring the cores up to date with the flash controller: code that changed is
    /// retranslated, views follow the option bytes and the busy state, wait states follow
    /// FLASH_ACR, and OBL_LAUNCH resets the system.
    fn sync_flash(&mut self) {
        let mut sh = self.bus.borrow_mut();
        let changed = sh.flash.take_changed();
        let obl_launch = sh.flash.take_obl_launch();
        let busy = sh.flash.busy_until().is_some();
        let options = *sh.flash.options();
        let acr = CoreId::ALL.map(|c| sh.flash.acr(c));
        let ecc = sh.flash.ecc_errors();
        // The broken double-words themselves, not just their count: an erase may clear one
        // while a torn operation leaves another between two looks.
        let fresh = self.flash_key.as_ref().is_none_or(|(b, o, a, e)| {
            (*b, *o, *a) != (busy, options, acr) || !e.iter().eq(ecc.keys())
        });
        let views = fresh.then(|| {
            let dws: Vec<u32> = ecc.keys().copied().collect();
            let mut ecc_pages: Vec<u32> = dws.iter().map(|dw| (dw * 8) >> 10).collect();
            ecc_pages.dedup();
            let views = CoreId::ALL.map(|c| View::new(c, &options, busy, ecc_pages.clone()));
            (views, dws)
        });
        drop(sh);
        for (start, end) in changed {
            for c in &mut self.cores {
                c.invalidate_code(memory::FLASH.base + start, memory::FLASH.base + end);
            }
        }
        if let Some((views, dws)) = views {
            let fetch: Vec<u32> = dws.iter().map(|dw| memory::FLASH.base + dw * 8).collect();
            for ((c, view), acr) in self.cores.iter_mut().zip(views).zip(acr) {
                c.set_view(view);
                let id = c.id;
                let st = c.state_mut();
                st.set_flash_waits(FlashWaits::from_acr(acr, id));
                st.set_ecc_dws(fetch.clone());
            }
            self.flash_key = Some((busy, options, acr, dws));
        }
        if obl_launch {
            self.reset(ResetCause::OptionLoad);
        }
    }

    /// Look at the flash controller (registers, option bytes, ECC state, log).
    pub fn with_flash<R>(&self, f: impl FnOnce(&Flash) -> R) -> R {
        f(&self.bus.borrow().flash)
    }

    /// Give the double-word at flash address `addr` an ECC error (as a worn or disturbed cell
    /// would); data reads and instruction fetches of it then raise ECCC or ECCD.
    pub fn inject_ecc(&mut self, addr: u32, ecc: Ecc) {
        self.bus
            .borrow_mut()
            .flash
            .inject_ecc(addr - memory::FLASH.base, ecc);
        self.sync_flash();
    }

    /// Cut the power now: an operation in progress is torn (`seed` picks how), volatile memory
    /// is lost, and the chip comes back with a power-on reset from what persisted. Returns the
    /// sequence number of the torn operation, if any.
    pub fn cut_power(&mut self, seed: u64) -> Option<u64> {
        let torn = {
            let now = self.now;
            let mut sh = self.bus.borrow_mut();
            sh.flash.tear(now, seed, &mut self.mem.flash_mem())
        };
        debug!(target: "wb::machine", now = self.now, ?torn, "power cut");
        self.reset(ResetCause::PowerOn);
        torn
    }

    /// Arm a power cut; `run_until` returns [`Exit::PowerCut`] when it happens. `seed` decides
    /// how a torn operation ends (see `wb_periph::flash::Flash::tear`).
    pub fn arm_power_cut(&mut self, cut: PowerCut, seed: u64) {
        self.power_cut = Some((cut, seed));
    }

    /// Whether an armed cut is due at `at` (the time of the core that just stopped, or now at
    /// a quantum boundary); if so, perform it there. The cut time is not the start of the
    /// quantum, so it does not depend on where earlier runs stopped.
    fn power_cut_due(&mut self, at: Picos) -> Option<Exit> {
        if let Some((PowerCut::Matching { op, point }, seed)) = self.power_cut {
            // Resolved as soon as the operation is requested; then as any cut at operation N.
            let n = op.find(self.bus.borrow().flash.log())?;
            let cut = match point {
                CutPoint::Before => PowerCut::BeforeOp(n),
                CutPoint::During => PowerCut::DuringOp(n),
                CutPoint::After => PowerCut::AfterOp(n),
            };
            self.power_cut = Some((cut, seed));
        }
        let (cut, seed) = self.power_cut?;
        let op = |n: u64| {
            self.bus
                .borrow()
                .flash
                .log()
                .get(n as usize - 1)
                .map(|r| r.outcome)
        };
        let due = match cut {
            PowerCut::At(t) => self.now >= t,
            PowerCut::BeforeOp(n) => op(n).is_some(),
            PowerCut::DuringOp(n) => match op(n) {
                Some(Outcome::Pending) => {
                    let end = self.bus.borrow().flash.busy_until();
                    if let Some(end) = end {
                        let start = self.bus.borrow().flash.log()[n as usize - 1].start;
                        // Re-arm as a timed cut half-way through.
                        self.power_cut = Some((PowerCut::At(start + (end - start) / 2), seed));
                    }
                    false
                }
                Some(_) => true,
                None => false,
            },
            PowerCut::AfterOp(n) => op(n).is_some_and(|o| o != Outcome::Pending),
            PowerCut::Matching { .. } => unreachable!("resolved above"),
        };
        if !due {
            return None;
        }
        self.power_cut = None;
        self.catch_up_to(at);
        let torn = match cut {
            PowerCut::BeforeOp(_) => {
                let dropped = self.bus.borrow_mut().flash.drop_running(self.now);
                self.reset(ResetCause::PowerOn);
                dropped
            }
            _ => self.cut_power(seed),
        };
        Some(Exit::PowerCut(torn))
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

    /// Run until `limit` (global time in picoseconds) or an exit. On [`Exit::Limit`], `now()`
    /// is exactly `limit`.
    ///
    /// Time advances in quanta. Running cores execute one after the other up to the quantum's
    /// end; then the others (asleep, held) catch up. A core that wakes a sleeping core (SEV, an
    /// interrupt line) ends the quantum at that moment, so the sleeper starts on time. With a
    /// single running core there is nobody to keep in step: its quantum reaches the next event.
    ///
    /// The stop at `limit` ends the quantum there, so it can change what follows: while both
    /// cores run, each sees the other's stores of the rest of that quantum later and the next
    /// quantum starts at `limit`; a lone core's wake-up of the other in its last block (which
    /// ends past `limit`) takes effect at `limit`. To pause without changing the run, use
    /// [`Machine::run_past`].
    pub fn run_until(&mut self, limit: Picos) -> Exit {
        self.run(limit, true)
    }

    /// Run until at least `limit`, and pause where that changes nothing: while both cores run,
    /// at the end of the lock-step quantum that holds `limit` (at most one quantum later); a
    /// lone core at its first block boundary at or past `limit`; with no core running, at
    /// `limit`. A run split into `run_past` calls, wherever they stop, is the same run as one
    /// call, and `run_past(t)` for a `t` where such a run paused stops exactly at `t`: the way
    /// to let the host act (e.g. send UART bytes at `now()`) and replay that exactly.
    pub fn run_past(&mut self, limit: Picos) -> Exit {
        self.run(limit, false)
    }

    /// Stop every run once `core` has counted `cycles` cycles (idle cycles included) since
    /// power-on, whatever its clock does meanwhile: a run then ends with [`Exit::Limit`] at
    /// the end of the translated block that reached the count. The lock-step quantum ends
    /// there: with a CPU1 limit CPU2 is brought to the same time; with a CPU2 limit CPU1,
    /// which runs first in a quantum, may be up to the rest of it ahead. `None` removes the
    /// limit.
    pub fn set_cycle_limit(&mut self, limit: Option<(CoreId, u64)>) {
        self.cycle_limit = limit.map(|(c, n)| (c.index(), n));
    }

    /// Whether the cycle limit has been reached.
    pub fn cycle_limit_reached(&self) -> bool {
        self.cycle_limit
            .is_some_and(|(i, n)| self.cores[i].state().cycles >= n)
    }

    /// The scheduler; `cut` lets `limit` end a quantum where it falls.
    fn run(&mut self, limit: Picos, cut: bool) -> Exit {
        loop {
            for i in 0..2 {
                if let Some(exit) = self.attend(i) {
                    return exit;
                }
            }
            // The cycle limit as a time at the core's current clock; a clock change inside
            // the quantum is caught by the cap on the core's budget in `run_core`.
            let limit = match self.cycle_limit {
                Some((i, n)) => {
                    let st = self.cores[i].state();
                    if st.cycles >= n {
                        return Exit::Limit;
                    }
                    limit.min(st.domain.time_of(n))
                }
                None => limit,
            };
            if self.now >= limit {
                return Exit::Limit;
            }
            let next_event = self.next_event();
            let running = self
                .cores
                .iter()
                .filter(|c| c.state().run == RunState::Running)
                .count();
            // A lone core paused by `run_past` is not cut at `limit`: it stops at its first
            // block boundary past it, as it would anyway, and the quantum ends there (below);
            // what its last block did (waking the other core) keeps its time.
            let lone = !cut && running == 1;
            let mut end = match (running, next_event) {
                (0, None) => return Exit::Halted, // nothing will ever happen again
                (1, e) if lone => e.map_or(Picos::MAX, |e| e.max(self.now + 1)),
                (0, Some(e)) | (1, Some(e)) => e.clamp(self.now + 1, limit),
                (1, None) => limit,
                (_, e) => {
                    let t = self.now.saturating_add(self.quantum);
                    let t = if cut { t.min(limit) } else { t };
                    e.map_or(t, |e| t.min(e.max(self.now + 1)))
                }
            };
            if let Some((PowerCut::At(t), _)) = self.power_cut {
                end = end.min(t.max(self.now + 1));
            }
            let pause = if lone { limit } else { Picos::MAX };
            for i in 0..2 {
                if let Some(exit) = self.run_core(i, &mut end, pause) {
                    return exit;
                }
            }
            if lone {
                let stopped = self
                    .cores
                    .iter()
                    .filter(|c| c.state().run == RunState::Running)
                    .map(|c| c.state().now())
                    .fold(limit, Picos::max);
                end = end.min(stopped);
            }
            self.idle_until(end);
            self.now = end;
            self.bus
                .borrow_mut()
                .advance(self.now, &mut self.mem.flash_mem());
            self.sync();
            if let Some(exit) = self.power_cut_due(self.now) {
                return exit;
            }
        }
    }

    /// Cores that are not running idle up to time `t`.
    fn idle_until(&mut self, t: Picos) {
        for c in &mut self.cores {
            if c.state().run != RunState::Running {
                idle_to(c.state_mut(), t);
            }
        }
    }

    /// Move the clock to `t` (not earlier than now) in the middle of a quantum, before a power
    /// cut: every core is brought there, so that none runs the restarted chip at times before
    /// the cut.
    fn catch_up_to(&mut self, t: Picos) {
        self.now = self.now.max(t);
        for c in &mut self.cores {
            idle_to(c.state_mut(), self.now);
        }
    }

    /// Let time pass to `t` after a run ended with [`Exit::Halted`] (no core can run, nothing
    /// is due): every core idles, as on the chip when a debugger waits on a sleeping device.
    /// Nothing happens in between, so this equals a run that would have reached `t`.
    pub fn let_time_pass(&mut self, t: Picos) {
        self.catch_up_to(t);
        self.bus
            .borrow_mut()
            .advance(self.now, &mut self.mem.flash_mem());
        self.sync();
    }

    /// Run for `cycles` cycles of CPU1's clock.
    pub fn run_cycles(&mut self, cycles: u64) -> Exit {
        self.run_until(self.cpu1_cycles_from_now(cycles))
    }

    /// The time `cycles` cycles of CPU1's current clock after now.
    pub fn cpu1_cycles_from_now(&self, cycles: u64) -> Picos {
        let d = self.cores[0].state().domain;
        d.time_of(d.cycles_at(self.now) + cycles)
    }

    fn next_event(&self) -> Option<Picos> {
        let mut next = self.bus.borrow().next_event();
        for c in &self.cores {
            let st = c.state();
            if matches!(st.run, RunState::Held | RunState::Lockup) {
                continue;
            }
            if let Some(w) = st.scs.systick.next_wrap() {
                let t = st.domain.time_of(w);
                next = Some(next.map_or(t, |n: Picos| n.min(t)));
            }
        }
        next
    }

    /// Run core `i` up to time `end` (and not past `pause`), or until it sleeps. If it wakes
    /// or releases the other core, `end` moves back to now (see `run_until`).
    fn run_core(&mut self, i: usize, end: &mut Picos, pause: Picos) -> Option<Exit> {
        loop {
            let st = self.cores[i].state();
            let mut budget = st.domain.cycles_at((*end).min(pause));
            if let Some((_, n)) = self.cycle_limit.filter(|(j, _)| *j == i) {
                if st.cycles >= n {
                    // Reached: the quantum ends where this core stopped.
                    *end = (*end).min(st.now().max(self.now + 1));
                    return None;
                }
                budget = budget.min(n);
            }
            if st.run != RunState::Running || st.cycles >= budget {
                return None;
            }
            let stop = self.cores[i].run_slice(budget);
            self.record(i, stop);
            if stop == Stop::Breakpoint && self.cores[i].state().scs.attention {
                // An exception became pending just before the breakpoint: it comes first.
                let pc = self.cores[i].pc();
                if let Some(exit) = self.attend(i) {
                    return Some(exit);
                }
                if self.cores[i].pc() != pc {
                    continue;
                }
            }
            let other_ran = self.cores[1 - i].state().run == RunState::Running;
            let exit = self.handle_stop(i, stop);
            self.sync();
            if exit.is_some() {
                return exit;
            }
            let at = self.cores[i].state().now().max(self.now);
            if let Some(exit) = self.power_cut_due(at) {
                return Some(exit);
            }
            if let Some((PowerCut::At(t), _)) = self.power_cut {
                *end = (*end).min(t.max(self.now + 1));
            }
            if stop == Stop::FlashStall {
                // Wait for the operation, but not past the end of this quantum, nor past the
                // cycle limit.
                let busy = self.bus.borrow().flash.busy_until();
                let cap = self.cycle_limit.filter(|(j, _)| *j == i).map(|(_, n)| n);
                if let Some(t) = busy {
                    let st = self.cores[i].state_mut();
                    let to = st.domain.cycles_at(t.min(*end));
                    st.cycles = st.cycles.max(cap.map_or(to, |n| to.min(n)));
                }
            }
            // The core may have armed a timer or woken the other core: the quantum ends no
            // later than that.
            if self.may_wake(1 - i) {
                *end = (*end).min(self.cores[i].state().now().max(self.now + 1));
            }
            if let Some(e) = self.next_event() {
                *end = (*end).min(e.max(self.now + 1));
            }
            if let Some(exit) = self.attend(i) {
                return Some(exit);
            }
            if !other_ran && self.cores[1 - i].state().run == RunState::Running {
                // Released (C2BOOT, a reset): like a wake-up, the other core starts now, at
                // this core's time, and the quantum ends there.
                let t = self.cores[i].state().now().max(self.now + 1);
                *end = (*end).min(t);
                idle_to(self.cores[1 - i].state_mut(), t);
            }
        }
    }

    /// Whether core `j` sleeps and something now pending may wake it (conservative).
    fn may_wake(&self, j: usize) -> bool {
        let st = self.cores[j].state();
        if !matches!(st.run, RunState::SleepWfi | RunState::SleepWfe) {
            return false;
        }
        let bus = self.bus.borrow();
        bus.sev_to[j]
            || bus.asserted_irqs(CoreId::ALL[j]) & !st.scs.irq_pending & !st.scs.irq_active != 0
    }

    fn record(&mut self, i: usize, stop: Stop) {
        let c = &self.cores[i];
        let st = c.state();
        let code = match stop {
            Stop::Budget => 1,
            Stop::Attention => 2,
            Stop::Svc => 3,
            Stop::Bkpt => 4,
            Stop::ExceptionReturn => 5,
            Stop::Wfi => 6,
            Stop::Wfe => 7,
            Stop::Yield => 8,
            Stop::Breakpoint => 9,
            Stop::Fault(_) => 10,
            Stop::FlashStall => 11,
        };
        for v in [i as u64, c.pc() as u64, st.cycles, st.insns, code] {
            self.trace = (self.trace ^ v).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn handle_stop(&mut self, i: usize, stop: Stop) -> Option<Exit> {
        let id = CoreId::ALL[i];
        let core = &mut self.cores[i];
        let pc = core.pc();
        let result = match stop {
            Stop::Budget | Stop::Attention | Stop::Yield => Ok(()),
            // Stalled on the bus: `run_core` lets the time pass; the access is then retried.
            Stop::FlashStall => Ok(()),
            Stop::Svc => core.take_sync(exc::SVCALL, pc),
            Stop::Bkpt => return Some(Exit::Bkpt(id, pc)),
            Stop::Breakpoint => return Some(Exit::Breakpoint(id, pc)),
            Stop::ExceptionReturn => core.exception_return(),
            Stop::Wfi => {
                if core.preempting_pending(true).is_none() {
                    core.state_mut().run = RunState::SleepWfi;
                }
                Ok(())
            }
            Stop::Wfe => {
                let st = core.state_mut();
                if st.event_register {
                    st.event_register = false;
                } else {
                    st.run = RunState::SleepWfe;
                }
                Ok(())
            }
            Stop::Fault(fault) => {
                // A store fault is imprecise: the write buffer let execution go past it.
                let ret = match fault {
                    Fault::Write { .. } => {
                        let hw = core.memory_u16(pc).unwrap_or(0);
                        pc + if is_wide(hw) { 4 } else { 2 }
                    }
                    _ => pc,
                };
                core.raise_fault(fault, ret)
            }
        };
        result.err().map(|_| Exit::Lockup(id))
    }

    /// Bring core `i` up to date with the world: reset requests, interrupt lines, SysTick,
    /// events; wake it if it may; take the exception that should preempt, if any.
    fn attend(&mut self, i: usize) -> Option<Exit> {
        if self.cores.iter().any(|c| c.state().scs.reset_request) {
            self.reset(ResetCause::Software);
            return None;
        }
        let asserted = self.bus.borrow().asserted_irqs(CoreId::ALL[i]);
        let sev = std::mem::take(&mut self.bus.borrow_mut().sev_to[i]);
        let core = &mut self.cores[i];
        let st = core.state_mut();
        st.scs.attention = false;
        if st.run == RunState::Held || st.run == RunState::Lockup {
            return None;
        }
        let before = st.scs.irq_pending | st.scs.sys_pending as u64;
        latch_irqs(&mut st.scs, asserted);
        let cycles = st.cycles;
        if st.scs.systick.catch_up(cycles) {
            st.scs.set_pending(exc::SYSTICK, true);
        }
        let after = st.scs.irq_pending | st.scs.sys_pending as u64;
        if sev || (after & !before != 0 && st.scs.scr & SCR_SEVONPEND != 0) {
            st.event_register = true;
        }
        let run = st.run;
        match run {
            RunState::SleepWfi if core.preempting_pending(true).is_some() => {
                core.state_mut().run = RunState::Running;
            }
            RunState::SleepWfe => {
                let st = core.state_mut();
                if st.event_register {
                    st.event_register = false;
                    st.run = RunState::Running;
                } else if core.preempting_pending(false).is_some() {
                    core.state_mut().run = RunState::Running;
                }
            }
            _ => {}
        }
        if core.state().run != RunState::Running {
            core.state_mut().watch_masks = false;
            return None;
        }
        // Entering one exception raises the execution priority; a more urgent one pending
        // behind it preempts at once (late arrival, simplified).
        while let Some(n) = core.preempting_pending(false) {
            let pc = core.pc();
            if core.enter_exception(n, pc).is_err() {
                return Some(Exit::Lockup(CoreId::ALL[i]));
            }
        }
        let masked = core.state().scs.highest_pending().is_some();
        core.state_mut().watch_masks = masked;
        None
    }

    /// Snapshot the whole machine (memories, peripherals, cores, clock).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            now: self.now,
            trace: self.trace,
            mem: self.mem.copy_all(),
            bus: self.bus.borrow().clone(),
            cores: [
                CoreSnapshot::take(&self.cores[0]),
                CoreSnapshot::take(&self.cores[1]),
            ],
            boot: self.boot,
            quantum: self.quantum,
            boots: self.boots.clone(),
        }
    }

    /// Restore a snapshot taken from this machine. Translated code is flushed.
    pub fn restore(&mut self, snap: &Snapshot) {
        self.now = snap.now;
        self.trace = snap.trace;
        self.mem.restore_all(&snap.mem);
        *self.bus.borrow_mut() = snap.bus.clone();
        self.boot = snap.boot;
        self.quantum = snap.quantum;
        self.boots.clone_from(&snap.boots);
        for (c, s) in self.cores.iter_mut().zip(&snap.cores) {
            s.apply(c, &mut self.mem);
        }
        self.flash_key = None;
        self.sync_flash();
    }
}

/// A core that is behind time `t` idles up to it.
fn idle_to(st: &mut CoreState, t: Picos) {
    let at = st.domain.cycles_at(t);
    if st.cycles < at {
        st.idle_cycles += at - st.cycles;
        st.cycles = at;
    }
}

/// Pend the asserted lines that are not already being handled (level-sensitive: a line still
/// asserted when its handler returns pends again).
fn latch_irqs(scs: &mut Scs, asserted: u64) {
    let fresh = asserted & !scs.irq_active & !scs.irq_pending;
    if fresh != 0 {
        scs.irq_pending |= fresh;
        scs.attention = true;
    }
}

impl Core {
    fn memory_u16(&self, addr: u32) -> Option<u16> {
        let mut b = [0u8; 2];
        self.uc.mem_read(addr as u64, &mut b).ok()?;
        Some(u16::from_le_bytes(b))
    }
}

/// The core registers a snapshot keeps besides the FP bank and the stack pointers.
fn core_regs() -> impl Iterator<Item = RegisterARM> {
    use RegisterARM::{BASEPRI, FAULTMASK, LR, PC, PRIMASK};
    crate::core::GPRS
        .into_iter()
        .chain([LR, PC, PRIMASK, BASEPRI, FAULTMASK])
}

/// The architectural state of one core plus its model state.
#[derive(Clone, Debug)]
pub struct CoreSnapshot {
    regs: Vec<u32>,
    fp: Vec<u32>,
    msp: u32,
    psp: u32,
    control: u32,
    xpsr: u32,
    state: CoreStateSnapshot,
}

#[derive(Clone, Debug)]
struct CoreStateSnapshot {
    scs: Scs,
    cycles: u64,
    insns: u64,
    idle_cycles: u64,
    blocks: u64,
    domain: crate::clock::CycleDomain,
    run: RunState,
    event_register: bool,
    waits: crate::core::FlashWaits,
    boot_alias: BootAlias,
    watch_masks: bool,
}

impl CoreSnapshot {
    fn take(c: &Core) -> CoreSnapshot {
        let st: &CoreState = c.state();
        let fp = if st.scs.is_m4() {
            let mut v: Vec<u32> = (0..32).map(|i| c.reg(fp_reg(i))).collect();
            v.push(c.reg(RegisterARM::FPSCR));
            v
        } else {
            vec![]
        };
        CoreSnapshot {
            regs: core_regs().map(|r| c.reg(r)).collect(),
            fp,
            msp: c.reg(RegisterARM::MSP),
            psp: c.reg(RegisterARM::PSP),
            control: c.reg(RegisterARM::CONTROL),
            xpsr: c.reg(RegisterARM::XPSR),
            state: CoreStateSnapshot {
                scs: st.scs.clone(),
                cycles: st.cycles,
                insns: st.insns,
                idle_cycles: st.idle_cycles,
                blocks: st.blocks,
                domain: st.domain,
                run: st.run,
                event_register: st.event_register,
                waits: st.flash_waits(),
                boot_alias: st.boot_alias,
                watch_masks: st.watch_masks,
            },
        }
    }

    fn apply(&self, c: &mut Core, mem: &mut Memories) {
        let s = &self.state;
        let remap = c.state().boot_alias != s.boot_alias;
        {
            let st = c.state_mut();
            st.scs = s.scs.clone();
            st.cycles = s.cycles;
            st.insns = s.insns;
            st.idle_cycles = s.idle_cycles;
            st.blocks = s.blocks;
            st.domain = s.domain;
            st.run = s.run;
            st.event_register = s.event_register;
            st.set_flash_waits(s.waits);
            st.boot_alias = s.boot_alias;
            st.watch_masks = s.watch_masks;
        }
        if remap {
            let _ = c.map_boot_alias(mem);
        }
        let ipsr = self.xpsr & 0x1FF;
        c.set_mode(ipsr, self.control);
        c.set_reg(RegisterARM::MSP, self.msp);
        c.set_reg(RegisterARM::PSP, self.psp);
        for (r, v) in core_regs().zip(&self.regs) {
            if c.kind == crate::timing::CoreKind::M0Plus
                && matches!(r, RegisterARM::BASEPRI | RegisterARM::FAULTMASK)
            {
                continue;
            }
            c.set_reg(r, *v);
        }
        for (i, v) in self.fp.iter().enumerate() {
            c.set_reg(
                if i < 32 {
                    fp_reg(i)
                } else {
                    RegisterARM::FPSCR
                },
                *v,
            );
        }
        let flags = if c.kind == crate::timing::CoreKind::M4 {
            RegisterARM::XPSR_NZCVQG
        } else {
            RegisterARM::XPSR_NZCVQ
        };
        c.set_reg(flags, self.xpsr);
        c.set_reg(RegisterARM::EPSR, self.xpsr);
        c.rebuild_flags();
        c.flush_all_code();
    }
}

impl Snapshot {
    /// How many flash operations had ended when it was taken (see
    /// [`Machine::ended_flash_ops`]).
    pub fn flash_ops_ended(&self) -> usize {
        let log = self.bus.flash.log();
        log.iter()
            .position(|r| r.outcome == Outcome::Pending)
            .unwrap_or(log.len())
    }
}

/// A copy of the whole machine state; cheap to clone, restorable any number of times.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub now: Picos,
    trace: u64,
    mem: Vec<Vec<u8>>,
    bus: Bus,
    cores: [CoreSnapshot; 2],
    boot: BootVectors,
    quantum: Picos,
    boots: Vec<Boot>,
}

/// A core's frequency: the RCC's HCLK1 / HCLK2, or the pinned value.
fn core_hz(clocks: Clocks, rcc: Frequencies, core: CoreId) -> u64 {
    match (clocks, core) {
        (Clocks::Rcc, c) => rcc.core(c),
        (Clocks::Fixed { cpu1_hz, .. }, CoreId::Cpu1) => cpu1_hz,
        (Clocks::Fixed { cpu2_hz, .. }, CoreId::Cpu2) => cpu2_hz,
    }
}

/// The offset of `addr` in the flash controller's register window.
fn flash_register(addr: u32) -> Option<u32> {
    let base = crate::core::FLASH_REGS;
    (addr >= base && addr - base < 0x400).then(|| addr - base)
}
