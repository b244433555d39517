//! Wire formats shared by the wbemu FUS firmware (CPU2, `thumbv6m-none-eabi`) and the host
//! tools: every byte layout that crosses the IPCC mailbox, the shared SRAM2a tables, flash
//! images or the system-bootloader link.
//!
//! Sources (cited per item in the doc comments):
//! - **AN5185** "How to use STMicroelectronics firmware upgrade services for STM32WB MCUs"
//!   (`shared/seeds/001_*`), Tables 7–23.
//! - **fus-clients.md** (`shared/reference/fus-clients.md`), sections B.1–B.8: the layouts
//!   real clients use (ST's WPAN shci/tl_mbox, MicroPython rfcore, embassy-stm32-wpan).
//! - **stm32wb55-registers.md** §1, §3, §12–13 for memory placement.
//!
//! Where the documents and client code disagree, this crate follows what real clients rely on
//! and says so in the item's doc comment ("Disagreement:").
//!
//! Modules:
//! - [`fus`]: system-command opcodes, FUS command payloads, response status, FUS states and
//!   error codes, typed FUS responses.
//! - [`tl`]: transport-layer packets (system command, command-complete response, async
//!   system events), packet types, list nodes, IPCC channels.
//! - [`tables`]: shared tables in SRAM2a (reference, system, memory-manager, device
//!   information in FUS and wireless-stack layouts).
//! - [`image`]: version and memory-size words, magic numbers, image footer, signature footer.
//! - [`layout`]: wbemu's placements (FUS secure area, keys, option-byte values, the
//!   operator's tables, script and log).
//! - [`bootloader`]: AN3155 USART bootloader codes and the FUS special read/write mapping.
//!
//! Conventions: multi-byte fields are little-endian (Cortex-M memory), except the bootloader
//! link, which sends sizes and opcodes MSB first. Every parser and encoder returns
//! [`Result`]; none panics on any input (enforced by the clippy lints below and by the
//! fuzz-style tests). Parsers accept any trailing bytes after a structure (buffers in shared
//! RAM are larger than what they hold) unless a doc comment says otherwise.
#![no_std]
#![warn(missing_docs)]
#![deny(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

/// A code enum whose unknown values are rejected (`TryFrom` fails with
/// [`Error::UnknownValue`]).
macro_rules! closed_enum {
    (
        $(#[$m:meta])*
        $vis:vis enum $name:ident : $repr:ty, $what:literal {
            $( $(#[$vm:meta])* $var:ident = $val:literal ),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr($repr)]
        $vis enum $name {
            $( $(#[$vm])* $var = $val ),+
        }

        impl $name {
            /// Every variant, in document order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
        }

        impl TryFrom<$repr> for $name {
            type Error = $crate::Error;
            fn try_from(v: $repr) -> $crate::Result<Self> {
                match v {
                    $( $val => Ok($name::$var), )+
                    _ => Err($crate::Error::UnknownValue { what: $what, value: u32::from(v) }),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                v as $repr
            }
        }
    };
}

/// A code enum that is total over its representation: unnamed values are kept in `Other` so
/// the firmware can still report or answer them.
macro_rules! open_enum {
    (
        $(#[$m:meta])*
        $vis:vis enum $name:ident : $repr:ty {
            $( $(#[$vm:meta])* $var:ident = $val:literal ),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vm])* $var, )+
            /// A value the documents do not name, kept raw. `From` never puts a named value
            /// here.
            Other($repr),
        }

        impl $name {
            /// Every named variant, in document order.
            pub const NAMED: &'static [$name] = &[$($name::$var),+];
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                match v {
                    $( $val => $name::$var, )+
                    other => $name::Other(other),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                match v {
                    $( $name::$var => $val, )+
                    $name::Other(x) => x,
                }
            }
        }
    };
}

mod bytes;
mod error;

pub mod bootloader;
pub mod fus;
pub mod image;
pub mod layout;
pub mod tables;
pub mod tl;

pub use error::{Error, Result};
