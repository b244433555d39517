//! Transport-layer packets on the system channel: the system command CPU1 writes, the
//! command-complete response CPU2 writes over it, and the asynchronous system events CPU2
//! queues.
//!
//! Sources: AN5185 §6.2–6.3 (Tables 9–12), fus-clients.md B.2 (WPAN `tl/tl.h`,
//! `tl/shci_tl.c`), B.5 (IPCC channels), B.7 (embassy).

use crate::bytes::{tail, tail_mut, Reader, Writer};
use crate::error::{Error, Result};

closed_enum! {
    /// Packet indicator (first byte after the list header), WPAN `tl.h` TL_*_PKT_TYPE
    /// (fus-clients.md B.2). AN5185 Table 9 lists only the three the FUS uses: 0x10 command,
    /// 0x11 response, 0x12 event.
    pub enum PacketType: u8, "packet type" {
        /// 0x01 BLECMD.
        BleCmd = 0x01,
        /// 0x02 ACL.
        Acl = 0x02,
        /// 0x04 BLEEVT.
        BleEvt = 0x04,
        /// 0x08 OTCMD.
        OtCmd = 0x08,
        /// 0x09 OTRSP.
        OtRsp = 0x09,
        /// 0x0A CLICMD.
        CliCmd = 0x0A,
        /// 0x0C OTNOT.
        OtNot = 0x0C,
        /// 0x0D OTACK.
        OtAck = 0x0D,
        /// 0x0E CLINOT.
        CliNot = 0x0E,
        /// 0x0F CLIACK.
        CliAck = 0x0F,
        /// 0x10 SYSCMD: system command (AN5185 Table 9 "Command packet").
        SysCmd = 0x10,
        /// 0x11 SYSRSP: system command response (AN5185 Table 9 "Response packet").
        SysRsp = 0x11,
        /// 0x12 SYSEVT: system event (AN5185 Table 9 "Event packet").
        SysEvt = 0x12,
        /// 0x15 CLIRESP.
        CliResp = 0x15,
        /// 0x16 M0CMD.
        M0Cmd = 0x16,
        /// 0x20 LOCCMD.
        LocCmd = 0x20,
        /// 0x21 LOCRSP.
        LocRsp = 0x21,
        /// 0x40 TRACES_APP.
        TracesApp = 0x40,
        /// 0x41 TRACES_WL.
        TracesWl = 0x41,
    }
}

/// Size of the list links (`TL_PacketHeader_t`: next, prev) before every command and event
/// packet (fus-clients.md B.2).
pub const PACKET_HEADER_LEN: usize = 8;
/// TL_CMD_HDR_SIZE: type + opcode + plen.
pub const CMD_HDR_LEN: usize = 4;
/// TL_EVT_HDR_SIZE: type + event code + plen.
pub const EVT_HDR_LEN: usize = 3;
/// Size of `TL_CmdPacket_t`, the system command buffer: 8 + 4 + 255 (fus-clients.md B.2).
pub const CMD_PACKET_LEN: usize = PACKET_HEADER_LEN + CMD_HDR_LEN + 255;
/// HCI event code of a command-complete response (TL_BLEEVT_CC_OPCODE).
pub const EVT_COMMAND_COMPLETE: u8 = 0x0E;
/// HCI event code of a command-status event (TL_BLEEVT_CS_OPCODE); unused by the FUS.
pub const EVT_COMMAND_STATUS: u8 = 0x0F;
/// HCI event code of a vendor-specific event (TL_BLEEVT_VS_OPCODE, SHCI_EVTCODE).
pub const EVT_VENDOR_SPECIFIC: u8 = 0xFF;
/// NumHCI value the FUS writes in responses (AN5185 §6.3.4: "always set to 0xFF").
pub const NUMCMD_FUS: u8 = 0xFF;
/// Offset of the response in the command buffer for ST's and MicroPython's clients (and
/// AN5185: "The response overwrites the command").
pub const RSP_OFFSET: usize = 0;
/// Offset at which embassy-stm32-wpan looks for the response: it reads the CC event at
/// `cmd_buf + 8 + 3`, so the status byte at offset 14 (fus-clients.md B.7).
///
/// Disagreement: ST/MicroPython read at offset 0. A response of at most 8 bytes (plen ≤ 5,
/// every FUS response) written at offset 0 and mirrored at offset 8 satisfies both without
/// overlap; whether to mirror is the firmware's choice.
pub const RSP_OFFSET_EMBASSY: usize = PACKET_HEADER_LEN;
/// Largest response plen ST's client tolerates: `SHCI_C2_FUS_*` copy plen + 3 bytes to
/// offset 8 of a 16-byte stack buffer (17 bytes for GET_STATE and STORE_USR_KEY, allowing 6),
/// fus-clients.md B.2.
pub const ST_CLIENT_MAX_RSP_PLEN: u8 = 5;

