//! The device information table CPU2 writes in SRAM2a (AN5185 Table 7; the FUS and the
//! wireless-stack layouts of `wb_proto::tables`), found through the reference table at
//! IPCCDBA as CPU1's code finds it. Volatile: a running machine has it, a device file not.

use wb_proto::image::Version;
use wb_proto::tables::{ref_table_address, DeviceInfo, FusDeviceInfo, RefTable};

use crate::Memory;

/// The table CPU2 wrote, if the reference table at `ipccdba` points at a readable one.
pub fn read(mem: &impl Memory, ipccdba: u32) -> Option<DeviceInfo> {
    let refs = mem.bytes(ref_table_address(ipccdba), RefTable::LEN)?;
    let at = RefTable::parse(refs).ok()?.device_info;
    DeviceInfo::parse(mem.bytes(at, FusDeviceInfo::FIELDS_LEN)?).ok()
}

/// Which firmware runs on CPU2, as the table says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cpu2Firmware {
    /// The FUS wrote the table (its layout, magic 0xA94656B9).
    Fus { version: Version },
    /// A wireless stack wrote it.
    WirelessStack {
        version: Version,
        fus_version: Version,
    },
}

impl Cpu2Firmware {
    pub fn of(info: &DeviceInfo) -> Cpu2Firmware {
        match info {
            DeviceInfo::Fus(t) => Cpu2Firmware::Fus {
                version: t.fus_version,
            },
            DeviceInfo::WirelessStack(t) => Cpu2Firmware::WirelessStack {
                version: t.ws_version,
                fus_version: t.fus_version,
            },
        }
    }
}
