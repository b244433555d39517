//! The human-readable log on USART1 (115200 8N1 at 64 MHz): a ring buffer in RAM drained by
//! the TXE interrupt, so that waiting for the line costs no busy loop.

use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

use guest_rt::{nvic_enable, read32, write32};

use wb_regs::rcc::at::APB2ENR as RCC_APB2ENR;
use wb_regs::rcc::enable::USART1EN;
use wb_regs::usart1::at::{BRR, CR1, ISR, TDR};
const UE: u32 = 1 << 0;
const TE: u32 = 1 << 3;
const TXEIE: u32 = 1 << 7;
const TC: u32 = 1 << 6;
const TXE: u32 = 1 << 7;
/// USART1 global interrupt on CPU1.
pub const USART1_IRQ: u32 = 36;
const BAUD: u32 = 115_200;

const LEN: usize = 1024;
static BUF: [AtomicU8; LEN] = [const { AtomicU8::new(0) }; LEN];
/// Bytes written by the thread (free-running count).
static HEAD: AtomicU32 = AtomicU32::new(0);
/// Bytes sent by the interrupt (free-running count).
static TAIL: AtomicU32 = AtomicU32::new(0);

/// Clock on, BRR for `clock_hz`, transmitter on, interrupt enabled in the NVIC.
pub fn init(clock_hz: u32) {
    write32(RCC_APB2ENR, read32(RCC_APB2ENR) | USART1EN);
    write32(BRR, clock_hz / BAUD);
    write32(CR1, UE | TE);
    nvic_enable(USART1_IRQ);
}

fn with_irqs_off<R>(f: impl FnOnce() -> R) -> R {
    unsafe { core::arch::asm!("cpsid i") };
    let r = f();
    unsafe { core::arch::asm!("cpsie i") };
    r
}

pub fn put(b: u8) {
    loop {
        let h = HEAD.load(Ordering::Relaxed);
        let t = TAIL.load(Ordering::Acquire);
        if h.wrapping_sub(t) < LEN as u32 {
            BUF[h as usize % LEN].store(b, Ordering::Relaxed);
            HEAD.store(h.wrapping_add(1), Ordering::Release);
            with_irqs_off(|| write32(CR1, read32(CR1) | TXEIE));
            return;
        }
        // Full: the TXE interrupt makes room.
        unsafe { core::arch::asm!("wfi") };
    }
}

pub fn str(s: &str) {
    for b in s.bytes() {
        put(b);
    }
}

pub fn hex(v: u32, digits: u32) {
    str("0x");
    for i in (0..digits.min(8)).rev() {
        let d = ((v >> (4 * i)) & 0xF) as u8;
        put(if d < 10 { b'0' + d } else { b'a' + d - 10 });
    }
}

pub fn hex8(v: u32) {
    hex(v, 8);
}

pub fn hex2(v: u32) {
    hex(v, 2);
}

pub fn dec(v: u32) {
    let mut digits = [0u8; 10];
    let mut n = 0;
    let mut x = v;
    loop {
        digits[n % 10] = b'0' + (x % 10) as u8;
        n += 1;
        x /= 10;
        if x == 0 || n >= 10 {
            break;
        }
    }
    for i in (0..n.min(10)).rev() {
        put(digits[i]);
    }
}

/// "major.minor.sub" of a version word.
pub fn version(v: u32) {
    dec(v >> 24);
    put(b'.');
    dec((v >> 16) & 0xFF);
    put(b'.');
    dec((v >> 8) & 0xFF);
}

pub fn end_line() {
    str("\r\n");
}

/// Wait until every queued byte has left the line (before a reset loses the USART).
pub fn flush() {
    while HEAD.load(Ordering::Acquire) != TAIL.load(Ordering::Acquire) {
        unsafe { core::arch::asm!("wfi") };
    }
    while read32(ISR) & TC == 0 {}
}

/// USART1 interrupt: one byte per TXE; the interrupt goes off when the ring is empty.
#[no_mangle]
pub extern "C" fn OpUsart1Irq() {
    if read32(ISR) & TXE == 0 {
        return;
    }
    let t = TAIL.load(Ordering::Relaxed);
    if t == HEAD.load(Ordering::Acquire) {
        write32(CR1, read32(CR1) & !TXEIE);
        return;
    }
    write32(
        TDR,
        u32::from(BUF[t as usize % LEN].load(Ordering::Relaxed)),
    );
    TAIL.store(t.wrapping_add(1), Ordering::Release);
}
