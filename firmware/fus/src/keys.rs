//! The device-resident ST keys in the key page (docs/fus-layout.md §3).

use crate::crypto::crc32;
use crate::hw::{bytes, read32};
use wb_proto::layout::{keys::*, page_address, FUS_KEY_PAGE};

#[derive(Clone, Copy)]
pub struct Keys {
    pub aes: [u8; 32],
    pub aes_len: usize,
    pub st_pub_x: [u8; 32],
    pub st_pub_y: [u8; 32],
}

impl Keys {
    /// The body key (16 or 32 bytes).
    pub fn body_key(&self) -> &[u8] {
        &self.aes[..self.aes_len]
    }
}

/// The keys, or `None` when the page holds no valid key block (then nothing is authentic).
pub fn load() -> Option<Keys> {
    let base = page_address(FUS_KEY_PAGE);
    let aes_len = read32(base + OFF_AES_LEN as u32) as usize;
    // A block read with an ECC error is no block, whatever its CRC says.
    let (valid, clean) = crate::flash::checked(|| {
        read32(base) == MAGIC
            && (aes_len == 16 || aes_len == 32)
            && read32(base + OFF_CRC as u32) == crc32(base, OFF_CRC as u32)
    });
    if !(valid && clean) {
        return None;
    }
    let take = |off: usize| {
        let mut a = [0u8; 32];
        a.copy_from_slice(bytes(base + off as u32, 32));
        a
    };
    Some(Keys {
        aes: take(OFF_AES_KEY),
        aes_len,
        st_pub_x: take(OFF_PUB_X),
        st_pub_y: take(OFF_PUB_Y),
    })
}
