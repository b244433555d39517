//! The peripherals of an STM32WB55 that every machine carries: one row each with every fact
//! the machine needs of it — name, base, model, interrupt lines on each core's NVIC (registers
//! reference §11), clock enable and bus (§5), whether CPU2 can close it to CPU1 (SYSCFG_SIPCR,
//! §2) — and the windows of the system blocks the bus holds by name.

use wb_periph::aes::{Aes, AesInstance};
use wb_periph::crc::Crc;
use wb_periph::hsem::{self, Hsem};
use wb_periph::ipcc::{self, Ipcc};
use wb_periph::pka::Pka;
use wb_periph::rng::Rng;
use wb_periph::usart::{UartKind, Usart};
use wb_periph::Peripheral;

use wb_periph::rcc::{reg as rcc, BusClock, Gate};
use wb_periph::syscfg::sipcr;
use wb_regs::rcc::enable;

use crate::bus::{IrqRoute, SecureIp, Target};

pub const IPCC_BASE: u32 = wb_regs::ipcc::BASE;
pub const HSEM_BASE: u32 = wb_regs::hsem::BASE;
pub const AES1_BASE: u32 = wb_regs::base::AES1;
pub const AES2_BASE: u32 = wb_regs::base::AES2;
pub const PKA_BASE: u32 = wb_regs::base::PKA;
pub const RNG_BASE: u32 = wb_regs::base::RNG;
pub const CRC_BASE: u32 = wb_regs::base::CRC;
pub const USART1_BASE: u32 = wb_regs::base::USART1;
pub const LPUART1_BASE: u32 = wb_regs::base::LPUART1;
pub const RCC_BASE: u32 = wb_regs::rcc::BASE;
pub const PWR_BASE: u32 = wb_regs::pwr::BASE;
pub const EXTI_BASE: u32 = wb_regs::exti::BASE;
pub const SYSCFG_BASE: u32 = wb_regs::syscfg::BASE;
/// The flash controller's registers (each core maps them itself: it knows that core's view).
pub const FLASH_REGS: u32 = wb_regs::flash::BASE;
/// Every system block's register window is 1 KiB.
pub const SYSTEM_WINDOW: u32 = 0x400;

/// The register windows of the system blocks the bus holds by name: (target, base).
pub const SYSTEM_BLOCKS: [(Target, u32); 4] = [
    (Target::Rcc, RCC_BASE),
    (Target::Pwr, PWR_BASE),
    (Target::Exti, EXTI_BASE),
    (Target::Syscfg, SYSCFG_BASE),
];

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

/// One peripheral of the chip and everything the machine needs of it.
pub struct Part {
    pub name: &'static str,
    /// Where its registers start (the model gives their size).
    pub base: u32,
    pub make: fn(&ChipConfig) -> Box<dyn Peripheral>,
    /// Where its interrupt lines go on each core's NVIC.
    pub routes: &'static [IrqRoute],
    /// Its clock enable in the RCC (CPU1's and CPU2's register, the bit).
    pub gate: Option<Gate>,
    /// The clock its registers and timing run on.
    pub clock: BusClock,
    /// Whether CPU2 can close it (or its keys) to CPU1 through SYSCFG_SIPCR.
    pub secure: Option<SecureIp>,
}

/// The enable `mask` (one bit, `wb_regs::enable`) in CPU1's register and CPU2's.
const fn gate(name: &'static str, cpu1: u32, cpu2: u32, mask: u32) -> Option<Gate> {
    Some(Gate {
        name,
        cpu1,
        cpu2: Some(cpu2),
        bit: mask.trailing_zeros(),
    })
}

const fn closed_by(bit: u32) -> Option<SecureIp> {
    Some(SecureIp {
        bit,
        keys_only: false,
    })
}

/// What the peripherals of a new machine are configured with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChipConfig {
    /// Seed of the RNG's deterministic stream.
    pub rng_seed: u64,
}

