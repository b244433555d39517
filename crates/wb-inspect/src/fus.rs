//! The FUS as flash shows it (docs/fus-layout.md): its identity block (version) and its state
//! record journal (operation, phase, last error, the installed stack).

use serde::Serialize;
use wb_proto::fus::{FusError, Opcode};
use wb_proto::image::{MemorySize, Version};
use wb_proto::layout::{self, identity, record as rec};

use crate::{hex32, Memory};

/// `FusGetState` → `FUS_GET_STATE`: the SHCI spelling of a name.
fn shci_spelling(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The system command an opcode names, as ST spells it ("FUS_GET_STATE"), or the opcode.
pub fn command_name(opcode: u32) -> String {
    u16::try_from(opcode)
        .ok()
        .and_then(|o| Opcode::try_from(o).ok())
        .map_or(format!("{opcode:#06x}"), |o| {
            shci_spelling(&format!("{o:?}"))
        })
}

/// An error code as AN5185 Table 14 names it, e.g. "IMG_NOT_AUTHENTIC (0x03)".
pub fn error_name(e: FusError) -> String {
    format!(
        "{} ({:#04x})",
        shci_spelling(&format!("{e:?}")),
        u8::from(e)
    )
}

/// What the FUS's identity block says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    pub version: Version,
    pub memory: MemorySize,
}

/// The FUS's identity block, if a FUS is in flash.
pub fn identity(mem: &impl Memory) -> Option<Identity> {
    let word = |i: u32| mem.word(identity::ADDR + 4 * i);
    (word(0)? == identity::MAGIC).then(|| {
        Some(Identity {
            version: Version(word(1)?),
            memory: MemorySize(word(2)?),
        })
    })?
}

/// The version of the safeboot in flash (its identity block), if one is there.
pub fn safeboot(mem: &impl Memory) -> Option<Version> {
    let v = layout::safeboot::version(|a| mem.word(a).unwrap_or(0));
    (v.0 != 0).then_some(v)
}

/// The operation a record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Nothing in progress.
    Idle,
    /// FUS_FW_UPGRADE: installing a wireless stack.
    Install,
    /// FUS_FW_DELETE.
    Delete,
    /// A number this decoder does not know.
    Unknown(u32),
}

impl Operation {
    fn of(word: u32) -> Operation {
        match word {
            rec::op::NONE => Operation::Idle,
            rec::op::INSTALL => Operation::Install,
            rec::op::DELETE => Operation::Delete,
            n => Operation::Unknown(n),
        }
    }
}

/// The wireless stack a record says is installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstalledStack {
    pub first_page: u32,
    pub version: Version,
    pub memory: MemorySize,
}

impl InstalledStack {
    pub fn address(&self) -> u32 {
        layout::page_address(self.first_page)
    }
}

/// The FUS's current state record: the valid one with the highest sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateRecord {
    /// Where it is in flash.
    pub address: u32,
    pub seq: u32,
    pub operation: Operation,
    pub phase: u32,
    /// Progress inside the phase (pages done).
    pub progress: u32,
    /// The error the next FUS_GET_STATE reports (AN5185 Table 14), if any.
    pub error: Option<FusError>,
    pub stack: Option<InstalledStack>,
    /// Payload length of the image being installed.
    pub image_len: u32,
}

impl StateRecord {
    /// The phase's short name ("decrypting into place").
    pub fn phase_name(&self) -> &'static str {
        let op = match self.operation {
            Operation::Idle => rec::op::NONE,
            Operation::Install => rec::op::INSTALL,
            Operation::Delete => rec::op::DELETE,
            Operation::Unknown(n) => n,
        };
        rec::phase_name(op, self.phase)
    }

    /// The record as JSON-friendly data.
    pub fn summary(&self) -> RecordSummary {
        RecordSummary {
            address: hex32(self.address),
            seq: self.seq,
            operation: self.operation,
            phase: self.phase,
            phase_name: self.phase_name(),
            progress: self.progress,
            error: self.error.map(|e| format!("{e:?}")),
            error_code: self.error.map(u8::from),
            stack: self.stack.map(|s| StackSummary {
                address: hex32(s.address()),
                version: crate::version_text(s.version),
                version_word: hex32(s.version.0),
                memory_word: hex32(s.memory.0),
            }),
        }
    }
}

/// A [`StateRecord`] with names and hex strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    pub address: String,
    pub seq: u32,
    pub operation: Operation,
    pub phase: u32,
    pub phase_name: &'static str,
    pub progress: u32,
    /// The Table 14 name of the pending error ("ImgNotAuthentic").
    pub error: Option<String>,
    pub error_code: Option<u8>,
    pub stack: Option<StackSummary>,
}

/// An installed stack, for JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackSummary {
    pub address: String,
    pub version: String,
    pub version_word: String,
    pub memory_word: String,
}

