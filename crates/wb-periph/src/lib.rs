//! Peripheral models of the STM32WB55, independent of any CPU emulator.
//!
//! Every peripheral implements [`Peripheral`]: register reads and writes by offset (with the
//! access width and the core that initiates them), a reset, and timed work through
//! [`Peripheral::next_event`] / [`Peripheral::advance`]. Interrupt outputs are level lines that
//! the machine routes to each core's NVIC.
//!
//! Time is the machine's global clock in picoseconds ([`Picos`]); it never comes from the host.

use core::fmt;

pub mod aes;
pub mod crc;
pub mod exti;
pub mod flash;
pub mod hsem;
pub mod ipcc;
pub mod log_clock;
pub mod pka;
pub mod pwr;
pub mod rcc;
pub mod regs;
pub mod rng;
pub mod syscfg;
pub mod usart;

/// Simulated time in picoseconds since power-on.
pub type Picos = u64;

/// Spans of simulated time, so that a time reads as what it is (`picos::from_ms(50)`, `10 *
/// picos::US`) rather than as a count of picoseconds.
pub mod picos {
    use super::Picos;

    pub const NS: Picos = 1_000;
    pub const US: Picos = 1_000 * NS;
    pub const MS: Picos = 1_000 * US;
    pub const S: Picos = 1_000 * MS;

    pub const fn from_ns(n: u64) -> Picos {
        n * NS
    }

    pub const fn from_us(n: u64) -> Picos {
        n * US
    }

    pub const fn from_ms(n: u64) -> Picos {
        n * MS
    }

    pub const fn from_s(n: u64) -> Picos {
        n * S
    }

    /// A span of simulated time as text: a number (decimals allowed) and a unit, s,
    /// ms, us, ns or ps ("10s", "2.5ms"); exact to the picosecond.
    pub fn parse(s: &str) -> Result<Picos, String> {
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .ok_or_else(|| format!("{s}: give a unit: s, ms, us, ns or ps (e.g. 10s, 2.5ms)"))?;
        let (number, unit) = s.split_at(split);
        let scale: u64 = match unit.trim() {
            "s" => S,
            "ms" => MS,
            "us" | "µs" => US,
            "ns" => NS,
            "ps" => 1,
            u => return Err(format!("{s}: {u:?} is not a unit (s, ms, us, ns, ps)")),
        };
        let number = number.replace('_', "");
        let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
        let bad = || format!("{s}: {number:?} is not a number");
        let whole: u64 = if whole.is_empty() && !fraction.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut ps = whole
            .checked_mul(scale)
            .ok_or_else(|| format!("{s}: too long"))?;
        let mut digit_scale = scale;
        for c in fraction.chars() {
            let d = c.to_digit(10).ok_or_else(bad)? as u64;
            digit_scale /= 10;
            if digit_scale == 0 && d != 0 {
                return Err(format!("{s}: finer than a picosecond"));
            }
            ps += d * digit_scale;
        }
        Ok(ps)
    }

    /// A span as text in the largest unit that keeps it exact ("20 s", "1.5 ms", "62.5 ns").
    pub fn text(ps: Picos) -> String {
        for (unit, scale) in [("s", S), ("ms", MS), ("us", US), ("ns", NS)] {
            if ps >= scale {
                let whole = ps / scale;
                let frac = ps % scale;
                if frac == 0 {
                    return format!("{whole} {unit}");
                }
                let digits = scale.ilog10() as usize;
                let f = format!("{frac:0digits$}");
                return format!("{whole}.{} {unit}", f.trim_end_matches('0'));
            }
        }
        format!("{ps} ps")
    }

    #[cfg(test)]
    mod tests {
        use super::{parse, text};

        #[test]
        fn spans_read_as_text_in_their_largest_exact_unit() {
            assert_eq!(text(20 * super::S), "20 s");
            assert_eq!(text(1_500 * super::US), "1.5 ms");
            assert_eq!(text(62_500), "62.5 ns");
            assert_eq!(text(7), "7 ps");
            assert_eq!(parse(&text(1_234_567_891)).unwrap(), 1_234_567_891);
        }

        #[test]
        fn durations_are_exact_to_the_picosecond() {
            assert_eq!(parse("10s"), Ok(10_000_000_000_000));
            assert_eq!(parse("2.5ms"), Ok(2_500_000_000));
            assert_eq!(parse("0.000001us"), Ok(1));
            assert_eq!(parse("15625ps"), Ok(15_625));
            assert_eq!(parse(".5us"), Ok(500_000));
            assert!(parse("10").unwrap_err().contains("unit"));
            assert!(parse("10 parsecs").unwrap_err().contains("parsecs"));
            assert!(parse("1.5ps").unwrap_err().contains("picosecond"));
            assert!(parse("1.2.3s").is_err());
        }
    }
}

/// The two cores of the STM32WB55.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoreId {
    /// Cortex-M4 application core.
    Cpu1,
    /// Cortex-M0+ radio / FUS core.
    Cpu2,
}

impl CoreId {
    pub const ALL: [CoreId; 2] = [CoreId::Cpu1, CoreId::Cpu2];

    pub const fn index(self) -> usize {
        match self {
            CoreId::Cpu1 => 0,
            CoreId::Cpu2 => 1,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            CoreId::Cpu1 => "cpu1",
            CoreId::Cpu2 => "cpu2",
        }
    }

