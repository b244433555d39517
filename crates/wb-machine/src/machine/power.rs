//! Power cuts and external resets: armed as data (`crate::power_cut`), made when due, and
//! their effect.

use super::*;

impl Machine {
    /// Cut the power now: an operation in progress is torn (`seed` picks how), volatile memory
    /// is lost, and the chip comes back with a power-on reset from what persisted. Returns the
    /// sequence number of the torn operation, if any.
    pub fn cut_power(&mut self, seed: u64) -> Option<u64> {
        self.interrupt(seed, ResetCause::PowerOn)
    }

    /// A reset through the NRST pin now: an operation in progress is interrupted, and left
    /// as a power cut would leave it (`seed` picks how); SRAM keeps its contents. Returns the
    /// sequence number of the interrupted operation, if any.
    pub fn external_reset(&mut self, seed: u64) -> Option<u64> {
        self.interrupt(seed, ResetCause::Pin)
    }

    /// Tear the operation in progress, then reset as `cause` does.
    fn interrupt(&mut self, seed: u64, cause: ResetCause) -> Option<u64> {
        let torn = {
            let now = self.now;
            let mut sh = self.bus.borrow_mut();
            sh.flash.tear(now, seed, &mut self.mem.flash_mem())
        };
        debug!(target: "wb::machine", now = self.now, ?torn, ?cause, "operation interrupted");
        self.reset(cause);
        torn
    }

    /// Arm a power cut; `run_until` returns [`Exit::PowerCut`] when it happens. `seed` decides
    /// how a torn operation ends (see `wb_periph::flash::Flash::tear`).
    pub fn arm_power_cut(&mut self, cut: PowerCut, seed: u64) {
        self.arm_fault(cut, Injection::PowerCut { seed });
    }

    /// Arm a fault (a power cut or an external reset) to happen when `cut` says; `run_until`
    /// returns [`Exit::PowerCut`] or [`Exit::ExternalReset`] when it does. One fault at a time:
    /// arming replaces what was armed.
    pub fn arm_fault(&mut self, cut: PowerCut, fault: Injection) {
        self.power_cut = Some((cut, fault));
    }

    /// Whether an armed cut is due at `at` (the time of the core that just stopped, or now at
    /// a quantum boundary); if so, perform it there. The cut time is not the start of the
    /// quantum, so it does not depend on where earlier runs stopped.
    pub(super) fn power_cut_due(&mut self, at: Picos) -> Option<Exit> {
        if let Some((PowerCut::Matching { op, point }, fault)) = self.power_cut {
            // Resolved as soon as the operation is requested; then as any cut at operation N.
            let n = op.find(self.bus.borrow().flash.log())?;
            let cut = match point {
                CutPoint::Before => PowerCut::BeforeOp(n),
                CutPoint::During => PowerCut::DuringOp(n),
                CutPoint::After => PowerCut::AfterOp(n),
            };
            self.power_cut = Some((cut, fault));
        }
        let (cut, fault) = self.power_cut?;
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
                        self.power_cut = Some((PowerCut::At(start + (end - start) / 2), fault));
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
        let torn = match (cut, fault) {
            (PowerCut::BeforeOp(_), _) => {
                let dropped = self.bus.borrow_mut().flash.drop_running(self.now);
                self.reset(match fault {
                    Injection::PowerCut { .. } => ResetCause::PowerOn,
                    Injection::Reset { .. } => ResetCause::Pin,
                });
                dropped
            }
            (_, Injection::PowerCut { seed }) => self.cut_power(seed),
            (_, Injection::Reset { seed }) => self.external_reset(seed),
        };
        Some(match fault {
            Injection::PowerCut { .. } => Exit::PowerCut(torn),
            Injection::Reset { .. } => Exit::ExternalReset(torn),
        })
    }
}

impl Machine {
    /// While the machine is as a power-on reset left it, a digest of everything that decides
    /// what it does from here on, up to a shift in time: every memory (the volatile ones just
    /// cleared), the flash's ECC state, the boot vectors, and what peripherals carry over a
    /// power-on (`Peripheral::carried_over`: the RNG's generator, bytes on the UART lines).
    /// Everything else is at its reset value, and nothing the guest can read tells the time
    /// of day: so two machines with equal digests run the same from here, each from its own
    /// now.
    ///
    /// "As the reset left it": the last reset was a power-on, no core has executed an
    /// instruction since, and no peripheral has timed work pending (a machine that waits for
    /// the host that way is the same whenever the host comes). `None` otherwise.
    pub fn power_on_digest(&self) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let last = self.boots.last()?;
        let power_on = self
            .boots
            .iter()
            .rev()
            .take_while(|b| b.at == last.at)
            .find(|b| b.cause == BootCause::Reset(ResetCause::PowerOn))?;
        let ran = (0..2).any(|i| self.cores[i].state().insns != power_on.insns[i]);
        if ran || self.bus.borrow().next_event().is_some() {
            return None;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.mem.hash_all(&mut h);
        self.boot.hash(&mut h);
        self.quantum.hash(&mut h);
        let bus = self.bus.borrow();
        for (dw, e) in bus.flash.ecc_errors() {
            (dw, format!("{e:?}")).hash(&mut h);
        }
        for p in &bus.periphs {
            p.dev.carried_over(&mut h);
        }
        Some(h.finish())
    }
}
