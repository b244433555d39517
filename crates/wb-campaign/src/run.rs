//! Running a scenario: the host works through the steps as the machine runs, looking at it at
//! the simulated times it asks for. Everything the host knows is in [`State`], plain data
//! beside the machine's snapshot, so a run can be branched at any look (campaigns do).
//!
//! The host looks at the machine (a pause that changes nothing: `Machine::run_past`) when a step's time comes, every [`LOOK`] while it waits for
//! a condition, and as its client's tasks ask (a command's answer, CPU2's READY); it acts only
//! then. The same scenario gives the same looks, so the same run, cycle for cycle.

use wb_host::task::{packet, Answer, Boot, Command, HashFrom, Sent, Step as TaskStep};
use wb_host::{Probe, ProbeError};
use wb_inspect::info_table::{self, Cpu2Firmware};
use wb_inspect::options::Options;
use wb_machine::{
    BootCause, CoreId, Device, Exit, Injection, Picos, PowerCut, ResetCause, Snapshot, Uart,
};
use wb_periph::picos::{self, MS};
use wb_proto::fus::{FusError, FusState};

use crate::record::{ExchangeRecord, Failure, FaultRecord, LockupRecord, Log, StepRecord};
use crate::scenario::{
    Action, Condition, Expect, Running, Scenario, ScenarioError, Step, Wait, DEFAULT_ANSWER,
};
use crate::setup::{self, Symbols};

/// How CPU2 boots safeboot (a factory reset).
const SAFEBOOT: BootCause = BootCause::C2Boot { safeboot: true };

/// How often the host looks at a condition it waits for.
pub const LOOK: Picos = MS;

/// The first multiple of `period` after `now`. The host looks (and acts) on such grids of
/// simulated time, not at times counted from its last look: two runs that reach the same
/// state, whatever their past, then go on the same.
fn grid(now: Picos, period: Picos) -> Picos {
    match period {
        0 => now,
        p => (now / p + 1) * p,
    }
}
const FUS_GET_STATE: u16 = 0xFC52;

fn get_state() -> Vec<u8> {
    packet(FUS_GET_STATE, &[]).expect("an empty payload fits")
}

/// What the host knows and is doing: with a machine snapshot, all it takes to go on.
#[derive(Clone, Debug)]
pub struct State {
    /// The step in progress (`steps.len()`: the end checks).
    pub step: usize,
    phase: Phase,
    /// The last FUS_GET_STATE answer: (state, error).
    pub fus: Option<(u8, u8)>,
    pub log: Log,
    /// Everything each UART sent.
    pub output: [Vec<u8>; 2],
    /// The fault armed in the machine: who armed it, when it falls, what it is.
    armed: Option<Armed>,
    /// A breakpoint a wait asked for was reached.
    hit: Option<(CoreId, u32)>,
    /// Commands the wait in progress sent again (`resend`).
    resends: u32,
    /// A fault fell and the host has not acted since.
    keying: bool,
    /// `Run::power_on_key` as the host was about to act for the first time after a fault
    /// (`None` inside: the machine had moved), and the time then.
    pub fault_key: Option<(Option<u64>, Picos)>,
    pub finished: bool,
}

#[derive(Clone, Debug)]
struct Armed {
    step: Option<usize>,
    cut: PowerCut,
    injection: Injection,
    /// Whether a run it never falls in fails.
    required: bool,
}

fn kind(i: Injection) -> &'static str {
    match i {
        Injection::PowerCut { .. } => "power-cut",
        Injection::Reset { .. } => "reset",
    }
}

#[derive(Clone, Debug)]
enum Phase {
    /// Waiting for the step's time.
    Begin,
    Waiting {
        deadline: Picos,
        poll: Option<Poll>,
    },
    Acting(Act),
}

/// A wait's FUS_GET_STATE poll: CPU2 kept started, the state asked every period.
#[derive(Clone, Debug)]
enum Poll {
    Sleep {
        until: Picos,
    },
    Booting(Boot),
    Asking(Answer),
    /// The wait's `resend` command, sent again to a FUS that forgot it.
    Resending(Answer),
}

/// An action in progress.
#[derive(Clone, Debug)]
enum Act {
    Command {
        task: Command,
        tries_left: u32,
    },
    /// A check that needs a FUS_GET_STATE answer first.
    AskThenCheck(Command),
}

/// A scenario running.
pub struct Run<'s> {
    pub sc: &'s Scenario,
    pub p: Probe,
    pub st: State,
    symbols: Symbols,
    /// The device as the run started, for the `unchanged` checks.
    start: Device,
    /// Boots logged before the run's power-on (the machine's own set-up).
    boots_before: usize,
}

/// A place to resume a run from: the machine and what the host knew.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub machine: Snapshot,
    pub readies: Vec<u8>,
    pub state: State,
}

/// What stops a run that is not the scenario's fault nor the device's behaviour.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
}

use wb_inspect::us;

