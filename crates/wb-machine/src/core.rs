//! One emulated core: a unicorn engine, the hooks that charge cycles and catch exceptions, and
//! the state those hooks share (`CoreState`, the engine's user data).
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

/// Longest translated block: 512 instructions of at most 4 bytes.
const MAX_BLOCK_BYTES: u32 = 2048;

/// A block's cost as the block hook charges it, with the current flash wait states folded in.
/// Eight bytes, so the per-address caches stay small and cheap to clear.
///
/// The narrow fields cannot overflow: a block has at most 512 instructions in 2 KiB, and even
/// 512 fourteen-cycle VSQRTs with 15 wait states on every line and literal stay below 2^16.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Charge {
    /// Block size in bytes; 0 marks an empty slot.
    size: u16,
    insns: u16,
    /// Cycles with the final conditional branch (if any) not taken.
    cycles: u16,
    /// Extra cycles when the final conditional branch is taken.
    taken_extra: u8,
    /// `BlockEnd` in bits 0..3; bit 7: the block executes SEV.
    flags: u8,
}

impl Charge {
    const SEV: u8 = 0x80;

    fn new(c: &BlockCost, waits: FlashWaits) -> Charge {
        let mut cycles = c.cycles;
        if c.flash_lines > 0 {
            cycles += waits.first_line + (c.flash_lines - 1) * waits.next_line;
        }
        cycles += c.flash_literals * waits.literal;
        let end = c.end as u8;
        Charge {
            size: c.size as u16,
            insns: c.insns as u16,
            cycles: cycles as u16,
            taken_extra: c.taken_extra as u8,
            flags: if c.sevs > 0 { end | Charge::SEV } else { end },
        }
    }

    fn end(self) -> BlockEnd {
        BlockEnd::from_bits(self.flags & 0x7)
    }
}

/// Per-address cache of block charges for the regions code runs from, indexed by physical
/// halfword address.
#[derive(Clone, Debug)]
struct CostCache {
    /// Flash, then system memory: the read-only code regions.
    rom: Vec<Charge>,
    sram: Vec<Charge>,
    /// Code-byte hash of each SRAM block: SRAM code can change under the cache.
    sram_check: Vec<u32>,
}

/// The read-only code regions in the order `CostCache::rom` holds them.
const ROM: [Region; 2] = [memory::FLASH, memory::SYSTEM_MEMORY];

impl CostCache {
    fn new() -> CostCache {
        CostCache {
            rom: vec![
                Charge::default();
                ((memory::FLASH.size + memory::SYSTEM_MEMORY.size) / 2) as usize
            ],
            sram: vec![Charge::default(); (memory::SRAM.size / 2) as usize],
            sram_check: vec![0; (memory::SRAM.size / 2) as usize],
        }
    }

    /// Index into `rom` of the halfword at physical `addr`, if it is in flash or system memory.
    #[inline(always)]
    fn rom_index(addr: u32) -> Option<usize> {
        let flash = addr.wrapping_sub(memory::FLASH.base);
        if flash < memory::FLASH.size {
            return Some((flash / 2) as usize);
        }
        let sys = addr.wrapping_sub(memory::SYSTEM_MEMORY.base);
        (sys < memory::SYSTEM_MEMORY.size).then(|| ((memory::FLASH.size + sys) / 2) as usize)
    }

    fn clear(&mut self) {
        self.rom.fill(Charge::default());
        self.sram.fill(Charge::default());
    }

    /// Forget every block that may overlap the physical range `[start, end)`.
    fn clear_range(&mut self, start: u32, end: u32) {
        let lo = start.saturating_sub(MAX_BLOCK_BYTES);
        for region in ROM.into_iter().chain([memory::SRAM]) {
            let (a, b) = (lo.max(region.base), end.min(region.end()));
            if a >= b {
                continue;
            }
            let (ia, ib) = (
                ((a - region.base) / 2) as usize,
                ((b - region.base).div_ceil(2)) as usize,
            );
            if region == memory::SRAM {
                self.sram[ia..ib].fill(Charge::default());
            } else {
                let first = CostCache::rom_index(region.base).expect("a ROM region");
                self.rom[first + ia..first + ib].fill(Charge::default());
            }
        }
    }
}

