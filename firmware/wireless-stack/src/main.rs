//! The sample wireless stack (CPU2, Cortex-M0+): what the FUS installs and starts, and what
//! the operator (CPU1) talks to through the shared tables and IPCC channel 2.
//!
//! At boot it writes the device information table in the wireless-stack layout, queues the
//! READY event (0x9200, "wireless firmware running") once on the system event queue, then
//! answers system commands from the command buffer:
//! - FUS_GET_STATE: status 0xFF (SHCI_FUS_CMD_NOT_SUPPORTED) with payload 0xFE
//!   (FUS_STATE_NOT_RUNNING); a second FUS_GET_STATE right after the first is not answered:
//!   the stack sets SBRV to the FUS and reloads the option bytes (a system reset), so that the
//!   FUS runs next (AN5185 §1.3, "two consecutive FUS_GET_STATE").
//! - BLE_INIT: success.
//! - the vendor echo (`layout::WS_ECHO_OPCODE`): success and up to 4 payload bytes echoed.
//! - other FUS opcodes (0xFC50..=0xFC65): 0xFF; anything else, including packets that do not
//!   parse: 0x01 (SHCI_UNKNOWN_CMD).
//!
//! Every pointer read from shared RAM is checked to lie in the public part of SRAM2a, with
//! room for what is read or written there; what is invalid is skipped.
//!
//! Two builds: 1.0.0 (default, 16 KiB at 0x080F_0000) and 1.1.0 (feature `v1_1`, 132 KiB at
//! 0x080D_3000). The image covers its flash region exactly (see link.x).
#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, Ordering};

use guest_rt::{nvic_enable, read32, write32};
use wb_proto::fus::{Opcode, Status};
use wb_proto::image::{MemorySize, Version};
use wb_proto::layout;
use wb_proto::tables::{self, info_stack_type, MemManagerTable, RefTable, SysTable, WsDeviceInfo};
use wb_proto::tl::{self, CommandComplete, ReadyEvent, ReadyKind, SysCommand};

/// IRQ 19 is CPU2's IPCC RX/TX and HSEM line.
#[link_section = ".vector_table"]
#[no_mangle]
pub static VECTORS: guest_rt::vectors::Cpu2Vectors =
    guest_rt::vectors::VectorTable::new().irq(19, WsIpccIrq);

/// Version of this build: 1.0.0, release (build 1), branch 0.
#[cfg(not(feature = "v1_1"))]
pub const VERSION: Version = version(1, 0, 0);
/// Memory-size word of this build: SRAM2b 16 KiB, SRAM2a 4 KiB, 4 flash sectors.
#[cfg(not(feature = "v1_1"))]
pub const MEMORY_SIZE: MemorySize = MemorySize::new(16, 4, 0, 4);
/// Where this build is linked (its vector table).
#[cfg(not(feature = "v1_1"))]
pub const ORIGIN: u32 = 0x080F_0000;

/// Version of this build: 1.1.0, release (build 1), branch 0.
#[cfg(feature = "v1_1")]
pub const VERSION: Version = version(1, 1, 0);
/// Memory-size word of this build: SRAM2b 20 KiB, SRAM2a 8 KiB, 33 flash sectors.
#[cfg(feature = "v1_1")]
pub const MEMORY_SIZE: MemorySize = MemorySize::new(20, 8, 0, 33);
/// Where this build is linked (its vector table).
#[cfg(feature = "v1_1")]
pub const ORIGIN: u32 = 0x080D_3000;

/// Flash bytes of this build: it ends where the FUS starts.
pub const FLASH_LEN: u32 = layout::FUS_VECTOR - ORIGIN;
const _: () = assert!(FLASH_LEN == MEMORY_SIZE.flash_sectors() as u32 * layout::PAGE_SIZE);

const fn version(major: u8, minor: u8, sub: u8) -> Version {
    match Version::new(major, minor, sub, 0, 1) {
        Ok(v) => v,
        Err(_) => Version::NONE,
    }
}

