//! Scenarios: a device, the images on it, a timeline of host steps and the expectations the
//! run is judged by (docs/scenarios.md). [`Scenario::load`] checks everything that can be
//! checked without running: every error names the file, the line and the key at fault.

mod file;

use std::path::{Path, PathBuf};

use toml::Spanned;
use wb_firmware::images::{Stack, WS_1_0_0, WS_1_1_0};
use wb_machine::{CoreId, Device, Picos, PowerCut, Uart};
use wb_periph::flash::{FlashOpKind, OPTION_SLOTS};
use wb_periph::picos;
use wb_proto::fus::{FusError, Opcode};
use wb_proto::layout::operator as op;

use crate::campaign::plan::{Double, FaultKind, Plan};
use file::{CampaignFile, ConditionFile, CoreFile, ExpectFile, StepFile};
use wb_machine::CutPoint;

/// A scenario file that cannot be run: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// A scenario, every input resolved: the device and image bytes are in it.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub about: String,
    pub file: PathBuf,
    /// The device as the run starts from it, edits applied.
    pub device: Device,
    pub cpu1: Option<CoreImage>,
    pub cpu2: Option<CoreImage>,
    /// The operator's script, encoded for its page (`wb_proto::layout::operator`).
    pub script: Option<Vec<u8>>,
    pub placed: Vec<Placed>,
    pub steps: Vec<Step>,
    pub expect: Expect,
    pub max_time: Picos,
    /// After the last step, run on to this time before the end checks.
    pub end_at: Option<Picos>,
    pub seed: u64,
    /// The fault plan of `wbemu campaign` (`[campaign]`).
    pub campaign: Option<Plan>,
}

/// An image a core boots.
#[derive(Clone, Debug)]
pub struct CoreImage {
    pub line: usize,
    pub name: String,
    pub bytes: Vec<u8>,
    /// Load address of a raw binary; `None` for an ELF.
    pub base: Option<u32>,
    pub vector: Option<u32>,
}

/// An image written into flash before the run (a WS or FUS image for the FUS to find).
#[derive(Clone, Debug)]
pub struct Placed {
    pub line: usize,
    pub name: String,
    pub address: u32,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub line: usize,
    /// Not before this simulated time.
    pub at: Option<Picos>,
    pub wait: Option<Wait>,
    pub action: Action,
}

#[derive(Clone, Debug)]
pub struct Wait {
    pub until: Condition,
    pub timeout: Picos,
    /// Keep CPU2 started and poll FUS_GET_STATE this often while waiting.
    pub poll: Option<Picos>,
    /// A command (opcode, packet) the poll sends again when the FUS answers idle with no
    /// error: it lost the request to a reset (AN5185 Table 6).
    pub resend: Option<(u16, Vec<u8>)>,
    /// How often at most.
    pub resend_limit: u32,
}

/// What a step does once its time has come and its wait has ended.
#[derive(Clone, Debug)]
pub enum Action {
    /// Only the wait.
    Nothing,
    /// A system command through the debug port, CPU2 started first if it is not.
    Command {
        opcode: u16,
        packet: Vec<u8>,
        /// Times to send it again when no answer came (lost to a reset or a power cut).
        retries: u32,
        answer_required: bool,
        expect_status: Option<u8>,
        timeout: Picos,
    },
    Read {
        address: u32,
        /// (value, mask) the word must hold.
        expect: Option<(u32, u32)>,
    },
    Write {
        address: u32,
        value: u32,
    },
    Uart {
        port: Uart,
        bytes: Vec<u8>,
    },
    /// The NRST pin.
    Reset,
    /// Cut the power now.
    CutNow {
        seed: u64,
    },
    /// Arm a cut that falls when due (at a time, at a flash operation).
    Arm {
        cut: PowerCut,
        seed: u64,
    },
    /// Program another CPU1 image and reset the system into it.
    Cpu1Image(CoreImage),
    /// Write an image into flash, at an address or (`None`) at the download address of the
    /// SFSA in force.
    Place {
        name: String,
        bytes: Vec<u8>,
        to: Option<u32>,
    },
    Check(Expect),
}

/// What a stack check asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Running {
    Any,
    Nothing,
    Version(u8, u8, u8),
}

/// Where a core must be: an address or a symbol of its image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Address(u32),
    Symbol(String),
}

/// A condition a wait ends on: every field given must hold.
#[derive(Clone, Debug, Default)]
pub struct Condition {
    pub fus_state: Option<u8>,
    pub fus_error: Option<u8>,
    pub fus_idle: Option<bool>,
    pub ws_running: Option<Running>,
    pub fus_running: Option<bool>,
    pub uart: Option<String>,
    pub core_at: Vec<(CoreId, Place)>,
    pub cpu1_boots: Option<u32>,
    pub cpu2_boots: Option<u32>,
    pub flash_ops: Option<u64>,
    pub power_cuts: Option<u32>,
}

