//! Campaigns: a scenario run once as it is (the golden run, checkpointed as it goes), then
//! once per case of its fault plan, each case branched from the last checkpoint before its
//! fault. After the fault the chip comes back and the scenario goes on (its host steps
//! included); the case is judged by the scenario's expectations and by what a campaign always
//! demands: CPU2 still answers, nothing the flow never touches changed.
//!
//! A case whose state right after its fault's power-on equals the state of a case already
//! judged (`Run::power_on_key`) gets that verdict without running on: the machine runs the
//! same from equal states, whatever the time. Identical cases (a cut after operation N and
//! one before N+1, a tear that left the operation undone and the cut before it) are judged
//! once that way.

pub mod output;
pub mod plan;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use wb_image::wb_proto::layout;
use wb_machine::{Device, Picos};
use wb_periph::flash::{OpRecord, OptionBytes, PAGE_SIZE};

use crate::record::Failure;
use crate::run::{Checkpoint, Run, RunError};
use crate::scenario::Scenario;
use plan::{Case, When};

/// How a case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// The fault sent CPU2 to safeboot, the flow did not come through, and the factory
    /// reset left what it must (docs/fus-layout.md §7, `Campaign::factory_reset_left`). The
    /// scenario's own expectations do not apply: the reset ended its flow by design.
    FactoryReset,
    /// An expectation failed (named).
    Fail,
    /// After recovery and a retry, CPU2 does not answer.
    Brick,
    /// The run did not end within the scenario's max_time.
    Hang,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Pass,
        Verdict::FactoryReset,
        Verdict::Fail,
        Verdict::Brick,
        Verdict::Hang,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::FactoryReset => "factory-reset",
            Verdict::Fail => "fail",
            Verdict::Brick => "brick",
            Verdict::Hang => "hang",
        }
    }

    /// The device came through: it passed, or a factory reset left it as AN5185 says.
    pub fn is_ok(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::FactoryReset)
    }
}

/// A judged case.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// `scenario:case`, e.g. `install-16k:op1234:during:seed3`.
    pub id: String,
    #[serde(skip)]
    pub case: Case,
    pub group: String,
    pub verdict: Verdict,
    pub failures: Vec<Failure>,
    /// When the (first) fault fell and the operation it interrupted.
    pub fault_at_us: Option<f64>,
    pub torn_op: Option<u64>,
    /// How many of the case's faults fell (a second fault falls only if the recovery gets
    /// that far).
    pub faults_fallen: usize,
    /// Simulated time at the end (or where it stopped early).
    pub simulated_us: f64,
    pub host_ms: f64,
    /// Stopped early: the case whose state after the fault was this one's.
    pub same_as: Option<String>,
    /// The device right after the fault, when asked for (to keep a failure's).
    #[serde(skip)]
    pub device_at_fault: Option<Device>,
}

/// The golden run: the scenario without faults, checkpointed.
pub struct Golden {
    /// (flash operations requested, time, checkpoint), in time order.
    checkpoints: Vec<(usize, Picos, Checkpoint)>,
    pub ops: Vec<OpRecord>,
    pub end: Picos,
    pub failures: Vec<Failure>,
    /// Pages of flash no operation of the golden run touched: a case must leave them alone.
    untouched: Vec<u32>,
}

/// How often, in simulated time, a case after its fault compares its whole state with the
/// states other cases reached at the same time.
const CONVERGE_EVERY: Picos = 5 * wb_periph::picos::MS;

/// Checkpoints kept at most; past that every other one goes and the spacing doubles.
const MAX_CHECKPOINTS: usize = 256;

impl Golden {
    /// Run `sc` without faults, a checkpoint at least every `every_ops` flash operations.
    pub fn run(sc: &Scenario, every_ops: usize) -> Result<Golden, RunError> {
        let mut run = Run::new(sc)?;
        let mut spacing = every_ops.max(1);
        let mut checkpoints = vec![(0, run.p.m.now(), run.checkpoint())];
        while run.advance()? {
            let ops = run.p.m.flash_op_count();
            if ops >= checkpoints.last().expect("one at least").0 + spacing {
                checkpoints.push((ops, run.p.m.now(), run.checkpoint()));
                if checkpoints.len() > MAX_CHECKPOINTS {
                    let mut i = 0;
                    checkpoints.retain(|_| {
                        i += 1;
                        i % 2 == 1
                    });
                    spacing *= 2;
                }
            }
        }
        let ops = run.p.m.flash_log();
        let mut touched = vec![false; 256];
        for r in &ops {
            let first = r.address.saturating_sub(0x0800_0000) / PAGE_SIZE;
            let pages = if r.kind == wb_periph::flash::FlashOpKind::MassErase {
                256
            } else {
                1
            };
            for p in first..(first + pages).min(256) {
                touched[p as usize] = true;
            }
        }
        Ok(Golden {
            checkpoints,
            end: run.p.m.now(),
            failures: run.st.log.failures.clone(),
            untouched: (0..256u32).filter(|p| !touched[*p as usize]).collect(),
            ops,
        })
    }

    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }

    /// The last checkpoint before `case`'s fault can fall.
    pub fn checkpoint_for(&self, case: &Case) -> &Checkpoint {
        let before = |(ops, t, _): &&(usize, Picos, Checkpoint)| match case.when {
            When::Op { op, .. } => (*ops as u64) < op,
            When::At { t: at, .. } => *t < at,
        };
        let found = self.checkpoints.iter().rev().find(before);
        &found.unwrap_or(&self.checkpoints[0]).2
    }
}