    pub const fn other(self) -> CoreId {
        match self {
            CoreId::Cpu1 => CoreId::Cpu2,
            CoreId::Cpu2 => CoreId::Cpu1,
        }
    }
}

impl fmt::Display for CoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Width of a bus access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    Byte = 1,
    Half = 2,
    Word = 4,
}

impl Width {
    pub fn from_bytes(n: usize) -> Option<Width> {
        match n {
            1 => Some(Width::Byte),
            2 => Some(Width::Half),
            4 => Some(Width::Word),
            _ => None,
        }
    }

    pub const fn bytes(self) -> u32 {
        self as u32
    }
}

/// Who accesses a register, how wide, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub core: CoreId,
    pub width: Width,
    pub now: Picos,
}

impl Access {
    /// A 32-bit access by `core` at time `now`.
    pub const fn word(core: CoreId, now: Picos) -> Access {
        Access {
            core,
            width: Width::Word,
            now,
        }
    }
}

/// How a register access can fail on the bus. The machine turns these into guest bus faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusError {
    /// The register does not accept this access width.
    Width,
    /// The initiating core may not touch this register.
    Denied,
    /// Nothing is decoded at this offset.
    Unmapped,
}

pub type BusResult<T> = Result<T, BusError>;

/// Which reset the machine applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetKind {
    /// Power-on (or brown-out) reset: everything volatile starts from its reset value.
    PowerOn,
    /// System reset (SYSRESETREQ, watchdog, pin).
    System,
    /// The system reset OBL_LAUNCH causes: also reloads the option bytes.
    OptionLoad,
}

/// A memory-mapped peripheral.
///
/// `Send` so that a machine can be moved to another thread, `Sync` so that snapshots can be
/// shared by threads that branch from them; `Debug` so state can be inspected.
pub trait Peripheral: fmt::Debug + Send + Sync {
    /// Short name, also used as the tracing target suffix.
    fn name(&self) -> &'static str;

    /// Size of the register window in bytes.
    fn size(&self) -> u32;

    /// Read the register at `offset` (aligned to the access width by the bus).
    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32>;

    /// Write `value` (only the low `access.width` bytes are meaningful) at `offset`.
    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()>;

    /// Return to the reset state for `kind`.
    fn reset(&mut self, kind: ResetKind);

    /// Feed `h` with the state that outlives a power-on reset and can change what the
    /// peripheral does next. By default nothing does: `reset` starts it afresh. Campaigns use
    /// it to tell that two runs are in the same state at a power-on.
    fn carried_over(&self, _h: &mut dyn std::hash::Hasher) {}

    /// The earliest time at which the peripheral has timed work to do, if any.
    fn next_event(&self) -> Option<Picos> {
        None
    }

    /// Bring timed work up to `now` (never earlier than the last call).
    fn advance(&mut self, _now: Picos) {}

    /// The frequency of the clock the peripheral runs on (its bus clock, e.g. HCLK1 for AES1,
    /// HCLK4 for PKA). The machine calls this before the first access and whenever the RCC
    /// changes it; peripherals that time their work in clock cycles convert with it.
    fn set_clock_hz(&mut self, _hz: u64) {}

    /// The host end of the peripheral's serial line, if it is a UART.
    fn serial(&mut self) -> Option<&mut dyn usart::Serial> {
        None
    }

    /// The interrupt output lines, one bit per line (level-sensitive).
    fn irq_lines(&self) -> u32 {
        0
    }

    /// A copy of the whole model state, for machine snapshots.
    fn clone_box(&self) -> Box<dyn Peripheral>;
}

impl Clone for Box<dyn Peripheral> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Extract the bytes a narrow write touches: `value` placed at byte lane `offset & 3`, merged
/// into the 32-bit register `old`. Peripherals that accept byte/half writes use this.
pub fn merge_write(old: u32, offset: u32, value: u32, width: Width) -> u32 {
    let shift = (offset & 3) * 8;
    let mask = match width {
        Width::Byte => 0xFF,
        Width::Half => 0xFFFF,
        Width::Word => 0xFFFF_FFFF,
    } << shift;
    (old & !mask) | ((value << shift) & mask)
}

/// Extract the part of the 32-bit register `reg` that a narrow read at `offset` returns.
pub fn narrow_read(reg: u32, offset: u32, width: Width) -> u32 {
    let shifted = reg >> ((offset & 3) * 8);
    match width {
        Width::Byte => shifted & 0xFF,
        Width::Half => shifted & 0xFFFF,
        Width::Word => shifted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_accesses_hit_the_right_lanes() {
        assert_eq!(merge_write(0x1122_3344, 1, 0xAB, Width::Byte), 0x1122_AB44);
        assert_eq!(
            merge_write(0x1122_3344, 2, 0xBEEF, Width::Half),
            0xBEEF_3344
        );
        assert_eq!(
            merge_write(0x1122_3344, 0, 0xDEAD_BEEF, Width::Word),
            0xDEAD_BEEF
        );
        assert_eq!(narrow_read(0x1122_3344, 3, Width::Byte), 0x11);
        assert_eq!(narrow_read(0x1122_3344, 2, Width::Half), 0x1122);
    }

    #[test]
    fn core_ids_pair_up() {
        assert_eq!(CoreId::Cpu1.other(), CoreId::Cpu2);
        assert_eq!(CoreId::Cpu2.index(), 1);
        assert_eq!(Width::from_bytes(3), None);
    }
}