/// What a run is judged by, at its end or at a `check` step.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub line: usize,
    pub ws_running: Option<Running>,
    pub fus_running: Option<bool>,
    pub fus_state: Option<u8>,
    pub fus_error: Option<u8>,
    pub sfsa: Option<u32>,
    pub sbrv: Option<u32>,
    pub sram2a_secure_kib: Option<u32>,
    pub sram2b_secure_kib: Option<u32>,
    pub unchanged: Vec<(u32, u32)>,
    pub erased: Vec<(u32, u32)>,
    pub allow_faults: bool,
    pub cpu1_boots: Option<u32>,
    pub cpu2_boots: Option<u32>,
    pub power_cuts: Option<u32>,
    pub max_time: Option<Picos>,
    pub uart_contains: Vec<String>,
    pub uart_lacks: Vec<String>,
}

impl Expect {
    /// Whether checking needs a FUS_GET_STATE answer first.
    pub fn asks_fus(&self) -> bool {
        self.fus_state.is_some() || self.fus_error.is_some()
    }
}

/// How long a wait may last without a `timeout` key.
pub const DEFAULT_TIMEOUT: Picos = 10 * picos::S;
/// How long a command's answer may take without a `timeout` key.
pub const DEFAULT_ANSWER: Picos = 100 * picos::MS;
/// A run's bound without `max_time`.
pub const DEFAULT_MAX_TIME: Picos = 60 * picos::S;

/// The file, its text and where it lives: what an error needs.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
    dir: &'a Path,
}

impl Source<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    fn error(&self, offset: usize, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.display().to_string(),
            line: self.line(offset),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn at<T>(&self, v: &Spanned<T>, key: &str, message: impl Into<String>) -> ScenarioError {
        self.error(v.span().start, key, message)
    }

    fn time(&self, v: &Spanned<String>, key: &str) -> Result<Picos, ScenarioError> {
        picos::parse(v.get_ref()).map_err(|e| self.at(v, key, e))
    }

    fn hex(&self, v: &Spanned<String>, key: &str) -> Result<Vec<u8>, ScenarioError> {
        hex_bytes(v.get_ref()).map_err(|e| self.at(v, key, e))
    }

    /// A file named in the scenario, relative to it.
    fn read(&self, v: &Spanned<String>, key: &str) -> Result<Vec<u8>, ScenarioError> {
        let path = self.dir.join(v.get_ref());
        std::fs::read(&path)
            .map_err(|e| self.at(v, key, format!("cannot read {}: {e}", path.display())))
    }
}

/// Bytes in hex, spaces allowed.
fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("{s:?}: an odd number of hex digits"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("{s:?}: {:?} is not hex", &digits[i..i + 2]))
        })
        .collect()
}

/// The key a TOML parser error points at: the text before `=` on its line, or the table
/// header there.
fn key_at(text: &str, offset: usize) -> String {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((k, _)) => k.trim().to_string(),
        None => line.trim().to_string(),
    }
}

impl Scenario {
    /// Read and check `path`.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: path.display().to_string(),
            line: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Scenario::parse(path, &text, dir)
    }

    /// Check the text of a scenario; relative paths in it are taken from `dir`.
    pub fn parse(file: &Path, text: &str, dir: &Path) -> Result<Scenario, ScenarioError> {
        let src = Source { file, text, dir };
        let f: file::File = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let message = e.message().trim().to_string();
            // serde names an unknown or missing key in its message; the line says the rest.
            src.error(offset, &key_at(text, offset), message)
        })?;
        let name = f.name.clone().unwrap_or_else(|| {
            file.file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().into_owned())
        });
        let device = device(&src, &f.device)?;
        let cpu1 = f
            .cpu1
            .as_ref()
            .map(|c| core_image(&src, c, "cpu1"))
            .transpose()?;
        let cpu2 = f
            .cpu2
            .as_ref()
            .map(|c| core_image(&src, c, "cpu2"))
            .transpose()?;
        if let Some(c) = f.cpu2.as_ref().filter(|c| c.get_ref().script.is_some()) {
            return Err(src.at(c, "cpu2.script", "a script is for the operator on CPU1"));
        }
        let script = f
            .cpu1
            .as_ref()
            .and_then(|c| c.get_ref().script.as_ref())
            .map(|s| script(&src, s))
            .transpose()?;
        let sfsa = Device::options(&device).0.secure_flash_page();
        let placed = f
            .place
            .iter()
            .map(|p| placed(&src, p, sfsa))
            .collect::<Result<Vec<_>, _>>()?;
        let seed = f.seed.unwrap_or(0);
        let steps = f
            .step
            .iter()
            .enumerate()
            .map(|(i, s)| step(&src, i, s, seed))
            .collect::<Result<Vec<_>, _>>()?;
        let expect = match &f.expect {
            Some(e) => expect(&src, e, "expect")?,
            None => Expect::default(),
        };
        let max_time = match &f.max_time {
            Some(t) => src.time(t, "max_time")?,
            None => DEFAULT_MAX_TIME,
        };
        let end_at = f
            .end_at
            .as_ref()
            .map(|t| src.time(t, "end_at"))
            .transpose()?;
        if let (Some(t), Some(raw)) = (end_at.filter(|t| *t > max_time), &f.end_at) {
            let why = format!(
                "{} is after max_time ({})",
                picos::text(t),
                picos::text(max_time)
            );
            return Err(src.at(raw, "end_at", why));
        }
        for (s, raw) in steps.iter().zip(&f.step) {
            if let (Some(at), Some(t)) = (s.at.filter(|at| *at > max_time), &raw.get_ref().at) {
                let why = format!(
                    "{} us is after max_time ({} us): the step would never come",
                    at / picos::US,
                    max_time / picos::US
                );
                return Err(src.at(t, "at", why));
            }
        }
        Ok(Scenario {
            name,
            about: f.about.unwrap_or_default(),
            file: file.to_path_buf(),
            device,
            cpu1,
            cpu2,
            script,
            placed,
            steps,
            expect,
            max_time,
            end_at,
            seed,
            campaign: f.campaign.as_ref().map(|c| plan(&src, c)).transpose()?,
        })
    }
}

