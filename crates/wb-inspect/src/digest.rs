//! Digests of a device's persistent memory by region, so that a "nothing lost" check can
//! compare the part a flow must not touch and ignore the part it may change.

use serde::Serialize;
use wb_machine::Device;
use wb_periph::flash::PAGE_SIZE;

/// FNV-1a (64 bits) of the bytes of `parts`, in order.
pub fn fnv1a64<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    parts
        .into_iter()
        .flatten()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
        })
}

/// Digests (FNV-1a 64, 16 hex digits) of a device by region. The boundary between user and
/// secure flash is the SFSA of the device's own option bytes (all flash is user flash when
/// FSD = 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Digests {
    /// Flash and the option-byte area together.
    pub all: String,
    /// Flash below SFSA.
    pub user_flash: String,
    /// Flash from SFSA up (FUS, wireless stack); the digest of nothing when FSD = 1.
    pub secure_flash: String,
    /// The option-byte area (4 KiB at 0x1FFF_8000).
    pub option_bytes: String,
    /// Where user flash ends (SFSA's address), as hex.
    pub user_flash_end: String,
}

impl Digests {
    pub fn of(dev: &Device) -> Digests {
        let split = dev
            .options()
            .0
            .secure_flash_page()
            .map_or(dev.flash.len(), |p| {
                ((p * PAGE_SIZE) as usize).min(dev.flash.len())
            });
        let hex = |h: u64| format!("{h:016x}");
        Digests {
            all: hex(fnv1a64([&dev.flash[..], &dev.option_bytes[..]])),
            user_flash: hex(fnv1a64([&dev.flash[..split]])),
            secure_flash: hex(fnv1a64([&dev.flash[split..]])),
            option_bytes: hex(fnv1a64([&dev.option_bytes[..]])),
            user_flash_end: format!("{:#010x}", 0x0800_0000 + split as u32),
        }
    }
}
