// Build script of every guest program (package.build points here): put the program's
// memory.x and the shared link.x on the linker's search path. A program may bring its own
// link.x next to its memory.x.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    fs::copy(here.join("memory.x"), out.join("memory.x")).unwrap();
    let own = here.join("link.x");
    let link = if own.exists() {
        own
    } else {
        // The shared script: guest-rt/link.x in the nearest ancestor that has one.
        here.ancestors()
            .map(|d| d.join("guest-rt/link.x"))
            .find(|p| p.exists())
            .expect("guest-rt/link.x above the program")
    };
    fs::copy(&link, out.join("link.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    // No page alignment: otherwise the ELF headers become a loadable segment below FLASH.
    println!("cargo:rustc-link-arg=--nmagic");
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed={}", link.display());
}