/// IPCC channel numbers used for the system channel (fus-clients.md B.5; AN5185 §6.2
/// "P0CH2 / P1CH2"). Channel n is bit n-1 in the IPCC registers.
pub mod channel {
    /// CPU1→CPU2 system command / response (C1TOC2SR.CH2F).
    pub const SYSTEM_CMD_RSP: u8 = 2;
    /// CPU2→CPU1 system event (C2TOC1SR.CH2F).
    pub const SYSTEM_EVENT: u8 = 2;
    /// CPU1→CPU2 memory-manager buffer release.
    pub const MM_RELEASE_BUFFER: u8 = 4;
    /// CPU2→CPU1 traces (AN5185 Table 5: "P1CH4 (trace channel)").
    pub const TRACES: u8 = 4;

    /// Register bit mask of channel `n` (1..=6), e.g. 2 → 0x02, 4 → 0x08.
    pub const fn mask(n: u8) -> u32 {
        if n >= 1 && n <= 6 {
            1 << (n - 1)
        } else {
            0
        }
    }
}

/// `tListNode`: the 8-byte list links in front of queued packets and the head of queues
/// such as `MB_SysTable_t.sys_queue` (circular; an empty head points to itself).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ListNode {
    /// Address of the next node.
    pub next: u32,
    /// Address of the previous node.
    pub prev: u32,
}

impl ListNode {
    /// Encoded length.
    pub const LEN: usize = 8;

    /// An empty circular list head located at `addr`.
    pub const fn empty_at(addr: u32) -> Self {
        Self {
            next: addr,
            prev: addr,
        }
    }

    /// Parses the first 8 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "list node");
        Ok(Self {
            next: r.u32_le()?,
            prev: r.u32_le()?,
        })
    }

    /// Writes 8 bytes.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(out, Self::LEN, "list node")?;
        w.u32_le(self.next);
        w.u32_le(self.prev);
        w.finish()
    }
}

const _: () = assert!(ListNode::LEN == PACKET_HEADER_LEN);

/// A system command as CPU1 writes it (`TL_CmdPacket_t`, fus-clients.md B.2; AN5185
/// Table 11): `[8] type 0x10, [9..10] opcode LE, [11] plen, [12..] payload`, offsets counted
/// from the start of the command buffer including the 8-byte list header.
///
/// The opcode stays raw so that the FUS can answer any value; see
/// [`crate::fus::FusCommand::parse`] for the typed payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SysCommand<'a> {
    /// Raw opcode.
    pub opcode: u16,
    /// Payload (plen bytes).
    pub payload: &'a [u8],
}

impl<'a> SysCommand<'a> {
    /// Parses from the packet-type byte (the command buffer + 8). Bytes after the payload are
    /// ignored.
    pub fn parse(serial: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(serial, "system command");
        let ty = r.u8()?;
        if ty != u8::from(PacketType::SysCmd) {
            return Err(Error::BadPacketType {
                expected: PacketType::SysCmd.into(),
                found: ty,
            });
        }
        let opcode = r.u16_le()?;
        let plen = r.u8()?;
        let payload = r.take(usize::from(plen))?;
        Ok(Self { opcode, payload })
    }

    /// Parses a whole command buffer: skips the 8-byte list header.
    pub fn parse_packet(buf: &'a [u8]) -> Result<Self> {
        Self::parse(tail(buf, PACKET_HEADER_LEN, "system command packet")?)
    }

