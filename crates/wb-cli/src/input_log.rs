//! Host input to the UARTs, recorded and replayed. Bytes from a pty, TCP or stdio arrive when
//! the wall clock says, so an interactive run cannot be repeated; a record of each batch with
//! the simulated time it entered the machine can. One JSON object per line, in the order the
//! batches were injected: `{"t_ps":2000000000,"port":"usart1","hex":"48414c"}` (picoseconds,
//! the machine's unit: the machine pauses for the host at the end of a lock-step quantum,
//! which need not be a whole nanosecond).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use serde_json::Value;
use wb_machine::{Picos, Uart};

/// The ports a record may name.
const PORTS: [Uart; 2] = [Uart::Usart1, Uart::Lpuart1];

/// One batch of host bytes and where it entered the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// Line of the record it came from (from 1).
    pub line: usize,
    /// Simulated time of the injection.
    pub at: Picos,
    pub port: Uart,
    pub bytes: Vec<u8>,
}

/// Writes the record of a run as its input is injected.
pub struct Recorder {
    file: File,
    path: PathBuf,
}

#[derive(Serialize)]
struct Line<'a> {
    t_ps: u64,
    port: &'a str,
    hex: String,
}

impl Recorder {
    pub fn create(path: &Path) -> Result<Recorder> {
        let file =
            File::create(path).with_context(|| format!("--record-input {}", path.display()))?;
        Ok(Recorder {
            file,
            path: path.to_owned(),
        })
    }

    /// Record `bytes` entering `port` at simulated time `at`.
    pub fn record(&mut self, at: Picos, port: Uart, bytes: &[u8]) -> Result<()> {
        let mut line = serde_json::to_string(&Line {
            t_ps: at,
            port: port.name(),
            hex: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        })?;
        line.push('\n');
        // One unbuffered write per line: a crash still leaves every line before it.
        self.file
            .write_all(line.as_bytes())
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

/// Read and check a record written by [`Recorder`].
pub fn load(path: &Path) -> Result<Vec<Input>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--replay-input {}", path.display()))?;
    parse(&text).map_err(|(line, msg)| anyhow!("{}:{line}: {msg}", path.display()))
}

/// The batches of a record, or the line (from 1) and what is wrong with it.
fn parse(text: &str) -> Result<Vec<Input>, (usize, String)> {
    let mut inputs: Vec<Input> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let input = parse_line(raw, line).map_err(|msg| (line, msg))?;
        if let Some(prev) = inputs.last() {
            if input.at < prev.at {
                return Err((
                    line,
                    format!(
                        "\"t_ps\": {} is earlier than {} on line {}: times must not go backwards",
                        input.at, prev.at, prev.line
                    ),
                ));
            }
        }
        inputs.push(input);
    }
    Ok(inputs)
}

fn parse_line(raw: &str, line: usize) -> Result<Input, String> {
    const SHAPE: &str = r#"{"t_ps":2000000000,"port":"usart1","hex":"7f"}"#;
    let value: Value =
        serde_json::from_str(raw).map_err(|e| format!("not valid JSON ({e}); expected {SHAPE}"))?;
    let Value::Object(obj) = value else {
        return Err(format!("expected an object like {SHAPE}"));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["t_ps", "port", "hex"].contains(&k.as_str()))
    {
        return Err(format!("unknown field {k:?} (expected t_ps, port, hex)"));
    }
    let field = |name: &str| -> Result<&Value, String> {
        obj.get(name)
            .ok_or_else(|| format!("missing field \"{name}\""))
    };
    let t_ps = field("t_ps")?;
    let at = t_ps.as_u64().ok_or_else(|| {
        format!("\"t_ps\": {t_ps} is not a whole number of picoseconds (0 to 2^64-1)")
    })?;
    let port = match field("port")? {
        Value::String(name) => PORTS
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| format!("\"port\": unknown port {name:?} (usart1 or lpuart1)"))?,
        other => return Err(format!("\"port\": {other} is not a port name")),
    };
    let bytes = match field("hex")? {
        Value::String(hex) => parse_hex(hex).map_err(|e| format!("\"hex\": {e}"))?,
        other => return Err(format!("\"hex\": {other} is not a string of hex digits")),
    };
    Ok(Input {
        line,
        at,
        port,
        bytes,
    })
}

