//! Campaigns: a case branched from the golden run is the run from power-on with the same
//! fault; cases stopped early get the verdict they get run to the end; shards and --only give
//! the same verdicts; the sampled sweep of the 16 KiB install finds nothing worse than a factory
//! reset.

use std::path::Path;

use wb_campaign::campaign::plan::{sample, shard, Case};
use wb_campaign::campaign::{Campaign, Golden, Options, Outcome, Verdict};
use wb_campaign::{Report, Run, Scenario};

fn scenario(ops: Option<(u64, u64)>) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scenarios/campaign-install-16k.toml");
    let mut sc = Scenario::load(&path).unwrap();
    if let Some(plan) = sc.campaign.as_mut() {
        plan.ops = ops;
    }
    sc
}

fn options(jobs: usize, early_stop: bool) -> Options {
    Options {
        jobs,
        early_stop,
        keep_devices: false,
    }
}

fn verdicts(o: &[Outcome]) -> Vec<(String, Verdict)> {
    o.iter().map(|o| (o.id.clone(), o.verdict)).collect()
}

fn figures(run: &Run) -> serde_json::Value {
    let mut v = serde_json::to_value(Report::of(run, 0.0, true)).unwrap();
    v.as_object_mut().unwrap().remove("host_ms");
    v
}

#[test]
fn a_case_branched_from_a_checkpoint_is_the_run_from_power_on_with_its_fault() {
    let sc = scenario(None);
    let golden = Golden::run(&sc, 32).unwrap();
    let cases = [
        Case::parse("op40:during:seed2").unwrap(),
        Case::parse("op1500:after").unwrap(),
        Case::parse("op2232:during:seed3").unwrap(),
    ];
    for case in cases {
        let mut naive = Run::new(&sc).unwrap();
        naive.arm(None, case.cut(), case.injection()).unwrap();
        naive.run().unwrap();
        let mut branched = Run::new(&sc).unwrap();
        branched.resume(golden.checkpoint_for(&case));
        branched.arm(None, case.cut(), case.injection()).unwrap();
        branched.run().unwrap();
        assert_eq!(figures(&branched), figures(&naive), "{case}");
        assert_eq!(naive.st.log.faults.len(), 1, "{case}: the fault fell");
    }
}

#[test]
fn cases_stopped_early_get_the_verdict_they_get_run_to_the_end() {
    // The last operations of the install: the option-byte program among them (a factory
    // reset when torn) and the end of the decrypt.
    let sc = scenario(Some((2190, 2232)));
    let golden = Golden::run(&sc, 32).unwrap();
    let early = Campaign::new(&sc, Golden::run(&sc, 32).unwrap());
    let cases = early.cases();
    assert_eq!(cases.len(), 43 * 6);
    let fast = early.run(&cases, options(2, true), &|_| {}).unwrap();
    let full = Campaign::new(&sc, golden)
        .run(&cases, options(2, false), &|_| {})
        .unwrap();
    assert_eq!(verdicts(&fast), verdicts(&full));
    let stopped = fast.iter().filter(|o| o.same_as.is_some()).count();
    assert!(
        stopped * 3 > cases.len(),
        "{stopped} of {} stopped early",
        cases.len()
    );
    assert!(full.iter().all(|o| o.same_as.is_none()));
    // A torn option-byte program sends CPU2 to safeboot: a factory reset, nothing worse.
    let resets: Vec<_> = full
        .iter()
        .filter(|o| o.verdict == Verdict::FactoryReset)
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(
        resets,
        [
            "install-16k:op2232:during:seed2",
            "install-16k:op2232:during:seed3"
        ]
    );
    assert!(
        full.iter().all(|o| o.verdict.is_ok()),
        "{:#?}",
        verdicts(&full)
    );
}