impl<'s> Run<'s> {
    pub fn new(sc: &'s Scenario) -> Result<Run<'s>, ScenarioError> {
        let (m, symbols) = setup::machine(sc)?;
        let start = m.device();
        // The boots of this power-on count; the machine's own set-up resets before do not.
        let boots_before = m.boots().len().saturating_sub(1);
        Ok(Run {
            sc,
            p: Probe::attach(m),
            st: State {
                step: 0,
                phase: Phase::Begin,
                fus: None,
                log: Log::default(),
                output: Default::default(),
                armed: None,
                hit: None,
                resends: 0,
                keying: false,
                fault_key: None,
                finished: false,
            },
            symbols,
            start,
            boots_before,
        })
    }

    /// Arm a fault in the machine; refused while another is armed (the machine holds one).
    pub fn arm(
        &mut self,
        step: Option<usize>,
        cut: PowerCut,
        injection: Injection,
    ) -> Result<(), String> {
        self.arm_fault(step, cut, injection, true)
    }

    /// Arm a fault that may not come (a second fault in a recovery that ends first).
    pub fn arm_if_reached(&mut self, cut: PowerCut, injection: Injection) -> Result<(), String> {
        self.arm_fault(None, cut, injection, false)
    }

    fn arm_fault(
        &mut self,
        step: Option<usize>,
        cut: PowerCut,
        injection: Injection,
        required: bool,
    ) -> Result<(), String> {
        if let Some(a) = &self.st.armed {
            let by = a.step.map_or("the campaign".into(), |i| {
                format!("line {}", self.sc.steps[i].line)
            });
            return Err(format!(
                "the fault armed by {by} has not fallen yet: one at a time"
            ));
        }
        self.p.m.arm_fault(cut, injection);
        self.st.armed = Some(Armed {
            step,
            cut,
            injection,
            required,
        });
        Ok(())
    }

    /// The first time the host acts after a fault: take the key of the state it acts on.
    fn before_acting(&mut self) {
        if std::mem::take(&mut self.st.keying) {
            self.st.fault_key = Some((self.power_on_key(), self.p.m.now()));
        }
    }

    /// Right after a power-on, a digest of everything that decides the rest of the run up
    /// to a shift in time: the machine's (`Machine::power_on_digest`), what the host is doing
    /// with its deadlines as times left, the steps' times to come, and what the end checks
    /// look at that has happened already (failures, faults, lockups, boots, whether safeboot ran, UART output).
    /// Two runs with equal keys end the same, each from its own now. `None` when the machine
    /// is not at a power-on.
    pub fn power_on_key(&self) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let machine = self.p.m.power_on_digest()?;
        let now = self.p.m.now();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        machine.hash(&mut h);
        self.p.readies.hash(&mut h);
        let st = &self.st;
        (st.step, st.fus, st.hit, st.finished, st.resends, &st.output).hash(&mut h);
        match &st.phase {
            Phase::Begin => h.write_u8(0),
            Phase::Waiting { deadline, poll } => {
                h.write_u8(1);
                h.write_u64(deadline.saturating_sub(now));
                match poll {
                    None => h.write_u8(0),
                    Some(Poll::Sleep { until }) => {
                        h.write_u8(1);
                        h.write_u64(until.saturating_sub(now));
                    }
                    Some(Poll::Booting(b)) => {
                        h.write_u8(2);
                        b.hash_from(now, &mut h);
                    }
                    Some(Poll::Asking(a)) => {
                        h.write_u8(3);
                        a.hash_from(now, &mut h);
                    }
                    Some(Poll::Resending(a)) => {
                        h.write_u8(4);
                        a.hash_from(now, &mut h);
                    }
                }
            }
            Phase::Acting(Act::Command { task, tries_left }) => {
                h.write_u8(2);
                task.hash_from(now, &mut h);
                h.write_u32(*tries_left);
            }
            Phase::Acting(Act::AskThenCheck(task)) => {
                h.write_u8(3);
                task.hash_from(now, &mut h);
            }
        }
        // A step to come at a set time: how long until then.
        for s in &self.sc.steps[st.step.min(self.sc.steps.len())..] {
            h.write_u64(s.at.map_or(0, |t| t.saturating_sub(now)));
        }
        self.hash_judged(&mut h);
        st.armed.is_some().hash(&mut h);
        Some(h.finish())
    }

    /// Feed `h` with what the end checks will look at that has happened already: failures,
    /// faults, lockups, boots, whether safeboot ran (a factory reset), UART output aside.
    fn hash_judged(&self, h: &mut impl std::hash::Hasher) {
        use std::hash::Hash;
        let log = &self.st.log;
        for f in &log.failures {
            (f.line, &f.key).hash(h);
        }
        (log.faults.len(), self.power_cuts(), log.lockups.len()).hash(h);
        for core in CoreId::ALL {
            self.boots(core).hash(h);
        }
        self.safeboot_ran().hash(h);
    }

    /// A digest of the whole run's state now, times as they are (`Machine::state_digest` and
    /// what the host is doing, and what the end checks will look at that has happened
    /// already): two runs with equal keys are the same run from here on, to the picosecond.
    pub fn state_key(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.p.m.state_digest().hash(&mut h);
        self.p.readies.hash(&mut h);
        let st = &self.st;
        (st.step, st.fus, st.hit, st.finished, st.resends, &st.output).hash(&mut h);
        h.write(format!("{:?}{:?}", st.phase, st.armed).as_bytes());
        self.hash_judged(&mut h);
        h.finish()
    }

