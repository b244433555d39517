//! A campaign's results for CI: the summary by fault kind, the JSON report, and JUnit (one
//! testcase per case, a failure naming its ID and the command that replays it), with the
//! merge of shards' JUnit files.

use std::collections::BTreeMap;

use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::{Outcome, Verdict};

/// Counts of verdicts, overall and by group ("power-cut during"...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub cases: usize,
    pub pass: usize,
    pub factory_reset: usize,
    pub fail: usize,
    pub brick: usize,
    pub hang: usize,
    /// Cases stopped at a state already judged.
    pub stopped_early: usize,
    pub by_group: BTreeMap<String, Counts>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub factory_reset: usize,
    pub fail: usize,
    pub brick: usize,
    pub hang: usize,
}

impl Counts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::FactoryReset => self.factory_reset += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Brick => self.brick += 1,
            Verdict::Hang => self.hang += 1,
        }
    }
}

impl Summary {
    pub fn of(outcomes: &[Outcome]) -> Summary {
        let mut all = Counts::default();
        let mut by_group: BTreeMap<String, Counts> = BTreeMap::new();
        for o in outcomes {
            all.add(o.verdict);
            by_group.entry(o.group.clone()).or_default().add(o.verdict);
        }
        Summary {
            cases: outcomes.len(),
            pass: all.pass,
            factory_reset: all.factory_reset,
            fail: all.fail,
            brick: all.brick,
            hang: all.hang,
            stopped_early: outcomes.iter().filter(|o| o.same_as.is_some()).count(),
            by_group,
        }
    }

    /// Every case passed or ended in a factory reset ([`Verdict::is_ok`]).
    pub fn passed(&self) -> bool {
        self.pass + self.factory_reset == self.cases
    }

    /// The summary as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<26} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}\n",
            "faults", "cases", "pass", "reset", "fail", "brick", "hang"
        );
        let row = |name: &str, c: &Counts| {
            format!(
                "{name:<26} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}\n",
                c.pass + c.factory_reset + c.fail + c.brick + c.hang,
                c.pass,
                c.factory_reset,
                c.fail,
                c.brick,
                c.hang
            )
        };
        for (g, c) in &self.by_group {
            out += &row(g, c);
        }
        let total = Counts {
            pass: self.pass,
            factory_reset: self.factory_reset,
            fail: self.fail,
            brick: self.brick,
            hang: self.hang,
        };
        out += &row("all", &total);
        out
    }
}

/// One testsuite named after the scenario, one testcase per case; `replay` gives the command
/// that runs a case alone.
pub fn junit(suite: &str, outcomes: &[Outcome], replay: &dyn Fn(&str) -> String) -> String {
    let mut s = TestSuite::new(suite);
    for o in outcomes {
        let status = match o.verdict {
            v if v.is_ok() => TestCaseStatus::success(),
            v => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let first = o.failures.first().map_or(String::new(), |f| {
                    format!(": line {}: {}: {}", f.line, f.key, f.message)
                });
                st.set_message(format!("{}{first}", v.name()));
                st.set_type(v.name());
                let mut text = format!("case {}\nreplay: {}\n", o.id, replay(&o.id));
                for f in &o.failures {
                    text += &format!("line {}: {}: {}\n", f.line, f.key, f.message);
                }
                st.set_description(text);
                st
            }
        };
        let mut case = TestCase::new(o.id.clone(), status);
        if o.verdict == Verdict::FactoryReset {
            case.set_system_out("factory reset: safeboot ran and left the device as shipped\n");
        }
        case.set_classname(suite.to_string());
        case.set_time(std::time::Duration::from_secs_f64(o.host_ms / 1e3));
        s.add_test_case(case);
    }
    let mut r = Junit::new("wbemu campaign");
    r.add_test_suite(s);
    r.to_string().expect("a JUnit report serializes")
}

/// Shards' JUnit files as one: the testcases of same-named suites together, in file order.
pub fn merge_junit(files: &[(String, String)]) -> Result<String, String> {
    let mut suites: Vec<TestSuite> = Vec::new();
    for (name, xml) in files {
        let r = Junit::deserialize_from_str(xml)
            .map_err(|e| format!("{name}: not a JUnit report: {e}"))?;
        for s in r.test_suites {
            match suites.iter_mut().find(|m| m.name == s.name) {
                Some(m) => {
                    m.add_test_cases(s.test_cases);
                }
                None => {
                    let mut m = TestSuite::new(s.name.clone());
                    m.add_test_cases(s.test_cases);
                    suites.push(m);
                }
            }
        }
    }
    let mut r = Junit::new("wbemu campaign");
    r.add_test_suites(suites);
    r.to_string().map_err(|e| e.to_string())
}