// Registers.
use wb_regs::flash::at::{
    C2SR as FLASH_C2SR, CR as FLASH_CR, IPCCBR as FLASH_IPCCBR, KEYR as FLASH_KEYR,
    OPTKEYR as FLASH_OPTKEYR, SRRVR as FLASH_SRRVR,
};
use wb_regs::flash::cr::{
    LOCK as CR_LOCK, OBL_LAUNCH as CR_OBL_LAUNCH, OPTLOCK as CR_OPTLOCK, OPTSTRT as CR_OPTSTRT,
};
use wb_regs::flash::sr::BSY as SR_BSY;
use wb_regs::rcc::at::C2AHB3ENR as RCC_C2AHB3ENR;
use wb_regs::rcc::enable::IPCCEN;
const SRRVR_SBRV: u32 = 0x3_FFFF;
const SRRVR_BRSD: u32 = 1 << 23;

use wb_regs::ipcc::at::{
    C1TOC2SR as IPCC_C1TOC2SR, C2CR as IPCC_C2CR, C2MR as IPCC_C2MR, C2SCR as IPCC_C2SCR,
};
use wb_regs::ipcc::RXOIE;
/// Channel 2 (system command/response from CPU1, system events to CPU1).
const CH2: u32 = tl::channel::mask(tl::channel::SYSTEM_CMD_RSP);
const IPCC_IRQ: u32 = 19;

const SRAM2A: u32 = tables::SRAM2A_BASE;

/// The opcode of the previous command received (0: none yet, or one that did not parse).
static PREV_OPCODE: AtomicU32 = AtomicU32::new(0);

#[no_mangle]
pub extern "C" fn app_main() -> ! {
    write32(RCC_C2AHB3ENR, read32(RCC_C2AHB3ENR) | IPCCEN);
    let ipccdba = read32(FLASH_IPCCBR) & 0x3FFF;
    let ref_table = tables::ref_table_address(ipccdba);
    let shared = Shared::now();
    if !tables::fits_in_sram2a(ref_table, RefTable::LEN as u32)
        || !shared.fits(ref_table, RefTable::LEN as u32)
    {
        // AN5185 §1.6: tables that do not fit are not used at all.
        idle();
    }
    if let Ok(rt) = RefTable::parse(&shared.load::<{ RefTable::LEN }>(ref_table)) {
        write_device_info(&shared, rt.device_info);
    }

    // Commands on channel 2: RX-occupied interrupt, unmasked.
    write32(IPCC_C2CR, read32(IPCC_C2CR) | RXOIE);
    write32(IPCC_C2MR, read32(IPCC_C2MR) & !CH2);
    nvic_enable(IPCC_IRQ);

    if let Ok(rt) = RefTable::parse(&shared.load::<{ RefTable::LEN }>(ref_table)) {
        send_ready(&shared, &rt);
    }
    idle();
}

fn idle() -> ! {
    loop {
        unsafe { core::arch::asm!("wfi") };
    }
}

/// The public part of SRAM2a as the option bytes set it, and checked access to it.
struct Shared {
    end: u32,
}

impl Shared {
    fn now() -> Shared {
        let srrvr = read32(FLASH_SRRVR);
        let end = if srrvr & SRRVR_BRSD == 0 {
            SRAM2A + ((srrvr >> 18) & 0x1F) * 1024
        } else {
            SRAM2A + tables::SRAM2A_SIZE
        };
        Shared { end }
    }

    /// `len` bytes at `addr` lie in public SRAM2a.
    fn fits(&self, addr: u32, len: u32) -> bool {
        addr >= SRAM2A && addr <= self.end && self.end - addr >= len
    }

    /// Word-aligned and [`Shared::fits`]: what word accesses need.
    fn fits_words(&self, addr: u32, len: u32) -> bool {
        addr.is_multiple_of(4) && self.fits(addr, len)
    }

    /// Bytes available from `addr` to the end of public SRAM2a (0 outside it).
    fn room(&self, addr: u32) -> u32 {
        if self.fits(addr, 0) {
            self.end - addr
        } else {
            0
        }
    }

    /// N bytes (N a multiple of 4) at a word-aligned address checked by the caller.
    fn load<const N: usize>(&self, addr: u32) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, chunk) in out.chunks_exact_mut(4).enumerate() {
            chunk.copy_from_slice(&read32(addr + 4 * i as u32).to_le_bytes());
        }
        out
    }
}

fn read8(addr: u32) -> u8 {
    unsafe { read_volatile(addr as *const u8) }
}

fn write8(addr: u32, v: u8) {
    unsafe { write_volatile(addr as *mut u8, v) }
}

fn store_words(addr: u32, bytes: &[u8]) {
    for (i, chunk) in bytes.chunks_exact(4).enumerate() {
        let w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        write32(addr + 4 * i as u32, w);
    }
}

