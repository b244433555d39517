//! An IPCC mailbox exchange driven the way ST's hw_ipcc.c drives the registers (fus-clients.md
//! B.5): CPU1 sends a system command on channel 2 and learns of the answer from the TX-free
//! interrupt; CPU2 answers in the command buffer, clears the channel and sends an event on
//! channel 2; CPU1 takes the event from the RX-occupied interrupt, acknowledges it and
//! releases the event buffer on channel 4. CPU2 counts the releases.

use crate::*;
use core::ptr::{addr_of_mut, read_volatile, write_volatile};

use wb_regs::ipcc::at::{C1CR, C1MR, C1SCR, C1TOC2SR, C2CR, C2MR, C2SCR, C2TOC1SR};
use wb_regs::ipcc::{RXOIE, TXFIE};
use wb_regs::rcc::at::{AHB3ENR as RCC_AHB3ENR, C2AHB3ENR as RCC_C2AHB3ENR};
use wb_regs::rcc::enable::IPCCEN;

const CH2: u32 = wb_regs::ipcc::clear(2);
const CH4: u32 = wb_regs::ipcc::clear(4);

/// The command buffer (response written at its offset 0) and the event buffer, in SRAM2a.
pub const CMD_BUF: u32 = 0x2003_0100;
pub const EVT_BUF: u32 = 0x2003_0200;

pub const CPU1_RX_IRQ: u32 = 44;
pub const CPU1_TX_IRQ: u32 = 45;
pub const CPU2_IPCC_IRQ: u32 = 19;

#[no_mangle]
pub static mut IPCC_LOG: Log = Log::new();
/// CPU1: the answer to the last command has arrived. CPU2: buffers released so far.
#[no_mangle]
pub static mut IPCC_COUNT: u32 = 0;

fn set_bits(addr: u32, bits: u32) {
    write32(addr, read32(addr) | bits);
}

fn clear_bits(addr: u32, bits: u32) {
    write32(addr, read32(addr) & !bits);
}

fn count() -> u32 {
    unsafe { read_volatile(addr_of_mut!(IPCC_COUNT)) }
}

fn bump() {
    unsafe { write_volatile(addr_of_mut!(IPCC_COUNT), count() + 1) };
}

/// CPU1: send `rounds` commands (payload 1..=rounds), one at a time. Returns the number of
/// answers seen; IPCC_LOG holds the response and event words in arrival order.
#[no_mangle]
pub extern "C" fn ipcc_client(rounds: u32) -> u32 {
    unsafe {
        log_clear(addr_of_mut!(IPCC_LOG));
        write_volatile(addr_of_mut!(IPCC_COUNT), 0);
    }
    set_bits(RCC_AHB3ENR, IPCCEN);
    // HW_IPCC_Init + HW_IPCC_SYS_Init: both interrupts on, receive on channel 2.
    set_bits(C1CR, RXOIE | TXFIE);
    clear_bits(C1MR, CH2);
    nvic_enable(CPU1_RX_IRQ);
    nvic_enable(CPU1_TX_IRQ);
    for i in 1..=rounds {
        let answered = count();
        write32(CMD_BUF, i);
        // HW_IPCC_SYS_SendCmd: flag the channel, then unmask its TX-free interrupt.
        write32(C1SCR, CH2 << 16);
        clear_bits(C1MR, CH2 << 16);
        while count() == answered {
            unsafe { core::arch::asm!("wfi") };
        }
    }
    count()
}

/// CPU1 TX-free: CPU2 has taken the command and answered in place (HW_IPCC_SYS_CmdEvtHandler).
#[no_mangle]
pub extern "C" fn Ipcc1TxIrq() {
    if read32(C1MR) & (CH2 << 16) == 0 && read32(C1TOC2SR) & CH2 == 0 {
        set_bits(C1MR, CH2 << 16);
        unsafe { log(addr_of_mut!(IPCC_LOG), read32(CMD_BUF)) };
        bump();
    }
}

/// CPU1 RX-occupied: an event on channel 2 (HW_IPCC_SYS_EvtHandler), then the buffer release
/// on channel 4 (HW_IPCC_MM_SendFreeBuf, channel free as CPU2 clears it at once).
#[no_mangle]
pub extern "C" fn Ipcc1RxIrq() {
    if read32(C2TOC1SR) & !read32(C1MR) & CH2 != 0 {
        unsafe { log(addr_of_mut!(IPCC_LOG), read32(EVT_BUF)) };
        write32(C1SCR, CH2);
        if read32(C1TOC2SR) & CH4 == 0 {
            write32(C1SCR, CH4 << 16);
        }
    }
}

/// CPU2: serve commands forever.
#[no_mangle]
pub extern "C" fn ipcc_server() -> ! {
    unsafe { write_volatile(addr_of_mut!(IPCC_COUNT), 0) };
    set_bits(RCC_C2AHB3ENR, IPCCEN);
    set_bits(C2CR, RXOIE);
    clear_bits(C2MR, CH2 | CH4);
    nvic_enable(CPU2_IPCC_IRQ);
    loop {
        unsafe { core::arch::asm!("wfi") };
    }
}

/// CPU2's combined IPCC line: a command on channel 2, a released buffer on channel 4.
#[no_mangle]
pub extern "C" fn Ipcc2Irq() {
    let occupied = read32(C1TOC2SR) & !read32(C2MR);
    if occupied & CH2 != 0 {
        let x = read32(CMD_BUF);
        write32(CMD_BUF, 0x1100 + x); // the response, at offset 0 of the command buffer
        write32(C2SCR, CH2);
        write32(EVT_BUF, 0x1200 + x);
        write32(C2SCR, CH2 << 16);
    }
    if occupied & CH4 != 0 {
        bump();
        write32(C2SCR, CH4);
    }
}
