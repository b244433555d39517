//! The shared tables and the system channel (AN5185 §1.6, §6; fus-clients.md B.2–B.5):
//! activation from IPCCDBA, the device information table, the READY event, and the command
//! handler on IPCC channel 2 that answers at offset 0 of the command buffer.

use crate::hw::{self, bytes, ipcc, read32, write32, write8};
use crate::Shared;
use wb_proto::fus::{FusCommand, FusError, FusResponse, FusState, Status};
use wb_proto::tables::{
    ref_table_address, FusDeviceInfo, LastFusState, LastWsState, MemManagerTable, RefTable,
    SysTable, WsType, SRAM2A_BASE,
};
use wb_proto::tl::{
    CommandComplete, ReadyEvent, ReadyKind, SysCommand, CMD_PACKET_LEN, NUMCMD_FUS,
    PACKET_HEADER_LEN,
};
use wb_proto::{image::MemorySize, image::Version, layout, Error};

const CH2: u32 = 1 << 1;

/// Where the client's tables are, once validated.
#[derive(Clone, Copy)]
pub struct Link {
    pub cmd_buffer: u32,
    pub sys_queue: u32,
    pub spare_evt: u32,
}

/// The public part of SRAM2a: the secure part (SBRSA) is not the client's.
fn public_end(srrvr: u32) -> u32 {
    if srrvr & (1 << 23) == 0 {
        SRAM2A_BASE + ((srrvr >> 18) & 0x1F) * 1024
    } else {
        SRAM2A_BASE + 0x8000
    }
}

fn fits(addr: u32, len: u32, end: u32) -> bool {
    addr >= SRAM2A_BASE && addr < end && len <= end - addr
}

/// What the device information table says about the FUS and the stack.
pub struct Info {
    pub last_fus_state: LastFusState,
    pub last_ws_state: LastWsState,
    pub ws: Option<(u32, u32)>,
}

/// AN5185 §1.6: read IPCCDBA; no usable reference table → no communication at all.
/// Otherwise write the device information table and return the system channel's buffers.
pub fn activate(srrvr: u32, info: &Info) -> Option<Link> {
    let end = public_end(srrvr);
    let ipccdba = read32(hw::flash::IPCCBR) & 0x3FFF;
    let rt_addr = ref_table_address(ipccdba);
    if !fits(rt_addr, RefTable::LEN as u32, end) {
        return None;
    }
    let rt = RefTable::parse(bytes(rt_addr, RefTable::LEN as u32)).ok()?;
    if fits(rt.device_info, FusDeviceInfo::ENCODED_LEN as u32, end) {
        write_device_info(rt.device_info, info);
    }
    if !fits(rt.sys, SysTable::LEN as u32, end)
        || !fits(rt.mem_manager, MemManagerTable::LEN as u32, end)
    {
        return None;
    }
    let sys = SysTable::parse(bytes(rt.sys, SysTable::LEN as u32)).ok()?;
    let mm = MemManagerTable::parse(bytes(rt.mem_manager, MemManagerTable::LEN as u32)).ok()?;
    let ok = fits(sys.cmd_buffer, CMD_PACKET_LEN as u32, end)
        && fits(sys.sys_queue, 8, end)
        && fits(
            mm.spare_sys_buffer,
            (PACKET_HEADER_LEN + ReadyEvent::LEN) as u32,
            end,
        );
    ok.then_some(Link {
        cmd_buffer: sys.cmd_buffer,
        sys_queue: sys.sys_queue,
        spare_evt: mm.spare_sys_buffer,
    })
}

fn write_device_info(addr: u32, info: &Info) {
    let mut uid = [0u8; 8];
    uid.copy_from_slice(bytes(hw::UID64, 8));
    let (ws_version, ws_memory) = info.ws.unwrap_or((0, 0));
    let table = FusDeviceInfo {
        reserved1: 0,
        last_fus_state: info.last_fus_state,
        last_ws_state: info.last_ws_state,
        ws_type: if info.ws.is_some() {
            WsType::Ble
        } else {
            WsType::None
        },
        safeboot_version: layout::safeboot::version(hw::read32),
        fus_version: layout::FUS_VERSION,
        fus_memory_size: layout::FUS_MEMORY_SIZE,
        ws_version: Version(ws_version),
        ws_memory_size: MemorySize(ws_memory),
        ws_ble_info: 0,
        ws_thread_info: 0,
        reserved2: 0,
        uid64: u64::from_le_bytes(uid),
        device_id: layout::DEVICE_ID,
    };
    let mut out = [0u8; FusDeviceInfo::ENCODED_LEN];
    if table.encode(&mut out).is_ok() {
        copy_out(addr, &out);
    }
}

fn copy_out(addr: u32, data: &[u8]) {
    for (i, &b) in data.iter().enumerate() {
        write8(addr + i as u32, b);
    }
}

