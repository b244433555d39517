//! `wbemu run --record-scenario OUT`: the run written down as a scenario file
//! (docs/scenarios.md): its device (copied beside OUT, as it was when the run started), its
//! images, the power cut it had, the UART input with the simulated times it went in, and its
//! end. `wbemu scenario run OUT` is the same run again.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wb_machine::{Device, Picos, PowerCut, Uart};

/// What a run took from the host, as it went.
pub struct ScenarioRecord {
    pub out: PathBuf,
    /// The device the run started from, when it had one.
    pub device: Option<Device>,
    pub inputs: Vec<(Picos, Uart, Vec<u8>)>,
}

/// How the run was set up.
pub struct Setup<'a> {
    pub cpu1: Option<(&'a Path, Option<u32>)>,
    pub cpu2: Option<(&'a Path, Option<u32>)>,
    /// The boot vectors the run used (CPU2's when released at reset).
    pub vectors: (u32, Option<u32>),
    /// The built-in demo (no images, no device).
    pub demo: bool,
    pub cut: Option<(PowerCut, u64)>,
    pub max_time: Picos,
    pub command: String,
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

fn image(out: &mut String, table: &str, name: &str, base: Option<u32>, vector: Option<u32>) {
    let _ = writeln!(out, "\n[{table}]\nimage = {}", quote(name));
    if let Some(b) = base {
        let _ = writeln!(out, "base = {b:#010x}");
    }
    if let Some(v) = vector {
        let _ = writeln!(out, "vector = {v:#010x}");
    }
}

fn absolute(p: &Path) -> Result<String> {
    Ok(std::fs::canonicalize(p)
        .with_context(|| format!("{}: cannot resolve", p.display()))?
        .display()
        .to_string())
}

impl ScenarioRecord {
    /// Write the scenario (and the start device beside it) for a run that ends at `end`.
    pub fn write(&self, s: &Setup, end: Picos) -> Result<()> {
        let stem = self
            .out
            .file_stem()
            .map_or("recorded".into(), |s| s.to_string_lossy().into_owned());
        let mut t = String::new();
        let _ = writeln!(t, "name = {}", quote(&stem));
        let _ = writeln!(
            t,
            "about = {}",
            quote(&format!("Recorded by: {}", s.command))
        );
        let _ = writeln!(t, "max_time = \"{}ps\"", s.max_time.max(end));
        let _ = writeln!(t, "end_at = \"{end}ps\"");
        t += "\n[device]\n";
        match &self.device {
            Some(dev) => {
                let name = format!("{stem}.start.wbdev");
                let path = self.out.with_file_name(&name);
                super::super::device::save(dev, &path)?;
                let _ = writeln!(t, "file = {}", quote(&name));
            }
            None => t += "preset = \"blank\"\n",
        }
        let (v1, v2) = s.vectors;
        if s.demo {
            image(&mut t, "cpu1", "cpu1-tests", None, Some(v1));
            image(&mut t, "cpu2", "cpu2-tests", None, v2);
        } else {
            match s.cpu1 {
                Some((p, base)) => image(&mut t, "cpu1", &absolute(p)?, base, Some(v1)),
                // CPU1 boots what the device holds.
                None => {
                    let _ = writeln!(t, "\n[cpu1]\nvector = {v1:#010x}");
                }
            }
            match (s.cpu2, v2) {
                (Some((p, base)), _) => image(&mut t, "cpu2", &absolute(p)?, base, v2),
                (None, Some(v)) => {
                    let _ = writeln!(t, "\n[cpu2]\nvector = {v:#010x}");
                }
                (None, None) => {}
            }
        }
        if let Some((cut, seed)) = s.cut {
            let _ = writeln!(
                t,
                "\n[[step]]\ncut = {}\nseed = {seed}",
                quote(&cut.to_string())
            );
        }
        for (at, port, bytes) in &self.inputs {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(
                t,
                "\n[[step]]\nat = \"{at}ps\"\nuart_hex = \"{hex}\"\nport = \"{}\"",
                port.name()
            );
        }
        crate::files::write(&self.out, t.as_bytes())
    }
}
