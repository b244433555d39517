//! Image formats: version and memory-size words, the magic numbers, the FW/FUS image footer
//! and the signature (tag) footer.
//!
//! Sources: AN5185 §6.4 (Tables 15–18, Figure 8), Table 7 (version words), fus-clients.md B.4
//! (WPAN `shci.h` / `mbox_def.h` bit layouts), stm32wb55-registers.md §13 (version examples).
//!
//! Footers are five little-endian 32-bit words in the order the tables list them, lowest
//! address first, so the magic number is the last word of the element it closes: a scanner
//! finds it at `end - 4`. (AN5185 shows the words but not their order in memory; this order
//! is our choice and is the one `wb-image` and the FUS use.)

use core::fmt;

use crate::bytes::{Reader, Writer};
use crate::error::{Error, Result};

/// Size of a flash sector in the footers' flash field: "Number of 4 K sectors" (AN5185
/// Table 15 note 4; WB5x page size, stm32wb55-registers.md §1).
pub const FLASH_SECTOR_SIZE: u32 = 4096;
/// Size of an SRAM sector in the memory-size fields: "Number of 1 K sectors".
pub const SRAM_SECTOR_SIZE: u32 = 1024;
/// Length of a signature: 64 bytes, ECDSA P-256 over SHA-256 (AN5185 §4).
pub const SIGNATURE_LEN: usize = 64;

/// A firmware version word (AN5185 Table 7; fus-clients.md B.4):
/// `[31:24] major, [23:16] minor, [15:8] sub, [7:4] branch, [3:0] build` (build = release
/// type, 1 = release).
///
/// Kept as the raw word so every u32 round-trips; [`Version::new`] checks the 4-bit fields.
/// Examples (stm32wb55-registers.md §13): 0x00050300 = v0.5.3, 0x01020000 = v1.2.0. An
/// erased/absent version is 0xFFFFFFFF (AN5185 Table 7 "When no stack is present"; FUS
/// v1.2.0 images carry it on purpose, Table 16 note).
///
/// Disagreement: embassy's `version_major()` takes bits 24..31 exclusive (7 bits); we use
/// the full byte as AN5185 and `shci.h` do.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(pub u32);

impl Version {
    /// The erased / "no stack present" word.
    pub const NONE: Version = Version(0xFFFF_FFFF);

    /// Packs a version; `branch` and `build` must fit 4 bits.
    pub const fn new(major: u8, minor: u8, sub: u8, branch: u8, build: u8) -> Result<Self> {
        if branch > 0xF {
            return Err(Error::OutOfRange {
                what: "version branch",
                value: branch as u32,
                max: 0xF,
            });
        }
        if build > 0xF {
            return Err(Error::OutOfRange {
                what: "version build",
                value: build as u32,
                max: 0xF,
            });
        }
        Ok(Version(
            (major as u32) << 24
                | (minor as u32) << 16
                | (sub as u32) << 8
                | (branch as u32) << 4
                | build as u32,
        ))
    }

    /// Bits 31:24.
    pub const fn major(self) -> u8 {
        (self.0 >> 24) as u8
    }
    /// Bits 23:16.
    pub const fn minor(self) -> u8 {
        (self.0 >> 16) as u8
    }
    /// Bits 15:8.
    pub const fn sub(self) -> u8 {
        (self.0 >> 8) as u8
    }
    /// Bits 7:4.
    pub const fn branch(self) -> u8 {
        ((self.0 >> 4) & 0xF) as u8
    }
    /// Bits 3:0 (release type; 1 = release).
    pub const fn build(self) -> u8 {
        (self.0 & 0xF) as u8
    }
    /// True for 0xFFFFFFFF.
    pub const fn is_none(self) -> bool {
        self.0 == 0xFFFF_FFFF
    }
    /// `(major, minor, sub)`, the part version comparisons use.
    pub const fn triple(self) -> (u8, u8, u8) {
        (self.major(), self.minor(), self.sub())
    }
}

