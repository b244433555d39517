//! One emulated core: a unicorn engine, the hooks that charge cycles and catch exceptions, and
//! the state those hooks share (`CoreState`, the engine's user data). By concern:
//!
//! - this file: the core, its state, its engine set-up and a run slice;
//! - `cost.rs`: what a translated block costs (decoded once, cached by address);
//! - `hooks.rs`: the block hook and the engine's other hooks (interrupts, faults, TLB);
//! - `mmio.rs`: register windows (peripherals, the flash controller, the SCS) and precise
//!   register loads.
//!
//! Hot path: one block hook per executed translated block, which looks the block's cost up in a
//! `Vec` indexed by address. No memory hooks on RAM; faults reach us through unicorn's error
//! paths, which only run when something goes wrong.

use std::cell::RefCell;
use std::ffi::c_void;
use std::rc::Rc;

use tracing::{trace, warn};
use unicorn_engine::unicorn_const::{Arch, HookType, MemType, Mode, Prot, TlbType};
use unicorn_engine::{
    uc_emu_stop, uc_engine, uc_error, uc_hook, uc_hook_add, uc_reg_read, uc_reg_write, RegisterARM,
    TlbEntry, Unicorn,
};
use wb_periph::flash::Ecc;
use wb_periph::{Access, CoreId, Width};

use crate::bus::{Bus, FlashBuffers, Target};
use crate::clock::CycleDomain;
use crate::memory::{self, Memories, Region};
use crate::scs::Scs;
use crate::timing::{block_cost, BlockCost, BlockEnd, CoreKind, CycleTable};
use crate::view::{self, Hole, View, PORT_SIZE, READ_PORT, WRITE_PORT};

mod cost;
mod hooks;
mod mmio;

pub use cost::FlashWaits;
pub(crate) use cost::{Charge, CostCache, MAX_BLOCK_BYTES};
pub(crate) use hooks::add_raw_hook;
use mmio::Window;

/// Unicorn's ARM exception numbers (qemu `target/arm/cpu.h`), as the interrupt hook sees them.
mod excp {
    pub const UDEF: u32 = 1;
    pub const SWI: u32 = 2;
    pub const BKPT: u32 = 7;
    pub const EXCEPTION_EXIT: u32 = 8;
    pub const NOCP: u32 = 17;
    pub const INVSTATE: u32 = 18;
    pub const UNALIGNED: u32 = 22;
}

/// Why a core's run slice ended (set by a hook, or derived after the engine returns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The cycle budget of the slice is used up.
    Budget,
    /// Something changed that may let an exception preempt (checked by the machine).
    Attention,
    Svc,
    Bkpt,
    /// EXC_RETURN loaded into the PC in handler mode.
    ExceptionReturn,
    Wfi,
    Wfe,
    /// YIELD: a hint, execution simply continues.
    Yield,
    Breakpoint,
    /// The core reached for flash while a program/erase operation runs: it stalls.
    FlashStall,
    Fault(Fault),
}

pub use crate::exception::{Fault, RunState};

/// Where the boot alias at 0x0000_0000 points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootAlias {
    Flash,
    SystemMemory,
    Sram1,
}

impl BootAlias {
    pub fn region(self) -> Region {
        match self {
            BootAlias::Flash => memory::FLASH,
            BootAlias::SystemMemory => memory::SYSTEM_MEMORY,
            BootAlias::Sram1 => Region {
                name: "sram1",
                base: memory::SRAM1_BASE,
                size: memory::SRAM1_SIZE,
                persistent: false,
            },
        }
    }
}

