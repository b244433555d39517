//! The report of a scenario run: its verdict with each failure named, what the host did, and
//! figures of the machine. Everything in it but `host_ms` is the same for the same scenario.

use std::collections::BTreeMap;

use serde::Serialize;
use wb_inspect::digest::Digests;
use wb_inspect::flash_ops::FlashOp;
use wb_inspect::{hex32, us};
use wb_machine::CoreId;

use crate::record::{ExchangeRecord, Failure, FaultRecord, LockupRecord, StepRecord};
use crate::run::Run;

#[derive(Serialize)]
pub struct Report {
    pub scenario: String,
    pub file: String,
    /// "pass" or "fail".
    pub verdict: &'static str,
    pub failures: Vec<Failure>,
    pub simulated_us: f64,
    /// Host time the run took: the one figure that differs between two runs.
    pub host_ms: f64,
    pub steps: Vec<StepRecord>,
    pub exchanges: Vec<ExchangeRecord>,
    pub faults: Vec<FaultRecord>,
    pub lockups: Vec<LockupRecord>,
    /// What each UART sent (ports that sent nothing are left out), as text.
    pub uart_output: BTreeMap<&'static str, String>,
    pub boots: BTreeMap<&'static str, usize>,
    pub cores: Vec<CoreFigures>,
    pub flash_op_count: usize,
    /// Every flash operation, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flash_ops: Option<Vec<FlashOp>>,
    pub flash_digests: Digests,
    /// A digest of every core's execution (blocks and their cycles): equal digests, equal runs.
    pub trace_hash: String,
}

#[derive(Serialize)]
pub struct CoreFigures {
    pub core: &'static str,
    pub cycles: u64,
    pub instructions: u64,
    pub pc: String,
}

impl Report {
    /// The report of a run that has ended; `host_ms` as measured by the caller.
    pub fn of(run: &Run, host_ms: f64, flash_ops: bool) -> Report {
        let m = &run.p.m;
        let log = &run.st.log;
        let boots = m.boots();
        let since = boots.len() - run.boots_counted();
        Report {
            scenario: run.sc.name.clone(),
            file: run.sc.file.display().to_string(),
            verdict: if log.failures.is_empty() {
                "pass"
            } else {
                "fail"
            },
            failures: log.failures.clone(),
            simulated_us: us(m.now()),
            host_ms,
            steps: log.steps.clone(),
            exchanges: log.exchanges.clone(),
            faults: log.faults.clone(),
            lockups: log.lockups.clone(),
            uart_output: ["usart1", "lpuart1"]
                .into_iter()
                .zip(&run.st.output)
                .filter(|(_, o)| !o.is_empty())
                .map(|(p, o)| (p, String::from_utf8_lossy(o).into_owned()))
                .collect(),
            boots: CoreId::ALL
                .iter()
                .map(|&c| {
                    (
                        c.name(),
                        boots[since..].iter().filter(|b| b.core == c).count(),
                    )
                })
                .collect(),
            cores: CoreId::ALL
                .iter()
                .map(|&c| {
                    let s = m.stats(c);
                    CoreFigures {
                        core: c.name(),
                        cycles: s.cycles,
                        instructions: s.insns,
                        pc: hex32(s.pc),
                    }
                })
                .collect(),
            flash_op_count: m.flash_op_count(),
            flash_ops: flash_ops.then(|| m.flash_log().iter().map(FlashOp::of).collect()),
            flash_digests: Digests::of(&m.device()),
            trace_hash: format!("{:016x}", m.trace_hash()),
        }
    }

    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}
