//! Power cuts as data: when a cut falls (a time, or before / during / after a flash
//! operation given by its number or by what it is), with the text form `wbemu run
//! --cut-power` and scenario files use:
//!
//! ```text
//! at:US                      at US microseconds of simulated time
//! before:N | during:N | after:N        flash operation N of the log (from 1)
//! during:KIND[@START-END][#N]          the Nth (default 1st) operation of KIND, e.g.
//!                                      during:option-program, before:page-erase@0x080f0000-0x080f4000#2
//! ```
//!
//! KIND is a flash operation kind as the log names it (program, fast-program, page-erase,
//! mass-erase, option-program, erase) or `any`.

use std::fmt;
use std::str::FromStr;

use wb_periph::flash::{FlashOpKind, OpRecord};
use wb_periph::Picos;

/// When to cut the power (see [`Machine::arm_power_cut`]): data, so a plan can be written in
/// a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerCut {
    /// At this global time.
    At(Picos),
    /// When flash operation N is requested, before it has any effect.
    BeforeOp(u64),
    /// Half-way through flash operation N: it is torn.
    DuringOp(u64),
    /// Right after flash operation N completes.
    AfterOp(u64),
    /// At `point` of the first operation of the log that `op` matches (which becomes the
    /// operation N of the variants above as soon as it is requested).
    Matching { op: OpMatch, point: CutPoint },
}

/// What falls when an armed [`PowerCut`] is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Injection {
    /// The power goes: volatile state is lost, the chip powers on again. `seed` decides how
    /// an operation in progress is torn.
    PowerCut { seed: u64 },
    /// A reset through the NRST pin: SRAM is kept; an operation in progress is interrupted as
    /// a power cut would leave it.
    Reset { seed: u64 },
}

/// Where in a flash operation a cut falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CutPoint {
    Before,
    During,
    After,
}

/// The `nth` (from 1) flash operation, in log order and refused ones included, of `kind`
/// (any when `None`) at an address in `addresses` (`[start, end)`, any when `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpMatch {
    pub kind: Option<FlashOpKind>,
    pub addresses: Option<(u32, u32)>,
    pub nth: u64,
}

impl OpMatch {
    /// The sequence number of the matching operation, once it is in `log`.
    pub fn find(&self, log: &[OpRecord]) -> Option<u64> {
        log.iter()
            .filter(|r| self.kind.is_none_or(|k| k == r.kind))
            .filter(|r| {
                self.addresses
                    .is_none_or(|(s, e)| (s..e).contains(&r.address))
            })
            .nth(self.nth.checked_sub(1)? as usize)
            .map(|r| r.seq)
    }
}

impl fmt::Display for CutPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CutPoint::Before => "before",
            CutPoint::During => "during",
            CutPoint::After => "after",
        })
    }
}

impl fmt::Display for PowerCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PowerCut::At(t) => write!(f, "at:{}", t / 1_000_000),
            PowerCut::BeforeOp(n) => write!(f, "before:{n}"),
            PowerCut::DuringOp(n) => write!(f, "during:{n}"),
            PowerCut::AfterOp(n) => write!(f, "after:{n}"),
            PowerCut::Matching { op, point } => {
                write!(f, "{point}:{}", op.kind.map_or("any", FlashOpKind::name))?;
                if let Some((s, e)) = op.addresses {
                    write!(f, "@{s:#010x}-{e:#010x}")?;
                }
                if op.nth != 1 {
                    write!(f, "#{}", op.nth)?;
                }
                Ok(())
            }
        }
    }
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

impl FromStr for PowerCut {
    type Err = String;