fn parse_hex(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!(
            "odd number of hex digits ({}): two per byte",
            hex.len()
        ));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("{hex:?} is not hex (at character {})", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_back() {
        let text = "{\"t_ps\":1000000,\"port\":\"usart1\",\"hex\":\"48414c\"}\n\n\
                    {\"t_ps\":1000000,\"port\":\"lpuart1\",\"hex\":\"\"}\n\
                    {\"hex\":\"FF\",\"port\":\"usart1\",\"t_ps\":3000001}\n";
        let inputs = parse(text).unwrap();
        assert_eq!(
            inputs,
            [
                Input {
                    line: 1,
                    at: 1_000_000,
                    port: Uart::Usart1,
                    bytes: b"HAL".to_vec()
                },
                Input {
                    line: 3,
                    at: 1_000_000,
                    port: Uart::Lpuart1,
                    bytes: vec![]
                },
                Input {
                    line: 4,
                    at: 3_000_001,
                    port: Uart::Usart1,
                    bytes: vec![0xFF]
                },
            ]
        );
    }

    #[test]
    fn a_recorder_writes_what_parse_reads() {
        let path = std::env::temp_dir().join(format!("wbemu-rec-{}.jsonl", std::process::id()));
        let mut r = Recorder::create(&path).unwrap();
        r.record(5_000_000_015_625, Uart::Lpuart1, &[0, 0x7f, 0xab])
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            text,
            "{\"t_ps\":5000000015625,\"port\":\"lpuart1\",\"hex\":\"007fab\"}\n"
        );
        assert_eq!(parse(&text).unwrap()[0].bytes, [0, 0x7f, 0xab]);
    }

    #[test]
    fn malformed_lines_are_named_with_the_field() {
        let ok = "{\"t_ps\":5,\"port\":\"usart1\",\"hex\":\"00\"}\n";
        let cases = [
            ("{\"t_ps\":5,", 2, "not valid JSON"),
            ("[1,2]", 2, "expected an object"),
            (
                "{\"t_ps\":6,\"port\":\"usart2\",\"hex\":\"00\"}",
                2,
                "\"port\": unknown port \"usart2\"",
            ),
            (
                "{\"t_ps\":6,\"port\":1,\"hex\":\"00\"}",
                2,
                "\"port\": 1 is not",
            ),
            (
                "{\"t_ps\":4,\"port\":\"usart1\",\"hex\":\"00\"}",
                2,
                "\"t_ps\": 4 is earlier than 5 on line 1",
            ),
            (
                "{\"t_ps\":-1,\"port\":\"usart1\",\"hex\":\"00\"}",
                2,
                "\"t_ps\": -1 is not a whole",
            ),
            (
                "{\"t_ps\":1.5,\"port\":\"usart1\",\"hex\":\"00\"}",
                2,
                "\"t_ps\": 1.5 is not a whole",
            ),
            (
                "{\"t_ps\":18446744073709551616,\"port\":\"usart1\",\"hex\":\"00\"}",
                2,
                "not a whole",
            ),
            (
                "{\"t_ns\":6,\"port\":\"usart1\",\"hex\":\"00\"}",
                2,
                "unknown field \"t_ns\"",
            ),
            (
                "{\"t_ps\":6,\"port\":\"usart1\",\"hex\":\"abc\"}",
                2,
                "\"hex\": odd number of hex digits (3)",
            ),
            (
                "{\"t_ps\":6,\"port\":\"usart1\",\"hex\":\"0g\"}",
                2,
                "\"hex\": \"0g\" is not hex",
            ),
            (
                "{\"t_ps\":6,\"port\":\"usart1\",\"hex\":\"0é0\"}",
                2,
                "is not hex",
            ),
            (
                "{\"t_ps\":6,\"port\":\"usart1\"}",
                2,
                "missing field \"hex\"",
            ),
            (
                "{\"t_ps\":6,\"port\":\"usart1\",\"hex\":\"00\",\"x\":1}",
                2,
                "unknown field \"x\"",
            ),
        ];
        for (line, at, want) in cases {
            let (n, msg) = parse(&format!("{ok}{line}\n")).unwrap_err();
            assert_eq!(n, at, "{line}: {msg}");
            assert!(msg.contains(want), "{line}: {msg:?} lacks {want:?}");
        }
    }
}
