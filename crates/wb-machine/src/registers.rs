//! A core's registers and fault status as a debugger shows them: plain data for reports and
//! front-ends.

use unicorn_engine::RegisterARM;

use crate::core::{Core, GPRS};
use crate::timing::CoreKind;

/// The core registers of one core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreRegisters {
    /// R0..R12.
    pub r: [u32; 13],
    /// The current stack pointer, and both banked ones.
    pub sp: u32,
    pub msp: u32,
    pub psp: u32,
    pub lr: u32,
    pub pc: u32,
    pub xpsr: u32,
    pub primask: u32,
    pub control: u32,
    /// The exception being handled (IPSR), 0 in thread mode.
    pub ipsr: u32,
    /// The fault status registers; `None` on the Cortex-M0+, which has none (ARMv6-M).
    pub faults: Option<FaultStatus>,
}

/// The Cortex-M4's configurable fault status (SCB_CFSR, HFSR, MMFAR, BFAR, SHCSR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultStatus {
    pub cfsr: u32,
    pub hfsr: u32,
    pub mmfar: u32,
    pub bfar: u32,
    pub shcsr: u32,
}

impl CoreRegisters {
    pub fn of(core: &Core) -> CoreRegisters {
        let scs = &core.state().scs;
        CoreRegisters {
            r: GPRS.map(|r| core.reg(r)),
            sp: core.reg(RegisterARM::SP),
            msp: core.reg(RegisterARM::MSP),
            psp: core.reg(RegisterARM::PSP),
            lr: core.reg(RegisterARM::LR),
            pc: core.pc(),
            xpsr: core.reg(RegisterARM::XPSR),
            primask: core.reg(RegisterARM::PRIMASK),
            control: core.reg(RegisterARM::CONTROL),
            ipsr: scs.ipsr,
            faults: (scs.kind == CoreKind::M4).then_some(FaultStatus {
                cfsr: scs.cfsr,
                hfsr: scs.hfsr,
                mmfar: scs.mmfar,
                bfar: scs.bfar,
                shcsr: scs.shcsr,
            }),
        }
    }
}