/// Everything the engine's hooks need: the engine's user data.
pub struct CoreState {
    pub(crate) id: CoreId,
    pub(crate) table: &'static CycleTable,
    pub(crate) scs: Scs,
    /// Core clock cycles since power-on, sleeping included (the core's local time).
    pub(crate) cycles: u64,
    /// Instructions executed.
    pub(crate) insns: u64,
    /// Cycles spent asleep (WFI/WFE) or held.
    pub(crate) idle_cycles: u64,
    pub(crate) domain: CycleDomain,
    pub(crate) run: RunState,
    pub(crate) event_register: bool,
    waits: FlashWaits,
    pub(crate) boot_alias: BootAlias,
    /// `boot_alias.region()`, kept at hand for the block hook (set when the alias is mapped).
    alias: Region,
    /// What this core may reach now (secure areas, flash busy, ECC pages).
    pub(crate) view: View,
    /// The view the TLB's entries were filled under (the TLB fill hook translates with it).
    /// It catches up with `view`, flushing the TLB, only before the core runs code that could
    /// see the difference: a core whose code is in flash does not run while the flash is busy,
    /// so the two view changes of every flash operation cost it no flush at all.
    tlb_view: View,
    /// Physical addresses of the flash double-words with ECC errors, sorted: blocks fetched
    /// over them are checked. Empty in the normal case, where the block hook pays one compare.
    ecc_dws: Vec<u32>,
    /// Translated-block count (for statistics).
    pub(crate) blocks: u64,
    /// End of the current slice, in core cycles.
    budget: u64,
    /// The block hook leaves its fast path once `cycles >= deadline`: the budget, or 0 while
    /// something must be looked at before every block (see `must_stop`).
    deadline: u64,
    /// A masked exception is pending: re-check the masks at each block.
    pub(crate) watch_masks: bool,
    stop: Option<Stop>,
    fault_addr: Option<(MemType, u32)>,
    /// Fall-through address of the block that ran last, and the cycles to add when the next
    /// block is not there (its final conditional branch was taken).
    fallthrough: u32,
    taken_extra: u32,
    last_block: (u32, Charge),
    cache: CostCache,
    bus: Rc<RefCell<Bus>>,
    /// Raw views of the code memories for decoding inside the block hook. They point into the
    /// machine's [`Memories`], which outlives the engines and is never reallocated.
    code: [(Region, *const u8); 3],
    /// The flash and option-byte buffers, which the flash-port and register hooks lend to the
    /// flash controller (the hooks cannot reach the machine's `Memories`).
    flash_mem: FlashBuffers,
    /// Register windows whose loads are made precise (see `Core::protect_reads`), and the
    /// one the last load hit (polling loops read one window over and over).
    windows: Vec<Window>,
    last_window: usize,
    /// A register value the protection hook read, for the MMIO read unicorn makes next.
    staged: Option<(u32, u64)>,
}

impl CoreState {
    /// Feed `h` with what decides how the core goes on, cycle numbers relative to its count
    /// (the tallies of cycles, instructions and blocks are left out; the view, the ECC list
    /// and the cost cache follow from the memories and the flash controller; why the last
    /// slice stopped is set again by the next one, and the block it ended after matters only
    /// while a taken branch is still to be charged, which never outlives a slice).
    pub(crate) fn digest(&self, h: &mut dyn std::hash::Hasher) {
        self.scs.digest(self.cycles, h);
        self.domain.digest(self.cycles, h);
        let branch = (self.taken_extra != 0).then_some((self.fallthrough, self.taken_extra));
        let state = (
            (self.run, self.event_register, self.waits, self.boot_alias),
            (self.watch_masks, branch, self.staged),
        );
        h.write(format!("{state:?}").as_bytes());
    }

    /// Global time now, from this core's point of view.
    pub fn now(&self) -> u64 {
        self.domain.time_of(self.cycles)
    }

    pub fn flash_waits(&self) -> FlashWaits {
        self.waits
    }

    /// Change the flash wait states; cached block costs include them, so they are recomputed.
    pub fn set_flash_waits(&mut self, waits: FlashWaits) {
        if waits != self.waits {
            self.waits = waits;
            self.cache.clear();
        }
    }

    fn access(&self, size: usize) -> Access {
        Access {
            core: self.id,
            width: Width::from_bytes(size).unwrap_or(Width::Word),
            now: self.now(),
        }
    }

    /// Ask the block hook to stop before the next block so the machine can look.
    pub(crate) fn request_attention(&mut self) {
        self.scs.attention = true;
        self.deadline = 0;
    }

    /// The flash double-words with ECC errors, as physical addresses (set by the machine).
    pub(crate) fn set_ecc_dws(&mut self, dws: Vec<u32>) {
        self.ecc_dws = dws;
    }

    /// Forget cached block costs over `[start, end)` (code there changed).
    pub fn invalidate(&mut self, start: u32, end: u32) {
        let alias = self.boot_alias.region();
        if start < alias.size {
            // An address in the boot alias: the cache is indexed by the aliased memory.
            self.cache
                .clear_range(alias.base + start, alias.base + end.min(alias.size));
        }
        self.cache.clear_range(start, end);
    }
}

/// The engine type of a core.
pub type Engine = Unicorn<'static, CoreState>;

/// One core of the machine.
pub struct Core {
    pub id: CoreId,
    pub kind: CoreKind,
    pub(crate) uc: Engine,
    /// Breakpoint addresses (unicorn exits: precise, free when not hit).
    breakpoints: Vec<u64>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("id", &self.id)
            .field("pc", &self.pc())
            .finish()
    }
}

