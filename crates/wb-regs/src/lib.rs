//! The STM32WB55's register map, written once: base addresses, register offsets and bit
//! names as RM0434 (and the Arm architecture manuals for the core's System Control Space)
//! name them. `no_std`, no dependencies: the peripheral models, the guest firmware and the
//! host-side clients all read their addresses from here.
#![no_std]

/// Reset and clock control (RM0434 §8).
pub mod rcc {
    /// Base address (RM0434 Table 1 memory map).
    pub const BASE: u32 = 0x5800_0000;

    /// The absolute address of register `offset`.
    pub const fn addr(offset: u32) -> u32 {
        BASE + offset
    }

    pub mod reg {
        pub const CR: u32 = 0x000;
        pub const ICSCR: u32 = 0x004;
        pub const CFGR: u32 = 0x008;
        pub const PLLCFGR: u32 = 0x00C;
        pub const PLLSAI1CFGR: u32 = 0x010;
        pub const CIER: u32 = 0x018;
        pub const CIFR: u32 = 0x01C;
        pub const CICR: u32 = 0x020;
        pub const SMPSCR: u32 = 0x024;
        pub const AHB1RSTR: u32 = 0x028;
        pub const AHB2RSTR: u32 = 0x02C;
        pub const AHB3RSTR: u32 = 0x030;
        pub const APB1RSTR1: u32 = 0x038;
        pub const APB1RSTR2: u32 = 0x03C;
        pub const APB2RSTR: u32 = 0x040;
        pub const APB3RSTR: u32 = 0x044;
        pub const AHB1ENR: u32 = 0x048;
        pub const AHB2ENR: u32 = 0x04C;
        pub const AHB3ENR: u32 = 0x050;
        pub const APB1ENR1: u32 = 0x058;
        pub const APB1ENR2: u32 = 0x05C;
        pub const APB2ENR: u32 = 0x060;
        pub const AHB1SMENR: u32 = 0x068;
        pub const AHB2SMENR: u32 = 0x06C;
        pub const AHB3SMENR: u32 = 0x070;
        pub const APB1SMENR1: u32 = 0x078;
        pub const APB1SMENR2: u32 = 0x07C;
        pub const APB2SMENR: u32 = 0x080;
        pub const CCIPR: u32 = 0x088;
        pub const BDCR: u32 = 0x090;
        pub const CSR: u32 = 0x094;
        pub const CRRCR: u32 = 0x098;
        pub const HSECR: u32 = 0x09C;
        pub const EXTCFGR: u32 = 0x108;
        pub const C2AHB1ENR: u32 = 0x148;
        pub const C2AHB2ENR: u32 = 0x14C;
        pub const C2AHB3ENR: u32 = 0x150;
        pub const C2APB1ENR1: u32 = 0x158;
        pub const C2APB1ENR2: u32 = 0x15C;
        pub const C2APB2ENR: u32 = 0x160;
        pub const C2APB3ENR: u32 = 0x164;
        pub const C2AHB1SMENR: u32 = 0x168;
        pub const C2AHB2SMENR: u32 = 0x16C;
        pub const C2AHB3SMENR: u32 = 0x170;
        pub const C2APB1SMENR1: u32 = 0x178;
        pub const C2APB1SMENR2: u32 = 0x17C;
        pub const C2APB2SMENR: u32 = 0x180;
        pub const C2APB3SMENR: u32 = 0x184;
    }

    /// RCC_CR bits.
    pub mod cr {
        pub const MSION: u32 = 1 << 0;
        pub const MSIRDY: u32 = 1 << 1;
        pub const MSIRANGE_SHIFT: u32 = 4;
        pub const HSION: u32 = 1 << 8;
        pub const HSIKERON: u32 = 1 << 9;
        pub const HSIRDY: u32 = 1 << 10;
        pub const HSIKERDY: u32 = 1 << 12;
        pub const HSEON: u32 = 1 << 16;
        pub const HSERDY: u32 = 1 << 17;
        pub const HSEPRE: u32 = 1 << 20;
        pub const PLLON: u32 = 1 << 24;
        pub const PLLRDY: u32 = 1 << 25;
        pub const PLLSAI1ON: u32 = 1 << 26;
        pub const PLLSAI1RDY: u32 = 1 << 27;
        pub const READY: u32 = MSIRDY | HSIRDY | HSIKERDY | HSERDY | PLLRDY | PLLSAI1RDY;
    }

