//! Clock, power and reset sequences the way ST's code does them: HW_IPCC_Enable (CPU2 start),
//! a CubeMX-style SystemClock_Config (HSE 32 MHz → PLL 64 MHz, CPU2 at 32 MHz), reset flags,
//! NVIC_SystemReset, and option-byte programming with OBL_LAUNCH.

use crate::{read32, write32};

use wb_regs::exti::at::{C2EMR2 as EXTI_C2EMR2, RTSR2 as EXTI_RTSR2};
use wb_regs::flash::at::{
    ACR as FLASH_ACR, CR as FLASH_CR, OPTKEYR as FLASH_OPTKEYR, SR as FLASH_SR,
};
use wb_regs::pwr::at::CR4 as PWR_CR4;
use wb_regs::rcc::at::{
    C2AHB3ENR as RCC_C2AHB3ENR, CFGR as RCC_CFGR, CR as RCC_CR, CSR as RCC_CSR,
    EXTCFGR as RCC_EXTCFGR, PLLCFGR as RCC_PLLCFGR,
};
use wb_regs::scs::at::AIRCR as SCB_AIRCR;

fn set_bits(addr: u32, bits: u32) {
    write32(addr, read32(addr) | bits);
}

/// HW_IPCC_Enable: keep the IPCC clocked for CPU2, EXTI line 41 rising edge as a CPU2 event,
/// SEV + WFE, then PWR_CR4.C2BOOT. Returns PWR_CR4.
#[no_mangle]
pub extern "C" fn sys_ipcc_enable() -> u32 {
    set_bits(RCC_C2AHB3ENR, 1 << 20);
    set_bits(EXTI_RTSR2, 1 << 9);
    set_bits(EXTI_C2EMR2, 1 << 9);
    unsafe { core::arch::asm!("sev", "wfe") };
    set_bits(PWR_CR4, 1 << 15);
    read32(PWR_CR4)
}

/// Clear C2BOOT, then set it again (documented to have no effect once set).
#[no_mangle]
pub extern "C" fn sys_c2boot_toggle() -> u32 {
    write32(PWR_CR4, read32(PWR_CR4) & !(1 << 15));
    set_bits(PWR_CR4, 1 << 15);
    read32(PWR_CR4)
}

/// SystemClock_Config of the usual run configuration: flash LATENCY 3, HSE on, PLL from HSE
/// /2 ×8 /2 = 64 MHz, HCLK2 = SYSCLK/2, switch SYSCLK to the PLL. Returns RCC_CFGR.
#[no_mangle]
pub extern "C" fn sys_clock_64mhz() -> u32 {
    write32(FLASH_ACR, (read32(FLASH_ACR) & !7) | 3);
    while read32(FLASH_ACR) & 7 != 3 {}
    set_bits(RCC_CR, 1 << 16); // HSEON
    while read32(RCC_CR) & (1 << 17) == 0 {} // HSERDY
                                             // PLLSRC=HSE, PLLM=/2, PLLN=8, PLLR=/2, PLLREN.
    write32(RCC_PLLCFGR, 3 | (1 << 4) | (8 << 8) | (1 << 28) | (1 << 29));
    set_bits(RCC_CR, 1 << 24); // PLLON
    while read32(RCC_CR) & (1 << 25) == 0 {} // PLLRDY
    write32(RCC_EXTCFGR, (read32(RCC_EXTCFGR) & !0xF0) | (0b1000 << 4)); // C2HPRE /2
    write32(RCC_CFGR, (read32(RCC_CFGR) & !3) | 3); // SW = PLL
    while (read32(RCC_CFGR) >> 2) & 3 != 3 {}
    read32(RCC_CFGR)
}

/// RCC_CSR (reset flags in bits 25-31).
#[no_mangle]
pub extern "C" fn sys_reset_flags() -> u32 {
    read32(RCC_CSR)
}

/// Clear the reset flags (RMVF); returns RCC_CSR afterwards.
#[no_mangle]
pub extern "C" fn sys_clear_reset_flags() -> u32 {
    set_bits(RCC_CSR, 1 << 23);
    read32(RCC_CSR)
}

/// NVIC_SystemReset.
#[no_mangle]
pub extern "C" fn sys_reset() -> ! {
    unsafe { core::arch::asm!("dsb") };
    write32(SCB_AIRCR, 0x05FA_0004);
    unsafe { core::arch::asm!("dsb") };
    // The reset takes a few cycles to come.
    loop {
        core::hint::spin_loop();
    }
}

/// HAL_FLASH_OB_Unlock + write one option register + HAL_FLASH_OB_Launch-style OPTSTRT, wait,
/// then OBL_LAUNCH (which resets the system: this does not return on success). Returns the SR
/// error flags if the programming failed.
#[no_mangle]
pub extern "C" fn sys_program_option(register: u32, value: u32) -> u32 {
    crate::flash::flash_unlock();
    if read32(FLASH_CR) & (1 << 30) != 0 {
        write32(FLASH_OPTKEYR, 0x0819_2A3B);
        write32(FLASH_OPTKEYR, 0x4C5D_6E7F);
    }
    write32(0x5800_4000 + register, value);
    set_bits(FLASH_CR, 1 << 17); // OPTSTRT
    while read32(FLASH_SR) & (1 << 16) != 0 {}
    let errors = read32(FLASH_SR) & 0x43FA;
    if errors != 0 {
        return errors;
    }
    set_bits(FLASH_CR, 1 << 27); // OBL_LAUNCH
    loop {
        core::hint::spin_loop();
    }
}

/// A 32-bit read through this core's bus (registers the host cannot peek).
#[no_mangle]
pub extern "C" fn sys_read32(addr: u32) -> u32 {
    read32(addr)
}

/// A 32-bit write through this core's bus.
#[no_mangle]
pub extern "C" fn sys_write32(addr: u32, value: u32) {
    write32(addr, value)
}