impl From<u32> for Version {
    fn from(w: u32) -> Self {
        Version(w)
    }
}

impl From<Version> for u32 {
    fn from(v: Version) -> u32 {
        v.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major(), self.minor(), self.sub())?;
        if self.branch() != 0 || self.build() != 0 {
            write!(f, " (branch {}, build {})", self.branch(), self.build())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:#010x} = {})", self.0, self)
    }
}

/// A memory-size word of the device information table (AN5185 Table 7 "FUS memory size",
/// "Wireless stack memory size"): `[31:24]` SRAM2b 1-KB sectors, `[23:16]` SRAM2a 1-KB
/// sectors, `[15:8]` reserved, `[7:0]` flash 4-KB sectors.
///
/// Disagreements (fus-clients.md B.4): `shci.h` agrees on SRAM2b high / SRAM2a next and calls
/// `[15:8]` SRAM1 KB; `mbox_def.h` comments swap SRAM2a and SRAM2b and so does embassy
/// (`sram2a_size()` = bits 24..). AN5185 Table 7 writes the flash field as "`[14:0]`", which
/// overlaps the reserved byte; Table 15 (same word in the image footer) and `shci.h` say
/// `[7:0]`. We follow AN5185 + `shci.h`: SRAM2b in the top byte, flash in the low byte.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MemorySize(pub u32);

impl MemorySize {
    /// Packs the four bytes.
    pub const fn new(sram2b_kb: u8, sram2a_kb: u8, reserved: u8, flash_sectors: u8) -> Self {
        MemorySize(
            (sram2b_kb as u32) << 24
                | (sram2a_kb as u32) << 16
                | (reserved as u32) << 8
                | flash_sectors as u32,
        )
    }
    /// Bits 31:24: SRAM2b, 1-KB sectors.
    pub const fn sram2b_kb(self) -> u8 {
        (self.0 >> 24) as u8
    }
    /// Bits 23:16: SRAM2a, 1-KB sectors.
    pub const fn sram2a_kb(self) -> u8 {
        (self.0 >> 16) as u8
    }
    /// Bits 15:8: reserved (AN5185) / SRAM1 KB (`shci.h`).
    pub const fn reserved(self) -> u8 {
        (self.0 >> 8) as u8
    }
    /// Bits 7:0: flash, 4-KB sectors.
    pub const fn flash_sectors(self) -> u8 {
        self.0 as u8
    }
}

impl From<u32> for MemorySize {
    fn from(w: u32) -> Self {
        MemorySize(w)
    }
}

impl From<MemorySize> for u32 {
    fn from(m: MemorySize) -> u32 {
        m.0
    }
}

impl fmt::Debug for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySize")
            .field("sram2b_kb", &self.sram2b_kb())
            .field("sram2a_kb", &self.sram2a_kb())
            .field("reserved", &self.reserved())
            .field("flash_sectors", &self.flash_sectors())
            .finish()
    }
}

closed_enum! {
    /// Magic numbers identifying footers (AN5185 Table 18).
    pub enum Magic: u32, "footer magic number" {
        /// 0x23372991: wireless stack image (legacy, footer type 1).
        WirelessStackLegacy = 0x2337_2991,
        /// 0xB10C8B99: wireless stack image (footer type 2 only).
        WirelessStack = 0xB10C_8B99,
        /// 0x32279221: FUS image.
        Fus = 0x3227_9221,
        /// 0xD3A12C5E: STMicroelectronics signature.
        StSignature = 0xD3A1_2C5E,
        /// 0xE2B51D4A: customer signature.
        CustomerSignature = 0xE2B5_1D4A,
        /// 0x42769811: other firmware image.
        OtherFirmware = 0x4276_9811,
    }
}

impl Magic {
    /// True for the magics that close an image body (image footer).
    pub const fn is_image(self) -> bool {
        matches!(
            self,
            Magic::WirelessStackLegacy | Magic::WirelessStack | Magic::Fus | Magic::OtherFirmware
        )
    }

