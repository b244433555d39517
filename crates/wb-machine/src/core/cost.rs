//! What a translated block costs: decoded once into a `Charge` (cycles, flash lines, how it
//! ends), cached in a `Vec` by address, with the flash wait states folded in.

use super::*;

/// Longest translated block: 512 instructions of at most 4 bytes.
pub(crate) const MAX_BLOCK_BYTES: u32 = 2048;

/// A block's cost as the block hook charges it, with the current flash wait states folded in.
/// Eight bytes, so the per-address caches stay small and cheap to clear.
///
/// The narrow fields cannot overflow: a block has at most 512 instructions in 2 KiB, and even
/// 512 fourteen-cycle VSQRTs with 15 wait states on every line and literal stay below 2^16.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Charge {
    /// Block size in bytes; 0 marks an empty slot.
    pub(super) size: u16,
    pub(super) insns: u16,
    /// Cycles with the final conditional branch (if any) not taken.
    pub(super) cycles: u16,
    /// Extra cycles when the final conditional branch is taken.
    pub(super) taken_extra: u8,
    /// `BlockEnd` in bits 0..3; bit 7: the block executes SEV.
    pub(super) flags: u8,
}

impl Charge {
    pub(super) const SEV: u8 = 0x80;

    pub(super) fn new(c: &BlockCost, waits: FlashWaits) -> Charge {
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

    pub(super) fn end(self) -> BlockEnd {
        BlockEnd::from_bits(self.flags & 0x7)
    }
}

/// Per-address cache of block charges for the regions code runs from, indexed by physical
/// halfword address.
#[derive(Clone, Debug)]
pub(crate) struct CostCache {
    /// Flash, then system memory: the read-only code regions.
    pub(super) rom: Vec<Charge>,
    pub(super) sram: Vec<Charge>,
    /// Code-byte hash of each SRAM block: SRAM code can change under the cache.
    pub(super) sram_check: Vec<u32>,
}

/// The read-only code regions in the order `CostCache::rom` holds them.
pub(crate) const ROM: [Region; 2] = [memory::FLASH, memory::SYSTEM_MEMORY];

impl CostCache {
    pub(super) fn new() -> CostCache {
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
    pub(super) fn rom_index(addr: u32) -> Option<usize> {
        let flash = addr.wrapping_sub(memory::FLASH.base);
        if flash < memory::FLASH.size {
            return Some((flash / 2) as usize);
        }
        let sys = addr.wrapping_sub(memory::SYSTEM_MEMORY.base);
        (sys < memory::SYSTEM_MEMORY.size).then(|| ((memory::FLASH.size + sys) / 2) as usize)
    }

    pub(super) fn clear(&mut self) {
        self.rom.fill(Charge::default());
        self.sram.fill(Charge::default());
    }

    /// Forget every block that may overlap the physical range `[start, end)`.
    pub(super) fn clear_range(&mut self, start: u32, end: u32) {
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

impl CoreState {
    pub(super) fn code_bytes(&self, addr: u32, len: u32) -> Option<&[u8]> {
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
    pub(super) fn physical(&self, addr: u32) -> u32 {
        if addr < self.alias.size {
            self.alias.base + addr
        } else {
            addr
        }
    }

    pub(super) fn in_flash(&self, addr: u32) -> bool {
        memory::FLASH.contains(self.physical(addr))
    }

    /// The charge of the block at `addr`: from the cache when it holds a block of this size
    /// (and, in SRAM, of the same code bytes), else decoded and cached.
    #[inline]
    pub(super) fn charge_of(&mut self, addr: u32, size: u32) -> Charge {
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
    pub(super) fn decode(&self, addr: u32, size: u32) -> Charge {
        let code = self.code_bytes(addr, size).unwrap_or(&[]);
        Charge::new(
            &block_cost(self.table, addr, code, |a| self.in_flash(a)),
            self.waits,
        )
    }
}

pub(super) fn hash_code(bytes: &[u8]) -> u32 {
    // FNV-1a: tiny, and only used for SRAM blocks.
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ *b as u32).wrapping_mul(0x0100_0193)
    })
}
