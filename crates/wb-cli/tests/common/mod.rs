//! Running the `wbemu` binary from the CLI tests.

use std::process::{Command, Output};

pub fn wbemu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wbemu"))
        .args(args)
        .output()
        .expect("run wbemu")
}

/// A run that must succeed; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = wbemu(args);
    assert!(
        out.status.success(),
        "wbemu {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh path in the test target's scratch directory (whatever was there is removed).
#[allow(dead_code)] // not every test file uses it
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// A new device file from `preset` and the boot-counter ELF beside it (each boot appends a
/// record to the flash page at 0x080C0000): paths of both.
#[allow(dead_code)]
pub fn counter_device(name: &str, preset: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dev = scratch(&format!("{name}.wbdev"));
    let elf = scratch(&format!("{name}-counter.elf"));
    std::fs::write(&elf, wb_firmware::BOOT_COUNTER).unwrap();
    ok(&["device", "new", dev.to_str().unwrap(), "--preset", preset]);
    (dev, elf)
}