/// The current state record, if the journal holds a valid one. A record whose flash has a
/// broken ECC is not valid, as the FUS reads it.
pub fn state_record(mem: &impl Memory) -> Option<StateRecord> {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    let mut best: Option<StateRecord> = None;
    for page in layout::FUS_RECORD_PAGES {
        let base = layout::page_address(page);
        for slot in 0..layout::PAGE_SIZE / rec::SIZE {
            let at = base + slot * rec::SIZE;
            let Some(bytes) = mem.bytes(at, rec::SIZE as usize) else {
                continue;
            };
            let w: Vec<u32> = bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let valid = w[0] == rec::MAGIC
                && w[rec::WORDS - 1] == crc.checksum(&bytes[..bytes.len() - 4])
                && !mem.ecc_broken(at, rec::SIZE as usize);
            if !valid || best.is_some_and(|b| b.seq >= w[rec::SEQ]) {
                continue;
            }
            best = Some(StateRecord {
                address: at,
                seq: w[rec::SEQ],
                operation: Operation::of(w[rec::OP]),
                phase: w[rec::PHASE],
                progress: w[rec::PROGRESS],
                error: (w[rec::ERROR] != 0).then(|| FusError::from(w[rec::ERROR] as u8)),
                stack: (w[rec::WS_PAGE] != 0).then_some(InstalledStack {
                    first_page: w[rec::WS_PAGE],
                    version: Version(w[rec::WS_VERSION]),
                    memory: MemorySize(w[rec::WS_MEMORY]),
                }),
                image_len: w[rec::LEN],
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_errors_are_named_as_st_spells_them() {
        assert_eq!(command_name(0xFC52), "FUS_GET_STATE");
        assert_eq!(command_name(0xFC5A), "FUS_START_WS");
        assert_eq!(command_name(0x1234), "0x1234");
        assert_eq!(error_name(FusError::from(3)), "IMG_NOT_AUTHENTIC (0x03)");
    }

    #[test]
    fn a_virgin_device_has_our_fus_and_its_reset_record() {
        let dev = (wb_firmware::presets::preset("virgin").unwrap().build)();
        let id = identity(&dev).expect("FUS identity");
        assert_eq!(id.version, layout::FUS_VERSION);
        assert_eq!(id.memory, layout::FUS_MEMORY_SIZE);
        let r = state_record(&dev).expect("the journal's reset values");
        assert_eq!(
            (r.seq, r.operation, r.error, r.stack),
            (1, Operation::Idle, None, None)
        );
        assert_eq!(safeboot(&dev), Some(layout::SAFEBOOT_VERSION));
        let blank = (wb_firmware::presets::preset("blank").unwrap().build)();
        assert_eq!(identity(&blank), None);
        assert_eq!(safeboot(&blank), None);
    }

    fn record(seq: u32, op: u32, phase: u32, error: u32) -> Vec<u8> {
        let mut w = [0u32; rec::WORDS];
        w[0] = rec::MAGIC;
        w[rec::SEQ] = seq;
        w[rec::OP] = op;
        w[rec::PHASE] = phase;
        w[rec::ERROR] = error;
        w[rec::WS_PAGE] = 0xF0;
        w[rec::WS_VERSION] = 0x0100_0001;
        let mut b: Vec<u8> = w.iter().flat_map(|w| w.to_le_bytes()).collect();
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&b[..b.len() - 4]);
        let n = b.len();
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    #[test]
    fn the_valid_record_with_the_highest_sequence_wins() {
        let mut dev = (wb_firmware::presets::preset("virgin").unwrap().build)();
        let p0 = layout::page_address(layout::FUS_RECORD_PAGES[0]);
        let p1 = layout::page_address(layout::FUS_RECORD_PAGES[1]);
        dev.write(p0, &record(7, rec::op::INSTALL, rec::phase::DECRYPT, 0))
            .unwrap();
        dev.write(p1, &record(8, rec::op::NONE, 0, 0x05)).unwrap();
        let r = state_record(&dev).unwrap();
        assert_eq!((r.seq, r.operation, r.address), (8, Operation::Idle, p1));
        assert_eq!(r.error, Some(FusError::from(0x05)));
        let stack = r.stack.unwrap();
        assert_eq!(stack.address(), 0x080F_0000);
        assert_eq!(crate::version_text(stack.version), "1.0.0");

        // A higher sequence with a bad CRC does not count.
        let mut torn = record(9, rec::op::DELETE, 1, 0);
        torn[20] ^= 1;
        dev.write(p1 + rec::SIZE, &torn).unwrap();
        assert_eq!(state_record(&dev).unwrap().seq, 8);

        // Nor does a record whose flash has a broken ECC.
        dev.ecc.insert(
            (p1 - layout::FLASH_BASE) / 8,
            wb_periph::flash::Ecc::Uncorrectable,
        );
        let r = state_record(&dev).unwrap();
        assert_eq!((r.seq, r.phase_name()), (7, "decrypting into place"));
    }
}
