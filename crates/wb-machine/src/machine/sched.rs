//! The scheduler: the cores run in lock-step quanta on one clock; between slices each core
//! is brought up to date with the world (interrupt lines, SysTick, events) and takes the
//! exception that should preempt.

use super::*;

impl Machine {
    /// Run until `limit` (global time in picoseconds) or an exit. On [`Exit::Limit`], `now()`
    /// is exactly `limit`.
    ///
    /// Time advances in quanta. Running cores execute one after the other up to the quantum's
    /// end; then the others (asleep, held) catch up. A core that wakes a sleeping core (SEV, an
    /// interrupt line) ends the quantum at that moment, so the sleeper starts on time. With a
    /// single running core there is nobody to keep in step: its quantum reaches the next event.
    ///
    /// The stop at `limit` ends the quantum there, so it can change what follows: while both
    /// cores run, each sees the other's stores of the rest of that quantum later and the next
    /// quantum starts at `limit`; a lone core's wake-up of the other in its last block (which
    /// ends past `limit`) takes effect at `limit`. To pause without changing the run, use
    /// [`Machine::run_past`].
    pub fn run_until(&mut self, limit: Picos) -> Exit {
        self.run(limit, true)
    }

    /// Run until at least `limit`, and pause where that changes nothing: while both cores run,
    /// at the end of the lock-step quantum that holds `limit` (at most one quantum later); a
    /// lone core at its first block boundary at or past `limit`; with no core running, at
    /// `limit`. A run split into `run_past` calls, wherever they stop, is the same run as one
    /// call, and `run_past(t)` for a `t` where such a run paused stops exactly at `t`: the way
    /// to let the host act (e.g. send UART bytes at `now()`) and replay that exactly.
    pub fn run_past(&mut self, limit: Picos) -> Exit {
        self.run(limit, false)
    }

    /// Stop every run once `core` has counted `cycles` cycles (idle cycles included) since
    /// power-on, whatever its clock does meanwhile: a run then ends with [`Exit::Limit`] at
    /// the end of the translated block that reached the count. The lock-step quantum ends
    /// there: with a CPU1 limit CPU2 is brought to the same time; with a CPU2 limit CPU1,
    /// which runs first in a quantum, may be up to the rest of it ahead. `None` removes the
    /// limit.
    pub fn set_cycle_limit(&mut self, limit: Option<(CoreId, u64)>) {
        self.cycle_limit = limit.map(|(c, n)| (c.index(), n));
    }

    /// Whether the cycle limit has been reached.
    pub fn cycle_limit_reached(&self) -> bool {
        self.cycle_limit
            .is_some_and(|(i, n)| self.cores[i].state().cycles >= n)
    }

    /// The scheduler; `cut` lets `limit` end a quantum where it falls.
    pub(super) fn run(&mut self, limit: Picos, cut: bool) -> Exit {
        loop {
            for i in 0..2 {
                if let Some(exit) = self.attend(i) {
                    return exit;
                }
            }
            // The cycle limit as a time at the core's current clock; a clock change inside
            // the quantum is caught by the cap on the core's budget in `run_core`.
            let limit = match self.cycle_limit {
                Some((i, n)) => {
                    let st = self.cores[i].state();
                    if st.cycles >= n {
                        return Exit::Limit;
                    }
                    limit.min(st.domain.time_of(n))
                }
                None => limit,
            };
            if self.now >= limit {
                return Exit::Limit;
            }
            let next_event = self.next_event();
            let running = self
                .cores
                .iter()
                .filter(|c| c.state().run == RunState::Running)
                .count();
            // A lone core paused by `run_past` is not cut at `limit`: it stops at its first
            // block boundary past it, as it would anyway, and the quantum ends there (below);
            // what its last block did (waking the other core) keeps its time.
            let lone = !cut && running == 1;
            let mut end = match (running, next_event) {
                (0, None) => return Exit::Halted, // nothing will ever happen again
                (1, e) if lone => e.map_or(Picos::MAX, |e| e.max(self.now + 1)),
                (0, Some(e)) | (1, Some(e)) => e.clamp(self.now + 1, limit),
                (1, None) => limit,
                (_, e) => {
                    let t = self.now.saturating_add(self.quantum);
                    let t = if cut { t.min(limit) } else { t };
                    e.map_or(t, |e| t.min(e.max(self.now + 1)))
                }
            };
            if let Some((PowerCut::At(t), _)) = self.power_cut {
                end = end.min(t.max(self.now + 1));
            }
            let pause = if lone { limit } else { Picos::MAX };
            for i in 0..2 {
                if let Some(exit) = self.run_core(i, &mut end, pause) {
                    return exit;
                }
            }
            if lone {
                let stopped = self
                    .cores
                    .iter()
                    .filter(|c| c.state().run == RunState::Running)
                    .map(|c| c.state().now())
                    .fold(limit, Picos::max);
                end = end.min(stopped);
            }
            self.advance_idle_cores(end);
            self.now = end;
            self.bus
                .borrow_mut()
                .advance(self.now, &mut self.mem.flash_mem());
            self.sync();
            if let Some(exit) = self.power_cut_due(self.now) {
                return exit;
            }
        }
    }

