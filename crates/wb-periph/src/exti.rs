//! Extended interrupt and event controller (EXTI @ 0x5800_0800): the configuration registers
//! of both CPUs, software triggers (SWIER → PR, event to each CPU whose EMR selects the line),
//! and the interrupts of lines 0-15 to each CPU's NVIC, as its IRQ table groups them.
//!
//! Not modelled: line inputs from GPIO and peripherals; interrupts of the other configurable
//! lines (PVD, RTC, COMP, ...: their pending bit is set and the first such line is traced).
//! Lines 32-63 are the "2" registers (line 41, which ST's HW_IPCC_Enable selects for CPU2,
//! is bit 9).

use tracing::warn;

use crate::regs::{Bank, RegDef};
use crate::{Access, BusResult, CoreId, Peripheral, ResetKind};

/// Register offsets (RM0434 §14.3), from the shared register map.
pub use wb_regs::exti::reg;

const fn r(name: &'static str, offset: u32) -> RegDef {
    RegDef::new(name, offset, 0, !0)
}

static REGS: [RegDef; 16] = [
    r("RTSR1", reg::RTSR1),
    r("FTSR1", reg::FTSR1),
    r("SWIER1", reg::SWIER1),
    r("PR1", reg::PR1),
    r("RTSR2", reg::RTSR2),
    r("FTSR2", reg::FTSR2),
    r("SWIER2", reg::SWIER2),
    r("PR2", reg::PR2),
    r("C1IMR1", reg::C1IMR1),
    r("C1EMR1", reg::C1EMR1),
    r("C1IMR2", reg::C1IMR2),
    r("C1EMR2", reg::C1EMR2),
    r("C2IMR1", reg::C2IMR1),
    r("C2EMR1", reg::C2EMR1),
    r("C2IMR2", reg::C2IMR2),
    r("C2EMR2", reg::C2EMR2),
];

/// The IRQ of EXTI line 0-15 on `core` (registers reference §11: CPU1 EXTI0..4, EXTI9_5,
/// EXTI15_10; CPU2 EXTI1_0, EXTI3_2, EXTI15_4).
fn gpio_line_irq(core: CoreId, line: u32) -> u32 {
    match core {
        CoreId::Cpu1 => match line {
            0..=4 => 6 + line,
            5..=9 => 23,
            _ => 40,
        },
        CoreId::Cpu2 => match line {
            0 | 1 => 5,
            2 | 3 => 6,
            _ => 7,
        },
    }
}

#[derive(Clone, Debug)]
pub struct Exti {
    regs: Bank,
    /// Events raised for each CPU's event input, taken by the machine.
    events: [bool; 2],
    warned: bool,
}

impl Default for Exti {
    fn default() -> Self {
        Exti::new()
    }
}

impl Exti {
    pub fn new() -> Exti {
        Exti {
            regs: Bank::new(&REGS),
            events: [false; 2],
            warned: false,
        }
    }

    /// Whether an event was sent to `core` since the last call.
    pub fn take_event(&mut self, core: CoreId) -> bool {
        std::mem::take(&mut self.events[core.index()])
    }

    /// The NVIC lines EXTI asserts towards `core`, as a bit set of IRQ numbers: a pending line
    /// that the core unmasks in CnIMR1.
    pub fn pending_irqs(&self, core: CoreId) -> u64 {
        const IMR: [u32; 2] = [reg::C1IMR1, reg::C2IMR1];
        let lines = self.regs.get(reg::PR1) & self.regs.get(IMR[core.index()]);
        if lines == 0 {
            return 0; // the common case, checked at every slice
        }
        let mut irqs = 0;
        for line in 0..16 {
            if lines & (1 << line) != 0 {
                irqs |= 1u64 << gpio_line_irq(core, line);
            }
        }
        irqs
    }

