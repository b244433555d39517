//! A serial console on USART1 driven as ST's LL/HAL code does: clock on, BRR, CR1 = UE | TE |
//! RE, then polled TXE / RXNE. Prints a banner, then echoes every byte plus one.

use crate::{read32, write32};

use wb_regs::rcc::at::APB2ENR as RCC_APB2ENR;
use wb_regs::rcc::enable::USART1EN;
use wb_regs::usart1::at::{BRR, CR1, ISR, RDR, TDR};
const UE_RE_TE: u32 = 1 | 1 << 2 | 1 << 3;
const RXNE: u32 = 1 << 5;
const TXE: u32 = 1 << 7;

fn put(b: u8) {
    while read32(ISR) & TXE == 0 {}
    write32(TDR, b as u32);
}

/// USART1 at `baud` from the `clock_hz` it runs on: banner "wbemu\r\n", then echo + 1.
#[no_mangle]
pub extern "C" fn uart_echo(clock_hz: u32, baud: u32) -> ! {
    write32(RCC_APB2ENR, read32(RCC_APB2ENR) | USART1EN);
    write32(BRR, clock_hz / baud);
    write32(CR1, UE_RE_TE);
    for &b in b"wbemu\r\n" {
        put(b);
    }
    loop {
        while read32(ISR) & RXNE == 0 {}
        put((read32(RDR) as u8).wrapping_add(1));
    }
}
