//! System-bootloader link: AN3155 USART command codes and replies, and the FUS extension
//! (special read/write commands over USART, USB-DFU download/upload).
//!
//! Sources: AN5185 §7 (Tables 19–23), fus-clients.md B.8 (STM32 Open Bootloader framing),
//! AN3155 Table 1 (command codes).
//!
//! Caution: the bootloader's FUS opcodes are **not** the IPCC OCFs. Over USART/DFU 0x52 is
//! FUS_FW_DELETE, 0x53 FUS_FW_UPGRADE and 0x54 FUS_GET_STATE (Tables 20–23), while on IPCC
//! 0xFC52 is GET_STATE, 0xFC54 FW_UPGRADE and 0xFC55 FW_DELETE (Table 11). The mapping
//! functions below translate between them.
//!
//! All multi-byte fields on this link are MSB first.

use crate::bytes::{Reader, Writer};
use crate::error::{Error, Result};
use crate::fus::Opcode;

/// ACK byte (AN3155; fus-clients.md B.8).
pub const ACK: u8 = 0x79;
/// NACK byte (AN3155; fus-clients.md B.8).
pub const NACK: u8 = 0x1F;
/// BUSY byte (Open Bootloader, fus-clients.md B.8).
pub const BUSY: u8 = 0x76;
/// Byte the host sends first so the bootloader can measure the baud rate (AN3155 §2; not in
/// the seed documents, the value every AN3155 host uses).
pub const SYNC: u8 = 0x7F;

/// Largest data part of a Special command (Open Bootloader, fus-clients.md B.8).
pub const SPECIAL_MAX_DATA: usize = 128;
/// Largest second buffer of an Extended Special command (Open Bootloader).
pub const EXT_SPECIAL_MAX_DATA: usize = 1024;

closed_enum! {
    /// USART bootloader command codes (AN3155 Table 1) plus the FUS extension
    /// (AN5185 Table 19). Each is sent as the code followed by its complement.
    ///
    /// Disagreement: AN5185 calls 0x50/0x51 "Special read" / "Special write" (FUS);
    /// the Open Bootloader calls them "Special" / "Extended Special" with a generic framing.
    pub enum Command: u8, "bootloader command" {
        /// 0x00 Get.
        Get = 0x00,
        /// 0x01 Get Version & Read Protection Status.
        GetVersion = 0x01,
        /// 0x02 Get ID.
        GetId = 0x02,
        /// 0x11 Read Memory.
        ReadMemory = 0x11,
        /// 0x21 Go.
        Go = 0x21,
        /// 0x31 Write Memory.
        WriteMemory = 0x31,
        /// 0x43 Erase.
        Erase = 0x43,
        /// 0x44 Extended Erase.
        ExtendedErase = 0x44,
        /// 0x50 Special read (AN5185 Table 19; complement 0xAF): get data from FUS.
        SpecialRead = 0x50,
        /// 0x51 Special write (AN5185 Table 19; complement 0xAE): send data to FUS.
        SpecialWrite = 0x51,
        /// 0x63 Write Protect.
        WriteProtect = 0x63,
        /// 0x73 Write Unprotect.
        WriteUnprotect = 0x73,
        /// 0x82 Readout Protect.
        ReadoutProtect = 0x82,
        /// 0x92 Readout Unprotect.
        ReadoutUnprotect = 0x92,
    }
}

impl Command {
    /// The two bytes the host sends: code, then its complement (XOR = 0x00).
    pub fn frame(self) -> [u8; 2] {
        let c = u8::from(self);
        [c, !c]
    }

    /// Parses a command frame, checking the complement.
    pub fn parse_frame(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "bootloader command frame");
        let code = r.u8()?;
        let comp = r.u8()?;
        if comp != !code {
            return Err(Error::BadChecksum {
                what: "bootloader command complement",
                expected: !code,
                found: comp,
            });
        }
        Command::try_from(code)
    }
}

/// XOR of all bytes: the AN3155 checksum.
pub fn xor(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

/// The FUS opcode packet after a special command: opcode (2 bytes, MSB first) and one XOR
/// byte.
///
/// Disagreement: AN5185 §7.1.1 says "XOR of the FUS command opcode (2 bytes)"; the Open
/// Bootloader frames it as "opcode 2 B MSB-first + XOR" with a single checksum byte
/// (fus-clients.md B.8), as every other AN3155 packet is. We follow the implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpcodePacket {
    /// Bootloader-level FUS opcode, e.g. 0x0054 for GET_STATE.
    pub opcode: u16,
}

impl OpcodePacket {
    /// Encoded length.
    pub const LEN: usize = 3;

