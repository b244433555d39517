//! The peripherals of an STM32WB55 that every machine carries, where they sit and where their
//! interrupt lines go on each core's NVIC (registers reference §2 and §11).

use wb_periph::aes::{Aes, AesInstance};
use wb_periph::crc::Crc;
use wb_periph::hsem::{self, Hsem};
use wb_periph::ipcc::{self, Ipcc};
use wb_periph::pka::Pka;
use wb_periph::rng::Rng;
use wb_periph::usart::{UartKind, Usart};
use wb_periph::Peripheral;

use crate::bus::IrqRoute;

pub const IPCC_BASE: u32 = 0x5800_0C00;
pub const HSEM_BASE: u32 = 0x5800_1400;
pub const AES1_BASE: u32 = 0x5006_0000;
pub const AES2_BASE: u32 = 0x5800_1800;
pub const PKA_BASE: u32 = 0x5800_2000;
pub const RNG_BASE: u32 = 0x5800_1000;
pub const CRC_BASE: u32 = 0x4002_3000;
pub const USART1_BASE: u32 = 0x4001_3800;
pub const LPUART1_BASE: u32 = 0x4000_8000;

/// The serial ports a host can attach to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uart {
    Usart1,
    Lpuart1,
}

impl Uart {
    pub const fn base(self) -> u32 {
        match self {
            Uart::Usart1 => USART1_BASE,
            Uart::Lpuart1 => LPUART1_BASE,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Uart::Usart1 => "usart1",
            Uart::Lpuart1 => "lpuart1",
        }
    }
}

/// CPU2's combined IPCC RX / IPCC TX / HSEM line.
pub const CPU2_IPCC_HSEM_IRQ: u32 = 19;

const fn route(line: u32, cpu1: Option<u32>, cpu2: Option<u32>) -> IrqRoute {
    IrqRoute { line, cpu1, cpu2 }
}

/// One peripheral of the chip: where it is, how to make it, where its lines go.
pub struct Part {
    pub base: u32,
    pub make: fn(&ChipConfig) -> Box<dyn Peripheral>,
    pub routes: &'static [IrqRoute],
}

/// What the peripherals of a new machine are configured with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChipConfig {
    /// Seed of the RNG's deterministic stream.
    pub rng_seed: u64,
}

pub static PARTS: &[Part] = &[
    Part {
        base: IPCC_BASE,
        make: |_| Box::new(Ipcc::new()),
        routes: &[
            route(ipcc::line::C1_RX, Some(44), None),
            route(ipcc::line::C1_TX, Some(45), None),
            route(ipcc::line::C2_RX, None, Some(CPU2_IPCC_HSEM_IRQ)),
            route(ipcc::line::C2_TX, None, Some(CPU2_IPCC_HSEM_IRQ)),
        ],
    },
    Part {
        base: HSEM_BASE,
        make: |_| Box::new(Hsem::new()),
        routes: &[
            route(hsem::line::C1, Some(46), None),
            route(hsem::line::C2, None, Some(CPU2_IPCC_HSEM_IRQ)),
        ],
    },
    Part {
        base: AES1_BASE,
        make: |_| Box::new(Aes::new(AesInstance::Aes1)),
        routes: &[route(0, Some(51), Some(20))],
    },
    Part {
        base: AES2_BASE,
        make: |_| Box::new(Aes::new(AesInstance::Aes2)),
        routes: &[route(0, Some(52), Some(21))],
    },
    Part {
        base: PKA_BASE,
        make: |_| Box::new(Pka::new()),
        routes: &[route(0, Some(29), Some(20))],
    },
    Part {
        base: RNG_BASE,
        make: |c| Box::new(Rng::new(c.rng_seed)),
        routes: &[route(0, Some(53), Some(20))],
    },
    Part {
        base: CRC_BASE,
        make: |_| Box::new(Crc::new()),
        routes: &[],
    },
    Part {
        base: USART1_BASE,
        make: |_| Box::new(Usart::new(UartKind::Usart1)),
        routes: &[route(0, Some(36), Some(27))],
    },
    Part {
        base: LPUART1_BASE,
        make: |_| Box::new(Usart::new(UartKind::Lpuart1)),
        routes: &[route(0, Some(37), Some(28))],
    },
];