    /// Encoded length from the packet-type byte.
    pub fn encoded_len(&self) -> usize {
        CMD_HDR_LEN + self.payload.len()
    }

    /// Writes type, opcode, plen and payload at `out[0]`; returns bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let plen = u8::try_from(self.payload.len()).map_err(|_| Error::OutOfRange {
            what: "system command plen",
            value: self.payload.len() as u32,
            max: 255,
        })?;
        let mut w = Writer::new(out, self.encoded_len(), "system command")?;
        w.u8(PacketType::SysCmd.into());
        w.u16_le(self.opcode);
        w.u8(plen);
        w.put(self.payload);
        w.finish()
    }

    /// Writes the command at `buf[8..]` as ST's client does, leaving the list header
    /// `buf[0..8]` untouched. Returns the end offset (8 + encoded length).
    pub fn encode_packet(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.encode(tail_mut(buf, PACKET_HEADER_LEN, "system command packet")?)?;
        Ok(PACKET_HEADER_LEN + n)
    }
}

/// The command-complete response the FUS writes **at offset 0 of the command buffer**,
/// without the 8-byte header (fus-clients.md B.2, `tl.h`: "except for the command response
/// of a system command where the header is not there"; AN5185 Table 12):
/// `[0] 0x11, [1] 0x0E, [2] plen, [3] numcmd, [4..5] opcode LE, [6] status, [7..] payload`,
/// plen = 4 + payload length ("if there is no payload, the length value is four").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommandComplete<'a> {
    /// NumHCI: 0xFF per AN5185; parsed raw (see [`NUMCMD_FUS`]).
    pub numcmd: u8,
    /// Raw opcode of the answered command.
    pub opcode: u16,
    /// Status byte: a [`crate::fus::FusState`] for GET_STATE, a [`crate::fus::Status`]
    /// otherwise.
    pub status: u8,
    /// Bytes after the status (plen − 4).
    pub payload: &'a [u8],
}

impl<'a> CommandComplete<'a> {
    /// Bytes of the fixed part: type, event code, plen, numcmd, opcode, status.
    pub const FIXED_LEN: usize = 7;

    /// Parses from `buf[0]`. plen below 4 is [`Error::BadLength`]; bytes after plen are
    /// ignored (the buffer still holds the rest of the command).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(buf, "command complete");
        let ty = r.u8()?;
        if ty != u8::from(PacketType::SysRsp) {
            return Err(Error::BadPacketType {
                expected: PacketType::SysRsp.into(),
                found: ty,
            });
        }
        let code = r.u8()?;
        if code != EVT_COMMAND_COMPLETE {
            return Err(Error::BadEventCode {
                expected: EVT_COMMAND_COMPLETE,
                found: code,
            });
        }
        let plen = usize::from(r.u8()?);
        let Some(extra) = plen.checked_sub(4) else {
            return Err(Error::BadLength {
                what: "command complete plen (must be >= 4)",
                found: plen,
            });
        };
        let numcmd = r.u8()?;
        let opcode = r.u16_le()?;
        let status = r.u8()?;
        let payload = r.take(extra)?;
        Ok(Self {
            numcmd,
            opcode,
            status,
            payload,
        })
    }

    /// Encoded length.
    pub fn encoded_len(&self) -> usize {
        Self::FIXED_LEN + self.payload.len()
    }

    /// Writes the response at `out[0]`; returns bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let plen = u8::try_from(4 + self.payload.len()).map_err(|_| Error::OutOfRange {
            what: "command complete payload length",
            value: self.payload.len() as u32,
            max: 251,
        })?;
        let mut w = Writer::new(out, self.encoded_len(), "command complete")?;
        w.u8(PacketType::SysRsp.into());
        w.u8(EVT_COMMAND_COMPLETE);
        w.u8(plen);
        w.u8(self.numcmd);
        w.u16_le(self.opcode);
        w.u8(self.status);
        w.put(self.payload);
        w.finish()
    }
}