fn faults(
    src: &Source,
    list: &[Spanned<String>],
    key: &str,
) -> Result<Vec<FaultKind>, ScenarioError> {
    list.iter()
        .map(|f| {
            FaultKind::from_name(f.get_ref())
                .ok_or_else(|| src.at(f, key, format!("{:?}: power-cut or reset", f.get_ref())))
        })
        .collect()
}

fn points(
    src: &Source,
    list: &[Spanned<String>],
    key: &str,
) -> Result<Vec<CutPoint>, ScenarioError> {
    list.iter()
        .map(|p| match p.get_ref().as_str() {
            "before" => Ok(CutPoint::Before),
            "during" => Ok(CutPoint::During),
            "after" => Ok(CutPoint::After),
            other => Err(src.at(p, key, format!("{other:?}: before, during or after"))),
        })
        .collect()
}

fn seeds(src: &Source, v: &Spanned<u64>, key: &str) -> Result<u64, ScenarioError> {
    match *v.get_ref() {
        0 => Err(src.at(
            v,
            key,
            "a fault during an operation needs at least one seed",
        )),
        n => Ok(n),
    }
}

fn plan(src: &Source, c: &Spanned<CampaignFile>) -> Result<Plan, ScenarioError> {
    let cf = c.get_ref();
    let mut plan = Plan::default();
    if let Some(f) = &cf.faults {
        plan.faults = faults(src, f, "campaign.faults")?;
    }
    if let Some(p) = &cf.points {
        plan.points = points(src, p, "campaign.points")?;
    }
    if let Some(s) = &cf.seeds {
        plan.seeds = seeds(src, s, "campaign.seeds")?;
    }
    if let Some(d) = &cf.double {
        let df = d.get_ref();
        let after = match df.after.get_ref()[..] {
            [first, last] if first >= 1 && first <= last => (first, last),
            _ => {
                return Err(src.at(
                    &df.after,
                    "campaign.double.after",
                    "give [FIRST, LAST], operations after the first fault counted from 1",
                ))
            }
        };
        plan.double = Some(Double {
            faults: df
                .faults
                .as_ref()
                .map(|f| faults(src, f, "campaign.double.faults"))
                .transpose()?
                .unwrap_or(vec![FaultKind::PowerCut]),
            points: df
                .points
                .as_ref()
                .map(|p| points(src, p, "campaign.double.points"))
                .transpose()?
                .unwrap_or(vec![CutPoint::Before, CutPoint::During, CutPoint::After]),
            seeds: df
                .seeds
                .as_ref()
                .map(|s| seeds(src, s, "campaign.double.seeds"))
                .transpose()?
                .unwrap_or(4),
            after,
            sample: df.sample,
            seed: df.seed.unwrap_or(0),
        });
    }
    if let Some(ops) = &cf.ops {
        match ops.get_ref()[..] {
            [first, last] if first >= 1 && first <= last => plan.ops = Some((first, last)),
            _ => {
                return Err(src.at(
                    ops,
                    "campaign.ops",
                    "give [FIRST, LAST], operations numbered from 1",
                ))
            }
        }
    }
    for k in cf.kinds.iter().flatten() {
        let kind = FlashOpKind::from_name(k.get_ref()).ok_or_else(|| {
            src.at(
                k,
                "campaign.kinds",
                format!(
                    "{:?}: program, fast-program, page-erase, mass-erase or option-program",
                    k.get_ref()
                ),
            )
        })?;
        plan.kinds.push(kind);
    }
    if let Some(e) = &cf.every {
        let t = src.time(e, "campaign.every")?;
        if t == 0 {
            return Err(src.at(e, "campaign.every", "every 0 s: give a period"));
        }
        plan.every = Some(t);
    }
    plan.at_ops = cf.at_ops.unwrap_or(true);
    if plan.faults.is_empty() || plan.points.is_empty() {
        return Err(src.at(
            c,
            "campaign",
            "no faults: give at least one fault and one point",
        ));
    }
    Ok(plan)
}