/// Wait states a block pays for fetching from flash, in core cycles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlashWaits {
    /// For the first 64-bit line a block fetches (after a branch).
    pub first_line: u32,
    /// For each further sequential line.
    pub next_line: u32,
    /// For each literal-pool load from flash.
    pub literal: u32,
}

impl FlashWaits {
    /// The wait states FLASH_ACR (CPU1) or C2ACR (CPU2, with ACR's LATENCY) give a core.
    ///
    /// Choices (shared/reference/timing.md §3.3): a branch pays LATENCY for its first 64-bit
    /// line; the I-cache is taken to hit always when enabled (RM0434: hits insert no delay;
    /// the ART claims 0-wait-state performance), so ICEN removes that cost; prefetch (PRFTEN)
    /// hides the following sequential lines; CPU1's D-cache (DCEN) hides literal-pool loads,
    /// CPU2 has none. CPU2 pays the same count in its own cycles (how it sees HCLK4 wait
    /// states is not documented).
    pub fn from_acr(acr: u32, core: CoreId) -> FlashWaits {
        use wb_periph::flash::acr;
        let latency = acr & acr::LATENCY;
        let unless = |bit: u32| if acr & bit != 0 { 0 } else { latency };
        FlashWaits {
            first_line: unless(acr::ICEN),
            next_line: unless(acr::PRFTEN),
            literal: match core {
                CoreId::Cpu1 => unless(acr::DCEN),
                CoreId::Cpu2 => latency,
            },
        }
    }
}

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
    pub id: CoreId,
    pub table: &'static CycleTable,
    pub scs: Scs,
    /// Core clock cycles since power-on, sleeping included (the core's local time).
    pub cycles: u64,
    /// Instructions executed.
    pub insns: u64,
    /// Cycles spent asleep (WFI/WFE) or held.
    pub idle_cycles: u64,
    pub domain: CycleDomain,
    pub run: RunState,
    pub event_register: bool,
    waits: FlashWaits,
    pub boot_alias: BootAlias,
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
    pub blocks: u64,
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

/// A register window, and what answers its loads.
#[derive(Clone, Copy, Debug)]
struct Window {
    base: u32,
    size: u32,
    kind: WindowKind,
}

#[derive(Clone, Copy, Debug)]
enum WindowKind {
    Device(Target),
    /// The core's own SCS (NVIC, SCB, SysTick) or DWT, at this offset in `Scs`'s map.
    Scs {
        shift: u32,
    },
    Flash,
}

impl CoreState {
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

    /// A load from a register window at `addr`: `None` outside the windows, else the value
    /// or the model's refusal.
    fn read_register(&mut self, addr: u32, size: usize) -> Option<Result<u64, ()>> {
        let hit = |w: &Window| addr.wrapping_sub(w.base) < w.size;
        if !self.windows.get(self.last_window).is_some_and(hit) {
            self.last_window = self.windows.iter().position(hit)?;
        }
        let w = self.windows[self.last_window];
        let off = addr - w.base;
        let r = match w.kind {
            WindowKind::Device(target) => {
                let access = self.access(size);
                self.bus.borrow_mut().read(target, off, access)
            }
            WindowKind::Flash => {
                let access = self.access(size);
                self.bus.borrow_mut().flash.read(off, access)
            }
            WindowKind::Scs { shift } => self
                .scs
                .read(off + shift, size as u32, self.cycles)
                .ok_or(wb_periph::BusError::Denied),
        };
        Some(r.map(u64::from).map_err(|e| {
            trace!(target: "wb::bus", ?e, addr = format_args!("{addr:#010x}"), "load refused");
        }))
    }

