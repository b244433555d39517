//! USART1 (0x4001_3800) and LPUART1 (0x4000_8000) in asynchronous mode, with a byte-stream
//! host end ([`Serial`]).
//!
//! Modelled: UE/TE/RE with TEACK/REACK, word length (M1:M0 = 7, 8 or 9 bits, parity inside
//! the word with PCE, as the bootloader's 8E1 is M0=1 + PCE), stop bits, OVER8, PRESC, and the
//! baud rate from BRR (USART: f/USARTDIV; LPUART: 256·f/BRR), which sets the frame time of
//! every byte. Transmit: TDR → shift register, TXE when TDR is free, TC at the end of the last
//! frame; bytes reach the host when their stop bit ends. Receive: host bytes arrive one frame
//! time apart once the receiver is on; RXNE, ORE when a byte arrives while RDR is full (unless
//! OVRDIS), IDLE one frame after the last byte, PE/FE for bytes the host marks as damaged
//! ([`Serial::inject`]). Interrupts: TXE, TC, RXNE (+ORE), IDLE, PE, and CR3.EIE for FE/ORE.
//!
//! Not modelled (stored; the first write of a non-default value is traced): FIFO mode,
//! synchronous/smartcard/IrDA/LIN modes, auto-baud, hardware flow control, receiver timeout,
//! wake-up from Stop, DMA requests.

use std::collections::VecDeque;

use tracing::warn;

use crate::{
    merge_write, narrow_read, Access, BusError, BusResult, Peripheral, Picos, ResetKind, Width,
};

/// Register offsets and bits (RM0434 §36.8), from the shared register map.
pub use wb_regs::usart1::{cr1, isr, reg};

const CR3_EIE: u32 = 1 << 0;
const CR3_OVRDIS: u32 = 1 << 12;
const CR2_STOP_SHIFT: u32 = 12;
/// RQR.RXFRQ: flush the received byte (clears RXNE).
const RQR_RXFRQ: u32 = 1 << 3;
/// ICR bits that clear the ISR flag at the same position (PE, FE, NE, ORE, IDLE, TC).
const ICR_CLEARS: u32 = isr::PE | isr::FE | isr::NE | isr::ORE | isr::IDLE | isr::TC;

/// Which of the two serial peripherals: they differ in baud-rate formula and window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UartKind {
    Usart1,
    Lpuart1,
}

/// How a byte from the host arrives on the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFault {
    /// Received with a wrong parity bit (PE).
    Parity,
    /// Received without a valid stop bit (FE).
    Framing,
}

/// The host end of a serial line.
pub trait Serial {
    /// Queue bytes the host sends to the device; they arrive one frame time apart.
    fn send(&mut self, bytes: &[u8]);
    /// Queue one byte that arrives damaged.
    fn inject(&mut self, byte: u8, fault: LineFault);
    /// The bytes the device has finished transmitting since the last call.
    fn take(&mut self) -> Vec<u8>;
}

#[derive(Clone, Debug)]
pub struct Usart {
    kind: UartKind,
    cr1: u32,
    cr2: u32,
    cr3: u32,
    brr: u32,
    gtpr: u32,
    rtor: u32,
    presc: u32,
    isr: u32,
    rdr: u16,
    clock_hz: u64,
    /// Transmit: the byte waiting in TDR, and when the shift register's frame ends.
    tdr: Option<u16>,
    shifting: Option<(u16, Picos)>,
    /// Receive: bytes still to arrive, when the next one completes, when the line goes idle.
    incoming: VecDeque<(u8, Option<LineFault>)>,
    rx_next: Option<Picos>,
    idle_at: Option<Picos>,
    /// Transmitted bytes for the host.
    sent: Vec<u8>,
    now: Picos,
    traced: u32,
}

impl Usart {
    pub fn new(kind: UartKind) -> Usart {
        Usart {
            kind,
            cr1: 0,
            cr2: 0,
            cr3: 0,
            brr: 0,
            gtpr: 0,
            rtor: 0,
            presc: 0,
            isr: isr::TXE | isr::TC,
            rdr: 0,
            clock_hz: 4_000_000,
            tdr: None,
            shifting: None,
            incoming: VecDeque::new(),
            rx_next: None,
            idle_at: None,
            sent: Vec::new(),
            now: 0,
            traced: 0,
        }
    }

