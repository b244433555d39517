//! The operator image's log in SRAM1 (`wb_proto::layout::operator`): what it sent CPU2 and
//! what CPU2 answered, kept across system resets.

use wb_proto::layout::operator::{entry, LOG_ADDR, LOG_HEADER_WORDS, LOG_MAGIC, LOG_MAX_ENTRIES};

use crate::Memory;

/// One logged event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// CPU1 booted (the boot count, RCC_CSR).
    Boot {
        count: u32,
        csr: u32,
    },
    /// CPU2 sent READY: the payload (0x00 wireless stack, 0x01 FUS), device-info word 0,
    /// the version word the table gave.
    Ready {
        payload: u32,
        info_word0: u32,
        version: u32,
    },
    /// A command was answered: opcode, status byte, first payload byte (None when none).
    /// An answer that was no command-complete packet has opcode and status 0xFFFF_FFFF.
    Response {
        opcode: u32,
        status: u32,
        first: Option<u8>,
    },
    StepDone {
        step: u32,
    },
    /// A wait ran out.
    Timeout {
        step: u32,
    },
    /// The script ended after this many steps.
    End {
        steps: u32,
    },
    /// The stack's vendor echo answered.
    Echo {
        status: u32,
        word: u32,
    },
    /// The script block is missing or malformed.
    BadScript {
        word0: u32,
        step: u32,
        value: u32,
    },
    /// A kind this decoder does not know.
    Unknown {
        kind: u32,
        words: [u32; 3],
    },
}

/// An event and the script step it happened in (None outside steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub step: Option<u32>,
    pub event: Event,
}

/// The log: header and entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log {
    pub next_step: u32,
    pub boots: u32,
    pub entries: Vec<Entry>,
}

impl Log {
    /// Whether the script has ended.
    pub fn ended(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.event, Event::End { .. }))
    }
}

/// Step byte of entries made outside a step.
const NO_STEP: u32 = 0xFF;

/// Decode the log, if SRAM1 holds one.
pub fn read(mem: &impl Memory) -> Option<Log> {
    let word = |i: u32| mem.word(LOG_ADDR + 4 * i);
    if word(0)? != LOG_MAGIC {
        return None;
    }
    let count = word(3)?.min(LOG_MAX_ENTRIES);
    let mut entries = Vec::with_capacity(count as usize);
    for n in 0..count {
        let base = LOG_HEADER_WORDS + 4 * n;
        let [w0, a, b, c] = [0, 1, 2, 3].map(|i| word(base + i).unwrap_or(0));
        let step = (w0 >> 8) & 0xFF;
        let event = match w0 & 0xFF {
            entry::BOOT => Event::Boot { count: a, csr: b },
            entry::READY => Event::Ready {
                payload: a,
                info_word0: b,
                version: c,
            },
            entry::RESPONSE => Event::Response {
                opcode: a,
                status: b,
                first: (c != 0xFFFF_FFFF).then_some(c as u8),
            },
            entry::STEP_DONE => Event::StepDone { step: a },
            entry::TIMEOUT => Event::Timeout { step: a },
            entry::END => Event::End { steps: a },
            entry::ECHO => Event::Echo { status: a, word: b },
            entry::BAD_SCRIPT => Event::BadScript {
                word0: a,
                step: b,
                value: c,
            },
            kind => Event::Unknown {
                kind,
                words: [a, b, c],
            },
        };
        entries.push(Entry {
            step: (step != NO_STEP).then_some(step),
            event,
        });
    }
    Some(Log {
        next_step: word(1)?,
        boots: word(2)?,
        entries,
    })
}
