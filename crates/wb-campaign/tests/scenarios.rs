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

/// The keys docs/scenarios.md documents: the first column of its key tables and the keys of
/// its TOML examples (the report's fields are not keys).
fn documented_keys(doc: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut in_report = false;
    let mut in_toml = false;
    for line in doc.lines() {
        if line.starts_with("## ") {
            in_report = line.contains("report");
        }
        if line.starts_with("```") {
            in_toml = line == "```toml";
            continue;
        }
        if in_toml {
            if let Some((k, _)) = line.split_once('=') {
                let k = k.trim();
                if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    keys.push(k.to_string());
                }
            }
            continue;
        }
        if in_report || !line.starts_with("| `") {
            continue;
        }
        let first = line.split('|').nth(1).unwrap_or("");
        for token in first.split('`').skip(1).step_by(2) {
            let k = token.split([' ', '=']).next().unwrap_or("");
            if !k.is_empty() {
                keys.push(k.to_string());
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn every_documented_key_is_exercised_by_a_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/scenarios.md")).unwrap();
    let keys = documented_keys(&doc);
    assert!(keys.len() > 60, "{keys:?}");
    let mut corpus = String::new();
    for dir in [
        "fixtures/scenarios",
        "crates/wb-campaign/tests",
        "crates/wb-campaign/src/scenario",
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml" || x == "rs")
                && !p.ends_with("mod.rs")
                && !p.ends_with("file.rs")
            {
                corpus += &std::fs::read_to_string(&p).unwrap();
            }
        }
    }
    // A key is used where it is given a value: `key =`, or `key = ` inside an inline table.
    let unused: Vec<_> = keys
        .iter()
        .filter(|k| {
            let given = |s: &str| s.contains(&format!("{k} =")) || s.contains(&format!("{k}="));
            !given(&corpus)
                && !corpus.contains(&format!("[{k}]"))
                && !corpus.contains(&format!(".{k}]"))
                && !corpus.contains(&format!("[[{k}]]"))
        })
        .collect();
    assert!(
        unused.is_empty(),
        "documented keys no test gives a value: {unused:?}"
    );
}

/// A raw CPU1 image whose reset handler executes UDF and whose HardFault vector is 0: the
/// fault escalates and CPU1 locks up.
fn faulting_image(dir: &Path) -> String {
    let mut img = vec![0u8; 0x44];
    img[0..4].copy_from_slice(&0x2000_1000u32.to_le_bytes());
    img[4..8].copy_from_slice(&0x0800_0041u32.to_le_bytes());
    img[0x40..0x42].copy_from_slice(&0xDE00u16.to_le_bytes()); // udf #0
    let p = dir.join("faulting.bin");
    std::fs::write(&p, img).unwrap();
    p.display().to_string()
}

#[test]
fn raw_images_packets_other_ports_and_faults_allowed_or_not() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let image = faulting_image(dir);
    let text = |allow: bool| {
        format!(
            r#"
end_at = "2ms"

[device]
preset = "virgin"

[cpu1]
image = "{image}"
base = 0x08000000
vector = 0x08000000

[cpu2]
image = "cpu2-tests"

[[step]]
wait = {{ cpu2_at = "app_main" }}
timeout = "5ms"

[[step]]
uart_hex = "de ad"
port = "lpuart1"

[expect]
allow_faults = {allow}
"#
        )
    };
    let strict = run(&parse(&text(false)));
    assert!(
        strict.failures.iter().all(|f| f.key == "allow_faults"),
        "{:#?}",
        strict.failures
    );
    assert!(
        strict.failures[0].message.contains("cpu1 locked up"),
        "{}",
        strict.failures[0].message
    );
    let lenient = run(&parse(&text(true)));
    assert!(lenient.passed(), "{:#?}", lenient.failures);
    assert_eq!(
        lenient.simulated_us, 2000.0,
        "the run went on to end_at, exactly"
    );

    // A raw packet to the FUS (FUS_GET_STATE written by hand), and a flash-operation count.
    let sc = parse(
        r#"
[device]
preset = "virgin"

[[place]]
image = "ws-1.0.0"
at = "download"

[[step]]
packet = "00000000 00000000 10 52fc 00"

[[step]]
fus = "FUS_FW_UPGRADE"

[[step]]
wait = { flash_ops = 10 }
timeout = "1s"

[expect]
ws_running = "none"
"#,
    );
    let r = run(&sc);
    assert!(r.passed(), "{:#?}", r.failures);
    assert_eq!(r.exchanges[0].command, "FUS_GET_STATE");
    assert_eq!(r.exchanges[0].status.as_deref(), Some("0x00"));
    assert!(r.flash_op_count >= 10);
}
