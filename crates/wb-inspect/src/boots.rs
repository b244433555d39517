//! The boot story: each start of a core (`Machine::boots`) with what its vector holds on this
//! device, as data with a `Display`: "CPU2 boots the FUS at 0x080f4000 (released by
//! PWR_CR4.C2BOOT)".

use std::fmt;

use wb_machine::{Boot, BootCause, CoreId, ResetCause};
use wb_proto::layout;

use crate::options::Options;

/// What a boot vector points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The FUS's vector table (0x080F4000).
    Fus,
    /// Code in the secure area other than the FUS: the installed wireless stack.
    WirelessStack,
    /// The safeboot vector the hardware forces when CPU2's option bytes fail their check.
    Safeboot,
    /// User flash (below SFSA): CPU1's application, or CPU2 booting user code.
    UserFlash,
    /// SRAM (C2OPT = 0, or a CPU1 vector table in RAM).
    Sram,
    /// System memory: the system bootloader.
    SystemMemory,
    /// Anything else.
    Elsewhere,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Fus => "the FUS",
            Target::WirelessStack => "the wireless stack",
            Target::Safeboot => "safeboot",
            Target::UserFlash => "user flash",
            Target::Sram => "SRAM",
            Target::SystemMemory => "the system bootloader",
            Target::Elsewhere => "an unmapped vector",
        })
    }
}

/// Why a core started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cause(pub BootCause);

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            BootCause::Reset(ResetCause::PowerOn) => write!(f, "power-on reset"),
            BootCause::Reset(ResetCause::OptionLoad) => write!(f, "system reset by OBL_LAUNCH"),
            BootCause::Reset(ResetCause::Software) => write!(f, "system reset by SYSRESETREQ"),
            BootCause::Reset(ResetCause::Pin) => write!(f, "reset by the NRST pin"),
            BootCause::Reset(c) => write!(f, "{c:?} reset"),
            BootCause::C2Boot { safeboot: false } => write!(f, "released by PWR_CR4.C2BOOT"),
            BootCause::C2Boot { safeboot: true } => {
                write!(
                    f,
                    "released by PWR_CR4.C2BOOT; option bytes failed their check"
                )
            }
        }
    }
}

/// One start of a core, explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootStory {
    pub boot: Boot,
    pub target: Target,
}

impl BootStory {
    /// `boot` on a device whose option bytes in force are `options` (for SFSA).
    pub fn of(boot: &Boot, options: &Options) -> BootStory {
        let v = boot.vector;
        let secure_from = options.secure_flash_from().unwrap_or(u32::MAX);
        let target = match boot.cause {
            BootCause::C2Boot { safeboot: true } => Target::Safeboot,
            _ if boot.core == CoreId::Cpu2 && v == layout::FUS_VECTOR => Target::Fus,
            _ if (layout::FLASH_BASE..secure_from).contains(&v) => Target::UserFlash,
            _ if (secure_from..layout::FLASH_BASE + 0x10_0000).contains(&v) => {
                Target::WirelessStack
            }
            // The boot alias at 0 maps flash for CPU1 unless BOOT0/nSWBOOT0 say otherwise.
            _ if v < 0x0010_0000 => Target::UserFlash,
            _ if (0x2000_0000..0x2004_0000).contains(&v) => Target::Sram,
            _ if (0x1FFF_0000..0x1FFF_7000).contains(&v) => Target::SystemMemory,
            _ => Target::Elsewhere,
        };
        BootStory {
            boot: *boot,
            target,
        }
    }
}

impl fmt::Display for BootStory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = match self.boot.core {
            CoreId::Cpu1 => "CPU1",
            CoreId::Cpu2 => "CPU2",
        };
        write!(
            f,
            "{core} boots {} at {:#010x} ({})",
            self.target,
            self.boot.vector,
            Cause(self.boot.cause)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(core: CoreId, vector: u32, cause: BootCause) -> Boot {
        Boot {
            at: 0,
            core,
            vector,
            cause,
            insns: [0, 0],
        }
    }

    #[test]
    fn boots_are_told_with_what_their_vector_holds() {
        let mut area = vec![0xFF; 4096];
        wb_firmware::presets::virgin_options().store(&mut area);
        let virgin = Options::decode(&area);
        let c2boot = BootCause::C2Boot { safeboot: false };
        let s = BootStory::of(&boot(CoreId::Cpu2, 0x080F_4000, c2boot), &virgin);
        assert_eq!(
            s.to_string(),
            "CPU2 boots the FUS at 0x080f4000 (released by PWR_CR4.C2BOOT)"
        );
        let s = BootStory::of(
            &boot(
                CoreId::Cpu1,
                0x0800_0000,
                BootCause::Reset(ResetCause::OptionLoad),
            ),
            &virgin,
        );
        assert_eq!(
            s.to_string(),
            "CPU1 boots user flash at 0x08000000 (system reset by OBL_LAUNCH)"
        );
        let safe = BootCause::C2Boot { safeboot: true };
        assert_eq!(
            BootStory::of(&boot(CoreId::Cpu2, 0x080F_F000, safe), &virgin).target,
            Target::Safeboot
        );
        // With a stack installed from page 0xF0, its vector is in the secure area.
        let mut o = wb_firmware::presets::virgin_options();
        o.set(wb_periph::flash::reg::SFR, 0xF0);
        o.store(&mut area);
        let with_stack = Options::decode(&area);
        assert_eq!(
            BootStory::of(&boot(CoreId::Cpu2, 0x080F_0000, c2boot), &with_stack).target,
            Target::WirelessStack
        );
    }
}
