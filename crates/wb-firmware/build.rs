//! Build the no_std guest programs under `firmware/` for the thumb targets with
//! `firmware/build.sh` (the list of images lives there), which copies the ELF files to
//! OUT_DIR for `include_bytes!`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let fw = here
        .join("../../firmware")
        .canonicalize()
        .expect("firmware/ next to crates/");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    for watched in [
        "build.sh",
        "Cargo.toml",
        "Cargo.lock",
        "guest-rt",
        "tests",
        "cpu2-hw",
        "fus",
        "safeboot",
        "operator",
        "wireless-stack",
        "../crates/wb-proto",
        "../crates/wb-regs",
    ] {
        println!("cargo:rerun-if-changed={}", fw.join(watched).display());
    }
    let script = fw.join("build.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    if !status.success() {
        // The script said why; a panic would only add a backtrace.
        eprintln!(
            "building the guest firmware failed: {} said why above",
            script.display()
        );
        std::process::exit(1);
    }
}
