// Build script of the sample wireless stack: the memory map depends on the version built
// (feature `v1_1`), so copy the matching memory file as memory.x next to our link.x.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let memory = if env::var_os("CARGO_FEATURE_V1_1").is_some() {
        "memory-1.1.0.x"
    } else {
        "memory-1.0.0.x"
    };
    fs::copy(here.join(memory), out.join("memory.x")).unwrap();
    fs::copy(here.join("link.x"), out.join("link.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    // No page alignment of segments: the ELF headers must not become a loadable segment
    // below the image (1.1.0 does not start on a 64-KiB boundary).
    println!("cargo:rustc-link-arg=--nmagic");
    println!("cargo:rustc-link-arg=-Tlink.x");
    for f in ["memory-1.0.0.x", "memory-1.1.0.x", "link.x"] {
        println!("cargo:rerun-if-changed={f}");
    }
}
