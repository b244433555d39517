//! Inter-processor communication controller (IPCC @ 0x5800_0C00): six channels in each
//! direction, in simplex mode as ST's mailbox uses them.
//!
//! Each processor has a control register (RXOIE, TXFIE), a mask register (CHnOM occupied
//! masks in bits 0-5, CHnFM free masks in bits 16-21), a set/clear register and a status
//! register holding the flags of the channels it transmits on. CPU1 sets CHnF in C1TOC2SR by
//! writing CHnS to C1SCR ("message for CPU2"); CPU2 clears it by writing CHnC to C2SCR ("taken").
//! The interrupt outputs are levels:
//! - CPU1 RX occupied (IRQ 44): C1CR.RXOIE and some C2TOC1SR.CHnF with C1MR.CHnOM = 0;
//! - CPU1 TX free (IRQ 45): C1CR.TXFIE and some C1TOC2SR.CHnF = 0 with C1MR.CHnFM = 0;
//! - the same for CPU2, both on its combined IPCC/HSEM line 19.
//!
//! The registers take 32-bit accesses only (RM0434 §37: "accessed by words"); a narrower
//! access is refused on the bus.

use crate::{Access, BusError, BusResult, CoreId, Peripheral, ResetKind, Width};
use tracing::debug;

/// Register offsets and bits (RM0434 §37.4), from the shared register map.
pub use wb_regs::ipcc::{reg, CHANNELS, RXOIE, TXFIE};

/// Reset value of CnMR: every channel masked, both ways.
const MR_RESET: u32 = CHANNELS | (CHANNELS << 16);

/// Bits of [`Peripheral::irq_lines`].
pub mod line {
    pub const C1_RX: u32 = 0;
    pub const C1_TX: u32 = 1;
    pub const C2_RX: u32 = 2;
    pub const C2_TX: u32 = 3;
}

/// One processor's side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Side {
    cr: u32,
    mr: u32,
    /// Flags of the channels this processor transmits on (CxTOCySR).
    tx_flags: u32,
}

#[derive(Clone, Debug)]
pub struct Ipcc {
    sides: [Side; 2],
}

impl Default for Ipcc {
    fn default() -> Self {
        Ipcc::new()
    }
}

impl Ipcc {
    pub fn new() -> Ipcc {
        let side = Side {
            cr: 0,
            mr: MR_RESET,
            tx_flags: 0,
        };
        Ipcc { sides: [side; 2] }
    }

    /// The channel flags `from` has raised towards the other processor (CxTOCySR).
    pub fn flags(&self, from: CoreId) -> u32 {
        self.sides[from.index()].tx_flags
    }

    /// Register offsets group by processor: 0x00-0x0C CPU1, 0x10-0x1C CPU2.
    fn side_of(offset: u32) -> CoreId {
        if offset < reg::C2CR {
            CoreId::Cpu1
        } else {
            CoreId::Cpu2
        }
    }

    /// Whether `core` has an RX-occupied interrupt asserted.
    fn rx_pending(&self, core: CoreId) -> bool {
        let me = &self.sides[core.index()];
        let incoming = self.sides[core.other().index()].tx_flags;
        me.cr & RXOIE != 0 && incoming & !me.mr & CHANNELS != 0
    }

    /// Whether `core` has a TX-free interrupt asserted.
    fn tx_pending(&self, core: CoreId) -> bool {
        let me = &self.sides[core.index()];
        me.cr & TXFIE != 0 && !me.tx_flags & !(me.mr >> 16) & CHANNELS != 0
    }
}

/// Channel bits as their numbers, 1..6 ("2,4").
struct Channels(u32);

impl std::fmt::Display for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sep = "";
        for ch in (0..6).filter(|ch| self.0 & (1 << ch) != 0) {
            write!(f, "{sep}{}", ch + 1)?;
            sep = ",";
        }
        Ok(())
    }
}

