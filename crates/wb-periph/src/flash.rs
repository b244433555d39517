//! Embedded flash controller (FLASH registers at 0x5800_4000), with the option bytes, the ECC
//! state of every double-word, and a log of every program/erase operation.
//!
//! The controller does not own the flash: the machine passes a [`FlashMem`] view of the main
//! array and of the option-byte area into every call that may touch them. Operations take the
//! datasheet's typical times; their effect lands on the array when they complete, so a power
//! cut in between can tear them ([`Flash::tear`]).
//!
//! Facts: shared/reference/stm32wb55-registers.md §3 (registers, keys, option-byte layout),
//! shared/reference/timing.md §3 (times, stalls, suspend), RM0434 §3 as quoted there.

use std::collections::BTreeMap;
use std::fmt;

use tracing::{trace, warn};

use crate::{Access, BusError, BusResult, CoreId, Picos, ResetKind, Width};

/// Main flash: 1 MiB in 256 pages of 4 KiB, programmed by 64-bit double-words.
pub const MAIN_SIZE: u32 = 1024 * 1024;
pub const PAGE_SIZE: u32 = 4096;
pub const PAGES: u32 = MAIN_SIZE / PAGE_SIZE;
pub const DOUBLE_WORD: u32 = 8;
/// Fast programming writes one row of 64 double-words.
pub const ROW_SIZE: u32 = 64 * DOUBLE_WORD;
/// The option-byte area (0x1FFF_8000).
pub const OB_SIZE: u32 = 4096;

/// Register offsets, bits and keys (RM0434 §3.10), from the shared register map.
pub use wb_regs::flash::{acr, cr, eccr, reg, sr, KEY1, KEY2, OPTKEY1, OPTKEY2};

/// Typical operation times, DS11929 Table 65 (shared/reference/timing.md §3.1), in ps.
pub mod time {
    use crate::Picos;
    pub const PROGRAM: Picos = 81_700_000;
    pub const FAST_ROW: Picos = 3_800_000_000;
    pub const PAGE_ERASE: Picos = 22_000_000_000;
    pub const MASS_ERASE: Picos = 22_100_000_000;
    /// Not in the datasheet. Chosen: the option bytes share one page, so a page erase plus
    /// programming their ten double-words.
    pub const OPTION_PROGRAM: Picos = PAGE_ERASE + 10 * PROGRAM;
    /// Longest gap between two double-words of a fast-programmed row before MISERR
    /// ("around 20 µs", RM0434 §3.3.7).
    pub const FAST_GAP: Picos = 20_000_000;
}

/// One option byte: its slot in the option-byte area (value, then complement), the register
/// that shows it, the bits that exist, and its value on a blank device.
#[derive(Clone, Copy, Debug)]
pub struct OptionSlot {
    pub name: &'static str,
    pub area_offset: u32,
    pub register: u32,
    pub mask: u32,
    pub default: u32,
    /// What a load takes when value and complement differ. For CPU2's slots the most secure
    /// value: AN5185 says the hardware then locks the whole flash (SFSA = 0x00, "the entire
    /// flash memory is locked by hardware", §2.1 and FAQ) and CPU2 boots safeboot; we lock
    /// all of SRAM2 the same way. Where the sources say nothing (CPU1's slots) the blank
    /// value, with a trace warning.
    pub on_mismatch: u32,
    /// Only CPU2 may write it (SFR, SRRVR).
    pub cpu2_only: bool,
}

/// The option bytes, in register order (layout: registers reference §3.1).
pub const OPTION_SLOTS: [OptionSlot; 10] = [
    OptionSlot {
        name: "OPTR",
        area_offset: 0x00,
        register: reg::OPTR,
        mask: 0xEF8F_7FFF,
        default: 0x3FFF_F1AA,
        on_mismatch: 0x3FFF_F1AA,
        cpu2_only: false,
    },
    OptionSlot {
        name: "PCROP1ASR",
        area_offset: 0x08,
        register: reg::PCROP1ASR,
        mask: 0x0000_01FF,
        default: 0x0000_01FF,
        on_mismatch: 0x0000_01FF,
        cpu2_only: false,
    },
    OptionSlot {
        name: "PCROP1AER",
        area_offset: 0x10,
        register: reg::PCROP1AER,
        mask: 0x8000_01FF,
        default: 0,
        on_mismatch: 0,
        cpu2_only: false,
    },
    OptionSlot {
        name: "WRP1AR",
        area_offset: 0x18,
        register: reg::WRP1AR,
        mask: 0x00FF_00FF,
        default: 0x0000_00FF,
        on_mismatch: 0x0000_00FF,
        cpu2_only: false,
    },
    OptionSlot {
        name: "WRP1BR",
        area_offset: 0x20,
        register: reg::WRP1BR,
        mask: 0x00FF_00FF,
        default: 0x0000_00FF,
        on_mismatch: 0x0000_00FF,
        cpu2_only: false,
    },
    OptionSlot {
        name: "PCROP1BSR",
        area_offset: 0x28,
        register: reg::PCROP1BSR,
        mask: 0x0000_01FF,
        default: 0x0000_01FF,
        on_mismatch: 0x0000_01FF,
        cpu2_only: false,
    },
    OptionSlot {
        name: "PCROP1BER",
        area_offset: 0x30,
        register: reg::PCROP1BER,
        mask: 0x8000_01FF,
        default: 0,
        on_mismatch: 0,
        cpu2_only: false,
    },
    OptionSlot {
        name: "IPCCBR",
        area_offset: 0x68,
        register: reg::IPCCBR,
        mask: 0x0000_3FFF,
        default: 0,
        on_mismatch: 0,
        cpu2_only: false,
    },
    // Blank device: no secure flash (FSD=1), SFSA at the top.
    OptionSlot {
        name: "SFR",
        area_offset: 0x70,
        register: reg::SFR,
        mask: 0x0000_11FF,
        default: 0x0000_01FF,
        // SFSA 0, FSD 0: every page secure.
        on_mismatch: 0,
        cpu2_only: true,
    },
    // Blank device: SRAM2a/2b not secure (BRSD=NBRSD=1); CPU2 boots from flash (C2OPT=1) at
    // 0x0808_0000 (SBRV=0x20000).
    OptionSlot {
        name: "SRRVR",
        area_offset: 0x78,
        register: reg::SRRVR,
        mask: 0xFEFF_FFFF,
        default: 0xC082_0000,
        // SRAM2a and SRAM2b secure from their first byte; C2OPT and SBRV as blank.
        on_mismatch: 0x8002_0000,
        cpu2_only: true,
    },
];

const SFR: usize = 8;
const SRRVR: usize = 9;

/// Whether C2BOOT starts CPU2 in safeboot with the option bytes `values` loaded and the
/// slots `bad` failed their complement check (as [`OptionBytes::load`] returns them): when
/// CPU2's own (SFR, SRRVR) failed, or SFSA = 0 locks the whole flash (AN5185 FAQ "What is a
/// safeboot": CPU2 activated through the debug port then runs safeboot).
pub fn cpu2_boots_safeboot(values: &OptionBytes, bad: &[usize]) -> bool {
    bad.iter().any(|&i| i == SFR || i == SRRVR) || values.secure_flash_page() == Some(0)
}

/// Option-byte values, one per [`OPTION_SLOTS`] entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionBytes(pub [u32; 10]);

impl Default for OptionBytes {
    fn default() -> Self {
        OptionBytes(OPTION_SLOTS.map(|s| s.default))
    }
}

impl OptionBytes {
    pub fn get(&self, register: u32) -> Option<u32> {
        OPTION_SLOTS
            .iter()
            .position(|s| s.register == register)
            .map(|i| self.0[i])
    }

    /// A register write: only the implemented bits change.
    pub fn set(&mut self, register: u32, value: u32) {
        if let Some(i) = OPTION_SLOTS.iter().position(|s| s.register == register) {
            let mask = OPTION_SLOTS[i].mask;
            self.0[i] = (self.0[i] & !mask) | (value & mask);
        }
    }

    /// Write every value and its complement into the option-byte area.
    pub fn store(&self, ob: &mut [u8]) {
        for (slot, v) in OPTION_SLOTS.iter().zip(self.0) {
            let at = slot.area_offset as usize;
            ob[at..at + 4].copy_from_slice(&v.to_le_bytes());
            ob[at + 4..at + 8].copy_from_slice(&(!v).to_le_bytes());
        }
    }

    /// Read the option-byte area. Slots whose complement does not match take their
    /// `on_mismatch` value; their indexes are returned.
    pub fn load(ob: &[u8]) -> (OptionBytes, Vec<usize>) {
        let word = |at: usize| u32::from_le_bytes(ob[at..at + 4].try_into().expect("4 bytes"));
        let mut bad = Vec::new();
        let mut values = OptionBytes::default();
        for (i, slot) in OPTION_SLOTS.iter().enumerate() {
            let at = slot.area_offset as usize;
            let (v, c) = (word(at), word(at + 4));
            if v != !c {
                bad.push(i);
                values.0[i] = slot.on_mismatch;
            } else {
                values.0[i] = v;
            }
        }
        (values, bad)
    }

    /// First secure flash page (SFSA), or `None` when the flash is not in secure mode (FSD=1).
    pub fn secure_flash_page(&self) -> Option<u32> {
        let sfr = self.0[SFR];
        (sfr & (1 << 8) == 0).then_some(sfr & 0xFF)
    }