fn device(src: &Source, d: &Spanned<file::DeviceFile>) -> Result<Device, ScenarioError> {
    let df = d.get_ref();
    let mut dev = match (&df.preset, &df.file) {
        (Some(p), None) => {
            let preset = wb_firmware::presets::preset(p.get_ref()).ok_or_else(|| {
                let names: Vec<_> = wb_firmware::presets::PRESETS
                    .iter()
                    .map(|p| p.name)
                    .collect();
                src.at(
                    p,
                    "device.preset",
                    format!(
                        "no preset {:?} (there are: {})",
                        p.get_ref(),
                        names.join(", ")
                    ),
                )
            })?;
            (preset.build)()
        }
        (None, Some(f)) => {
            let bytes = src.read(f, "device.file")?;
            Device::decode(&bytes).map_err(|e| src.at(f, "device.file", e.to_string()))?
        }
        _ => return Err(src.at(d, "device", "give one of preset = NAME or file = PATH")),
    };
    let (mut values, _) = dev.options();
    let mut changed = false;
    for (name, v) in &df.options {
        let key = format!("device.options.{name}");
        let value = *v.get_ref();
        match name.as_str() {
            "sfsa" if value <= 0xFF => {
                let sfr = values.get(wb_periph::flash::reg::SFR).unwrap_or(0);
                values.set(wb_periph::flash::reg::SFR, (sfr & !0xFF) | value);
            }
            "sbrv" if value <= 0x3_FFFF => {
                let srrvr = values.get(wb_periph::flash::reg::SRRVR).unwrap_or(0);
                values.set(wb_periph::flash::reg::SRRVR, (srrvr & !0x3_FFFF) | value);
            }
            "sfsa" | "sbrv" => {
                return Err(src.at(v, &key, format!("{value:#x} does not fit the field")))
            }
            reg => {
                let slot = OPTION_SLOTS.iter().find(|s| s.name == reg).ok_or_else(|| {
                    let names: Vec<_> = OPTION_SLOTS.iter().map(|s| s.name).collect();
                    src.at(
                        v,
                        &key,
                        format!("not an option register (sfsa, sbrv, {})", names.join(", ")),
                    )
                })?;
                values.set(slot.register, value);
            }
        }
        changed = true;
    }
    if changed {
        values.store(&mut dev.option_bytes);
    }
    for w in &df.write {
        let wf = w.get_ref();
        let bytes = match (&wf.hex, &wf.file, &wf.fill, &wf.len) {
            (Some(h), None, None, None) => src.hex(h, "device.write.hex")?,
            (None, Some(f), None, None) => src.read(f, "device.write.file")?,
            (None, None, Some(fill), Some(len)) => vec![*fill.get_ref(); *len.get_ref() as usize],
            _ => {
                return Err(src.at(
                    w,
                    "device.write",
                    "give hex = BYTES, file = PATH, or fill = BYTE with len = N",
                ))
            }
        };
        let address = *wf.address.get_ref();
        dev.write(address, &bytes)
            .map_err(|e| src.at(&wf.address, "device.write.address", e.to_string()))?;
    }
    Ok(dev)
}

fn core_image(src: &Source, c: &Spanned<CoreFile>, core: &str) -> Result<CoreImage, ScenarioError> {
    let cf = c.get_ref();
    let key = format!("{core}.image");
    let Some(image) = &cf.image else {
        // The device's own code, at a vector that must be given.
        let vector = cf.vector.as_ref().ok_or_else(|| {
            src.at(
                c,
                core,
                "give image = IMAGE, or vector = ADDRESS to boot what the device holds",
            )
        })?;
        if cf.base.is_some() {
            return Err(src.at(c, &format!("{core}.base"), "base goes with image"));
        }
        return Ok(CoreImage {
            line: src.line(vector.span().start),
            name: "the device's own code".into(),
            bytes: Vec::new(),
            base: None,
            vector: Some(*vector.get_ref()),
        });
    };
    let name = image.get_ref().clone();
    let bytes = match wb_firmware::GUESTS.iter().find(|g| g.name == name) {
        Some(g) => g.elf.to_vec(),
        None if !name.contains('/') && !name.contains('.') => {
            let names: Vec<_> = wb_firmware::GUESTS.iter().map(|g| g.name).collect();
            return Err(src.at(
                image,
                &key,
                format!(
                    "no built-in image {name:?} (there are: {}; a path needs a / or an extension)",
                    names.join(", ")
                ),
            ));
        }
        None => src.read(image, &key)?,
    };
    let elf = bytes.starts_with(b"\x7fELF");
    let base = cf.base.as_ref().map(|b| *b.get_ref());
    if !elf && base.is_none() {
        return Err(src.at(
            image,
            &key,
            "not an ELF file: a raw binary needs base = ADDRESS",
        ));
    }
    Ok(CoreImage {
        line: src.line(image.span().start),
        name,
        bytes,
        base: base.filter(|_| !elf),
        vector: cf.vector.as_ref().map(|v| *v.get_ref()),
    })
}