    /// RCC_CFGR fields.
    pub mod cfgr {
        pub const SW: u32 = 0x3;
        pub const SWS_SHIFT: u32 = 2;
        pub const HPRE_SHIFT: u32 = 4;
        pub const PPRE1_SHIFT: u32 = 8;
        pub const PPRE2_SHIFT: u32 = 11;
        /// HPREF, PPRE1F, PPRE2F: the prescaler values are applied (always, in this model).
        pub const APPLIED: u32 = 0x7 << 16;
    }

    /// RCC_EXTCFGR fields.
    pub mod extcfgr {
        pub const SHDHPRE_SHIFT: u32 = 0;
        pub const C2HPRE_SHIFT: u32 = 4;
        /// SHDHPREF, C2HPREF: applied.
        pub const APPLIED: u32 = 0x3 << 16;
    }

    /// RCC_CSR bits.
    pub mod csr {
        pub const LSI1ON: u32 = 1 << 0;
        pub const LSI1RDY: u32 = 1 << 1;
        pub const LSI2ON: u32 = 1 << 2;
        pub const LSI2RDY: u32 = 1 << 3;
        pub const RMVF: u32 = 1 << 23;
        pub const OBLRSTF: u32 = 1 << 25;
        pub const PINRSTF: u32 = 1 << 26;
        pub const BORRSTF: u32 = 1 << 27;
        pub const SFTRSTF: u32 = 1 << 28;
        pub const IWDGRSTF: u32 = 1 << 29;
        pub const WWDGRSTF: u32 = 1 << 30;
        pub const LPWRRSTF: u32 = 1 << 31;
        pub const FLAGS: u32 = 0xFE00_0000;
    }

    /// Clock-enable bits of the peripherals the machine models, in RCC_AHBxENR / APBxENRy and
    /// the same place of CPU2's C2 registers (RM0434 §8.4.19-8.4.33).
    pub mod enable {
        /// AHB1ENR.
        pub const CRCEN: u32 = 1 << 12;
        /// AHB2ENR.
        pub const AES1EN: u32 = 1 << 16;
        /// AHB3ENR.
        pub const PKAEN: u32 = 1 << 16;
        pub const AES2EN: u32 = 1 << 17;
        pub const RNGEN: u32 = 1 << 18;
        pub const HSEMEN: u32 = 1 << 19;
        pub const IPCCEN: u32 = 1 << 20;
        /// APB1ENR2.
        pub const LPUART1EN: u32 = 1 << 0;
        /// APB2ENR.
        pub const USART1EN: u32 = 1 << 14;
    }
}

/// Power control (RM0434 §6).
pub mod pwr {
    /// Base address (RM0434 Table 1 memory map).
    pub const BASE: u32 = 0x5800_0400;

    /// The absolute address of register `offset`.
    pub const fn addr(offset: u32) -> u32 {
        BASE + offset
    }

    pub mod reg {
        pub const CR1: u32 = 0x000;
        pub const CR2: u32 = 0x004;
        pub const CR3: u32 = 0x008;
        pub const CR4: u32 = 0x00C;
        pub const SR1: u32 = 0x010;
        pub const SR2: u32 = 0x014;
        pub const SCR: u32 = 0x018;
        pub const CR5: u32 = 0x01C;
        /// PUCRA, PDCRA, ... PUCRH, PDCRH (GPIO pull configuration).
        pub const PUCRA: u32 = 0x020;
        pub const C2CR1: u32 = 0x080;
        pub const C2CR3: u32 = 0x084;
        pub const EXTSCR: u32 = 0x088;
    }

    /// PWR_CR4.C2BOOT: releases CPU2 (once per reset).
    pub const CR4_C2BOOT: u32 = 1 << 15;
    pub const CR1_VOS_SHIFT: u32 = 9;
    pub const SR2_VOSF: u32 = 1 << 10;
}

/// Embedded flash memory interface (RM0434 §3).
pub mod flash {
    /// Base address (RM0434 Table 1 memory map).
    pub const BASE: u32 = 0x5800_4000;

    /// The absolute address of register `offset`.
    pub const fn addr(offset: u32) -> u32 {
        BASE + offset
    }

