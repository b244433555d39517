//! The parts of the image layout that are ours (the footers are `wb_proto::image`): the body
//! descriptor, the footer check word, the CRC and the sizes. docs/image-format.md §2–§4.

use wb_proto::image::{ImageFooter, SignatureFooter, FLASH_SECTOR_SIZE, SIGNATURE_LEN};

/// Length of the body descriptor that sits right before the image footer.
pub const DESCRIPTOR_LEN: usize = 28;
/// Descriptor + image footer: the fixed-size end of every image element.
pub const TRAILER_LEN: usize = DESCRIPTOR_LEN + ImageFooter::LEN;
/// A signature tag: 64 signature bytes (r ‖ s) followed by its 20-byte signature footer.
pub const TAG_LEN: usize = SIGNATURE_LEN + SignatureFooter::LEN;
/// Length of the per-image CTR nonce.
pub const NONCE_LEN: usize = 12;
/// Largest image element: the footer's flash field is one byte of 4-KiB sectors.
pub const MAX_ELEMENT_LEN: usize = 255 * FLASH_SECTOR_SIZE as usize;
/// Largest payload (plaintext) an image can carry.
pub const MAX_PAYLOAD_LEN: usize = MAX_ELEMENT_LEN - TRAILER_LEN;

/// CRC-32 used for both integrity words: CRC-32/ISO-HDLC (the zlib/Ethernet CRC: polynomial
/// 0x04C11DB7 reflected, init 0xFFFFFFFF, final XOR 0xFFFFFFFF). On the STM32 CRC unit:
/// default POL and INIT, CR.REV_IN = byte, CR.REV_OUT = 1, result XOR 0xFFFFFFFF.
pub const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 (see [`CRC32`]) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// Body cipher, the descriptor's `cipher` word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// 1: AES-128 in CTR mode.
    Aes128Ctr,
    /// 2: AES-256 in CTR mode.
    Aes256Ctr,
}

impl Cipher {
    /// The descriptor word.
    pub const fn word(self) -> u32 {
        match self {
            Cipher::Aes128Ctr => 1,
            Cipher::Aes256Ctr => 2,
        }
    }

    /// Decodes the descriptor word.
    pub const fn from_word(w: u32) -> Option<Cipher> {
        match w {
            1 => Some(Cipher::Aes128Ctr),
            2 => Some(Cipher::Aes256Ctr),
            _ => None,
        }
    }

    /// Key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Ctr => 16,
            Cipher::Aes256Ctr => 32,
        }
    }

    /// Human name.
    pub const fn name(self) -> &'static str {
        match self {
            Cipher::Aes128Ctr => "AES-128-CTR",
            Cipher::Aes256Ctr => "AES-256-CTR",
        }
    }
}

/// The body descriptor (28 bytes, little-endian words), between the ciphertext and the image
/// footer:
///
/// | offset | field |
/// |---|---|
/// | 0 | payload length L in bytes (plaintext, before padding to a multiple of 4) |
/// | 4 | cipher ([`Cipher::word`]) |
/// | 8 | nonce, 12 bytes (CTR counter block = nonce ‖ 32-bit big-endian counter from 0) |
/// | 20 | body CRC: CRC-32 of the stored ciphertext, round_up(L, 4) bytes |
/// | 24 | plaintext CRC: CRC-32 of the L decrypted payload bytes (checked after decryption) |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Descriptor {
    /// Plaintext payload length in bytes.
    pub payload_len: u32,
    /// Body cipher.
    pub cipher: Cipher,
    /// CTR nonce (first 12 bytes of the initial counter block).
    pub nonce: [u8; NONCE_LEN],
    /// CRC-32 of the stored ciphertext (`body_len()` bytes).
    pub body_crc: u32,
    /// CRC-32 of the plaintext payload (`payload_len` bytes).
    pub plain_crc: u32,
}

/// Why bytes do not make a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorError {
    /// Fewer than [`DESCRIPTOR_LEN`] bytes.
    TooShort,
    /// The cipher word is not a known [`Cipher`].
    UnknownCipher(u32),
}

impl Descriptor {
    /// Stored body length: the payload padded to a multiple of 4 bytes.
    pub const fn body_len(&self) -> usize {
        pad4(self.payload_len as usize)
    }

    /// Whole image element: body + descriptor + image footer.
    pub const fn element_len(&self) -> usize {
        self.body_len().saturating_add(TRAILER_LEN)
    }

    /// The footer's flash field for this element: its length in 4-KiB sectors, rounded up.
    pub const fn flash_sectors(&self) -> usize {
        self.element_len().div_ceil(FLASH_SECTOR_SIZE as usize)
    }