/// The device information table in the wireless-stack layout (`MB_DeviceInfoTable_t`).
fn write_device_info(shared: &Shared, at: u32) {
    if !shared.fits_words(at, WsDeviceInfo::LEN as u32) {
        return;
    }
    let info = WsDeviceInfo {
        safeboot_version: layout::safeboot::version(read32),
        fus_version: layout::FUS_VERSION,
        fus_memory_size: layout::FUS_MEMORY_SIZE,
        fus_info: 0,
        ws_version: VERSION,
        ws_memory_size: MEMORY_SIZE,
        info_stack: info_stack_type::BLE_FULL as u32,
        reserved: 0,
    };
    let mut bytes = [0u8; WsDeviceInfo::LEN];
    if info.encode(&mut bytes).is_ok() {
        store_words(at, &bytes);
    }
}

/// The system table, if the reference table points to a valid one.
fn sys_table(shared: &Shared, rt: &RefTable) -> Option<SysTable> {
    if !shared.fits_words(rt.sys, SysTable::LEN as u32) {
        return None;
    }
    SysTable::parse(&shared.load::<{ SysTable::LEN }>(rt.sys)).ok()
}

/// READY (wireless firmware running), built in the spare system event buffer and appended to
/// the system event queue, then announced on channel 2.
fn send_ready(shared: &Shared, rt: &RefTable) {
    let Some(sys) = sys_table(shared, rt) else {
        return;
    };
    if !shared.fits_words(rt.mem_manager, MemManagerTable::LEN as u32) {
        return;
    }
    let Ok(mm) = MemManagerTable::parse(&shared.load::<{ MemManagerTable::LEN }>(rt.mem_manager))
    else {
        return;
    };
    let evt = mm.spare_sys_buffer;
    let queue = sys.sys_queue;
    let len = tl::PACKET_HEADER_LEN + ReadyEvent::LEN;
    if !shared.fits_words(evt, len as u32) || !shared.fits_words(queue, tl::ListNode::LEN as u32) {
        return;
    }
    // The event and the queue head must not overlap.
    if evt < queue + tl::ListNode::LEN as u32 && queue < evt + len as u32 {
        return;
    }
    let mut packet = [0u8; 16];
    let ready = ReadyEvent {
        kind: ReadyKind::WirelessFwRunning,
    };
    let Ok(end) = ready.encode_packet(&mut packet) else {
        return;
    };
    for (i, b) in packet
        .iter()
        .enumerate()
        .take(end)
        .skip(tl::PACKET_HEADER_LEN)
    {
        write8(evt + i as u32, *b);
    }
    insert_tail(shared, queue, evt);
    write32(IPCC_C2SCR, CH2 << 16);
}

/// `LST_insert_tail`: append `node` to the circular list headed at `head`. A head whose
/// `prev` link is invalid is taken for an empty list.
fn insert_tail(shared: &Shared, head: u32, node: u32) {
    let prev = read32(head + 4);
    let prev = if shared.fits_words(prev, tl::ListNode::LEN as u32) {
        prev
    } else {
        head
    };
    write32(node, head);
    write32(node + 4, prev);
    write32(head + 4, node);
    write32(prev, node);
}

/// CPU2's combined IPCC line: a system command on channel 2.
#[no_mangle]
pub extern "C" fn WsIpccIrq() {
    if read32(IPCC_C1TOC2SR) & !read32(IPCC_C2MR) & CH2 != 0 {
        serve_command();
    }
}