#[test]
fn a_sampled_sweep_of_the_16k_install_shards_and_replays_alike() {
    let sc = scenario(None);
    let c = Campaign::new(&sc, Golden::run(&sc, 32).unwrap());
    let cases = sample(&c.cases(), 120, 5);
    let all = c.run(&cases, options(2, true), &|_| {}).unwrap();
    // Nothing goes wrong; only a torn option-byte program may end in a factory reset.
    for o in &all {
        let torn_options = o
            .torn_op
            .is_some_and(|n| c.golden.ops[n as usize - 1].kind.name() == "option-program");
        assert!(
            o.verdict == Verdict::Pass || (o.verdict == Verdict::FactoryReset && torn_options),
            "{} {:?}: {:#?}",
            o.id,
            o.verdict,
            o.failures
        );
    }
    let mut sharded = [shard(&cases, (1, 2)), shard(&cases, (2, 2))]
        .iter()
        .flat_map(|part| c.run(part, options(1, true), &|_| {}).unwrap())
        .map(|o| (o.id, o.verdict))
        .collect::<Vec<_>>();
    sharded.sort();
    let mut whole = verdicts(&all);
    whole.sort();
    assert_eq!(sharded, whole);
    // --only: any case alone, from a fresh campaign, gets its verdict.
    let fresh = Campaign::new(&sc, Golden::run(&sc, 32).unwrap());
    for o in all.iter().step_by(40) {
        let alone = fresh.run(&[o.case], options(1, true), &|_| {}).unwrap();
        assert_eq!(alone[0].verdict, o.verdict, "{}", o.id);
    }
}

#[test]
fn a_campaign_catches_a_fus_that_skips_an_erase() {
    // The test-only FUS that, resuming a decrypt after a reset, skips the erase and rewrite
    // of the page it was in.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dev = dir.join("virgin-broken-resume.wbdev");
    wb_firmware::presets::virgin_with_fus(wb_firmware::FUS_BROKEN_RESUME)
        .save(&dev)
        .unwrap();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/scenarios/campaign-install-16k.toml"),
    )
    .unwrap();
    let text = shipped.replace(
        "preset = \"virgin\"",
        &format!("file = {:?}", dev.display().to_string()),
    );
    let sc = Scenario::parse(Path::new("broken.toml"), &text, Path::new(".")).unwrap();
    let c = Campaign::new(&sc, Golden::run(&sc, 32).unwrap());
    assert!(
        c.golden.failures.is_empty(),
        "the bug does not show without a fault: {:?}",
        c.golden.failures
    );
    let cases = sample(&c.cases(), 150, 1);
    let out = c.run(&cases, options(2, true), &|_| {}).unwrap();
    let caught: Vec<_> = out
        .iter()
        .filter(|o| o.verdict != Verdict::Pass)
        .map(|o| {
            (
                o.id.clone(),
                o.verdict,
                o.failures.first().map(|f| f.message.clone()),
            )
        })
        .collect();
    eprintln!("{caught:#?}");
    assert!(!caught.is_empty());
}

#[test]
fn external_resets_all_through_an_install_are_recovered() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scenarios/campaign-resets-16k.toml");
    let sc = Scenario::load(&path).unwrap();
    let c = Campaign::new(&sc, Golden::run(&sc, 32).unwrap());
    let cases = c.cases();
    // Before and after each operation, and one every millisecond of the 1.78 s install.
    assert_eq!(cases.len(), 2232 * 2 + 1780);
    let out = c
        .run(&sample(&cases, 40, 11), options(2, true), &|_| {})
        .unwrap();
    for o in &out {
        assert_eq!(o.verdict, Verdict::Pass, "{}: {:#?}", o.id, o.failures);
    }
    assert!(out.iter().any(|o| o.group == "reset at a time"));
}

