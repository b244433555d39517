//! Power cuts: armed as data (`crate::power_cut`), made when due, and their effect.

use super::*;

impl Machine {
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
    pub(super) fn power_cut_due(&mut self, at: Picos) -> Option<Exit> {
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
        self.advance_all_cores(at);
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
}
