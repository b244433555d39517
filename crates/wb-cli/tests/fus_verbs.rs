//! `wbemu fus`: STM32CubeProgrammer's FUS verbs on a device file, through the debug probe.

mod common;

use common::{ok, scratch, wbemu};
use serde_json::Value;

fn verb(args: &[&str]) -> (Value, Option<i32>) {
    let out = wbemu(args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "wbemu {args:?}: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code())
}

#[test]
fn install_upgrade_start_and_delete_a_stack_as_cubeprogrammer_does() {
    let fw = scratch("fus-verbs-fw");
    ok(&["firmware", "export", fw.to_str().unwrap()]);
    let img = |v: &str| fw.join(format!("ws-{v}.img")).to_str().unwrap().to_string();
    let dev = scratch("fus-verbs.wbdev");
    let d = dev.to_str().unwrap();
    ok(&["device", "new", d, "--preset", "virgin"]);
    // CPU1's own code stays as it is: the probe halts CPU1, it does not overwrite it.
    let counter = fw.join("boot-counter.elf");
    ok(&[
        "run",
        "--device",
        d,
        "--cpu1",
        counter.to_str().unwrap(),
        "--max-time",
        "1ms",
        "--save",
    ]);
    let user_code = ok(&["device", "read", d, "0x08000000", "64"]);

    let (r, code) = verb(&["fus", "get-state", "--device", d, "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(r["running"], "FUS 2.0.0");
    assert_eq!(r["exchanges"][0]["command"], "FUS_GET_STATE");
    assert_eq!(r["exchanges"][0]["status"], "0x00");

    let (r, code) = verb(&[
        "fus",
        "upgrade",
        &img("1.0.0"),
        "--device",
        d,
        "--save",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["running"], "wireless stack 1.0.0");
    assert_eq!(
        r["image_address"], "0x080ee000",
        "AN5185 download address below SFSA 0xF4"
    );
    assert_eq!(r["sfsa"], "0xf0");

    // The stack answers FUS_GET_STATE itself: FUS not running.
    let (r, _) = verb(&["fus", "get-state", "--device", d, "--json"]);
    assert_eq!(
        r["exchanges"][0]["text"],
        "FUS_GET_STATE -> state 0xff, error NOT_RUNNING (0xfe)"
    );

    // Upgrade: the stack hands over to the FUS, which installs 1.1.0 lower in flash.
    let (r, code) = verb(&[
        "fus",
        "upgrade",
        &img("1.1.0"),
        "--device",
        d,
        "--save",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["running"], "wireless stack 1.1.0");
    assert_eq!(r["sfsa"], "0xd3");
    let info: Value = serde_json::from_str(&ok(&["device", "info", d, "--json"])).unwrap();
    assert_eq!(info["fus_record"]["stack"]["version"], "1.1.0");

    let (r, code) = verb(&["fus", "start-ws", "--device", d, "--json"]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["running"], "wireless stack 1.1.0");

    let (r, code) = verb(&["fus", "delete", "--device", d, "--save", "--json"]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(
        (&r["running"], &r["sfsa"]),
        (&"FUS 2.0.0".into(), &"0xf4".into())
    );
    // Nothing left to delete: the FUS says IMG_NOT_FOUND, and the verb fails naming it.
    let out = wbemu(&["fus", "delete", "--device", d]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("delete: FAILED: FUS_GET_STATE -> state 0xff, error IMG_NOT_FOUND (0x01)"),
        "{text}"
    );
    let out = wbemu(&["fus", "start-ws", "--device", d]);
    assert_eq!(out.status.code(), Some(1));

    assert_eq!(ok(&["device", "read", d, "0x08000000", "64"]), user_code);
}

#[test]
fn an_image_the_fus_refuses_fails_with_its_answer_and_a_bad_file_is_a_host_error() {
    let fw = scratch("fus-refuse-fw");
    ok(&["firmware", "export", fw.to_str().unwrap()]);
    let dev = scratch("fus-refuse.wbdev");
    let d = dev.to_str().unwrap();
    ok(&["device", "new", d, "--preset", "virgin"]);
    // The device's key page damaged: no image is authentic any more.
    ok(&["device", "write", d, "0x080fe010", "--hex", "00"]);
    let image = fw.join("ws-1.0.0.img");
    let (r, code) = verb(&[
        "fus",
        "upgrade",
        image.to_str().unwrap(),
        "--device",
        d,
        "--json",
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(r["ok"], false);
    assert_eq!(
        r["failure"],
        "FUS_GET_STATE -> state 0xff, error IMG_NOT_AUTHENTIC (0x03)"
    );
    assert_eq!(r["running"], "FUS 2.0.0");

    // An ELF is no image: refused before anything runs, naming the file.
    let elf = fw.join("ws-1.0.0.elf");
    let out = wbemu(&["fus", "upgrade", elf.to_str().unwrap(), "--device", d]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ws-1.0.0.elf: no image footer found"), "{err}");
    let out = wbemu(&["fus", "get-state", "--device", "/nonexistent.wbdev"]);
    assert_eq!(out.status.code(), Some(2));
}
