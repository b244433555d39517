//! The peripheral bus shared by both cores: address decoding to wb-periph models, interrupt
//! routing to each core's NVIC, and the signals one core sends the other (SEV). The flash
//! controller lives here too, with a view of the flash and option-byte buffers it works on.

use wb_periph::flash::{Flash, FlashMem};
use wb_periph::{Access, BusError, CoreId, Peripheral, Picos, ResetKind};

use crate::memory::{self, Memories};

/// The flash controller's IRQ on both cores (CPU1 FLASH_IRQn, CPU2 RCC_FLASH_C1SEV).
pub const FLASH_IRQ: u32 = 4;

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

/// Where the flash and option-byte buffers are, for the flash controller.
#[derive(Clone, Copy, Debug)]
pub struct FlashBuffers {
    main: *mut u8,
    ob: *mut u8,
}

impl FlashBuffers {
    /// The buffers of `mem`, which must outlive every use (the machine owns both).
    pub(crate) fn of(mem: &mut Memories) -> FlashBuffers {
        FlashBuffers {
            main: mem.raw_ptr(memory::FLASH),
            ob: mem.raw_ptr(memory::OPTION_BYTES),
        }
    }

    pub(crate) fn view(&mut self) -> FlashMem<'_> {
        // SAFETY: the pointers come from the machine's `Memories`, whose buffers are allocated
        // once, never resized and outlive the bus. The engines only touch them while guest code
        // runs, never during a bus callback or between slices, which is when this view lives.
        unsafe {
            FlashMem {
                main: std::slice::from_raw_parts_mut(self.main, memory::FLASH.size as usize),
                ob: std::slice::from_raw_parts_mut(self.ob, memory::OPTION_BYTES.size as usize),
            }
        }
    }
}

/// State both engines reach from their hooks (through `Rc<RefCell<Shared>>`).
#[derive(Clone, Debug)]
pub struct Shared {
    pub periphs: Vec<Mapped>,
    /// SEV executed by a core: the event for each core's event register.
    pub sev_to: [bool; 2],
    pub flash: Flash,
    pub flash_buffers: FlashBuffers,
}

impl Shared {
    pub(crate) fn new(flash_buffers: FlashBuffers) -> Shared {
        Shared {
            periphs: Vec::new(),
            sev_to: [false; 2],
            flash: Flash::new(),
            flash_buffers,
        }
    }

    /// The flash controller and the memories it works on.
    pub fn flash_parts(&mut self) -> (&mut Flash, FlashMem<'_>) {
        (&mut self.flash, self.flash_buffers.view())
    }

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
        let periphs = self.periphs.iter().filter_map(|m| m.dev.next_event());
        periphs.chain(self.flash.next_event()).min()
    }

    pub fn advance(&mut self, now: Picos) {
        let (flash, mut mem) = self.flash_parts();
        flash.advance(now, &mut mem);
        for m in &mut self.periphs {
            if m.dev.next_event().is_some_and(|t| t <= now) {
                m.dev.advance(now);
            }
        }
    }

    /// The IRQ numbers asserted towards `core`, as a bit set.
    pub fn asserted_irqs(&self, core: CoreId) -> u64 {
        let mut set = if self.flash.irq_lines() != 0 {
            1 << FLASH_IRQ
        } else {
            0
        };
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
        let (flash, mem) = self.flash_parts();
        flash.reset(kind, &mem);
    }
}