/// "FW_UPGRADE 0 0 0": a step of the operator's script.
fn script(src: &Source, lines: &[Spanned<String>]) -> Result<Vec<u8>, ScenarioError> {
    const NAMES: [(&str, u32); 10] = [
        ("GET_STATE", op::op::GET_STATE),
        ("FW_UPGRADE", op::op::FW_UPGRADE),
        ("FW_DELETE", op::op::FW_DELETE),
        ("START_WS", op::op::START_WS),
        ("POLL", op::op::POLL),
        ("RAW", op::op::RAW),
        ("ECHO", op::op::ECHO),
        ("DELAY", op::op::DELAY),
        ("WAIT_READY", op::op::WAIT_READY),
        ("RESET", op::op::RESET),
    ];
    if lines.len() > op::MAX_STEPS as usize {
        return Err(src.at(
            &lines[op::MAX_STEPS as usize],
            "cpu1.script",
            format!("the operator runs at most {} steps", op::MAX_STEPS),
        ));
    }
    let mut words = vec![op::SCRIPT_MAGIC, lines.len() as u32];
    for l in lines {
        let mut parts = l.get_ref().split_whitespace();
        let name = parts.next().unwrap_or("");
        let code = NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                let names: Vec<_> = NAMES.iter().map(|(n, _)| *n).collect();
                src.at(
                    l,
                    "cpu1.script",
                    format!("{name:?} is not an operator step ({})", names.join(", ")),
                )
            })?;
        let mut step = [code, 0, 0, 0];
        for (i, arg) in parts.enumerate() {
            if i >= 3 {
                return Err(src.at(l, "cpu1.script", "at most three arguments"));
            }
            step[1 + i] = number(arg)
                .ok_or_else(|| src.at(l, "cpu1.script", format!("{arg:?} is not a number")))?;
        }
        words.extend(step);
    }
    Ok(words.iter().flat_map(|w| w.to_le_bytes()).collect())
}

/// Decimal or 0x hex.
fn number(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(&h.replace('_', ""), 16).ok(),
        None => s.replace('_', "").parse().ok(),
    }
}

fn stack(name: &str) -> Option<Stack> {
    match name {
        "ws-1.0.0" => Some(WS_1_0_0),
        "ws-1.1.0" => Some(WS_1_1_0),
        _ => None,
    }
}

/// The bytes of a placed image: a built-in signed image or a file.
fn image_bytes(src: &Source, image: &Spanned<String>, key: &str) -> Result<Vec<u8>, ScenarioError> {
    let name = image.get_ref();
    match stack(name) {
        Some(s) => Ok(s.image()),
        None if !name.contains('/') && !name.contains('.') => Err(src.at(
            image,
            key,
            format!("no built-in image {name:?} (there are: ws-1.0.0, ws-1.1.0; a path needs a / or an extension)"),
        )),
        None => src.read(image, key),
    }
}

/// Where an image goes: `None` for "download".
fn target(src: &Source, v: &Spanned<toml::Value>, key: &str) -> Result<Option<u32>, ScenarioError> {
    match v.get_ref() {
        toml::Value::String(s) if s == "download" => Ok(None),
        toml::Value::Integer(a) => u32::try_from(*a)
            .map(Some)
            .map_err(|_| src.at(v, key, format!("{a:#x} is not an address"))),
        _ => Err(src.at(v, key, "give \"download\" or an address")),
    }
}

/// Whether `len` bytes at `address` lie in flash.
pub fn fits_in_flash(address: u32, len: usize) -> bool {
    let flash = wb_machine::memory::FLASH;
    flash.contains(address) && address as u64 + len as u64 <= flash.end() as u64
}

fn placed(
    src: &Source,
    p: &Spanned<file::PlaceFile>,
    sfsa: Option<u32>,
) -> Result<Placed, ScenarioError> {
    let pf = p.get_ref();
    let bytes = image_bytes(src, &pf.image, "place.image")?;
    let address = match target(src, &pf.at, "place.at")? {
        Some(a) => a,
        None => {
            let sfsa = sfsa.ok_or_else(|| {
                src.at(
                    &pf.at,
                    "place.at",
                    "the device has no secure flash (FSD = 1): no download address",
                )
            })?;
            wb_firmware::images::download_address(sfsa, bytes.len())
        }
    };
    if !fits_in_flash(address, bytes.len()) {
        return Err(src.at(
            &pf.at,
            "place.at",
            format!(
                "{} bytes at {address:#010x} do not fit in flash",
                bytes.len()
            ),
        ));
    }
    Ok(Placed {
        line: src.line(p.span().start),
        name: pf.image.get_ref().clone(),
        address,
        bytes,
    })
}

fn opcode(src: &Source, v: &Spanned<String>) -> Result<u16, ScenarioError> {
    let s = v.get_ref();
    if let Some(n) = number(s) {
        return u16::try_from(n)
            .map_err(|_| src.at(v, "fus", format!("{s}: an opcode has 16 bits")));
    }
    Opcode::ALL
        .iter()
        .find(|o| wb_inspect::fus::command_name(u32::from(u16::from(**o))) == *s)
        .map(|o| u16::from(*o))
        .ok_or_else(|| src.at(v, "fus", format!("{s:?} is not a system command name (FUS_GET_STATE, FUS_FW_UPGRADE...) or opcode")))
}