    /// Start of the secure part of SRAM2a (SBRSA × 1 KiB), if BRSD=0.
    pub fn sram2a_secure_from(&self) -> Option<u32> {
        let v = self.0[SRRVR];
        (v & (1 << 23) == 0).then_some(((v >> 18) & 0x1F) * 1024)
    }

    /// Start of the secure part of SRAM2b (SNBRSA × 1 KiB), if NBRSD=0.
    pub fn sram2b_secure_from(&self) -> Option<u32> {
        let v = self.0[SRRVR];
        (v & (1 << 30) == 0).then_some(((v >> 25) & 0x1F) * 1024)
    }

    /// CPU2's boot vector address: SBRV words from flash (C2OPT=1) or from SRAM1 (C2OPT=0).
    pub fn cpu2_boot_vector(&self) -> u32 {
        let v = self.0[SRRVR];
        let base = if v & (1 << 31) != 0 {
            0x0800_0000
        } else {
            0x2000_0000
        };
        base + (v & 0x3_FFFF) * 4
    }

    /// The PCROP areas A and B as main-array byte ranges `[start, end)`, when enabled
    /// (start ≤ end). The offsets count 2 KiB units (HAL FLASH_PCROP_GRANULARITY_OFFSET 11).
    pub fn pcrop_areas(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        [(self.0[1], self.0[2]), (self.0[5], self.0[6])]
            .into_iter()
            .filter_map(|(s, e)| {
                let (s, e) = (s & 0x1FF, e & 0x1FF);
                (s <= e).then_some((s << 11, (e + 1) << 11))
            })
    }

    /// The write-protected page ranges (WRP1A, WRP1B), inclusive, when enabled (start ≤ end).
    pub fn wrp_areas(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        [self.0[3], self.0[4]].into_iter().filter_map(|w| {
            let (s, e) = (w & 0xFF, (w >> 16) & 0xFF);
            (s <= e).then_some((s, e))
        })
    }
}

/// The memories an operation touches: the main array and the option-byte area.
pub struct FlashMem<'a> {
    pub main: &'a mut [u8],
    pub ob: &'a mut [u8],
}

impl FlashMem<'_> {
    fn dw(&self, offset: u32) -> u64 {
        let at = offset as usize;
        u64::from_le_bytes(self.main[at..at + 8].try_into().expect("8 bytes"))
    }

    fn set_dw(&mut self, offset: u32, v: u64) {
        let at = offset as usize;
        self.main[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
}

/// What an operation does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// One double-word at a main-array offset.
    Program {
        offset: u32,
        data: u64,
    },
    /// One row of 64 double-words.
    FastRow {
        offset: u32,
        data: Vec<u64>,
    },
    PageErase {
        page: u32,
    },
    /// Every page below `end_page`.
    MassErase {
        end_page: u32,
    },
    OptionProgram {
        values: OptionBytes,
    },
}

/// What a logged operation was, or was asked to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlashOpKind {
    /// One double-word.
    Program,
    /// A fast-programming row of 64 double-words.
    FastProgram,
    PageErase,
    MassErase,
    OptionProgram,
    /// An erase asked for with an invalid PER/MER combination (refused with PGSERR).
    Erase,
}

impl FlashOpKind {
    pub const ALL: [FlashOpKind; 6] = [
        FlashOpKind::Program,
        FlashOpKind::FastProgram,
        FlashOpKind::PageErase,
        FlashOpKind::MassErase,
        FlashOpKind::OptionProgram,
        FlashOpKind::Erase,
    ];

    /// The name logs and reports use ("page-erase").
    pub fn name(self) -> &'static str {
        match self {
            FlashOpKind::Program => "program",
            FlashOpKind::FastProgram => "fast-program",
            FlashOpKind::PageErase => "page-erase",
            FlashOpKind::MassErase => "mass-erase",
            FlashOpKind::OptionProgram => "option-program",
            FlashOpKind::Erase => "erase",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<FlashOpKind> {
        FlashOpKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Programs of main flash (double-word or row).
    pub fn is_program(self) -> bool {
        matches!(self, FlashOpKind::Program | FlashOpKind::FastProgram)
    }

    /// Erases of main flash (page or mass, or a refused request for one).
    pub fn is_erase(self) -> bool {
        matches!(
            self,
            FlashOpKind::PageErase | FlashOpKind::MassErase | FlashOpKind::Erase
        )
    }
}

impl fmt::Display for FlashOpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl OpKind {
    pub fn name(&self) -> FlashOpKind {
        match self {
            OpKind::Program { .. } => FlashOpKind::Program,
            OpKind::FastRow { .. } => FlashOpKind::FastProgram,
            OpKind::PageErase { .. } => FlashOpKind::PageErase,
            OpKind::MassErase { .. } => FlashOpKind::MassErase,
            OpKind::OptionProgram { .. } => FlashOpKind::OptionProgram,
        }
    }

    /// The flash address (or option-byte area address) the operation starts at.
    pub fn address(&self) -> u32 {
        match self {
            OpKind::Program { offset, .. } | OpKind::FastRow { offset, .. } => FLASH_BASE + offset,
            OpKind::PageErase { page } => FLASH_BASE + page * PAGE_SIZE,
            OpKind::MassErase { .. } => FLASH_BASE,
            OpKind::OptionProgram { .. } => OB_BASE,
        }
    }

    fn duration(&self) -> Picos {
        match self {
            OpKind::Program { .. } => time::PROGRAM,
            OpKind::FastRow { .. } => time::FAST_ROW,
            OpKind::PageErase { .. } => time::PAGE_ERASE,
            OpKind::MassErase { .. } => time::MASS_ERASE,
            OpKind::OptionProgram { .. } => time::OPTION_PROGRAM,
        }
    }
}

const FLASH_BASE: u32 = 0x0800_0000;
const OB_BASE: u32 = 0x1FFF_8000;

/// How an operation ended (or why it never started).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Started (or suspended) and not finished yet.
    Pending,
    Done,
    /// Power was cut while it ran.
    Torn,
    /// Power was cut as it was requested, before it had any effect.
    Dropped,
    /// Refused with this SR flag; the memory is unchanged.
    Refused(u32),
}

/// One entry of the operation log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRecord {
    /// 1, 2, 3... in the order operations were requested, refused ones included.
    pub seq: u64,
    pub core: CoreId,
    pub kind: FlashOpKind,
    pub address: u32,
    /// When it was requested and when it ends (or ended).
    pub start: Picos,
    pub end: Picos,
    pub outcome: Outcome,
}

/// An operation in progress.
#[derive(Clone, Debug)]
struct Running {
    seq: u64,
    kind: OpKind,
    core: CoreId,
    /// `None` while suspended by PES (it starts when the suspension is released).
    end: Option<Picos>,
}

/// The error-correction state of a double-word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ecc {
    /// A single-bit error, corrected on read (ECCC).
    Correctable,
    /// Uncorrectable (ECCD, NMI on the reading core): left by a torn program or erase.
    Uncorrectable,
}

/// Where an in-progress fast-programmed row stands.
#[derive(Clone, Debug)]
struct RowFill {
    offset: u32,
    words: Vec<u32>,
    last_write: Picos,
}

/// The flash controller.
#[derive(Clone, Debug)]
pub struct Flash {
    acr: u32,
    c2acr: u32,
    /// Status and control per initiating core: [CR/SR, C2CR/C2SR].
    status: [u32; 2],
    control: [u32; 2],
    locked: bool,
    opt_locked: bool,
    /// Key sequence position for KEYR / OPTKEYR (0: expecting the first key).
    key_stage: u8,
    optkey_stage: u8,
    /// A wrong key locks the registers until the next reset.
    key_lockout: bool,
    eccr: u32,
    /// The option registers as software sees (and writes) them.
    option_regs: OptionBytes,
    /// The option bytes in force since the last load (what the secure views use).
    option_live: OptionBytes,
    /// Slots whose complement failed at the last load.
    option_errors: Vec<usize>,
    /// First word of a double-word being programmed, per core: (offset, word).
    latch: [Option<(u32, u32)>; 2],
    row: [Option<RowFill>; 2],
    running: Option<Running>,
    ecc: BTreeMap<u32, Ecc>,
    log: Vec<OpRecord>,
    /// Main-array ranges changed since the machine last asked (for code invalidation).
    changed: Vec<(u32, u32)>,
    option_changed: bool,
    obl_launch: bool,
}

impl Default for Flash {
    fn default() -> Self {
        Flash::new()
    }
}

impl Flash {
    pub fn new() -> Flash {
        Flash {
            acr: acr::RESET,
            c2acr: acr::RESET,
            status: [0; 2],
            control: [0; 2],
            locked: true,
            opt_locked: true,
            key_stage: 0,
            optkey_stage: 0,
            key_lockout: false,
            eccr: 0,
            option_regs: OptionBytes::default(),
            option_live: OptionBytes::default(),
            option_errors: Vec::new(),
            latch: [None, None],
            row: [None, None],
            running: None,
            ecc: BTreeMap::new(),
            log: Vec::new(),
            changed: Vec::new(),
            option_changed: false,
            obl_launch: false,
        }
    }

