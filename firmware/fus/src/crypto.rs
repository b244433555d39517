//! The hardware the FUS checks images with: the CRC unit (CRC-32/ISO-HDLC), AES2 in CTR
//! mode for the body, and the PKA for ECDSA P-256 verification. SHA-256 is software.

use crate::hw::{aes2, crc, pka, read32, write32, write8};

/// CRC-32/ISO-HDLC over `data` (docs/image-format.md §3: default polynomial and init,
/// REV_IN by byte, REV_OUT, final XOR), with the CRC unit.
pub struct Crc;

impl Crc {
    /// Reset the unit to its documented reset state (AN5185 Table 5: the FUS re-initialises
    /// the CRC at every boot).
    pub fn reinit() {
        write32(crc::POL, 0x04C1_1DB7);
        write32(crc::INIT, 0xFFFF_FFFF);
        write32(crc::CR, 1); // RESET, 32-bit polynomial, no reversal
    }

    pub fn start() -> Crc {
        write32(crc::POL, 0x04C1_1DB7);
        write32(crc::INIT, 0xFFFF_FFFF);
        write32(crc::CR, REV_IN_BYTE | REV_OUT | 1); // RESET
        Crc
    }

    /// Feed bytes from memory: whole little-endian words while aligned (their bits reversed
    /// by word, so the first byte in memory goes first), single bytes (reversed by byte) for
    /// the rest. Changing REV_IN does not disturb the running CRC.
    pub fn feed(&mut self, addr: u32, len: u32) {
        let mut a = addr;
        let end = addr + len;
        while a < end && !a.is_multiple_of(4) {
            write8(crc::DR, crate::hw::read8(a));
            a += 1;
        }
        if a + 4 <= end {
            write32(crc::CR, REV_IN_WORD | REV_OUT);
            while a + 4 <= end {
                write32(crc::DR, read32(a));
                a += 4;
            }
            write32(crc::CR, REV_IN_BYTE | REV_OUT);
        }
        while a < end {
            write8(crc::DR, crate::hw::read8(a));
            a += 1;
        }
    }

    pub fn value(self) -> u32 {
        !read32(crc::DR)
    }
}

const REV_IN_BYTE: u32 = 0b01 << 5;
const REV_IN_WORD: u32 = 0b11 << 5;
const REV_OUT: u32 = 1 << 7;

/// CRC-32 of `len` bytes at `addr`.
pub fn crc32(addr: u32, len: u32) -> u32 {
    let mut c = Crc::start();
    c.feed(addr, len);
    c.value()
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// AES2 in CTR mode with the body key: counter block = nonce ‖ 32-bit big-endian block
/// counter (docs/image-format.md §2).
pub struct Ctr;

const CR_EN: u32 = 1;
const DATATYPE_BYTE: u32 = 0b10 << 1;
const CHMOD_CTR: u32 = 0b10 << 5;
const CCFC: u32 = 1 << 7;
const KEYSIZE_256: u32 = 1 << 18;
const CCF: u32 = 1;

impl Ctr {
    /// Load `key` (16 or 32 bytes) and the counter block for block number `block`.
    pub fn start(key: &[u8], nonce: &[u8; 12], block: u32) -> Ctr {
        write32(aes2::CR, 0);
        let keysize = if key.len() == 32 { KEYSIZE_256 } else { 0 };
        write32(aes2::CR, DATATYPE_BYTE | CHMOD_CTR | keysize);
        // KEYR3 (or KEYR7) holds the first key bytes, big-endian.
        let words = key.len() / 4;
        for i in 0..words {
            let reg = if i < 4 {
                aes2::KEYR0 + 4 * i as u32
            } else {
                aes2::KEYR4 + 4 * (i as u32 - 4)
            };
            write32(reg, be32(key, key.len() - 4 - 4 * i));
        }
        write32(aes2::IVR0, block);
        write32(aes2::IVR0 + 4, be32(nonce, 8));
        write32(aes2::IVR0 + 8, be32(nonce, 4));
        write32(aes2::IVR0 + 12, be32(nonce, 0));
        write32(aes2::CR, read32(aes2::CR) | CR_EN);
        Ctr
    }

    /// One 16-byte block: four words as stored in memory in, four out.
    pub fn block(&mut self, input: [u32; 4]) -> [u32; 4] {
        for w in input {
            write32(aes2::DINR, w);
        }
        while read32(aes2::SR) & CCF == 0 {}
        let out = [0; 4].map(|_: u32| read32(aes2::DOUTR));
        write32(aes2::CR, read32(aes2::CR) | CCFC);
        out
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        write32(aes2::CR, 0);
    }
}

/// NIST P-256 (FIPS 186-4 D.1.2.3), big-endian.
const P256_P: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
];
const P256_N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];
const P256_GX: [u8; 32] = [
    0x6B, 0x17, 0xD1, 0xF2, 0xE1, 0x2C, 0x42, 0x47, 0xF8, 0xBC, 0xE6, 0xE5, 0x63, 0xA4, 0x40, 0xF2,
    0x77, 0x03, 0x7D, 0x81, 0x2D, 0xEB, 0x33, 0xA0, 0xF4, 0xA1, 0x39, 0x45, 0xD8, 0x98, 0xC2, 0x96,
];
const P256_GY: [u8; 32] = [
    0x4F, 0xE3, 0x42, 0xE2, 0xFE, 0x1A, 0x7F, 0x9B, 0x8E, 0xE7, 0xEB, 0x4A, 0x7C, 0x0F, 0x9E, 0x16,
    0x2B, 0xCE, 0x33, 0x57, 0x6B, 0x31, 0x5E, 0xCE, 0xCB, 0xB6, 0x40, 0x68, 0x37, 0xBF, 0x51, 0xF5,
];
/// |a| = 3 (a = -3).
const P256_ABS_A: [u8; 32] = {
    let mut a = [0; 32];
    a[31] = 3;
    a
};

