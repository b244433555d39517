//! Flash programming from CPU2 through its own register set (C2CR/C2SR), the way the
//! STM32WB HAL sequences it, and option-byte programming (SFR, SRRVR: CPU2-only registers)
//! through FLASH_CR's OPTSTRT and OBL_LAUNCH.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::hw::flash::*;
use crate::hw::{read32, set_bits, write32};
use wb_proto::layout::{FLASH_BASE, PAGE_SIZE};

const BSY: u32 = 1 << 16;
const CFGBSY: u32 = 1 << 18;
/// EOP and every error flag (OPERR .. RDERR).
const FLAGS: u32 = 0x43FB;
const ERRORS: u32 = 0x43FA;
const PG: u32 = 1 << 0;
const PER: u32 = 1 << 1;
const PNB_SHIFT: u32 = 3;
const PNB: u32 = 0xFF << PNB_SHIFT;
const STRT: u32 = 1 << 16;
const OPTSTRT: u32 = 1 << 17;
const OBL_LAUNCH: u32 = 1 << 27;
const OPTLOCK: u32 = 1 << 30;
const LOCK: u32 = 1 << 31;

/// A flash operation ended with SR error flags.
#[derive(Clone, Copy, Debug)]
pub struct FlashError;

fn wait(sr: u32, bits: u32) {
    while read32(sr) & bits != 0 {}
}

/// Unlock FLASH_CR (the lock is shared by both CPUs' register sets).
pub fn unlock() {
    if read32(CR) & LOCK != 0 {
        write32(KEYR, KEY1);
        write32(KEYR, KEY2);
    }
}

fn finish(cr_bits: u32) -> Result<(), FlashError> {
    wait(C2SR, BSY);
    let flags = read32(C2SR) & ERRORS;
    wait(C2SR, CFGBSY);
    write32(C2CR, read32(C2CR) & !cr_bits);
    if flags != 0 {
        write32(C2SR, flags);
        return Err(FlashError);
    }
    Ok(())
}

/// Erase page `page`.
pub fn erase_page(page: u32) -> Result<(), FlashError> {
    unlock();
    wait(C2SR, BSY);
    write32(C2SR, FLAGS);
    write32(
        C2CR,
        (read32(C2CR) & !PNB) | (page << PNB_SHIFT) | PER | STRT,
    );
    finish(PER | PNB)
}

/// Erase the pages `[from, to)`, skipping those already erased (a resumed erase redoes
/// only what is left).
pub fn erase_pages(from: u32, to: u32) -> Result<(), FlashError> {
    for page in from..to {
        if !is_erased(page_addr(page), PAGE_SIZE) {
            erase_page(page)?;
        }
    }
    Ok(())
}

/// Program the double-word at `addr` (8-byte aligned, erased).
pub fn program(addr: u32, lo: u32, hi: u32) -> Result<(), FlashError> {
    unlock();
    wait(C2SR, BSY);
    write32(C2SR, FLAGS);
    wait(C2SR, CFGBSY);
    write32(C2CR, read32(C2CR) | PG);
    write32(addr, lo);
    unsafe { core::arch::asm!("isb") };
    write32(addr + 4, hi);
    finish(PG)
}

pub fn page_addr(page: u32) -> u32 {
    FLASH_BASE + page * PAGE_SIZE
}

/// Every word of `[addr, addr + len)` reads erased, with a good ECC (a torn program or
/// erase can leave all-ones bits whose ECC is broken: that double-word needs an erase).
pub fn is_erased(addr: u32, len: u32) -> bool {
    let (erased, clean) = checked(|| (0..len / 4).all(|i| read32(addr + 4 * i) == 0xFFFF_FFFF));
    erased && clean
}

const ECCD: u32 = 1 << 31;
const ECCCIE: u32 = 1 << 24;

/// Double ECC errors the NMI handler has seen (it is their only writer).
static ECC_ERRORS: AtomicU32 = AtomicU32::new(0);

/// NMI: the FUS expects one source, a read of a flash double-word whose ECC a power cut
/// broke (a torn program or erase: FLASH_ECCR.ECCD). It is counted and cleared, and the
/// reader, inside [`checked`], decides what the read was worth. Anything else stops here.
#[no_mangle]
pub extern "C" fn Nmi() {
    let eccr = read32(ECCR);
    if eccr & ECCD == 0 {
        guest_rt::DefaultHandler();
    }
    // Write-one-to-clear ECCD (not ECCC: another reader's correctable error stays for it).
    write32(ECCR, (eccr & ECCCIE) | ECCD);
    ECC_ERRORS.store(
        ECC_ERRORS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// Run `f`, which reads flash, and say whether everything it read had a good ECC.
pub fn checked<R>(f: impl FnOnce() -> R) -> (R, bool) {
    let before = ECC_ERRORS.load(Ordering::SeqCst);
    let r = f();
    // The NMI of the last read is taken within a few instructions; the barriers wait for it.
    unsafe { core::arch::asm!("dsb", "isb") };
    (r, ECC_ERRORS.load(Ordering::SeqCst) == before)
}

/// The SFR and SRRVR values in the option-byte area (what the next load will apply).
pub fn stored_options() -> (u32, u32) {
    (read32(OB_SFR), read32(OB_SRRVR))
}

/// The SFR and SRRVR values in force (loaded at the last OBL_LAUNCH or power-on).
pub fn loaded_options() -> (u32, u32) {
    (read32(SFR), read32(SRRVR))
}

/// Whether SFR's and SRRVR's slots in the option-byte area hold each its value and its
/// complement (a torn option-byte program can leave a value right and its complement not).
pub fn stored_options_intact() -> bool {
    [OB_SFR, OB_SRRVR]
        .iter()
        .all(|&at| read32(at) == !read32(at + 4))
}

/// Program SFR and SRRVR into the option-byte area (HAL FLASH_OB sequence with OPTSTRT).
/// They take effect at the next option-byte load ([`launch`]).
pub fn program_options(sfr: u32, srrvr: u32) -> Result<(), FlashError> {
    if stored_options() == (sfr, srrvr) && stored_options_intact() {
        return Ok(());
    }
    unlock();
    if read32(CR) & OPTLOCK != 0 {
        write32(OPTKEYR, OPTKEY1);
        write32(OPTKEYR, OPTKEY2);
    }
    wait(SR, BSY);
    write32(SR, FLAGS);
    write32(SFR, sfr);
    write32(SRRVR, srrvr);
    set_bits(CR, OPTSTRT);
    wait(SR, BSY);
    let flags = read32(SR) & ERRORS;
    if flags != 0 {
        write32(SR, flags);
        return Err(FlashError);
    }
    Ok(())
}

/// OBL_LAUNCH: load the option bytes, which resets the whole system.
pub fn launch() -> ! {
    unlock();
    if read32(CR) & OPTLOCK != 0 {
        write32(OPTKEYR, OPTKEY1);
        write32(OPTKEYR, OPTKEY2);
    }
    set_bits(CR, OBL_LAUNCH);
    loop {
        crate::hw::wfi();
    }
}