    /// True for the magics that close a signature (signature footer).
    pub const fn is_signature(self) -> bool {
        matches!(self, Magic::StSignature | Magic::CustomerSignature)
    }
}

closed_enum! {
    /// Footer type, bits 15:8 of the image footer's memory-size word (AN5185 Table 16).
    pub enum FooterType: u8, "image footer type" {
        /// 0xFF: footer type 1, pairing-data migration not supported.
        Type1 = 0xFF,
        /// 0x02: footer type 2, pairing-data migration supported (NVM section size valid).
        Type2 = 0x02,
    }
}

/// FW/FUS upgrade image footer (AN5185 Tables 15–16), 20 bytes after the image body:
///
/// | offset | word | bits |
/// |---|---|---|
/// | 0 | Info1 | `[15:8]` NVM section size (footer type 2), rest reserved ("e.g. Bluetooth LE") |
/// | 4 | Info2 | reserved ("e.g. thresh") |
/// | 8 | Memory size | `[31:24]` SRAM2b 1-KB, `[23:16]` SRAM2a 1-KB, `[15:8]` footer type, `[7:0]` flash 4-KB |
/// | 12 | Version | see [`Version`] |
/// | 16 | Magic | [`Magic`], an image magic |
///
/// Parsing checks that the magic is an image magic and matches the footer type: Table 18
/// reserves 0x23372991 for type 1 and 0xB10C8B99 for type 2. The NVM section size unit is not
/// stated by AN5185; we read it, like the flash field, as 4-KB sectors
/// ([`ImageFooter::nvm_section_bytes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImageFooter {
    /// Info1 word, raw (NVM section size in bits 15:8).
    pub info1: u32,
    /// Info2 word, raw.
    pub info2: u32,
    /// Required secure SRAM2b, 1-KB sectors.
    pub sram2b_kb: u8,
    /// Required secure SRAM2a, 1-KB sectors.
    pub sram2a_kb: u8,
    /// Footer type.
    pub footer_type: FooterType,
    /// Image total size, 4-KB sectors.
    pub flash_sectors: u8,
    /// Image version.
    pub version: Version,
    /// Image magic.
    pub magic: Magic,
}

impl ImageFooter {
    /// Encoded length.
    pub const LEN: usize = 20;

    /// NVM section size field (Info1 bits 15:8), meaningful for footer type 2 only.
    pub const fn nvm_section_size(&self) -> u8 {
        (self.info1 >> 8) as u8
    }

    /// Replaces the NVM section size field.
    pub fn set_nvm_section_size(&mut self, size: u8) {
        self.info1 = (self.info1 & !0xFF00) | (u32::from(size) << 8);
    }

    /// NVM section size in bytes, assuming 4-KB sectors (see the type doc); 0 for type 1.
    pub fn nvm_section_bytes(&self) -> u32 {
        match self.footer_type {
            FooterType::Type1 => 0,
            FooterType::Type2 => u32::from(self.nvm_section_size()) * FLASH_SECTOR_SIZE,
        }
    }

    /// Image total size in bytes (flash field × 4 KB).
    pub fn image_bytes(&self) -> u32 {
        u32::from(self.flash_sectors) * FLASH_SECTOR_SIZE
    }

    fn check(&self) -> Result<()> {
        if !self.magic.is_image() {
            return Err(Error::BadMagic {
                what: "image footer (signature magic)",
                expected: Magic::WirelessStack.into(),
                found: self.magic.into(),
            });
        }
        match (self.magic, self.footer_type) {
            (Magic::WirelessStackLegacy, FooterType::Type2) => Err(Error::Inconsistent {
                what: "image footer: legacy wireless-stack magic 0x23372991 with footer type 2",
            }),
            (Magic::WirelessStack, FooterType::Type1) => Err(Error::Inconsistent {
                what: "image footer: wireless-stack magic 0xB10C8B99 with footer type 1",
            }),
            _ => Ok(()),
        }
    }