    /// Cores that are not running idle up to time `t`.
    pub(super) fn advance_idle_cores(&mut self, t: Picos) {
        for c in &mut self.cores {
            if c.state().run != RunState::Running {
                advance_idle(c.state_mut(), t);
            }
        }
    }

    /// Move the clock to `t` (not earlier than now) in the middle of a quantum, before a power
    /// cut: every core is brought there, so that none runs the restarted chip at times before
    /// the cut.
    pub(super) fn advance_all_cores(&mut self, t: Picos) {
        self.now = self.now.max(t);
        for c in &mut self.cores {
            advance_idle(c.state_mut(), self.now);
        }
    }

    /// Let time pass to `t` after a run ended with [`Exit::Halted`] (no core can run, nothing
    /// is due): every core idles, as on the chip when a debugger waits on a sleeping device.
    /// Nothing happens in between, so this equals a run that would have reached `t`.
    pub fn advance_halted(&mut self, t: Picos) {
        self.advance_all_cores(t);
        self.bus
            .borrow_mut()
            .advance(self.now, &mut self.mem.flash_mem());
        self.sync();
    }

    /// Run for `cycles` cycles of CPU1's clock.
    pub fn run_cycles(&mut self, cycles: u64) -> Exit {
        self.run_until(self.cpu1_cycles_from_now(cycles))
    }

    /// The time `cycles` cycles of CPU1's current clock after now.
    pub fn cpu1_cycles_from_now(&self, cycles: u64) -> Picos {
        let d = self.cores[0].state().domain;
        d.time_of(d.cycles_at(self.now) + cycles)
    }

    pub(super) fn next_event(&self) -> Option<Picos> {
        let mut next = self.bus.borrow().next_event();
        for c in &self.cores {
            let st = c.state();
            if matches!(st.run, RunState::Held | RunState::Lockup) {
                continue;
            }
            if let Some(w) = st.scs.systick.next_wrap() {
                let t = st.domain.time_of(w);
                next = Some(next.map_or(t, |n: Picos| n.min(t)));
            }
        }
        next
    }