pub static PARTS: &[Part] = &[
    Part {
        name: "IPCC",
        base: IPCC_BASE,
        make: |_| Box::new(Ipcc::new()),
        routes: &[
            route(ipcc::line::C1_RX, Some(44), None),
            route(ipcc::line::C1_TX, Some(45), None),
            route(ipcc::line::C2_RX, None, Some(CPU2_IPCC_HSEM_IRQ)),
            route(ipcc::line::C2_TX, None, Some(CPU2_IPCC_HSEM_IRQ)),
        ],
        gate: gate("IPCC", rcc::AHB3ENR, rcc::C2AHB3ENR, enable::IPCCEN),
        clock: BusClock::Hclk4,
        secure: None,
    },
    Part {
        name: "HSEM",
        base: HSEM_BASE,
        make: |_| Box::new(Hsem::new()),
        routes: &[
            route(hsem::line::C1, Some(46), None),
            route(hsem::line::C2, None, Some(CPU2_IPCC_HSEM_IRQ)),
        ],
        gate: gate("HSEM", rcc::AHB3ENR, rcc::C2AHB3ENR, enable::HSEMEN),
        clock: BusClock::Hclk4,
        secure: None,
    },
    Part {
        name: "AES1",
        base: AES1_BASE,
        make: |_| Box::new(Aes::new(AesInstance::Aes1)),
        routes: &[route(0, Some(51), Some(20))],
        gate: gate("AES1", rcc::AHB2ENR, rcc::C2AHB2ENR, enable::AES1EN),
        clock: BusClock::Hclk1,
        secure: Some(SecureIp {
            bit: sipcr::SAES1,
            keys_only: true,
        }),
    },
    Part {
        name: "AES2",
        base: AES2_BASE,
        make: |_| Box::new(Aes::new(AesInstance::Aes2)),
        routes: &[route(0, Some(52), Some(21))],
        gate: gate("AES2", rcc::AHB3ENR, rcc::C2AHB3ENR, enable::AES2EN),
        clock: BusClock::Hclk4,
        secure: closed_by(sipcr::SAES2),
    },
    Part {
        name: "PKA",
        base: PKA_BASE,
        make: |_| Box::new(Pka::new()),
        routes: &[route(0, Some(29), Some(20))],
        gate: gate("PKA", rcc::AHB3ENR, rcc::C2AHB3ENR, enable::PKAEN),
        clock: BusClock::Hclk4,
        secure: closed_by(sipcr::SPKA),
    },
    Part {
        name: "RNG",
        base: RNG_BASE,
        make: |c| Box::new(Rng::new(c.rng_seed)),
        routes: &[route(0, Some(53), Some(20))],
        gate: gate("RNG", rcc::AHB3ENR, rcc::C2AHB3ENR, enable::RNGEN),
        clock: BusClock::Hclk4,
        secure: closed_by(sipcr::SRNG),
    },
    Part {
        name: "CRC",
        base: CRC_BASE,
        make: |_| Box::new(Crc::new()),
        routes: &[],
        gate: gate("CRC", rcc::AHB1ENR, rcc::C2AHB1ENR, enable::CRCEN),
        clock: BusClock::Hclk1,
        secure: None,
    },
    Part {
        name: "USART1",
        base: USART1_BASE,
        make: |_| Box::new(Usart::new(UartKind::Usart1)),
        routes: &[route(0, Some(36), Some(27))],
        gate: gate("USART1", rcc::APB2ENR, rcc::C2APB2ENR, enable::USART1EN),
        clock: BusClock::Pclk2,
        secure: None,
    },
    Part {
        name: "LPUART1",
        base: LPUART1_BASE,
        make: |_| Box::new(Usart::new(UartKind::Lpuart1)),
        routes: &[route(0, Some(37), Some(28))],
        gate: gate("LPUART1", rcc::APB1ENR2, rcc::C2APB1ENR2, enable::LPUART1EN),
        clock: BusClock::Pclk1,
        secure: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Bases, clock enables and security bits against the reference (RM0434 Table 1 memory
    /// map, §8.4.x RCC_AHBxENR/APBxENRy, §7.2.x SYSCFG_SIPCR), as the registers reference
    /// (stm32wb55-registers.md §2, §5) lists them.
    #[test]
    fn rows_hold_the_reference_manual_facts() {
        let row = |name: &str| PARTS.iter().find(|p| p.name == name).unwrap();
        let facts = [
            ("IPCC", 0x5800_0C00, 0x50, 20),
            ("HSEM", 0x5800_1400, 0x50, 19),
            ("AES1", 0x5006_0000, 0x4C, 16),
            ("AES2", 0x5800_1800, 0x50, 17),
            ("PKA", 0x5800_2000, 0x50, 16),
            ("RNG", 0x5800_1000, 0x50, 18),
            ("CRC", 0x4002_3000, 0x48, 12),
            ("USART1", 0x4001_3800, 0x60, 14),
            ("LPUART1", 0x4000_8000, 0x5C, 0),
        ];
        for (name, base, enr, bit) in facts {
            let p = row(name);
            let g = p.gate.unwrap();
            assert_eq!((p.base, g.cpu1, g.bit), (base, enr, bit), "{name}");
            // CPU2's enable registers sit 0x100 above CPU1's (RCC_C2AHB1ENR = 0x148, ...).
            assert_eq!(g.cpu2, Some(enr + 0x100), "{name}");
            // The bus matches the memory map's region for the base.
            assert_eq!(p.clock, wb_periph::rcc::bus_clock_for(base), "{name}");
        }
        // SIPCR: SAES1 (bit 0, key registers only), SAES2 (1), SPKA (2), SRNG (3).
        assert_eq!(
            row("AES1").secure.map(|s| (s.bit, s.keys_only)),
            Some((1, true))
        );
        assert_eq!(row("AES2").secure.map(|s| s.bit), Some(1 << 1));
        assert_eq!(row("PKA").secure.map(|s| s.bit), Some(1 << 2));
        assert_eq!(row("RNG").secure.map(|s| s.bit), Some(1 << 3));
        assert!(row("IPCC").secure.is_none());
        assert_eq!(FLASH_REGS, 0x5800_4000);
        assert_eq!(
            (RCC_BASE, PWR_BASE, EXTI_BASE, SYSCFG_BASE),
            (0x5800_0000, 0x5800_0400, 0x5800_0800, 0x4001_0000)
        );
    }
}