    /// The bus stalls this core until the running flash operation ends; the operation is then
    /// complete (its effect lands now, at the time this core has reached).
    fn wait_for_flash(&mut self, sh: &mut Bus) {
        if let Some(t) = sh.flash.busy_until() {
            self.cycles = self.cycles.max(self.domain.cycles_at(t));
            sh.flash.complete(&mut self.flash_mem.view());
        }
    }

    /// Ask the block hook to stop before the next block so the machine can look.
    pub(crate) fn request_attention(&mut self) {
        self.scs.attention = true;
        self.deadline = 0;
    }

    fn code_bytes(&self, addr: u32, len: u32) -> Option<&[u8]> {
        let addr = self.physical(addr);
        for (r, p) in &self.code {
            if r.contains(addr) && addr + len <= r.end() {
                // SAFETY: `p` points to the start of region `r`'s buffer, which lives as long as
                // the machine (see the field doc), and the range was checked against its size.
                return Some(unsafe {
                    std::slice::from_raw_parts(p.add((addr - r.base) as usize), len as usize)
                });
            }
        }
        None
    }

    /// Undo the boot alias at 0x0000_0000.
    fn physical(&self, addr: u32) -> u32 {
        if addr < self.alias.size {
            self.alias.base + addr
        } else {
            addr
        }
    }

    fn in_flash(&self, addr: u32) -> bool {
        memory::FLASH.contains(self.physical(addr))
    }

    /// The charge of the block at `addr`: from the cache when it holds a block of this size
    /// (and, in SRAM, of the same code bytes), else decoded and cached.
    #[inline]
    fn charge_of(&mut self, addr: u32, size: u32) -> Charge {
        let phys = self.physical(addr);
        if let Some(i) = CostCache::rom_index(phys) {
            let c = self.cache.rom[i];
            if c.size as u32 == size {
                return c;
            }
            let c = self.decode(addr, size);
            self.cache.rom[i] = c;
            return c;
        }
        let sram = phys.wrapping_sub(memory::SRAM.base);
        if sram < memory::SRAM.size {
            let i = (sram / 2) as usize;
            let h = self.code_bytes(addr, size).map_or(0, hash_code);
            let c = self.cache.sram[i];
            if c.size as u32 == size && self.cache.sram_check[i] == h {
                return c;
            }
            let c = self.decode(addr, size);
            self.cache.sram[i] = c;
            self.cache.sram_check[i] = h;
            return c;
        }
        self.decode(addr, size)
    }

    #[cold]
    fn decode(&self, addr: u32, size: u32) -> Charge {
        let code = self.code_bytes(addr, size).unwrap_or(&[]);
        Charge::new(
            &block_cost(self.table, addr, code, |a| self.in_flash(a)),
            self.waits,
        )
    }

    /// The block hook's slow path, taken once `cycles >= deadline`: whether the engine must
    /// stop before the next block, and why.
    #[cold]
    fn must_stop(&mut self, uc: *mut uc_engine, addr: u32) -> bool {
        let stop = if self.cycles >= self.budget {
            Some(Stop::Budget)
        } else if self.view.flash_busy && memory::FLASH.contains(self.physical(addr)) {
            // Fetching from flash while it is programmed or erased stalls the core.
            Some(Stop::FlashStall)
        } else if self.scs.attention
            || self.scs.reset_request
            || (self.watch_masks && masks_open(&self.scs, uc))
        {
            Some(Stop::Attention)
        } else {
            None
        };
        self.stop = stop;
        stop.is_some()
    }

    /// The flash double-words with ECC errors, as physical addresses (set by the machine).
    pub(crate) fn set_ecc_dws(&mut self, dws: Vec<u32>) {
        self.ecc_dws = dws;
    }

