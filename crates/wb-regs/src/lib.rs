//! The STM32WB55's register map, written once: base addresses, register offsets and bit
//! names as RM0434 (and the Arm architecture manuals for the core's System Control Space)
//! name them. `no_std`, no dependencies: the peripheral models, the guest firmware and the
//! host-side clients all read their addresses from here.
#![no_std]

/// One peripheral's register block: its base, the register offsets (`reg`, what a model
/// decodes) and the same registers' absolute addresses (`at`, what code on the cores or a
/// probe reads and writes), from one list.
macro_rules! registers {
    ($base:expr, { $($(#[$doc:meta])* $name:ident = $offset:expr,)* }) => {
        /// Base address (RM0434 Table 1 memory map).
        pub const BASE: u32 = $base;

        /// The absolute address of register `offset`.
        pub const fn addr(offset: u32) -> u32 {
            BASE + offset
        }

        /// Register offsets from [`BASE`].
        pub mod reg {
            $($(#[$doc])* pub const $name: u32 = $offset;)*
        }

        /// Register addresses.
        pub mod at {
            $($(#[$doc])* pub const $name: u32 = super::BASE + super::reg::$name;)*
        }
    };
}

/// Reset and clock control (RM0434 §8).
pub mod rcc {
    registers!(0x5800_0000, {
        CR = 0x000,
        ICSCR = 0x004,
        CFGR = 0x008,
        PLLCFGR = 0x00C,
        PLLSAI1CFGR = 0x010,
        CIER = 0x018,
        CIFR = 0x01C,
        CICR = 0x020,
        SMPSCR = 0x024,
        AHB1RSTR = 0x028,
        AHB2RSTR = 0x02C,
        AHB3RSTR = 0x030,
        APB1RSTR1 = 0x038,
        APB1RSTR2 = 0x03C,
        APB2RSTR = 0x040,
        APB3RSTR = 0x044,
        AHB1ENR = 0x048,
        AHB2ENR = 0x04C,
        AHB3ENR = 0x050,
        APB1ENR1 = 0x058,
        APB1ENR2 = 0x05C,
        APB2ENR = 0x060,
        AHB1SMENR = 0x068,
        AHB2SMENR = 0x06C,
        AHB3SMENR = 0x070,
        APB1SMENR1 = 0x078,
        APB1SMENR2 = 0x07C,
        APB2SMENR = 0x080,
        CCIPR = 0x088,
        BDCR = 0x090,
        CSR = 0x094,
        CRRCR = 0x098,
        HSECR = 0x09C,
        EXTCFGR = 0x108,
        C2AHB1ENR = 0x148,
        C2AHB2ENR = 0x14C,
        C2AHB3ENR = 0x150,
        C2APB1ENR1 = 0x158,
        C2APB1ENR2 = 0x15C,
        C2APB2ENR = 0x160,
        C2APB3ENR = 0x164,
        C2AHB1SMENR = 0x168,
        C2AHB2SMENR = 0x16C,
        C2AHB3SMENR = 0x170,
        C2APB1SMENR1 = 0x178,
        C2APB1SMENR2 = 0x17C,
        C2APB2SMENR = 0x180,
        C2APB3SMENR = 0x184,
    });

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
    registers!(0x5800_0400, {
        CR1 = 0x000,
        CR2 = 0x004,
        CR3 = 0x008,
        CR4 = 0x00C,
        SR1 = 0x010,
        SR2 = 0x014,
        SCR = 0x018,
        CR5 = 0x01C,
        /// PUCRA, PDCRA, ... PUCRH, PDCRH (GPIO pull configuration).
        PUCRA = 0x020,
        C2CR1 = 0x080,
        C2CR3 = 0x084,
        EXTSCR = 0x088,
    });

    /// PWR_CR4.C2BOOT: releases CPU2 (once per reset).
    pub const CR4_C2BOOT: u32 = 1 << 15;
    pub const CR1_VOS_SHIFT: u32 = 9;
    pub const SR2_VOSF: u32 = 1 << 10;
}

/// Embedded flash memory interface (RM0434 §3).
pub mod flash {
    registers!(0x5800_4000, {
        ACR = 0x00,
        KEYR = 0x08,
        OPTKEYR = 0x0C,
        SR = 0x10,
        CR = 0x14,
        ECCR = 0x18,
        OPTR = 0x20,
        PCROP1ASR = 0x24,
        PCROP1AER = 0x28,
        WRP1AR = 0x2C,
        WRP1BR = 0x30,
        PCROP1BSR = 0x34,
        PCROP1BER = 0x38,
        IPCCBR = 0x3C,
        C2ACR = 0x5C,
        C2SR = 0x60,
        C2CR = 0x64,
        SFR = 0x80,
        SRRVR = 0x84,
    });

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
    registers!(0x5800_0C00, {
        C1CR = 0x00,
        C1MR = 0x04,
        C1SCR = 0x08,
        C1TOC2SR = 0x0C,
        C2CR = 0x10,
        C2MR = 0x14,
        C2SCR = 0x18,
        C2TOC1SR = 0x1C,
    });

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
    registers!(0x5800_1400, {
        /// HSEM_Rx, x = 0..31: 2-step lock, read back, unlock.
        R0 = 0x000,
        /// HSEM_RLRx: 1-step read lock.
        RLR0 = 0x080,
        C1IER = 0x100,
        C1ICR = 0x104,
        C1ISR = 0x108,
        C1MISR = 0x10C,
        C2IER = 0x110,
        C2ICR = 0x114,
        C2ISR = 0x118,
        C2MISR = 0x11C,
        CR = 0x140,
        KEYR = 0x144,
    });
}

/// Extended interrupts and events controller (RM0434 §14).
pub mod exti {
    registers!(0x5800_0800, {
        RTSR1 = 0x000,
        FTSR1 = 0x004,
        SWIER1 = 0x008,
        PR1 = 0x00C,
        RTSR2 = 0x020,
        FTSR2 = 0x024,
        SWIER2 = 0x028,
        PR2 = 0x02C,
        C1IMR1 = 0x080,
        C1EMR1 = 0x084,
        C1IMR2 = 0x090,
        C1EMR2 = 0x094,
        C2IMR1 = 0x0C0,
        C2EMR1 = 0x0C4,
        C2IMR2 = 0x0D0,
        C2EMR2 = 0x0D4,
    });
}

/// System configuration controller (RM0434 §9).
pub mod syscfg {
    registers!(0x4001_0000, {
        MEMRMP = 0x000,
        CFGR1 = 0x004,
        EXTICR1 = 0x008,
        SCSR = 0x018,
        CFGR2 = 0x01C,
        SWPR = 0x020,
        SKR = 0x024,
        SWPR2 = 0x028,
        IMR1 = 0x100,
        IMR2 = 0x104,
        C2IMR1 = 0x108,
        C2IMR2 = 0x10C,
        SIPCR = 0x110,
    });

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

/// USART1 (RM0434 §36); LPUART1 has the same register layout at its own base.
pub mod usart1 {
    registers!(0x4001_3800, {
        CR1 = 0x00,
        CR2 = 0x04,
        CR3 = 0x08,
        BRR = 0x0C,
        GTPR = 0x10,
        RTOR = 0x14,
        RQR = 0x18,
        ISR = 0x1C,
        ICR = 0x20,
        RDR = 0x24,
        TDR = 0x28,
        PRESC = 0x2C,
    });

    pub mod cr1 {
        pub const UE: u32 = 1 << 0;
        pub const RE: u32 = 1 << 2;
        pub const TE: u32 = 1 << 3;
        pub const IDLEIE: u32 = 1 << 4;
        pub const RXNEIE: u32 = 1 << 5;
        pub const TCIE: u32 = 1 << 6;
        pub const TXEIE: u32 = 1 << 7;
        pub const PEIE: u32 = 1 << 8;
        pub const PS: u32 = 1 << 9;
        pub const PCE: u32 = 1 << 10;
        pub const M0: u32 = 1 << 12;
        pub const OVER8: u32 = 1 << 15;
        pub const M1: u32 = 1 << 28;
        pub const FIFOEN: u32 = 1 << 29;
    }

    pub mod isr {
        pub const PE: u32 = 1 << 0;
        pub const FE: u32 = 1 << 1;
        pub const NE: u32 = 1 << 2;
        pub const ORE: u32 = 1 << 3;
        pub const IDLE: u32 = 1 << 4;
        pub const RXNE: u32 = 1 << 5;
        pub const TC: u32 = 1 << 6;
        pub const TXE: u32 = 1 << 7;
        pub const BUSY: u32 = 1 << 16;
        pub const TEACK: u32 = 1 << 21;
        pub const REACK: u32 = 1 << 22;
    }
}

/// Public key accelerator (RM0434 §26).
pub mod pka {
    registers!(0x5800_2000, {
        CR = 0x000,
        SR = 0x004,
        CLRFR = 0x008,
        /// First word of PKA RAM.
        RAM = 0x400,
    });

    pub const CR_EN: u32 = 1 << 0;
    pub const CR_START: u32 = 1 << 1;
    pub const CR_MODE_SHIFT: u32 = 8;
    pub const CR_MODE_MASK: u32 = 0x3F << CR_MODE_SHIFT;
    pub const CR_PROCENDIE: u32 = 1 << 17;
    pub const CR_RAMERRIE: u32 = 1 << 19;
    pub const CR_ADDRERRIE: u32 = 1 << 20;
    pub const SR_BUSY: u32 = 1 << 16;
    pub const SR_PROCENDF: u32 = 1 << 17;
    pub const SR_RAMERRF: u32 = 1 << 19;
    pub const SR_ADDRERRF: u32 = 1 << 20;
    pub const CLRFR_PROCENDFC: u32 = 1 << 17;
    pub const CLRFR_RAMERRFC: u32 = 1 << 19;
    pub const CLRFR_ADDRERRFC: u32 = 1 << 20;
}

/// Cyclic redundancy check unit (RM0434 §17).
pub mod crc {
    registers!(0x4002_3000, {
        DR = 0x00,
        IDR = 0x04,
        CR = 0x08,
        INIT = 0x10,
        POL = 0x14,
    });
}

/// AES1 (RM0434 §23); AES2 has the same register layout at its own base.
pub mod aes1 {
    registers!(0x5006_0000, {
        CR = 0x00,
        SR = 0x04,
        DINR = 0x08,
        DOUTR = 0x0C,
        KEYR0 = 0x10,
        KEYR1 = 0x14,
        KEYR2 = 0x18,
        KEYR3 = 0x1C,
        IVR0 = 0x20,
        IVR1 = 0x24,
        IVR2 = 0x28,
        IVR3 = 0x2C,
        KEYR4 = 0x30,
        KEYR5 = 0x34,
        KEYR6 = 0x38,
        KEYR7 = 0x3C,
        /// SUSP0R..SUSP7R at 0x40 + 4 * x.
        SUSP0R = 0x40,
        SUSP7R = 0x5C,
    });
}

/// AES2: the AES1 register layout (`aes1::reg`) at its own base.
pub mod aes2 {
    pub const BASE: u32 = 0x5800_1800;

    /// The absolute address of register `offset` (see `aes1::reg`).
    pub const fn addr(offset: u32) -> u32 {
        BASE + offset
    }
}

/// LPUART1: the USART1 register layout (`usart1::reg`) at its own base.
pub mod lpuart1 {
    pub const BASE: u32 = 0x4000_8000;
}

/// Base addresses of the other peripherals (RM0434 Table 1 memory map).
pub mod base {
    pub const AES1: u32 = super::aes1::BASE;
    pub const AES2: u32 = super::aes2::BASE;
    pub const PKA: u32 = super::pka::BASE;
    pub const RNG: u32 = 0x5800_1000;
    pub const CRC: u32 = super::crc::BASE;
    pub const USART1: u32 = super::usart1::BASE;
    pub const LPUART1: u32 = super::lpuart1::BASE;
}

/// The core's System Control Space (ARMv7-M B3.2 / ARMv6-M B3.2): NVIC, SCB, SysTick, FPU
/// control. Each core has its own at the same addresses.
pub mod scs {
    registers!(0xE000_E000, {
        ICTR = 0x004,
        ACTLR = 0x008,
        SYST_CSR = 0x010,
        SYST_RVR = 0x014,
        SYST_CVR = 0x018,
        SYST_CALIB = 0x01C,
        NVIC_ISER = 0x100,
        NVIC_ICER = 0x180,
        NVIC_ISPR = 0x200,
        NVIC_ICPR = 0x280,
        NVIC_IABR = 0x300,
        NVIC_IPR = 0x400,
        CPUID = 0xD00,
        ICSR = 0xD04,
        VTOR = 0xD08,
        AIRCR = 0xD0C,
        SCR = 0xD10,
        CCR = 0xD14,
        SHPR1 = 0xD18,
        SHPR2 = 0xD1C,
        SHPR3 = 0xD20,
        SHCSR = 0xD24,
        CFSR = 0xD28,
        HFSR = 0xD2C,
        DFSR = 0xD30,
        MMFAR = 0xD34,
        BFAR = 0xD38,
        AFSR = 0xD3C,
        CPACR = 0xD88,
        MPU_TYPE = 0xD90,
        DEMCR = 0xDFC,
        STIR = 0xF00,
        FPCCR = 0xF34,
        FPCAR = 0xF38,
        FPDSCR = 0xF3C,
    });

    /// AIRCR with the key (0x05FA in bits 31:16) and SYSRESETREQ.
    pub const AIRCR_SYSRESETREQ: u32 = 0x05FA_0004;
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
        assert_eq!(scs::at::AIRCR, 0xE000_ED0C);
        assert_eq!(scs::at::NVIC_ISER, 0xE000_E100);
    }
}
