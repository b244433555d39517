//! Where a run's UART input comes from (nothing, live host ends, a record) and where its
//! flash operations are streamed as they end.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Result};
use wb_machine::{Exit, Machine, Picos, Uart};
use wb_periph::flash::OpRecord;

use super::report::{flash_line, FlashOp};
use crate::input_log::{Input, Recorder};
use crate::serial::Link;

/// Simulated time run between two exchanges with the host ends of the UARTs, and between two
/// looks at the UART output for `--until-uart`: 1 ms.
pub const SLICE: Picos = wb_machine::picos::MS;

pub const UARTS: [Uart; 2] = [Uart::Usart1, Uart::Lpuart1];

/// Where the UARTs' input comes from.
pub enum Host {
    /// Nothing: the run goes as fast as it can. `sliced`: it still pauses every slice (where
    /// that changes nothing) so the output can be looked at.
    None { sliced: bool },
    /// Host ends, in real time, their input optionally recorded.
    Live {
        links: Vec<(Uart, Link)>,
        recorder: Option<Recorder>,
    },
    /// A record, replayed from `inputs[next]` on.
    Replay {
        path: PathBuf,
        inputs: Vec<Input>,
        next: usize,
    },
}

impl Host {
    /// Run the next slice. With host input the machine pauses only where that does not
    /// change the run (`Machine::run_past`), so that a replay pausing just where input went
    /// in is the same run as the recorded one, which paused at every slice.
    pub fn run_slice(&self, m: &mut Machine, limit: Picos) -> Exit {
        let next_slice = limit.min((m.now() / SLICE + 1) * SLICE);
        match self {
            Host::None { sliced: false } => m.run_until(limit),
            // A last slice that ends exactly at the limit, as an unsliced run does.
            Host::None { sliced: true } if next_slice == limit => m.run_until(limit),
            Host::None { sliced: true } | Host::Live { .. } => m.run_past(next_slice),
            Host::Replay { inputs, next, .. } => {
                m.run_past(inputs.get(*next).map_or(limit, |i| i.at.min(limit)))
            }
        }
    }

    /// Take what the UARTs transmitted: to their host ends, and into `output` for the report.
    pub fn take_output(&self, m: &mut Machine, output: &mut [Vec<u8>; 2]) {
        for (i, port) in UARTS.into_iter().enumerate() {
            let out = m.uart_take(port);
            if out.is_empty() {
                continue;
            }
            if let Host::Live { links, .. } = self {
                if let Some((_, link)) = links.iter().find(|(p, _)| *p == port) {
                    // The host end may have gone away; the device keeps running regardless.
                    let _ = link.to_host.send(out.clone());
                }
            }
            output[i].extend(out);
        }
    }

    /// Inject the input due now, at a pause between two slices; what went in, with when.
    pub fn inject(&mut self, m: &mut Machine) -> Result<Vec<(Picos, Uart, Vec<u8>)>> {
        let mut injected = Vec::new();
        match self {
            Host::None { .. } => {}
            Host::Live { links, recorder } => {
                for (port, link) in links.iter() {
                    while let Ok(bytes) = link.from_host.try_recv() {
                        if let Some(r) = recorder.as_mut() {
                            r.record(m.now(), *port, &bytes)?;
                        }
                        m.uart_send(*port, &bytes);
                        injected.push((m.now(), *port, bytes));
                    }
                }
            }
            Host::Replay { path, inputs, next } => {
                while let Some(input) = inputs.get(*next).filter(|i| i.at <= m.now()) {
                    if input.at != m.now() {
                        bail!(
                            "{}:{}: recorded at {} ps, but the replay paused at {} ps: this is \
                             not the recorded run (same images, device and options?)",
                            path.display(),
                            input.line,
                            input.at,
                            m.now()
                        );
                    }
                    m.uart_send(input.port, &input.bytes);
                    injected.push((m.now(), input.port, input.bytes.clone()));
                    *next += 1;
                }
            }
        }
        Ok(injected)
    }
}

/// Where flash operations go as they end: human lines on stdout, JSON lines to a file.
pub struct FlashStream {
    pub lines: bool,
    pub jsonl: Option<(PathBuf, BufWriter<File>)>,
    /// Operations written so far (the log's first ones: they end in order).
    pub written: usize,
    /// The first write error; the run goes on, the command fails at the end.
    pub error: Option<anyhow::Error>,
}

impl FlashStream {
    /// An operation has ended.
    pub fn ended(&mut self, r: &OpRecord) {
        self.written += 1;
        if self.lines {
            println!("{}", flash_line(r));
        }
        self.write_json(r);
    }

    pub fn write_json(&mut self, r: &OpRecord) {
        if let Some((path, file)) = &mut self.jsonl {
            if self.error.is_some() {
                return;
            }
            let line = serde_json::to_string(&FlashOp::of(r)).expect("plain data serializes");
            if let Err(e) = writeln!(file, "{line}").and_then(|()| file.flush()) {
                self.error = Some(
                    anyhow::Error::new(e)
                        .context(format!("writing --trace-flash-jsonl {}", path.display())),
                );
            }
        }
    }
}
