//! The peripheral bus shared by both cores: address decoding to wb-periph models, interrupt
//! routing to each core's NVIC, and the signals one core sends the other (SEV). The system
//! blocks the machine itself listens to live here as named fields: the flash controller, RCC,
//! PWR, EXTI and SYSCFG (whose secure-IP register closes AES1's keys, AES2, the PKA and the
//! RNG to CPU1). It is plain data: the flash and option-byte memory the flash controller works
//! on is lent to it per call by whoever owns it (the machine, or a core's hook).

use tracing::warn;
use wb_periph::exti::Exti;
use wb_periph::flash::{Flash, FlashMem};
use wb_periph::pwr::Pwr;
use wb_periph::rcc::{self, BusClock, Gate, Rcc};
use wb_periph::syscfg::Syscfg;
use wb_periph::{Access, BusError, CoreId, Peripheral, Picos, ResetKind};

use crate::clock::Clocks;
use crate::memory::{self, Memories};

/// The flash controller's IRQ on both cores (CPU1 FLASH_IRQn, CPU2 RCC_FLASH_C1SEV).
pub const FLASH_IRQ: u32 = 4;

/// AES_KEYR0..3 (0x10-0x1C) and AES_KEYR4..7 (0x30-0x3C): what SAES1 closes.
fn is_aes_key_register(offset: u32) -> bool {
    matches!(offset & !3, 0x10..=0x1C | 0x30..=0x3C)
}

/// How CPU2 can close a peripheral to CPU1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecureIp {
    /// Its SYSCFG_SIPCR bit.
    pub bit: u32,
    /// Only the key registers (AES1), not the whole peripheral.
    pub keys_only: bool,
}

/// What a mapped register window reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// An attached peripheral (index into `Bus::periphs`).
    Device(usize),
    Rcc,
    Pwr,
    Exti,
    Syscfg,
}

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
    /// Its clock enable in the RCC, if it has one.
    pub gate: Option<Gate>,
    /// An access with the clock off was already traced.
    pub gate_traced: bool,
    /// The clock its registers and timing run on.
    pub clock: BusClock,
    /// Its SYSCFG_SIPCR security, if CPU2 can close it to CPU1.
    pub secure: Option<SecureIp>,
}

impl Mapped {
    /// A peripheral of the chip (`crate::chip::PARTS`), with the facts of its row.
    pub fn of(part: &crate::chip::Part, dev: Box<dyn Peripheral>) -> Mapped {
        Mapped {
            base: part.base,
            size: dev.size(),
            dev,
            routes: part.routes.to_vec(),
            gate: part.gate,
            gate_traced: false,
            clock: part.clock,
            secure: part.secure,
        }
    }

    /// A peripheral added from outside the chip's table (a test device): no clock enable, no
    /// SIPCR security, the bus its address is on (RM0434 Table 1).
    pub fn extra(base: u32, dev: Box<dyn Peripheral>, routes: &[IrqRoute]) -> Mapped {
        Mapped {
            base,
            size: dev.size(),
            dev,
            routes: routes.to_vec(),
            gate: None,
            gate_traced: false,
            clock: rcc::bus_clock_for(base),
            secure: None,
        }
    }
}

/// Where the flash and option-byte buffers are, for a core's hooks (which cannot reach the
/// machine's [`Memories`]) to lend them to the flash controller. Not part of any snapshot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FlashBuffers {
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
        // once, never resized and outlive the engines whose hooks hold them. Guest code reaches
        // flash only through loads (stores go to the flash controller's port), the machine does
        // not touch its memories while a core runs, and this view lives only inside one hook
        // call, when no other reference to those buffers is in use.
        unsafe {
            FlashMem {
                main: std::slice::from_raw_parts_mut(self.main, memory::FLASH.size as usize),
                ob: std::slice::from_raw_parts_mut(self.ob, memory::OPTION_BYTES.size as usize),
            }
        }
    }
}

/// State both engines reach from their hooks (through `Rc<RefCell<Bus>>`): plain, owned
/// data, cloned whole into a snapshot.
#[derive(Clone, Debug)]
pub struct Bus {
    pub periphs: Vec<Mapped>,
    /// SEV executed by a core: the event for each core's event register.
    pub sev_to: [bool; 2],
    pub flash: Flash,
    pub rcc: Rcc,
    pub pwr: Pwr,
    pub exti: Exti,
    pub syscfg: Syscfg,
}

impl Bus {
    pub(crate) fn new() -> Bus {
        Bus {
            periphs: Vec::new(),
            sev_to: [false; 2],
            flash: Flash::new(),
            rcc: Rcc::new(),
            pwr: Pwr::new(),
            exti: Exti::new(),
            syscfg: Syscfg::new(),
        }
    }

    fn system(&mut self, target: Target) -> &mut dyn Peripheral {
        match target {
            Target::Rcc => &mut self.rcc,
            Target::Pwr => &mut self.pwr,
            Target::Exti => &mut self.exti,
            Target::Syscfg => &mut self.syscfg,
            Target::Device(i) => self.periphs[i].dev.as_mut(),
        }
    }