open_enum! {
    /// Sub-event codes of vendor-specific system events (WPAN `shci.h`, fus-clients.md B.1;
    /// AN5185 Table 10 documents only 0x9200, the one the FUS sends).
    pub enum SysEventCode: u16 {
        /// 0x9200 READY: sent once at start-up (AN5185 §6.3.2).
        Ready = 0x9200,
        /// 0x9201 ERROR_NOTIF.
        ErrorNotif = 0x9201,
        /// 0x9202 BLE_NVM_RAM_UPDATE.
        BleNvmRamUpdate = 0x9202,
        /// 0x9203 THREAD_NVM_RAM_UPDATE.
        ThreadNvmRamUpdate = 0x9203,
        /// 0x9204 NVM_START_WRITE.
        NvmStartWrite = 0x9204,
        /// 0x9205 NVM_END_WRITE.
        NvmEndWrite = 0x9205,
        /// 0x9206 NVM_START_ERASE.
        NvmStartErase = 0x9206,
        /// 0x9207 NVM_END_ERASE.
        NvmEndErase = 0x9207,
        /// 0x9208 CONCURRENT_802154_EVT.
        Concurrent802154Evt = 0x9208,
    }
}

/// An asynchronous system event (`TL_EvtPacket_t`, fus-clients.md B.2; AN5185 Table 10):
/// `[8] type 0x12, [9] evtcode 0xFF, [10] plen, [11..12] sub-event LE, [13..] payload`,
/// plen = 2 + payload length ("the length of SubEvtCode+Payload").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SysEvent<'a> {
    /// Raw sub-event code ([`SysEventCode`]).
    pub subevt: u16,
    /// Payload after the sub-event code.
    pub payload: &'a [u8],
}

impl<'a> SysEvent<'a> {
    /// Parses from the packet-type byte (event buffer + 8).
    pub fn parse(serial: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(serial, "system event");
        let ty = r.u8()?;
        if ty != u8::from(PacketType::SysEvt) {
            return Err(Error::BadPacketType {
                expected: PacketType::SysEvt.into(),
                found: ty,
            });
        }
        let code = r.u8()?;
        if code != EVT_VENDOR_SPECIFIC {
            return Err(Error::BadEventCode {
                expected: EVT_VENDOR_SPECIFIC,
                found: code,
            });
        }
        let plen = usize::from(r.u8()?);
        let Some(extra) = plen.checked_sub(2) else {
            return Err(Error::BadLength {
                what: "system event plen (must be >= 2)",
                found: plen,
            });
        };
        let subevt = r.u16_le()?;
        let payload = r.take(extra)?;
        Ok(Self { subevt, payload })
    }

    /// Parses a whole event buffer: skips the 8-byte list links.
    pub fn parse_packet(buf: &'a [u8]) -> Result<Self> {
        Self::parse(tail(buf, PACKET_HEADER_LEN, "system event packet")?)
    }

    /// Encoded length from the packet-type byte.
    pub fn encoded_len(&self) -> usize {
        EVT_HDR_LEN + 2 + self.payload.len()
    }

    /// Writes type, event code, plen, sub-event and payload at `out[0]`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let plen = u8::try_from(2 + self.payload.len()).map_err(|_| Error::OutOfRange {
            what: "system event payload length",
            value: self.payload.len() as u32,
            max: 253,
        })?;
        let mut w = Writer::new(out, self.encoded_len(), "system event")?;
        w.u8(PacketType::SysEvt.into());
        w.u8(EVT_VENDOR_SPECIFIC);
        w.u8(plen);
        w.u16_le(self.subevt);
        w.put(self.payload);
        w.finish()
    }

    /// Writes the event at `buf[8..]`, leaving the list links for the queue code. Returns the
    /// end offset.
    pub fn encode_packet(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.encode(tail_mut(buf, PACKET_HEADER_LEN, "system event packet")?)?;
        Ok(PACKET_HEADER_LEN + n)
    }
}

