//! The shipped scenarios pass, runs repeat exactly, and a run resumed from a checkpoint is
//! the run it was taken from.

use std::path::{Path, PathBuf};

use wb_campaign::{Report, Run, Scenario};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn parse(text: &str) -> Scenario {
    Scenario::parse(Path::new("inline.toml"), text, Path::new(".")).unwrap()
}

/// A report as JSON without the host time.
fn figures(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    v.as_object_mut().unwrap().remove("host_ms");
    v
}

fn run(sc: &Scenario) -> Report {
    let mut run = Run::new(sc).unwrap();
    run.run().unwrap();
    Report::of(&run, 0.0, true)
}

#[test]
fn every_shipped_scenario_passes() {
    let files = fixtures();
    assert!(files.len() >= 7, "{files:?}");
    for f in files {
        let sc = Scenario::load(&f).unwrap();
        let r = run(&sc);
        assert!(r.passed(), "{}: {:#?}", f.display(), r.failures);
    }
}

#[test]
fn a_scenario_run_twice_is_the_same_run() {
    let sc = Scenario::load(&fixtures()[0]).unwrap();
    assert_eq!(figures(&run(&sc)), figures(&run(&sc)));
}

#[test]
fn a_run_resumed_from_a_checkpoint_is_the_run_it_was_taken_from() {
    let sc = Scenario::load(
        &fixtures()
            .into_iter()
            .find(|f| f.ends_with("two-get-state.toml"))
            .unwrap(),
    )
    .unwrap();
    let whole = run(&sc);
    // Checkpoints at many host looks: mid-command, mid-poll, mid-boot.
    let mut r = Run::new(&sc).unwrap();
    let mut checkpoints = Vec::new();
    let mut looks = 0;
    while r.advance().unwrap() {
        looks += 1;
        if looks % 97 == 0 {
            checkpoints.push(r.checkpoint());
        }
    }
    assert!(checkpoints.len() > 5, "{looks} looks");
    assert_eq!(figures(&Report::of(&r, 0.0, true)), figures(&whole));
    let mut other = Run::new(&sc).unwrap();
    for c in checkpoints.iter().rev().step_by(3) {
        other.resume(c);
        other.run().unwrap();
        assert_eq!(figures(&Report::of(&other, 0.0, true)), figures(&whole));
    }
}

#[test]
fn debug_port_uart_reset_cut_and_image_steps_do_what_they_say() {
    // CPU1 runs the boot counter; the host talks to the chip around it.
    let sc = parse(
        r#"
[device]
preset = "virgin"

[cpu1]
image = "boot-counter"

[[step]]
at = "1ms"
write = 0x20000100
value = 0x12345678

[[step]]
read = 0x20000100
value = 0x12345678

[[step]]
read = 0x20000100
value = 0x00005678
mask = 0x0000FFFF

[[step]]
uart = "hello"

[[step]]
at = "2ms"
reset = "nrst"

[[step]]
wait = { cpu1_boots = 2 }
timeout = "5ms"

[[step]]
at = "3ms"
cut = "now"
seed = 1

[[step]]
cut = "at:4000"

[[step]]
wait = { power_cuts = 2 }
timeout = "5ms"

[[step]]
cpu1_image = "cpu1-tests"

[[step]]
wait = { cpu1_at = "app_main" }
timeout = "5ms"

[[step]]
check = { cpu1_boots = 5, power_cuts = 2 }

[expect]
cpu1_boots = 5
cpu2_boots = 0
power_cuts = 2
"#,
    );
    let r = run(&sc);
    assert!(r.passed(), "{:#?}", r.failures);
    assert_eq!(r.faults.len(), 2);
    assert_eq!(
        (r.faults[1].kind, r.faults[1].plan.as_str()),
        ("power-cut", "at:4000")
    );
    assert_eq!(r.faults[1].at_us, 4000.0);
    // SRAM is lost at a power cut; the write before the first reset was read back before it.
    assert_eq!(r.steps[1].outcome, "0x12345678");
}

#[test]
fn failed_expectations_are_named_with_their_lines() {
    let sc = parse(
        r#"
[device]
preset = "virgin"

[[step]]
read = 0x08000000
value = 0x12345678

[[step]]
fus = "FUS_GET_STATE"
expect_status = 0x05

[expect]
ws_running = "1.0.0"
sfsa = 0xF0
cpu2_boots = 3
uart_contains = ["never"]
"#,
    );
    let r = run(&sc);
    let got: Vec<_> = r
        .failures
        .iter()
        .map(|f| (f.line, f.key.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (5, "value"),
            (9, "expect_status"),
            (13, "ws_running"),
            (13, "sfsa"),
            (13, "cpu2_boots"),
            (13, "uart_contains"),
        ],
        "{:#?}",
        r.failures
    );
    assert_eq!(r.verdict, "fail");
}

#[test]
fn a_wait_that_times_out_ends_the_run_as_a_failure() {
    let sc = parse(
        r#"
[device]
preset = "virgin"

[[step]]
wait = { ws_running = "any" }
timeout = "30ms"

[[step]]
reset = "nrst"
"#,
    );
    let r = run(&sc);
    assert_eq!(r.failures.len(), 1, "{:#?}", r.failures);
    assert_eq!(
        (r.failures[0].line, r.failures[0].key.as_str()),
        (5, "wait")
    );
    assert_eq!(r.steps.len(), 1, "the run ends at the failed step");
    assert!(
        (r.simulated_us - 30_000.0).abs() < 1.0,
        "{}",
        r.simulated_us
    );
}