/// What a judged state led to, for the cases that reach it again.
#[derive(Clone)]
struct Decided {
    id: String,
    verdict: Verdict,
    failures: Vec<Failure>,
    /// Simulated time from the state to the end of the run.
    took: Picos,
}

/// How to run the cases.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub jobs: usize,
    /// Stop a case at a state already judged.
    pub early_stop: bool,
    /// Keep the device at the fault in each outcome.
    pub keep_devices: bool,
}

/// A scenario ready for its cases.
pub struct Campaign<'s> {
    pub sc: &'s Scenario,
    pub golden: Golden,
    /// By power-on key (`Run::power_on_key`): what a state at a power-on led to.
    decided: Mutex<HashMap<u64, Decided>>,
    /// By state key (`Run::state_key`): what a whole state at a time led to, once the case
    /// that reached it has ended (`None` while it runs).
    converged: Mutex<HashMap<u64, Option<Decided>>>,
}

impl<'s> Campaign<'s> {
    pub fn new(sc: &'s Scenario, golden: Golden) -> Campaign<'s> {
        Campaign {
            sc,
            golden,
            decided: Mutex::new(HashMap::new()),
            converged: Mutex::new(HashMap::new()),
        }
    }

    /// Every case of the scenario's plan (its default plan if it has none).
    pub fn cases(&self) -> Vec<Case> {
        let plan = self.sc.campaign.clone().unwrap_or_default();
        plan.cases(&self.golden.ops, self.golden.end)
    }

    pub fn id(&self, case: &Case) -> String {
        format!("{}:{}", self.sc.name, case)
    }

    /// Run `cases` on `o.jobs` threads; `done` hears of each as it ends. Outcomes come back in
    /// the order of `cases`.
    pub fn run(
        &self,
        cases: &[Case],
        o: Options,
        done: &(dyn Fn(&Outcome) + Sync),
    ) -> Result<Vec<Outcome>, RunError> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; cases.len()]);
        let error: Mutex<Option<RunError>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..o.jobs.max(1).min(cases.len().max(1)) {
                scope.spawn(|| {
                    let mut run = match Run::new(self.sc) {
                        Ok(r) => r,
                        Err(e) => {
                            *error.lock().expect("not poisoned") = Some(e.into());
                            return;
                        }
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= cases.len() || error.lock().expect("not poisoned").is_some() {
                            return;
                        }
                        match self.run_case(&mut run, &cases[i], o) {
                            Ok(outcome) => {
                                done(&outcome);
                                results.lock().expect("not poisoned")[i] = Some(outcome);
                            }
                            Err(e) => {
                                *error.lock().expect("not poisoned") = Some(e);
                                return;
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = error.into_inner().expect("not poisoned") {
            return Err(e);
        }
        Ok(results
            .into_inner()
            .expect("not poisoned")
            .into_iter()
            .map(|o| o.expect("every case ran"))
            .collect())
    }

    /// One case, branched from the golden run's checkpoint before its fault.
    pub fn run_case(&self, run: &mut Run, case: &Case, o: Options) -> Result<Outcome, RunError> {
        let started = std::time::Instant::now();
        run.resume(self.golden.checkpoint_for(case));
        self.judge(run, case, o, started)
    }

    /// One case the naive way: from power-on, the fault armed from the start.
    pub fn run_case_from_boot(&self, case: &Case) -> Result<Outcome, RunError> {
        let started = std::time::Instant::now();
        let mut run = Run::new(self.sc)?;
        let o = Options {
            jobs: 1,
            early_stop: false,
            keep_devices: false,
        };
        self.judge(&mut run, case, o, started)
    }

    fn judge(
        &self,
        run: &mut Run,
        case: &Case,
        o: Options,
        started: std::time::Instant,
    ) -> Result<Outcome, RunError> {
        let id = self.id(case);
        run.arm(None, case.cut(), case.injection())
            .expect("a golden checkpoint has no fault armed");
        let mut device_at_fault = None;
        let mut looked_up = false;
        let mut second_armed = false;
        let mut next_look = 0;
        // The device between the end of the (last) factory reset and CPU2's next start: what
        // the reset left.
        let mut after_reset = None;
        // State keys this case was the first to reach.
        let mut seen = Vec::new();
        let faults = 1 + usize::from(case.then.is_some());
        while run.advance()? {
            let fallen = run.st.log.faults.len();
            if let Some(second) = case.then.filter(|_| fallen == 1 && !second_armed) {
                // The first fault has just fallen: the second falls in the recovery.
                let ops = run.p.m.flash_op_count() as u64;
                run.arm_if_reached(second.cut(ops), second.fault.injection(second.seed))
                    .expect("the first fault has fallen: nothing is armed");
                second_armed = true;
            }
            if o.keep_devices && device_at_fault.is_none() && fallen == faults {
                // The first look after the (last) fault: the chip as it came back.
                device_at_fault = Some(run.p.m.device());
            }
            if run.after_factory_reset() {
                after_reset = Some(run.p.m.device());
            }
            if o.early_stop && fallen == faults && run.p.m.now() >= next_look {
                // The whole state at a time another case may have been in already.
                next_look = (run.p.m.now() / CONVERGE_EVERY + 1) * CONVERGE_EVERY;
                let k = run.state_key();
                let mut table = self.converged.lock().expect("not poisoned");
                match table.get(&k) {
                    Some(Some(d)) => {
                        let d = d.clone();
                        drop(table);
                        self.settle(&seen, &d);
                        return Ok(self.same_as(run, case, id, d, started, device_at_fault));
                    }
                    Some(None) => {}
                    None => {
                        table.insert(k, None);
                        seen.push(k);
                    }
                }
            }
            let Some((key, at)) = run.st.fault_key.filter(|_| !looked_up && fallen == faults)
            else {
                continue;
            };
            looked_up = true;
            let Some(k) = key.filter(|_| o.early_stop) else {
                continue;
            };
            let known = self.decided.lock().expect("not poisoned").get(&k).cloned();
            if let Some(d) = known.filter(|d| self.fits(at, d.took)) {
                self.settle(&seen, &d);
                return Ok(self.same_as(run, case, id, d, started, device_at_fault));
            }
        }
        let mut failures = run.st.log.failures.clone();
        self.nothing_lost(run, &mut failures);
        // A flow that comes through a factory reset passes; one that does not is judged by
        // what the reset left.
        let factory_reset = run.safeboot_ran() && !failures.is_empty();
        if factory_reset {
            failures.retain(|f| f.key == "max_time");
            self.factory_reset_left(run, after_reset.as_ref(), &mut failures);
        }
        let end = run.p.m.now();
        let fault = run.st.log.faults.first().cloned();
        let verdict = if !run.reachable() {
            Verdict::Brick
        } else if failures.iter().any(|f| f.key == "max_time") {
            Verdict::Hang
        } else if !failures.is_empty() {
            Verdict::Fail
        } else if factory_reset {
            Verdict::FactoryReset
        } else {
            Verdict::Pass
        };
        let timed_out = failures.iter().any(|f| f.key == "wait");
        let key = run
            .st
            .fault_key
            .filter(|_| verdict != Verdict::Hang && !timed_out);
        if let Some((Some(k), at)) = key {
            let d = Decided {
                id: id.clone(),
                verdict,
                failures: failures.clone(),
                took: end - at,
            };
            self.decided
                .lock()
                .expect("not poisoned")
                .entry(k)
                .or_insert(d);
        }
        let d = Decided {
            id: id.clone(),
            verdict,
            failures: failures.clone(),
            took: 0,
        };
        self.settle(&seen, &d);
        Ok(Outcome {
            id,
            case: *case,
            group: case.group(),
            verdict,
            failures,
            fault_at_us: fault.as_ref().map(|f| f.at_us),
            torn_op: fault.and_then(|f| f.torn_op),
            faults_fallen: run.st.log.faults.len(),
            simulated_us: wb_inspect::us(end),
            host_ms: started.elapsed().as_secs_f64() * 1e3,
            same_as: None,
            device_at_fault,
        })
    }

    /// The states a case reached first led to `d`: cases that reach them later stop there.
    fn settle(&self, seen: &[u64], d: &Decided) {
        let mut table = self.converged.lock().expect("not poisoned");
        for k in seen {
            table.insert(*k, Some(d.clone()));
        }
    }

    /// The outcome of a case stopped at a state `d` was judged from.
    fn same_as(
        &self,
        run: &Run,
        case: &Case,
        id: String,
        d: Decided,
        started: std::time::Instant,
        device_at_fault: Option<Device>,
    ) -> Outcome {
        let fault = &run.st.log.faults[0];
        Outcome {
            id,
            case: *case,
            group: case.group(),
            verdict: d.verdict,
            failures: d.failures,
            fault_at_us: Some(fault.at_us),
            torn_op: fault.torn_op,
            faults_fallen: run.st.log.faults.len(),
            simulated_us: wb_inspect::us(run.p.m.now()),
            host_ms: started.elapsed().as_secs_f64() * 1e3,
            same_as: Some(d.id),
            device_at_fault,
        }
    }

    /// Whether a run from a state at `now` that takes `took` to end comes out as it did:
    /// within the scenario's bounds on the same side.
    fn fits(&self, now: Picos, took: Picos) -> bool {
        let end = now + took;
        end < self.sc.max_time && self.sc.expect.max_time.is_none_or(|b| end <= b)
    }

    /// Pages the golden run never touched hold what they held when the run started.
    /// What a factory reset must leave (docs/fus-layout.md §7), each miss a failure: once it
    /// has ended (`after_reset`, before CPU2 starts again) nothing below the FUS and the
    /// option bytes of a device as shipped; at the end the FUS, its key page and safeboot as they were at
    /// the start, and no lockup.
    fn factory_reset_left(
        &self,
        run: &Run,
        after_reset: Option<&Device>,
        failures: &mut Vec<Failure>,
    ) {
        let page = |p: u32| (p * PAGE_SIZE) as usize..((p + 1) * PAGE_SIZE) as usize;
        let mut fail = |message: String| {
            failures.push(Failure {
                line: self.sc.expect.line,
                key: "factory_reset".into(),
                message,
            })
        };
        let fus = layout::FUS_FIRST_PAGE;
        match after_reset {
            None => {
                fail("safeboot ran, but no look came between its end and CPU2's next start".into())
            }
            Some(dev) => {
                if let Some(p) = (0..fus).find(|&p| dev.flash[page(p)].iter().any(|&b| b != 0xFF)) {
                    fail(format!(
                        "after the factory reset, page {:#010x} below the FUS is not erased",
                        layout::page_address(p)
                    ));
                }
                let (options, bad) = OptionBytes::load(&dev.option_bytes);
                if !bad.is_empty()
                    || options.secure_flash_page() != Some(fus)
                    || options.cpu2_boot_vector() != layout::FUS_VECTOR
                {
                    fail(format!(
                        "after the factory reset the option bytes are not a shipped device's \
                         (SFSA {:?}, CPU2 boots {:#010x}, {} slot(s) failing their check)",
                        options.secure_flash_page(),
                        options.cpu2_boot_vector(),
                        bad.len()
                    ));
                }
            }
        }
        let (now, start) = (run.p.m.device(), run.start_device());
        let kept =
            (fus..layout::FUS_RECORD_PAGES[0]).chain([layout::FUS_KEY_PAGE, layout::SAFEBOOT_PAGE]);
        for p in kept {
            if now.flash[page(p)] != start.flash[page(p)] {
                fail(format!(
                    "page {:#010x} (the FUS, its keys or safeboot) changed",
                    layout::page_address(p)
                ));
            }
        }
        if let Some(l) = run.st.log.lockups.first() {
            fail(format!("{} locked up at {}", l.core, l.pc));
        }
    }

    fn nothing_lost(&self, run: &Run, failures: &mut Vec<Failure>) {
        let now = run.p.m.device();
        let start = run.start_device();
        let changed: Vec<u32> = self
            .golden
            .untouched
            .iter()
            .copied()
            .filter(|&p| {
                let range = (p * PAGE_SIZE) as usize..((p + 1) * PAGE_SIZE) as usize;
                now.flash[range.clone()] != start.flash[range]
            })
            .collect();
        if let Some(first) = changed.first() {
            failures.push(Failure {
                line: self.sc.expect.line,
                key: "nothing_lost".into(),
                message: format!(
                    "{} flash page(s) the flow never touches changed, the first at {:#010x}",
                    changed.len(),
                    0x0800_0000 + first * PAGE_SIZE
                ),
            });
        }
    }
}