    /// The block at `addr` is about to be fetched: the flash interface reads whole
    /// double-words and checks their ECC as for a data read (ECCR latches the first error,
    /// with its address and the fetching CPU). A correctable error only sets ECCC (and may
    /// interrupt, ECCCIE); an uncorrectable one raises NMI on this core. Returns whether the
    /// engine must stop before the block so the NMI is taken first.
    ///
    /// Precision: the whole block is checked before it runs, so the NMI's return address is
    /// the first instruction of the block that fetches the broken double-word. That may be a
    /// few instructions earlier than on the chip (whose prefetch reads ahead of execution
    /// anyway), never later: no instruction made of the corrupted bytes retires. Every run of
    /// the block is a fetch (the I-cache is not modelled here), as every load is a data read.
    #[cold]
    #[inline(never)]
    fn fetch_meets_ecc(&mut self, addr: u32, size: u32) -> bool {
        let start = self.physical(addr);
        let end = start.saturating_add(size);
        let first = self.ecc_dws.partition_point(|&dw| dw + 8 <= start);
        let hit = self.ecc_dws[first..]
            .iter()
            .take_while(|&&dw| dw < end)
            .count();
        if hit == 0 {
            return false;
        }
        let mut uncorrectable = false;
        let bus = self.bus.clone();
        let mut sh = bus.borrow_mut();
        let before = sh.flash.eccr();
        for &dw in &self.ecc_dws[first..first + hit] {
            uncorrectable |=
                sh.flash.ecc_read(dw - memory::FLASH.base, self.id) == Some(Ecc::Uncorrectable);
        }
        let eccr_changed = sh.flash.eccr() != before;
        drop(sh);
        if uncorrectable {
            self.scs.set_pending(crate::scs::exc::NMI, true);
            // Inside the NMI handler the new NMI waits for its return: the block runs.
            if !self.scs.is_active(crate::scs::exc::NMI) {
                self.request_attention();
                self.stop = Some(Stop::Attention);
                return true;
            }
        }
        if eccr_changed {
            // ECCC with ECCCIE raises the flash interrupt: let the machine look.
            self.request_attention();
        }
        false
    }

    /// The block hook: settle the previous block's final branch (its target is `addr`), stop
    /// if the slice is over or the machine must look, else charge the block about to run.
    #[inline(always)]
    fn on_block(&mut self, uc: *mut uc_engine, addr: u32, size: u32) -> bool {
        // One load and one store of `cycles` per block: split read-modify-writes of it stall
        // the store buffer on this path.
        let mut cycles = self.cycles;
        if addr != self.fallthrough {
            cycles += self.taken_extra as u64;
        }
        if cycles >= self.deadline {
            self.cycles = cycles;
            self.taken_extra = 0;
            if self.must_stop(uc, addr) {
                return false;
            }
        }
        if !self.ecc_dws.is_empty() && self.fetch_meets_ecc(addr, size) {
            self.cycles = cycles;
            self.taken_extra = 0;
            return false;
        }
        let c = self.charge_of(addr, size);
        self.cycles = cycles + c.cycles as u64;
        self.insns += c.insns as u64;
        self.blocks += 1;
        self.fallthrough = addr + size;
        self.taken_extra = c.taken_extra as u32;
        self.last_block = (addr, c);
        if c.flags & Charge::SEV != 0 {
            // The other core may be waiting for this event: let the machine look after the block.
            self.bus.borrow_mut().sev_to = [true, true];
            self.request_attention();
        }
        true
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

fn hash_code(bytes: &[u8]) -> u32 {
    // FNV-1a: tiny, and only used for SRAM blocks.
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x0100_0193)
    })
}