    /// Run core `i` up to time `end` (and not past `pause`), or until it sleeps. If it wakes
    /// or releases the other core, `end` moves back to now (see `run_until`).
    pub(super) fn run_core(&mut self, i: usize, end: &mut Picos, pause: Picos) -> Option<Exit> {
        loop {
            let st = self.cores[i].state();
            let mut budget = st.domain.cycles_at((*end).min(pause));
            if let Some((_, n)) = self.cycle_limit.filter(|(j, _)| *j == i) {
                if st.cycles >= n {
                    // Reached: the quantum ends where this core stopped.
                    *end = (*end).min(st.now().max(self.now + 1));
                    return None;
                }
                budget = budget.min(n);
            }
            if st.run != RunState::Running || st.cycles >= budget {
                return None;
            }
            let stop = self.cores[i].run_slice(budget);
            self.record(i, stop);
            if stop == Stop::Breakpoint && self.cores[i].state().scs.attention {
                // An exception became pending just before the breakpoint: it comes first.
                let pc = self.cores[i].pc();
                if let Some(exit) = self.attend(i) {
                    return Some(exit);
                }
                if self.cores[i].pc() != pc {
                    continue;
                }
            }
            let other_ran = self.cores[1 - i].state().run == RunState::Running;
            let exit = self.handle_stop(i, stop);
            self.sync();
            if exit.is_some() {
                return exit;
            }
            let at = self.cores[i].state().now().max(self.now);
            if let Some(exit) = self.power_cut_due(at) {
                return Some(exit);
            }
            if let Some((PowerCut::At(t), _)) = self.power_cut {
                *end = (*end).min(t.max(self.now + 1));
            }
            if stop == Stop::FlashStall {
                // Wait for the operation, but not past the end of this quantum, nor past the
                // cycle limit.
                let busy = self.bus.borrow().flash.busy_until();
                let cap = self.cycle_limit.filter(|(j, _)| *j == i).map(|(_, n)| n);
                if let Some(t) = busy {
                    let st = self.cores[i].state_mut();
                    let to = st.domain.cycles_at(t.min(*end));
                    st.cycles = st.cycles.max(cap.map_or(to, |n| to.min(n)));
                }
            }
            // The core may have armed a timer or woken the other core: the quantum ends no
            // later than that.
            if self.may_wake(1 - i) {
                *end = (*end).min(self.cores[i].state().now().max(self.now + 1));
            }
            if let Some(e) = self.next_event() {
                *end = (*end).min(e.max(self.now + 1));
            }
            if let Some(exit) = self.attend(i) {
                return Some(exit);
            }
            if !other_ran && self.cores[1 - i].state().run == RunState::Running {
                // Released (C2BOOT, a reset): like a wake-up, the other core starts now, at
                // this core's time, and the quantum ends there.
                let t = self.cores[i].state().now().max(self.now + 1);
                *end = (*end).min(t);
                advance_idle(self.cores[1 - i].state_mut(), t);
            }
        }
    }

    /// Whether core `j` sleeps and something now pending may wake it (conservative).
    pub(super) fn may_wake(&self, j: usize) -> bool {
        let st = self.cores[j].state();
        if !matches!(st.run, RunState::SleepWfi | RunState::SleepWfe) {
            return false;
        }
        let bus = self.bus.borrow();
        bus.sev_to[j]
            || bus.asserted_irqs(CoreId::ALL[j]) & !st.scs.irq_pending & !st.scs.irq_active != 0
    }

    pub(super) fn record(&mut self, i: usize, stop: Stop) {
        let c = &self.cores[i];
        let st = c.state();
        let code = match stop {
            Stop::Budget => 1,
            Stop::Attention => 2,
            Stop::Svc => 3,
            Stop::Bkpt => 4,
            Stop::ExceptionReturn => 5,
            Stop::Wfi => 6,
            Stop::Wfe => 7,
            Stop::Yield => 8,
            Stop::Breakpoint => 9,
            Stop::Fault(_) => 10,
            Stop::FlashStall => 11,
        };
        for v in [i as u64, c.pc() as u64, st.cycles, st.insns, code] {
            self.trace = (self.trace ^ v).wrapping_mul(0x100_0000_01b3);
        }
    }

