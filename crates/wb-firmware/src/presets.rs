//! Device presets: named starting points for `wbemu device new` and for tests.

use wb_machine::memory::EngineeringBytes;
use wb_machine::Device;
use wb_periph::flash::OptionBytes;

/// A named way to make a device.
pub struct Preset {
    pub name: &'static str,
    pub about: &'static str,
    pub build: fn() -> Device,
}

pub const PRESETS: &[Preset] = &[Preset {
    name: "blank",
    about: "erased flash and OTP, no secure area (FSD=1), CPU2 vector 0x08080000, RDP level 0",
    build: blank,
}];

/// The preset called `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

fn blank() -> Device {
    let mut d = Device::blank(&OptionBytes::default(), &EngineeringBytes::default());
    d.note = "preset blank".into();
    d
}
