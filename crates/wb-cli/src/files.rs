//! Reading and writing the files commands name. Writes are atomic: a failed command leaves
//! the old file or none, never half of a new one.

use std::path::Path;

use anyhow::{Context, Result};

pub fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("reading {}", p.display()))
}

pub fn write(p: &Path, bytes: &[u8]) -> Result<()> {
    wb_machine::device::write_atomically(p, bytes)
        .with_context(|| format!("writing {}", p.display()))
}