    pub(super) fn handle_stop(&mut self, i: usize, stop: Stop) -> Option<Exit> {
        let id = CoreId::ALL[i];
        let core = &mut self.cores[i];
        let pc = core.pc();
        let result = match stop {
            Stop::Budget | Stop::Attention | Stop::Yield => Ok(()),
            // Stalled on the bus: `run_core` lets the time pass; the access is then retried.
            Stop::FlashStall => Ok(()),
            Stop::Svc => core.take_sync(exc::SVCALL, pc),
            Stop::Bkpt => return Some(Exit::Bkpt(id, pc)),
            Stop::Breakpoint => return Some(Exit::Breakpoint(id, pc)),
            Stop::ExceptionReturn => core.exception_return(),
            Stop::Wfi => {
                if core.preempting_pending(true).is_none() {
                    core.state_mut().run = RunState::SleepWfi;
                }
                Ok(())
            }
            Stop::Wfe => {
                let st = core.state_mut();
                if st.event_register {
                    st.event_register = false;
                } else {
                    st.run = RunState::SleepWfe;
                }
                Ok(())
            }
            Stop::Fault(fault) => {
                // A store fault is imprecise: the write buffer let execution go past it.
                let ret = match fault {
                    Fault::Write { .. } => {
                        let hw = core.memory_u16(pc).unwrap_or(0);
                        pc + if is_wide(hw) { 4 } else { 2 }
                    }
                    _ => pc,
                };
                core.raise_fault(fault, ret)
            }
        };
        result.err().map(|_| Exit::Lockup(id))
    }

    /// Bring core `i` up to date with the world: reset requests, interrupt lines, SysTick,
    /// events; wake it if it may; take the exception that should preempt, if any.
    pub(super) fn attend(&mut self, i: usize) -> Option<Exit> {
        if self.cores.iter().any(|c| c.state().scs.reset_request) {
            self.reset(ResetCause::Software);
            return None;
        }
        let asserted = self.bus.borrow().asserted_irqs(CoreId::ALL[i]);
        let sev = std::mem::take(&mut self.bus.borrow_mut().sev_to[i]);
        let core = &mut self.cores[i];
        let st = core.state_mut();
        st.scs.attention = false;
        if st.run == RunState::Held || st.run == RunState::Lockup {
            return None;
        }
        let before = st.scs.irq_pending | st.scs.sys_pending as u64;
        latch_irqs(&mut st.scs, asserted);
        let cycles = st.cycles;
        if st.scs.systick.catch_up(cycles) {
            st.scs.set_pending(exc::SYSTICK, true);
        }
        let after = st.scs.irq_pending | st.scs.sys_pending as u64;
        if sev || (after & !before != 0 && st.scs.scr & SCR_SEVONPEND != 0) {
            st.event_register = true;
        }
        let run = st.run;
        match run {
            RunState::SleepWfi if core.preempting_pending(true).is_some() => {
                core.state_mut().run = RunState::Running;
            }
            RunState::SleepWfe => {
                let st = core.state_mut();
                if st.event_register {
                    st.event_register = false;
                    st.run = RunState::Running;
                } else if core.preempting_pending(false).is_some() {
                    core.state_mut().run = RunState::Running;
                }
            }
            _ => {}
        }
        if core.state().run != RunState::Running {
            core.state_mut().watch_masks = false;
            return None;
        }
        // Entering one exception raises the execution priority; a more urgent one pending
        // behind it preempts at once (late arrival, simplified).
        while let Some(n) = core.preempting_pending(false) {
            let pc = core.pc();
            if core.enter_exception(n, pc).is_err() {
                return Some(Exit::Lockup(CoreId::ALL[i]));
            }
        }
        let masked = core.state().scs.highest_pending().is_some();
        core.state_mut().watch_masks = masked;
        None
    }
}

/// A core that is behind time `t` idles up to it.
pub(super) fn advance_idle(st: &mut CoreState, t: Picos) {
    let at = st.domain.cycles_at(t);
    if st.cycles < at {
        st.idle_cycles += at - st.cycles;
        st.cycles = at;
    }
}

/// Pend the asserted lines that are not already being handled (level-sensitive: a line still
/// asserted when its handler returns pends again).
pub(super) fn latch_irqs(scs: &mut Scs, asserted: u64) {
    let fresh = asserted & !scs.irq_active & !scs.irq_pending;
    if fresh != 0 {
        scs.irq_pending |= fresh;
        scs.attention = true;
    }
}

impl Core {
    pub(super) fn memory_u16(&self, addr: u32) -> Option<u16> {
        let mut b = [0u8; 2];
        self.uc.mem_read(addr as u64, &mut b).ok()?;
        Some(u16::from_le_bytes(b))
    }
}
