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
