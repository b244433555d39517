//! Flash programming the way the STM32WB HAL does it (stm32wbxx_hal_flash.c), through either
//! core's register set: CPU1 uses CR/SR, CPU2 uses C2CR/C2SR.

use crate::{read32, write32};

use wb_regs::flash::at::{C2CR, C2SR, CR, KEYR, SR};

const BSY: u32 = 1 << 16;
const CFGBSY: u32 = 1 << 18;
/// EOP, OPERR, PROGERR, WRPERR, PGAERR, SIZERR, PGSERR, MISERR, FASTERR, RDERR.
const FLAGS: u32 = 0x43FB;
const PG: u32 = 1 << 0;
const PER: u32 = 1 << 1;
const STRT: u32 = 1 << 16;
const LOCK: u32 = 1 << 31;

fn regs(c2: u32) -> (u32, u32) {
    if c2 != 0 {
        (C2CR, C2SR)
    } else {
        (CR, SR)
    }
}

fn wait(sr: u32, bits: u32) {
    while read32(sr) & bits != 0 {}
}

/// HAL_FLASH_Unlock. Returns CR.
#[no_mangle]
pub extern "C" fn flash_unlock() -> u32 {
    if read32(CR) & LOCK != 0 {
        write32(KEYR, 0x4567_0123);
        write32(KEYR, 0xCDEF_89AB);
    }
    read32(CR)
}

/// HAL_FLASH_Program(FLASH_TYPEPROGRAM_DOUBLEWORD). Returns the SR flags it ended with.
#[no_mangle]
pub extern "C" fn flash_program(addr: u32, lo: u32, hi: u32, c2: u32) -> u32 {
    let (cr, sr) = regs(c2);
    wait(sr, BSY);
    write32(sr, FLAGS);
    wait(sr, CFGBSY);
    write32(cr, read32(cr) | PG);
    write32(addr, lo);
    unsafe { core::arch::asm!("isb") };
    write32(addr + 4, hi);
    wait(sr, BSY);
    let flags = read32(sr) & FLAGS;
    wait(sr, CFGBSY);
    write32(cr, read32(cr) & !PG);
    flags
}

/// FLASH_PageErase + FLASH_WaitForLastOperation. Returns the SR flags it ended with.
#[no_mangle]
pub extern "C" fn flash_erase(page: u32, c2: u32) -> u32 {
    let (cr, sr) = regs(c2);
    wait(sr, BSY);
    write32(sr, FLAGS);
    write32(cr, (read32(cr) & !(0xFF << 3)) | (page << 3) | PER | STRT);
    wait(sr, BSY);
    let flags = read32(sr) & FLAGS;
    write32(cr, read32(cr) & !(PER | (0xFF << 3)));
    flags
}

/// Erase `pages` pages from `addr` and program every double-word of them (the benchmark of
/// `wbemu bench`). Returns the OR of every operation's flags.
#[no_mangle]
pub extern "C" fn bench_flash(addr: u32, pages: u32) -> u32 {
    flash_unlock();
    let first = (addr - 0x0800_0000) / 4096;
    let mut flags = 0;
    for p in 0..pages {
        flags |= flash_erase(first + p, 0);
    }
    let mut a = addr;
    while a < addr + pages * 4096 {
        flags |= flash_program(a, a, !a, 0);
        a += 8;
    }
    flags
}
