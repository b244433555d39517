//! Typed decoders of an emulated STM32WB55's state, shared by the CLI and the front-ends:
//! the boot story ([`boots`]), what the option bytes say ([`options`]), the FUS's identity and state record ([`fus`]), the
//! operator image's log ([`oplog`]), the device information table ([`info_table`]) and
//! per-region flash digests ([`digest`]), register flags by name ([`flags`]), flash operations
//! as reports show them ([`flash_ops`]). They read a [`Memory`]: a device file's persistent
//! state or a running machine. Nothing here changes what it reads.

pub mod boots;
pub mod digest;
pub mod flags;
pub mod flash_ops;
pub mod fus;
pub mod info_table;
pub mod oplog;
pub mod options;

use wb_machine::{Device, Machine};
use wb_periph::flash::DOUBLE_WORD;

pub use wb_proto;

/// Something holding a chip's memory: a [`Device`] (flash, option bytes, OTP) or a
/// [`Machine`] (everything mapped, volatile memory included).
pub trait Memory {
    /// The bytes at `addr..addr + len`, if they all lie in one region this memory has.
    fn bytes(&self, addr: u32, len: usize) -> Option<&[u8]>;

    /// Whether a flash double-word in `addr..addr + len` has an uncorrectable ECC error (a
    /// read of it raises ECCD: the FUS treats such data as invalid).
    fn ecc_broken(&self, addr: u32, len: usize) -> bool;

    /// The little-endian word at `addr`.
    fn word(&self, addr: u32) -> Option<u32> {
        let b = self.bytes(addr, 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Flash double-word indexes covering `addr..addr + len`, if in flash.
fn double_words(addr: u32, len: usize) -> Option<std::ops::RangeInclusive<u32>> {
    let flash = wb_machine::memory::FLASH;
    let end = addr.checked_add(len.max(1) as u32 - 1)?;
    (flash.contains(addr) && flash.contains(end))
        .then(|| (addr - flash.base) / DOUBLE_WORD..=(end - flash.base) / DOUBLE_WORD)
}

impl Memory for Device {
    fn bytes(&self, addr: u32, len: usize) -> Option<&[u8]> {
        self.read(addr, len).ok()
    }

    fn ecc_broken(&self, addr: u32, len: usize) -> bool {
        double_words(addr, len).is_some_and(|dws| {
            self.ecc
                .range(dws)
                .any(|(_, e)| *e == wb_periph::flash::Ecc::Uncorrectable)
        })
    }
}

impl Memory for Machine {
    fn bytes(&self, addr: u32, len: usize) -> Option<&[u8]> {
        self.peek(addr, len)
    }

    fn ecc_broken(&self, addr: u32, len: usize) -> bool {
        double_words(addr, len).is_some_and(|dws| {
            self.with_flash(|f| {
                f.ecc_errors()
                    .range(dws)
                    .any(|(_, e)| *e == wb_periph::flash::Ecc::Uncorrectable)
            })
        })
    }
}

/// Microseconds of simulated time: the unit of every time in the JSON reports.
pub fn us(t: wb_machine::Picos) -> f64 {
    t as f64 / 1e6
}

/// `0x` and eight hex digits: how addresses and register values are written in JSON.
pub fn hex32(v: u32) -> String {
    format!("{v:#010x}")
}

/// A version as "major.minor.sub" (the word itself gives branch and build).
pub fn version_text(v: wb_proto::image::Version) -> String {
    let (major, minor, sub) = v.triple();
    format!("{major}.{minor}.{sub}")
}