    /// Whether CPU2 still answers: after an NRST reset (CPU1 held, as a debugger would), it
    /// sends READY and answers FUS_GET_STATE, whatever it runs; a second reset and try if
    /// not. The run's machine is used up.
    pub fn reachable(&mut self) -> bool {
        self.p.m.catch_cpu1_reset(true);
        self.p.m.set_breakpoints(CoreId::Cpu1, &[]);
        self.p.m.set_breakpoints(CoreId::Cpu2, &[]);
        for _ in 0..2 {
            self.p.m.reset(ResetCause::Pin);
            let answered = self.p.boot_cpu2().ok().flatten().is_some()
                && self.p.get_state().ok().flatten().is_some();
            if answered {
                return true;
            }
        }
        false
    }

    /// The device as the run started.
    pub fn start_device(&self) -> &Device {
        &self.start
    }

    /// Whether CPU2 booted safeboot in this run (a factory reset, docs/fus-layout.md §7).
    pub fn safeboot_ran(&self) -> bool {
        self.first_safeboot().is_some()
    }

    /// Whether the run is between the end of a factory reset and CPU2's next start: CPU2
    /// last booted safeboot, the system has reset since (its option-byte load) and CPU2 has
    /// not started again. Nothing but the host can change the device then, and the host has
    /// yet to look at it.
    pub fn after_factory_reset(&self) -> bool {
        let boots = &self.p.m.boots()[self.boots_before..];
        let Some(last) = boots.iter().rposition(|b| b.cause == SAFEBOOT) else {
            return false;
        };
        let since = &boots[last + 1..];
        since.iter().any(|b| matches!(b.cause, BootCause::Reset(_)))
            && !since.iter().any(|b| b.core == CoreId::Cpu2)
    }

    fn first_safeboot(&self) -> Option<usize> {
        self.p.m.boots()[self.boots_before..]
            .iter()
            .position(|b| b.cause == SAFEBOOT)
    }

