//! CPU1 boot counter: at every boot, append a record (count, !count) to the log page at
//! 0x080C_0000 with the HAL's double-word programming, erasing the page when it is full; then
//! sleep. Used to show persistence and power cuts through `wbemu run --device`.
#![no_std]
#![no_main]

use guest_rt::flash::{flash_erase, flash_program, flash_unlock};
use guest_rt::read32;

const LOG_PAGE: u32 = 0xC0;
const LOG: u32 = 0x0800_0000 + LOG_PAGE * 4096;
const RECORDS: u32 = 4096 / 8;

#[link_section = ".vector_table"]
#[no_mangle]
pub static VECTORS: guest_rt::vectors::VectorTable<0> = guest_rt::vectors::VectorTable {
    // Every system slot at the default handler, the reserved one too.
    reserved: Some(guest_rt::DefaultHandler),
    ..guest_rt::vectors::VectorTable::new().catch_all(guest_rt::DefaultHandler)
};

#[no_mangle]
pub extern "C" fn app_main() -> ! {
    flash_unlock();
    // The last record, and the first free slot after it.
    let mut count = 0;
    let mut slot = 0;
    while slot < RECORDS && read32(LOG + slot * 8) != 0xFFFF_FFFF {
        count = read32(LOG + slot * 8);
        slot += 1;
    }
    if slot == RECORDS {
        flash_erase(LOG_PAGE, 0);
        slot = 0;
    }
    flash_program(LOG + slot * 8, count + 1, !(count + 1), 0);
    loop {
        unsafe { core::arch::asm!("wfi") };
    }
}