    fn enabled(&self, bit: u32) -> bool {
        self.cr1 & cr1::UE != 0 && self.cr1 & bit != 0
    }

    /// Bits in one word: M1:M0 = 00 → 8, 01 → 9, 10 → 7.
    fn word_bits(&self) -> u64 {
        match (self.cr1 & cr1::M1 != 0, self.cr1 & cr1::M0 != 0) {
            (false, true) => 9,
            (true, _) => 7,
            _ => 8,
        }
    }

    /// The data bits of a word: the parity bit, when enabled, is its most significant bit.
    fn data_mask(&self) -> u16 {
        let bits = self.word_bits() - (self.cr1 & cr1::PCE != 0) as u64;
        ((1u32 << bits) - 1) as u16
    }

    /// One frame (start + word + stop bits), in picoseconds; `None` without a usable BRR.
    fn frame_time(&self) -> Option<Picos> {
        // PRESC codes 0..11 divide the kernel clock by these (12..15 act as 256).
        const PRESC: [u64; 12] = [1, 2, 4, 6, 8, 10, 12, 16, 32, 64, 128, 256];
        let presc = PRESC[(self.presc as usize).min(11)];
        let f = self.clock_hz / presc;
        // Half-bits: 2 for start, 2 per data bit, then 1, 0.5, 2 or 1.5 stop bits.
        let stop_halves = [2, 1, 4, 3][((self.cr2 >> CR2_STOP_SHIFT) & 3) as usize];
        let halves = 2 + 2 * self.word_bits() + stop_halves;
        // Seconds per bit = div / f for the USART (OVER8: BRR[3:0] holds USARTDIV[3:1]),
        // BRR / (256 f) for the LPUART.
        let (div, scale) = match self.kind {
            UartKind::Usart1 if self.cr1 & cr1::OVER8 != 0 => {
                let usartdiv = (self.brr & !0xF) | (self.brr & 0x7) << 1;
                (usartdiv as u64, 2)
            }
            UartKind::Usart1 => (self.brr as u64 & 0xFFFF, 1),
            UartKind::Lpuart1 => (self.brr as u64 & 0xF_FFFF, 256),
        };
        if div < 16 || f == 0 {
            return None;
        }
        Some((halves * div * 1_000_000_000_000 / (2 * scale * f)).max(1))
    }

    fn trace_unmodelled(&mut self, what: &'static str, bit: u32) {
        if self.traced & bit == 0 {
            self.traced |= bit;
            warn!(target: "wb::usart", peripheral = self.name(), what, "not modelled: stored only");
        }
    }

    fn start_shift(&mut self, word: u16, now: Picos) {
        match self.frame_time() {
            Some(t) => {
                self.shifting = Some((word, now + t));
                self.isr |= isr::BUSY;
                self.isr &= !isr::TC;
            }
            None => {
                self.trace_unmodelled("transmit with BRR below 16 (no baud rate)", 1 << 0);
                self.tdr = Some(word);
            }
        }
    }

    fn schedule_rx(&mut self, now: Picos) {
        if self.rx_next.is_none() && !self.incoming.is_empty() && self.enabled(cr1::RE) {
            self.rx_next = self.frame_time().map(|t| now + t);
        }
    }

    fn rx_complete(&mut self, at: Picos) {
        let Some((byte, fault)) = self.incoming.pop_front() else {
            return;
        };
        if self.isr & isr::RXNE != 0 {
            if self.cr3 & CR3_OVRDIS == 0 {
                self.isr |= isr::ORE; // the byte is lost; RDR keeps the unread one
            } else {
                self.rdr = byte as u16;
            }
        } else {
            self.rdr = byte as u16 & self.data_mask();
            self.isr |= isr::RXNE;
        }
        match fault {
            Some(LineFault::Parity) => self.isr |= isr::PE,
            Some(LineFault::Framing) => self.isr |= isr::FE,
            None => {}
        }
        let frame = self.frame_time();
        self.rx_next = None;
        self.idle_at = frame.map(|t| at + t);
        self.schedule_rx(at);
    }