/// The block hook as unicorn calls it: straight into `CoreState`, with no closure trampoline
/// (this runs once per executed block, the hottest path of the emulator).
unsafe extern "C" fn block_hook(uc: *mut uc_engine, addr: u64, size: u32, user: *mut c_void) {
    // SAFETY: `user` is the engine's own `CoreState` (installed in `install_hooks`), which lives
    // in the engine's heap cell for the engine's lifetime; hooks never run concurrently and no
    // other reference to the state is live while the engine executes guest code.
    let st = unsafe { &mut *(user as *mut CoreState) };
    if !st.on_block(uc, addr as u32, size) {
        // SAFETY: `uc` is the live engine calling us.
        unsafe { uc_emu_stop(uc) };
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

    fn install_hooks(&mut self) -> Result<(), EngineError> {
        let user = (self.uc.get_data_mut() as *mut CoreState).cast::<c_void>();
        // SAFETY: `user` is this engine's user data, which outlives its hooks (both are dropped
        // with the engine); `block_hook` reads it as a `CoreState`.
        unsafe { add_raw_hook(&self.uc, HookType::BLOCK, block_hook as *mut c_void, user) }?;
        // SAFETY: as above; `read_prot_hook` has unicorn's signature of a memory event hook.
        unsafe {
            add_raw_hook(
                &self.uc,
                HookType::MEM_READ_PROT,
                read_prot_hook as *mut c_void,
                user,
            )
        }?;
        self.uc
            .add_intr_hook(|uc, intno| {
                let stop = match intno {
                    excp::SWI => Stop::Svc,
                    excp::BKPT => Stop::Bkpt,
                    excp::EXCEPTION_EXIT => Stop::ExceptionReturn,
                    excp::NOCP => Stop::Fault(Fault::NoCoprocessor),
                    excp::INVSTATE => Stop::Fault(Fault::InvalidState),
                    excp::UNALIGNED => Stop::Fault(Fault::Unaligned),
                    excp::UDEF => Stop::Fault(Fault::Undefined),
                    other => {
                        warn!(target: "wb::core", intno = other, "unexpected engine exception, treated as undefined");
                        Stop::Fault(Fault::Undefined)
                    }
                };
                uc.get_data_mut().stop = Some(stop);
                let _ = uc.emu_stop();
            })
            .map_err(uc_err("the interrupt hook"))?;
        // UDF and YIELD/WFE both arrive here; `classify_invalid` tells them apart.
        self.uc
            .add_insn_invalid_hook(|uc| {
                let stop = classify_invalid(uc);
                uc.get_data_mut().stop = Some(stop);
                let _ = uc.emu_stop();
                true
            })
            .map_err(uc_err("the invalid-instruction hook"))?;
        // Loads refused for protection come to `read_prot_hook`.
        let fault_types =
            HookType::MEM_UNMAPPED | HookType::MEM_WRITE_PROT | HookType::MEM_FETCH_PROT;
        self.uc
            .add_mem_hook(fault_types, 1, 0, |uc, ty, addr, _size, _value| {
                let st = uc.get_data_mut();
                match view::decode_hole(addr as u32) {
                    Some(Hole::Stall) => st.stop = Some(Stop::FlashStall),
                    Some(Hole::Denied(a)) => st.fault_addr = Some((ty, a)),
                    None => st.fault_addr = Some((ty, addr as u32)),
                }
                false
            })
            .map_err(uc_err("the fault hook"))?;
        // The per-core view decides where each page goes (see `view`).
        self.uc
            .add_tlb_hook(1, 0, |uc, addr, ty| {
                if ty != MemType::FETCH {
                    drop_it_state(uc.get_handle());
                }
                let st = uc.get_data();
                let (paddr, perms) = st.tlb_view.translate(st.physical(addr as u32), ty);
                Some(TlbEntry {
                    paddr: paddr as u64,
                    perms,
                })
            })
            .map_err(uc_err("the TLB hook"))?;
        self.map_scs()?;
        self.map_flash()?;
        Ok(())
    }

    fn map_scs(&mut self) -> Result<(), EngineError> {
        // SCS (NVIC, SCB, SysTick) at 0xE000_E000 and the DWT at 0xE000_1000, both per core.
        for (base, shift) in [
            (0xE000_E000u64, 0u32),
            (0xE000_1000u64, crate::scs::reg::DWT_CTRL),
        ] {
            self.uc
                .mmio_map(
                    base,
                    0x1000,
                    Some(
                        move |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize| {
                            register_load(uc, base as u32 + off as u32, size)
                        },
                    ),
                    Some(
                        move |uc: &mut Unicorn<'_, CoreState>,
                              off: u64,
                              size: usize,
                              value: u64| {
                            let st = uc.get_data_mut();
                            let cycles = st.cycles;
                            let ok =
                                st.scs
                                    .write(off as u32 + shift, size as u32, value as u32, cycles);
                            if st.scs.attention || st.scs.reset_request {
                                st.deadline = 0;
                            }
                            if !ok {
                                st.stop = Some(Stop::Fault(Fault::Peripheral {
                                    addr: base as u32 + off as u32,
                                }));
                                let _ = uc.emu_stop();
                            }
                        },
                    ),
                )
                .map_err(uc_err("to map the system control space"))?;
            self.protect_reads(base as u32, 0x1000, WindowKind::Scs { shift })?;
        }
        Ok(())
    }

    /// Make loads from a register window precise. Its pages lose their read permission, so
    /// that unicorn calls the protection hook before each load, with the PC synchronised to
    /// the load: the hook reads the register there and lets the load go on (the MMIO read
    /// then returns that value), or reports the model's refusal as a fault that stops the
    /// engine on the load, before it writes its register. Costs a hook call per register
    /// load; RAM and flash are not concerned.
    fn protect_reads(&mut self, base: u32, size: u32, kind: WindowKind) -> Result<(), EngineError> {
        self.uc
            .mem_protect(base as u64, size as u64, Prot::WRITE)
            .map_err(uc_err(format!("to protect the registers at {base:#010x}")))?;
        self.uc
            .get_data_mut()
            .windows
            .push(Window { base, size, kind });
        Ok(())
    }

    /// The flash controller's registers, and the ports the view sends flash stores and
    /// ECC-checked reads to.
    fn map_flash(&mut self) -> Result<(), EngineError> {
        self.uc
            .mmio_map(
                FLASH_REGS as u64,
                0x400,
                Some(|uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize| {
                    register_load(uc, FLASH_REGS + off as u32, size)
                }),
                Some(
                    |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize, value: u64| {
                        let st = uc.get_data_mut();
                        let bus = st.bus.clone();
                        let mut sh = bus.borrow_mut();
                        if sh.flash.register_stall(off as u32, true).is_some() {
                            st.wait_for_flash(&mut sh);
                        }
                        let r = sh.flash.write(off as u32, value as u32, st.access(size));
                        drop(sh);
                        st.request_attention();
                        let _ = bus_result(uc, FLASH_REGS + off as u32, r);
                    },
                ),
            )
            .map_err(uc_err("to map the flash registers"))?;
        self.protect_reads(FLASH_REGS, 0x400, WindowKind::Flash)?;
        self.uc
            .mmio_map(
                WRITE_PORT as u64,
                PORT_SIZE as u64,
                None::<fn(&mut Unicorn<'_, CoreState>, u64, usize) -> u64>,
                Some(
                    |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize, value: u64| {
                        let st = uc.get_data_mut();
                        let bus = st.bus.clone();
                        let mut sh = bus.borrow_mut();
                        st.wait_for_flash(&mut sh);
                        let access = st.access(size);
                        let mut mem = st.flash_mem.view();
                        sh.flash
                            .program_write(off as u32, value as u32, access, &mut mem);
                        drop(sh);
                        st.request_attention();
                    },
                ),
            )
            .map_err(uc_err("to map the flash write port"))?;
        self.uc
            .mmio_map(
                READ_PORT as u64,
                PORT_SIZE as u64,
                Some(|uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize| {
                    let st = uc.get_data_mut();
                    let (off, core) = (off as u32, st.id);
                    let bus = st.bus.clone();
                    let mut sh = bus.borrow_mut();
                    let mut uncorrectable = false;
                    let mut bytes = [0u8; 8];
                    if sh.flash.pcrop_read(off, core) {
                        // PCROP: RDERR, the read gives 0.
                    } else {
                        for dw in [off & !7, (off + size as u32 - 1) & !7] {
                            uncorrectable |=
                                sh.flash.ecc_read(dw, core) == Some(Ecc::Uncorrectable);
                        }
                        let mem = st.flash_mem.view();
                        bytes[..size].copy_from_slice(&mem.main[off as usize..off as usize + size]);
                    }
                    drop(sh);
                    if uncorrectable {
                        // ECCD: NMI on the reading core.
                        st.scs.set_pending(crate::scs::exc::NMI, true);
                    }
                    st.request_attention();
                    u64::from_le_bytes(bytes)
                }),
                None::<fn(&mut Unicorn<'_, CoreState>, u64, usize, u64)>,
            )
            .map_err(uc_err("to map the flash read port"))
    }

    /// Map a peripheral window (already on the shared bus as `target`).
    pub(crate) fn map_peripheral(
        &mut self,
        target: Target,
        base: u32,
        size: u32,
    ) -> Result<(), EngineError> {
        let page = 0x400;
        let mapped = size.div_ceil(page) * page;
        self.uc
            .mmio_map(
                base as u64,
                mapped as u64,
                Some(
                    move |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize| {
                        register_load(uc, base + off as u32, size)
                    },
                ),
                Some(
                    move |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize, value: u64| {
                        let st = uc.get_data_mut();
                        let r = st.bus.borrow_mut().write(
                            target,
                            off as u32,
                            value as u32,
                            st.access(size),
                        );
                        // A write may raise an interrupt or arm timed work: let the machine look.
                        st.request_attention();
                        let _ = bus_result(uc, base + off as u32, r);
                    },
                ),
            )
            .map_err(uc_err(format!("to map a peripheral at {base:#010x}")))?;
        self.protect_reads(base, mapped, WindowKind::Device(target))
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

/// Install `callback` (a raw hook of type `ty`, with unicorn's signature for it) over all
/// addresses, with `user` as its user data: no closure trampoline on hot paths.
///
/// # Safety
/// `callback` must have the signature unicorn gives hooks of type `ty`, and `user` must be
/// valid for whatever it does with it for as long as the engine lives.
pub(crate) unsafe fn add_raw_hook<D>(
    uc: &Unicorn<'_, D>,
    ty: HookType,
    callback: *mut c_void,
    user: *mut c_void,
) -> Result<(), EngineError> {
    let mut handle: uc_hook = 0;
    // SAFETY: the caller vouches for `callback` and `user`.
    let err = unsafe {
        uc_hook_add(
            uc.get_handle(),
            &mut handle,
            ty.0 as i32,
            callback,
            user,
            1u64,
            0u64,
        )
    };
    if err == uc_error::OK {
        Ok(())
    } else {
        Err(uc_err("a hook")(err))
    }
}

/// The flash controller's register window.
pub(crate) const FLASH_REGS: u32 = 0x5800_4000;

/// A refused register access becomes a bus fault of the core that made it.
fn bus_result<T>(
    uc: &mut Unicorn<'_, CoreState>,
    addr: u32,
    r: Result<T, wb_periph::BusError>,
) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            trace!(target: "wb::bus", ?e, addr = format_args!("{addr:#010x}"), "access refused");
            uc.get_data_mut().stop = Some(Stop::Fault(Fault::Peripheral { addr }));
            let _ = uc.emu_stop();
            None
        }
    }
}

/// Unicorn's protection hook for loads, called directly (it runs before every load from a
/// register window, see `Core::protect_reads`): read the register and let the load go on with
/// that value staged, or stop the engine on the load when the model refuses it.
unsafe extern "C" fn read_prot_hook(
    uc: *mut uc_engine,
    _ty: i32,
    addr: u64,
    size: u32,
    _value: i64,
    user: *mut c_void,
) -> bool {
    // SAFETY: as in `block_hook`: `user` is the engine's own `CoreState`.
    let st = unsafe { &mut *(user as *mut CoreState) };
    let addr = addr as u32;
    match st.read_register(addr, size as usize) {
        Some(Ok(v)) => {
            st.staged = Some((addr, v));
            drop_it_state(uc);
            true
        }
        _ => {
            st.fault_addr = Some((MemType::READ_PROT, addr));
            false
        }
    }
}

/// The IT bits of the CPSR as unicorn reads it, and the EPSR Thumb bit.
const CPSR_IT: u32 = 0x0600_FC00;
const XPSR_T: u32 = 1 << 24;

/// Before a data TLB fill or a protection hook, unicorn synchronises the CPU to the access,
/// Thumb IT state included. Inside a translated block that state is kept zero (qemu clears it
/// at the start of a block and stores it only when a block ends inside an IT block): left
/// set, it leaks into the next block, whose first instructions then run as if conditional.
/// The access goes on afterwards (a fault exit synchronises again), so clear it.
fn drop_it_state(uc: *mut uc_engine) {
    if raw_reg(uc, RegisterARM::CPSR) & CPSR_IT != 0 {
        let epsr = XPSR_T as u64;
        // SAFETY: `uc` is the live engine calling a hook; EPSR takes a 32-bit value.
        unsafe { uc_reg_write(uc, RegisterARM::EPSR as i32, (&epsr as *const u64).cast()) };
    }
}

/// The MMIO read of a register window: the value the protection hook staged for it, or (for
/// a load the hook did not see) the register read now, a refusal then being imprecise.
fn register_load(uc: &mut Unicorn<'_, CoreState>, addr: u32, size: usize) -> u64 {
    let st = uc.get_data_mut();
    if let Some((at, v)) = st.staged.take() {
        if at == addr {
            return v;
        }
    }
    match st.read_register(addr, size) {
        Some(Ok(v)) => v,
        _ => {
            st.stop = Some(Stop::Fault(Fault::Peripheral { addr }));
            let _ = uc.emu_stop();
            0
        }
    }
}

/// Whether the masks (PRIMASK, FAULTMASK, BASEPRI) now let the pending exception in.
fn masks_open(scs: &Scs, uc: *mut uc_engine) -> bool {
    let Some((_, prio)) = scs.highest_pending() else {
        return false;
    };
    let primask = raw_reg(uc, RegisterARM::PRIMASK) & 1 != 0;
    let faultmask = raw_reg(uc, RegisterARM::FAULTMASK) & 1 != 0;
    let basepri = raw_reg(uc, RegisterARM::BASEPRI) as i32;
    let exec = crate::exception::execution_priority(scs, primask, faultmask, basepri);
    prio < exec
}

/// Read a register of the engine that is calling a hook.
fn raw_reg(uc: *mut uc_engine, r: RegisterARM) -> u32 {
    let mut v = 0u64;
    // SAFETY: `uc` is a live engine (we are inside its hook) and ARM registers are at most
    // 64 bits wide.
    unsafe { uc_reg_read(uc, r as i32, (&mut v as *mut u64).cast()) };
    v as u32
}

/// UDF and the YIELD-like hints (WFE, YIELD) reach the invalid-instruction hook alike.
/// A hint leaves the PC after itself, at the end of the block that just ran; UDF leaves it on
/// the faulting instruction.
fn classify_invalid(uc: &Unicorn<'_, CoreState>) -> Stop {
    let pc = uc.reg_read(RegisterARM::PC).unwrap_or(0) as u32;
    let (addr, c) = uc.get_data().last_block;
    if pc == addr + c.size as u32 {
        match c.end() {
            BlockEnd::Wfe => return Stop::Wfe,
            BlockEnd::Yield => return Stop::Yield,
            _ => {}
        }
    }
    Stop::Fault(Fault::Undefined)
}
