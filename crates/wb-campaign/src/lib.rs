//! Scenario files and fault-injection campaigns for an emulated STM32WB55.
//!
//! - [`scenario`]: the file format (docs/scenarios.md), checked with file, line and key.
//! - [`setup`]: the machine a scenario starts from.
//! - [`run`]: the host working through the steps as the machine runs; its state is plain
//!   data, so a run can be checkpointed and resumed anywhere.
//! - [`record`] and [`report`]: what a run did, and the verdict.
//! - [`campaign`]: a scenario's fault plan, its cases branched from a checkpointed golden
//!   run, verdicts, and their JUnit/JSON output.

pub mod campaign;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod setup;

pub use report::Report;
pub use run::{Checkpoint, Run, RunError};
pub use scenario::{Scenario, ScenarioError};