    /// Reset the registers. A power-on or option-byte-load reset reloads the option bytes
    /// from the area; the ECC state and the log survive every reset (they describe the array).
    pub fn reset(&mut self, kind: ResetKind, mem: &FlashMem) {
        let keep = (std::mem::take(&mut self.ecc), std::mem::take(&mut self.log));
        let live = self.option_live;
        let errors = std::mem::take(&mut self.option_errors);
        *self = Flash {
            ecc: keep.0,
            log: keep.1,
            ..Flash::new()
        };
        match kind {
            ResetKind::PowerOn | ResetKind::OptionLoad => self.load_options(mem),
            ResetKind::System => {
                self.option_live = live;
                self.option_regs = live;
                self.option_errors = errors;
                if !self.option_errors.is_empty() {
                    self.status[0] |= sr::OPTVERR;
                }
            }
        }
    }

    fn load_options(&mut self, mem: &FlashMem) {
        let (values, bad) = OptionBytes::load(mem.ob);
        for &i in &bad {
            warn!(target: "wb::flash", slot = OPTION_SLOTS[i].name, value = format_args!("{:#010x}", values.0[i]), "option byte and complement differ: OPTVERR, loaded as its on_mismatch value");
        }
        // The chip sets OPTVERR at every power-up (ST errata, cleared by every CubeWB app);
        // here it means what the reference manual says: a complement check failed.
        if !bad.is_empty() {
            self.status[0] |= sr::OPTVERR;
        }
        self.option_live = values;
        self.option_regs = values;
        self.option_errors = bad;
        self.option_changed = true;
    }

    /// The option bytes in force.
    pub fn options(&self) -> &OptionBytes {
        &self.option_live
    }

    /// Whether C2BOOT starts CPU2 in safeboot ([`cpu2_boots_safeboot`] of the last load).
    pub fn cpu2_boots_safeboot(&self) -> bool {
        cpu2_boots_safeboot(&self.option_live, &self.option_errors)
    }

    /// OBL_LAUNCH was written: the machine must apply an option-byte-load reset.
    pub fn take_obl_launch(&mut self) -> bool {
        std::mem::take(&mut self.obl_launch)
    }

    /// Main-array byte ranges `[start, end)` (offsets) changed since the last call.
    pub fn take_changed(&mut self) -> Vec<(u32, u32)> {
        std::mem::take(&mut self.changed)
    }

    /// Whether the live option bytes changed (or were reloaded) since the last call.
    pub fn take_option_change(&mut self) -> bool {
        std::mem::take(&mut self.option_changed)
    }

    pub fn log(&self) -> &[OpRecord] {
        &self.log
    }

    pub fn ecc_errors(&self) -> &BTreeMap<u32, Ecc> {
        &self.ecc
    }

    /// FLASH_ECCR as software would read it.
    pub fn eccr(&self) -> u32 {
        self.eccr
    }

    /// Mark a double-word (by main-array offset) as holding an ECC error.
    pub fn inject_ecc(&mut self, offset: u32, ecc: Ecc) {
        self.ecc.insert(offset / DOUBLE_WORD, ecc);
    }

    /// Replace the whole ECC error map (keys: double-word index), as when a device is loaded.
    pub fn set_ecc_errors(&mut self, errors: BTreeMap<u32, Ecc>) {
        self.ecc = errors;
    }

    /// FLASH_ACR (CPU1) or FLASH_C2ACR (CPU2): LATENCY, PRFTEN, ICEN, DCEN for the cycle model.
    pub fn acr(&self, core: CoreId) -> u32 {
        match core {
            // LATENCY lives only in FLASH_ACR; CPU2 is paced by it too.
            CoreId::Cpu1 => self.acr,
            CoreId::Cpu2 => (self.c2acr & !acr::LATENCY) | (self.acr & acr::LATENCY),
        }
    }

    /// The time the operation in progress ends, if one runs (not while suspended).
    pub fn busy_until(&self) -> Option<Picos> {
        self.running.as_ref().and_then(|r| r.end)
    }

    /// Whether an operation is running or suspended (BSY).
    pub fn busy(&self) -> bool {
        self.running.is_some()
    }

    pub fn next_event(&self) -> Option<Picos> {
        self.busy_until()
    }

    /// Complete the operation due by `now`.
    pub fn advance(&mut self, now: Picos, mem: &mut FlashMem) {
        if self.busy_until().is_some_and(|t| t <= now) {
            self.complete(mem);
        }
    }

    /// Complete the running operation now (a core stalled until its end).
    pub fn complete(&mut self, mem: &mut FlashMem) {
        let Some(op) = self.running.take() else {
            return;
        };
        let Some(end) = op.end else {
            self.running = Some(op);
            return;
        };
        apply(&op.kind, mem, &mut self.ecc, &mut self.changed);
        if let OpKind::OptionProgram { .. } = op.kind {
            // New values reach the registers at the next option-byte load.
            trace!(target: "wb::flash", "option bytes programmed; live after OBL_LAUNCH or power-on");
        }
        let i = op.core.index();
        if self.control[i] & cr::EOPIE != 0 {
            self.status[i] |= sr::EOP;
        }
        self.control[i] &= !(cr::STRT | cr::OPTSTRT);
        self.record_end(op.seq, end, Outcome::Done);
    }

    /// Power is cut while an operation runs: leave it torn. `seed` picks how, by its class
    /// `seed % 4`, so that any four consecutive seeds give every outcome:
    ///
    /// - 0: unchanged (the cells were not reached yet);
    /// - 1: done, as if the operation had ended;
    /// - 2 and 3: partly done, a seeded amount. Program: a subset of the bits programmed, the
    ///   ECC invalid. Fast row: a prefix of double-words programmed, the boundary one torn.
    ///   Erase: a prefix erased, the boundary double-word invalid. Option bytes: the values
    ///   written, the complement of one slot the program changes not (the next load fails its
    ///   check).
    pub fn tear(&mut self, now: Picos, seed: u64, mem: &mut FlashMem) -> Option<u64> {
        let op = self.running.take()?;
        let mut rng = SplitMix(seed);
        if op.end.is_none() {
            // Suspended, never started: nothing was touched.
            self.record_end(op.seq, now, Outcome::Torn);
            return Some(op.seq);
        }
        match (seed % 4, &op.kind) {
            (0, _) => {}
            (1, kind) => apply(kind, mem, &mut self.ecc, &mut self.changed),
            (_, OpKind::Program { offset, data }) => self.tear_dw(*offset, *data, &mut rng, mem),
            (_, OpKind::FastRow { offset, data }) => {
                let done = (rng.next() % 64) as u32;
                for (k, d) in data.iter().enumerate().take(done as usize) {
                    let o = offset + k as u32 * DOUBLE_WORD;
                    mem.set_dw(o, mem.dw(o) & d);
                }
                self.changed.push((*offset, offset + done * DOUBLE_WORD));
                self.tear_dw(
                    offset + done * DOUBLE_WORD,
                    data[done as usize],
                    &mut rng,
                    mem,
                );
            }
            (_, OpKind::PageErase { page }) => {
                self.tear_erase(page * PAGE_SIZE, PAGE_SIZE, &mut rng, mem)
            }
            (_, OpKind::MassErase { end_page }) => {
                self.tear_erase(0, end_page * PAGE_SIZE, &mut rng, mem)
            }
            (_, OpKind::OptionProgram { values }) => {
                // The torn slot is one the program changes (any, if it changes none): the
                // others end as they were either way.
                let stored = |i: usize, ob: &[u8]| {
                    let at = OPTION_SLOTS[i].area_offset as usize;
                    u32::from_le_bytes(ob[at..at + 4].try_into().expect("4 bytes"))
                };
                let mut new = mem.ob.to_vec();
                values.store(&mut new);
                let changed: Vec<usize> = (0..OPTION_SLOTS.len())
                    .filter(|&i| stored(i, &new) != stored(i, mem.ob))
                    .collect();
                let pick = rng.next();
                let slot = match changed.len() {
                    0 => (pick % OPTION_SLOTS.len() as u64) as usize,
                    n => changed[(pick % n as u64) as usize],
                };
                values.store(mem.ob);
                let at = OPTION_SLOTS[slot].area_offset as usize + 4;
                mem.ob[at..at + 4].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
            }
        }
        self.record_end(op.seq, now, Outcome::Torn);
        Some(op.seq)
    }

    /// Feed `h` with the controller's state: everything but the log, which only records the
    /// past (the operation in progress without its sequence number, for the same reason).
    pub fn digest_state(&self, h: &mut dyn std::hash::Hasher) {
        let running = self.running.as_ref().map(|r| (&r.kind, r.core, r.end));
        let state = (
            (self.acr, self.c2acr, self.status, self.control),
            (
                self.locked,
                self.opt_locked,
                self.key_stage,
                self.optkey_stage,
                self.key_lockout,
            ),
            (
                self.eccr,
                self.option_regs,
                self.option_live,
                &self.option_errors,
            ),
            (self.latch, &self.row, running, &self.ecc),
            (&self.changed, self.option_changed, self.obl_launch),
        );
        h.write(format!("{state:?}").as_bytes());
    }

    /// Power is cut as the operation in progress is requested: it never takes effect.
    pub fn drop_running(&mut self, now: Picos) -> Option<u64> {
        let op = self.running.take()?;
        self.record_end(op.seq, now, Outcome::Dropped);
        Some(op.seq)
    }