    /// Register offsets.
    pub mod reg {
        pub const ACR: u32 = 0x00;
        pub const KEYR: u32 = 0x08;
        pub const OPTKEYR: u32 = 0x0C;
        pub const SR: u32 = 0x10;
        pub const CR: u32 = 0x14;
        pub const ECCR: u32 = 0x18;
        pub const OPTR: u32 = 0x20;
        pub const PCROP1ASR: u32 = 0x24;
        pub const PCROP1AER: u32 = 0x28;
        pub const WRP1AR: u32 = 0x2C;
        pub const WRP1BR: u32 = 0x30;
        pub const PCROP1BSR: u32 = 0x34;
        pub const PCROP1BER: u32 = 0x38;
        pub const IPCCBR: u32 = 0x3C;
        pub const C2ACR: u32 = 0x5C;
        pub const C2SR: u32 = 0x60;
        pub const C2CR: u32 = 0x64;
        pub const SFR: u32 = 0x80;
        pub const SRRVR: u32 = 0x84;
    }

    /// FLASH_SR / FLASH_C2SR bits.
    pub mod sr {
        pub const EOP: u32 = 1 << 0;
        pub const OPERR: u32 = 1 << 1;
        pub const PROGERR: u32 = 1 << 3;
        pub const WRPERR: u32 = 1 << 4;
        pub const PGAERR: u32 = 1 << 5;
        pub const SIZERR: u32 = 1 << 6;
        pub const PGSERR: u32 = 1 << 7;
        pub const MISERR: u32 = 1 << 8;
        pub const FASTERR: u32 = 1 << 9;
        pub const RDERR: u32 = 1 << 14;
        pub const OPTVERR: u32 = 1 << 15;
        pub const BSY: u32 = 1 << 16;
        pub const CFGBSY: u32 = 1 << 18;
        pub const PESD: u32 = 1 << 19;
        /// Errors that block the start of a new operation until software clears them.
        pub const PROG_ERRORS: u32 = PROGERR | WRPERR | PGAERR | SIZERR | PGSERR | MISERR | FASTERR;
        /// Bits software clears by writing 1.
        pub const W1C: u32 = EOP | OPERR | PROG_ERRORS | RDERR | OPTVERR;
    }

    /// FLASH_CR / FLASH_C2CR bits.
    pub mod cr {
        pub const PG: u32 = 1 << 0;
        pub const PER: u32 = 1 << 1;
        pub const MER: u32 = 1 << 2;
        pub const PNB_SHIFT: u32 = 3;
        pub const PNB: u32 = 0xFF << PNB_SHIFT;
        pub const STRT: u32 = 1 << 16;
        pub const OPTSTRT: u32 = 1 << 17;
        pub const FSTPG: u32 = 1 << 18;
        pub const EOPIE: u32 = 1 << 24;
        pub const ERRIE: u32 = 1 << 25;
        pub const RDERRIE: u32 = 1 << 26;
        pub const OBL_LAUNCH: u32 = 1 << 27;
        pub const OPTLOCK: u32 = 1 << 30;
        pub const LOCK: u32 = 1 << 31;
        /// What software can store in CR (the rest are actions or lock bits).
        pub const STORED: u32 = PG | PER | MER | PNB | FSTPG | EOPIE | ERRIE | RDERRIE;
    }

    /// FLASH_ACR / FLASH_C2ACR bits.
    pub mod acr {
        pub const LATENCY: u32 = 0x7;
        pub const PRFTEN: u32 = 1 << 8;
        pub const ICEN: u32 = 1 << 9;
        pub const DCEN: u32 = 1 << 10;
        pub const PES: u32 = 1 << 15;
        /// Reset value of both ACR and C2ACR (RM0434 p. 111 and 122).
        pub const RESET: u32 = 0x0000_0600;
    }

    /// FLASH_ECCR bits.
    pub mod eccr {
        pub const ADDR_ECC: u32 = 0x1_FFFF;
        pub const ECCCIE: u32 = 1 << 24;
        pub const CPUID_SHIFT: u32 = 26;
        pub const ECCC: u32 = 1 << 30;
        pub const ECCD: u32 = 1 << 31;
    }

    /// FLASH_KEYR unlock sequence.
    pub const KEY1: u32 = 0x4567_0123;
    pub const KEY2: u32 = 0xCDEF_89AB;
    /// FLASH_OPTKEYR unlock sequence.
    pub const OPTKEY1: u32 = 0x0819_2A3B;
    pub const OPTKEY2: u32 = 0x4C5D_6E7F;
}