    /// Parses the first 20 bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "image footer");
        let info1 = r.u32_le()?;
        let info2 = r.u32_le()?;
        let mem = r.u32_le()?;
        let version = Version(r.u32_le()?);
        let magic = Magic::try_from(r.u32_le()?)?;
        let f = Self {
            info1,
            info2,
            sram2b_kb: (mem >> 24) as u8,
            sram2a_kb: (mem >> 16) as u8,
            footer_type: FooterType::try_from((mem >> 8) as u8)?,
            flash_sectors: mem as u8,
            version,
            magic,
        };
        f.check()?;
        Ok(f)
    }

    /// Parses the footer closing `element` (its last 20 bytes).
    pub fn parse_trailing(element: &[u8]) -> Result<Self> {
        let start = element
            .len()
            .checked_sub(Self::LEN)
            .ok_or(Error::TooShort {
                what: "image footer",
                needed: Self::LEN,
                got: element.len(),
            })?;
        Self::parse(crate::bytes::tail(element, start, "image footer")?)
    }

    /// Memory-size word as encoded.
    pub fn memory_word(&self) -> u32 {
        u32::from(self.sram2b_kb) << 24
            | u32::from(self.sram2a_kb) << 16
            | u32::from(u8::from(self.footer_type)) << 8
            | u32::from(self.flash_sectors)
    }

    /// Writes 20 bytes; fails on a magic/footer-type mismatch like `parse`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        self.check()?;
        let mut w = Writer::new(out, Self::LEN, "image footer")?;
        w.u32_le(self.info1);
        w.u32_le(self.info2);
        w.u32_le(self.memory_word());
        w.u32_le(self.version.0);
        w.u32_le(self.magic.into());
        w.finish()
    }
}

closed_enum! {
    /// Signature source, bits 15:8 of the signature footer's third word (AN5185 Table 17).
    pub enum SignatureSource: u8, "signature source" {
        /// 0x00: STMicroelectronics signature.
        St = 0x00,
        /// 0x01: customer signature.
        Customer = 0x01,
    }
}

/// Signature (tag) footer (AN5185 Figure 8 / Table 17), 20 bytes after the signature bytes:
///
/// | offset | word | bits |
/// |---|---|---|
/// | 0 | Reserved | not used |
/// | 4 | Reserved | not used |
/// | 8 | "Memory size" | `[31:16]` reserved, `[15:8]` source, `[7:0]` signature size in bytes (without footer) |
/// | 12 | Version | see [`Version`] |
/// | 16 | Magic | 0xD3A12C5E (ST) or 0xE2B51D4A (customer) |
///
/// Reserved bits are written as zero and ignored when parsing. The source byte must agree
/// with the magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignatureFooter {
    /// Who signed.
    pub source: SignatureSource,
    /// Signature size in bytes, excluding the footer (64 for ours, [`SIGNATURE_LEN`]).
    pub size: u8,
    /// Version of the signed element.
    pub version: Version,
}

impl SignatureFooter {
    /// Encoded length.
    pub const LEN: usize = 20;

    /// Magic matching the source.
    pub const fn magic(&self) -> Magic {
        match self.source {
            SignatureSource::St => Magic::StSignature,
            SignatureSource::Customer => Magic::CustomerSignature,
        }
    }

