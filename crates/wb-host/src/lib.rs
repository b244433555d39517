//! Host-side clients of an emulated STM32WB55, for tests, the CLI and the front-ends.
//!
//! - [`probe`]: a debug probe on the device, the way STM32CubeProgrammer drives the FUS over
//!   SWD: it lays out the shared tables, starts CPU2 and exchanges system commands and events
//!   with whatever CPU2 runs, through the IPCC registers, with simulated-time timeouts.
//! - [`task`]: the probe's waits (starting CPU2, a command's answer) as resumable plain data,
//!   for runs that are snapshotted mid-way.
//! - [`fus`]: the FUS verbs on top of it (get-state, upgrade, delete, start-ws) with verdicts.

pub mod fus;
pub mod probe;
pub mod task;

pub use probe::{Probe, ProbeError};