    /// Parses and checks the XOR.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "special opcode packet");
        let op = r.array::<2>()?;
        let found = r.u8()?;
        let expected = xor(&op);
        if found != expected {
            return Err(Error::BadChecksum {
                what: "special opcode packet",
                expected,
                found,
            });
        }
        Ok(Self {
            opcode: u16::from_be_bytes(op),
        })
    }

    /// Writes 3 bytes.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let op = self.opcode.to_be_bytes();
        let mut w = Writer::new(out, Self::LEN, "special opcode packet")?;
        w.put(&op);
        w.u8(xor(&op));
        w.finish()
    }
}

/// A host→device packet of the special commands (address packet, data packet): size
/// (2 bytes, MSB first), payload, XOR of all previous bytes of the packet, size included
/// (AN5185 §7.1.1–7.1.2).
pub struct CheckedPacket;

impl CheckedPacket {
    /// Bytes needed to encode `payload_len` bytes.
    pub const fn encoded_len(payload_len: usize) -> usize {
        2 + payload_len + 1
    }

    /// Parses; returns the payload. Bytes after the checksum are ignored.
    pub fn parse(bytes: &[u8]) -> Result<&[u8]> {
        let mut r = Reader::new(bytes, "special checked packet");
        let size = r.u16_be()?;
        let payload = r.take(usize::from(size))?;
        let found = r.u8()?;
        let expected = xor(&size.to_be_bytes()) ^ xor(payload);
        if found != expected {
            return Err(Error::BadChecksum {
                what: "special checked packet",
                expected,
                found,
            });
        }
        Ok(payload)
    }

    /// Writes size, payload and XOR; returns bytes written.
    pub fn encode(payload: &[u8], out: &mut [u8]) -> Result<usize> {
        let size = u16::try_from(payload.len()).map_err(|_| Error::OutOfRange {
            what: "special packet size",
            value: payload.len() as u32,
            max: u32::from(u16::MAX),
        })?;
        let mut w = Writer::new(
            out,
            Self::encoded_len(payload.len()),
            "special checked packet",
        )?;
        w.u16_be(size);
        w.put(payload);
        w.u8(xor(&size.to_be_bytes()) ^ xor(payload));
        w.finish()
    }
}

/// A device→host packet of the special commands (response data packet, status packet):
/// size (2 bytes, MSB first) then payload, no checksum; the device then sends ACK
/// (AN5185 §7.1.1).
pub struct SizedPacket;

impl SizedPacket {
    /// Parses; returns the payload.
    pub fn parse(bytes: &[u8]) -> Result<&[u8]> {
        let mut r = Reader::new(bytes, "special sized packet");
        let size = r.u16_be()?;
        r.take(usize::from(size))
    }

    /// Writes size and payload.
    pub fn encode(payload: &[u8], out: &mut [u8]) -> Result<usize> {
        let size = u16::try_from(payload.len()).map_err(|_| Error::OutOfRange {
            what: "special packet size",
            value: payload.len() as u32,
            max: u32::from(u16::MAX),
        })?;
        let mut w = Writer::new(out, 2 + payload.len(), "special sized packet")?;
        w.u16_be(size);
        w.put(payload);
        w.finish()
    }
}

/// Command status packet payload (AN5185 Tables 20–21): `[0x00]` if OK, `[0x01, state,
/// error]` if KO, `[0x00, state, key index]` for FUS_STORE_USR_KEY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpecialStatus {
    /// 0x00 OK, 0x01 KO.
    pub status: u8,
    /// State and error code (or key index), present in the 3-byte form.
    pub detail: Option<(u8, u8)>,
}

impl SpecialStatus {
    /// Parses a status packet (size + payload); size must be 1 or 3.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        match SizedPacket::parse(bytes)? {
            [status] => Ok(Self {
                status: *status,
                detail: None,
            }),
            [status, state, extra] => Ok(Self {
                status: *status,
                detail: Some((*state, *extra)),
            }),
            p => Err(Error::BadLength {
                what: "special status packet (must be 1 or 3 bytes)",
                found: p.len(),
            }),
        }
    }

    /// Writes the status packet (size + payload).
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        match self.detail {
            None => SizedPacket::encode(&[self.status], out),
            Some((a, b)) => SizedPacket::encode(&[self.status, a, b], out),
        }
    }
}

closed_enum! {
    /// FUS commands mapped on the USART special read command (AN5185 Table 20).
    pub enum SpecialRead: u8, "special read opcode" {
        /// 0x54 FUS_GET_STATE: data packet = [0x00, FUS state, error code].
        GetState = 0x54,
    }
}

