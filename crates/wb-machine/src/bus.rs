//! The peripheral bus shared by both cores: address decoding to wb-periph models, interrupt
//! routing to each core's NVIC, and the signals one core sends the other (SEV).

use wb_periph::{Access, BusError, CoreId, Peripheral, Picos, ResetKind};

/// Where one interrupt output line of a peripheral goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqRoute {
    /// Bit index in the peripheral's [`Peripheral::irq_lines`].
    pub line: u32,
    /// IRQ number on CPU1's NVIC, if wired there.
    pub cpu1: Option<u32>,
    /// IRQ number on CPU2's NVIC, if wired there.
    pub cpu2: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Mapped {
    pub base: u32,
    pub size: u32,
    pub dev: Box<dyn Peripheral>,
    pub routes: Vec<IrqRoute>,
}

/// State both engines reach from their hooks (through `Rc<RefCell<Shared>>`).
#[derive(Clone, Debug, Default)]
pub struct Shared {
    pub periphs: Vec<Mapped>,
    /// SEV executed by a core: the event for each core's event register.
    pub sev_to: [bool; 2],
}

impl Shared {
    pub fn read(&mut self, index: usize, offset: u32, access: Access) -> Result<u32, BusError> {
        self.periphs[index].dev.read(offset, access)
    }

    pub fn write(
        &mut self,
        index: usize,
        offset: u32,
        value: u32,
        access: Access,
    ) -> Result<(), BusError> {
        self.periphs[index].dev.write(offset, value, access)
    }

    pub fn next_event(&self) -> Option<Picos> {
        self.periphs.iter().filter_map(|m| m.dev.next_event()).min()
    }

    pub fn advance(&mut self, now: Picos) {
        for m in &mut self.periphs {
            if m.dev.next_event().is_some_and(|t| t <= now) {
                m.dev.advance(now);
            }
        }
    }

    /// The IRQ numbers asserted towards `core`, as a bit set.
    pub fn asserted_irqs(&self, core: CoreId) -> u64 {
        let mut set = 0u64;
        for m in &self.periphs {
            let lines = m.dev.irq_lines();
            if lines == 0 {
                continue;
            }
            for r in &m.routes {
                if lines & (1 << r.line) != 0 {
                    let target = match core {
                        CoreId::Cpu1 => r.cpu1,
                        CoreId::Cpu2 => r.cpu2,
                    };
                    if let Some(irq) = target {
                        set |= 1 << irq;
                    }
                }
            }
        }
        set
    }

    pub fn reset(&mut self, kind: ResetKind) {
        for m in &mut self.periphs {
            m.dev.reset(kind);
        }
        self.sev_to = [false; 2];
    }
}