    fn tear_dw(&mut self, offset: u32, data: u64, rng: &mut SplitMix, mem: &mut FlashMem) {
        // Programming clears bits: a random subset of the bits to clear made it.
        let cleared = !data & rng.next();
        mem.set_dw(offset, mem.dw(offset) & !cleared);
        self.ecc.insert(offset / DOUBLE_WORD, Ecc::Uncorrectable);
        self.changed.push((offset, offset + DOUBLE_WORD));
    }

    fn tear_erase(&mut self, start: u32, len: u32, rng: &mut SplitMix, mem: &mut FlashMem) {
        let dws = len / DOUBLE_WORD;
        let done = (rng.next() % dws as u64) as u32;
        let boundary = start + done * DOUBLE_WORD;
        mem.main[start as usize..boundary as usize].fill(0xFF);
        self.ecc
            .retain(|&dw, _| dw < start / DOUBLE_WORD || dw >= boundary / DOUBLE_WORD);
        // The boundary double-word is half-erased: some bits back at 1, ECC invalid.
        let v = mem.dw(boundary) | rng.next();
        mem.set_dw(boundary, v);
        self.ecc.insert(boundary / DOUBLE_WORD, Ecc::Uncorrectable);
        self.changed.push((start, boundary + DOUBLE_WORD));
    }

    /// A read of the double-word at main-array `offset` by `core` meets an ECC error: latch it in
    /// ECCR. Returns the error (the machine raises NMI on the reader for an uncorrectable one).
    pub fn ecc_read(&mut self, offset: u32, core: CoreId) -> Option<Ecc> {
        let dw = offset / DOUBLE_WORD;
        let e = *self.ecc.get(&dw)?;
        let cpuid = match core {
            CoreId::Cpu1 => 0,
            CoreId::Cpu2 => 1,
        };
        // The first error is kept until software clears its flag.
        if self.eccr & (eccr::ECCC | eccr::ECCD) == 0 {
            self.eccr =
                (self.eccr & eccr::ECCCIE) | (dw & eccr::ADDR_ECC) | (cpuid << eccr::CPUID_SHIFT);
        }
        self.eccr |= match e {
            Ecc::Correctable => eccr::ECCC,
            Ecc::Uncorrectable => eccr::ECCD,
        };
        Some(e)
    }

    /// A data read of main-array `offset` by `core`: CPU1's reads inside a PCROP area are
    /// refused, with RDERR in its status register (CPU2 is not restricted). Returns whether it
    /// was refused (the bus then reads 0). Instruction fetches are not data reads.
    pub fn pcrop_read(&mut self, offset: u32, core: CoreId) -> bool {
        let hit = core == CoreId::Cpu1
            && self
                .option_live
                .pcrop_areas()
                .any(|(s, e)| (s..e).contains(&offset));
        if hit {
            self.status[core.index()] |= sr::RDERR;
        }
        hit
    }

    /// The single flash interrupt line (CPU1 IRQ 4, CPU2 IRQ 4).
    pub fn irq_lines(&self) -> u32 {
        let mut on = false;
        for i in 0..2 {
            let (s, c) = (self.status[i], self.control[i]);
            on |= s & sr::EOP != 0 && c & cr::EOPIE != 0;
            on |= s & (sr::PROG_ERRORS | sr::OPERR) != 0 && c & cr::ERRIE != 0;
            on |= s & sr::RDERR != 0 && c & cr::RDERRIE != 0;
        }
        on |= self.eccr & eccr::ECCC != 0 && self.eccr & eccr::ECCCIE != 0;
        on as u32
    }

    /// Whether a register access must wait for the running operation (RM0434: CR and C2CR
    /// writes stall the bus while BSY). Returns the time the wait ends.
    pub fn register_stall(&self, offset: u32, write: bool) -> Option<Picos> {
        if write && (offset == reg::CR || offset == reg::C2CR) {
            self.busy_until()
        } else {
            None
        }
    }

    pub fn read(&mut self, offset: u32, a: Access) -> BusResult<u32> {
        if a.width != Width::Word {
            return Err(BusError::Width);
        }
        let shared = self.shared_status();
        Ok(match offset {
            reg::ACR => self.acr,
            reg::C2ACR => self.c2acr,
            reg::KEYR | reg::OPTKEYR => 0,
            reg::SR => self.status[0] | shared,
            reg::C2SR => (self.status[1] & !sr::OPTVERR) | shared,
            reg::CR => {
                self.control[0]
                    | if self.locked { cr::LOCK } else { 0 }
                    | if self.opt_locked { cr::OPTLOCK } else { 0 }
            }
            reg::C2CR => self.control[1],
            reg::ECCR => self.eccr,
            _ => match self.option_regs.get(offset) {
                Some(v) => v,
                None => {
                    warn!(target: "wb::flash", offset = format_args!("{offset:#x}"), "read of an unimplemented FLASH register");
                    return Err(BusError::Unmapped);
                }
            },
        })
    }

    /// BSY / CFGBSY / PESD, seen in both SR and C2SR.
    fn shared_status(&self) -> u32 {
        let mut s = 0;
        if self.running.is_some() {
            s |= sr::BSY | sr::CFGBSY;
        }
        if self.latch.iter().any(Option::is_some) || self.row.iter().any(Option::is_some) {
            s |= sr::CFGBSY;
        }
        if (self.acr | self.c2acr) & acr::PES != 0 {
            s |= sr::PESD;
        }
        s
    }

    pub fn write(&mut self, offset: u32, value: u32, a: Access) -> BusResult<()> {
        if a.width != Width::Word {
            return Err(BusError::Width);
        }
        match offset {
            reg::ACR | reg::C2ACR => {
                let old_pes = (self.acr | self.c2acr) & acr::PES;
                let r = if offset == reg::ACR {
                    &mut self.acr
                } else {
                    &mut self.c2acr
                };
                let mask = acr::LATENCY | acr::PRFTEN | acr::ICEN | acr::DCEN | acr::PES;
                *r = (*r & !mask) | (value & mask);
                if old_pes != 0 && (self.acr | self.c2acr) & acr::PES == 0 {
                    self.release_suspended(a.now);
                }
            }
            reg::KEYR => return self.key(value, false),
            reg::OPTKEYR => return self.key(value, true),
            reg::SR | reg::C2SR => {
                let j = if offset == reg::SR { 0 } else { 1 };
                self.status[j] &= !(value & sr::W1C);
            }
            reg::CR | reg::C2CR => {
                let j = if offset == reg::CR { 0 } else { 1 };
                return self.write_cr(j, value, a);
            }
            reg::ECCR => {
                self.eccr &= !(value & (eccr::ECCC | eccr::ECCD));
                self.eccr = (self.eccr & !eccr::ECCCIE) | (value & eccr::ECCCIE);
            }
            _ => {
                let Some(slot) = OPTION_SLOTS.iter().find(|s| s.register == offset) else {
                    warn!(target: "wb::flash", offset = format_args!("{offset:#x}"), "write to an unimplemented FLASH register");
                    return Err(BusError::Unmapped);
                };
                if self.opt_locked {
                    trace!(target: "wb::flash", reg = slot.name, "option register write ignored: OPTLOCK");
                } else if slot.cpu2_only && a.core != CoreId::Cpu2 {
                    trace!(target: "wb::flash", reg = slot.name, "option register write ignored: CPU2 only");
                } else {
                    self.option_regs.set(offset, value);
                }
            }
        }
        Ok(())
    }

    fn key(&mut self, value: u32, option: bool) -> BusResult<()> {
        let (stage, keys) = if option {
            (&mut self.optkey_stage, [OPTKEY1, OPTKEY2])
        } else {
            (&mut self.key_stage, [KEY1, KEY2])
        };
        // Option keys are only taken once CR is unlocked.
        let usable = !self.key_lockout && (!option || !self.locked);
        if usable && value == keys[*stage as usize] {
            *stage += 1;
            if *stage == 2 {
                *stage = 0;
                if option {
                    self.opt_locked = false;
                } else {
                    self.locked = false;
                }
            }
            return Ok(());
        }
        // A wrong sequence: a bus error, and the registers stay locked until the next reset.
        warn!(target: "wb::flash", option, "wrong flash key sequence: locked until reset");
        *stage = 0;
        self.key_lockout = true;
        self.locked = true;
        self.opt_locked = true;
        Err(BusError::Denied)
    }

    fn write_cr(&mut self, j: usize, value: u32, a: Access) -> BusResult<()> {
        if self.locked {
            trace!(target: "wb::flash", "CR write ignored: LOCK");
            return Ok(());
        }
        if self.running.as_ref().is_some_and(|r| r.end.is_none()) {
            // RM0434 §3.7: with PESD set and an operation pending, the write is a bus error.
            return Err(BusError::Denied);
        }
        self.control[j] = (self.control[j] & !cr::STORED) | (value & cr::STORED);
        if value & cr::PG == 0 {
            self.latch[j] = None;
        }
        if value & cr::FSTPG == 0 {
            self.row[j] = None;
        }
        if j == 0 {
            if value & cr::OPTLOCK != 0 {
                self.opt_locked = true;
            }
            if value & cr::OBL_LAUNCH != 0 && !self.opt_locked {
                self.obl_launch = true;
            }
            if value & cr::OPTSTRT != 0 {
                if self.opt_locked {
                    trace!(target: "wb::flash", "OPTSTRT ignored: OPTLOCK");
                } else {
                    let kind = OpKind::OptionProgram {
                        values: self.option_regs,
                    };
                    self.start(a.core, j, kind, a.now);
                }
            }
            if value & cr::LOCK != 0 {
                self.locked = true;
                self.opt_locked = true;
            }
        }
        if value & cr::STRT != 0 {
            self.start_erase(j, a);
        }
        Ok(())
    }

