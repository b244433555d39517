//! Guest firmware images, built from `firmware/` by this crate's build script, and the device
//! presets made from them.

pub mod images;
pub mod presets;

/// CPU1 (Cortex-M4) test program: cycle cases, interrupt/fault scenarios, the ping-pong demo.
pub const CPU1_TESTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cpu1-tests.elf"));

/// CPU2 (Cortex-M0+) test program: cycle cases, interrupt/fault scenarios, the ping-pong peer.
pub const CPU2_TESTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cpu2-tests.elf"));

/// CPU1 boot counter: appends a record to the flash page at 0x080C_0000 at every boot.
pub const BOOT_COUNTER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/boot-counter.elf"));

/// The FUS (CPU2), linked at its vector table 0x080F_4000 (`wb_proto::layout::FUS_VECTOR`).
pub const FUS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/fus.elf"));

/// Safeboot (CPU2), linked at the safeboot vector 0x080F_F000 (`wb_proto::layout::SAFEBOOT_PAGE`).
pub const SAFEBOOT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/safeboot.elf"));

/// Test-only: the FUS built with a deliberate bug (`broken-resume`: resuming an interrupted
/// decrypt skips the erase and rewrite of the page it was in), to show that a campaign
/// catches it. Not a guest of `wbemu firmware`.
pub const FUS_BROKEN_RESUME: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fus-broken-resume.elf"));

/// The operator (CPU1): drives the FUS from the script at `wb_proto::layout::operator`.
pub const OPERATOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/operator.elf"));

/// The sample wireless stack 1.0.0 (CPU2), linked where the FUS installs it.
pub const WS_1_0_0: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ws-1.0.0.elf"));

/// The sample wireless stack 1.1.0 (CPU2), larger, linked where the FUS installs it.
pub const WS_1_1_0: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ws-1.1.0.elf"));

/// A guest program built into wbemu.
pub struct Guest {
    /// File-name stem (`wbemu firmware export` writes NAME.elf).
    pub name: &'static str,
    /// The core it runs on: "cpu1" (Cortex-M4) or "cpu2" (Cortex-M0+).
    pub core: &'static str,
    pub about: &'static str,
    pub elf: &'static [u8],
}

/// Every guest program built from `firmware/`.
pub const GUESTS: [Guest; 8] = [
    Guest {
        name: "operator",
        core: "cpu1",
        about: "drives the FUS from a script at 0x08010000, logs on USART1 (wbemu demo)",
        elf: OPERATOR,
    },
    Guest {
        name: "fus",
        core: "cpu2",
        about: "the FUS at 0x080F4000 (in the virgin preset)",
        elf: FUS,
    },
    Guest {
        name: "safeboot",
        core: "cpu2",
        about: "safeboot at 0x080FF000 (in the virgin preset): the factory reset",
        elf: SAFEBOOT,
    },
    Guest {
        name: "ws-1.0.0",
        core: "cpu2",
        about: "sample wireless stack 1.0.0, 16 KiB, linked at 0x080F0000",
        elf: WS_1_0_0,
    },
    Guest {
        name: "ws-1.1.0",
        core: "cpu2",
        about: "sample wireless stack 1.1.0, 132 KiB, linked at 0x080D3000",
        elf: WS_1_1_0,
    },
    Guest {
        name: "boot-counter",
        core: "cpu1",
        about: "appends a record to the flash page at 0x080C0000 at every boot",
        elf: BOOT_COUNTER,
    },
    Guest {
        name: "cpu1-tests",
        core: "cpu1",
        about: "CPU1 test program: cycle cases, interrupts and faults, the ping-pong demo",
        elf: CPU1_TESTS,
    },
    Guest {
        name: "cpu2-tests",
        core: "cpu2",
        about: "CPU2 test program: cycle cases, interrupts and faults, the ping-pong peer",
        elf: CPU2_TESTS,
    },
];

/// Vector table of the CPU1 test program (start of flash).
pub const CPU1_TESTS_VECTORS: u32 = 0x0800_0000;
/// Vector table of the CPU2 test program.
pub const CPU2_TESTS_VECTORS: u32 = 0x0808_0000;

#[cfg(test)]
mod tests {
    #[test]
    fn images_are_arm_elf() {
        for img in [
            super::CPU1_TESTS,
            super::CPU2_TESTS,
            super::BOOT_COUNTER,
            super::FUS,
            super::OPERATOR,
            super::WS_1_0_0,
            super::WS_1_1_0,
        ] {
            assert_eq!(&img[..4], b"\x7fELF");
            assert_eq!(u16::from_le_bytes([img[18], img[19]]), 40); // EM_ARM
        }
    }
}