fn fus_error(src: &Source, v: &Spanned<toml::Value>, key: &str) -> Result<u8, ScenarioError> {
    match v.get_ref() {
        toml::Value::Integer(n) => {
            u8::try_from(*n).map_err(|_| src.at(v, key, format!("{n}: an error code is a byte")))
        }
        toml::Value::String(s) => FusError::NAMED
            .iter()
            .find(|e| wb_inspect::fus::error_name(**e).split(' ').next() == Some(s.as_str()))
            .map(|e| u8::from(*e))
            .ok_or_else(|| {
                src.at(
                    v,
                    key,
                    format!("{s:?} is not an AN5185 Table 14 error name (IMG_NOT_FOUND...)"),
                )
            }),
        _ => Err(src.at(v, key, "give an error name or code")),
    }
}

fn running(src: &Source, v: &Spanned<String>, key: &str) -> Result<Running, ScenarioError> {
    let s = v.get_ref();
    match s.as_str() {
        "any" => return Ok(Running::Any),
        "none" => return Ok(Running::Nothing),
        _ => {}
    }
    let parts: Vec<_> = s.split('.').map(|p| p.parse::<u8>().ok()).collect();
    match parts[..] {
        [Some(a), Some(b), Some(c)] => Ok(Running::Version(a, b, c)),
        _ => Err(src.at(
            v,
            key,
            format!("{s:?}: give a version like 1.0.0, any or none"),
        )),
    }
}

fn place(src: &Source, v: &Spanned<toml::Value>, key: &str) -> Result<Place, ScenarioError> {
    match v.get_ref() {
        toml::Value::Integer(a) => {
            let a = u32::try_from(*a)
                .map_err(|_| src.at(v, key, format!("{a:#x} is not an address")))?;
            if a & 1 != 0 {
                return Err(src.at(
                    v,
                    key,
                    format!("{a:#010x}: Thumb code is at even addresses; no core can be there"),
                ));
            }
            Ok(Place::Address(a))
        }
        toml::Value::String(s) if !s.is_empty() => Ok(Place::Symbol(s.clone())),
        _ => Err(src.at(v, key, "give an address or a symbol of the core's image")),
    }
}

fn condition(
    src: &Source,
    c: &Spanned<ConditionFile>,
    polled: bool,
) -> Result<Condition, ScenarioError> {
    let cf = c.get_ref();
    let mut core_at = Vec::new();
    for (core, v, key) in [
        (CoreId::Cpu1, &cf.cpu1_at, "wait.cpu1_at"),
        (CoreId::Cpu2, &cf.cpu2_at, "wait.cpu2_at"),
    ] {
        if let Some(v) = v {
            core_at.push((core, place(src, v, key)?));
        }
    }
    if let Some(u) = cf.uart.as_ref().filter(|u| u.get_ref().is_empty()) {
        return Err(src.at(u, "wait.uart", "the text is empty"));
    }
    let asks_fus = cf.fus_state.is_some() || cf.fus_error.is_some() || cf.fus_idle.is_some();
    if asks_fus && !polled {
        return Err(src.at(c, "wait", "the wait can never end: only FUS_GET_STATE answers change the FUS state it waits for, and nothing asks while it waits (add poll = \"20ms\")"));
    }
    let cond = Condition {
        fus_state: cf.fus_state.as_ref().map(|v| *v.get_ref()),
        fus_error: cf
            .fus_error
            .as_ref()
            .map(|v| fus_error(src, v, "wait.fus_error"))
            .transpose()?,
        fus_idle: cf.fus_idle,
        ws_running: cf
            .ws_running
            .as_ref()
            .map(|v| running(src, v, "wait.ws_running"))
            .transpose()?,
        fus_running: cf.fus_running,
        uart: cf.uart.as_ref().map(|u| u.get_ref().clone()),
        core_at,
        cpu1_boots: cf.cpu1_boots,
        cpu2_boots: cf.cpu2_boots,
        flash_ops: cf.flash_ops,
        power_cuts: cf.power_cuts,
    };
    Ok(cond)
}

fn expect(src: &Source, e: &Spanned<ExpectFile>, key: &str) -> Result<Expect, ScenarioError> {
    let ef = e.get_ref();
    let k = |name: &str| format!("{key}.{name}");
    let ranges = |list: &Option<Vec<Spanned<Vec<u32>>>>, key: &str| {
        let mut out = Vec::new();
        for r in list.iter().flatten() {
            match r.get_ref()[..] {
                [from, to] if from < to => out.push((from, to)),
                _ => return Err(src.at(r, &k(key), "give [FROM, TO] with FROM < TO")),
            }
        }
        Ok(out)
    };
    let unchanged = ranges(&ef.unchanged, "unchanged")?;
    let erased = ranges(&ef.erased, "erased")?;
    for &(from, to) in &erased {
        if !fits_in_flash(from, (to - from) as usize) {
            let r = ef.erased.iter().flatten().next().expect("a range");
            return Err(src.at(
                r,
                &k("erased"),
                format!("[{from:#010x}, {to:#010x}) is not in flash"),
            ));
        }
    }
    Ok(Expect {
        line: src.line(e.span().start),
        ws_running: ef
            .ws_running
            .as_ref()
            .map(|v| running(src, v, &k("ws_running")))
            .transpose()?,
        fus_running: ef.fus_running,
        fus_state: ef.fus_state.as_ref().map(|v| *v.get_ref()),
        fus_error: ef
            .fus_error
            .as_ref()
            .map(|v| fus_error(src, v, &k("fus_error")))
            .transpose()?,
        sfsa: ef.sfsa,
        sbrv: ef.sbrv,
        sram2a_secure_kib: ef.sram2a_secure_kib,
        sram2b_secure_kib: ef.sram2b_secure_kib,
        unchanged,
        erased,
        allow_faults: ef.allow_faults.unwrap_or(false),
        cpu1_boots: ef.cpu1_boots,
        cpu2_boots: ef.cpu2_boots,
        power_cuts: ef.power_cuts,
        max_time: ef
            .max_time
            .as_ref()
            .map(|t| src.time(t, &k("max_time")))
            .transpose()?,
        uart_contains: ef.uart_contains.clone().unwrap_or_default(),
        uart_lacks: ef.uart_lacks.clone().unwrap_or_default(),
    })
}