    fn start_erase(&mut self, j: usize, a: Access) {
        let c = self.control[j];
        let selected = c & (cr::PG | cr::PER | cr::MER | cr::FSTPG);
        let kind = if selected == cr::PER {
            OpKind::PageErase {
                page: (c & cr::PNB) >> cr::PNB_SHIFT,
            }
        } else if selected == cr::MER {
            OpKind::MassErase { end_page: PAGES }
        } else {
            self.refuse(a.core, j, FlashOpKind::Erase, FLASH_BASE, sr::PGSERR, a.now);
            return;
        };
        self.start(a.core, j, kind, a.now);
    }

    /// Check and start (or suspend) an operation requested through control register `j`.
    fn start(&mut self, core: CoreId, j: usize, kind: OpKind, now: Picos) {
        let addr = kind.address();
        if self.status[j] & sr::PROG_ERRORS != 0 || self.running.is_some() {
            self.refuse(core, j, kind.name(), addr, sr::PGSERR, now);
            return;
        }
        let kind = match kind {
            OpKind::MassErase { .. } if core == CoreId::Cpu1 => {
                // RM0434 Table 6: only CPU2 mass-erases; CPU1's request is refused.
                self.refuse(core, j, FlashOpKind::MassErase, addr, sr::WRPERR, now);
                return;
            }
            OpKind::MassErase { .. } => OpKind::MassErase {
                end_page: self.user_pages(core),
            },
            other => other,
        };
        if let Some(flag) = self.protection_error(core, &kind) {
            self.refuse(core, j, kind.name(), addr, flag, now);
            return;
        }
        let seq = self.log.len() as u64 + 1;
        let suspended = (self.acr | self.c2acr) & acr::PES != 0;
        let end = (!suspended).then(|| now + kind.duration());
        trace!(target: "wb::flash", seq, %core, kind = %kind.name(), addr = format_args!("{addr:#010x}"), suspended, "operation starts");
        self.log.push(OpRecord {
            seq,
            core,
            kind: kind.name(),
            address: addr,
            start: now,
            end: end.unwrap_or(now),
            outcome: Outcome::Pending,
        });
        self.running = Some(Running {
            seq,
            kind,
            core,
            end,
        });
    }

    fn release_suspended(&mut self, now: Picos) {
        if let Some(r) = self.running.as_mut().filter(|r| r.end.is_none()) {
            let end = now + r.kind.duration();
            r.end = Some(end);
            let rec = &mut self.log[(r.seq - 1) as usize];
            rec.start = now;
            rec.end = end;
        }
    }

    /// Pages `core` may erase or program below: all of them for CPU2, below SFSA for CPU1.
    fn user_pages(&self, core: CoreId) -> u32 {
        match (core, self.option_live.secure_flash_page()) {
            (CoreId::Cpu1, Some(sfsa)) => sfsa,
            _ => PAGES,
        }
    }

    /// WRPERR when the operation touches a write-protected page or (for CPU1) secure flash.
    fn protection_error(&self, core: CoreId, kind: &OpKind) -> Option<u32> {
        let pages = match kind {
            OpKind::Program { offset, .. } | OpKind::FastRow { offset, .. } => {
                (offset / PAGE_SIZE, offset / PAGE_SIZE)
            }
            OpKind::PageErase { page } => (*page, *page),
            OpKind::MassErase { end_page } => (0, end_page.saturating_sub(1)),
            OpKind::OptionProgram { .. } => return None,
        };
        let secure = pages.1 >= self.user_pages(core);
        let wrp = self
            .option_live
            .wrp_areas()
            .any(|(s, e)| pages.0 <= e && s <= pages.1);
        // PCROP areas can be neither programmed nor erased.
        let (lo, hi) = (pages.0 * PAGE_SIZE, (pages.1 + 1) * PAGE_SIZE);
        let pcrop = self
            .option_live
            .pcrop_areas()
            .any(|(s, e)| lo < e && s < hi);
        (secure || wrp || pcrop).then_some(sr::WRPERR)
    }

    fn refuse(
        &mut self,
        core: CoreId,
        j: usize,
        kind: FlashOpKind,
        address: u32,
        flag: u32,
        now: Picos,
    ) {
        self.status[j] |= flag;
        self.latch[j] = None;
        self.row[j] = None;
        let seq = self.log.len() as u64 + 1;
        trace!(target: "wb::flash", seq, %core, %kind, addr = format_args!("{address:#010x}"), flag, "operation refused");
        self.log.push(OpRecord {
            seq,
            core,
            kind,
            address,
            start: now,
            end: now,
            outcome: Outcome::Refused(flag),
        });
    }

    fn record_end(&mut self, seq: u64, end: Picos, outcome: Outcome) {
        let rec = &mut self.log[(seq - 1) as usize];
        rec.end = end;
        rec.outcome = outcome;
    }

    /// A store into the main array at `offset` (the machine routes flash writes here). The
    /// caller first waits out a running operation (`busy_until`).
    pub fn program_write(&mut self, offset: u32, value: u32, a: Access, mem: &mut FlashMem) {
        let (core, j) = (a.core, a.core.index());
        let addr = FLASH_BASE + offset;
        let c = self.control[j];
        if a.width != Width::Word {
            self.refuse(core, j, FlashOpKind::Program, addr, sr::SIZERR, a.now);
            return;
        }
        let mode = c & (cr::PG | cr::FSTPG | cr::PER | cr::MER);
        let starting = self.latch[j].is_none() && self.row[j].is_none();
        if starting && self.status[j] & sr::PROG_ERRORS != 0 {
            // A new double-word (or row) while an error is still flagged: a sequence error.
            self.refuse(core, j, FlashOpKind::Program, addr, sr::PGSERR, a.now);
        } else if mode == cr::PG {
            self.program_word(core, j, offset, value, a.now, mem);
        } else if mode == cr::FSTPG {
            self.fast_word(core, j, offset, value, a.now, mem);
        } else {
            // A store to flash without PG (or with an erase selected): a sequence error.
            self.refuse(core, j, FlashOpKind::Program, addr, sr::PGSERR, a.now);
        }
    }

    fn program_word(
        &mut self,
        core: CoreId,
        j: usize,
        offset: u32,
        value: u32,
        now: Picos,
        mem: &mut FlashMem,
    ) {
        let addr = FLASH_BASE + offset;
        match self.latch[j].take() {
            None if offset.is_multiple_of(DOUBLE_WORD) => self.latch[j] = Some((offset, value)),
            None => self.refuse(core, j, FlashOpKind::Program, addr, sr::PGAERR, now),
            Some((first, _)) if offset != first + 4 => {
                self.refuse(core, j, FlashOpKind::Program, addr, sr::PGAERR, now)
            }
            Some((first, lo)) => {
                let data = lo as u64 | (value as u64) << 32;
                // Only an erased double-word takes data (all-zero may overwrite anything).
                if mem.dw(first) != u64::MAX && data != 0 {
                    self.refuse(
                        core,
                        j,
                        FlashOpKind::Program,
                        FLASH_BASE + first,
                        sr::PROGERR,
                        now,
                    );
                    return;
                }
                self.start(
                    core,
                    j,
                    OpKind::Program {
                        offset: first,
                        data,
                    },
                    now,
                );
            }
        }
    }

    fn fast_word(
        &mut self,
        core: CoreId,
        j: usize,
        offset: u32,
        value: u32,
        now: Picos,
        mem: &mut FlashMem,
    ) {
        let addr = FLASH_BASE + offset;
        let mut fill = match self.row[j].take() {
            None if offset.is_multiple_of(ROW_SIZE) => RowFill {
                offset,
                words: Vec::with_capacity(128),
                last_write: now,
            },
            None => return self.refuse(core, j, FlashOpKind::FastProgram, addr, sr::PGAERR, now),
            Some(f) => f,
        };
        if offset != fill.offset + 4 * fill.words.len() as u32 {
            return self.refuse(
                core,
                j,
                FlashOpKind::FastProgram,
                addr,
                sr::PGAERR | sr::FASTERR,
                now,
            );
        }
        if now.saturating_sub(fill.last_write) > time::FAST_GAP {
            return self.refuse(core, j, FlashOpKind::FastProgram, addr, sr::MISERR, now);
        }
        fill.words.push(value);
        fill.last_write = now;
        if fill.words.len() < 128 {
            self.row[j] = Some(fill);
            return;
        }
        let data: Vec<u64> = fill
            .words
            .chunks(2)
            .map(|w| w[0] as u64 | (w[1] as u64) << 32)
            .collect();
        let erased = (0..64).all(|k| mem.dw(fill.offset + k * DOUBLE_WORD) == u64::MAX);
        if !erased {
            return self.refuse(
                core,
                j,
                FlashOpKind::FastProgram,
                FLASH_BASE + fill.offset,
                sr::PROGERR | sr::FASTERR,
                now,
            );
        }
        self.start(
            core,
            j,
            OpKind::FastRow {
                offset: fill.offset,
                data,
            },
            now,
        );
    }
}