impl Peripheral for Ipcc {
    fn name(&self) -> &'static str {
        "ipcc"
    }

    fn size(&self) -> u32 {
        0x400
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        if access.width != Width::Word {
            return Err(BusError::Width);
        }
        let s = &self.sides[Self::side_of(offset).index()];
        Ok(match offset {
            reg::C1CR | reg::C2CR => s.cr,
            reg::C1MR | reg::C2MR => s.mr,
            // Set/clear registers are write-only.
            reg::C1SCR | reg::C2SCR => 0,
            reg::C1TOC2SR | reg::C2TOC1SR => s.tx_flags,
            // The identification registers at 0x3F0.. are not modelled: a bus error says so.
            _ => return Err(BusError::Unmapped),
        })
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        if access.width != Width::Word {
            return Err(BusError::Width);
        }
        let core = Self::side_of(offset);
        match offset {
            reg::C1CR | reg::C2CR => self.sides[core.index()].cr = value & (RXOIE | TXFIE),
            reg::C1MR | reg::C2MR => self.sides[core.index()].mr = value & MR_RESET,
            reg::C1SCR | reg::C2SCR => {
                // CHnC: acknowledge a message of the other processor; CHnS: send one.
                let (clear, set) = (value & CHANNELS, (value >> 16) & CHANNELS);
                self.sides[core.other().index()].tx_flags &= !clear;
                self.sides[core.index()].tx_flags |= set;
                if clear != 0 {
                    debug!(target: "wb::ipcc", %core, channels = %Channels(clear), "taken (CHnC)");
                }
                if set != 0 {
                    debug!(target: "wb::ipcc", %core, channels = %Channels(set), "sent (CHnS)");
                }
            }
            // Status registers are read-only: writes are ignored.
            reg::C1TOC2SR | reg::C2TOC1SR => {}
            _ => return Err(BusError::Unmapped),
        }
        Ok(())
    }

    fn reset(&mut self, _kind: ResetKind) {
        *self = Ipcc::new();
    }

    fn irq_lines(&self) -> u32 {
        let mut lines = 0;
        for (core, rx, tx) in [
            (CoreId::Cpu1, line::C1_RX, line::C1_TX),
            (CoreId::Cpu2, line::C2_RX, line::C2_TX),
        ] {
            lines |= (self.rx_pending(core) as u32) << rx;
            lines |= (self.tx_pending(core) as u32) << tx;
        }
        lines
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(core: CoreId) -> Access {
        Access::word(core, 0)
    }

    fn w(i: &mut Ipcc, core: CoreId, off: u32, v: u32) {
        i.write(off, v, acc(core)).unwrap();
    }

    fn r(i: &mut Ipcc, core: CoreId, off: u32) -> u32 {
        i.read(off, acc(core)).unwrap()
    }

    /// Read-modify-write as the LL functions do.
    fn modify(i: &mut Ipcc, core: CoreId, off: u32, clear: u32, set: u32) {
        let v = r(i, core, off);
        w(i, core, off, (v & !clear) | set);
    }

    const CH2: u32 = 1 << 1;
    const CH4: u32 = 1 << 3;

    #[test]
    fn reset_values_mask_every_channel() {
        let mut i = Ipcc::new();
        for off in [reg::C1MR, reg::C2MR] {
            assert_eq!(r(&mut i, CoreId::Cpu1, off), 0x003F_003F);
        }
        for off in [reg::C1CR, reg::C1SCR, reg::C1TOC2SR, reg::C2TOC1SR] {
            assert_eq!(r(&mut i, CoreId::Cpu1, off), 0);
        }
        assert_eq!(i.irq_lines(), 0);
    }

    /// The system command / event / release sequence of ST's hw_ipcc.c (fus-clients.md B.5).
    #[test]
    fn hw_ipcc_system_command_sequence() {
        use CoreId::*;
        let mut i = Ipcc::new();
        // HW_IPCC_Init: RXO and TXF interrupts on (both CPUs' sides as each firmware does).
        modify(&mut i, Cpu1, reg::C1CR, 0, RXOIE | TXFIE);
        modify(&mut i, Cpu2, reg::C2CR, 0, RXOIE | TXFIE);
        // HW_IPCC_SYS_Init: enable receive on channel 2 (clear CH2OM).
        modify(&mut i, Cpu1, reg::C1MR, CH2, 0);
        // CPU2 listens on channels 2 (system command) and 4 (buffer release).
        modify(&mut i, Cpu2, reg::C2MR, CH2 | CH4, 0);
        assert_eq!(i.irq_lines(), 0, "nothing sent, TX-free masked");

        // HW_IPCC_SYS_SendCmd: set flag, then unmask TX-free to learn when CPU2 is done.
        w(&mut i, Cpu1, reg::C1SCR, CH2 << 16);
        modify(&mut i, Cpu1, reg::C1MR, CH2 << 16, 0);
        assert_eq!(r(&mut i, Cpu1, reg::C1TOC2SR), CH2);
        assert_eq!(
            r(&mut i, Cpu2, reg::C1TOC2SR),
            CH2,
            "both CPUs see the flag"
        );
        assert_eq!(i.irq_lines(), 1 << line::C2_RX, "CPU2 RX occupied");

        // CPU2 answers in the command buffer and clears the flag.
        w(&mut i, Cpu2, reg::C2SCR, CH2);
        assert_eq!(r(&mut i, Cpu1, reg::C1TOC2SR), 0);
        assert_eq!(
            i.irq_lines(),
            1 << line::C1_TX,
            "CPU1 TX free (the response)"
        );
        // HW_IPCC_SYS_CmdEvtHandler: mask TX-free again.
        modify(&mut i, Cpu1, reg::C1MR, 0, CH2 << 16);
        assert_eq!(i.irq_lines(), 0);

        // CPU2 sends an asynchronous event on channel 2.
        w(&mut i, Cpu2, reg::C2SCR, CH2 << 16);
        assert_eq!(r(&mut i, Cpu1, reg::C2TOC1SR), CH2);
        assert_eq!(i.irq_lines(), 1 << line::C1_RX);
        // HW_IPCC_SYS_EvtHandler: CPU1 acknowledges with C1SCR = CH2.
        w(&mut i, Cpu1, reg::C1SCR, CH2);
        assert_eq!(r(&mut i, Cpu2, reg::C2TOC1SR), 0);
        assert_eq!(i.irq_lines(), 0);

        // HW_IPCC_MM_SendFreeBuf: release on channel 4 when it is free.
        assert_eq!(r(&mut i, Cpu1, reg::C1TOC2SR) & CH4, 0);
        w(&mut i, Cpu1, reg::C1SCR, CH4 << 16);
        assert_eq!(i.irq_lines(), 1 << line::C2_RX);
        assert_eq!(i.flags(Cpu1), CH4);
    }

    #[test]
    fn masks_gate_each_channel_and_enables_gate_the_line() {
        use CoreId::*;
        let mut i = Ipcc::new();
        w(&mut i, Cpu2, reg::C2SCR, (1 << 5) << 16);
        w(&mut i, Cpu1, reg::C1MR, 0x003F_0020); // CH6 masked
        w(&mut i, Cpu1, reg::C1CR, RXOIE);
        assert_eq!(i.irq_lines(), 0);
        w(&mut i, Cpu1, reg::C1MR, 0x003F_0000);
        assert_eq!(i.irq_lines(), 1 << line::C1_RX);
        w(&mut i, Cpu1, reg::C1CR, 0);
        assert_eq!(i.irq_lines(), 0);
        // Unimplemented bits read back as zero.
        w(&mut i, Cpu1, reg::C1CR, !0);
        assert_eq!(r(&mut i, Cpu1, reg::C1CR), RXOIE | TXFIE);
    }

    #[test]
    fn narrow_and_unmapped_accesses_are_refused() {
        let mut i = Ipcc::new();
        let byte = Access {
            width: Width::Byte,
            ..acc(CoreId::Cpu1)
        };
        assert_eq!(i.read(reg::C1CR, byte), Err(BusError::Width));
        assert_eq!(i.write(reg::C1SCR, 2, byte), Err(BusError::Width));
        assert_eq!(i.read(0x20, acc(CoreId::Cpu1)), Err(BusError::Unmapped));
        // Status is read-only.
        w(&mut i, CoreId::Cpu1, reg::C1TOC2SR, 1);
        assert_eq!(i.flags(CoreId::Cpu1), 0);
    }
}
