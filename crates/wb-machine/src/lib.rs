//! wb-machine: the emulated STM32WB55.
//!
//! Two unicorn engines (CPU1 = Cortex-M4, CPU2 = Cortex-M0+) share the memories; peripherals
//! come from wb-periph through the [`bus`]. This crate owns what unicorn does not do for
//! M-profile cores (the exception model, SysTick, WFI/WFE/SEV), the cycle model ([`timing`]),
//! the deterministic scheduler ([`machine`]), image loading and snapshots.
//!
//! It is the only crate of the workspace allowed `unsafe` (engine memory mapping).

pub mod bus;
pub mod chip;
pub mod clock;
pub mod core;
pub mod device;
pub mod exception;
pub mod loader;
pub mod machine;
pub mod memory;
pub mod power_cut;
pub mod raw;
pub mod registers;
pub mod scs;
pub mod timing;
pub mod view;

pub use crate::bus::IrqRoute;
pub use crate::chip::{ChipConfig, Uart};
pub use crate::clock::Clocks;
pub use crate::core::{BootAlias, RunState};
pub use crate::device::{Device, DeviceError};
pub use crate::machine::{
    Boot, BootCause, Config, CoreStats, CutPoint, Exit, Injection, Machine, MachineError, OpMatch,
    PowerCut, Snapshot, DEFAULT_SAFEBOOT_VECTOR,
};
pub use crate::registers::{CoreRegisters, FaultStatus};
pub use unicorn_engine::RegisterARM;
pub use wb_periph::rcc::ResetCause;
pub use wb_periph::{picos, CoreId, Picos};