    fn tx_complete(&mut self, at: Picos) {
        if let Some((word, _)) = self.shifting.take() {
            self.sent.push(word as u8);
        }
        match self.tdr.take() {
            Some(word) => {
                self.isr |= isr::TXE;
                self.start_shift(word, at);
            }
            None => {
                self.isr |= isr::TC;
                self.isr &= !isr::BUSY;
            }
        }
    }
}

impl Serial for Usart {
    fn send(&mut self, bytes: &[u8]) {
        self.incoming.extend(bytes.iter().map(|&b| (b, None)));
        self.schedule_rx(self.now);
    }

    fn inject(&mut self, byte: u8, fault: LineFault) {
        self.incoming.push_back((byte, Some(fault)));
        self.schedule_rx(self.now);
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.sent)
    }
}

impl Peripheral for Usart {
    fn name(&self) -> &'static str {
        match self.kind {
            UartKind::Usart1 => "usart1",
            UartKind::Lpuart1 => "lpuart1",
        }
    }

    fn size(&self) -> u32 {
        0x400
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        let value = match offset & !3 {
            reg::CR1 => self.cr1,
            reg::CR2 => self.cr2,
            reg::CR3 => self.cr3,
            reg::BRR => self.brr,
            reg::GTPR if self.kind == UartKind::Usart1 => self.gtpr,
            reg::RTOR if self.kind == UartKind::Usart1 => self.rtor,
            reg::RQR | reg::ICR | reg::TDR => 0,
            reg::ISR => self.isr,
            reg::RDR => {
                self.isr &= !isr::RXNE;
                self.rdr as u32
            }
            reg::PRESC => self.presc,
            _ => return Err(BusError::Unmapped),
        };
        Ok(narrow_read(value, offset, access.width))
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        let now = access.now;
        let old = match offset & !3 {
            reg::CR1 => self.cr1,
            reg::CR2 => self.cr2,
            reg::CR3 => self.cr3,
            reg::BRR => self.brr,
            reg::GTPR => self.gtpr,
            reg::RTOR => self.rtor,
            reg::PRESC => self.presc,
            _ => 0,
        };
        let v = if access.width == Width::Word {
            value
        } else {
            merge_write(old, offset, value, access.width)
        };
        match offset & !3 {
            reg::CR1 => {
                self.cr1 = v;
                if v & cr1::FIFOEN != 0 {
                    self.trace_unmodelled("FIFO mode (CR1.FIFOEN)", 1 << 1);
                }
                self.isr &= !(isr::TEACK | isr::REACK);
                if self.enabled(cr1::TE) {
                    self.isr |= isr::TEACK;
                }
                if self.enabled(cr1::RE) {
                    self.isr |= isr::REACK;
                    self.schedule_rx(now);
                } else {
                    self.rx_next = None;
                }
            }
            reg::CR2 => {
                self.cr2 = v;
                if v & !(3 << CR2_STOP_SHIFT) != 0 {
                    self.trace_unmodelled("CR2 beyond the stop bits", 1 << 2);
                }
            }
            reg::CR3 => {
                self.cr3 = v;
                if v & !(CR3_EIE | CR3_OVRDIS) != 0 {
                    self.trace_unmodelled("CR3 beyond EIE and OVRDIS", 1 << 3);
                }
            }
            reg::BRR => self.brr = v & 0xF_FFFF,
            reg::GTPR if self.kind == UartKind::Usart1 => {
                self.gtpr = v & 0xFFFF;
                self.trace_unmodelled("GTPR (smartcard/IrDA)", 1 << 4);
            }
            reg::RTOR if self.kind == UartKind::Usart1 => {
                self.rtor = v;
                self.trace_unmodelled("RTOR (receiver timeout)", 1 << 5);
            }
            reg::RQR => {
                if v & RQR_RXFRQ != 0 {
                    self.isr &= !isr::RXNE;
                }
                if v & !RQR_RXFRQ != 0 {
                    self.trace_unmodelled("RQR requests other than RXFRQ", 1 << 6);
                }
            }
            reg::ISR | reg::RDR => {} // read-only
            reg::ICR => self.isr &= !(v & ICR_CLEARS),
            reg::TDR => {
                if !self.enabled(cr1::TE) {
                    return Ok(()); // nothing is sent with the transmitter off
                }
                let word = (v & 0x1FF) as u16;
                if self.shifting.is_none() {
                    self.start_shift(word, now);
                } else {
                    // TDR holds one byte; a second write before TXE overwrites it.
                    self.tdr = Some(word);
                    self.isr &= !isr::TXE;
                }
            }
            reg::PRESC => self.presc = v & 0xF,
            _ => return Err(BusError::Unmapped),
        }
        Ok(())
    }

    fn carried_over(&self, h: &mut dyn std::hash::Hasher) {
        // The line outside the chip: bytes waiting for the receiver, bytes not yet taken.
        h.write(format!("{:?}", self.incoming).as_bytes());
        h.write(&self.sent);
    }

    fn reset(&mut self, _kind: ResetKind) {
        let (kind, clock_hz) = (self.kind, self.clock_hz);
        let incoming = std::mem::take(&mut self.incoming);
        let sent = std::mem::take(&mut self.sent);
        *self = Usart::new(kind);
        self.clock_hz = clock_hz;
        // The line is outside the chip: bytes the host sent stay on it (the receiver takes
        // them once enabled again), and bytes already sent still reach the host.
        self.incoming = incoming;
        self.sent = sent;
    }

    fn set_clock_hz(&mut self, hz: u64) {
        self.clock_hz = hz;
    }

    fn next_event(&self) -> Option<Picos> {
        [self.shifting.map(|(_, t)| t), self.rx_next, self.idle_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn advance(&mut self, now: Picos) {
        self.now = self.now.max(now);
        while let Some(t) = self.next_event().filter(|&t| t <= now) {
            if self.shifting.is_some_and(|(_, end)| end == t) {
                self.tx_complete(t);
            } else if self.rx_next == Some(t) {
                self.rx_complete(t);
            } else {
                self.idle_at = None;
                self.isr |= isr::IDLE;
            }
        }
    }

    fn irq_lines(&self) -> u32 {
        let (c1, s) = (self.cr1, self.isr);
        let on = |ie: u32, flags: u32| c1 & ie != 0 && s & flags != 0;
        let line = on(cr1::TXEIE, isr::TXE)
            || on(cr1::TCIE, isr::TC)
            || on(cr1::RXNEIE, isr::RXNE | isr::ORE)
            || on(cr1::IDLEIE, isr::IDLE)
            || on(cr1::PEIE, isr::PE)
            || self.cr3 & CR3_EIE != 0 && s & (isr::FE | isr::ORE | isr::NE) != 0;
        line as u32
    }

    fn serial(&mut self) -> Option<&mut dyn Serial> {
        Some(self)
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoreId;

    use crate::picos::US;

    fn at(now: Picos) -> Access {
        Access::word(CoreId::Cpu1, now)
    }

    /// 115200 baud at the 4 MHz reset clock: BRR = 35, 8N1 frame = 10 × 35 / 4 MHz = 87.5 µs.
    fn usart_8n1() -> Usart {
        let mut u = Usart::new(UartKind::Usart1);
        u.write(reg::BRR, 35, at(0)).unwrap();
        u.write(reg::CR1, cr1::UE | cr1::TE | cr1::RE, at(0))
            .unwrap();
        u
    }

    fn isr(u: &mut Usart, now: Picos) -> u32 {
        u.advance(now);
        u.read(reg::ISR, at(now)).unwrap()
    }

    #[test]
    fn reset_values_and_enable_acknowledge() {
        let mut u = Usart::new(UartKind::Usart1);
        assert_eq!(u.read(reg::ISR, at(0)).unwrap(), isr::TXE | isr::TC);
        for r in [reg::CR1, reg::CR2, reg::CR3, reg::BRR, reg::RDR, reg::PRESC] {
            assert_eq!(u.read(r, at(0)).unwrap(), 0);
        }
        u.write(reg::CR1, cr1::UE | cr1::TE | cr1::RE, at(0))
            .unwrap();
        let s = u.read(reg::ISR, at(0)).unwrap();
        assert_eq!(s & (isr::TEACK | isr::REACK), isr::TEACK | isr::REACK);
        assert_eq!(u.read(0x30, at(0)), Err(BusError::Unmapped));
        let mut lp = Usart::new(UartKind::Lpuart1);
        assert_eq!(lp.read(reg::GTPR, at(0)), Err(BusError::Unmapped));
    }

    #[test]
    fn transmit_takes_one_frame_per_byte_with_txe_and_tc() {
        let mut u = usart_8n1();
        let frame = 87_500_000;
        u.write(reg::TDR, b'A' as u32, at(0)).unwrap();
        // Straight into the shift register: TDR is free again, the line is busy.
        assert_eq!(isr(&mut u, 0) & (isr::TXE | isr::TC), isr::TXE);
        u.write(reg::TDR, b'B' as u32, at(US)).unwrap();
        assert_eq!(isr(&mut u, US) & (isr::TXE | isr::TC), 0);
        assert_eq!(u.next_event(), Some(frame));
        assert!(isr(&mut u, frame - 1) & isr::TXE == 0);
        assert_eq!(u.take(), b"");
        assert_eq!(isr(&mut u, frame) & (isr::TXE | isr::TC), isr::TXE);
        assert_eq!(u.take(), b"A");
        assert_eq!(isr(&mut u, 2 * frame) & isr::TC, isr::TC);
        assert_eq!(u.take(), b"B");
        // TC is cleared through ICR.
        u.write(reg::ICR, isr::TC, at(2 * frame)).unwrap();
        assert_eq!(isr(&mut u, 2 * frame) & isr::TC, 0);
    }

    #[test]
    fn receive_overrun_and_idle() {
        let mut u = usart_8n1();
        let frame = 87_500_000;
        u.send(b"xy");
        assert_eq!(isr(&mut u, frame - 1) & isr::RXNE, 0);
        assert_eq!(isr(&mut u, frame) & isr::RXNE, isr::RXNE);
        // Not read before the second byte completes: overrun, the first byte stays.
        assert_eq!(isr(&mut u, 2 * frame) & isr::ORE, isr::ORE);
        assert_eq!(u.read(reg::RDR, at(2 * frame)).unwrap(), b'x' as u32);
        assert_eq!(isr(&mut u, 2 * frame) & isr::RXNE, 0);
        assert_eq!(isr(&mut u, 3 * frame) & isr::IDLE, isr::IDLE);
        u.write(reg::ICR, isr::ORE | isr::IDLE, at(3 * frame))
            .unwrap();
        assert_eq!(isr(&mut u, 3 * frame) & (isr::ORE | isr::IDLE), 0);
        // With OVRDIS the newer byte replaces the unread one instead.
        u.write(reg::CR3, CR3_OVRDIS, at(3 * frame)).unwrap();
        u.send(b"pq");
        u.advance(5 * frame);
        assert_eq!(u.read(reg::RDR, at(5 * frame)).unwrap(), b'q' as u32);
        assert_eq!(isr(&mut u, 5 * frame) & isr::ORE, 0);
    }

    #[test]
    fn bootloader_8e1_framing_and_line_faults() {
        let mut u = Usart::new(UartKind::Usart1);
        u.write(reg::BRR, 35, at(0)).unwrap();
        u.write(
            reg::CR1,
            cr1::UE | cr1::RE | cr1::M0 | cr1::PCE | cr1::PEIE,
            at(0),
        )
        .unwrap();
        // 1 start + 9-bit word (8 data + parity) + 1 stop = 11 bits.
        u.send(&[0xA5]);
        assert_eq!(
            u.next_event(),
            Some(11 * 35 * 1_000_000_000_000 / 4_000_000)
        );
        u.advance(u.next_event().unwrap());
        assert_eq!(u.read(reg::RDR, at(0)).unwrap(), 0xA5, "all 8 data bits");
        // 7 data bits + parity in an 8-bit word.
        u.write(reg::CR1, cr1::UE | cr1::RE | cr1::PCE | cr1::PEIE, at(0))
            .unwrap();
        u.inject(0xFF, LineFault::Parity);
        let t = u.next_event().unwrap();
        let s = isr(&mut u, t);
        assert_eq!(s & (isr::PE | isr::RXNE), isr::PE | isr::RXNE);
        assert_eq!(u.irq_lines(), 1, "PEIE");
        assert_eq!(u.read(reg::RDR, at(t)).unwrap(), 0x7F);
        u.write(reg::ICR, isr::PE, at(t)).unwrap();
        assert_eq!(u.irq_lines(), 0);
        u.inject(0x00, LineFault::Framing);
        let t = u.next_event().unwrap();
        assert_eq!(isr(&mut u, t) & isr::FE, isr::FE);
        assert_eq!(u.irq_lines(), 0, "FE interrupts only with CR3.EIE");
        u.write(reg::CR3, CR3_EIE, at(t)).unwrap();
        assert_eq!(u.irq_lines(), 1);
    }

    #[test]
    fn lpuart_baud_rate_and_prescaler() {
        // 9600 baud at 4 MHz: BRR = 256 × 4 MHz / 9600 = 106666; 8N1 ≈ 1.0417 ms per byte.
        let mut u = Usart::new(UartKind::Lpuart1);
        u.write(reg::BRR, 106_666, at(0)).unwrap();
        u.write(reg::CR1, cr1::UE | cr1::TE, at(0)).unwrap();
        u.write(reg::TDR, 0x55, at(0)).unwrap();
        let t = u.next_event().unwrap();
        assert!((1_041_600_000..1_041_700_000).contains(&t), "{t}");
        // PRESC = 2 divides the kernel clock by 4: frames four times longer.
        let mut u = usart_8n1();
        u.write(reg::PRESC, 2, at(0)).unwrap();
        u.write(reg::TDR, 0x55, at(0)).unwrap();
        assert_eq!(u.next_event(), Some(4 * 87_500_000));
        // OVER8: BRR 0x23 means USARTDIV 0x26 (BRR[2:0] << 1), baud = 2f / USARTDIV.
        let mut u = usart_8n1();
        u.write(reg::CR1, cr1::UE | cr1::TE | cr1::OVER8, at(0))
            .unwrap();
        u.write(reg::TDR, 0x55, at(0)).unwrap();
        assert_eq!(
            u.next_event(),
            Some(10 * 0x26 * 1_000_000_000_000 / 8_000_000)
        );
    }

    #[test]
    fn interrupts_follow_enables_and_flags() {
        let mut u = usart_8n1();
        assert_eq!(u.irq_lines(), 0);
        u.write(reg::CR1, cr1::UE | cr1::TE | cr1::RE | cr1::TXEIE, at(0))
            .unwrap();
        assert_eq!(u.irq_lines(), 1, "TXE is set while idle");
        u.write(reg::CR1, cr1::UE | cr1::RE | cr1::RXNEIE, at(0))
            .unwrap();
        assert_eq!(u.irq_lines(), 0);
        u.send(b"z");
        u.advance(u.next_event().unwrap());
        assert_eq!(u.irq_lines(), 1);
        u.read(reg::RDR, at(0)).unwrap();
        assert_eq!(u.irq_lines(), 0);
    }

    #[test]
    fn a_reset_keeps_the_hosts_bytes_on_the_line_and_the_clock() {
        let mut u = usart_8n1();
        u.send(b"k");
        u.reset(ResetKind::System);
        assert_eq!(u.next_event(), None, "receiver off after reset");
        u.write(reg::BRR, 35, at(0)).unwrap();
        u.write(reg::CR1, cr1::UE | cr1::RE, at(0)).unwrap();
        assert_eq!(u.next_event(), Some(87_500_000));
        u.advance(87_500_000);
        assert_eq!(u.read(reg::RDR, at(0)).unwrap(), b'k' as u32);
        // Transmitter off: TDR writes send nothing.
        u.write(reg::TDR, 1, at(0)).unwrap();
        assert_eq!(u.next_event(), Some(2 * 87_500_000), "only IDLE pending");
    }
}
