//! wbemu's safeboot for CPU2 (docs/fus-layout.md §7). The chip starts it when CPU2's option
//! bytes fail their complement check or lock the whole flash (SFSA = 0), and the FUS enters
//! it when its own state is corrupt. It performs AN5185's factory reset (Table 1, v1.1.0:
//! "erase of wireless stack if present and reboot on FUS and full erase of other user
//! sectors"): every page below the FUS and the FUS's state journal (the UFB) erased, the
//! option bytes of a device as shipped programmed, then an option-byte load, after which the
//! FUS runs and reports FUS_UFB_CORRUPT once.
//!
//! It decides from nothing but flash and option bytes and keeps no state of its own: each
//! step skips what is already done, and until its last step (the option-byte program) has
//! taken effect every power-on brings CPU2 back here. So a reset or power cut anywhere in it
//! ends, after the next activation of CPU2, in the same factory-reset state.
#![no_std]
#![no_main]

use cpu2_hw::flash;
use guest_rt as _;
use wb_proto::layout;

/// The flash ECC NMI is `flash::Nmi` (a torn operation may have left a double-word whose
/// ECC is broken in the pages this erases).
#[link_section = ".vector_table"]
#[no_mangle]
pub static VECTORS: guest_rt::vectors::Cpu2Vectors =
    guest_rt::vectors::VectorTable::new().nmi(flash::Nmi);

/// The identity block right after the vector table (`wb_proto::layout::safeboot`): the FUS
/// reports the version in the device information table.
#[link_section = ".vector_table.identity"]
#[used]
static IDENTITY: [u32; layout::safeboot::WORDS] =
    [layout::safeboot::MAGIC, layout::SAFEBOOT_VERSION.0];

/// Tries of a flash step that reports an error before going on regardless: the option-byte
/// load at the end must happen, or the device stays locked.
const TRIES: u32 = 3;

fn step(f: impl Fn() -> Result<(), flash::FlashError>) {
    for _ in 0..TRIES {
        if f().is_ok() {
            return;
        }
    }
}

#[no_mangle]
pub extern "C" fn app_main() -> ! {
    // The wireless stack and CPU1's user flash: everything below the FUS.
    step(|| flash::erase_pages(0, layout::FUS_FIRST_PAGE));
    // The UFB: the FUS finds it erased and starts again from its reset values.
    let [first, last] = layout::FUS_RECORD_PAGES;
    step(|| flash::erase_pages(first, last + 1));
    // Boot on the FUS, with its secure flash and SRAM2 only.
    step(|| flash::program_options(layout::sfr(layout::FUS_FIRST_PAGE), layout::FUS_SRRVR));
    flash::launch()
}
