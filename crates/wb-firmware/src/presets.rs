//! Device presets: named starting points for `wbemu device new` and for tests.

use wb_image::wb_proto::layout;
use wb_machine::memory::EngineeringBytes;
use wb_machine::Device;
use wb_periph::flash::{reg, OptionBytes};

/// A named way to make a device.
pub struct Preset {
    pub name: &'static str,
    pub about: &'static str,
    pub build: fn() -> Device,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "blank",
        about: "erased flash and OTP, no secure area (FSD=1), CPU2 vector 0x08080000, RDP level 0",
        build: blank,
    },
    Preset {
        name: "virgin",
        about:
            "as shipped: FUS at 0x080F4000 (SFSA 0xF4, SBRV 0x3D000) with the test-only ST keys, \
                safeboot at 0x080FF000, no wireless stack, user flash erased",
        build: virgin,
    },
];

/// The preset called `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

fn blank() -> Device {
    let mut d = Device::blank(&OptionBytes::default(), &EngineeringBytes::default());
    d.note = "preset blank".into();
    d
}

/// Option bytes of a device as shipped: the FUS's secure flash from page 0xF4, CPU2 booting
/// the FUS, the FUS's secure SRAM2a/2b.
pub fn virgin_options() -> OptionBytes {
    let mut o = OptionBytes::default();
    o.set(reg::SFR, layout::sfr(layout::FUS_FIRST_PAGE));
    o.set(reg::SRRVR, layout::FUS_SRRVR);
    o
}

fn virgin() -> Device {
    virgin_with_fus(crate::FUS)
}

/// A device as shipped, with the FUS built as `fus_elf` (tests put a broken one in).
pub fn virgin_with_fus(fus_elf: &[u8]) -> Device {
    let mut d = Device::blank(&virgin_options(), &EngineeringBytes::default());
    let (base, fus) = wb_image::elf_payload(fus_elf).expect("built FUS ELF");
    assert_eq!(base, layout::FUS_VECTOR, "FUS linked at its vector table");
    assert!(
        fus.len() as u32 <= layout::FUS_CODE_PAGES * layout::PAGE_SIZE,
        "FUS fits its pages"
    );
    d.write(base, &fus).expect("FUS in flash");
    d.write(
        layout::page_address(layout::FUS_KEY_PAGE),
        &crate::images::test_key_block(),
    )
    .expect("key page in flash");
    d.write(
        layout::page_address(layout::FUS_RECORD_PAGES[0]),
        &crate::images::shipped_state_record(),
    )
    .expect("journal in flash");
    let (base, safeboot) = wb_image::elf_payload(crate::SAFEBOOT).expect("built safeboot ELF");
    assert_eq!(
        base,
        layout::page_address(layout::SAFEBOOT_PAGE),
        "safeboot linked at the safeboot vector"
    );
    assert!(
        safeboot.len() as u32 <= layout::PAGE_SIZE,
        "safeboot fits its page"
    );
    d.write(base, &safeboot).expect("safeboot in flash");
    d.note = "preset virgin".into();
    d
}