/// Put a completed operation's effect into the memories.
fn apply(
    kind: &OpKind,
    mem: &mut FlashMem,
    ecc: &mut BTreeMap<u32, Ecc>,
    changed: &mut Vec<(u32, u32)>,
) {
    let mut erase = |start: u32, len: u32, mem: &mut FlashMem| {
        mem.main[start as usize..(start + len) as usize].fill(0xFF);
        ecc.retain(|&dw, _| dw < start / DOUBLE_WORD || dw >= (start + len) / DOUBLE_WORD);
        changed.push((start, start + len));
    };
    match kind {
        OpKind::Program { offset, data } => {
            mem.set_dw(*offset, mem.dw(*offset) & data);
            changed.push((*offset, offset + DOUBLE_WORD));
        }
        OpKind::FastRow { offset, data } => {
            for (k, d) in data.iter().enumerate() {
                let o = offset + k as u32 * DOUBLE_WORD;
                mem.set_dw(o, mem.dw(o) & d);
            }
            changed.push((*offset, offset + ROW_SIZE));
        }
        OpKind::PageErase { page } => erase(page * PAGE_SIZE, PAGE_SIZE, mem),
        OpKind::MassErase { end_page } => erase(0, end_page * PAGE_SIZE, mem),
        OpKind::OptionProgram { values } => values.store(mem.ob),
    }
}