    fn from_str(s: &str) -> Result<PowerCut, String> {
        let usage = "expected at:MICROSECONDS, before|during|after:N or \
            before|during|after:KIND[@START-END][#N]";
        let (when, what) = s.split_once(':').ok_or_else(|| format!("{s}: {usage}"))?;
        let point = match when {
            "at" => {
                let us = number(what)
                    .ok_or_else(|| format!("{s}: {what:?} is not a number of microseconds"))?;
                return Ok(PowerCut::At(us.saturating_mul(1_000_000)));
            }
            "before" => CutPoint::Before,
            "during" => CutPoint::During,
            "after" => CutPoint::After,
            _ => return Err(format!("{s}: {when:?} is not at, before, during or after")),
        };
        if let Some(n) = number(what) {
            if n == 0 {
                return Err(format!("{s}: flash operations are numbered from 1"));
            }
            return Ok(match point {
                CutPoint::Before => PowerCut::BeforeOp(n),
                CutPoint::During => PowerCut::DuringOp(n),
                CutPoint::After => PowerCut::AfterOp(n),
            });
        }
        let (rest, nth) = match what.split_once('#') {
            Some((r, n)) => (
                r,
                number(n)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("{s}: #{n} is not a count from 1"))?,
            ),
            None => (what, 1),
        };
        let (kind, range) = match rest.split_once('@') {
            Some((k, r)) => (k, Some(r)),
            None => (rest, None),
        };
        let kind = match kind {
            "any" => None,
            k => Some(FlashOpKind::from_name(k).ok_or_else(|| {
                let names: Vec<_> = FlashOpKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "{s}: {k:?} is not a flash operation ({} or any)",
                    names.join(", ")
                )
            })?),
        };
        let addresses = match range {
            None => None,
            Some(r) => {
                let (a, b) = r
                    .split_once('-')
                    .ok_or_else(|| format!("{s}: {r:?}: expected START-END"))?;
                let (a, b) = (number(a), number(b));
                match (a, b) {
                    (Some(a), Some(b)) if a < b && b <= u64::from(u32::MAX) => {
                        Some((a as u32, b as u32))
                    }
                    _ => return Err(format!("{s}: {r:?}: expected START-END with START < END")),
                }
            }
        };
        Ok(PowerCut::Matching {
            op: OpMatch {
                kind,
                addresses,
                nth,
            },
            point,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_plans_read_and_write_as_text() {
        for text in [
            "at:250",
            "before:1",
            "during:33",
            "after:7",
            "during:option-program",
            "before:page-erase@0x080f0000-0x080f4000#2",
            "after:any#5",
        ] {
            let cut: PowerCut = text.parse().unwrap();
            assert_eq!(cut.to_string(), text);
        }
        assert_eq!("at:3".parse(), Ok(PowerCut::At(3_000_000)));
        assert_eq!(
            "during:program#3".parse(),
            Ok(PowerCut::Matching {
                op: OpMatch {
                    kind: Some(FlashOpKind::Program),
                    addresses: None,
                    nth: 3
                },
                point: CutPoint::During
            })
        );
        for (bad, says) in [
            ("sideways:1", "sideways"),
            ("during:0", "from 1"),
            ("during:wipe", "not a flash operation"),
            ("during:program#0", "count from 1"),
            ("before:program@0x10", "START-END"),
            ("before:program@0x20-0x10", "START < END"),
            ("nothing", "expected"),
        ] {
            let e = bad.parse::<PowerCut>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    fn op(seq: u64, kind: FlashOpKind, address: u32) -> OpRecord {
        OpRecord {
            seq,
            core: wb_periph::CoreId::Cpu2,
            kind,
            address,
            start: 0,
            end: 0,
            outcome: wb_periph::flash::Outcome::Done,
        }
    }

    #[test]
    fn a_match_finds_the_nth_operation_of_its_kind_and_range() {
        let log = [
            op(1, FlashOpKind::Program, 0x0800_1000),
            op(2, FlashOpKind::PageErase, 0x080F_0000),
            op(3, FlashOpKind::Program, 0x080F_0000),
            op(4, FlashOpKind::Program, 0x080F_0008),
        ];
        let m = |kind, addresses, nth| OpMatch {
            kind,
            addresses,
            nth,
        };
        assert_eq!(m(Some(FlashOpKind::Program), None, 2).find(&log), Some(3));
        let top = Some((0x080F_0000, 0x080F_4000));
        assert_eq!(m(Some(FlashOpKind::Program), top, 2).find(&log), Some(4));
        assert_eq!(m(None, top, 1).find(&log), Some(2));
        assert_eq!(m(Some(FlashOpKind::MassErase), None, 1).find(&log), None);
        assert_eq!(m(None, None, 5).find(&log), None);
    }
}
