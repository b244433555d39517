//! The one error type of every parser and encoder in this crate.

use core::fmt;

/// Why a parse or an encode failed. Every variant names the structure or field (`what`) and
/// carries the numbers needed to understand the failure without a debugger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ends before the structure does.
    TooShort {
        /// Structure or field being read.
        what: &'static str,
        /// Bytes needed from the start of the input.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The output buffer cannot hold the encoded structure.
    BufferTooSmall {
        /// Structure being written.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A magic / validity word does not have the expected value.
    BadMagic {
        /// Structure whose magic was checked.
        what: &'static str,
        /// The value required (or the first of the accepted values).
        expected: u32,
        /// The value found.
        found: u32,
    },
    /// The packet indicator byte is not the one this packet kind uses (AN5185 Table 9).
    BadPacketType {
        /// Packet indicator required.
        expected: u8,
        /// Packet indicator found.
        found: u8,
    },
    /// The HCI event code is not the one this packet kind uses (0x0E command complete, 0xFF
    /// vendor-specific).
    BadEventCode {
        /// Event code required.
        expected: u8,
        /// Event code found.
        found: u8,
    },
    /// A length field or payload length is not allowed for this structure.
    BadLength {
        /// Structure, with the allowed lengths in words.
        what: &'static str,
        /// Length found.
        found: usize,
    },
    /// A code that this crate does not know (and that the structure cannot carry raw).
    UnknownValue {
        /// Kind of code.
        what: &'static str,
        /// The raw value.
        value: u32,
    },
    /// A field value does not fit its bit field or documented range.
    OutOfRange {
        /// Field.
        what: &'static str,
        /// Value given.
        value: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// A bootloader XOR checksum or command complement does not match.
    BadChecksum {
        /// Structure checked.
        what: &'static str,
        /// Checksum computed over the data.
        expected: u8,
        /// Checksum received.
        found: u8,
    },
    /// Fields that are each valid but contradict each other (e.g. a footer-type-2 magic on a
    /// footer-type-1 image footer).
    Inconsistent {
        /// What contradicts what.
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TooShort { what, needed, got } => {
                write!(
                    f,
                    "{what}: input too short (need {needed} bytes, got {got})"
                )
            }
            Error::BufferTooSmall { what, needed, got } => {
                write!(
                    f,
                    "{what}: output buffer too small (need {needed} bytes, got {got})"
                )
            }
            Error::BadMagic {
                what,
                expected,
                found,
            } => write!(
                f,
                "{what}: bad magic {found:#010x} (expected {expected:#010x})"
            ),
            Error::BadPacketType { expected, found } => {
                write!(f, "bad packet type {found:#04x} (expected {expected:#04x})")
            }
            Error::BadEventCode { expected, found } => {
                write!(f, "bad event code {found:#04x} (expected {expected:#04x})")
            }
            Error::BadLength { what, found } => write!(f, "{what}: bad length {found}"),
            Error::UnknownValue { what, value } => write!(f, "unknown {what} {value:#x}"),
            Error::OutOfRange { what, value, max } => {
                write!(f, "{what}: value {value:#x} out of range (max {max:#x})")
            }
            Error::BadChecksum {
                what,
                expected,
                found,
            } => write!(
                f,
                "{what}: bad checksum {found:#04x} (expected {expected:#04x})"
            ),
            Error::Inconsistent { what } => write!(f, "inconsistent fields: {what}"),
        }
    }
}

impl core::error::Error for Error {}

/// Result alias used by every parser and encoder of this crate.
pub type Result<T> = core::result::Result<T, Error>;