    /// How many boots of the log belong to this run (from its power-on).
    pub fn boots_counted(&self) -> usize {
        self.p.m.boots().len() - self.boots_before
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            machine: self.p.m.snapshot(),
            readies: self.p.readies.clone(),
            state: self.st.clone(),
        }
    }

    pub fn resume(&mut self, c: &Checkpoint) {
        self.p.m.restore(&c.machine);
        self.p.readies.clone_from(&c.readies);
        self.st = c.state.clone();
        self.set_breakpoints();
    }

    /// Run to the end of the timeline and the end checks.
    pub fn run(&mut self) -> Result<(), RunError> {
        while self.advance()? {}
        Ok(())
    }

    /// The host's work due now, then the machine up to the host's next look. False once the
    /// run has ended.
    pub fn advance(&mut self) -> Result<bool, RunError> {
        let Some(wake) = self.host()? else {
            return Ok(false);
        };
        let limit = wake.min(self.sc.max_time);
        if limit > self.p.m.now() {
            self.run_machine(limit);
        }
        let ending = self.sc.end_at == Some(self.p.m.now());
        if self.p.m.now() >= self.sc.max_time && !self.st.finished && !ending {
            let why = format!(
                "the run reached max_time ({}) before its end",
                picos::text(self.sc.max_time)
            );
            self.abort(self.current_line(), "max_time", why);
            return Ok(false);
        }
        Ok(true)
    }

    /// Run to the host's next look, pausing where that changes nothing (`Machine::run_past`):
    /// the looks of the host do not alter the run, so a run a scenario records (its inputs at
    /// the times they went in) is the same run again.
    fn run_machine(&mut self, limit: Picos) {
        // The scenario's end time is a stop as `wbemu run --max-time` makes it: exactly there.
        let exit = if Some(limit) == self.sc.end_at {
            self.p.m.run_until(limit)
        } else {
            self.p.m.run_past(limit)
        };
        self.collect_output();
        match exit {
            Exit::Limit => {}
            Exit::Halted => self.p.m.advance_halted(limit),
            Exit::PowerCut(torn) | Exit::ExternalReset(torn) => {
                let a = self.st.armed.take().expect("only an armed fault falls");
                // The key is of the state after the latest fault.
                self.st.keying = true;
                self.st.fault_key = None;
                self.record_fault(a.injection, a.step, a.cut.to_string(), torn);
            }
            Exit::Lockup(core) => self.st.log.lockups.push(LockupRecord {
                core: core.name(),
                at_us: us(self.p.m.now()),
                pc: wb_inspect::hex32(self.p.m.stats(core).pc),
            }),
            Exit::Breakpoint(core, addr) => {
                self.st.hit = Some((core, addr));
                self.p.m.set_breakpoints(core, &[]);
            }
            Exit::Bkpt(core, addr) => {
                self.st.log.lockups.push(LockupRecord {
                    core: core.name(),
                    at_us: us(self.p.m.now()),
                    pc: wb_inspect::hex32(addr),
                });
                // Nothing can go on past BKPT without a debugger: the run ends.
                let line = self.current_line();
                self.abort(
                    line,
                    "bkpt",
                    format!("{core} executed BKPT at {addr:#010x}"),
                );
            }
        }
    }

    fn current_line(&self) -> usize {
        self.sc
            .steps
            .get(self.st.step)
            .map_or(self.sc.expect.line, |s| s.line)
    }

    fn record_fault(&mut self, i: Injection, step: Option<usize>, plan: String, torn: Option<u64>) {
        self.st.log.faults.push(FaultRecord {
            kind: kind(i),
            step,
            plan,
            at_us: us(self.p.m.now()),
            torn_op: torn,
        });
    }

    fn collect_output(&mut self) {
        for (i, port) in [Uart::Usart1, Uart::Lpuart1].into_iter().enumerate() {
            let bytes = self.p.m.uart_take(port);
            self.st.output[i].extend(bytes);
        }
    }

    /// A step that cannot be done ends the run there (the end checks are not made).
    fn abort(&mut self, line: usize, key: &str, message: String) {
        self.fail(line, key, message);
        self.st.finished = true;
    }

    fn fail(&mut self, line: usize, key: &str, message: String) {
        self.st.log.failures.push(Failure {
            line,
            key: key.into(),
            message,
        });
    }

    /// Do what is due now; the time of the host's next look, or `None` when the run is over.
    fn host(&mut self) -> Result<Option<Picos>, RunError> {
        loop {
            if self.st.finished {
                return Ok(None);
            }
            let now = self.p.m.now();
            let sc = self.sc;
            let Some(step) = sc.steps.get(self.st.step) else {
                return self.end_checks();
            };
            let phase = std::mem::replace(&mut self.st.phase, Phase::Begin);
            match phase {
                Phase::Begin => {
                    if let Some(at) = step.at.filter(|at| now < *at) {
                        return Ok(Some(at));
                    }
                    self.st
                        .log
                        .steps
                        .push(StepRecord::begin(self.st.step, step, us(now)));
                    if step.wait.as_ref().is_some_and(|w| w.poll.is_some()) {
                        // A polled wait judges the FUS by the answers it gets itself.
                        self.st.fus = None;
                    }
                    self.st.phase = match &step.wait {
                        Some(w) => Phase::Waiting {
                            deadline: now + w.timeout,
                            poll: w.poll.map(|_| Poll::Sleep { until: now }),
                        },
                        None => self.start_action(step)?,
                    };
                    self.st.hit = None;
                    self.st.resends = 0;
                    self.set_breakpoints();
                }
                Phase::Waiting { deadline, poll } => {
                    let w = step.wait.as_ref().expect("a waiting step has a wait");
                    let answers = self.st.log.exchanges.len();
                    let (poll, poll_wake) = match poll {
                        Some(p) => {
                            let (p, wake) = self.drive_poll(p, w)?;
                            (Some(p), Some(wake))
                        }
                        None => (None, None),
                    };
                    let asked = self.st.log.exchanges.len() > answers;
                    if self.holds(&w.until) {
                        self.st.hit = None;
                        self.set_breakpoints();
                        self.st.phase = self.start_action(step)?;
                        continue;
                    }
                    // The FUS gave up (state FUS_STATE_ERROR with an error code): nothing this
                    // wait is for will come, unless it waits for that.
                    let waits_for_error =
                        w.until.fus_state.is_some() || w.until.fus_error.is_some();
                    if let Some((0xFF, e)) = self.st.fus.filter(|_| asked && !waits_for_error) {
                        if e != 0x00 && e != u8::from(FusError::NotRunning) {
                            let name = wb_inspect::fus::error_name(FusError::from(e));
                            self.end_step(format!("the FUS failed: {name}"));
                            let why = format!(
                                "FUS_GET_STATE answered state 0xff, error {name}: the FUS gave up"
                            );
                            self.abort(step.line, "wait", why);
                            return Ok(None);
                        }
                    }
                    if now >= deadline {
                        self.end_step(format!("timed out after {}", picos::text(w.timeout)));
                        let why = format!("the wait did not end within {}", picos::text(w.timeout));
                        self.abort(step.line, "wait", why);
                        return Ok(None);
                    }
                    let wake = poll_wake
                        .map_or(grid(now, LOOK), |t| t.min(grid(now, LOOK)))
                        .min(deadline);
                    self.st.phase = Phase::Waiting { deadline, poll };
                    return Ok(Some(wake));
                }
                Phase::Acting(act) => match self.drive_action(step, act)? {
                    Some((act, wait)) => {
                        self.st.phase = Phase::Acting(act);
                        return Ok(Some(grid(now, wait)));
                    }
                    None => self.next_step(),
                },
            }
        }
    }

    fn next_step(&mut self) {
        self.st.step += 1;
        self.st.phase = Phase::Begin;
    }

    fn end_step(&mut self, outcome: String) {
        let now = us(self.p.m.now());
        if let Some(r) = self.st.log.steps.last_mut() {
            r.ended_us = Some(now);
            r.outcome = outcome;
        }
    }

    /// Breakpoints for the wait in progress, none otherwise.
    fn set_breakpoints(&mut self) {
        let wanted: Vec<(CoreId, u32)> = match (&self.st.phase, self.sc.steps.get(self.st.step)) {
            (Phase::Waiting { .. }, Some(Step { wait: Some(w), .. })) if self.st.hit.is_none() => w
                .until
                .core_at
                .iter()
                .filter_map(|(c, p)| Some((*c, setup::resolve(&self.symbols, *c, p)?)))
                .collect(),
            _ => Vec::new(),
        };
        for core in CoreId::ALL {
            let addrs: Vec<u32> = wanted
                .iter()
                .filter(|(c, _)| *c == core)
                .map(|(_, a)| *a)
                .collect();
            self.p.m.set_breakpoints(core, &addrs);
        }
    }

    /// The poll of a wait: CPU2 started after each reset, FUS_GET_STATE every `period` while
    /// the FUS runs. A stack that runs is left alone (two FUS_GET_STATE send it back to the
    /// FUS, AN5185 §1.3), unless the wait is for the FUS: then that is what the client does,
    /// again after a reset took the stack's switch away.
    fn drive_poll(&mut self, mut poll: Poll, w: &Wait) -> Result<(Poll, Picos), RunError> {
        let period = w.poll.expect("a polled wait");
        let now = self.p.m.now();
        loop {
            match poll {
                Poll::Sleep { until } if now < until => return Ok((poll, until)),
                Poll::Sleep { .. } => {
                    if !self.p.cpu2_started()? {
                        self.before_acting();
                        poll = Poll::Booting(Boot::start(&mut self.p)?);
                    } else if self.stack_runs() && w.until.fus_running != Some(true) {
                        return Ok((
                            Poll::Sleep {
                                until: grid(now, period),
                            },
                            grid(now, period),
                        ));
                    } else {
                        self.before_acting();
                        poll =
                            Poll::Asking(Answer::send(&mut self.p, &get_state(), DEFAULT_ANSWER)?);
                    }
                }
                Poll::Booting(mut boot) => match boot.poll(&mut self.p)? {
                    TaskStep::Wait(t) => return Ok((Poll::Booting(boot), grid(now, t))),
                    // A READY or none: look again at what runs.
                    TaskStep::Done(_) => poll = Poll::Sleep { until: now },
                },
                Poll::Resending(answer) => match answer.poll(&mut self.p)? {
                    TaskStep::Wait(t) => return Ok((Poll::Resending(answer), grid(now, t))),
                    TaskStep::Done(rsp) => {
                        let opcode = w.resend.as_ref().expect("resending").0;
                        self.log_exchange(opcode, &rsp.map_or(Sent::NoAnswer, Sent::Answered));
                        return Ok((
                            Poll::Sleep {
                                until: grid(now, period),
                            },
                            grid(now, period),
                        ));
                    }
                },
                Poll::Asking(answer) => match answer.poll(&mut self.p)? {
                    TaskStep::Wait(t) => return Ok((Poll::Asking(answer), grid(now, t))),
                    TaskStep::Done(rsp) => {
                        let sent = rsp.map_or(Sent::NoAnswer, Sent::Answered);
                        self.note_state(&sent);
                        self.log_exchange(FUS_GET_STATE, &sent);
                        // Idle with no error while the wait expects more: the FUS lost the
                        // request (a reset came before it was recorded). AN5185 Table 6: the
                        // client sends it again.
                        if let Some((_, packet)) = w.resend.as_ref().filter(|_| {
                            self.st.fus == Some((0, 0)) && self.st.resends < w.resend_limit
                        }) {
                            self.st.resends += 1;
                            poll =
                                Poll::Resending(Answer::send(&mut self.p, packet, DEFAULT_ANSWER)?);
                            continue;
                        }
                        return Ok((
                            Poll::Sleep {
                                until: grid(now, period),
                            },
                            grid(now, period),
                        ));
                    }
                },
            }
        }
    }

    /// Keep the FUS state an answer to FUS_GET_STATE gives.
    fn note_state(&mut self, sent: &Sent) {
        if let Sent::Answered(rsp) = sent {
            self.st.fus = Some((rsp[6], rsp[7]));
        }
    }

    fn log_exchange(&mut self, opcode: u16, sent: &Sent) {
        let (status, payload) = match sent {
            Sent::Answered(r) => {
                let end = (3 + usize::from(r[2])).clamp(7, r.len());
                (Some(r[6]), r[7..end].to_vec())
            }
            _ => (None, Vec::new()),
        };
        self.st.log.exchanges.push(ExchangeRecord::new(
            self.st.step,
            us(self.p.m.now()),
            opcode,
            status,
            &payload,
        ));
    }

    fn start_action(&mut self, step: &Step) -> Result<Phase, RunError> {
        self.before_acting();
        match &step.action {
            Action::Command {
                packet,
                retries,
                timeout,
                ..
            } => {
                let task = Command::start(&mut self.p, packet.clone(), *timeout)?;
                return Ok(Phase::Acting(Act::Command {
                    task,
                    tries_left: *retries,
                }));
            }
            Action::Check(e) if e.asks_fus() => {
                let task = Command::start(&mut self.p, get_state(), DEFAULT_ANSWER)?;
                return Ok(Phase::Acting(Act::AskThenCheck(task)));
            }
            Action::Check(e) => {
                let failures = self.judge(e, None);
                self.end_checked(step.line, failures);
            }
            Action::Nothing => self.end_step("done".into()),
            Action::Read { address, expect } => match self.p.m.debug_read32(*address) {
                None => {
                    self.end_step("refused".into());
                    self.fail(
                        step.line,
                        "read",
                        format!("the debug port refused a read of {address:#010x}"),
                    );
                }
                Some(v) => {
                    self.end_step(format!("{v:#010x}"));
                    if let Some((want, mask)) = expect {
                        if v & mask != want & mask {
                            let why = format!("{address:#010x} holds {v:#010x}, expected {want:#010x} under mask {mask:#010x}");
                            self.fail(step.line, "value", why);
                        }
                    }
                }
            },
            Action::Write { address, value } => {
                if self.p.m.debug_write32(*address, *value) {
                    self.end_step("written".into());
                } else {
                    self.end_step("refused".into());
                    self.fail(
                        step.line,
                        "write",
                        format!("the debug port refused a write of {address:#010x}"),
                    );
                }
            }
            Action::Uart { port, bytes } => {
                self.p.m.uart_send(*port, bytes);
                self.end_step(format!("{} bytes sent", bytes.len()));
            }
            Action::Reset => {
                self.p.m.reset(ResetCause::Pin);
                self.end_step("reset".into());
            }
            Action::CutNow { seed } => {
                let torn = self.p.m.cut_power(*seed);
                let i = Injection::PowerCut { seed: *seed };
                self.record_fault(i, Some(self.st.step), "now".into(), torn);
                self.end_step("power cut".into());
            }
            Action::Arm { cut, seed } => {
                let injection = Injection::PowerCut { seed: *seed };
                match self.arm(Some(self.st.step), *cut, injection) {
                    Ok(()) => self.end_step(format!("armed {cut}")),
                    Err(why) => self.fail(step.line, "cut", why),
                }
            }
            Action::Place { name, bytes, to } => {
                let sfsa = self.options().sfsa();
                let address = match (to, sfsa) {
                    (Some(a), _) => Some(*a),
                    (None, Some(sfsa)) => {
                        Some(wb_firmware::images::download_address(sfsa, bytes.len()))
                    }
                    (None, None) => None,
                };
                match address.filter(|a| crate::scenario::fits_in_flash(*a, bytes.len())) {
                    Some(a) => {
                        self.p.m.poke(a, bytes);
                        self.end_step(format!("{name} written at {a:#010x}"));
                    }
                    None => {
                        self.end_step("not written".into());
                        let why = format!("{name}: no place in flash for {} bytes (no SFSA in force, or past the end)", bytes.len());
                        self.abort(step.line, "place", why);
                    }
                }
            }
            Action::Cpu1Image(img) => {
                let (vector, loaded) =
                    setup::load_image(&mut self.p.m, self.sc, img, "cpu1_image")?;
                self.symbols[0] = loaded.symbols;
                let (_, cpu2) = self.p.m.boot_vectors();
                self.p.m.set_boot(vector, cpu2);
                self.p.m.catch_cpu1_reset(false);
                self.p.m.reset(ResetCause::Pin);
                self.end_step(format!("{} booted at {vector:#010x}", img.name));
            }
        }
        // Instant actions end here: the next step may start at once.
        self.st.step += 1;
        Ok(Phase::Begin)
    }

    /// Go on with an action; `Some` while it waits (for how long), `None` when it ended.
    fn drive_action(&mut self, step: &Step, act: Act) -> Result<Option<(Act, Picos)>, RunError> {
        match act {
            Act::Command {
                mut task,
                tries_left,
            } => {
                let Action::Command {
                    opcode,
                    packet,
                    answer_required,
                    expect_status,
                    timeout,
                    ..
                } = &step.action
                else {
                    unreachable!("a command phase is for a command step");
                };
                let sent = match task.poll(&mut self.p)? {
                    TaskStep::Wait(t) => return Ok(Some((Act::Command { task, tries_left }, t))),
                    TaskStep::Done(sent) => sent,
                };
                self.log_exchange(*opcode, &sent);
                let name = wb_inspect::fus::command_name(u32::from(*opcode));
                match sent {
                    Sent::Answered(rsp) => {
                        if *opcode == FUS_GET_STATE {
                            self.st.fus = Some((rsp[6], rsp[7]));
                        }
                        self.end_step(format!("status {:#04x}", rsp[6]));
                        if let Some(want) = expect_status.filter(|w| *w != rsp[6]) {
                            let why = format!(
                                "{name} answered status {:#04x}, expected {want:#04x}",
                                rsp[6]
                            );
                            self.fail(step.line, "expect_status", why);
                        }
                    }
                    _ if tries_left > 0 => {
                        self.before_acting();
                        let task = Command::start(&mut self.p, packet.clone(), *timeout)?;
                        return Ok(Some((
                            Act::Command {
                                task,
                                tries_left: tries_left - 1,
                            },
                            0,
                        )));
                    }
                    Sent::NoReady => {
                        self.end_step("CPU2 sent no READY".into());
                        self.abort(
                            step.line,
                            "fus",
                            format!("{name}: CPU2 was started and sent no READY event"),
                        );
                    }
                    Sent::NoAnswer => {
                        self.end_step("no answer".into());
                        if *answer_required {
                            self.abort(step.line, "fus", format!("{name}: no answer"));
                        }
                    }
                }
                Ok(None)
            }
            Act::AskThenCheck(mut task) => {
                let sent = match task.poll(&mut self.p)? {
                    TaskStep::Wait(t) => return Ok(Some((Act::AskThenCheck(task), t))),
                    TaskStep::Done(sent) => sent,
                };
                self.log_exchange(FUS_GET_STATE, &sent);
                let answer = match &sent {
                    Sent::Answered(rsp) => Some((rsp[6], rsp[7])),
                    _ => None,
                };
                if answer.is_some() {
                    self.st.fus = answer;
                }
                let e = match &step.action {
                    Action::Check(e) => e,
                    _ => unreachable!("a check phase is for a check step"),
                };
                let failures = self.judge(e, Some(answer));
                self.end_checked(step.line, failures);
                Ok(None)
            }
        }
    }

    fn end_checked(&mut self, line: usize, failures: Vec<(String, String)>) {
        self.end_step(if failures.is_empty() {
            "held".into()
        } else {
            format!("{} failed", failures.len())
        });
        for (key, why) in failures {
            self.fail(line, &key, why);
        }
    }

    /// After the last step: the scenario's expectations (asking the FUS its state first if
    /// they name it), and a cut that never fell.
    fn end_checks(&mut self) -> Result<Option<Picos>, RunError> {
        let sc = self.sc;
        if let Some(end) = sc.end_at.filter(|t| self.p.m.now() < *t) {
            return Ok(Some(end));
        }
        let e = &sc.expect;
        let phase = std::mem::replace(&mut self.st.phase, Phase::Begin);
        let answer = match phase {
            Phase::Begin if e.asks_fus() => {
                self.before_acting();
                let task = Command::start(&mut self.p, get_state(), DEFAULT_ANSWER)?;
                self.st.phase = Phase::Acting(Act::AskThenCheck(task));
                return Ok(Some(self.p.m.now()));
            }
            Phase::Acting(Act::AskThenCheck(mut task)) => match task.poll(&mut self.p)? {
                TaskStep::Wait(t) => {
                    self.st.phase = Phase::Acting(Act::AskThenCheck(task));
                    return Ok(Some(grid(self.p.m.now(), t)));
                }
                TaskStep::Done(sent) => {
                    self.log_exchange(FUS_GET_STATE, &sent);
                    Some(match sent {
                        Sent::Answered(rsp) => Some((rsp[6], rsp[7])),
                        _ => None,
                    })
                }
            },
            _ => None,
        };
        let mut failures = self.judge(e, answer);
        if let Some(a) = self.st.armed.as_ref().filter(|a| a.required) {
            let by = a.step.map_or("the campaign".into(), |i| {
                format!("line {}", sc.steps[i].line)
            });
            let why = format!(
                "the {} {} armed by {by} never fell",
                kind(a.injection),
                a.cut
            );
            failures.push(("cut".into(), why));
        }
        for (key, why) in failures {
            self.fail(self.sc.expect.line, &key, why);
        }
        self.st.finished = true;
        Ok(None)
    }

    fn options(&self) -> Options {
        Options::live(self.p.m.with_flash(|f| *f.options()))
    }

    /// What CPU2's device information table says it runs, if CPU2 is started.
    fn cpu2_runs(&mut self) -> Option<Cpu2Firmware> {
        if !self.p.cpu2_started().unwrap_or(false) {
            return None;
        }
        let table = info_table::read(&self.p.m, self.options().ipccdba())?;
        Some(Cpu2Firmware::of(&table))
    }

    fn stack_runs(&mut self) -> bool {
        matches!(self.cpu2_runs(), Some(Cpu2Firmware::WirelessStack { .. }))
    }

    fn running_matches(&mut self, want: Running) -> Result<(), String> {
        let runs = self.cpu2_runs();
        let stack = match &runs {
            Some(Cpu2Firmware::WirelessStack { version, .. }) => Some(version.triple()),
            _ => None,
        };
        let ok = match want {
            Running::Any => stack.is_some(),
            Running::Nothing => stack.is_none(),
            Running::Version(a, b, c) => stack == Some((a, b, c)),
        };
        if ok {
            return Ok(());
        }
        let what = runs
            .as_ref()
            .map_or("nothing that answers".into(), wb_host::fus::describe);
        Err(match want {
            Running::Nothing => format!("a wireless stack runs ({what})"),
            Running::Any => format!("no wireless stack runs: CPU2 runs {what}"),
            Running::Version(a, b, c) => {
                format!("stack {a}.{b}.{c} does not run: CPU2 runs {what}")
            }
        })
    }

    fn power_cuts(&self) -> u32 {
        self.st
            .log
            .faults
            .iter()
            .filter(|f| f.kind == "power-cut")
            .count() as u32
    }

    fn boots(&self, core: CoreId) -> u32 {
        self.p.m.boots()[self.boots_before..]
            .iter()
            .filter(|b| b.core == core)
            .count() as u32
    }

    fn output_has(&self, text: &str) -> bool {
        self.st
            .output
            .iter()
            .any(|o| o.windows(text.len()).any(|w| w == text.as_bytes()))
    }

    fn holds(&mut self, c: &Condition) -> bool {
        let fus = self.st.fus;
        if c.fus_state.is_some_and(|s| fus.map(|f| f.0) != Some(s))
            || c.fus_error.is_some_and(|e| fus.map(|f| f.1) != Some(e))
            || c.fus_idle.is_some_and(|idle| {
                fus.map(|f| !FusState::from(f.0).is_upgrade_ongoing()) != Some(idle)
            })
        {
            return false;
        }
        if c.ws_running
            .is_some_and(|w| self.running_matches(w).is_err())
        {
            return false;
        }
        if let Some(want) = c.fus_running {
            if matches!(self.cpu2_runs(), Some(Cpu2Firmware::Fus { .. })) != want {
                return false;
            }
        }
        if c.uart.as_ref().is_some_and(|t| !self.output_has(t)) {
            return false;
        }
        for (core, place) in &c.core_at {
            let Some(addr) = setup::resolve(&self.symbols, *core, place) else {
                return false;
            };
            let there = self.st.hit == Some((*core, addr)) || self.p.m.stats(*core).pc == addr;
            if !there {
                return false;
            }
        }
        c.cpu1_boots.is_none_or(|n| self.boots(CoreId::Cpu1) >= n)
            && c.cpu2_boots.is_none_or(|n| self.boots(CoreId::Cpu2) >= n)
            && c.flash_ops
                .is_none_or(|n| self.p.m.flash_op_count() as u64 >= n)
            && c.power_cuts.is_none_or(|n| self.power_cuts() >= n)
    }

    /// The expectations of `e` that do not hold: (key, why). `answer` is the FUS_GET_STATE
    /// answer asked for them (inner `None`: none came).
    fn judge(&mut self, e: &Expect, answer: Option<Option<(u8, u8)>>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut fail = |k: &str, why: String| out.push((k.to_string(), why));
        if let Some(w) = e.ws_running {
            if let Err(why) = self.running_matches(w) {
                fail("ws_running", why);
            }
        }
        if let Some(want) = e.fus_running {
            let runs = matches!(self.cpu2_runs(), Some(Cpu2Firmware::Fus { .. }));
            if runs != want {
                fail(
                    "fus_running",
                    if want {
                        "the FUS does not run".into()
                    } else {
                        "the FUS runs".into()
                    },
                );
            }
        }
        match answer.flatten() {
            None if e.asks_fus() => fail("fus_state", "FUS_GET_STATE: no answer".into()),
            None => {}
            Some((state, error)) => {
                if let Some(want) = e.fus_state.filter(|w| *w != state) {
                    fail(
                        "fus_state",
                        format!("FUS_GET_STATE answered state {state:#04x}, expected {want:#04x}"),
                    );
                }
                if let Some(want) = e.fus_error.filter(|w| *w != error) {
                    let name =
                        |c: u8| wb_inspect::fus::error_name(wb_proto::fus::FusError::from(c));
                    fail(
                        "fus_error",
                        format!(
                            "FUS_GET_STATE answered error {}, expected {}",
                            name(error),
                            name(want)
                        ),
                    );
                }
            }
        }
        let o = self.options();
        let fields = [
            ("sfsa", e.sfsa, o.sfr() & 0xFF),
            ("sbrv", e.sbrv, o.srrvr() & 0x3_FFFF),
            (
                "sram2a_secure_kib",
                e.sram2a_secure_kib,
                o.sram2a_secure_kib(),
            ),
            (
                "sram2b_secure_kib",
                e.sram2b_secure_kib,
                o.sram2b_secure_kib(),
            ),
        ];
        for (key, want, got) in fields {
            if let Some(want) = want.filter(|w| *w != got) {
                fail(key, format!("{got:#x} in force, expected {want:#x}"));
            }
        }
        for &(from, to) in &e.unchanged {
            let len = (to - from) as usize;
            let now = self.p.m.device();
            match (self.start.read(from, len), now.read(from, len)) {
                (Ok(a), Ok(b)) if a == b => {}
                (Ok(a), Ok(b)) => {
                    let first = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
                    fail(
                        "unchanged",
                        format!(
                            "[{from:#010x}, {to:#010x}) changed, first at {:#010x}",
                            from + first as u32
                        ),
                    );
                }
                _ => fail(
                    "unchanged",
                    format!("[{from:#010x}, {to:#010x}) is not in one persistent memory"),
                ),
            }
        }
        for &(from, to) in &e.erased {
            let len = (to - from) as usize;
            let bytes = self.p.m.peek(from, len).expect("checked: in flash");
            let not_ff = bytes.iter().position(|b| *b != 0xFF);
            let ecc = self.p.m.with_flash(|f| {
                let (a, b) = ((from - 0x0800_0000) / 8, (to - 0x0800_0000).div_ceil(8));
                f.ecc_errors()
                    .range(a..b)
                    .next()
                    .map(|(dw, _)| 0x0800_0000 + dw * 8)
            });
            match (not_ff, ecc) {
                (None, None) => {}
                (Some(i), _) => fail("erased", format!("[{from:#010x}, {to:#010x}) is not erased: data at {:#010x}", from + i as u32)),
                (None, Some(a)) => fail("erased", format!("[{from:#010x}, {to:#010x}) is not erased: the double-word at {a:#010x} has a broken ECC")),
            }
        }
        if !e.allow_faults {
            for l in &self.st.log.lockups {
                fail(
                    "allow_faults",
                    format!("{} locked up at {} us (pc {})", l.core, l.at_us, l.pc),
                );
            }
            for core in CoreId::ALL {
                if self.p.m.registers(core).ipsr == 3 {
                    fail(
                        "allow_faults",
                        format!("{core} is in its HardFault handler"),
                    );
                }
            }
        }
        for (key, want, got) in [
            ("cpu1_boots", e.cpu1_boots, self.boots(CoreId::Cpu1)),
            ("cpu2_boots", e.cpu2_boots, self.boots(CoreId::Cpu2)),
            ("power_cuts", e.power_cuts, self.power_cuts()),
        ] {
            if let Some(want) = want.filter(|w| *w != got) {
                fail(key, format!("{got}, expected {want}"));
            }
        }
        if let Some(bound) = e.max_time.filter(|b| self.p.m.now() > *b) {
            fail(
                "max_time",
                format!(
                    "the run took {}, more than {}",
                    picos::text(self.p.m.now()),
                    picos::text(bound)
                ),
            );
        }
        for t in &e.uart_contains {
            if !self.output_has(t) {
                fail("uart_contains", format!("no UART sent {t:?}"));
            }
        }
        for t in &e.uart_lacks {
            if self.output_has(t) {
                fail("uart_lacks", format!("a UART sent {t:?}"));
            }
        }
        out
    }
}
