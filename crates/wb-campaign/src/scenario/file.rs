//! A scenario file as TOML holds it, before any meaning is checked (docs/scenarios.md). Every
//! table refuses keys it does not know; values whose meaning is checked later keep their span,
//! so that an error can name the line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub name: Option<String>,
    pub about: Option<String>,
    /// Bound on the whole run's simulated time ("60s").
    pub max_time: Option<Spanned<String>>,
    /// After the last step the run goes on to this time (and stops exactly there).
    pub end_at: Option<Spanned<String>>,
    /// Seed of torn flash operations, for cuts that give none.
    pub seed: Option<u64>,
    pub device: Spanned<DeviceFile>,
    pub cpu1: Option<Spanned<CoreFile>>,
    pub cpu2: Option<Spanned<CoreFile>>,
    #[serde(default)]
    pub place: Vec<Spanned<PlaceFile>>,
    #[serde(default)]
    pub step: Vec<Spanned<StepFile>>,
    pub expect: Option<Spanned<ExpectFile>>,
    pub campaign: Option<Spanned<CampaignFile>>,
}

/// The fault plan of `wbemu campaign`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignFile {
    /// "power-cut" and/or "reset".
    pub faults: Option<Vec<Spanned<String>>>,
    /// "before", "during", "after".
    pub points: Option<Vec<Spanned<String>>>,
    /// Seeds of a fault during an operation: 0..seeds.
    pub seeds: Option<Spanned<u64>>,
    /// The flash operations [first, last] (from 1) faults fall at.
    pub ops: Option<Spanned<Vec<u64>>>,
    /// The kinds of operation faults fall at.
    pub kinds: Option<Vec<Spanned<String>>>,
    /// Also a fault at every multiple of this time.
    pub every: Option<Spanned<String>>,
    /// Whether faults fall at flash operations (default true).
    pub at_ops: Option<bool>,
    /// A second fault in the recovery from each first one.
    pub double: Option<Spanned<DoubleFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleFile {
    pub faults: Option<Vec<Spanned<String>>>,
    pub points: Option<Vec<Spanned<String>>>,
    pub seeds: Option<Spanned<u64>>,
    /// The second fault at the K-th flash operation after the first: [first K, last K].
    pub after: Spanned<Vec<u64>>,
    /// Draw this many pairs at random.
    pub sample: Option<usize>,
    pub seed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFile {
    pub preset: Option<Spanned<String>>,
    /// A device file, relative to the scenario.
    pub file: Option<Spanned<String>>,
    /// Option registers by RM0434 name (OPTR, SFR, SRRVR...) or the fields sfsa and sbrv.
    #[serde(default)]
    pub options: BTreeMap<String, Spanned<u32>>,
    #[serde(default)]
    pub write: Vec<Spanned<WriteFile>>,
}

/// Bytes written into the device as a programmer would.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteFile {
    pub address: Spanned<u32>,
    pub hex: Option<Spanned<String>>,
    pub file: Option<Spanned<String>>,
    pub fill: Option<Spanned<u8>>,
    pub len: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreFile {
    /// A built-in guest (`wbemu firmware list`) or an ELF / raw binary path; none: the
    /// core boots `vector` in what the device holds.
    pub image: Option<Spanned<String>>,
    /// Load address of a raw binary.
    pub base: Option<Spanned<u32>>,
    /// Vector table the core boots from (default: the image's lowest address).
    pub vector: Option<Spanned<u32>>,
    /// The operator's script (CPU1 only): "NAME arg0 arg1 arg2" per step.
    pub script: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceFile {
    /// A built-in signed image (ws-1.0.0, ws-1.1.0) or an image file path.
    pub image: Spanned<String>,
    /// "download" (AN5185 §2.1, from the device's SFSA) or an address.
    pub at: Spanned<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    /// Not before this simulated time from power-on ("5ms").
    pub at: Option<Spanned<String>>,
    /// Wait for this condition first.
    pub wait: Option<Spanned<ConditionFile>>,
    /// How long the wait (or the command's answer) may take.
    pub timeout: Option<Spanned<String>>,
    /// While waiting, keep CPU2 started and poll FUS_GET_STATE this often ("20ms").
    pub poll: Option<Spanned<String>>,
    /// With poll: a command sent again when the FUS answers idle, no error (it lost it).
    pub resend: Option<Spanned<String>>,

    // Actions: at most one per step.
    /// A system command by name (FUS_GET_STATE...) or opcode ("0xFC52").
    pub fus: Option<Spanned<String>>,
    pub payload: Option<Spanned<String>>,
    /// The whole packet, in hex, sent as it is (garbage included).
    pub packet: Option<Spanned<String>>,
    pub retries: Option<u32>,
    /// "required" (default) or "optional": whether a missing answer fails the step.
    pub answer: Option<Spanned<String>>,
    pub expect_status: Option<Spanned<u8>>,
    pub read: Option<Spanned<u32>>,
    pub value: Option<Spanned<u32>>,
    pub mask: Option<Spanned<u32>>,
    pub write: Option<Spanned<u32>>,
    pub uart: Option<Spanned<String>>,
    pub uart_hex: Option<Spanned<String>>,
    pub port: Option<Spanned<String>>,
    pub reset: Option<Spanned<String>>,
    pub cut: Option<Spanned<String>>,
    pub seed: Option<u64>,
    pub cpu1_image: Option<Spanned<String>>,
    /// An image written into flash now (ws-1.0.0, ws-1.1.0 or a path) ...
    pub place: Option<Spanned<String>>,
    /// ... at "download" (from the SFSA in force; the default) or an address.
    pub to: Option<Spanned<toml::Value>>,
    pub check: Option<Spanned<ExpectFile>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConditionFile {
    pub fus_state: Option<Spanned<u8>>,
    pub fus_error: Option<Spanned<toml::Value>>,
    /// The last FUS_GET_STATE answer says no upgrade is in progress (AN5185 Table 13).
    pub fus_idle: Option<bool>,
    pub ws_running: Option<Spanned<String>>,
    pub fus_running: Option<bool>,
    pub uart: Option<Spanned<String>>,
    pub cpu1_at: Option<Spanned<toml::Value>>,
    pub cpu2_at: Option<Spanned<toml::Value>>,
    pub cpu1_boots: Option<u32>,
    pub cpu2_boots: Option<u32>,
    pub flash_ops: Option<u64>,
    pub power_cuts: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExpectFile {
    pub ws_running: Option<Spanned<String>>,
    pub fus_running: Option<bool>,
    pub fus_state: Option<Spanned<u8>>,
    pub fus_error: Option<Spanned<toml::Value>>,
    pub sfsa: Option<u32>,
    pub sbrv: Option<u32>,
    pub sram2a_secure_kib: Option<u32>,
    pub sram2b_secure_kib: Option<u32>,
    /// Address ranges `[from, to)` whose bytes must end as they started.
    pub unchanged: Option<Vec<Spanned<Vec<u32>>>>,
    /// Flash ranges `[from, to)` that must read erased (0xFF, no ECC error).
    pub erased: Option<Vec<Spanned<Vec<u32>>>>,
    pub allow_faults: Option<bool>,
    pub cpu1_boots: Option<u32>,
    pub cpu2_boots: Option<u32>,
    pub power_cuts: Option<u32>,
    pub max_time: Option<Spanned<String>>,
    pub uart_contains: Option<Vec<String>>,
    pub uart_lacks: Option<Vec<String>>,
}
