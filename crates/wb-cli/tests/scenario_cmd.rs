//! `wbemu scenario check|run`: exit codes, messages that name file, line and key, and reports
//! that repeat exactly.

mod common;

use common::{ok, scratch, wbemu};
use serde_json::Value;

const INSTALL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/scenarios/install-16k.toml"
);

fn write(name: &str, text: &str) -> String {
    let p = scratch(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn check_accepts_a_good_scenario_and_names_file_line_and_key_of_a_bad_one() {
    let out = ok(&["scenario", "check", INSTALL]);
    assert!(out.contains("is good: 3 steps"), "{out}");

    let bad = write(
        "bad-key.toml",
        "[device]\npreset = \"virgin\"\n\n[[step]]\nfus = \"FUS_GET_STATE\"\nexpect = 0\n",
    );
    let out = wbemu(&["scenario", "check", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{bad}:6: expect: unknown field `expect`")),
        "{err}"
    );

    let out = wbemu(&["scenario", "run", &bad]);
    assert_eq!(out.status.code(), Some(2), "run refuses it too");
    assert!(out.stdout.is_empty());

    let missing = write("missing-symbol.toml", "[device]\npreset = \"virgin\"\n[cpu1]\nimage = \"boot-counter\"\n[[step]]\nwait = { cpu1_at = \"nowhere\" }\n");
    let out = wbemu(&["scenario", "check", &missing]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":5: wait.cpu1_at: no symbol \"nowhere\""),
        "{err}"
    );
}

fn run_json(file: &str, extra: &[&str]) -> (Value, Option<i32>) {
    let mut args = vec!["scenario", "run", file, "--json"];
    args.extend(extra);
    let out = wbemu(&args);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code())
}

#[test]
fn a_scenario_run_twice_gives_the_same_json_but_for_host_time() {
    let dev = scratch("scenario-end.wbdev");
    let d = dev.to_str().unwrap();
    let (mut a, code) = run_json(INSTALL, &["--trace-flash", "--save-device", d]);
    assert_eq!(code, Some(0), "{a:#}");
    assert_eq!(a["verdict"], "pass");
    assert!(a["flash_ops"].as_array().unwrap().len() > 2000);
    let (mut b, _) = run_json(INSTALL, &["--trace-flash"]);
    for r in [&mut a, &mut b] {
        assert!(r["host_ms"].as_f64().unwrap() > 0.0);
        r.as_object_mut().unwrap().remove("host_ms");
    }
    assert_eq!(a, b);
    // The saved device is the end of the run: the stack installed.
    let info = ok(&["device", "info", d, "--json"]);
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["digests"]["all"], a["flash_digests"]["all"]);
}

#[test]
fn a_failed_expectation_exits_1_and_is_named() {
    let f = write(
        "fails.toml",
        "[device]\npreset = \"virgin\"\n\n[expect]\nws_running = \"1.0.0\"\n",
    );
    let (r, code) = run_json(&f, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(r["verdict"], "fail");
    assert_eq!(r["failures"][0]["line"], 4);
    assert_eq!(r["failures"][0]["key"], "ws_running");
    let out = wbemu(&["scenario", "run", &f]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL line 4: ws_running: stack 1.0.0 does not run"),
        "{text}"
    );
    assert!(text.contains("verdict: fail"), "{text}");
}
