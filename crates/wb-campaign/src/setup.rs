//! The machine a scenario starts from: its device, the core images, the operator's script
//! and the placed images written in, powered on.

use wb_machine::loader::LoadedImage;
use wb_machine::{Config, CoreId, Machine, ResetCause};
use wb_proto::layout::{self, operator as op};

use crate::scenario::{Action, CoreImage, Place, Scenario, ScenarioError};

/// Symbols of the image each core was given (CPU1, CPU2).
pub type Symbols = [Vec<(String, u32)>; 2];

fn error(sc: &Scenario, line: usize, key: &str, message: String) -> ScenarioError {
    ScenarioError {
        file: sc.file.display().to_string(),
        line,
        key: key.into(),
        message,
    }
}

/// Write `img` into the machine; where its vector table is.
pub fn load_image(
    m: &mut Machine,
    sc: &Scenario,
    img: &CoreImage,
    key: &str,
) -> Result<(u32, LoadedImage), ScenarioError> {
    let loaded = match img.base {
        _ if img.bytes.is_empty() => LoadedImage {
            ranges: Vec::new(),
            entry: 0,
            symbols: Vec::new(),
        },
        Some(base) => {
            if !m.poke(base, &img.bytes) {
                return Err(error(
                    sc,
                    img.line,
                    key,
                    format!(
                        "{}: {} bytes do not fit at {base:#010x}",
                        img.name,
                        img.bytes.len()
                    ),
                ));
            }
            LoadedImage {
                ranges: vec![(base, base + img.bytes.len() as u32)],
                entry: 0,
                symbols: Vec::new(),
            }
        }
        None => m
            .load_elf_bytes(&img.name, &img.bytes)
            .map_err(|e| error(sc, img.line, key, e.to_string()))?,
    };
    let lowest = loaded.ranges.iter().map(|r| r.0).min().unwrap_or(0);
    Ok((img.vector.unwrap_or(lowest), loaded))
}

/// The powered-on machine of `sc`, and its images' symbols. Without a CPU1 image the debug
/// probe holds CPU1 at its reset vector after every reset, as STM32CubeProgrammer does.
pub fn machine(sc: &Scenario) -> Result<(Machine, Symbols), ScenarioError> {
    let mut m = Machine::new(Config::default())
        .map_err(|e| error(sc, 0, "", format!("creating the machine: {e}")))?;
    m.load_device(&sc.device);
    let mut symbols: Symbols = Default::default();
    let cpu1 = match &sc.cpu1 {
        Some(img) => {
            let (v, l) = load_image(&mut m, sc, img, "cpu1.image")?;
            symbols[0] = l.symbols;
            Some(v)
        }
        None => None,
    };
    let cpu2 = match &sc.cpu2 {
        Some(img) => {
            let (v, l) = load_image(&mut m, sc, img, "cpu2.image")?;
            symbols[1] = l.symbols;
            Some(v)
        }
        None => None,
    };
    if let Some(script) = &sc.script {
        m.poke(op::SCRIPT_ADDR, script);
    }
    for p in &sc.placed {
        // The scenario checked that it fits in flash.
        m.poke(p.address, &p.bytes);
    }
    m.set_boot(cpu1.unwrap_or(layout::FLASH_BASE), cpu2);
    m.catch_cpu1_reset(cpu1.is_none());
    m.reset(ResetCause::PowerOn);
    check_symbols(sc, &symbols)?;
    Ok((m, symbols))
}

/// Every symbol a wait names is in the image its core has at that step.
fn check_symbols(sc: &Scenario, symbols: &Symbols) -> Result<(), ScenarioError> {
    let mut symbols = symbols.clone();
    for s in &sc.steps {
        if let Action::Cpu1Image(img) = &s.action {
            symbols[0] = wb_machine::loader::elf_symbols(&img.bytes);
        }
        let Some(w) = &s.wait else { continue };
        for (core, place) in &w.until.core_at {
            if let Place::Symbol(name) = place {
                if resolve(&symbols, *core, place).is_none() {
                    let key = format!("wait.{}_at", core.name());
                    return Err(error(
                        sc,
                        s.line,
                        &key,
                        format!("no symbol {name:?} in the image {core} was given"),
                    ));
                }
            }
        }
        if let Action::Cpu1Image(img) = &s.action {
            if img.bytes.is_empty() {
                return Err(error(
                    sc,
                    img.line,
                    "cpu1_image",
                    "the image is empty".into(),
                ));
            }
        }
    }
    Ok(())
}

/// The address `place` names for `core`.
pub fn resolve(symbols: &Symbols, core: CoreId, place: &Place) -> Option<u32> {
    match place {
        Place::Address(a) => Some(*a),
        // Thumb function symbols have bit 0 set; the PC does not.
        Place::Symbol(name) => symbols[core.index()]
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a & !1),
    }
}