    /// Whether device `i` is clocked; traces (once) an access made while it is not. As on the
    /// chip, such an access does nothing: reads give 0, writes are lost.
    fn clocked(&mut self, i: usize, offset: u32, access: Access) -> bool {
        let m = &self.periphs[i];
        if m.gate.is_none_or(|g| self.rcc.clocked(&g)) {
            return true;
        }
        if !m.gate_traced {
            warn!(target: "wb::bus", peripheral = m.dev.name(), core = %access.core,
                address = format_args!("{:#010x}", m.base + offset),
                "access while its clock is off (RCC enable bit clear): read as 0, write lost");
            self.periphs[i].gate_traced = true;
        }
        false
    }

    /// Whether CPU2 has closed (part of) device `i` to the accessing core through SYSCFG_SIPCR.
    /// CPU1 then gets a bus error, as it does on the chip once a FUS user key is loaded.
    fn closed(&self, i: usize, offset: u32, access: Access) -> bool {
        let m = &self.periphs[i];
        access.core == CoreId::Cpu1
            && m.secure.is_some_and(|s| {
                self.syscfg.sipcr() & s.bit != 0 && (!s.keys_only || is_aes_key_register(offset))
            })
    }

    pub fn read(&mut self, target: Target, offset: u32, access: Access) -> Result<u32, BusError> {
        wb_periph::log_clock::set(access.now);
        if let Target::Device(i) = target {
            if self.closed(i, offset, access) {
                return Err(BusError::Denied);
            }
            if !self.clocked(i, offset, access) {
                return Ok(0);
            }
        }
        let dev = self.system(target);
        advance_if_due(dev, access.now);
        dev.read(offset, access)
    }

    pub fn write(
        &mut self,
        target: Target,
        offset: u32,
        value: u32,
        access: Access,
    ) -> Result<(), BusError> {
        wb_periph::log_clock::set(access.now);
        if let Target::Device(i) = target {
            if self.closed(i, offset, access) {
                return Err(BusError::Denied);
            }
            if !self.clocked(i, offset, access) {
                return Ok(());
            }
        }
        let dev = self.system(target);
        advance_if_due(dev, access.now);
        let r = dev.write(offset, value, access);
        if target == Target::Exti {
            for c in CoreId::ALL {
                self.sev_to[c.index()] |= self.exti.take_event(c);
            }
        }
        r
    }

    pub fn next_event(&self) -> Option<Picos> {
        let periphs = self.periphs.iter().filter_map(|m| m.dev.next_event());
        let system = [self.rcc.next_event(), self.pwr.next_event()];
        periphs
            .chain(self.flash.next_event())
            .chain(system.into_iter().flatten())
            .min()
    }

    /// Do the timed work due by `now`; the flash controller works on `mem`.
    pub fn advance(&mut self, now: Picos, mem: &mut FlashMem<'_>) {
        wb_periph::log_clock::set(now);
        self.flash.advance(now, mem);
        advance_if_due(&mut self.rcc, now);
        advance_if_due(&mut self.pwr, now);
        for m in &mut self.periphs {
            advance_if_due(m.dev.as_mut(), now);
        }
    }

    /// Tell every device the frequency of its bus: the RCC's, or with pinned clocks CPU1's for
    /// every bus (ST's SystemClock_Config runs AHB4 and the APBs at HCLK1).
    pub fn set_bus_clocks(&mut self, clocks: Clocks) {
        let freqs = self.rcc.frequencies();
        for m in &mut self.periphs {
            m.dev.set_clock_hz(match clocks {
                Clocks::Rcc => freqs.bus(m.clock),
                Clocks::Fixed { cpu1_hz, .. } => cpu1_hz,
            });
        }
    }

    /// The IRQ numbers asserted towards `core`, as a bit set.
    pub fn asserted_irqs(&self, core: CoreId) -> u64 {
        let mut set = self.exti.pending_irqs(core);
        if self.flash.irq_lines() != 0 {
            set |= 1 << FLASH_IRQ;
        }
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

    /// Reset every device; the flash controller reloads its option bytes from `mem`.
    pub fn reset(&mut self, kind: ResetKind, mem: &FlashMem<'_>) {
        for m in &mut self.periphs {
            m.dev.reset(kind);
        }
        self.sev_to = [false; 2];
        self.rcc.reset(kind);
        self.pwr.reset(kind);
        self.exti.reset(kind);
        self.syscfg.reset(kind);
        self.flash.reset(kind, mem);
    }
}

/// Do the timed work `dev` has due by `now`. A core's access catches its target up to the
/// access time first: a core runs a little past the quantum boundary where the machine
/// advances everything, and must not see a register older than its own time.
fn advance_if_due(dev: &mut dyn Peripheral, now: Picos) {
    if dev.next_event().is_some_and(|t| t <= now) {
        dev.advance(now);
    }
}