fn uart_port(src: &Source, v: &Option<Spanned<String>>) -> Result<Uart, ScenarioError> {
    match v.as_ref().map(|p| (p, p.get_ref().as_str())) {
        None | Some((_, "usart1")) => Ok(Uart::Usart1),
        Some((_, "lpuart1")) => Ok(Uart::Lpuart1),
        Some((p, other)) => Err(src.at(p, "port", format!("{other:?}: usart1 or lpuart1"))),
    }
}

fn step(
    src: &Source,
    index: usize,
    s: &Spanned<StepFile>,
    seed: u64,
) -> Result<Step, ScenarioError> {
    let sf = s.get_ref();
    let line = src.line(s.span().start);
    // Keys that belong to one action only.
    let actions: [(&str, bool); 10] = [
        ("fus", sf.fus.is_some() || sf.packet.is_some()),
        ("read", sf.read.is_some()),
        ("write", sf.write.is_some()),
        ("uart", sf.uart.is_some() || sf.uart_hex.is_some()),
        ("reset", sf.reset.is_some()),
        ("cut", sf.cut.is_some()),
        ("cpu1_image", sf.cpu1_image.is_some()),
        ("place", sf.place.is_some()),
        ("check", sf.check.is_some()),
        ("wait", false),
    ];
    let given: Vec<_> = actions
        .iter()
        .filter(|(_, g)| *g)
        .map(|(k, _)| *k)
        .collect();
    if given.len() > 1 {
        return Err(src.at(
            s,
            &format!("step[{index}]"),
            format!("one action per step, this one has {}", given.join(", ")),
        ));
    }
    let timeout = sf
        .timeout
        .as_ref()
        .map(|t| src.time(t, "timeout"))
        .transpose()?;
    if timeout == Some(0) {
        let t = sf.timeout.as_ref().expect("given");
        return Err(src.at(
            t,
            "timeout",
            "a zero timeout: the wait can never end in success",
        ));
    }
    let wait = match &sf.wait {
        Some(c) => {
            let poll = sf.poll.as_ref().map(|p| src.time(p, "poll")).transpose()?;
            let until = condition(src, c, poll.is_some())?;
            if poll == Some(0) {
                return Err(src.at(
                    sf.poll.as_ref().expect("given"),
                    "poll",
                    "poll every 0 s: the host would never let time pass",
                ));
            }
            let resend = match &sf.resend {
                Some(r) if poll.is_none() => {
                    return Err(src.at(r, "resend", "resend goes with poll"))
                }
                Some(r) => {
                    let opcode = opcode(src, r)?;
                    Some((
                        opcode,
                        wb_host::task::packet(opcode, &[])
                            .map_err(|e| src.at(r, "resend", e.to_string()))?,
                    ))
                }
                None => None,
            };
            Some(Wait {
                until,
                timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
                poll,
                resend,
                resend_limit: sf.retries.unwrap_or(3),
            })
        }
        None => {
            if let Some(p) = &sf.poll {
                return Err(src.at(p, "poll", "poll belongs to a step with a wait"));
            }
            None
        }
    };
    let unused = |v: bool, key: &str, with: &str| -> Result<(), ScenarioError> {
        if v {
            Err(src.at(s, key, format!("{key} goes with {with}")))
        } else {
            Ok(())
        }
    };
    unused(sf.payload.is_some() && sf.fus.is_none(), "payload", "fus")?;
    unused(
        (sf.answer.is_some() || sf.expect_status.is_some()) && given != ["fus"],
        "answer/expect_status",
        "fus",
    )?;
    unused(
        sf.retries.is_some() && given != ["fus"] && sf.resend.is_none(),
        "retries",
        "fus or resend",
    )?;
    unused(
        sf.value.is_some() && sf.read.is_none() && sf.write.is_none(),
        "value",
        "read or write",
    )?;
    unused(sf.mask.is_some() && sf.read.is_none(), "mask", "read")?;
    unused(sf.port.is_some() && given != ["uart"], "port", "uart")?;
    unused(sf.seed.is_some() && given != ["cut"], "seed", "cut")?;
    unused(sf.to.is_some() && given != ["place"], "to", "place")?;

    let action = if let Some(v) = sf.fus.as_ref().or(sf.packet.as_ref()) {
        let packet = match (&sf.fus, &sf.packet) {
            (Some(name), None) => {
                let opcode = opcode(src, name)?;
                let payload = sf
                    .payload
                    .as_ref()
                    .map(|p| src.hex(p, "payload"))
                    .transpose()?
                    .unwrap_or_default();
                let mut packet = vec![0u8; 8 + 4 + payload.len()];
                wb_proto::tl::SysCommand {
                    opcode,
                    payload: &payload,
                }
                .encode_packet(&mut packet)
                .map_err(|e| src.at(name, "payload", e.to_string()))?;
                packet
            }
            (None, Some(p)) => src.hex(p, "packet")?,
            _ => {
                return Err(src.at(
                    v,
                    "packet",
                    "give fus = COMMAND or packet = BYTES, not both",
                ))
            }
        };
        let opcode =
            u16::from_le_bytes([*packet.get(9).unwrap_or(&0), *packet.get(10).unwrap_or(&0)]);
        let answer_required = match sf.answer.as_ref().map(|a| (a, a.get_ref().as_str())) {
            None | Some((_, "required")) => true,
            Some((_, "optional")) => false,
            Some((a, other)) => {
                return Err(src.at(a, "answer", format!("{other:?}: required or optional")))
            }
        };
        Action::Command {
            opcode,
            packet,
            retries: sf.retries.unwrap_or(0),
            answer_required,
            expect_status: sf.expect_status.as_ref().map(|v| *v.get_ref()),
            timeout: if wait.is_some() {
                DEFAULT_ANSWER
            } else {
                timeout.unwrap_or(DEFAULT_ANSWER)
            },
        }
    } else if let Some(a) = &sf.read {
        Action::Read {
            address: *a.get_ref(),
            expect: sf.value.as_ref().map(|v| {
                (
                    *v.get_ref(),
                    sf.mask.as_ref().map_or(u32::MAX, |m| *m.get_ref()),
                )
            }),
        }
    } else if let Some(a) = &sf.write {
        let value = sf
            .value
            .as_ref()
            .ok_or_else(|| src.at(a, "write", "a write needs value = WORD"))?;
        Action::Write {
            address: *a.get_ref(),
            value: *value.get_ref(),
        }
    } else if sf.uart.is_some() || sf.uart_hex.is_some() {
        let bytes = match (&sf.uart, &sf.uart_hex) {
            (Some(t), None) => t.get_ref().as_bytes().to_vec(),
            (None, Some(h)) => src.hex(h, "uart_hex")?,
            _ => return Err(src.at(s, "uart", "give uart = TEXT or uart_hex = BYTES, not both")),
        };
        Action::Uart {
            port: uart_port(src, &sf.port)?,
            bytes,
        }
    } else if let Some(r) = &sf.reset {
        if r.get_ref() != "nrst" {
            return Err(src.at(
                r,
                "reset",
                format!(
                    "{:?}: the host resets through the NRST pin: reset = \"nrst\"",
                    r.get_ref()
                ),
            ));
        }
        Action::Reset
    } else if let Some(c) = &sf.cut {
        let seed = sf.seed.unwrap_or(seed);
        if c.get_ref() == "now" {
            Action::CutNow { seed }
        } else {
            let cut: PowerCut = c
                .get_ref()
                .parse()
                .map_err(|e: String| src.at(c, "cut", e))?;
            Action::Arm { cut, seed }
        }
    } else if let Some(i) = &sf.cpu1_image {
        let core = Spanned::new(
            i.span(),
            CoreFile {
                image: Some(i.clone()),
                base: None,
                vector: None,
                script: None,
            },
        );
        Action::Cpu1Image(core_image(src, &core, "cpu1_image")?)
    } else if let Some(i) = &sf.place {
        let bytes = image_bytes(src, i, "place")?;
        let to = sf
            .to
            .as_ref()
            .map(|t| target(src, t, "to"))
            .transpose()?
            .flatten();
        if let Some(a) = to.filter(|a| !fits_in_flash(*a, bytes.len())) {
            return Err(src.at(
                sf.to.as_ref().expect("given"),
                "to",
                format!("{} bytes at {a:#010x} do not fit in flash", bytes.len()),
            ));
        }
        Action::Place {
            name: i.get_ref().clone(),
            bytes,
            to,
        }
    } else if let Some(e) = &sf.check {
        Action::Check(expect(src, e, "check")?)
    } else {
        Action::Nothing
    };
    if matches!(action, Action::Nothing) && wait.is_none() && sf.at.is_none() {
        return Err(src.at(
            s,
            &format!("step[{index}]"),
            "the step does nothing: give an action, a wait or at",
        ));
    }
    Ok(Step {
        line,
        at: sf.at.as_ref().map(|t| src.time(t, "at")).transpose()?,
        wait,
        action,
    })
}

#[cfg(test)]
mod tests;