closed_enum! {
    /// FUS commands mapped on the USART special write command (AN5185 Table 21) and on the
    /// USB-DFU download extension (AN5185 Table 22, same opcodes). FUS_LOCK_USR_KEY,
    /// FUS_UNLOAD_USR_KEY and FUS_ACTIVATE_ANTIROLLBACK are not available through the
    /// bootloader (Table 19 note).
    pub enum SpecialWrite: u8, "special write opcode" {
        /// 0x52 FUS_FW_DELETE.
        FwDelete = 0x52,
        /// 0x53 FUS_FW_UPGRADE.
        FwUpgrade = 0x53,
        /// 0x56 FUS_UPDATE_AUTH_KEY: data = key size + key (up to 65 bytes).
        UpdateAuthKey = 0x56,
        /// 0x57 FUS_LOCK_AUTH_KEY.
        LockAuthKey = 0x57,
        /// 0x58 FUS_STORE_USR_KEY: data = type, size, key (up to 34 bytes); status =
        /// [0x00, state, key index].
        StoreUsrKey = 0x58,
        /// 0x59 FUS_LOAD_USR_KEY: data = [key index].
        LoadUsrKey = 0x59,
        /// 0x5A FUS_START_WS.
        StartWs = 0x5A,
    }
}

impl SpecialRead {
    /// The IPCC command this maps to.
    pub const fn opcode(self) -> Opcode {
        match self {
            SpecialRead::GetState => Opcode::FusGetState,
        }
    }
}

impl SpecialWrite {
    /// The IPCC command this maps to.
    pub const fn opcode(self) -> Opcode {
        match self {
            SpecialWrite::FwDelete => Opcode::FusFwDelete,
            SpecialWrite::FwUpgrade => Opcode::FusFwUpgrade,
            SpecialWrite::UpdateAuthKey => Opcode::FusUpdateAuthKey,
            SpecialWrite::LockAuthKey => Opcode::FusLockAuthKey,
            SpecialWrite::StoreUsrKey => Opcode::FusStoreUsrKey,
            SpecialWrite::LoadUsrKey => Opcode::FusLoadUsrKey,
            SpecialWrite::StartWs => Opcode::FusStartWs,
        }
    }

    /// The bootloader opcode for an IPCC command, if the bootloader exposes it.
    pub const fn from_opcode(op: Opcode) -> Option<Self> {
        match op {
            Opcode::FusFwDelete => Some(SpecialWrite::FwDelete),
            Opcode::FusFwUpgrade => Some(SpecialWrite::FwUpgrade),
            Opcode::FusUpdateAuthKey => Some(SpecialWrite::UpdateAuthKey),
            Opcode::FusLockAuthKey => Some(SpecialWrite::LockAuthKey),
            Opcode::FusStoreUsrKey => Some(SpecialWrite::StoreUsrKey),
            Opcode::FusLoadUsrKey => Some(SpecialWrite::LoadUsrKey),
            Opcode::FusStartWs => Some(SpecialWrite::StartWs),
            _ => None,
        }
    }
}

/// Virtual address mask of the USB-DFU upload extension: FUS reads are uploads from
/// `0xFFFF00YY`, YY = opcode (AN5185 §7.2.2).
pub const DFU_UPLOAD_BASE: u32 = 0xFFFF_0000;

closed_enum! {
    /// USB-DFU upload extension (AN5185 Table 23), by the low byte of the virtual address.
    pub enum DfuUpload: u8, "DFU upload opcode" {
        /// 0xFFFF0054 FUS_GET_STATE: returns [FUS state, error code].
        GetState = 0x54,
        /// 0xFFFF0058 FUS_STORE_USR_KEY second step: returns the key index (1 byte).
        StoreUsrKeyIndex = 0x58,
    }
}

impl DfuUpload {
    /// Virtual upload address.
    pub fn address(self) -> u32 {
        DFU_UPLOAD_BASE | u32::from(u8::from(self))
    }