/// PKA RAM offsets of the ECDSA verification operands (RM0434 Tables 162-163).
mod ram {
    pub const ORDER_NB_BITS: u32 = 0x404;
    pub const MOD_NB_BITS: u32 = 0x4B4;
    pub const A_SIGN: u32 = 0x45C;
    pub const ABS_A: u32 = 0x460;
    pub const P: u32 = 0x4B8;
    pub const N: u32 = 0xD5C;
    pub const GX: u32 = 0x5E8;
    pub const GY: u32 = 0x63C;
    pub const QX: u32 = 0xF40;
    pub const QY: u32 = 0xF94;
    pub const R: u32 = 0x1098;
    pub const S: u32 = 0xA44;
    pub const HASH: u32 = 0xFE8;
    pub const RESULT: u32 = 0x5B0;
}

/// A big-endian operand into PKA RAM: little-endian words, least significant first, then a
/// zero word (as ST's HAL loads them).
fn load(offset: u32, be: &[u8; 32]) {
    for w in 0..8 {
        write32(pka::BASE + offset + 4 * w, be32(be, 28 - 4 * w as usize));
    }
    write32(pka::BASE + offset + 32, 0);
}

const PKA_EN: u32 = 1;
const PKA_START: u32 = 1 << 1;
const MODE_ECDSA_VERIFY: u32 = 0x26 << 8;
const PROCENDF: u32 = 1 << 17;

/// ECDSA P-256 verification of (r, s) over `hash` with the public key (qx, qy).
pub fn ecdsa_verify(
    qx: &[u8; 32],
    qy: &[u8; 32],
    r: &[u8; 32],
    s: &[u8; 32],
    hash: &[u8; 32],
) -> bool {
    write32(pka::CR, PKA_EN);
    write32(pka::BASE + ram::ORDER_NB_BITS, 256);
    write32(pka::BASE + ram::MOD_NB_BITS, 256);
    write32(pka::BASE + ram::A_SIGN, 1);
    load(ram::ABS_A, &P256_ABS_A);
    load(ram::P, &P256_P);
    load(ram::N, &P256_N);
    load(ram::GX, &P256_GX);
    load(ram::GY, &P256_GY);
    load(ram::QX, qx);
    load(ram::QY, qy);
    load(ram::R, r);
    load(ram::S, s);
    load(ram::HASH, hash);
    write32(pka::CR, PKA_EN | MODE_ECDSA_VERIFY | PKA_START);
    while read32(pka::SR) & PROCENDF == 0 {}
    let ok = read32(pka::BASE + ram::RESULT) == 0;
    write32(pka::CLRFR, PROCENDF);
    write32(pka::CR, 0);
    ok
}
