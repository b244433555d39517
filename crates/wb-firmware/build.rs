//! Build the no_std guest programs under `firmware/` for the thumb targets, into a target
//! directory of our own, and copy the ELF files to OUT_DIR for `include_bytes!`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, target, cargo features, output name).
const IMAGES: &[(&str, &str, &str, &str)] = &[
    ("cpu1-tests", "thumbv7em-none-eabihf", "", "cpu1-tests"),
    ("cpu2-tests", "thumbv6m-none-eabi", "", "cpu2-tests"),
    ("boot-counter", "thumbv7em-none-eabihf", "", "boot-counter"),
    ("fus", "thumbv6m-none-eabi", "", "fus"),
    ("operator", "thumbv7em-none-eabihf", "", "operator"),
    // The sample wireless stack in two versions of different sizes and places.
    ("wireless-stack", "thumbv6m-none-eabi", "", "ws-1.0.0"),
    ("wireless-stack", "thumbv6m-none-eabi", "v1_1", "ws-1.1.0"),
];

fn main() {
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let fw = here
        .join("../../firmware")
        .canonicalize()
        .expect("firmware/ next to crates/");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target_dir = fw.join("target");
    for watched in [
        "Cargo.toml",
        "Cargo.lock",
        "guest-rt",
        "tests",
        "fus",
        "operator",
        "wireless-stack",
        "../crates/wb-proto",
    ] {
        println!("cargo:rerun-if-changed={}", fw.join(watched).display());
    }
    for (package, target, features, name) in IMAGES {
        build(&fw, &target_dir, package, target, features);
        let elf = target_dir.join(target).join("release").join(package);
        std::fs::copy(&elf, out.join(format!("{name}.elf")))
            .unwrap_or_else(|e| panic!("copy {}: {e}", elf.display()));
    }
}

fn build(fw: &Path, target_dir: &Path, package: &str, target: &str, features: &str) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(fw)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            package,
            "--target",
            target,
            "--target-dir",
        ])
        .arg(target_dir);
    if !features.is_empty() {
        cmd.args(["--features", features]);
    }
    // The outer build's flags are for the host, not for the thumb targets.
    // Nor does a lint driver (cargo clippy) wrapping the outer rustc apply to them.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo for {package}: {e}"));
    assert!(
        status.success(),
        "building guest firmware {package} for {target} failed"
    );
}