/// Start listening on channel 2 and send READY (FUS running) once.
pub fn start(link: &Link) {
    hw::set_bits(ipcc::C2CR, ipcc::RXOIE);
    hw::clear_bits(ipcc::C2MR, CH2);
    // The event: links, then 0x12 0xFF plen 0x9200 0x01, appended to the system queue.
    let mut ev = [0u8; ReadyEvent::LEN];
    if (ReadyEvent {
        kind: ReadyKind::FusFwRunning,
    })
    .encode(&mut ev)
    .is_ok()
    {
        copy_out(link.spare_evt + PACKET_HEADER_LEN as u32, &ev);
        enqueue(link.sys_queue, link.spare_evt);
        write32(ipcc::C2SCR, CH2 << 16);
    }
    crate::nvic_enable(ipcc::IRQ);
}

/// Append `node` to the circular list at `head` (ST's LST_insert_tail).
fn enqueue(head: u32, node: u32) {
    let tail = read32(head + 4);
    write32(node, head);
    write32(node + 4, tail);
    // A corrupt head (tail outside SRAM2a) is repaired rather than followed.
    if fits(tail, 8, SRAM2A_BASE + 0x8000) {
        write32(tail, node);
    } else {
        write32(head, node);
        write32(node + 4, head);
    }
    write32(head + 4, node);
}

/// What the handler answers: a typed FUS response, or a bare status for a command it
/// refuses (its opcode echoed, whatever it is).
enum Answer {
    Fus(FusResponse),
    Refused(u16, Status),
}

fn respond(buf: u32, r: Answer) {
    let mut out = [0u8; 8];
    let encoded = match r {
        Answer::Fus(r) => r.encode(&mut out),
        Answer::Refused(opcode, status) => CommandComplete {
            numcmd: NUMCMD_FUS,
            opcode,
            status: status.into(),
            payload: &[],
        }
        .encode(&mut out),
    };
    if let Ok(n) = encoded {
        // At offset 0 as ST's and MicroPython's clients read it, mirrored at offset 8 where
        // embassy reads it (wb_proto::tl::RSP_OFFSET_EMBASSY); both fit without overlap.
        copy_out(buf, &out[..n]);
        copy_out(buf + PACKET_HEADER_LEN as u32, &out[..n]);
    }
}

fn status(opcode: u16, status: Status) -> Answer {
    Answer::Refused(opcode, status)
}

/// A command arrived on channel 2: answer it and release the channel.
pub fn on_command(buf: u32) {
    let raw = bytes(buf, CMD_PACKET_LEN as u32);
    let opcode = u16::from_le_bytes([raw[9], raw[10]]);
    let r = match SysCommand::parse_packet(raw) {
        Err(_) => status(opcode, Status::Fail),
        Ok(cmd) => match FusCommand::parse(&cmd) {
            Ok(c) => crate::shared(|sh| command(sh, c, opcode)),
            Err(Error::UnknownValue { .. }) => status(opcode, Status::Fail),
            Err(_) => status(opcode, Status::InvalidHciCmdParams),
        },
    };
    respond(buf, r);
    write32(ipcc::C2SCR, CH2);
}

fn command(sh: &mut Shared, c: FusCommand<'_>, opcode: u16) -> Answer {
    let busy = sh.pending != crate::Pending::None || (sh.state != 0 && sh.state != 0xFF);
    let accept = |sh: &mut Shared, p: crate::Pending, state: u8| {
        sh.pending = p;
        sh.state = state;
        sh.error = 0;
        status(opcode, Status::Success)
    };
    match c {
        FusCommand::GetState => {
            let r = Answer::Fus(FusResponse::GetState {
                state: FusState::from(sh.state),
                error: Some(FusError::from(sh.error)),
            });
            // An error is reported once, then the FUS is idle again (AN5185 Table 6).
            if sh.state == 0xFF {
                sh.state = 0;
                sh.error = 0;
                sh.clear_error = true;
            }
            r
        }
        _ if busy => status(opcode, Status::Fail),
        FusCommand::FwUpgrade(_) => {
            accept(sh, crate::Pending::Install, crate::ops::state_of_install(1))
        }
        FusCommand::FwDelete | FusCommand::FwPurge => {
            if sh.ws_installed {
                accept(sh, crate::Pending::Delete, crate::ops::DELETE_STATE)
            } else {
                // AN5185 §2.2: no stack → the error state IMG_NOT_FOUND.
                sh.state = 0xFF;
                sh.error = FusError::ImgNotFound.into();
                status(opcode, Status::Success)
            }
        }
        FusCommand::StartWs if sh.ws_installed => accept(sh, crate::Pending::StartWs, 0),
        // Auth key, user keys and anti-rollback are not implemented yet.
        _ => status(opcode, Status::Fail),
    }
}
