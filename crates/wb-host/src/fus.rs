//! The FUS verbs of STM32CubeProgrammer (`-fwupgrade`, `-fwdelete`, `-startwirelessstack`,
//! `-getfusversion`/state) over the [`Probe`], each with a verdict: success only when what
//! was asked for is what CPU2 runs at the end; otherwise the FUS's answer, named.

use wb_inspect::fus::{command_name, error_name};
use wb_inspect::info_table::{self, Cpu2Firmware};
use wb_inspect::options::Options;
use wb_inspect::version_text;
use wb_proto::fus::FusError;
use wb_proto::image::Version;

use crate::probe::{PollEnd, Probe, Result, MS};

pub const FUS_GET_STATE: u16 = 0xFC52;
pub const FUS_FW_UPGRADE: u16 = 0xFC54;
pub const FUS_FW_DELETE: u16 = 0xFC55;
pub const FUS_START_WS: u16 = 0xFC5A;

/// How long a command may take to be answered.
const ANSWER: u64 = 100 * MS;
/// How long an install or a delete may take, resets included (a 132 KiB stack: about 5 s).
const WORK: u64 = 30_000 * MS;

/// A command sent and what came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub opcode: u16,
    /// The status byte (FUS_GET_STATE: the state), none when nothing was answered.
    pub status: Option<u8>,
    /// The payload bytes after the status (FUS_GET_STATE: the error code).
    pub payload: Vec<u8>,
}

impl Exchange {
    /// "FUS_FW_UPGRADE -> 0x00" / "FUS_GET_STATE -> state 0xff, error IMG_NOT_AUTHENTIC (0x03)".
    pub fn describe(&self) -> String {
        let name = command_name(u32::from(self.opcode));
        match (self.status, self.opcode) {
            (None, _) => format!("{name}: no answer"),
            (Some(s), FUS_GET_STATE) => match self.payload.first() {
                Some(&e) if e != 0 => {
                    format!(
                        "{name} -> state {s:#04x}, error {}",
                        error_name(FusError::from(e))
                    )
                }
                _ => format!("{name} -> state {s:#04x}"),
            },
            (Some(s), _) => format!("{name} -> status {s:#04x}"),
        }
    }
}

/// What a verb did and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Every command sent, in order, with its answer.
    pub exchanges: Vec<Exchange>,
    /// What CPU2 runs at the end (its device information table), if it wrote one.
    pub running: Option<Cpu2Firmware>,
    /// `None` on success; why not, naming the FUS's answer, otherwise.
    pub failure: Option<String>,
}

/// "wireless stack 1.1.0" / "FUS 2.0.0".
pub fn describe(f: &Cpu2Firmware) -> String {
    match f {
        Cpu2Firmware::Fus { version } => format!("FUS {}", version_text(*version)),
        Cpu2Firmware::WirelessStack { version, .. } => {
            format!("wireless stack {}", version_text(*version))
        }
    }
}

/// A verb in progress: the probe and the record of what was said.
struct Session<'a> {
    p: &'a mut Probe,
    exchanges: Vec<Exchange>,
}

impl Session<'_> {
    fn send(&mut self, opcode: u16, payload: &[u8]) -> Result<Option<u8>> {
        let answer = self.p.command(opcode, payload, ANSWER)?;
        let (status, rest) = match &answer {
            // 0x11, 0x0E, plen, numcmd, opcode (2), status, payload: plen counts from numcmd.
            Some(r) => {
                let end = (3 + usize::from(r[2])).clamp(7, r.len());
                (Some(r[6]), r[7..end].to_vec())
            }
            None => (None, Vec::new()),
        };
        self.exchanges.push(Exchange {
            opcode,
            status,
            payload: rest,
        });
        Ok(status)
    }

    fn running(&mut self) -> Option<Cpu2Firmware> {
        let ipccdba = Options::live(self.p.m.with_flash(|f| *f.options())).ipccdba();
        info_table::read(&self.p.m, ipccdba).map(|t| Cpu2Firmware::of(&t))
    }

    fn end(mut self, failure: Option<String>) -> Outcome {
        let running = self.running();
        Outcome {
            exchanges: self.exchanges,
            running,
            failure,
        }
    }

    /// Start CPU2 if it is not running; if a wireless stack answers, send it back to the FUS
    /// with two FUS_GET_STATE (AN5185 §2.1). Whether the FUS runs at the end.
    fn ensure_fus(&mut self) -> Result<bool> {
        if !self.p.cpu2_started()? && self.p.boot_cpu2()?.is_none() {
            return Ok(false);
        }
        if matches!(self.running(), Some(Cpu2Firmware::Fus { .. })) {
            return Ok(true);
        }
        for _ in 0..2 {
            if self.send(FUS_GET_STATE, &[])?.is_none() {
                break; // the stack reset the system to start the FUS
            }
        }
        if !self.p.wait_reset(500 * MS)? {
            return Ok(false);
        }
        Ok(self.p.boot_cpu2()? == Some(0x01))
    }

    /// Poll until the operation ends; the failure, if it did not end well.
    fn poll(&mut self) -> Result<Option<String>> {
        Ok(match self.p.poll(WORK)? {
            PollEnd::StackRunning => None,
            PollEnd::State(0x00, 0x00) => None,
            PollEnd::State(state, error) => {
                self.exchanges.push(Exchange {
                    opcode: FUS_GET_STATE,
                    status: Some(state),
                    payload: vec![error],
                });
                Some(self.exchanges.last().expect("just pushed").describe())
            }
            PollEnd::Timeout(last) => Some(format!(
                "still busy after {} s (last FUS_GET_STATE: {})",
                WORK / (1000 * MS),
                last.map_or("none".into(), |(s, e)| format!(
                    "state {s:#04x}, error {e:#04x}"
                ))
            )),
        })
    }
}