    /// Parses the first 20 bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "signature footer");
        let _reserved0 = r.u32_le()?;
        let _reserved1 = r.u32_le()?;
        let w = r.u32_le()?;
        let version = Version(r.u32_le()?);
        let magic = Magic::try_from(r.u32_le()?)?;
        let f = Self {
            source: SignatureSource::try_from((w >> 8) as u8)?,
            size: w as u8,
            version,
        };
        if !magic.is_signature() {
            return Err(Error::BadMagic {
                what: "signature footer (image magic)",
                expected: Magic::StSignature.into(),
                found: magic.into(),
            });
        }
        if magic != f.magic() {
            return Err(Error::Inconsistent {
                what: "signature footer: source byte does not match magic",
            });
        }
        Ok(f)
    }

    /// Parses the footer closing `element` (its last 20 bytes).
    pub fn parse_trailing(element: &[u8]) -> Result<Self> {
        let start = element
            .len()
            .checked_sub(Self::LEN)
            .ok_or(Error::TooShort {
                what: "signature footer",
                needed: Self::LEN,
                got: element.len(),
            })?;
        Self::parse(crate::bytes::tail(element, start, "signature footer")?)
    }

    /// Writes 20 bytes.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(out, Self::LEN, "signature footer")?;
        w.u32_le(0);
        w.u32_le(0);
        w.u32_le(u32::from(u8::from(self.source)) << 8 | u32::from(self.size));
        w.u32_le(self.version.0);
        w.u32_le(self.magic().into());
        w.finish()
    }
}

