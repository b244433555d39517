//! wbemu's Firmware Upgrade Services for CPU2 (Cortex-M0+), written from AN5185 and the FUS
//! wiki: activation through the shared tables, the device information table, the READY
//! event, the system-command loop on IPCC channel 2, and wireless-stack install, upgrade,
//! delete and start, resumable across resets (docs/fus-layout.md).
#![no_std]
#![no_main]

mod comms;
mod crypto;
mod journal;
mod keys;
mod ops;
mod scan;

use cpu2_hw::{flash, hw};
use guest_rt as _;
use hw::{critical, ipcc, read32};
use journal::op;
use wb_proto::fus::FusError;
use wb_proto::layout;
use wb_proto::tables::{LastFusState, LastWsState};

/// IRQ 19 is CPU2's IPCC RX/TX and HSEM line; the flash ECC NMI is `flash::Nmi`.
#[link_section = ".vector_table"]
#[no_mangle]
pub static VECTORS: guest_rt::vectors::Cpu2Vectors = guest_rt::vectors::VectorTable::new()
    .nmi(flash::Nmi)
    .irq(19, IpccIrq);

/// The identity block right after the vector table (`wb_proto::layout::identity`): host
/// tools read the FUS version there.
#[link_section = ".vector_table.identity"]
#[used]
static IDENTITY: [u32; wb_proto::layout::identity::WORDS] = [
    wb_proto::layout::identity::MAGIC,
    wb_proto::layout::FUS_VERSION.0,
    wb_proto::layout::FUS_MEMORY_SIZE.0,
];

/// Work the IPCC handler hands to the main loop.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    None,
    Install,
    Delete,
    StartWs,
}

/// State shared by the command handler and the main loop (accessed with interrupts masked).
pub struct Shared {
    pub pending: Pending,
    /// FUS state byte (AN5185 Table 13).
    pub state: u8,
    /// Error code reported with it (Table 14).
    pub error: u8,
    pub ws_installed: bool,
    /// An error was reported: forget it in the state record too.
    pub clear_error: bool,
    /// The command buffer, once the tables are validated.
    pub cmd_buffer: u32,
}

/// Reached only through [`shared`].
static mut SHARED: Shared = Shared {
    pending: Pending::None,
    state: 0,
    error: 0,
    ws_installed: false,
    clear_error: false,
    cmd_buffer: 0,
};

pub fn nvic_enable(irq: u32) {
    hw::write32(wb_regs::scs::at::NVIC_ISER, 1 << irq);
}

/// The state shared by the command handler and the main loop: the one way to it, with
/// interrupts masked for the time of `f` (critical sections nest).
pub fn shared<R>(f: impl FnOnce(&mut Shared) -> R) -> R {
    // SAFETY: interrupts are masked, so the IPCC handler cannot run while `f` holds the only
    // reference (CPU2 runs one thread and this handler; CPU1 never reaches the FUS's RAM).
    critical(|| f(unsafe { &mut *core::ptr::addr_of_mut!(SHARED) }))
}

#[no_mangle]
pub extern "C" fn IpccIrq() {
    let occupied = read32(ipcc::C1TOC2SR) & !read32(ipcc::C2MR);
    let buf = shared(|s| s.cmd_buffer);
    if occupied & (1 << 1) != 0 && buf != 0 {
        comms::on_command(buf);
    }
}

#[no_mangle]
pub extern "C" fn app_main() -> ! {
    hw::set_bits(hw::rcc::C2AHB1ENR, hw::rcc::CRCEN);
    hw::set_bits(
        hw::rcc::C2AHB3ENR,
        hw::rcc::IPCCEN | hw::rcc::PKAEN | hw::rcc::AES2EN,
    );
    crypto::Crc::reinit();
    let loaded = flash::loaded_options();
    // An option change cut between OPTSTRT and OBL_LAUNCH: apply it now.
    if ops::options_pending(loaded) {
        flash::launch();
    }
    let mut ctx = ops::Ctx {
        rec: state(),
        keys: keys::load(),
        loaded,
    };
    let rec = ctx.rec;
    let busy = rec.op != op::NONE;
    let info = comms::Info {
        last_fus_state: if busy {
            LastFusState::WsFwUpgrade
        } else if rec.error != 0 {
            LastFusState::Error
        } else {
            LastFusState::Idle
        },
        last_ws_state: if rec.ws_page != 0 {
            LastWsState::Running
        } else if rec.error != 0 {
            LastWsState::Error
        } else {
            LastWsState::NotStarted
        },
        ws: (rec.ws_page != 0).then_some((rec.ws_version, rec.ws_memory)),
    };
    if let Some(link) = comms::activate(loaded.1, &info) {
        shared(|s| s.cmd_buffer = link.cmd_buffer);
        comms::start(&link);
    }
    // Resume what a reset interrupted.
    ctx.run();
    loop {
        let (pending, clear) = shared(|s| {
            let p = (s.pending, s.clear_error);
            s.pending = Pending::None;
            s.clear_error = false;
            p
        });
        if clear && ctx.rec.error != 0 && ctx.rec.op == op::NONE {
            let _ = journal::store(journal::Record {
                error: 0,
                ..ctx.rec
            })
            .map(|r| ctx.rec = r);
        }
        match pending {
            Pending::Install => ctx.begin(op::INSTALL),
            Pending::Delete => ctx.begin(op::DELETE),
            Pending::StartWs => ctx.start_ws(),
            Pending::None => critical(|| {
                // Sleep unless the handler queued work after the check above.
                if shared_pending_none() {
                    hw::wfi();
                }
            }),
        }
    }
}

/// The state record; after a factory reset (the UFB erased) its reset values, which report
/// FUS_UFB_CORRUPT to the next FUS_GET_STATE (AN5185 FAQ). A journal with no valid record
/// that is not erased (broken ECC or CRC everywhere) is a lost state: safeboot's factory
/// reset, as FUS v1.1.0 does on corruption (AN5185 Table 1).
fn state() -> journal::Record {
    match journal::load() {
        journal::Journal::Record(rec) => rec,
        journal::Journal::Corrupt
            if hw::read32(layout::safeboot::ADDR) == layout::safeboot::MAGIC =>
        {
            hw::enter(layout::page_address(layout::SAFEBOOT_PAGE))
        }
        // No safeboot to run: the reset values in the journal's place.
        journal::Journal::Erased | journal::Journal::Corrupt => journal::reset(journal::Record {
            error: u8::from(FusError::UfbCorrupt).into(),
            ..journal::Record::default()
        }),
    }
}

fn shared_pending_none() -> bool {
    shared(|s| s.pending == Pending::None && !s.clear_error)
}
