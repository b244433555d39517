//! The global clock: picoseconds of simulated time, and per-core cycle domains.
//!
//! A core's cycles convert to time from the last frequency change (its base), never by adding
//! rounded periods, so long runs do not drift and every conversion is reproducible.

use wb_periph::Picos;

pub const PS_PER_S: u128 = 1_000_000_000_000;

/// Where the core frequencies come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clocks {
    /// The RCC model: MSI at 4 MHz after every reset, then whatever the firmware configures
    /// (HCLK1 for CPU1, HCLK2 for CPU2).
    #[default]
    Rcc,
    /// Pinned core frequencies, for guest programs that do not configure the RCC (tests,
    /// benchmarks). The RCC registers still work; they just do not change the cores' clocks.
    Fixed { cpu1_hz: u64, cpu2_hz: u64 },
}

/// The mapping between one core's cycle counter and global time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CycleDomain {
    pub hz: u64,
    base_ps: Picos,
    base_cycles: u64,
    /// The cycle period when it is a whole number of picoseconds (every clock the chip makes
    /// from its 32 MHz / 16 MHz / MSI sources), else 0: integer arithmetic instead of 128-bit
    /// division on the scheduler's path.
    period_ps: u64,
}

impl CycleDomain {
    pub fn new(hz: u64, now: Picos, cycles: u64) -> CycleDomain {
        assert!(hz > 0, "a core clock of 0 Hz");
        let period_ps = if PS_PER_S.is_multiple_of(hz as u128) {
            (PS_PER_S / hz as u128) as u64
        } else {
            0
        };
        CycleDomain {
            hz,
            base_ps: now,
            base_cycles: cycles,
            period_ps,
        }
    }

    /// Feed `h` with the mapping as seen from cycle `cycles`: with a whole-picosecond period
    /// only the clock matters (cycle n from now is n periods from now); otherwise the
    /// rounding depends on the distance to the base too.
    pub fn digest(&self, cycles: u64, h: &mut dyn std::hash::Hasher) {
        h.write_u64(self.hz);
        h.write_u64(self.period_ps);
        if self.period_ps == 0 {
            h.write_u64(self.base_ps);
            h.write_u64(cycles.wrapping_sub(self.base_cycles));
        }
    }

    /// Change frequency at cycle `cycles` (which maps to the current time).
    pub fn rebase(&mut self, hz: u64, cycles: u64) {
        let now = self.time_of(cycles);
        *self = CycleDomain::new(hz, now, cycles);
    }

    /// The time at which cycle `cycles` starts.
    pub fn time_of(&self, cycles: u64) -> Picos {
        let d = cycles.saturating_sub(self.base_cycles);
        if let Some(ps) = d
            .checked_mul(self.period_ps)
            .filter(|_| self.period_ps != 0)
        {
            return self.base_ps.saturating_add(ps);
        }
        self.base_ps + (d as u128 * PS_PER_S / self.hz as u128) as Picos
    }

    /// The number of whole cycles elapsed at time `t` (rounded up: the first cycle starting at
    /// or after `t`).
    pub fn cycles_at(&self, t: Picos) -> u64 {
        let d = t.saturating_sub(self.base_ps);
        if self.period_ps != 0 {
            return self.base_cycles + d.div_ceil(self.period_ps);
        }
        self.base_cycles + (d as u128 * self.hz as u128).div_ceil(PS_PER_S) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_without_drift() {
        let d = CycleDomain::new(48_000_000, 0, 0);
        // 48 MHz has a non-integer period in ps; a billion cycles still land exactly.
        assert_eq!(d.time_of(48_000_000_000), 1_000 * 1_000_000_000_000);
        for c in [0u64, 1, 2, 3, 47, 1_000_001] {
            assert_eq!(d.cycles_at(d.time_of(c)), c);
        }
    }

    #[test]
    fn whole_periods_agree_with_the_general_formula() {
        for hz in [64_000_000u64, 32_000_000, 4_000_000, 100_000_000] {
            let d = CycleDomain::new(hz, 1_000, 7);
            for c in [7u64, 8, 1_000, 123_456_789] {
                let exact = 1_000 + ((c - 7) as u128 * PS_PER_S / hz as u128) as Picos;
                assert_eq!(d.time_of(c), exact, "{hz} Hz, cycle {c}");
            }
            for t in [1_000u64, 1_001, 15_625, 999_999_999] {
                let exact = 7 + ((t - 1_000) as u128 * hz as u128).div_ceil(PS_PER_S) as u64;
                assert_eq!(d.cycles_at(t), exact, "{hz} Hz, t {t}");
            }
        }
    }

    #[test]
    fn rebase_keeps_time_continuous() {
        let mut d = CycleDomain::new(4_000_000, 0, 0);
        let t = d.time_of(400);
        d.rebase(64_000_000, 400);
        assert_eq!(d.time_of(400), t);
        assert_eq!(d.time_of(464) - t, 1_000_000); // 64 cycles at 64 MHz = 1 us
    }
}