#[test]
fn double_faults_fall_in_the_recovery_and_replay_alike() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scenarios/campaign-install-16k.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "seeds = 4\n",
        "seeds = 4\nops = [1500, 1502]\n\n[campaign.double]\npoints = [\"before\", \"during\"]\nseeds = 2\nafter = [1, 600]\nsample = 12\nseed = 4\n",
    );
    let sc = Scenario::parse(&path, &text, path.parent().unwrap()).unwrap();
    let c = Campaign::new(&sc, Golden::run(&sc, 32).unwrap());
    let cases = c.cases();
    assert_eq!(cases.len(), 3 * 6 + 12);
    let doubles: Vec<Case> = cases.iter().copied().filter(|c| c.then.is_some()).collect();
    assert_eq!(doubles.len(), 12);
    let out = c.run(&doubles, options(2, true), &|_| {}).unwrap();
    for o in &out {
        assert_eq!(o.group, "double faults");
        assert_eq!(
            o.faults_fallen, 2,
            "{}: the recovery reached its second fault",
            o.id
        );
        assert_eq!(
            Case::parse(o.id.strip_prefix("install-16k:").unwrap()),
            Some(o.case)
        );
    }
    // Branched, from power-on: the same verdicts.
    for o in out.iter().take(3) {
        assert_eq!(
            c.run_case_from_boot(&o.case).unwrap().verdict,
            o.verdict,
            "{}",
            o.id
        );
    }
}

#[test]
fn every_option_byte_program_cut_ends_in_the_flow_or_in_a_factory_reset() {
    // Each flow's option-byte programs (the install's PROTECT and COMMIT, the stack's switch
    // back to the FUS, the upgrade's, the delete's, START_WS's) cut before, during with eight
    // tears and after.
    let plan =
        "\n[campaign]\nfaults = [\"power-cut\"]\npoints = [\"before\", \"during\", \"after\"]\n\
                seeds = 8\nkinds = [\"option-program\"]\n";
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios");
    for (name, programs) in [
        ("campaign-install-16k", 2),
        ("upgrade-relocation", 5),
        ("delete", 4),
        ("start-ws", 4),
    ] {
        let path = dir.join(format!("{name}.toml"));
        let mut text = std::fs::read_to_string(&path).unwrap();
        // The install's own plan gives way to this one.
        if let Some(at) = text.find("\n[campaign]") {
            text.truncate(at);
        }
        text += plan;
        let sc = Scenario::parse(&path, &text, &dir).unwrap();
        let c = Campaign::new(&sc, Golden::run(&sc, 32).unwrap());
        let cases = c.cases();
        assert_eq!(cases.len(), programs * 10, "{name}");
        let out = c.run(&cases, options(2, true), &|_| {}).unwrap();
        eprintln!("{name}: {:?}", came_through(&out));
        // Only a tear can leave a complement unwritten: a cut before or after one cannot.
        for o in out.iter().filter(|o| o.verdict == Verdict::FactoryReset) {
            assert!(o.id.contains(":during:"), "{}", o.id);
        }
    }
}

#[test]
fn a_power_cut_at_any_flash_operation_of_a_factory_reset_ends_in_the_same_state() {
    // Safeboot's erases and option-byte program, and the FUS's first records after it, each
    // cut before, during with eight tears and after.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/scenarios/safeboot-activation.toml");
    let text = std::fs::read_to_string(&path).unwrap()
        + "\n[campaign]\nfaults = [\"power-cut\"]\npoints = [\"before\", \"during\", \"after\"]\nseeds = 8\n";
    let sc = Scenario::parse(&path, &text, path.parent().unwrap()).unwrap();
    let c = Campaign::new(&sc, Golden::run(&sc, 32).unwrap());
    let kinds: Vec<_> = c.golden.ops.iter().map(|op| op.kind.name()).collect();
    assert!(
        kinds.contains(&"page-erase") && kinds.contains(&"option-program"),
        "{kinds:?}"
    );
    let cases = c.cases();
    assert_eq!(cases.len(), c.golden.ops.len() * 10);
    let out = c.run(&cases, options(2, true), &|_| {}).unwrap();
    // The scenario's expectations are the factory reset's end state: a case passes them, or
    // (when the cut took the FUS's report of it) is judged by what the reset left.
    eprintln!("{} flash operations: {:?}", kinds.len(), came_through(&out));
}

/// Every case passed or ended in a factory reset: the counts by verdict.
fn came_through(out: &[Outcome]) -> std::collections::BTreeMap<&'static str, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for o in out {
        assert!(
            o.verdict.is_ok(),
            "{}: {:?} {:#?}",
            o.id,
            o.verdict,
            o.failures
        );
        *counts.entry(o.verdict.name()).or_insert(0) += 1;
    }
    counts
}
