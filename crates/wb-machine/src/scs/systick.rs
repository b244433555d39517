//! SysTick, counted in core cycles.

/// The SysTick timer, counted in core cycles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SysTick {
    pub enable: bool,
    pub tickint: bool,
    /// CLKSOURCE: 1 = the core clock, 0 = the external reference (HCLK/8 on STM32WB).
    pub core_clock: bool,
    pub countflag: bool,
    pub rvr: u32,
    /// Counter value at `start` (when the counter was last written or enabled).
    start_value: u32,
    start: u64,
    /// The core cycle at which the counter next goes from 1 to 0.
    next_wrap: Option<u64>,
}

impl SysTick {
    /// Feed `h` with the timer's state, its cycle numbers taken from the core's count
    /// `cycles` (the count itself is a tally: only the distance to it matters).
    pub fn digest(&self, cycles: u64, h: &mut dyn std::hash::Hasher) {
        let next = self.next_wrap.map(|w| w.wrapping_sub(cycles));
        // Stopped, the counter holds its value; `start` matters only while it counts.
        let since = if self.enable {
            cycles.wrapping_sub(self.start)
        } else {
            0
        };
        let state = (
            (self.enable, self.tickint, self.core_clock, self.countflag),
            (self.rvr, self.start_value, since, next),
        );
        h.write(format!("{state:?}").as_bytes());
    }

    fn div(&self) -> u64 {
        if self.core_clock {
            1
        } else {
            8
        }
    }

    fn period(&self) -> u64 {
        (self.rvr as u64 + 1) * self.div()
    }

    /// Current counter value at core cycle `now`.
    pub fn value(&self, now: u64) -> u32 {
        if !self.enable {
            return self.start_value;
        }
        let ticks = (now.saturating_sub(self.start)) / self.div();
        let v0 = self.start_value as u64;
        if ticks <= v0 {
            (v0 - ticks) as u32
        } else {
            let t = (ticks - v0 - 1) % (self.rvr as u64 + 1);
            (self.rvr as u64 - t) as u32
        }
    }

    /// Restart counting from `value` at cycle `now`.
    pub(super) fn restart(&mut self, value: u32, now: u64) {
        self.start_value = value;
        self.start = now;
        self.next_wrap = if self.enable && self.rvr != 0 {
            let first_ticks = if value > 0 {
                value as u64
            } else {
                self.rvr as u64 + 1
            };
            Some(now + first_ticks * self.div())
        } else {
            None
        };
    }

    pub fn next_wrap(&self) -> Option<u64> {
        self.next_wrap
    }

    /// Account for wraps up to cycle `now`; returns true when SysTick must be pended.
    pub fn catch_up(&mut self, now: u64) -> bool {
        let mut fire = false;
        while let Some(w) = self.next_wrap {
            if w > now {
                break;
            }
            self.countflag = true;
            fire |= self.tickint;
            self.next_wrap = Some(w + self.period());
        }
        fire
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systick_counts_down_and_wraps() {
        let mut s = SysTick {
            rvr: 9,
            core_clock: true,
            enable: true,
            tickint: true,
            ..Default::default()
        };
        s.restart(0, 100);
        assert_eq!(s.value(100), 0);
        assert_eq!(s.value(101), 9);
        assert_eq!(s.value(110), 0);
        assert_eq!(s.next_wrap(), Some(110));
        assert!(!s.catch_up(109));
        assert!(s.catch_up(110));
        assert_eq!(s.next_wrap(), Some(120));
        assert!(s.countflag);
    }
}