/// Inter-processor communication controller (RM0434 §37).
pub mod ipcc {
    /// Base address (RM0434 Table 1 memory map).
    pub const BASE: u32 = 0x5800_0C00;

    /// The absolute address of register `offset`.
    pub const fn addr(offset: u32) -> u32 {
        BASE + offset
    }

    pub mod reg {
        pub const C1CR: u32 = 0x00;
        pub const C1MR: u32 = 0x04;
        pub const C1SCR: u32 = 0x08;
        pub const C1TOC2SR: u32 = 0x0C;
        pub const C2CR: u32 = 0x10;
        pub const C2MR: u32 = 0x14;
        pub const C2SCR: u32 = 0x18;
        pub const C2TOC1SR: u32 = 0x1C;
    }

    /// CxCR.RXOIE: RX-occupied interrupt enable.
    pub const RXOIE: u32 = 1 << 0;
    /// CxCR.TXFIE: TX-free interrupt enable.
    pub const TXFIE: u32 = 1 << 16;
    /// The six channel bits of a status register, of CHnOM / CHnC.
    pub const CHANNELS: u32 = 0x3F;
    /// CxSCR bit that sets channel `n`'s flag (CHnS, n from 1): "message sent".
    pub const fn set(n: u32) -> u32 {
        1 << (15 + n)
    }
    /// CxSCR bit that clears the other side's channel `n` flag (CHnC, n from 1): "taken".
    pub const fn clear(n: u32) -> u32 {
        1 << (n - 1)
    }
}

/// Hardware semaphore (RM0434 §38).
pub mod hsem {
    /// Base address (RM0434 Table 1 memory map).
    pub const BASE: u32 = 0x5800_1400;

    /// The absolute address of register `offset`.
    pub const fn addr(offset: u32) -> u32 {
        BASE + offset
    }

    pub mod reg {
        /// HSEM_Rx, x = 0..31: 2-step lock, read back, unlock.
        pub const R0: u32 = 0x000;
        /// HSEM_RLRx: 1-step read lock.
        pub const RLR0: u32 = 0x080;
        pub const C1IER: u32 = 0x100;
        pub const C1ICR: u32 = 0x104;
        pub const C1ISR: u32 = 0x108;
        pub const C1MISR: u32 = 0x10C;
        pub const C2IER: u32 = 0x110;
        pub const C2ICR: u32 = 0x114;
        pub const C2ISR: u32 = 0x118;
        pub const C2MISR: u32 = 0x11C;
        pub const CR: u32 = 0x140;
        pub const KEYR: u32 = 0x144;
    }
}

/// Extended interrupts and events controller (RM0434 §14).
pub mod exti {
    /// Base address (RM0434 Table 1 memory map).
    pub const BASE: u32 = 0x5800_0800;

    /// The absolute address of register `offset`.
    pub const fn addr(offset: u32) -> u32 {
        BASE + offset
    }

    pub mod reg {
        pub const RTSR1: u32 = 0x000;
        pub const FTSR1: u32 = 0x004;
        pub const SWIER1: u32 = 0x008;
        pub const PR1: u32 = 0x00C;
        pub const RTSR2: u32 = 0x020;
        pub const FTSR2: u32 = 0x024;
        pub const SWIER2: u32 = 0x028;
        pub const PR2: u32 = 0x02C;
        pub const C1IMR1: u32 = 0x080;
        pub const C1EMR1: u32 = 0x084;
        pub const C1IMR2: u32 = 0x090;
        pub const C1EMR2: u32 = 0x094;
        pub const C2IMR1: u32 = 0x0C0;
        pub const C2EMR1: u32 = 0x0C4;
        pub const C2IMR2: u32 = 0x0D0;
        pub const C2EMR2: u32 = 0x0D4;
    }
}

/// System configuration controller (RM0434 §9).
pub mod syscfg {
    /// Base address (RM0434 Table 1 memory map).
    pub const BASE: u32 = 0x4001_0000;

    /// The absolute address of register `offset`.
    pub const fn addr(offset: u32) -> u32 {
        BASE + offset
    }

