//! A campaign's fault plan and its cases: which faults fall where, each case with an ID that
//! names it for good (`install-16k:op1234:during:seed3`), so that one case can be run again
//! alone.

use std::fmt;

use wb_machine::{CutPoint, Injection, Picos, PowerCut};
use wb_periph::flash::{FlashOpKind, OpRecord};
use wb_periph::picos;

/// What falls: a power cut or an external reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    PowerCut,
    Reset,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::PowerCut => "power-cut",
            FaultKind::Reset => "reset",
        }
    }

    pub fn from_name(s: &str) -> Option<FaultKind> {
        match s {
            "power-cut" => Some(FaultKind::PowerCut),
            "reset" => Some(FaultKind::Reset),
            _ => None,
        }
    }

    pub fn injection(self, seed: u64) -> Injection {
        match self {
            FaultKind::PowerCut => Injection::PowerCut { seed },
            FaultKind::Reset => Injection::Reset { seed },
        }
    }
}

/// Which faults a campaign injects (the `[campaign]` table of a scenario).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub faults: Vec<FaultKind>,
    pub points: Vec<CutPoint>,
    /// Faults during an operation use the seeds 0..seeds (each four cover every outcome of
    /// a torn operation: `wb_periph::flash::Flash::tear`).
    pub seeds: u64,
    /// Flash operations [first, last] (from 1); `None`: every operation of the golden run.
    pub ops: Option<(u64, u64)>,
    /// Operation kinds; empty: all.
    pub kinds: Vec<FlashOpKind>,
    /// A fault at every multiple of this time, up to the golden run's end.
    pub every: Option<Picos>,
    pub at_ops: bool,
    /// Double faults: a second fault in the recovery from each first one.
    pub double: Option<Double>,
}

/// The second faults of double-fault cases (`[campaign.double]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Double {
    pub faults: Vec<FaultKind>,
    pub points: Vec<CutPoint>,
    pub seeds: u64,
    /// The second fault falls at the K-th flash operation after the first fell, K in
    /// [first, last].
    pub after: (u64, u64),
    /// Draw this many (first, second) pairs, seeded by `seed`; `None`: every pair.
    pub sample: Option<usize>,
    pub seed: u64,
}

/// A second fault: at the `after`-th flash operation requested after the first fault fell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Second {
    pub fault: FaultKind,
    pub after: u64,
    pub point: CutPoint,
    pub seed: u64,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            faults: vec![FaultKind::PowerCut],
            points: vec![CutPoint::Before, CutPoint::During, CutPoint::After],
            seeds: 4,
            ops: None,
            kinds: Vec::new(),
            every: None,
            at_ops: true,
            double: None,
        }
    }
}

/// Where and how a case's fault falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum When {
    /// At flash operation `op` (from 1); `seed` for a fault during it (0 otherwise).
    Op { op: u64, point: CutPoint, seed: u64 },
    /// At this simulated time; `seed` for an operation it interrupts.
    At { t: Picos, seed: u64 },
}

/// One run of a campaign: the golden run with one fault, or two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Case {
    pub fault: FaultKind,
    pub when: When,
    pub then: Option<Second>,
}

fn point_of(s: &str) -> Option<CutPoint> {
    match s {
        "before" => Some(CutPoint::Before),
        "during" => Some(CutPoint::During),
        "after" => Some(CutPoint::After),
        _ => None,
    }
}

/// `reset-during:seed3` / `before`: a fault, its point and seed as an ID writes them.
fn parse_point<'a>(mut parts: impl Iterator<Item = &'a str>) -> Option<(FaultKind, CutPoint, u64)> {
    let text = parts.next()?;
    let (fault, point) = match text.strip_prefix("reset-") {
        Some(p) => (FaultKind::Reset, p),
        None => (FaultKind::PowerCut, text),
    };
    let point = point_of(point)?;
    let seed = match (point, parts.next()) {
        (CutPoint::During, Some(s)) => s.strip_prefix("seed")?.parse().ok()?,
        (_, None) => 0,
        _ => return None,
    };
    parts.next().is_none().then_some((fault, point, seed))
}

fn write_point(
    f: &mut fmt::Formatter<'_>,
    fault: FaultKind,
    point: CutPoint,
    seed: u64,
) -> fmt::Result {
    if fault == FaultKind::Reset {
        write!(f, "reset-")?;
    }
    write!(f, "{point}")?;
    if point == CutPoint::During {
        write!(f, ":seed{seed}")?;
    }
    Ok(())
}

