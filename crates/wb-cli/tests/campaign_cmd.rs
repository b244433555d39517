//! `wbemu campaign`: the verdict a CI job acts on, JUnit with replay commands, shards merged,
//! one case alone, the device at a failure's fault kept.

mod common;

use common::{ok, scratch, wbemu};

const INSTALL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/scenarios/campaign-install-16k.toml"
);

/// The shipped 16 KiB install campaign, cut to operations FIRST..=LAST.
fn campaign(name: &str, first: u64, last: u64) -> String {
    let text = std::fs::read_to_string(INSTALL)
        .unwrap()
        .replace("seeds = 4", &format!("seeds = 4\nops = [{first}, {last}]"));
    let p = scratch(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// [`campaign`] on a device whose safeboot page is erased: a torn option-byte program sends
/// CPU2 to an empty page, a brick.
fn campaign_without_safeboot(name: &str, first: u64, last: u64) -> String {
    let p = campaign(name, first, last);
    let text = std::fs::read_to_string(&p).unwrap().replace(
        "preset = \"virgin\"",
        "preset = \"virgin\"\nwrite = [{ address = 0x080FF000, fill = 0xFF, len = 4096 }]",
    );
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_campaign_that_passes_exits_0_and_lists_its_cases() {
    let f = campaign("c-pass.toml", 2000, 2003);
    let list = ok(&["campaign", &f, "--list"]);
    let ids: Vec<_> = list.lines().collect();
    assert_eq!(ids.len(), 24);
    assert_eq!(ids[0], "install-16k:op2000:before");
    assert_eq!(ids[3], "install-16k:op2000:during:seed2");
    let out = ok(&["campaign", &f, "--jobs", "2"]);
    assert!(out.contains("verdict: pass"), "{out}");
    assert!(
        out.contains("power-cut during"),
        "the summary counts by fault: {out}"
    );
}

#[test]
fn a_brick_fails_the_campaign_with_a_replayable_id_in_junit_and_shards_merge() {
    let f = campaign_without_safeboot("c-brick.toml", 2229, 2232);
    let j1 = scratch("c-brick-1.xml");
    let j2 = scratch("c-brick-2.xml");
    let merged = scratch("c-brick.xml");
    let keep = scratch("c-brick-devices");
    let json = scratch("c-brick.json");
    let mut codes = Vec::new();
    for (shard, junit) in [("1/2", &j1), ("2/2", &j2)] {
        let out = wbemu(&[
            "campaign",
            &f,
            "--shard",
            shard,
            "--junit",
            junit.to_str().unwrap(),
            "--keep-failures",
            keep.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]);
        codes.push(out.status.code());
    }
    assert!(codes.contains(&Some(1)), "{codes:?}");
    ok(&[
        "campaign",
        "merge",
        "--junit",
        merged.to_str().unwrap(),
        j1.to_str().unwrap(),
        j2.to_str().unwrap(),
    ]);
    let xml = std::fs::read_to_string(&merged).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 24, "{xml}");
    assert!(xml.contains("install-16k:op2232:during:seed2"), "{xml}");
    assert!(
        xml.contains(&format!(
            "replay: wbemu campaign {f} --only install-16k:op2232:during:seed2"
        )),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
    // The device right after the fault opens with the other tools: its option bytes torn.
    let dev = keep.join("install-16k_op2232_during_seed2.wbdev");
    let info = ok(&["device", "info", dev.to_str().unwrap()]);
    assert!(info.to_lowercase().contains("safeboot"), "{info}");
    // The case alone.
    let out = wbemu(&["campaign", &f, "--only", "op2232:during:seed2"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("BRICK install-16k:op2232:during:seed2"),
        "{text}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert!(report["cases"].as_array().unwrap().len() >= 12);
}

#[test]
fn a_factory_reset_is_counted_apart_and_does_not_fail_the_campaign() {
    // Operation 2232 is the install's COMMIT option-byte program: torn with seeds 2 and 3 it
    // leaves a complement unwritten, and safeboot factory-resets the device.
    let f = campaign("c-reset.toml", 2232, 2232);
    let json = scratch("c-reset.json");
    let out = wbemu(&["campaign", &f, "--json", json.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let all = text.lines().find(|l| l.starts_with("all ")).unwrap();
    let cols: Vec<&str> = all.split_whitespace().collect();
    assert_eq!(cols[1..], ["6", "4", "2", "0", "0", "0"], "{text}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["summary"]["factory_reset"], 2);
    let reset: Vec<_> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "factory_reset")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reset,
        [
            "install-16k:op2232:during:seed2",
            "install-16k:op2232:during:seed3"
        ]
    );
}

#[test]
fn bad_arguments_are_named() {
    let f = campaign("c-bad.toml", 1, 2);
    for (args, want) in [
        (vec!["--only", "op9999:before"], "no such case"),
        (vec!["--only", "op1:sideways"], "not a case ID"),
        (vec!["--shard", "3/2"], "I/N"),
    ] {
        let mut a = vec!["campaign", f.as_str()];
        a.extend(args);
        let out = wbemu(&a);
        assert_eq!(out.status.code(), Some(2), "{a:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{a:?}: {err}");
    }
}
