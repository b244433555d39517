//! What a new user meets in the first hour: presets, what a device file holds, the demo's
//! verdict, the built-in firmware, and error messages.

mod common;

use common::{ok, scratch, wbemu};
use serde_json::Value;

fn info(dev: &str) -> Value {
    serde_json::from_str(&ok(&["device", "info", dev, "--json"])).unwrap()
}

#[test]
fn presets_are_listed_without_a_file() {
    let list = ok(&["device", "new", "--list-presets"]);
    assert!(list.contains("blank") && list.contains("virgin"), "{list}");
    // With a file the flag makes no sense: refused.
    let out = wbemu(&["device", "new", "x.wbdev", "--list-presets"]);
    assert_eq!(out.status.code(), Some(2));
    let out = wbemu(&["device", "new"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn device_info_decodes_the_fus_its_record_and_the_installed_stack() {
    let dev = scratch("info.wbdev");
    let d = dev.to_str().unwrap();
    ok(&["device", "new", d, "--preset", "virgin"]);
    let v = info(d);
    assert_eq!(v["fus"]["version"], "2.0.0");
    assert_eq!(v["fus"]["version_word"], "0x02000001");
    // As shipped: the journal's reset values (docs/fus-layout.md §2).
    assert_eq!(v["fus_record"]["seq"], 1);
    assert!(v["fus_record"]["error"].is_null() && v["fus_record"]["stack"].is_null());
    // SFSA is a hex string like its siblings.
    assert_eq!(v["sfsa"], "0xf4");
    assert_eq!(v["secure_flash_from"], "0x080f4000");
    assert_eq!(v["cpu2_boot_vector"], "0x080f4000");
    assert_eq!(v["cpu2_safeboot"], false);
    let text = ok(&["device", "info", d]);
    assert!(text.contains("FUS: version 2.0.0 (0x02000001)"), "{text}");
    assert!(text.contains("safeboot: version 1.0.0"), "{text}");
    assert_eq!(v["safeboot"], "1.0.0");
    assert!(text.contains("wireless stack: none installed"), "{text}");

    ok(&["demo", "--device", d, "--save", "--json"]);
    let v = info(d);
    let record = &v["fus_record"];
    assert_eq!(record["operation"], "idle");
    assert!(record["error"].is_null());
    assert_eq!(record["stack"]["version"], "1.0.0");
    assert_eq!(record["stack"]["address"], "0x080f0000");
    let text = ok(&["device", "info", d]);
    assert!(
        text.contains("wireless stack: version 1.0.0 (0x01000001) at 0x080f0000"),
        "{text}"
    );
}

#[test]
fn the_cpu2_boot_vector_shown_is_safeboot_when_the_complements_fail() {
    let dev = scratch("safeboot.wbdev");
    let d = dev.to_str().unwrap();
    ok(&["device", "new", d, "--preset", "virgin"]);
    // Break SFR's complement (value at 0x1FFF8070, complement at +4).
    ok(&["device", "write", d, "0x1fff8074", "--hex", "00"]);
    let v = info(d);
    assert_eq!(v["cpu2_boot_vector"], "0x080ff000");
    assert_eq!(v["cpu2_safeboot"], true);
    assert_eq!(v["sbrv_vector"], "0x080f4000");
    let text = ok(&["device", "info", d]);
    assert!(
        text.contains("CPU2 boot vector: 0x080ff000 (safeboot"),
        "{text}"
    );
}

#[test]
fn the_demo_upgrades_a_running_stack_and_succeeds_only_when_the_new_version_runs() {
    let dev = scratch("upgrade.wbdev");
    let d = dev.to_str().unwrap();
    ok(&["device", "new", d, "--preset", "virgin"]);
    ok(&["demo", "--device", d, "--save", "--json"]);
    // 1.0.0 runs; ask for 1.1.0. The stack hands over to the FUS at the second
    // FUS_GET_STATE, which then installs 1.1.0 lower in flash.
    let out = wbemu(&[
        "demo", "--device", d, "--stack", "1.1.0", "--save", "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["completed"], true);
    assert_eq!(v["running"], "wireless stack 1.1.0");
    assert_eq!(v["stack"], "1.1.0");
    let record = &info(d)["fus_record"];
    assert_eq!(record["stack"]["version"], "1.1.0");
    assert_eq!(record["stack"]["address"], "0x080d3000");
}

#[test]
fn a_failed_install_exits_non_zero_naming_the_fus_answer() {
    let dev = scratch("badkeys.wbdev");
    let d = dev.to_str().unwrap();
    ok(&["device", "new", d, "--preset", "virgin"]);
    // Damage the key page: the FUS can no longer authenticate any image.
    ok(&["device", "write", d, "0x080fe010", "--hex", "00"]);
    let out = wbemu(&["demo", "--device", d]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAILED: stack 1.0.0 is not running: CPU2 runs the FUS 2.0.0")
            && text.contains("FUS_GET_STATE answered state 0xff (error): IMG_NOT_AUTHENTIC (0x03)"),
        "{text}"
    );
    assert!(!text.contains("installed and running"), "{text}");
    let out = wbemu(&["demo", "--device", d, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["completed"], false);
    assert!(v["failure"].as_str().unwrap().contains("IMG_NOT_AUTHENTIC"));
    let upgrade = v["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["command"] == "FUS_FW_UPGRADE")
        .expect("FUS_FW_UPGRADE answered");
    assert_eq!(upgrade["status"], "0x00");
}

#[test]
fn the_built_in_firmware_is_listed_and_exported() {
    let list: Value = serde_json::from_str(&ok(&["firmware", "list", "--json"])).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "operator",
            "fus",
            "safeboot",
            "ws-1.0.0",
            "ws-1.1.0",
            "boot-counter",
            "cpu1-tests",
            "cpu2-tests"
        ]
    );
    let fus = &list[1];
    assert_eq!(
        (&fus["core"], &fus["address"]),
        (&"cpu2".into(), &"0x080f4000".into())
    );

    let dir = scratch("fw-export");
    ok(&["firmware", "export", dir.to_str().unwrap()]);
    for name in &names {
        let elf = std::fs::read(dir.join(format!("{name}.elf"))).unwrap();
        assert_eq!(&elf[..4], b"\x7fELF", "{name}");
    }
    // The signed stack images are what the FUS installs.
    let inspect = ok(&[
        "image",
        "inspect",
        dir.join("ws-1.1.0.img").to_str().unwrap(),
    ]);
    assert!(inspect.contains("1.1.0"), "{inspect}");
}

#[test]
fn the_demo_exports_its_starting_device_for_wbemu_run() {
    let start = scratch("demo-start.wbdev");
    let s = start.to_str().unwrap();
    let demo: Value = serde_json::from_str(&ok(&["demo", "--export-device", s, "--json"])).unwrap();
    assert_eq!(demo["completed"], true);
    // The exported device holds the operator, its script and the image, nothing installed.
    let v = info(s);
    assert_eq!(v["fus_record"]["seq"], 1);
    assert_eq!(v["note"], "wbemu demo --stack 1.0.0 start");
    // Rerun with `wbemu run`: the same install, to the same end.
    let r: Value = serde_json::from_str(&ok(&[
        "run",
        "--device",
        s,
        "--until-uart",
        "script done",
        "--save",
        "--json",
    ]))
    .unwrap();
    assert_eq!(r["exit"]["kind"], "uart_text");
    assert_eq!(r["cores"][1]["instructions"], demo["cpu2_instructions"]);
    assert_eq!(info(s)["fus_record"]["stack"]["version"], "1.0.0");
}

#[test]
fn errors_name_the_file_and_say_the_os_error_once() {
    let out = wbemu(&["device", "info", "/nonexistent/dev.wbdev"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/dev.wbdev"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let out = wbemu(&["run", "--cpu1", "/nonexistent/app.elf"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");

    // A file that is not a device: its first bytes in hex and as text.
    let bad = scratch("not-a-device.wbdev");
    std::fs::write(&bad, "hello world, not a device").unwrap();
    let out = wbemu(&["device", "info", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("starts with 68 65 6c 6c 6f 20 77 6f (\"hello wo\")"),
        "{err}"
    );
}