fn serve_command() {
    let shared = Shared::now();
    let ref_table = tables::ref_table_address(read32(FLASH_IPCCBR) & 0x3FFF);
    let cmd = if shared.fits_words(ref_table, RefTable::LEN as u32) {
        RefTable::parse(&shared.load::<{ RefTable::LEN }>(ref_table))
            .ok()
            .and_then(|rt| sys_table(&shared, &rt))
            .map(|sys| sys.cmd_buffer)
    } else {
        None
    };
    // Room for the command header and for the longest response.
    let min = (tl::PACKET_HEADER_LEN + tl::CMD_HDR_LEN) as u32;
    let Some(cmd) = cmd.filter(|&c| shared.room(c) >= min) else {
        // Nowhere to answer: free the channel so that CPU1 does not wait forever.
        PREV_OPCODE.store(0, Ordering::Relaxed);
        write32(IPCC_C2SCR, CH2);
        return;
    };
    let avail = (shared.room(cmd) as usize).min(tl::CMD_PACKET_LEN);
    let mut buf = [0u8; tl::CMD_PACKET_LEN];
    for (i, b) in buf.iter_mut().enumerate().take(avail) {
        *b = read8(cmd + i as u32);
    }
    let raw_opcode = u16::from_le_bytes([buf[9], buf[10]]);
    let prev = PREV_OPCODE.load(Ordering::Relaxed);
    let (opcode, status, payload): (u16, u8, &[u8]) =
        match SysCommand::parse_packet(buf.get(..avail).unwrap_or(&[])) {
            Ok(c) => {
                PREV_OPCODE.store(u32::from(c.opcode), Ordering::Relaxed);
                answer(c, prev)
            }
            Err(_) => {
                PREV_OPCODE.store(0, Ordering::Relaxed);
                (raw_opcode, u8::from(Status::Fail), &[])
            }
        };
    let mut out = [0u8; CommandComplete::FIXED_LEN + 4];
    let rsp = CommandComplete {
        numcmd: tl::NUMCMD_FUS,
        opcode,
        status,
        payload,
    };
    if let Ok(n) = rsp.encode(&mut out) {
        for (i, b) in out.iter().enumerate().take(n) {
            write8(cmd + (tl::RSP_OFFSET + i) as u32, *b);
        }
    }
    // Taken and answered: CPU1 gets its TX-free interrupt.
    write32(IPCC_C2SCR, CH2);
}

const GET_STATE: u16 = Opcode::FusGetState as u16;
const BLE_INIT: u16 = Opcode::BleInit as u16;
const FUS_FIRST: u16 = Opcode::C2Reserved1 as u16;
const FUS_LAST: u16 = Opcode::FusReserved12 as u16;
/// FUS_STATE_NOT_RUNNING, the payload of the answer to FUS_GET_STATE.
const FUS_STATE_NOT_RUNNING: u8 = 0xFE;

/// Status and payload for a parsed command; `prev` is the previous command's opcode.
fn answer<'a>(c: SysCommand<'a>, prev: u32) -> (u16, u8, &'a [u8]) {
    let op = c.opcode;
    match op {
        GET_STATE if prev == u32::from(GET_STATE) => reboot_to_fus(),
        GET_STATE => (
            op,
            u8::from(Status::FusCmdNotSupported),
            &[FUS_STATE_NOT_RUNNING],
        ),
        BLE_INIT => (op, u8::from(Status::Success), &[]),
        layout::WS_ECHO_OPCODE if c.payload.len() <= 4 => {
            (op, u8::from(Status::Success), c.payload)
        }
        layout::WS_ECHO_OPCODE => (op, u8::from(Status::InvalidHciCmdParams), &[]),
        FUS_FIRST..=FUS_LAST => (op, u8::from(Status::FusCmdNotSupported), &[]),
        _ => (op, u8::from(Status::Fail), &[]),
    }
}

/// Two consecutive FUS_GET_STATE: make the FUS CPU2's boot vector (SBRV, the other SRRVR
/// fields kept; SFR untouched: the stack stays installed) and launch the option-byte load,
/// which resets the system.
fn reboot_to_fus() -> ! {
    let srrvr = read32(FLASH_SRRVR);
    let value = (srrvr & !SRRVR_SBRV) | (layout::FUS_SBRV & SRRVR_SBRV);
    while read32(FLASH_C2SR) & SR_BSY != 0 {}
    if read32(FLASH_CR) & CR_LOCK != 0 {
        write32(FLASH_KEYR, wb_regs::flash::KEY1);
        write32(FLASH_KEYR, wb_regs::flash::KEY2);
    }
    if read32(FLASH_CR) & CR_OPTLOCK != 0 {
        write32(FLASH_OPTKEYR, wb_regs::flash::OPTKEY1);
        write32(FLASH_OPTKEYR, wb_regs::flash::OPTKEY2);
    }
    write32(FLASH_SRRVR, value);
    write32(FLASH_CR, read32(FLASH_CR) | CR_OPTSTRT);
    while read32(FLASH_C2SR) & SR_BSY != 0 {}
    write32(FLASH_CR, read32(FLASH_CR) | CR_OBL_LAUNCH);
    idle();
}
