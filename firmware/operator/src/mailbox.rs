//! The CPU1 side of the mailbox, as ST's TL_Init / shci_init / TL_MM_Init / TL_Enable and
//! hw_ipcc.c do it: the shared tables at `layout::tables`, IPCC channel 2 for system commands
//! (TX-free interrupt, IRQ 45) and system events (RX-occupied interrupt, IRQ 44).

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use guest_rt::{nvic_enable, read32, write32};
use wb_proto::layout::tables as at;
use wb_proto::tables::{self, MemManagerTable, RefTable, SysTable};
use wb_proto::tl::{self, ListNode, SysEvent};

use wb_regs::flash::at::SRRVR as FLASH_SRRVR;
use wb_regs::ipcc::at::{
    C1CR as IPCC_C1CR, C1MR as IPCC_C1MR, C1SCR as IPCC_C1SCR, C1TOC2SR as IPCC_C1TOC2SR,
    C2TOC1SR as IPCC_C2TOC1SR,
};
use wb_regs::ipcc::{RXOIE, TXFIE};
use wb_regs::rcc::at::{AHB1ENR as RCC_AHB1ENR, AHB3ENR as RCC_AHB3ENR};
use wb_regs::rcc::enable::{CRCEN, IPCCEN};
const CH2: u32 = tl::channel::mask(tl::channel::SYSTEM_CMD_RSP);
pub const RX_IRQ: u32 = 44;
pub const TX_IRQ: u32 = 45;

/// The answer to the last command has arrived (CPU2 cleared the channel).
static TX_DONE: AtomicBool = AtomicBool::new(false);

/// Events taken from the queue by the RX interrupt, for the thread to log: a ring of
/// records (sub-event code, payload byte, device-info word 0, version word).
const EVENTS: usize = 8;
static EVT: [[AtomicU32; 4]; EVENTS] = [const { [const { AtomicU32::new(0) }; 4] }; EVENTS];
static EVT_HEAD: AtomicU32 = AtomicU32::new(0);
static EVT_TAIL: AtomicU32 = AtomicU32::new(0);

/// An event as the RX interrupt recorded it.
#[derive(Clone, Copy)]
pub struct Event {
    pub subevt: u32,
    /// First payload byte, 0xFFFF_FFFF when none.
    pub payload: u32,
    /// Device-info table word 0 when the event arrived.
    pub info_word0: u32,
    /// FUS version (FUS layout) or wireless-stack version (stack layout) when it arrived.
    pub version: u32,
}

fn read8(addr: u32) -> u8 {
    unsafe { read_volatile(addr as *const u8) }
}

fn write8(addr: u32, v: u8) {
    unsafe { write_volatile(addr as *mut u8, v) }
}

fn store(addr: u32, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        write8(addr + i as u32, *b);
    }
}

/// TL_Init + shci_init + TL_MM_Init: the reference table and its sub-tables, empty queues.
pub fn init_tables() {
    for a in (at::REF_TABLE..at::END).step_by(4) {
        write32(a, 0);
    }
    let mut buf = [0u8; RefTable::LEN];
    let rt = RefTable {
        device_info: at::DEVICE_INFO,
        sys: at::SYS_TABLE,
        mem_manager: at::MEM_MANAGER_TABLE,
        ..RefTable::default()
    };
    if rt.encode(&mut buf).is_ok() {
        store(at::REF_TABLE, &buf);
    }
    let mut buf = [0u8; SysTable::LEN];
    let st = SysTable {
        cmd_buffer: at::SYS_CMD_BUFFER,
        sys_queue: at::SYS_QUEUE,
    };
    if st.encode(&mut buf).is_ok() {
        store(at::SYS_TABLE, &buf);
    }
    init_list(at::SYS_QUEUE);
    let mut buf = [0u8; MemManagerTable::LEN];
    let mm = MemManagerTable {
        spare_sys_buffer: at::SYS_SPARE_EVT_BUFFER,
        evt_free_buffer_queue: at::FREE_BUF_QUEUE,
        ..MemManagerTable::default()
    };
    if mm.encode(&mut buf).is_ok() {
        store(at::MEM_MANAGER_TABLE, &buf);
    }
    init_list(at::FREE_BUF_QUEUE);
}

fn init_list(head: u32) {
    let mut buf = [0u8; ListNode::LEN];
    if ListNode::empty_at(head).encode(&mut buf).is_ok() {
        store(head, &buf);
    }
}

/// CRC clock (AN5185 Table 4), HW_IPCC_Init and HW_IPCC_SYS_Init: both interrupts, system
/// events received on channel 2.
pub fn init_ipcc() {
    write32(RCC_AHB1ENR, read32(RCC_AHB1ENR) | CRCEN);
    write32(RCC_AHB3ENR, read32(RCC_AHB3ENR) | IPCCEN);
    write32(IPCC_C1CR, read32(IPCC_C1CR) | RXOIE | TXFIE);
    nvic_enable(RX_IRQ);
    nvic_enable(TX_IRQ);
    write32(IPCC_C1MR, read32(IPCC_C1MR) & !CH2);
}

/// Whether the command channel is free (no command of ours waits for CPU2).
pub fn channel_free() -> bool {
    read32(IPCC_C1TOC2SR) & CH2 == 0
}

pub fn answered() -> bool {
    TX_DONE.load(Ordering::Acquire)
}