    /// Software trigger of `lines` in group `g` (0: lines 0-31, 1: lines 32-63).
    fn trigger(&mut self, g: usize, lines: u32) {
        const PR: [u32; 2] = [reg::PR1, reg::PR2];
        const IMR: [[u32; 2]; 2] = [[reg::C1IMR1, reg::C2IMR1], [reg::C1IMR2, reg::C2IMR2]];
        const EMR: [[u32; 2]; 2] = [[reg::C1EMR1, reg::C2EMR1], [reg::C1EMR2, reg::C2EMR2]];
        let mut interrupt = false;
        for core in CoreId::ALL {
            let c = core.index();
            if self.regs.get(EMR[g][c]) & lines != 0 {
                self.events[c] = true;
            }
            interrupt |= self.regs.get(IMR[g][c]) & lines != 0;
        }
        if interrupt {
            self.regs.set_bits(PR[g], lines, true);
            let routed = if g == 0 { 0xFFFF } else { 0 };
            if lines & !routed != 0 && !self.warned {
                self.warned = true;
                warn!(target: "wb::exti", group = g, lines = format_args!("{lines:#x}"),
                    "EXTI interrupt of a line other than 0-15 pending: its NVIC line is not modelled");
            }
        }
    }
}

impl Peripheral for Exti {
    fn name(&self) -> &'static str {
        "exti"
    }

    fn size(&self) -> u32 {
        0x400
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        match offset & !3 {
            // Software trigger bits read back as 0 once the trigger is taken.
            reg::SWIER1 | reg::SWIER2 => {
                self.regs.index(offset)?;
                Ok(0)
            }
            _ => self.regs.read(offset, access.width),
        }
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        let (i, old, new) = self.regs.merged(offset, value, access.width)?;
        match offset & !3 {
            reg::SWIER1 => self.trigger(0, new & !old),
            reg::SWIER2 => self.trigger(1, new & !old),
            // Write 1 to clear.
            reg::PR1 | reg::PR2 => self.regs.store(i, old & !new),
            _ => self.regs.store(i, new),
        }
        Ok(())
    }

    fn reset(&mut self, _kind: ResetKind) {
        *self = Exti::new();
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Width;

    fn acc() -> Access {
        Access {
            core: CoreId::Cpu1,
            width: Width::Word,
            now: 0,
        }
    }

    #[test]
    fn software_trigger_sends_events_where_emr_selects() {
        let mut e = Exti::new();
        // HW_IPCC_Enable: line 41 rising edge, CPU2 event.
        e.write(reg::RTSR2, 1 << 9, acc()).unwrap();
        e.write(reg::C2EMR2, 1 << 9, acc()).unwrap();
        e.write(reg::SWIER2, 1 << 9, acc()).unwrap();
        assert!(e.take_event(CoreId::Cpu2));
        assert!(!e.take_event(CoreId::Cpu1));
        assert!(!e.take_event(CoreId::Cpu2));
        assert_eq!(e.read(reg::SWIER2, acc()).unwrap(), 0);
        assert_eq!(e.read(reg::C2EMR2, acc()).unwrap(), 1 << 9);
        // Interrupt mode: pending until cleared by writing 1.
        e.write(reg::C1IMR1, 1 << 3, acc()).unwrap();
        e.write(reg::SWIER1, 1 << 3, acc()).unwrap();
        assert_eq!(e.read(reg::PR1, acc()).unwrap(), 1 << 3);
        e.write(reg::PR1, 1 << 3, acc()).unwrap();
        assert_eq!(e.read(reg::PR1, acc()).unwrap(), 0);
    }

    #[test]
    fn pending_lines_reach_the_nvic_of_the_cores_that_unmask_them() {
        let mut e = Exti::new();
        e.write(reg::C1IMR1, 1 << 3 | 1 << 7 | 1 << 12, acc())
            .unwrap();
        e.write(reg::C2IMR1, 1 << 12, acc()).unwrap();
        e.write(reg::SWIER1, 1 << 3 | 1 << 7 | 1 << 12, acc())
            .unwrap();
        assert_eq!(
            e.pending_irqs(CoreId::Cpu1),
            1 << 9 | 1 << 23 | 1 << 40,
            "EXTI3, EXTI9_5, EXTI15_10"
        );
        assert_eq!(e.pending_irqs(CoreId::Cpu2), 1 << 7, "EXTI15_4");
        e.write(reg::PR1, 1 << 12, acc()).unwrap();
        assert_eq!(e.pending_irqs(CoreId::Cpu2), 0);
        assert_eq!(e.pending_irqs(CoreId::Cpu1), 1 << 9 | 1 << 23);
    }
}