    /// Encodes: `[0..4)` L, `[4..8)` cipher, `[8..20)` nonce, `[20..24)` body CRC,
    /// `[24..28)` plaintext CRC.
    pub fn encode(&self) -> [u8; DESCRIPTOR_LEN] {
        let mut b = [0u8; DESCRIPTOR_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            for (dst, src) in b.iter_mut().skip(at).zip(bytes) {
                *dst = *src;
            }
            at += bytes.len();
        };
        put(&self.payload_len.to_le_bytes());
        put(&self.cipher.word().to_le_bytes());
        put(&self.nonce);
        put(&self.body_crc.to_le_bytes());
        put(&self.plain_crc.to_le_bytes());
        b
    }

    /// Parses the first [`DESCRIPTOR_LEN`] bytes of `b`.
    pub fn parse(b: &[u8]) -> Result<Descriptor, DescriptorError> {
        let word = |at: usize| -> Result<u32, DescriptorError> {
            b.get(at..at + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or(DescriptorError::TooShort)
        };
        let payload_len = word(0)?;
        let cipher_word = word(4)?;
        let nonce: [u8; NONCE_LEN] = b
            .get(8..8 + NONCE_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(DescriptorError::TooShort)?;
        let body_crc = word(20)?;
        let plain_crc = word(24)?;
        let cipher =
            Cipher::from_word(cipher_word).ok_or(DescriptorError::UnknownCipher(cipher_word))?;
        Ok(Descriptor {
            payload_len,
            cipher,
            nonce,
            body_crc,
            plain_crc,
        })
    }
}

/// Rounds up to a multiple of 4 (saturating: a garbage length must not overflow on a 32-bit
/// host).
pub const fn pad4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// Byte offset of the image footer's Info2 word inside the trailer: the footer check word.
pub const CHECK_WORD_AT: usize = DESCRIPTOR_LEN + 4;

/// The footer check word stored in the image footer's Info2: CRC-32 of the 48-byte trailer
/// (descriptor + image footer) without the 4 bytes of Info2 itself, i.e. trailer bytes
/// `[0..32)` followed by `[36..48)`. `None` if `trailer` is shorter than [`TRAILER_LEN`].
pub fn footer_check(trailer: &[u8]) -> Option<u32> {
    let head = trailer.get(..CHECK_WORD_AT)?;
    let tail = trailer.get(CHECK_WORD_AT + 4..TRAILER_LEN)?;
    let mut d = CRC32.digest();
    d.update(head);
    d.update(tail);
    Some(d.finalize())
}

const _: () = assert!(TRAILER_LEN == 48);
const _: () = assert!(TAG_LEN == 84);
const _: () = assert!(TRAILER_LEN.is_multiple_of(4) && TAG_LEN.is_multiple_of(4));

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_round_trip_and_positions() {
        let d = Descriptor {
            payload_len: 10_002,
            cipher: Cipher::Aes256Ctr,
            nonce: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            body_crc: 0xDEAD_BEEF,
            plain_crc: 0x0123_4567,
        };
        let b = d.encode();
        assert_eq!(&b[0..4], &10_002u32.to_le_bytes());
        assert_eq!(&b[4..8], &2u32.to_le_bytes());
        assert_eq!(b[8], 1);
        assert_eq!(b[19], 12);
        assert_eq!(&b[20..24], &0xDEAD_BEEFu32.to_le_bytes());
        assert_eq!(&b[24..28], &0x0123_4567u32.to_le_bytes());
        assert_eq!(Descriptor::parse(&b).unwrap(), d);
        assert_eq!(d.body_len(), 10_004);
        assert_eq!(d.element_len(), 10_052);
        assert_eq!(d.flash_sectors(), 3);
        assert_eq!(Descriptor::parse(&b[..27]), Err(DescriptorError::TooShort));
        let mut bad = b;
        bad[4] = 3;
        assert_eq!(
            Descriptor::parse(&bad),
            Err(DescriptorError::UnknownCipher(3))
        );
    }

    #[test]
    fn sizes_and_crc() {
        assert_eq!(pad4(0), 0);
        assert_eq!(pad4(1), 4);
        assert_eq!(pad4(4), 4);
        assert_eq!(pad4(usize::MAX) % 4, 0);
        // CRC-32/ISO-HDLC check value.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(footer_check(&[0; TRAILER_LEN - 1]), None);
        // Info2 (bytes 32..36) is not covered.
        let mut t = [0u8; TRAILER_LEN];
        let c = footer_check(&t).unwrap();
        t[CHECK_WORD_AT] = 0xFF;
        assert_eq!(footer_check(&t), Some(c));
        t[0] = 1;
        assert_ne!(footer_check(&t), Some(c));
        assert_eq!(MAX_PAYLOAD_LEN, 255 * 4096 - 48);
    }
}