/// Writes the serial part of a command (from the packet-type byte) at command buffer + 8,
/// raises channel 2 and unmasks its TX-free interrupt (HW_IPCC_SYS_SendCmd).
pub fn send(serial: &[u8]) {
    let room = tl::CMD_PACKET_LEN - tl::PACKET_HEADER_LEN;
    let n = serial.len().min(room);
    // The list links in front of the command are unused: clear them, so that a command
    // CPU2 frees without answering does not leave an old answer at offset 0.
    store(at::SYS_CMD_BUFFER, &[0; tl::PACKET_HEADER_LEN]);
    store(
        at::SYS_CMD_BUFFER + tl::PACKET_HEADER_LEN as u32,
        serial.get(..n).unwrap_or(&[]),
    );
    TX_DONE.store(false, Ordering::Release);
    write32(IPCC_C1SCR, CH2 << 16);
    write32(IPCC_C1MR, read32(IPCC_C1MR) & !(CH2 << 16));
}

/// The response as CPU2 left it at offset 0 of the command buffer (type, event code, plen,
/// then plen bytes).
pub fn response() -> [u8; 3 + 255] {
    let mut out = [0u8; 3 + 255];
    for (i, b) in out.iter_mut().enumerate() {
        *b = read8(at::SYS_CMD_BUFFER + i as u32);
    }
    out
}

/// The next event the RX interrupt recorded.
pub fn take_event() -> Option<Event> {
    let t = EVT_TAIL.load(Ordering::Relaxed);
    if t == EVT_HEAD.load(Ordering::Acquire) {
        return None;
    }
    let r = &EVT[t as usize % EVENTS];
    let e = Event {
        subevt: r[0].load(Ordering::Relaxed),
        payload: r[1].load(Ordering::Relaxed),
        info_word0: r[2].load(Ordering::Relaxed),
        version: r[3].load(Ordering::Relaxed),
    };
    EVT_TAIL.store(t.wrapping_add(1), Ordering::Release);
    Some(e)
}

fn record(e: Event) {
    let h = EVT_HEAD.load(Ordering::Relaxed);
    if h.wrapping_sub(EVT_TAIL.load(Ordering::Acquire)) >= EVENTS as u32 {
        return; // the thread is behind: drop
    }
    let r = &EVT[h as usize % EVENTS];
    r[0].store(e.subevt, Ordering::Relaxed);
    r[1].store(e.payload, Ordering::Relaxed);
    r[2].store(e.info_word0, Ordering::Relaxed);
    r[3].store(e.version, Ordering::Relaxed);
    EVT_HEAD.store(h.wrapping_add(1), Ordering::Release);
}

/// End of the public part of SRAM2a (where CPU2 may put events we can read).
fn public_end() -> u32 {
    let srrvr = read32(FLASH_SRRVR);
    if srrvr & (1 << 23) == 0 {
        tables::SRAM2A_BASE + ((srrvr >> 18) & 0x1F) * 1024
    } else {
        tables::SRAM2A_BASE + tables::SRAM2A_SIZE
    }
}

fn node_ok(addr: u32, end: u32) -> bool {
    addr.is_multiple_of(4) && addr >= tables::SRAM2A_BASE && addr < end && end - addr >= 8
}

/// `LST_remove_head` on the system event queue, with every link checked: a broken queue is
/// emptied.
fn pop_event_node() -> Option<u32> {
    let head = at::SYS_QUEUE;
    let end = public_end();
    let node = read32(head);
    if node == head {
        return None;
    }
    if !node_ok(node, end) {
        init_list(head);
        return None;
    }
    let next = read32(node);
    if next != head && !node_ok(next, end) {
        init_list(head);
        return None;
    }
    write32(head, next);
    write32(next + 4, head);
    Some(node)
}

fn read_event(node: u32) -> Option<Event> {
    let end = public_end();
    let room = (end - node) as usize;
    let mut buf = [0u8; tl::PACKET_HEADER_LEN + tl::EVT_HDR_LEN + 255];
    let n = room.min(buf.len());
    for (i, b) in buf.iter_mut().enumerate().take(n) {
        *b = read8(node + i as u32);
    }
    let ev = SysEvent::parse_packet(buf.get(..n)?).ok()?;
    let info0 = read32(at::DEVICE_INFO);
    let version = if info0 == tables::DEVICE_INFO_VALID_MAGIC {
        read32(at::DEVICE_INFO + 0x0C)
    } else {
        read32(at::DEVICE_INFO + 0x10)
    };
    Some(Event {
        subevt: u32::from(ev.subevt),
        payload: ev.payload.first().map_or(0xFFFF_FFFF, |&b| u32::from(b)),
        info_word0: info0,
        version,
    })
}

/// IPCC RX occupied (HW_IPCC_SYS_EvtHandler): drain the system event queue, then free the
/// channel. READY buffers are not released (not supported by the FUS).
#[no_mangle]
pub extern "C" fn OpIpccRxIrq() {
    if read32(IPCC_C2TOC1SR) & !read32(IPCC_C1MR) & CH2 == 0 {
        return;
    }
    for _ in 0..EVENTS {
        let Some(node) = pop_event_node() else {
            break;
        };
        if let Some(e) = read_event(node) {
            record(e);
        }
    }
    write32(IPCC_C1SCR, CH2);
}

/// IPCC TX free (HW_IPCC_SYS_CmdEvtHandler): CPU2 has answered the command.
#[no_mangle]
pub extern "C" fn OpIpccTxIrq() {
    if read32(IPCC_C1MR) & (CH2 << 16) == 0 && channel_free() {
        write32(IPCC_C1MR, read32(IPCC_C1MR) | CH2 << 16);
        TX_DONE.store(true, Ordering::Release);
    }
}