/// A small seeded generator (SplitMix64): torn operations are reproducible from their seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;

    /// A flash controller with its memories and a clock, driven like the HAL drives it.
    pub struct Rig {
        pub f: Flash,
        pub main: Vec<u8>,
        pub ob: Vec<u8>,
        pub now: Picos,
    }

    impl Rig {
        pub fn new(options: OptionBytes) -> Rig {
            let mut ob = vec![0xFF; OB_SIZE as usize];
            options.store(&mut ob);
            let mut r = Rig {
                f: Flash::new(),
                main: vec![0xFF; MAIN_SIZE as usize],
                ob,
                now: 0,
            };
            r.reset(ResetKind::PowerOn);
            r
        }

        pub fn reset(&mut self, kind: ResetKind) {
            let mem = FlashMem {
                main: &mut self.main,
                ob: &mut self.ob,
            };
            self.f.reset(kind, &mem);
        }

        pub fn access(&self, core: CoreId) -> Access {
            Access {
                core,
                width: Width::Word,
                now: self.now,
            }
        }

        pub fn w(&mut self, core: CoreId, off: u32, v: u32) -> BusResult<()> {
            self.settle_if_stalled(off);
            let a = self.access(core);
            self.f.write(off, v, a)
        }

        pub fn r(&mut self, core: CoreId, off: u32) -> u32 {
            let a = self.access(core);
            self.f.read(off, a).unwrap()
        }

        pub fn store(&mut self, core: CoreId, offset: u32, v: u32) {
            self.settle();
            let a = self.access(core);
            let mut mem = FlashMem {
                main: &mut self.main,
                ob: &mut self.ob,
            };
            self.f.program_write(offset, v, a, &mut mem);
            self.now += 1_000;
        }

        /// Wait for the running operation, as a core polling BSY would.
        pub fn settle(&mut self) {
            if let Some(t) = self.f.busy_until() {
                self.now = self.now.max(t);
                let mut mem = FlashMem {
                    main: &mut self.main,
                    ob: &mut self.ob,
                };
                self.f.advance(self.now, &mut mem);
            }
        }

        pub fn settle_if_stalled(&mut self, off: u32) {
            if self.f.register_stall(off, true).is_some() {
                self.settle();
            }
        }

        pub fn unlock(&mut self, core: CoreId) {
            self.w(core, reg::KEYR, KEY1).unwrap();
            self.w(core, reg::KEYR, KEY2).unwrap();
        }

        pub fn dw(&self, offset: u32) -> u64 {
            u64::from_le_bytes(
                self.main[offset as usize..offset as usize + 8]
                    .try_into()
                    .unwrap(),
            )
        }

        pub fn cr_reg(core: CoreId) -> (u32, u32) {
            match core {
                CoreId::Cpu1 => (reg::CR, reg::SR),
                CoreId::Cpu2 => (reg::C2CR, reg::C2SR),
            }
        }

        /// HAL_FLASH_Program(DOUBLEWORD): PG, two words, wait, clear PG. Returns SR errors.
        pub fn program(&mut self, core: CoreId, offset: u32, data: u64) -> u32 {
            let (cr_off, sr_off) = Rig::cr_reg(core);
            self.w(core, cr_off, cr::PG).unwrap();
            self.store(core, offset, data as u32);
            self.store(core, offset + 4, (data >> 32) as u32);
            self.settle();
            let errors = self.r(core, sr_off) & sr::W1C & !sr::EOP;
            self.w(core, cr_off, 0).unwrap();
            self.w(core, sr_off, sr::W1C).unwrap();
            errors
        }

        /// FLASH_PageErase: PER + PNB + STRT in one write, wait, clear. Returns SR errors.
        pub fn erase(&mut self, core: CoreId, page: u32) -> u32 {
            let (cr_off, sr_off) = Rig::cr_reg(core);
            self.w(core, cr_off, cr::PER | (page << cr::PNB_SHIFT) | cr::STRT)
                .unwrap();
            self.settle();
            let errors = self.r(core, sr_off) & sr::W1C & !sr::EOP;
            self.w(core, cr_off, 0).unwrap();
            self.w(core, sr_off, sr::W1C).unwrap();
            errors
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    fn secure_options(sfsa: u32) -> OptionBytes {
        let mut o = OptionBytes::default();
        o.set(reg::SFR, sfsa); // FSD = 0: secure
        o
    }

    use CoreId::{Cpu1, Cpu2};

    #[test]
    fn reset_values_and_lock() {
        let mut r = Rig::new(OptionBytes::default());
        assert_eq!(r.r(Cpu1, reg::ACR), 0x600);
        assert_eq!(r.r(Cpu1, reg::CR), cr::LOCK | cr::OPTLOCK);
        assert_eq!(r.r(Cpu1, reg::SR), 0);
        assert_eq!(r.r(Cpu1, reg::OPTR), 0x3FFF_F1AA);
        // Locked: CR writes do nothing.
        r.w(Cpu1, reg::CR, cr::PG).unwrap();
        assert_eq!(r.r(Cpu1, reg::CR) & cr::PG, 0);
        r.unlock(Cpu1);
        assert_eq!(r.r(Cpu1, reg::CR), cr::OPTLOCK);
        r.w(Cpu1, reg::OPTKEYR, OPTKEY1).unwrap();
        r.w(Cpu1, reg::OPTKEYR, OPTKEY2).unwrap();
        assert_eq!(r.r(Cpu1, reg::CR), 0);
        r.w(Cpu1, reg::CR, cr::LOCK).unwrap();
        assert_eq!(r.r(Cpu1, reg::CR), cr::LOCK | cr::OPTLOCK);
    }

    #[test]
    fn a_wrong_key_locks_until_reset() {
        let mut r = Rig::new(OptionBytes::default());
        r.w(Cpu1, reg::KEYR, KEY1).unwrap();
        assert_eq!(r.w(Cpu1, reg::KEYR, 0x1234_5678), Err(BusError::Denied));
        // Even the right sequence no longer unlocks.
        assert!(r.w(Cpu1, reg::KEYR, KEY1).is_err());
        assert_ne!(r.r(Cpu1, reg::CR) & cr::LOCK, 0);
        r.reset(ResetKind::System);
        r.unlock(Cpu1);
        assert_eq!(r.r(Cpu1, reg::CR) & cr::LOCK, 0);
    }

    #[test]
    fn double_word_programming() {
        let mut r = Rig::new(OptionBytes::default());
        r.unlock(Cpu1);
        r.w(Cpu1, reg::CR, cr::PG).unwrap();
        r.store(Cpu1, 0x100, 0x1111_2222);
        assert_eq!(
            r.r(Cpu1, reg::SR) & (sr::BSY | sr::CFGBSY),
            sr::CFGBSY,
            "first word latched"
        );
        r.store(Cpu1, 0x104, 0x3333_4444);
        assert_ne!(r.r(Cpu1, reg::SR) & sr::BSY, 0);
        assert_eq!(
            r.dw(0x100),
            u64::MAX,
            "the data lands when the operation completes"
        );
        let end = r.f.busy_until().unwrap();
        assert_eq!(end - r.now + 1_000, time::PROGRAM);
        r.settle();
        assert_eq!(r.dw(0x100), 0x3333_4444_1111_2222);
        // No EOPIE, no EOP.
        assert_eq!(r.r(Cpu1, reg::SR), 0);
        assert_eq!(r.f.take_changed(), vec![(0x100, 0x108)]);
        let rec = r.f.log().last().unwrap();
        assert_eq!(
            (rec.seq, rec.kind, rec.address, rec.outcome),
            (1, FlashOpKind::Program, 0x0800_0100, Outcome::Done)
        );
    }

    #[test]
    fn programming_errors() {
        let mut r = Rig::new(OptionBytes::default());
        r.unlock(Cpu1);
        assert_eq!(r.program(Cpu1, 0x0, 0x1234), 0);
        // Not erased: PROGERR, unchanged; all-zero is allowed anyway.
        assert_eq!(r.program(Cpu1, 0x0, 0x5678), sr::PROGERR);
        assert_eq!(r.dw(0), 0x1234);
        assert_eq!(r.program(Cpu1, 0x0, 0), 0);
        assert_eq!(r.dw(0), 0);
        // Misaligned first word: PGAERR (and the second word meets the uncleared error).
        assert_eq!(r.program(Cpu1, 0x204, 1), sr::PGAERR | sr::PGSERR);
        // Second word elsewhere: PGAERR.
        r.w(Cpu1, reg::CR, cr::PG).unwrap();
        r.store(Cpu1, 0x300, 1);
        r.store(Cpu1, 0x30C, 2);
        assert_eq!(r.r(Cpu1, reg::SR) & sr::PGAERR, sr::PGAERR);
        // A new operation with an error still flagged: PGSERR.
        r.store(Cpu1, 0x400, 1);
        r.store(Cpu1, 0x404, 1);
        assert_ne!(r.r(Cpu1, reg::SR) & sr::PGSERR, 0);
        assert_eq!(r.dw(0x400), u64::MAX);
        r.w(Cpu1, reg::SR, sr::W1C).unwrap();
        // A byte store: SIZERR.
        let a = Access {
            core: Cpu1,
            width: Width::Byte,
            now: r.now,
        };
        let mut mem = FlashMem {
            main: &mut r.main,
            ob: &mut r.ob,
        };
        r.f.program_write(0x500, 1, a, &mut mem);
        assert_ne!(r.r(Cpu1, reg::SR) & sr::SIZERR, 0);
        r.w(Cpu1, reg::SR, sr::W1C).unwrap();
        // A store without PG: PGSERR.
        r.w(Cpu1, reg::CR, 0).unwrap();
        r.store(Cpu1, 0x600, 1);
        assert_ne!(r.r(Cpu1, reg::SR) & sr::PGSERR, 0);
        assert!(
            r.f.log()
                .iter()
                .filter(|l| matches!(l.outcome, Outcome::Refused(_)))
                .count()
                >= 5
        );
    }

    #[test]
    fn page_and_mass_erase_with_protection() {
        let mut o = secure_options(0xF4);
        o.set(reg::WRP1AR, 0x0003_0002); // pages 2..=3 write-protected
        let mut r = Rig::new(o);
        r.unlock(Cpu1);
        r.main[0x5000..0x6000].fill(0);
        r.main[0x2000..0x3000].fill(0);
        r.main[0xF4000..0xF5000].fill(0);
        assert_eq!(r.erase(Cpu1, 5), 0);
        assert!(r.main[0x5000..0x6000].iter().all(|b| *b == 0xFF));
        let rec = r.f.log().last().unwrap();
        assert_eq!(rec.end - rec.start, time::PAGE_ERASE);
        assert_eq!(r.erase(Cpu1, 2), sr::WRPERR, "WRP area");
        assert_eq!(r.erase(Cpu1, 0xF4), sr::WRPERR, "secure page from CPU1");
        assert_eq!(r.main[0xF4000], 0);
        assert_eq!(r.program(Cpu1, 0xF4000 + 8, 0), sr::WRPERR);
        assert_eq!(r.erase(Cpu2, 0xF4), 0, "CPU2 may");
        assert_eq!(r.main[0xF4000], 0xFF);
        // Mass erase: refused from CPU1; from CPU2 it erases everything.
        r.w(Cpu1, reg::CR, cr::MER | cr::STRT).unwrap();
        assert_ne!(r.r(Cpu1, reg::SR) & sr::WRPERR, 0);
        r.w(Cpu1, reg::SR, sr::W1C).unwrap();
        r.w(Cpu2, reg::C2CR, cr::MER | cr::STRT).unwrap();
        assert_ne!(
            r.r(Cpu2, reg::C2SR) & sr::WRPERR,
            0,
            "a WRP area blocks mass erase"
        );
        let mut r = Rig::new(secure_options(0xF4));
        r.unlock(Cpu2);
        r.main[0xF4000..0xF5000].fill(0);
        r.w(Cpu2, reg::C2CR, cr::MER | cr::STRT).unwrap();
        assert_ne!(r.r(Cpu1, reg::SR) & sr::BSY, 0, "BSY shows in both views");
        r.settle();
        assert!(r.main.iter().all(|b| *b == 0xFF));
    }

    #[test]
    fn eop_and_error_interrupts() {
        let mut r = Rig::new(OptionBytes::default());
        r.unlock(Cpu2);
        r.w(Cpu2, reg::C2CR, cr::PER | cr::STRT | cr::EOPIE)
            .unwrap();
        assert_eq!(r.f.irq_lines(), 0);
        r.settle();
        assert_eq!(r.r(Cpu2, reg::C2SR) & sr::EOP, sr::EOP);
        assert_eq!(
            r.r(Cpu1, reg::SR) & sr::EOP,
            0,
            "EOP goes to the initiating core's SR"
        );
        assert_eq!(r.f.irq_lines(), 1);
        r.w(Cpu2, reg::C2SR, sr::EOP).unwrap();
        assert_eq!(r.f.irq_lines(), 0);
        r.w(Cpu1, reg::CR, cr::ERRIE | cr::PER | cr::MER | cr::STRT)
            .unwrap();
        assert_ne!(r.r(Cpu1, reg::SR) & sr::PGSERR, 0);
        assert_eq!(r.f.irq_lines(), 1);
    }

    #[test]
    fn suspend_holds_new_operations_until_released() {
        let mut r = Rig::new(OptionBytes::default());
        r.unlock(Cpu1);
        r.w(Cpu2, reg::C2ACR, acr::RESET | acr::PES).unwrap();
        assert_ne!(r.r(Cpu1, reg::SR) & sr::PESD, 0);
        r.main[0x1000] = 0;
        r.w(Cpu1, reg::CR, cr::PER | (1 << cr::PNB_SHIFT) | cr::STRT)
            .unwrap();
        assert_ne!(r.r(Cpu1, reg::SR) & sr::BSY, 0);
        assert_eq!(r.f.busy_until(), None, "suspended: not running");
        // CR writes while suspended with an operation pending: a bus error.
        assert_eq!(r.w(Cpu1, reg::CR, 0), Err(BusError::Denied));
        r.now += 5_000_000;
        r.w(Cpu2, reg::C2ACR, acr::RESET).unwrap();
        assert_eq!(r.f.busy_until(), Some(r.now + time::PAGE_ERASE));
        r.settle();
        assert_eq!(r.main[0x1000], 0xFF);
    }

    #[test]
    fn option_bytes_program_then_load() {
        let mut r = Rig::new(OptionBytes::default());
        r.unlock(Cpu1);
        r.w(Cpu1, reg::OPTKEYR, OPTKEY1).unwrap();
        r.w(Cpu1, reg::OPTKEYR, OPTKEY2).unwrap();
        r.w(Cpu1, reg::IPCCBR, 0x12).unwrap();
        r.w(Cpu1, reg::SFR, 0x0000_00F0).unwrap(); // ignored: CPU2 only
        r.w(Cpu2, reg::SRRVR, 0x8003_D000).unwrap();
        assert_eq!(r.r(Cpu1, reg::IPCCBR), 0x12);
        assert_eq!(r.r(Cpu1, reg::SFR), 0x1FF);
        r.w(Cpu1, reg::CR, cr::OPTSTRT).unwrap();
        r.settle();
        let word = |ob: &[u8], at: usize| u32::from_le_bytes(ob[at..at + 4].try_into().unwrap());
        assert_eq!((word(&r.ob, 0x68), word(&r.ob, 0x6C)), (0x12, !0x12));
        assert_eq!(word(&r.ob, 0x78), 0x8003_D000);
        // Not live until an option-byte load.
        assert_eq!(r.f.options().cpu2_boot_vector(), 0x0808_0000);
        r.w(Cpu1, reg::CR, cr::OBL_LAUNCH).unwrap();
        assert!(r.f.take_obl_launch());
        r.reset(ResetKind::OptionLoad);
        assert_eq!(r.f.options().cpu2_boot_vector(), 0x080F_4000);
        assert_eq!(r.r(Cpu1, reg::IPCCBR), 0x12);
        assert_eq!(r.r(Cpu1, reg::SR) & sr::OPTVERR, 0);
    }

    #[test]
    fn a_complement_mismatch_sets_optverr() {
        let mut r = Rig::new(OptionBytes::default());
        r.ob[0x7C] ^= 1; // SRRVR's complement
        r.reset(ResetKind::PowerOn);
        assert_ne!(r.r(Cpu1, reg::SR) & sr::OPTVERR, 0);
        assert!(r.f.cpu2_boots_safeboot());
        assert_eq!(r.r(Cpu2, reg::C2SR) & sr::OPTVERR, 0);
        // SRAM2 locked from its first byte; the flash as it was.
        assert_eq!(r.f.options().sram2a_secure_from(), Some(0));
        assert_eq!(r.f.options().sram2b_secure_from(), Some(0));
        assert_eq!(r.f.options().secure_flash_page(), None);
        // A broken SFR locks every page.
        let mut r = Rig::new(OptionBytes::default());
        r.ob[0x74] ^= 0x10;
        r.reset(ResetKind::PowerOn);
        assert_eq!(r.f.options().secure_flash_page(), Some(0));
        assert_eq!(r.r(Cpu2, reg::SFR), 0);
    }

    #[test]
    fn torn_operations() {
        // Any four consecutive seeds leave a torn program in each of its three states.
        for first in 0..8 {
            let mut seen = [false; 3];
            for seed in first..first + 4 {
                let mut r = Rig::new(OptionBytes::default());
                r.unlock(Cpu1);
                r.w(Cpu1, reg::CR, cr::PG).unwrap();
                r.store(Cpu1, 0x800, 0x0000_FFFF);
                r.store(Cpu1, 0x804, 0xFFFF_0000);
                let mut mem = FlashMem {
                    main: &mut r.main,
                    ob: &mut r.ob,
                };
                assert_eq!(r.f.tear(r.now, seed, &mut mem), Some(1));
                let v = r.dw(0x800);
                let bad = r.f.ecc_errors().contains_key(&(0x800 / 8));
                match (v, bad) {
                    (u64::MAX, false) => seen[0] = true,
                    (0xFFFF_0000_0000_FFFF, false) => seen[1] = true,
                    (v, true) => {
                        // Only bits the program would clear are cleared.
                        assert_eq!(v & 0xFFFF_0000_0000_FFFF, 0xFFFF_0000_0000_FFFF);
                        seen[2] = true;
                    }
                    other => panic!("torn program left {other:x?}"),
                }
                assert_eq!(r.f.log()[0].outcome, Outcome::Torn);
            }
            assert_eq!(seen, [true; 3], "seeds {first}..{}", first + 4);
        }

        let mut r = Rig::new(OptionBytes::default());
        r.unlock(Cpu1);
        r.main[0x3000..0x4000].fill(0);
        r.w(Cpu1, reg::CR, cr::PER | (3 << cr::PNB_SHIFT) | cr::STRT)
            .unwrap();
        let mut mem = FlashMem {
            main: &mut r.main,
            ob: &mut r.ob,
        };
        r.f.tear(r.now, 7, &mut mem);
        let erased = r.main[0x3000..0x4000]
            .iter()
            .take_while(|b| **b == 0xFF)
            .count() as u32;
        let boundary = 0x3000 + erased / 8 * 8;
        assert!(
            r.main[boundary as usize + 8..0x4000]
                .iter()
                .all(|b| *b == 0),
            "the rest unchanged"
        );
        assert_eq!(
            r.f.ecc_errors().get(&(boundary / 8)),
            Some(&Ecc::Uncorrectable)
        );
        assert_eq!(r.f.ecc_read(boundary, Cpu2), Some(Ecc::Uncorrectable));
        let e = r.r(Cpu1, reg::ECCR);
        assert_eq!(
            (
                e & eccr::ADDR_ECC,
                e & eccr::ECCD != 0,
                (e >> eccr::CPUID_SHIFT) & 7
            ),
            (boundary / 8, true, 1)
        );
        // An erase clears the ECC state of its page.
        assert_eq!(r.erase(Cpu1, 3), 0);
        assert!(r.f.ecc_errors().is_empty());

        // A torn option-byte program fails its complement check at the next load.
        let mut r = Rig::new(OptionBytes::default());
        r.unlock(Cpu1);
        r.w(Cpu1, reg::OPTKEYR, OPTKEY1).unwrap();
        r.w(Cpu1, reg::OPTKEYR, OPTKEY2).unwrap();
        r.w(Cpu1, reg::CR, cr::OPTSTRT).unwrap();
        let mut mem = FlashMem {
            main: &mut r.main,
            ob: &mut r.ob,
        };
        r.f.tear(r.now, 3, &mut mem);
        r.reset(ResetKind::PowerOn);
        assert_ne!(r.r(Cpu1, reg::SR) & sr::OPTVERR, 0);
    }

    #[test]
    fn fast_programming_a_row() {
        let mut r = Rig::new(OptionBytes::default());
        r.unlock(Cpu1);
        r.w(Cpu1, reg::CR, cr::FSTPG).unwrap();
        for k in 0..128u32 {
            r.store(Cpu1, 0x2000 + 4 * k, k);
        }
        assert_eq!(
            r.f.busy_until().map(|t| t - r.now + 1_000),
            Some(time::FAST_ROW)
        );
        r.settle();
        assert_eq!(r.dw(0x2000 + 8 * 5), 11 << 32 | 10);
        // A gap longer than the programming time: MISERR.
        r.w(Cpu1, reg::CR, 0).unwrap();
        r.w(Cpu1, reg::CR, cr::FSTPG).unwrap();
        r.store(Cpu1, 0x2400, 1);
        r.now += time::FAST_GAP + 1;
        r.store(Cpu1, 0x2404, 1);
        assert_ne!(r.r(Cpu1, reg::SR) & sr::MISERR, 0);
        assert_eq!(r.dw(0x2400), u64::MAX);
    }
}

/// The flash controller against a tiny reference NOR model: random sequences of unlock, lock,
/// double-word programs and page erases from both cores, over ordinary, write-protected and
/// secure pages.
#[cfg(test)]
mod model_test {
    use super::tests_support::*;
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Pages the sequences use: two ordinary, one in WRP1A, one secure (≥ SFSA).
    const PAGES_USED: [u32; 4] = [0, 1, 2, 0xF4];

    #[derive(Clone, Debug)]
    enum Step {
        Unlock(CoreId),
        Lock,
        Program {
            core: CoreId,
            page: usize,
            dw: u32,
            data: u64,
        },
        Erase {
            core: CoreId,
            page: usize,
        },
    }

    fn core() -> impl Strategy<Value = CoreId> {
        prop_oneof![Just(CoreId::Cpu1), Just(CoreId::Cpu2)]
    }

    fn step() -> impl Strategy<Value = Step> {
        let data = prop_oneof![any::<u64>(), Just(0u64), Just(u64::MAX)];
        prop_oneof![
            1 => core().prop_map(Step::Unlock),
            1 => Just(Step::Lock),
            6 => (core(), 0..4usize, 0..4u32, data).prop_map(|(core, page, dw, data)| Step::Program { core, page, dw, data }),
            2 => (core(), 0..4usize).prop_map(|(core, page)| Step::Erase { core, page }),
        ]
    }

    /// NOR flash: bits only go from 1 to 0 by programming (into an erased double-word, or all
    /// zeros anywhere) and back to 1 by erasing a page; protected pages refuse both.
    struct Nor {
        dws: HashMap<u32, u64>,
        locked: bool,
    }

    impl Nor {
        fn get(&self, offset: u32) -> u64 {
            *self.dws.get(&offset).unwrap_or(&u64::MAX)
        }

        fn protected(core: CoreId, page: u32) -> bool {
            page == 2 || (core == CoreId::Cpu1 && page >= 0xF4)
        }

        fn program(&mut self, core: CoreId, offset: u32, data: u64) -> u32 {
            if self.locked {
                return sr::PGSERR;
            }
            if self.get(offset) != u64::MAX && data != 0 {
                return sr::PROGERR;
            }
            if Nor::protected(core, offset / PAGE_SIZE) {
                return sr::WRPERR;
            }
            let v = self.get(offset) & data;
            self.dws.insert(offset, v);
            0
        }

        fn erase(&mut self, core: CoreId, page: u32) -> u32 {
            if self.locked {
                return 0; // the CR write is ignored
            }
            if Nor::protected(core, page) {
                return sr::WRPERR;
            }
            self.dws.retain(|o, _| o / PAGE_SIZE != page);
            0
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn controller_matches_the_nor_model(steps in prop::collection::vec(step(), 1..60)) {
            let mut o = OptionBytes::default();
            o.set(reg::SFR, 0xF4);
            o.set(reg::WRP1AR, 0x0002_0002);
            let mut rig = Rig::new(o);
            let mut nor = Nor { dws: HashMap::new(), locked: true };
            for s in &steps {
                match *s {
                    Step::Unlock(c) => {
                        if rig.r(CoreId::Cpu1, reg::CR) & cr::LOCK != 0 {
                            rig.unlock(c);
                        }
                        nor.locked = false;
                    }
                    Step::Lock => {
                        rig.w(CoreId::Cpu1, reg::CR, cr::LOCK).unwrap();
                        nor.locked = true;
                    }
                    Step::Program { core, page, dw, data } => {
                        let offset = PAGES_USED[page] * PAGE_SIZE + dw * DOUBLE_WORD;
                        let got = rig.program(core, offset, data);
                        prop_assert_eq!(got, nor.program(core, offset, data), "{:?}", s);
                    }
                    Step::Erase { core, page } => {
                        let got = rig.erase(core, PAGES_USED[page]);
                        prop_assert_eq!(got, nor.erase(core, PAGES_USED[page]), "{:?}", s);
                    }
                }
                for p in PAGES_USED {
                    for dw in 0..4 {
                        let offset = p * PAGE_SIZE + dw * DOUBLE_WORD;
                        prop_assert_eq!(rig.dw(offset), nor.get(offset), "after {:?}", s);
                    }
                }
            }
        }
    }
}