/// Error creating or driving an engine: always a host-side problem, never guest behaviour.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// unicorn refused {what}: {err:?}
    #[error("unicorn refused {what}: {err:?}")]
    Unicorn {
        what: String,
        err: unicorn_engine::unicorn_const::uc_error,
    },
}

pub(crate) fn uc_err(
    what: impl Into<String>,
) -> impl FnOnce(unicorn_engine::unicorn_const::uc_error) -> EngineError {
    let what = what.into();
    move |err| EngineError::Unicorn { what, err }
}

impl Core {
    pub(crate) fn new(
        id: CoreId,
        mem: &mut Memories,
        bus: Rc<RefCell<Bus>>,
        hz: u64,
        boot_alias: BootAlias,
    ) -> Result<Core, EngineError> {
        let (kind, model, n_irq) = match id {
            CoreId::Cpu1 => (CoreKind::M4, unicorn_engine::ArmCpuModel::CORTEX_M4, 63),
            CoreId::Cpu2 => (CoreKind::M0Plus, unicorn_engine::ArmCpuModel::CORTEX_M0, 32),
        };
        let code = [memory::FLASH, memory::SRAM, memory::SYSTEM_MEMORY]
            .map(|r| (r, mem.raw_ptr(r) as *const u8));
        let flash_mem = FlashBuffers::of(mem);
        let state = CoreState {
            id,
            table: CycleTable::for_kind(kind),
            scs: Scs::new(kind, n_irq, 0),
            cycles: 0,
            insns: 0,
            idle_cycles: 0,
            domain: CycleDomain::new(hz, 0, 0),
            run: RunState::Running,
            event_register: false,
            waits: FlashWaits::default(),
            boot_alias,
            alias: boot_alias.region(),
            view: View::default(),
            tlb_view: View::default(),
            ecc_dws: Vec::new(),
            blocks: 0,
            budget: 0,
            deadline: 0,
            watch_masks: false,
            stop: None,
            fault_addr: None,
            fallthrough: 0,
            taken_extra: 0,
            last_block: (0, Charge::default()),
            cache: CostCache::new(),
            bus,
            code,
            flash_mem,
            windows: Vec::new(),
            last_window: 0,
            staged: None,
        };
        // Never Mode::MCLASS: it silently selects a Cortex-M33.
        let mut uc = Unicorn::new_with_data(Arch::ARM, Mode::THUMB | Mode::LITTLE_ENDIAN, state)
            .map_err(uc_err("to open an ARM engine"))?;
        uc.ctl_set_cpu_model(model as i32)
            .map_err(uc_err("the cpu model"))?;
        uc.ctl_set_tlb_type(TlbType::VIRTUAL)
            .map_err(uc_err("the virtual TLB"))?;
        uc.ctl_exits_enable().map_err(uc_err("exits"))?;
        let mut core = Core {
            id,
            kind,
            uc,
            breakpoints: Vec::new(),
        };
        core.map_memories(mem)?;
        core.install_hooks()?;
        Ok(core)
    }

    fn map_memories(&mut self, mem: &mut Memories) -> Result<(), EngineError> {
        let rx = Prot::READ | Prot::EXEC;
        for (region, perms) in [
            (memory::FLASH, rx),
            (memory::SRAM, Prot::ALL),
            (memory::SYSTEM_MEMORY, rx),
            (memory::INFO, Prot::READ),
            (memory::OPTION_BYTES, Prot::READ),
        ] {
            let ptr = mem.raw_ptr(region);
            // SAFETY: the buffer is `region.size` bytes, owned by the machine, never moved or
            // resized, and outlives this engine (the machine drops its cores first).
            unsafe {
                self.uc
                    .mem_map_ptr(region.base as u64, region.size as u64, perms, ptr.cast())
            }
            .map_err(uc_err(format!("to map {}", region.name)))?;
        }
        self.map_boot_alias(mem)
    }

    /// Map the boot alias at 0x0000_0000 onto the region the state names.
    pub(crate) fn map_boot_alias(&mut self, mem: &mut Memories) -> Result<(), EngineError> {
        let alias = self.uc.get_data().boot_alias.region();
        let _ = self.uc.mem_unmap(0, memory::FLASH.size as u64);
        let _ = self.uc.mem_unmap(0, alias.size as u64);
        let (buf_region, offset) = Memories::locate(alias.base).expect("alias target is mapped");
        let ptr = unsafe { mem.raw_ptr(buf_region).add(offset) };
        // SAFETY: as in `map_memories`; the alias covers `alias.size` bytes inside the buffer.
        unsafe {
            self.uc
                .mem_map_ptr(0, alias.size as u64, Prot::READ | Prot::EXEC, ptr.cast())
        }
        .map_err(uc_err("to map the boot alias"))?;
        self.uc.get_data_mut().alias = alias;
        let _ = self.uc.ctl_remove_cache(0, alias.size as u64);
        Ok(())
    }