open_enum! {
    /// Payload byte of the READY event (0x9200).
    ///
    /// Disagreement: AN5185 Table 10 defines 0x02 "Software error" and "0x03 to 0xFF: Not
    /// used"; `shci.h` v1.24.0 (fus-clients.md B.1) adds 0x10 NVM_BACKUP_RUNNING and 0x11
    /// NVM_RESTORE_RUNNING and does not name 0x02. All are kept.
    pub enum ReadyKind: u8 {
        /// 0x00 WIRELESS_FW_RUNNING.
        WirelessFwRunning = 0x00,
        /// 0x01 FUS_FW_RUNNING.
        FusFwRunning = 0x01,
        /// 0x02 software error (AN5185 Table 10 only).
        SoftwareError = 0x02,
        /// 0x10 NVM_BACKUP_RUNNING (`shci.h` v1.24.0).
        NvmBackupRunning = 0x10,
        /// 0x11 NVM_RESTORE_RUNNING (`shci.h` v1.24.0).
        NvmRestoreRunning = 0x11,
    }
}

/// The READY event (sub-event 0x9200, AN5185 Table 10: length 3 = sub-event + one byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReadyEvent {
    /// What is running.
    pub kind: ReadyKind,
}

impl ReadyEvent {
    /// Encoded length from the packet-type byte: 3 + plen 3.
    pub const LEN: usize = 6;

    /// Decodes a parsed system event; the sub-event must be 0x9200 and the payload 1 byte
    /// (longer payloads are accepted, their extra bytes ignored).
    pub fn from_event(ev: &SysEvent<'_>) -> Result<Self> {
        if ev.subevt != u16::from(SysEventCode::Ready) {
            return Err(Error::UnknownValue {
                what: "READY sub-event code (expected 0x9200)",
                value: u32::from(ev.subevt),
            });
        }
        let kind = ev.payload.first().copied().ok_or(Error::BadLength {
            what: "READY event payload (must be >= 1 byte)",
            found: 0,
        })?;
        Ok(Self { kind: kind.into() })
    }

    /// Parses from the packet-type byte.
    pub fn parse(serial: &[u8]) -> Result<Self> {
        Self::from_event(&SysEvent::parse(serial)?)
    }