impl Case {
    /// The cut the machine arms for it.
    pub fn cut(&self) -> PowerCut {
        match self.when {
            When::Op { op, point, .. } => match point {
                CutPoint::Before => PowerCut::BeforeOp(op),
                CutPoint::During => PowerCut::DuringOp(op),
                CutPoint::After => PowerCut::AfterOp(op),
            },
            When::At { t, .. } => PowerCut::At(t),
        }
    }

    pub fn injection(&self) -> Injection {
        let seed = match self.when {
            When::Op { seed, .. } | When::At { seed, .. } => seed,
        };
        self.fault.injection(seed)
    }

    /// The ID within a campaign: `op1234:during:seed3`, `op7:reset-after`, `t1500us`,
    /// `t1500us:reset`.
    pub fn id(&self) -> String {
        self.to_string()
    }

    /// The case an ID names (as [`Case::id`] writes it).
    pub fn parse(id: &str) -> Option<Case> {
        let (first, second) = match id.split_once('+') {
            Some((a, b)) => (a, Some(b)),
            None => (id, None),
        };
        let then = match second {
            None => None,
            Some(text) => {
                let (after, rest) = text.strip_prefix('r')?.split_once(':')?;
                let (fault, point, seed) = parse_point(rest.split(':'))?;
                Some(Second {
                    fault,
                    after: after.parse().ok().filter(|k| *k > 0)?,
                    point,
                    seed,
                })
            }
        };
        let mut parts = first.split(':');
        let head = parts.next()?;
        let (fault, when) = if let Some(n) = head.strip_prefix("op") {
            let op: u64 = n.parse().ok().filter(|n| *n > 0)?;
            let (fault, point, seed) = parse_point(parts)?;
            (fault, When::Op { op, point, seed })
        } else {
            let us: u64 = head.strip_prefix('t')?.strip_suffix("us")?.parse().ok()?;
            let mut fault = FaultKind::PowerCut;
            let mut seed = 0;
            for p in parts {
                match p {
                    "reset" => fault = FaultKind::Reset,
                    s => seed = s.strip_prefix("seed")?.parse().ok()?,
                }
            }
            let t = us * picos::US;
            (fault, When::At { t, seed })
        };
        let case = Case { fault, when, then };
        (case.id() == id).then_some(case)
    }

    /// The group the summary counts it in: "power-cut during", "reset after", "power-cut at
    /// a time".
    pub fn group(&self) -> String {
        if self.then.is_some() {
            return "double faults".into();
        }
        match self.when {
            When::Op { point, .. } => format!("{} {point}", self.fault.name()),
            When::At { .. } => format!("{} at a time", self.fault.name()),
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.when {
            When::Op { op, point, seed } => {
                write!(f, "op{op}:")?;
                write_point(f, self.fault, point, seed)?;
            }
            When::At { t, seed } => {
                write!(f, "t{}us", t / picos::US)?;
                if self.fault == FaultKind::Reset {
                    write!(f, ":reset")?;
                }
                if seed != 0 {
                    write!(f, ":seed{seed}")?;
                }
            }
        }
        if let Some(s) = self.then {
            write!(f, "+r{}:", s.after)?;
            write_point(f, s.fault, s.point, s.seed)?;
        }
        Ok(())
    }
}

impl Second {
    /// The cut, once the first fault fell with `ops` operations requested.
    pub fn cut(&self, ops: u64) -> PowerCut {
        let op = ops + self.after;
        match self.point {
            CutPoint::Before => PowerCut::BeforeOp(op),
            CutPoint::During => PowerCut::DuringOp(op),
            CutPoint::After => PowerCut::AfterOp(op),
        }
    }
}

/// SplitMix64 from `state`: seeded draws.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Plan {
    /// Every case of the plan over a golden run that logged `ops` and ended at `end`, in a
    /// fixed order: by operation, then point, then fault, then seed; timed cases last.
    pub fn cases(&self, ops: &[OpRecord], end: Picos) -> Vec<Case> {
        let mut cases = Vec::new();
        if self.at_ops {
            let (first, last) = self.ops.unwrap_or((1, ops.len() as u64));
            for r in ops.iter().filter(|r| r.seq >= first && r.seq <= last) {
                if !self.kinds.is_empty() && !self.kinds.contains(&r.kind) {
                    continue;
                }
                for &point in &self.points {
                    for &fault in &self.faults {
                        let seeds = if point == CutPoint::During {
                            self.seeds
                        } else {
                            1
                        };
                        for seed in 0..seeds {
                            cases.push(Case {
                                fault,
                                when: When::Op {
                                    op: r.seq,
                                    point,
                                    seed,
                                },
                                then: None,
                            });
                        }
                    }
                }
            }
        }
        if let Some(every) = self.every {
            let mut t = every;
            while t < end {
                for &fault in &self.faults {
                    cases.push(Case {
                        fault,
                        when: When::At { t, seed: 0 },
                        then: None,
                    });
                }
                t += every;
            }
        }
        if let Some(d) = &self.double {
            let doubles = d.pairs(&cases);
            cases.extend(doubles);
        }
        cases
    }
}