    /// Write a register of this core's System Control Space (NVIC, SCB, SysTick) as a
    /// debugger does through the core's access port; false when the register refuses it.
    pub fn write_scs(&mut self, offset: u32, value: u32) -> bool {
        let st = self.state_mut();
        let cycles = st.cycles;
        st.scs.write(offset, 4, value, cycles)
    }

    /// How the core is doing: running, asleep, held, locked up.
    pub fn run_state(&self) -> RunState {
        self.state().run
    }

    /// Let a sleeping or held core run (a debugger resuming it); a locked-up core stays so.
    pub fn resume(&mut self) {
        let st = self.state_mut();
        if st.run != RunState::Lockup {
            st.run = RunState::Running;
        }
    }

    pub fn state(&self) -> &CoreState {
        self.uc.get_data()
    }

    pub fn state_mut(&mut self) -> &mut CoreState {
        self.uc.get_data_mut()
    }

    pub fn reg(&self, r: RegisterARM) -> u32 {
        self.uc.reg_read(r).unwrap_or(0) as u32
    }

    pub fn set_reg(&mut self, r: RegisterARM, v: u32) {
        self.uc
            .reg_write(r, v as u64)
            .expect("ARM register ids are valid");
    }

    pub fn pc(&self) -> u32 {
        self.reg(RegisterARM::PC)
    }

    pub fn breakpoints(&self) -> &[u64] {
        &self.breakpoints
    }

    pub fn set_breakpoints(&mut self, addrs: &[u32]) {
        let old = std::mem::take(&mut self.breakpoints);
        self.breakpoints = addrs.iter().map(|a| (*a & !1) as u64).collect();
        let _ = self.uc.ctl_set_exits(&self.breakpoints);
        // Exits are decided at translation time: retranslate the blocks that may hold old and
        // new ones. Unicorn resolves each range through its first page only, so go page by
        // page (a page outside memory would make it skip the whole range).
        const PAGE: u64 = 0x400;
        for &a in old.iter().chain(self.breakpoints.clone().iter()) {
            let lo = a.saturating_sub(MAX_BLOCK_BYTES as u64);
            let mut page = lo & !(PAGE - 1);
            while page <= a {
                let _ = self
                    .uc
                    .ctl_remove_cache(page.max(lo), (page + PAGE).min(a + 4));
                page += PAGE;
            }
        }
    }

    /// Run until the cycle budget is reached or something needs the machine's attention.
    pub(crate) fn run_slice(&mut self, budget: u64) -> Stop {
        {
            let st = self.uc.get_data_mut();
            st.budget = budget;
            st.deadline =
                if st.scs.attention || st.scs.reset_request || st.watch_masks || st.view.flash_busy
                {
                    0
                } else {
                    budget
                };
            st.stop = None;
            st.fault_addr = None;
        }
        let pc = self.pc();
        self.sync_tlb(pc);
        let pc = pc as u64 | 1;
        let res = self.uc.emu_start(pc, 0, 0, 0);
        let st = self.uc.get_data_mut();
        st.taken_extra = 0;
        if let Err(err) = res {
            return match (st.fault_addr.take(), st.stop.take()) {
                (Some((ty, addr)), _) => Stop::Fault(match ty {
                    MemType::FETCH_UNMAPPED | MemType::FETCH_PROT => Fault::Fetch { addr },
                    MemType::READ_UNMAPPED | MemType::READ_PROT => Fault::Read { addr },
                    _ => Fault::Write { addr },
                }),
                (None, Some(stop)) => stop,
                (None, None) => {
                    warn!(target: "wb::core", core = %self.id, ?err, pc = format_args!("{:#x}", pc), "engine stopped with an error and no cause; treated as an instruction fetch fault");
                    Stop::Fault(Fault::Fetch { addr: self.pc() })
                }
            };
        }
        if let Some(stop) = st.stop.take() {
            return stop;
        }
        let pc = self.pc();
        if self.breakpoints.contains(&(pc as u64)) {
            return Stop::Breakpoint;
        }
        let (addr, c) = self.uc.get_data().last_block;
        if c.end() == BlockEnd::Wfi && pc == addr + c.size as u32 {
            return Stop::Wfi;
        }
        warn!(target: "wb::core", core = %self.id, pc = format_args!("{pc:#x}"), "engine halted for no known reason; treated as WFI");
        Stop::Wfi
    }