    pub mod reg {
        pub const MEMRMP: u32 = 0x000;
        pub const CFGR1: u32 = 0x004;
        pub const EXTICR1: u32 = 0x008;
        pub const SCSR: u32 = 0x018;
        pub const CFGR2: u32 = 0x01C;
        pub const SWPR: u32 = 0x020;
        pub const SKR: u32 = 0x024;
        pub const SWPR2: u32 = 0x028;
        pub const IMR1: u32 = 0x100;
        pub const IMR2: u32 = 0x104;
        pub const C2IMR1: u32 = 0x108;
        pub const C2IMR2: u32 = 0x10C;
        pub const SIPCR: u32 = 0x110;
    }

    /// SIPCR bits.
    pub mod sipcr {
        /// AES1 KEY[7:0] registers secure.
        pub const SAES1: u32 = 1 << 0;
        /// AES2 secure.
        pub const SAES2: u32 = 1 << 1;
        pub const SPKA: u32 = 1 << 2;
        pub const SRNG: u32 = 1 << 3;
    }
}

/// Base addresses of the other peripherals (RM0434 Table 1 memory map).
pub mod base {
    pub const AES1: u32 = 0x5006_0000;
    pub const AES2: u32 = 0x5800_1800;
    pub const PKA: u32 = 0x5800_2000;
    pub const RNG: u32 = 0x5800_1000;
    pub const CRC: u32 = 0x4002_3000;
    pub const USART1: u32 = 0x4001_3800;
    pub const LPUART1: u32 = 0x4000_8000;
}

/// The core's System Control Space (ARMv7-M B3.2 / ARMv6-M B3.2): absolute addresses.
pub mod scs {
    pub const SYST_CSR: u32 = 0xE000_E010;
    pub const SYST_RVR: u32 = 0xE000_E014;
    pub const SYST_CVR: u32 = 0xE000_E018;
    pub const NVIC_ISER: u32 = 0xE000_E100;
    pub const NVIC_ICER: u32 = 0xE000_E180;
    pub const NVIC_ISPR: u32 = 0xE000_E200;
    pub const NVIC_ICPR: u32 = 0xE000_E280;
    pub const NVIC_IPR: u32 = 0xE000_E400;
    pub const SCB_ICSR: u32 = 0xE000_ED04;
    pub const SCB_VTOR: u32 = 0xE000_ED08;
    /// Written with the key 0x05FA in bits 31:16.
    pub const SCB_AIRCR: u32 = 0xE000_ED0C;
    pub const AIRCR_SYSRESETREQ: u32 = 0x05FA_0004;
    pub const SCB_CFSR: u32 = 0xE000_ED28;
    pub const SCB_HFSR: u32 = 0xE000_ED2C;
    pub const SCB_BFAR: u32 = 0xE000_ED38;
    pub const SCB_CPACR: u32 = 0xE000_ED88;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values checked against RM0434 rev 13 (register maps §3.10.x, §6.6.x, §8.4.x, §37.4,
    /// Table 1) and the ARMv7-M ARM B3.2.2.
    #[test]
    fn addresses_are_the_reference_manuals() {
        assert_eq!(rcc::addr(rcc::reg::AHB3ENR), 0x5800_0050);
        assert_eq!(rcc::addr(rcc::reg::APB1ENR1), 0x5800_0058);
        assert_eq!(rcc::addr(rcc::reg::C2AHB3ENR), 0x5800_0150);
        assert_eq!(rcc::addr(rcc::reg::CSR), 0x5800_0094);
        assert_eq!(rcc::addr(rcc::reg::EXTCFGR), 0x5800_0108);
        assert_eq!(pwr::addr(pwr::reg::CR4), 0x5800_040C);
        assert_eq!(pwr::CR4_C2BOOT, 1 << 15);
        assert_eq!(flash::addr(flash::reg::SR), 0x5800_4010);
        assert_eq!(flash::addr(flash::reg::SFR), 0x5800_4080);
        assert_eq!(flash::addr(flash::reg::SRRVR), 0x5800_4084);
        assert_eq!(flash::addr(flash::reg::C2SR), 0x5800_4060);
        assert_eq!(ipcc::addr(ipcc::reg::C2TOC1SR), 0x5800_0C1C);
        assert_eq!((ipcc::set(2), ipcc::clear(2)), (1 << 17, 1 << 1));
        assert_eq!(hsem::BASE, 0x5800_1400);
        assert_eq!(exti::BASE, 0x5800_0800);
        assert_eq!(syscfg::BASE, 0x4001_0000);
        assert_eq!(base::USART1, 0x4001_3800);
        assert_eq!(scs::SCB_AIRCR, 0xE000_ED0C);
    }
}
