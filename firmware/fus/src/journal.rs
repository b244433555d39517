//! The FUS state record (docs/fus-layout.md §2): what the FUS must remember across its own
//! resets and power cuts — the operation in progress and its phase, the installed stack,
//! the last error.
//!
//! Records of 128 bytes are appended to one of two flash pages; the valid record with the
//! highest sequence number wins. A record is valid when its magic and its CRC (the last word,
//! programmed last) match, so a record torn by a power cut is simply not there. When a page
//! is full the other one is erased and written from its start: the full page keeps the
//! latest record until the new one is complete.

use crate::crypto::crc32;
use crate::flash::{self, page_addr, FlashError};
use crate::hw::read32;
use wb_proto::layout::{FUS_RECORD_PAGES, PAGE_SIZE};

pub use wb_proto::layout::record::op;
use wb_proto::layout::record::{self as rec, MAGIC, SIZE, WORDS};

const SLOTS: u32 = PAGE_SIZE / SIZE;

/// The record, word by word (all u32 so that it is its own flash image).
#[derive(Clone, Copy, Default)]
pub struct Record {
    pub seq: u32,
    /// [`op`].
    pub op: u32,
    /// Phase of the operation (crate::ops).
    pub phase: u32,
    /// Progress inside the phase (pages done).
    pub progress: u32,
    /// Error of the last operation, reported by the next FUS_GET_STATE (0: none).
    pub error: u32,
    /// Installed stack: first page (0 = none), version, memory-size word.
    pub ws_page: u32,
    pub ws_version: u32,
    pub ws_memory: u32,
    /// The image being installed: first byte, end of its last element (tags included).
    pub img_start: u32,
    pub img_end: u32,
    /// Payload length, cipher word, nonce, plaintext CRC (the body descriptor).
    pub len: u32,
    pub cipher: u32,
    pub nonce: [u32; 3],
    pub plain_crc: u32,
    /// Its footer's version and memory-size words.
    pub new_version: u32,
    pub new_memory: u32,
    /// Where it goes: first page of the installed stack.
    pub dest_page: u32,
}

impl Record {
    fn to_words(self) -> [u32; WORDS] {
        let mut w = [0u32; WORDS];
        let fields = [
            MAGIC,
            self.seq,
            self.op,
            self.phase,
            self.progress,
            self.error,
            self.ws_page,
            self.ws_version,
            self.ws_memory,
            self.img_start,
            self.img_end,
            self.len,
            self.cipher,
            self.nonce[0],
            self.nonce[1],
            self.nonce[2],
            self.plain_crc,
            self.new_version,
            self.new_memory,
            self.dest_page,
        ];
        w[..fields.len()].copy_from_slice(&fields);
        w
    }

    fn from_words(w: &[u32; WORDS]) -> Record {
        Record {
            seq: w[rec::SEQ],
            op: w[rec::OP],
            phase: w[rec::PHASE],
            progress: w[rec::PROGRESS],
            error: w[rec::ERROR],
            ws_page: w[rec::WS_PAGE],
            ws_version: w[7],
            ws_memory: w[8],
            img_start: w[9],
            img_end: w[10],
            len: w[rec::LEN],
            cipher: w[12],
            nonce: [w[13], w[14], w[15]],
            plain_crc: w[16],
            new_version: w[17],
            new_memory: w[18],
            dest_page: w[19],
        }
    }

    /// The same record with no operation in progress.
    pub fn idle(self) -> Record {
        Record {
            op: op::NONE,
            phase: 0,
            progress: 0,
            ..self
        }
    }
}

fn slot_addr(page: usize, slot: u32) -> u32 {
    page_addr(FUS_RECORD_PAGES[page]) + slot * SIZE
}

/// The record in a slot, if it is complete: magic, CRC and ECC good (a record torn by a power
/// cut may have a broken ECC; reading it raises an NMI that `flash::checked` notes).
fn read_slot(addr: u32) -> Option<Record> {
    let ((w, crc), clean) = flash::checked(|| {
        let mut w = [0u32; WORDS];
        for (i, v) in w.iter_mut().enumerate() {
            *v = read32(addr + 4 * i as u32);
        }
        (w, crc32(addr, SIZE - 4))
    });
    let valid = clean && w[0] == MAGIC && w[WORDS - 1] == crc;
    valid.then(|| Record::from_words(&w))
}

/// Where the latest record is, and the record.
struct Latest {
    page: usize,
    slot: u32,
    record: Record,
}

fn latest() -> Option<Latest> {
    let mut best: Option<Latest> = None;
    for page in 0..2 {
        for slot in 0..SLOTS {
            if let Some(record) = read_slot(slot_addr(page, slot)) {
                if best.as_ref().is_none_or(|b| record.seq > b.record.seq) {
                    best = Some(Latest { page, slot, record });
                }
            }
        }
    }
    best
}

/// What the journal pages hold.
pub enum Journal {
    /// The latest valid record.
    Record(Record),
    /// Both pages erased: the UFB was erased (by safeboot's factory reset).
    Erased,
    /// No valid record, yet not erased: the FUS's state is lost.
    Corrupt,
}

pub fn load() -> Journal {
    if let Some(l) = latest() {
        Journal::Record(l.record)
    } else if FUS_RECORD_PAGES
        .iter()
        .all(|&p| flash::is_erased(page_addr(p), PAGE_SIZE))
    {
        Journal::Erased
    } else {
        Journal::Corrupt
    }
}

/// Erase both pages and make `record` the first of a new journal; on a flash error the
/// record is still the state of this boot.
pub fn reset(record: Record) -> Record {
    let erased = FUS_RECORD_PAGES
        .iter()
        .all(|&p| flash::erase_pages(p, p + 1).is_ok());
    if erased {
        store(record).unwrap_or(record)
    } else {
        record
    }
}

/// Append `record` (its sequence number is set here) and return it as stored.
pub fn store(mut record: Record) -> Result<Record, FlashError> {
    let last = latest();
    record.seq = last.as_ref().map_or(1, |l| l.record.seq.wrapping_add(1));
    // The first fully erased slot after the latest record in its page; else the other page.
    let (page, from) = last.as_ref().map_or((0, 0), |l| (l.page, l.slot + 1));
    let free = (from..SLOTS).find(|&s| flash::is_erased(slot_addr(page, s), SIZE));
    let addr = match free {
        Some(slot) => slot_addr(page, slot),
        None => {
            let other = if last.is_some() { 1 - page } else { page };
            flash::erase_page(FUS_RECORD_PAGES[other])?;
            slot_addr(other, 0)
        }
    };
    let mut w = record.to_words();
    w[WORDS - 1] = crc32(w.as_ptr() as u32, SIZE - 4);
    for i in (0..WORDS).step_by(2) {
        flash::program(addr + 4 * i as u32, w[i], w[i + 1])?;
    }
    Ok(record)
}