    /// Flush translated code and cached costs over `[start, end)`.
    pub fn invalidate_code(&mut self, start: u32, end: u32) {
        let _ = self.uc.ctl_remove_cache(start as u64, end as u64);
        let alias = self.state().boot_alias.region();
        if start < alias.end() && end > alias.base {
            let _ = self.uc.ctl_remove_cache(
                (start.saturating_sub(alias.base)) as u64,
                (end - alias.base) as u64,
            );
        }
        self.uc.get_data_mut().invalidate(start, end);
    }

    /// Install a new view of memory; the TLB follows before the core next runs (`run_slice`).
    pub(crate) fn set_view(&mut self, view: View) {
        self.state_mut().view = view;
    }

    /// Bring the TLB to the current view before running from `pc`, unless the core is about
    /// to stall on a busy flash: its first block hook stops it before any access (the fetch
    /// needed to translate that block goes through the old, still valid view).
    fn sync_tlb(&mut self, pc: u32) {
        let st = self.uc.get_data();
        if st.tlb_view == st.view || (st.view.flash_busy && st.in_flash(pc)) {
            return;
        }
        let st = self.uc.get_data_mut();
        st.tlb_view = st.view.clone();
        let _ = self.uc.ctl_flush_tlb();
    }

    pub fn flush_all_code(&mut self) {
        let st = self.uc.get_data_mut();
        st.tlb_view = st.view.clone();
        let _ = self.uc.ctl_flush_tlb();
        let _ = self.uc.ctl_flush_tb();
        self.uc.get_data_mut().cache.clear();
    }
}

/// The exception model runs on the engine's registers and on memory as this core sees it.
impl crate::exception::CpuContext for Core {
    fn kind(&self) -> CoreKind {
        self.kind
    }

    fn id(&self) -> CoreId {
        self.id
    }

    fn reg(&self, r: RegisterARM) -> u32 {
        Core::reg(self, r)
    }

    fn set_reg(&mut self, r: RegisterARM, v: u32) {
        Core::set_reg(self, r, v)
    }

    /// The engine ignores CONTROL writes from unprivileged code and SPSEL writes in handler
    /// mode, so this passes through privileged thread mode.
    fn write_mode(&mut self, ipsr: u32, control: u32) {
        const CONTROL_SPSEL: u32 = 1 << 1;
        const CONTROL_FPCA: u32 = 1 << 2;
        self.set_reg(RegisterARM::IPSR, 1);
        self.set_reg(RegisterARM::CONTROL, control & CONTROL_FPCA);
        self.set_reg(RegisterARM::IPSR, 0);
        self.set_reg(
            RegisterARM::CONTROL,
            control & (CONTROL_SPSEL | CONTROL_FPCA),
        );
        if ipsr != 0 {
            self.set_reg(RegisterARM::IPSR, ipsr);
        }
        self.set_reg(RegisterARM::CONTROL, control);
        self.rebuild_flags();
    }

    /// A write to APSR_NZCV is the engine's only path to rebuilding its cached execution
    /// flags (handler mode, privilege).
    fn rebuild_flags(&mut self) {
        let nzcv = self.reg(RegisterARM::APSR) & 0xF000_0000;
        self.set_reg(RegisterARM::APSR_NZCV, nzcv);
    }

    fn read_mem(&self, addr: u32, buf: &mut [u8]) -> bool {
        self.uc.mem_read(addr as u64, buf).is_ok()
    }

    fn write_mem(&mut self, addr: u32, bytes: &[u8]) -> bool {
        self.uc.mem_write(addr as u64, bytes).is_ok()
    }

    fn scs(&self) -> &Scs {
        &self.state().scs
    }

    fn scs_mut(&mut self) -> &mut Scs {
        &mut self.state_mut().scs
    }

    fn table(&self) -> &'static CycleTable {
        self.state().table
    }

    fn charge(&mut self, cycles: u64) {
        self.state_mut().cycles += cycles;
    }

    fn run_state(&self) -> RunState {
        self.state().run
    }

    fn set_run_state(&mut self, run: RunState) {
        self.state_mut().run = run;
    }

    fn set_event_register(&mut self, on: bool) {
        self.state_mut().event_register = on;
    }

    fn clear_mask_watch(&mut self) {
        self.state_mut().watch_masks = false;
    }
}

pub(crate) use crate::exception::GPRS;

pub(crate) use crate::chip::FLASH_REGS;
