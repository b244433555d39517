//! The operator's log in SRAM1 (`layout::operator::LOG_ADDR`), kept across system resets:
//! a 4-word header (magic, next step, boots, entries) then entries of 4 words
//! (kind | step << 8, a, b, c).

use guest_rt::{read32, write32};
use wb_proto::layout::operator::{LOG_ADDR, LOG_HEADER_WORDS, LOG_MAGIC, LOG_MAX_ENTRIES};

const NEXT: u32 = LOG_ADDR + 4;
const BOOTS: u32 = LOG_ADDR + 8;
const COUNT: u32 = LOG_ADDR + 12;
const ENTRIES: u32 = LOG_ADDR + 4 * LOG_HEADER_WORDS;
/// Step byte of entries made outside a step.
pub const NO_STEP: u32 = 0xFF;

/// Initialises the log at power-on (no valid magic), counts this boot. Returns the boot count.
pub fn start() -> u32 {
    if read32(LOG_ADDR) != LOG_MAGIC || read32(COUNT) > LOG_MAX_ENTRIES {
        write32(NEXT, 0);
        write32(BOOTS, 0);
        write32(COUNT, 0);
        write32(LOG_ADDR, LOG_MAGIC);
    }
    let boots = read32(BOOTS).wrapping_add(1);
    write32(BOOTS, boots);
    boots
}

pub fn next_step() -> u32 {
    read32(NEXT)
}

pub fn set_next_step(i: u32) {
    write32(NEXT, i);
}

/// Appends an entry (dropped when the log is full).
pub fn append(kind: u32, step: u32, a: u32, b: u32, c: u32) {
    let n = read32(COUNT);
    if n >= LOG_MAX_ENTRIES {
        return;
    }
    let at = ENTRIES + 16 * n;
    write32(at, (kind & 0xFF) | (step & 0xFF) << 8);
    write32(at + 4, a);
    write32(at + 8, b);
    write32(at + 12, c);
    // The entry is complete before it is counted.
    write32(COUNT, n + 1);
}

/// Whether some entry has this kind.
pub fn contains(kind: u32) -> bool {
    let n = read32(COUNT).min(LOG_MAX_ENTRIES);
    (0..n).any(|i| read32(ENTRIES + 16 * i) & 0xFF == kind)
}