    /// Decodes a virtual upload address; `Ok(None)` for an ordinary address outside
    /// 0xFFFF00xx.
    pub fn from_address(addr: u32) -> Result<Option<Self>> {
        if addr & 0xFFFF_FF00 != DFU_UPLOAD_BASE {
            return Ok(None);
        }
        DfuUpload::try_from(addr as u8).map(Some)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn special_command_codes() {
        // AN5185 Table 19.
        assert_eq!(Command::SpecialRead.frame(), [0x50, 0xAF]);
        assert_eq!(Command::SpecialWrite.frame(), [0x51, 0xAE]);
        assert_eq!(
            Command::parse_frame(&[0x51, 0xAE]).unwrap(),
            Command::SpecialWrite
        );
        assert!(matches!(
            Command::parse_frame(&[0x51, 0xAF]),
            Err(Error::BadChecksum { .. })
        ));
        // AN3155 Table 1 codes.
        assert_eq!(Command::Get.frame(), [0x00, 0xFF]);
        assert_eq!(Command::GetVersion.frame(), [0x01, 0xFE]);
        assert_eq!(u8::from(Command::ReadMemory), 0x11);
        assert_eq!(u8::from(Command::Go), 0x21);
        assert_eq!(u8::from(Command::WriteMemory), 0x31);
        assert_eq!(u8::from(Command::ExtendedErase), 0x44);
        assert_eq!(u8::from(Command::ReadoutUnprotect), 0x92);
        assert_eq!((ACK, NACK, BUSY), (0x79, 0x1F, 0x76));
    }

    #[test]
    fn fus_mapping() {
        // Tables 20–22: bootloader opcodes differ from IPCC OCFs.
        assert_eq!(SpecialRead::GetState.opcode(), Opcode::FusGetState);
        assert_eq!(u8::from(SpecialRead::GetState), 0x54);
        let table = [
            (0x52, Opcode::FusFwDelete),
            (0x53, Opcode::FusFwUpgrade),
            (0x56, Opcode::FusUpdateAuthKey),
            (0x57, Opcode::FusLockAuthKey),
            (0x58, Opcode::FusStoreUsrKey),
            (0x59, Opcode::FusLoadUsrKey),
            (0x5A, Opcode::FusStartWs),
        ];
        for (code, op) in table {
            let w = SpecialWrite::try_from(code).unwrap();
            assert_eq!(w.opcode(), op);
            assert_eq!(SpecialWrite::from_opcode(op), Some(w));
        }
        // Table 19 note: not available through the bootloader.
        assert_eq!(SpecialWrite::from_opcode(Opcode::FusLockUsrKey), None);
        assert_eq!(SpecialWrite::from_opcode(Opcode::FusUnloadUsrKey), None);
        assert_eq!(
            SpecialWrite::from_opcode(Opcode::FusActivateAntirollback),
            None
        );
    }

    #[test]
    fn dfu_upload_addresses() {
        // Table 23.
        assert_eq!(DfuUpload::GetState.address(), 0xFFFF_0054);
        assert_eq!(DfuUpload::StoreUsrKeyIndex.address(), 0xFFFF_0058);
        assert_eq!(
            DfuUpload::from_address(0xFFFF_0054).unwrap(),
            Some(DfuUpload::GetState)
        );
        assert_eq!(DfuUpload::from_address(0x0800_0000).unwrap(), None);
        assert!(DfuUpload::from_address(0xFFFF_0052).is_err());
    }

    #[test]
    fn special_packets() {
        // GET_STATE opcode packet, MSB first + XOR.
        let mut out = [0u8; 8];
        assert_eq!(OpcodePacket { opcode: 0x0054 }.encode(&mut out).unwrap(), 3);
        assert_eq!(out[..3], [0x00, 0x54, 0x54]);
        assert_eq!(
            OpcodePacket::parse(&[0x00, 0x54, 0x54]).unwrap().opcode,
            0x54
        );
        assert!(OpcodePacket::parse(&[0x00, 0x54, 0x00]).is_err());

        // Table 20/21 address packet "Size = 0x0000, Data = None": size bytes + XOR 0.
        assert_eq!(
            CheckedPacket::parse(&[0x00, 0x00, 0x00]).unwrap(),
            &[] as &[u8]
        );
        // LOAD_USR_KEY data packet [KeyIndex = 5]: 00 01 05, XOR = 0x04.
        assert_eq!(
            CheckedPacket::parse(&[0x00, 0x01, 0x05, 0x04]).unwrap(),
            &[5]
        );
        assert!(matches!(
            CheckedPacket::parse(&[0x00, 0x01, 0x05, 0x05]),
            Err(Error::BadChecksum {
                expected: 0x04,
                found: 0x05,
                ..
            })
        ));

        // Status packets (Tables 20–21): [0x00] OK, [0x01, state, error] KO.
        assert_eq!(
            SpecialStatus::parse(&[0x00, 0x01, 0x00]).unwrap(),
            SpecialStatus {
                status: 0,
                detail: None
            }
        );
        assert_eq!(
            SpecialStatus::parse(&[0x00, 0x03, 0x01, 0xFF, 0x03]).unwrap(),
            SpecialStatus {
                status: 1,
                detail: Some((0xFF, 0x03))
            }
        );
        assert!(SpecialStatus::parse(&[0x00, 0x02, 0x00, 0x00]).is_err());
        // GET_STATE data packet: size 3, [0x00, state, error].
        assert_eq!(
            SizedPacket::parse(&[0x00, 0x03, 0x00, 0x00, 0x00]).unwrap(),
            &[0, 0, 0]
        );
    }
}