    /// Writes the event at `out[0]`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        SysEvent {
            subevt: SysEventCode::Ready.into(),
            payload: &[u8::from(self.kind)],
        }
        .encode(out)
    }

    /// Writes the event at `buf[8..]`, leaving the list links.
    pub fn encode_packet(&self, buf: &mut [u8]) -> Result<usize> {
        SysEvent {
            subevt: SysEventCode::Ready.into(),
            payload: &[u8::from(self.kind)],
        }
        .encode_packet(buf)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::fus::{FusCommand, FusError, FusResponse, FusState, Opcode, Status};

    #[test]
    fn forum_fus_053_response() {
        // fus-clients.md B.2: FUS 0.5.3 answered every command with these bytes.
        let b = [0x11, 0x0E, 0x04, 0xFF, 0xFE, 0x00, 0xFE, 0x00];
        let cc = CommandComplete::parse(&b).unwrap();
        assert_eq!(cc.numcmd, 0xFF);
        assert_eq!(cc.opcode, 0x00FE);
        assert_eq!(cc.status, 0xFE);
        assert_eq!(cc.payload, &[] as &[u8]);
        assert_eq!(
            FusResponse::from_cc(&cc),
            FusResponse::Status {
                opcode: 0x00FE,
                status: Status::Other(0xFE)
            }
        );
    }

    #[test]
    fn get_state_response_layout() {
        // fus-clients.md B.2 / AN5185 Table 12: [0]=0x11 [1]=0x0E [2]=plen 5 [3]=0xFF
        // [4..5]=0xFC52 LE [6]=state [7]=error; MicroPython reads status at buf[6] and the
        // result at data[7].
        let b = [0x11, 0x0E, 0x05, 0xFF, 0x52, 0xFC, 0xFF, 0x03];
        let r = FusResponse::parse(&b).unwrap();
        assert_eq!(
            r,
            FusResponse::GetState {
                state: FusState::Error,
                error: Some(FusError::ImgNotAuthentic)
            }
        );
        let mut out = [0u8; 16];
        assert_eq!(r.encode(&mut out).unwrap(), 8);
        assert_eq!(out[..8], b);
        // Fits ST's 16-byte local buffer (plen + 3 copied to offset 8).
        assert!(b[2] <= ST_CLIENT_MAX_RSP_PLEN);
    }

    #[test]
    fn store_usr_key_response_layout() {
        // Table 12: STORE_USR_KEY length 5, payload = key index at [7].
        let b = [0x11, 0x0E, 0x05, 0xFF, 0x58, 0xFC, 0x00, 0x07];
        assert_eq!(
            FusResponse::parse(&b).unwrap(),
            FusResponse::StoreUsrKey {
                status: Status::Success,
                index: Some(7)
            }
        );
        // Table 12: other commands length 4, no payload.
        let b = [0x11, 0x0E, 0x04, 0xFF, 0x55, 0xFC, 0x01];
        assert_eq!(
            FusResponse::parse(&b).unwrap(),
            FusResponse::Status {
                opcode: 0xFC55,
                status: Status::Fail
            }
        );
    }

    #[test]
    fn response_errors() {
        assert_eq!(
            CommandComplete::parse(&[0x12, 0x0E, 4, 0xFF, 0, 0, 0]),
            Err(Error::BadPacketType {
                expected: 0x11,
                found: 0x12
            })
        );
        assert_eq!(
            CommandComplete::parse(&[0x11, 0x0F, 4, 0xFF, 0, 0, 0]),
            Err(Error::BadEventCode {
                expected: 0x0E,
                found: 0x0F
            })
        );
        assert_eq!(
            CommandComplete::parse(&[0x11, 0x0E, 3, 0xFF, 0, 0, 0]),
            Err(Error::BadLength {
                what: "command complete plen (must be >= 4)",
                found: 3
            })
        );
        assert!(matches!(
            CommandComplete::parse(&[0x11, 0x0E, 6, 0xFF, 0, 0, 0, 1]),
            Err(Error::TooShort {
                needed: 9,
                got: 8,
                ..
            })
        ));
    }

    #[test]
    fn command_packet_layout() {
        // fus-clients.md B.2: [0..7] links, [8]=0x10, [9..10] opcode LE, [11] plen, [12..].
        let mut buf = [0u8; CMD_PACKET_LEN];
        buf[..8].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        buf[8..12].copy_from_slice(&[0x10, 0x52, 0xFC, 0x00]);
        let c = SysCommand::parse_packet(&buf).unwrap();
        assert_eq!(c.opcode, 0xFC52);
        assert_eq!(FusCommand::parse(&c).unwrap(), FusCommand::GetState);

        // Our encoder writes the same bytes and leaves the links alone.
        let mut out = [0xEEu8; 16];
        let n = FusCommand::GetState.encode_packet(&mut out).unwrap();
        assert_eq!(n, 12);
        assert_eq!(out[..8], [0xEE; 8]);
        assert_eq!(out[8..12], buf[8..12]);

        // Unknown opcode: the packet still parses, the typed command does not.
        buf[9..11].copy_from_slice(&0xFC60u16.to_le_bytes());
        let c = SysCommand::parse_packet(&buf).unwrap();
        assert_eq!(c.opcode, 0xFC60);
        assert!(matches!(
            FusCommand::parse(&c),
            Err(Error::UnknownValue { value: 0xFC60, .. })
        ));
        buf[9..11].copy_from_slice(&0x1234u16.to_le_bytes());
        assert!(SysCommand::parse_packet(&buf).is_ok());
        assert!(Opcode::try_from(0x1234).is_err());
    }

    #[test]
    fn encrypted_key_example() {
        // AN5185 §5.1 example payload: 0x03 (encrypted), 0x20 (32 bytes), key[0..32],
        // IV[0..12] at bytes 34..45.
        let mut payload = [0u8; 46];
        payload[0] = 0x03;
        payload[1] = 0x20;
        for (i, b) in payload[2..34].iter_mut().enumerate() {
            *b = i as u8;
        }
        for (i, b) in payload[34..46].iter_mut().enumerate() {
            *b = 0xA0 + i as u8;
        }
        let c = SysCommand {
            opcode: 0xFC58,
            payload: &payload,
        };
        match FusCommand::parse(&c).unwrap() {
            FusCommand::StoreUsrKey { key_type, key, iv } => {
                assert_eq!(key_type, crate::fus::KeyType::Encrypted);
                assert_eq!(key, &payload[2..34]);
                assert_eq!(iv.unwrap()[0], 0xA0);
                assert_eq!(iv.unwrap()[11], 0xAB);
            }
            other => panic!("{other:?}"),
        }
        // Length must match KeySize + 2 + 12.
        let short = SysCommand {
            opcode: 0xFC58,
            payload: &payload[..45],
        };
        assert!(matches!(
            FusCommand::parse(&short),
            Err(Error::BadLength { found: 45, .. })
        ));
    }

    #[test]
    fn auth_key_as_st_sends_it() {
        // fus-clients.md B.1: ST always sends 65 bytes (KeySize + KeyData[64]).
        let mut payload = [0u8; 65];
        payload[0] = 16;
        payload[1] = 0x5A;
        let c = SysCommand {
            opcode: 0xFC56,
            payload: &payload,
        };
        assert_eq!(
            FusCommand::parse(&c).unwrap(),
            FusCommand::UpdateAuthKey {
                key: &payload[1..17]
            }
        );
        payload[0] = 65;
        let c = SysCommand {
            opcode: 0xFC56,
            payload: &payload,
        };
        assert!(matches!(
            FusCommand::parse(&c),
            Err(Error::OutOfRange { value: 65, .. })
        ));
    }

    #[test]
    fn fw_upgrade_lengths() {
        // AN5185 Table 11: 0, 4 or 8 bytes; others rejected.
        for (len, ok) in [
            (0, true),
            (4, true),
            (8, true),
            (1, false),
            (5, false),
            (12, false),
        ] {
            let p = [0x11u8; 12];
            let c = SysCommand {
                opcode: 0xFC54,
                payload: &p[..len],
            };
            assert_eq!(FusCommand::parse(&c).is_ok(), ok, "len {len}");
        }
    }

    #[test]
    fn ready_event_layout() {
        // AN5185 Table 10 / fus-clients.md B.2: [8]=0x12 [9]=0xFF [10]=plen 3
        // [11..12]=0x9200 LE [13]=payload (0x01 FUS running).
        let mut buf = [0u8; 16];
        buf[8..14].copy_from_slice(&[0x12, 0xFF, 0x03, 0x00, 0x92, 0x01]);
        let ev = SysEvent::parse_packet(&buf).unwrap();
        assert_eq!(ev.subevt, 0x9200);
        assert_eq!(SysEventCode::from(ev.subevt), SysEventCode::Ready);
        let r = ReadyEvent::from_event(&ev).unwrap();
        assert_eq!(r.kind, ReadyKind::FusFwRunning);

        let mut out = [0u8; 16];
        assert_eq!(r.encode_packet(&mut out).unwrap(), 14);
        assert_eq!(out[8..14], buf[8..14]);
        assert_eq!(ReadyEvent::LEN, 6);
    }

    #[test]
    fn channel_masks() {
        assert_eq!(channel::mask(channel::SYSTEM_CMD_RSP), 0x02);
        assert_eq!(channel::mask(channel::MM_RELEASE_BUFFER), 0x08);
        assert_eq!(channel::mask(0), 0);
        assert_eq!(channel::mask(7), 0);
    }

    #[test]
    fn embassy_mirror_fits() {
        // Every FUS response is at most 8 bytes, so the copy at offset 8 (status at 14, where
        // embassy reads it) does not overlap the one at offset 0.
        let r = FusResponse::GetState {
            state: FusState::Idle,
            error: Some(FusError::NoError),
        };
        let mut buf = [0u8; CMD_PACKET_LEN];
        let n = r.encode(&mut buf[RSP_OFFSET..]).unwrap();
        assert!(n <= RSP_OFFSET_EMBASSY);
        r.encode(&mut buf[RSP_OFFSET_EMBASSY..]).unwrap();
        assert_eq!(buf[14], 0x00);
        assert_eq!(buf[6], 0x00);
        assert_eq!(buf[0], 0x11);
        assert_eq!(buf[8], 0x11);
    }
}
