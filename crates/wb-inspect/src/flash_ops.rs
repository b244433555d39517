//! Flash operations as reports show them: one JSON object, or one line of text.

use serde::Serialize;
use wb_periph::flash::{OpRecord, Outcome};

use crate::{flags, hex32, us};

/// One flash operation.
#[derive(Serialize)]
pub struct FlashOp {
    pub seq: u64,
    pub start_us: f64,
    pub end_us: f64,
    pub core: &'static str,
    pub kind: &'static str,
    pub address: String,
    pub outcome: String,
}

impl FlashOp {
    pub fn of(r: &OpRecord) -> FlashOp {
        FlashOp {
            seq: r.seq,
            start_us: us(r.start),
            end_us: us(r.end),
            core: r.core.name(),
            kind: r.kind.name(),
            address: hex32(r.address),
            outcome: format!("{:?}", r.outcome),
        }
    }
}

pub fn outcome_text(outcome: Outcome) -> String {
    match outcome {
        Outcome::Pending => "running".into(),
        Outcome::Done => "ok".into(),
        Outcome::Torn => "torn".into(),
        Outcome::Dropped => "dropped".into(),
        Outcome::Refused(flag) => match flags::flash_sr(flag).as_slice() {
            [] => format!("refused (SR {flag:#x})"),
            names => format!("refused ({})", names.join(" ")),
        },
    }
}

/// The human line for an operation, e.g.
/// `flash #12 t=1.234567 ms cpu1 program 0x08001000 ok (81.700 us)` (t: when it was
/// requested; one still running has no duration).
pub fn flash_line(r: &OpRecord) -> String {
    let took = match r.outcome {
        Outcome::Pending => String::new(),
        _ => format!(" ({:.3} us)", us(r.end - r.start)),
    };
    format!(
        "flash #{} t={:.6} ms {} {} {:#010x} {}{took}",
        r.seq,
        r.start as f64 / 1e9,
        r.core.name(),
        r.kind,
        r.address,
        outcome_text(r.outcome)
    )
}