const _: () = assert!(ImageFooter::LEN == 5 * 4);
const _: () = assert!(SignatureFooter::LEN == 5 * 4);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn words(w: [u32; 5]) -> [u8; 20] {
        let mut b = [0u8; 20];
        for (chunk, w) in b.chunks_exact_mut(4).zip(w) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    #[test]
    fn magic_values() {
        // AN5185 Table 18.
        let table = [
            (0x2337_2991, Magic::WirelessStackLegacy),
            (0xB10C_8B99, Magic::WirelessStack),
            (0x3227_9221, Magic::Fus),
            (0xD3A1_2C5E, Magic::StSignature),
            (0xE2B5_1D4A, Magic::CustomerSignature),
            (0x4276_9811, Magic::OtherFirmware),
        ];
        for (v, m) in table {
            assert_eq!(Magic::try_from(v).unwrap(), m);
            assert_eq!(u32::from(m), v);
        }
        assert_eq!(Magic::ALL.len(), 6);
        assert!(Magic::try_from(0xA946_56B9).is_err());
    }

    #[test]
    fn version_words() {
        // stm32wb55-registers.md §13: 0x00050300 = v0.5.3; 0x01020000 = v1.2.0.
        assert_eq!(Version(0x0005_0300).triple(), (0, 5, 3));
        assert_eq!(Version(0x0102_0000).triple(), (1, 2, 0));
        let v = Version::new(1, 24, 0, 0, 1).unwrap();
        assert_eq!(v.0, 0x0118_0001);
        assert_eq!(v.build(), 1);
        assert_eq!(Version(0x0000_00A5).branch(), 0xA);
        assert_eq!(Version(0x0000_00A5).build(), 0x5);
        assert!(Version::new(1, 0, 0, 16, 0).is_err());
        assert!(Version::new(1, 0, 0, 0, 16).is_err());
        // AN5185 Table 16 note: FUS V1.2.0 image version written as 0xFFFFFFFF.
        assert!(Version(0xFFFF_FFFF).is_none());
        assert_eq!(Version::NONE.triple(), (255, 255, 255));
    }

    #[test]
    fn memory_size_word() {
        // AN5185 Table 7: [31:24] SRAM2b, [23:16] SRAM2a, [15:8] reserved, [7:0] flash.
        let m = MemorySize(0x1008_0030);
        assert_eq!(m.sram2b_kb(), 0x10);
        assert_eq!(m.sram2a_kb(), 0x08);
        assert_eq!(m.reserved(), 0);
        assert_eq!(m.flash_sectors(), 0x30);
        assert_eq!(MemorySize::new(0x10, 0x08, 0, 0x30), m);
    }

    #[test]
    fn image_footer_layout() {
        // Table 15 fields placed by hand: Info1 with NVM size 4 in [15:8]; memory word with
        // SRAM2b 0x10, SRAM2a 0x08, footer type 2, flash 0x30 sectors; v1.24.0; 0xB10C8B99.
        let b = words([0x0000_0400, 0, 0x1008_0230, 0x0118_0000, 0xB10C_8B99]);
        let f = ImageFooter::parse(&b).unwrap();
        assert_eq!(f.nvm_section_size(), 4);
        assert_eq!(f.nvm_section_bytes(), 4 * 4096);
        assert_eq!(f.sram2b_kb, 0x10);
        assert_eq!(f.sram2a_kb, 0x08);
        assert_eq!(f.footer_type, FooterType::Type2);
        assert_eq!(f.flash_sectors, 0x30);
        assert_eq!(f.image_bytes(), 0x30 * 4096);
        assert_eq!(f.version.triple(), (1, 24, 0));
        assert_eq!(f.magic, Magic::WirelessStack);
        let mut out = [0u8; 20];
        f.encode(&mut out).unwrap();
        assert_eq!(out, b);

        // Trailing footer of an element.
        let mut image = [0u8; 64];
        image[44..].copy_from_slice(&b);
        assert_eq!(ImageFooter::parse_trailing(&image).unwrap(), f);

        // Footer type 1 is 0xFF (Table 16) with the legacy magic; FUS images take either.
        let b1 = words([0, 0, 0x0000_FF10, 0x0102_0000, 0x2337_2991]);
        assert_eq!(
            ImageFooter::parse(&b1).unwrap().footer_type,
            FooterType::Type1
        );
        assert_eq!(ImageFooter::parse(&b1).unwrap().nvm_section_bytes(), 0);
        let fus = words([0, 0, 0x0000_FF06, 0xFFFF_FFFF, 0x3227_9221]);
        assert_eq!(ImageFooter::parse(&fus).unwrap().magic, Magic::Fus);
    }

    #[test]
    fn image_footer_errors() {
        // Type-2 magic on a type-1 footer and vice versa (Table 18).
        let b = words([0, 0, 0x0000_FF10, 0, 0xB10C_8B99]);
        assert!(matches!(
            ImageFooter::parse(&b),
            Err(Error::Inconsistent { .. })
        ));
        let b = words([0, 0, 0x0000_0210, 0, 0x2337_2991]);
        assert!(matches!(
            ImageFooter::parse(&b),
            Err(Error::Inconsistent { .. })
        ));
        // Unknown footer type.
        let b = words([0, 0, 0x0000_0110, 0, 0x3227_9221]);
        assert_eq!(
            ImageFooter::parse(&b),
            Err(Error::UnknownValue {
                what: "image footer type",
                value: 1
            })
        );
        // A signature magic is not an image footer.
        let b = words([0, 0, 0x0000_FF10, 0, 0xD3A1_2C5E]);
        assert!(matches!(
            ImageFooter::parse(&b),
            Err(Error::BadMagic { .. })
        ));
        assert!(ImageFooter::parse_trailing(&[0u8; 19]).is_err());
    }

    #[test]
    fn signature_footer_layout() {
        // Figure 8 / Table 17: [15:8] source (0 ST, 1 customer), [7:0] size (64).
        let b = words([0, 0, 0x0000_0040, 0x0118_0000, 0xD3A1_2C5E]);
        let f = SignatureFooter::parse(&b).unwrap();
        assert_eq!(f.source, SignatureSource::St);
        assert_eq!(usize::from(f.size), SIGNATURE_LEN);
        assert_eq!(f.magic(), Magic::StSignature);
        let mut out = [0u8; 20];
        f.encode(&mut out).unwrap();
        assert_eq!(out, b);

        let c = words([0, 0, 0x0000_0140, 0x0118_0000, 0xE2B5_1D4A]);
        assert_eq!(
            SignatureFooter::parse(&c).unwrap().source,
            SignatureSource::Customer
        );
        // Source/magic mismatch.
        let bad = words([0, 0, 0x0000_0140, 0, 0xD3A1_2C5E]);
        assert!(matches!(
            SignatureFooter::parse(&bad),
            Err(Error::Inconsistent { .. })
        ));
        let bad = words([0, 0, 0x0000_0040, 0, 0x3227_9221]);
        assert!(matches!(
            SignatureFooter::parse(&bad),
            Err(Error::BadMagic { .. })
        ));
    }
}