impl Double {
    /// The double cases over `firsts`: every (first, second) pair, or a seeded sample of them
    /// in pair order.
    fn pairs(&self, firsts: &[Case]) -> Vec<Case> {
        let seconds: Vec<Second> = (self.after.0..=self.after.1)
            .flat_map(|after| {
                self.points.iter().flat_map(move |&point| {
                    let seeds = if point == CutPoint::During {
                        self.seeds
                    } else {
                        1
                    };
                    self.faults.iter().flat_map(move |&fault| {
                        (0..seeds).map(move |seed| Second {
                            fault,
                            after,
                            point,
                            seed,
                        })
                    })
                })
            })
            .collect();
        let total = firsts.len() * seconds.len();
        let pair = |i: usize| Case {
            then: Some(seconds[i % seconds.len()]),
            ..firsts[i / seconds.len()]
        };
        match self.sample {
            Some(n) if n < total => {
                let mut state = self.seed;
                let mut chosen = std::collections::BTreeSet::new();
                while chosen.len() < n {
                    chosen.insert((splitmix(&mut state) % total as u64) as usize);
                }
                chosen.into_iter().map(pair).collect()
            }
            _ => (0..total).map(pair).collect(),
        }
    }
}

/// `i/n`: the i-th of n shards (from 1).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{s}: give the shard as I/N, 1 <= I <= N (e.g. 2/4)");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if i == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The cases of shard `i` of `n`: every n-th, from the i-th.
pub fn shard<T: Clone>(cases: &[T], (i, n): (usize, usize)) -> Vec<T> {
    cases.iter().skip(i - 1).step_by(n).cloned().collect()
}

/// `count` cases drawn without repeats by a generator seeded with `seed`, kept in campaign
/// order: the same sample for the same seed.
pub fn sample<T: Clone>(cases: &[T], count: usize, seed: u64) -> Vec<T> {
    if count >= cases.len() {
        return cases.to_vec();
    }
    let mut state = seed;
    let mut next = || splitmix(&mut state);
    // A partial Fisher-Yates shuffle of the indexes.
    let mut idx: Vec<usize> = (0..cases.len()).collect();
    for k in 0..count {
        let j = k + (next() % (idx.len() - k) as u64) as usize;
        idx.swap(k, j);
    }
    let mut chosen = idx[..count].to_vec();
    chosen.sort_unstable();
    chosen.into_iter().map(|i| cases[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_cases_both_ways() {
        for id in [
            "op1:before",
            "op1234:during:seed3",
            "op7:after",
            "op7:reset-during:seed0",
            "op9:reset-before",
            "t1500us",
            "t1500us:reset",
            "t20us:seed2",
            "op12:during:seed1+r3:before",
            "op12:after+r40:reset-during:seed2",
            "t1500us+r1:after",
        ] {
            let case = Case::parse(id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(case.id(), id);
        }
        for bad in [
            "op0:before",
            "op1:during",
            "op1:before:seed1",
            "op1:sideways",
            "t15ms",
            "x",
        ] {
            assert_eq!(Case::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn shards_split_the_cases_and_samples_repeat() {
        let cases: Vec<u32> = (0..100).collect();
        let mut joined = [
            shard(&cases, (1, 3)),
            shard(&cases, (2, 3)),
            shard(&cases, (3, 3)),
        ]
        .concat();
        joined.sort_unstable();
        assert_eq!(joined, cases);
        let a = sample(&cases, 10, 7);
        assert_eq!(a, sample(&cases, 10, 7));
        assert_ne!(a, sample(&cases, 10, 8));
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(parse_shard("0/4").is_err() && parse_shard("5/4").is_err());
    }
}