fn session(p: &mut Probe) -> Session<'_> {
    Session {
        p,
        exchanges: Vec::new(),
    }
}

/// FUS_GET_STATE once (CPU2 started first if needed): the state and error as answered by
/// whatever runs on CPU2 (a wireless stack answers "not running").
pub fn get_state(p: &mut Probe) -> Result<Outcome> {
    let mut s = session(p);
    if !s.p.cpu2_started()? && s.p.boot_cpu2()?.is_none() {
        return Ok(s.end(Some("CPU2 sent no READY event".into())));
    }
    let answered = s.send(FUS_GET_STATE, &[])?.is_some();
    Ok(s.end((!answered).then(|| "FUS_GET_STATE: no answer".into())))
}

/// Install or upgrade the wireless stack from `image`, written at `at` (AN5185 §2.1: the
/// FUS finds it by scanning user flash), as STM32CubeProgrammer's `-fwupgrade` does: back to
/// the FUS if a stack runs, FUS_FW_UPGRADE, FUS_GET_STATE polled through the resets. A
/// success when the stack of version `version` runs at the end.
pub fn upgrade(p: &mut Probe, image: &[u8], at: u32, version: Version) -> Result<Outcome> {
    let mut s = session(p);
    if !s.ensure_fus()? {
        return Ok(s.end(Some("the FUS does not run (no READY 0x01)".into())));
    }
    if !s.p.m.poke(at, image) {
        return Ok(s.end(Some(format!(
            "{} bytes at {at:#010x} do not fit in flash",
            image.len()
        ))));
    }
    match s.send(FUS_FW_UPGRADE, &[])? {
        Some(0x00) => {}
        _ => {
            let why = s.exchanges.last().expect("just sent").describe();
            return Ok(s.end(Some(why)));
        }
    }
    let failure = s.poll()?;
    let runs = |f: &Option<Cpu2Firmware>| matches!(f, Some(Cpu2Firmware::WirelessStack { version: v, .. }) if v.triple() == version.triple());
    let running = s.running();
    let failure = match (failure, runs(&running)) {
        (None, true) => None,
        (Some(why), _) => Some(why),
        (None, false) => Some(format!(
            "stack {} is not running: CPU2 runs {}",
            version_text(version),
            running
                .as_ref()
                .map_or("nothing that answers".into(), describe)
        )),
    };
    Ok(s.end(failure))
}

/// Delete the wireless stack (FUS_FW_DELETE, polled to the end). A success when the FUS runs
/// with no stack installed.
pub fn delete(p: &mut Probe) -> Result<Outcome> {
    let mut s = session(p);
    if !s.ensure_fus()? {
        return Ok(s.end(Some("the FUS does not run (no READY 0x01)".into())));
    }
    if s.send(FUS_FW_DELETE, &[])? != Some(0x00) {
        let why = s.exchanges.last().expect("just sent").describe();
        return Ok(s.end(Some(why)));
    }
    let failure = s.poll()?;
    Ok(s.end(failure))
}

/// Start the installed wireless stack (FUS_START_WS). A success when it announces itself
/// (READY 0x00).
pub fn start_ws(p: &mut Probe) -> Result<Outcome> {
    let mut s = session(p);
    if !s.ensure_fus()? {
        return Ok(s.end(Some("the FUS does not run (no READY 0x01)".into())));
    }
    let answer = s.send(FUS_START_WS, &[])?;
    if answer.is_some_and(|st| st != 0x00) {
        let why = s.exchanges.last().expect("just sent").describe();
        return Ok(s.end(Some(why)));
    }
    // The FUS resets the system into the stack.
    s.p.wait_reset(500 * MS)?;
    let ready = s.p.boot_cpu2()?;
    let failure = (ready != Some(0x00)).then(|| {
        format!(
            "no wireless stack started (READY {})",
            ready.map_or("none".into(), |r| format!("{r:#04x}"))
        )
    });
    Ok(s.end(failure))
}
