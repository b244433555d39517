//! What a run did, as the report lists it: steps, commands and answers, power cuts, lockups
//! and the expectations that failed.

use serde::Serialize;

use crate::scenario::{Action, Step};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Log {
    pub steps: Vec<StepRecord>,
    pub exchanges: Vec<ExchangeRecord>,
    /// Power cuts and external resets a step or a campaign armed or made.
    pub faults: Vec<FaultRecord>,
    pub lockups: Vec<LockupRecord>,
    pub failures: Vec<Failure>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepRecord {
    pub index: usize,
    pub line: usize,
    /// What the step does: "fus FUS_FW_UPGRADE", "wait", "cut during:12"...
    pub what: String,
    pub started_us: f64,
    pub ended_us: Option<f64>,
    /// How it ended ("status 0x00", "timed out after ...").
    pub outcome: String,
}

impl StepRecord {
    pub fn begin(index: usize, step: &Step, at_us: f64) -> StepRecord {
        StepRecord {
            index,
            line: step.line,
            what: describe(step),
            started_us: at_us,
            ended_us: None,
            outcome: String::new(),
        }
    }
}

/// A step in a few words.
pub fn describe(step: &Step) -> String {
    let action = match &step.action {
        Action::Nothing => String::new(),
        Action::Command { opcode, .. } => {
            format!("fus {}", wb_inspect::fus::command_name(u32::from(*opcode)))
        }
        Action::Read { address, .. } => format!("read {address:#010x}"),
        Action::Write { address, value } => format!("write {value:#010x} to {address:#010x}"),
        Action::Uart { port, bytes } => format!("{} bytes to {}", bytes.len(), port.name()),
        Action::Reset => "reset nrst".into(),
        Action::CutNow { .. } => "cut now".into(),
        Action::Arm { cut, .. } => format!("cut {cut}"),
        Action::Cpu1Image(img) => format!("cpu1 image {}", img.name),
        Action::Place { name, to, .. } => match to {
            Some(a) => format!("place {name} at {a:#010x}"),
            None => format!("place {name} at the download address"),
        },
        Action::Check(_) => "check".into(),
    };
    match (step.wait.is_some(), action.is_empty()) {
        (true, true) => "wait".into(),
        (true, false) => format!("wait, then {action}"),
        (false, _) => action,
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExchangeRecord {
    /// The step that sent it.
    pub step: usize,
    pub at_us: f64,
    pub command: String,
    pub opcode: String,
    /// The status byte (FUS_GET_STATE: the state); none when nothing was answered.
    pub status: Option<String>,
    /// The payload after the status, in hex (FUS_GET_STATE: the error code).
    pub payload: String,
}

impl ExchangeRecord {
    pub fn new(
        step: usize,
        at_us: f64,
        opcode: u16,
        status: Option<u8>,
        payload: &[u8],
    ) -> ExchangeRecord {
        ExchangeRecord {
            step,
            at_us,
            command: wb_inspect::fus::command_name(u32::from(opcode)),
            opcode: format!("{opcode:#06x}"),
            status: status.map(|s| format!("{s:#04x}")),
            payload: payload.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultRecord {
    /// "power-cut" or "reset" (the NRST pin).
    pub kind: &'static str,
    /// The step that armed or made it (none: a campaign's).
    pub step: Option<usize>,
    /// When it was to fall ("during:page-erase#2", "now").
    pub plan: String,
    pub at_us: f64,
    /// The flash operation it tore or dropped.
    pub torn_op: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LockupRecord {
    pub core: &'static str,
    pub at_us: f64,
    pub pc: String,
}

/// An expectation that did not hold, or a step that could not be done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The scenario line of the step or expectation.
    pub line: usize,
    pub key: String,
    pub message: String,
}
