//! Shared tables in SRAM2a: the reference table, system table, memory-manager table and the
//! device information table in its FUS and wireless-stack layouts.
//!
//! Sources: fus-clients.md B.3–B.4 (WPAN `tl/mbox_def.h`, `tl/tl_mbox.c`, `shci.c`), AN5185
//! §1.2, §1.6, §6.1 (Tables 7–8), stm32wb55-registers.md §1, §3, §12.

use crate::bytes::{Reader, Writer};
use crate::error::{Error, Result};
use crate::image::{MemorySize, Version};

/// SRAM2a base address (stm32wb55-registers.md §1).
pub const SRAM2A_BASE: u32 = 0x2003_0000;
/// SRAM2a size, 32 KB (stm32wb55-registers.md §1).
pub const SRAM2A_SIZE: u32 = 0x8000;

/// Word 0 of the FUS-layout device information table: "Device info table valid" (AN5185
/// Table 7; `shci.h` FUS_DEVICE_INFO_TABLE_VALIDITY_KEYWORD).
pub const DEVICE_INFO_VALID_MAGIC: u32 = 0xA946_56B9;
/// Word 0 value "IPCC memory incorrect" written by some wireless stacks (MicroPython
/// `MAGIC_IPCC_MEM_INCORRECT`, fus-clients.md B.4).
pub const IPCC_MEM_INCORRECT_MAGIC: u32 = 0x3DE9_6F61;
/// CPU2 hard-fault signature written at 0x20030000 (over the reference table) by wireless
/// stacks, followed by diagnostic words (fus-clients.md B.4).
pub const CPU2_HARD_FAULT_MAGIC: u32 = 0x1170_FD0F;
/// Where CubeProgrammer ≥ 2.7.0 (and AN5185 §1.2's example) expects the device information
/// table when IPCCDBA = 0; the FUS version is then at 0x20030030.
pub const DEVICE_INFO_DEFAULT_ADDR: u32 = 0x2003_0024;
/// Device information table address used with CubeProgrammer < 2.7.0 over SWD (AN5185 §1.2
/// note).
pub const DEVICE_INFO_LEGACY_ADDR: u32 = 0x2003_0890;

/// Address of the reference table for an IPCCDBA option value: `SRAM2A_BASE + IPCCDBA * 4`
/// as WPAN `SHCI_GetWirelessFwInfo` and MicroPython compute it (fus-clients.md B.3,
/// stm32wb55-registers.md §3). Only the 14-bit field is used.
///
/// Disagreement: the HAL's option-byte helpers scale by 16 and an old MicroPython by 1; all
/// agree only for IPCCDBA = 0 (0x20030000). We follow the clients that *read* the table.
pub const fn ref_table_address(ipccdba: u32) -> u32 {
    SRAM2A_BASE + ((ipccdba & 0x3FFF) << 2)
}

/// True if a table of `len` bytes at `addr` lies inside SRAM2a. AN5185 §1.6: if IPCCDBA
/// "points to an address that does not fit all table pointers", the FUS must not use the
/// shared tables at all.
pub const fn fits_in_sram2a(addr: u32, len: u32) -> bool {
    let end = SRAM2A_BASE + SRAM2A_SIZE;
    addr >= SRAM2A_BASE && addr < end && len <= end - addr
}

fn words<const N: usize>(bytes: &[u8], what: &'static str) -> Result<[u32; N]> {
    let mut r = Reader::new(bytes, what);
    let mut out = [0u32; N];
    for w in out.iter_mut() {
        *w = r.u32_le()?;
    }
    Ok(out)
}

fn put_words(out: &mut [u8], words: &[u32], what: &'static str) -> Result<usize> {
    let mut w = Writer::new(out, words.len() * 4, what)?;
    for &v in words {
        w.u32_le(v);
    }
    w.finish()
}

/// `MB_RefTable_t`: ten pointers at IPCCDBA's address (fus-clients.md B.4; AN5185 Figure 3).
/// The FUS uses only the device-info and system tables (AN5185 §1.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RefTable {
    /// +0x00 p_device_info_table.
    pub device_info: u32,
    /// +0x04 p_ble_table.
    pub ble: u32,
    /// +0x08 p_thread_table.
    pub thread: u32,
    /// +0x0C p_sys_table.
    pub sys: u32,
    /// +0x10 p_mem_manager_table.
    pub mem_manager: u32,
    /// +0x14 p_traces_table.
    pub traces: u32,
    /// +0x18 p_mac_802_15_4_table.
    pub mac_802_15_4: u32,
    /// +0x1C p_zigbee_table.
    pub zigbee: u32,
    /// +0x20 p_lld_tests_table.
    pub lld_tests: u32,
    /// +0x24 p_ble_lld_table.
    pub ble_lld: u32,
}

impl RefTable {
    /// Encoded length: 10 pointers.
    pub const LEN: usize = 40;
    /// Offset of p_device_info_table.
    pub const OFF_DEVICE_INFO: usize = 0x00;
    /// Offset of p_sys_table.
    pub const OFF_SYS: usize = 0x0C;

    /// Parses the first 40 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let [device_info, ble, thread, sys, mem_manager, traces, mac_802_15_4, zigbee, lld_tests, ble_lld] =
            words::<10>(bytes, "reference table")?;
        Ok(Self {
            device_info,
            ble,
            thread,
            sys,
            mem_manager,
            traces,
            mac_802_15_4,
            zigbee,
            lld_tests,
            ble_lld,
        })
    }

    /// Writes 40 bytes.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        put_words(
            out,
            &[
                self.device_info,
                self.ble,
                self.thread,
                self.sys,
                self.mem_manager,
                self.traces,
                self.mac_802_15_4,
                self.zigbee,
                self.lld_tests,
                self.ble_lld,
            ],
            "reference table",
        )
    }
}

/// `MB_SysTable_t` (AN5185 Table 8; fus-clients.md B.4): the command/response buffer and the
/// system event queue head (a `tListNode`, see [`crate::tl::ListNode`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SysTable {
    /// +0x00 pcmd_buffer: the single command/response buffer.
    pub cmd_buffer: u32,
    /// +0x04 sys_queue: address of the event queue head.
    pub sys_queue: u32,
}

impl SysTable {
    /// Encoded length (AN5185 §6.1.2: "an 8-byte table").
    pub const LEN: usize = 8;

    /// Parses the first 8 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let [cmd_buffer, sys_queue] = words::<2>(bytes, "system table")?;
        Ok(Self {
            cmd_buffer,
            sys_queue,
        })
    }

    /// Writes 8 bytes.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        put_words(out, &[self.cmd_buffer, self.sys_queue], "system table")
    }
}

/// `MB_MemManagerTable_t` (fus-clients.md B.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemManagerTable {
    /// +0x00 spare_ble_buffer.
    pub spare_ble_buffer: u32,
    /// +0x04 spare_sys_buffer.
    pub spare_sys_buffer: u32,
    /// +0x08 blepool.
    pub ble_pool: u32,
    /// +0x0C blepoolsize.
    pub ble_pool_size: u32,
    /// +0x10 pevt_free_buffer_queue (list head where CPU1 returns event buffers).
    pub evt_free_buffer_queue: u32,
    /// +0x14 traces_evt_pool.
    pub traces_evt_pool: u32,
    /// +0x18 tracespoolsize.
    pub traces_pool_size: u32,
}

impl MemManagerTable {
    /// Encoded length: 7 words.
    pub const LEN: usize = 28;

    /// Parses the first 28 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let [spare_ble_buffer, spare_sys_buffer, ble_pool, ble_pool_size, evt_free_buffer_queue, traces_evt_pool, traces_pool_size] =
            words::<7>(bytes, "memory manager table")?;
        Ok(Self {
            spare_ble_buffer,
            spare_sys_buffer,
            ble_pool,
            ble_pool_size,
            evt_free_buffer_queue,
            traces_evt_pool,
            traces_pool_size,
        })
    }

    /// Writes 28 bytes.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        put_words(
            out,
            &[
                self.spare_ble_buffer,
                self.spare_sys_buffer,
                self.ble_pool,
                self.ble_pool_size,
                self.evt_free_buffer_queue,
                self.traces_evt_pool,
                self.traces_pool_size,
            ],
            "memory manager table",
        )
    }
}

open_enum! {
    /// "Last FUS active state" byte (AN5185 Table 7). AN5185 §1.3: 0x04 means the wireless
    /// stack must be running, anything else that the FUS is.
    pub enum LastFusState: u8 {
        /// 0x00 FUS idle.
        Idle = 0x00,
        /// 0x01 wireless stack firmware upgrade.
        WsFwUpgrade = 0x01,
        /// 0x02 FUS firmware upgrade.
        FusFwUpgrade = 0x02,
        /// 0x03 FUS service.
        FusService = 0x03,
        /// 0x04 wireless stack running.
        WsRunning = 0x04,
        /// 0xFF error.
        Error = 0xFF,
    }
}

open_enum! {
    /// "Last wireless stack state" byte (AN5185 Table 7; 0x02–0x07 are not described,
    /// 0x08–0xFE "not used").
    pub enum LastWsState: u8 {
        /// 0x00 not started.
        NotStarted = 0x00,
        /// 0x01 running.
        Running = 0x01,
        /// 0xFF error.
        Error = 0xFF,
    }
}

open_enum! {
    /// "Current wireless stack type" byte (AN5185 Table 7). Not the same code space as the
    /// wireless-stack layout's InfoStack ([`info_stack_type`]).
    pub enum WsType: u8 {
        /// 0x00 none.
        None = 0x00,
        /// 0x01 Bluetooth Low Energy.
        Ble = 0x01,
        /// 0x02 Thread type 1.
        ThreadType1 = 0x02,
        /// 0x03 Thread type 2.
        ThreadType2 = 0x03,
    }
}

/// Stack types in bits 7:0 of the wireless-stack layout's InfoStack word (`shci.h`
/// INFO_STACK_TYPE_*, the values named in fus-clients.md B.4; the list there is partial).
pub mod info_stack_type {
    /// 0x01 INFO_STACK_TYPE_BLE_FULL.
    pub const BLE_FULL: u8 = 0x01;
    /// 0x40 INFO_STACK_TYPE_MAC.
    pub const MAC: u8 = 0x40;
    /// 0x50 INFO_STACK_TYPE_BLE_THREAD_FTD_STATIC.
    pub const BLE_THREAD_FTD_STATIC: u8 = 0x50;
    /// 0x51 INFO_STACK_TYPE_BLE_THREAD_FTD_DYNAMIC.
    pub const BLE_THREAD_FTD_DYNAMIC: u8 = 0x51;
    /// 0x90 INFO_STACK_TYPE_BLE_MAC_STATIC.
    pub const BLE_MAC_STATIC: u8 = 0x90;
    /// 0xF0 INFO_STACK_TYPE_NVM_BACKUP (`shci.h` v1.24.0).
    pub const NVM_BACKUP: u8 = 0xF0;
    /// 0xF1 INFO_STACK_TYPE_NVM_RESTORE (`shci.h` v1.24.0).
    pub const NVM_RESTORE: u8 = 0xF1;
}

/// Device information table as the **FUS** writes it (`MB_FUS_DeviceInfoTable_t`,
/// fus-clients.md B.4; AN5185 Table 7), offsets from the table start:
///
/// | off | field |
/// |---|---|
/// | 0x00 | DeviceInfoTableState = 0xA94656B9 |
/// | 0x04 | Reserved1 (u8) |
/// | 0x05 | LastFusActiveState (u8) |
/// | 0x06 | LastWirelessStackState (u8) |
/// | 0x07 | CurrentWirelessStackType (u8) |
/// | 0x08 | SafeBootVersion |
/// | 0x0C | FusVersion (AN5185 §1.2: "FUS version at offset 0xC") |
/// | 0x10 | FusMemorySize |
/// | 0x14 | WirelessStackVersion |
/// | 0x18 | WirelessStackMemorySize |
/// | 0x1C | WirelessFirmwareBleInfo |
/// | 0x20 | WirelessFirmwareThreadInfo |
/// | 0x24 | Reserved2 |
/// | 0x28 | UID64 (u64) |
/// | 0x30 | DeviceId (u16) |
///
/// This matches the dump observed on a real FUS 1.1 at 0x20030024 (fus-clients.md B.4), which
/// the tests parse.
///
/// Disagreements: AN5185 Table 7 calls it "a 42-byte buffer" but lists fields only up to
/// +0x1C; the C struct is 56 bytes (u64 alignment); the fields end at 0x32; the dump shows
/// 0x34 bytes (the DeviceId word padded with zeros). Parsing needs the 0x32 field bytes;
/// encoding writes [`FusDeviceInfo::ENCODED_LEN`] = 0x34 bytes, not 56, since ST's
/// `tl_mbox.c` reserves only 32 bytes for the table and writing less tramples less. AN5185
/// says an absent stack's version/memory words are 0xFFFFFFFF, but the observed dump shows 0
/// — both are representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FusDeviceInfo {
    /// +0x04 Reserved1 (the observed FUS 1.1 dump has 0x01 here).
    pub reserved1: u8,
    /// +0x05 LastFusActiveState.
    pub last_fus_state: LastFusState,
    /// +0x06 LastWirelessStackState.
    pub last_ws_state: LastWsState,
    /// +0x07 CurrentWirelessStackType.
    pub ws_type: WsType,
    /// +0x08 SafeBootVersion.
    pub safeboot_version: Version,
    /// +0x0C FusVersion.
    pub fus_version: Version,
    /// +0x10 FusMemorySize.
    pub fus_memory_size: MemorySize,
    /// +0x14 WirelessStackVersion.
    pub ws_version: Version,
    /// +0x18 WirelessStackMemorySize.
    pub ws_memory_size: MemorySize,
    /// +0x1C WirelessFirmwareBleInfo.
    pub ws_ble_info: u32,
    /// +0x20 WirelessFirmwareThreadInfo.
    pub ws_thread_info: u32,
    /// +0x24 Reserved2.
    pub reserved2: u32,
    /// +0x28 UID64.
    pub uid64: u64,
    /// +0x30 DeviceId (0x0496 on the observed STM32WB5x).
    pub device_id: u16,
}

impl FusDeviceInfo {
    /// +0x00 magic offset.
    pub const OFF_STATE: usize = 0x00;
    /// +0x05 LastFusActiveState offset.
    pub const OFF_LAST_FUS_STATE: usize = 0x05;
    /// +0x08 SafeBootVersion offset.
    pub const OFF_SAFEBOOT_VERSION: usize = 0x08;
    /// +0x0C FusVersion offset.
    pub const OFF_FUS_VERSION: usize = 0x0C;
    /// +0x14 WirelessStackVersion offset.
    pub const OFF_WS_VERSION: usize = 0x14;
    /// +0x24 Reserved2 offset.
    pub const OFF_RESERVED2: usize = 0x24;
    /// +0x28 UID64 offset.
    pub const OFF_UID64: usize = 0x28;
    /// +0x30 DeviceId offset.
    pub const OFF_DEVICE_ID: usize = 0x30;
    /// End of the last field: bytes needed to parse.
    pub const FIELDS_LEN: usize = 0x32;
    /// Bytes written by [`FusDeviceInfo::encode`] (fields + zero padding to a word).
    pub const ENCODED_LEN: usize = 0x34;
    /// `sizeof(MB_FUS_DeviceInfoTable_t)` with EABI u64 alignment.
    pub const C_SIZEOF: usize = 56;

    /// Parses; word 0 must be [`DEVICE_INFO_VALID_MAGIC`].
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        // Check the length first so a short buffer reports the whole table's need.
        if bytes.len() < Self::FIELDS_LEN {
            return Err(Error::TooShort {
                what: "FUS device information table",
                needed: Self::FIELDS_LEN,
                got: bytes.len(),
            });
        }
        let mut r = Reader::new(bytes, "FUS device information table");
        let magic = r.u32_le()?;
        if magic != DEVICE_INFO_VALID_MAGIC {
            return Err(Error::BadMagic {
                what: "FUS device information table",
                expected: DEVICE_INFO_VALID_MAGIC,
                found: magic,
            });
        }
        Ok(Self {
            reserved1: r.u8()?,
            last_fus_state: r.u8()?.into(),
            last_ws_state: r.u8()?.into(),
            ws_type: r.u8()?.into(),
            safeboot_version: Version(r.u32_le()?),
            fus_version: Version(r.u32_le()?),
            fus_memory_size: MemorySize(r.u32_le()?),
            ws_version: Version(r.u32_le()?),
            ws_memory_size: MemorySize(r.u32_le()?),
            ws_ble_info: r.u32_le()?,
            ws_thread_info: r.u32_le()?,
            reserved2: r.u32_le()?,
            uid64: r.u64_le()?,
            device_id: r.u16_le()?,
        })
    }

    /// Writes [`FusDeviceInfo::ENCODED_LEN`] bytes.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(out, Self::ENCODED_LEN, "FUS device information table")?;
        w.u32_le(DEVICE_INFO_VALID_MAGIC);
        w.u8(self.reserved1);
        w.u8(self.last_fus_state.into());
        w.u8(self.last_ws_state.into());
        w.u8(self.ws_type.into());
        w.u32_le(self.safeboot_version.0);
        w.u32_le(self.fus_version.0);
        w.u32_le(self.fus_memory_size.0);
        w.u32_le(self.ws_version.0);
        w.u32_le(self.ws_memory_size.0);
        w.u32_le(self.ws_ble_info);
        w.u32_le(self.ws_thread_info);
        w.u32_le(self.reserved2);
        w.u64_le(self.uid64);
        w.u16_le(self.device_id);
        w.u16_le(0);
        w.finish()
    }
}

// The sequential encode/parse above must land on the documented offsets.
const _: () = assert!(FusDeviceInfo::OFF_LAST_FUS_STATE == 4 + 1);
const _: () = assert!(FusDeviceInfo::OFF_SAFEBOOT_VERSION == 4 + 4);
const _: () = assert!(FusDeviceInfo::OFF_FUS_VERSION == FusDeviceInfo::OFF_SAFEBOOT_VERSION + 4);
const _: () = assert!(FusDeviceInfo::OFF_WS_VERSION == FusDeviceInfo::OFF_FUS_VERSION + 8);
const _: () = assert!(FusDeviceInfo::OFF_RESERVED2 == FusDeviceInfo::OFF_WS_VERSION + 4 * 4);
const _: () = assert!(FusDeviceInfo::OFF_UID64 == FusDeviceInfo::OFF_RESERVED2 + 4);
const _: () = assert!(FusDeviceInfo::OFF_DEVICE_ID == FusDeviceInfo::OFF_UID64 + 8);
const _: () = assert!(FusDeviceInfo::FIELDS_LEN == FusDeviceInfo::OFF_DEVICE_ID + 2);
const _: () = assert!(FusDeviceInfo::ENCODED_LEN == FusDeviceInfo::FIELDS_LEN + 2);
const _: () = assert!(FusDeviceInfo::C_SIZEOF == FusDeviceInfo::FIELDS_LEN.next_multiple_of(8));
// AN5185 §1.2: with the table at 0x20030024 the FUS version is at 0x20030030.
const _: () =
    assert!(DEVICE_INFO_DEFAULT_ADDR + FusDeviceInfo::OFF_FUS_VERSION as u32 == 0x2003_0030);

/// Device information table as a **wireless stack** writes it (`MB_DeviceInfoTable_t`,
/// 32 bytes, fus-clients.md B.4): `+0 SafeBoot.Version, +4 Fus.Version, +8 Fus.MemorySize,
/// +0xC Fus.FusInfo, +0x10 WirelessFw.Version, +0x14 MemorySize, +0x18 InfoStack,
/// +0x1C Reserved`.
///
/// Disagreement: embassy names +0x18 `thread_info` and +0x1C `ble_info`; ST names them
/// InfoStack (stack type in bits 7:0, [`info_stack_type`]) and Reserved. We use ST's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WsDeviceInfo {
    /// +0x00 SafeBoot version.
    pub safeboot_version: Version,
    /// +0x04 FUS version.
    pub fus_version: Version,
    /// +0x08 FUS memory size.
    pub fus_memory_size: MemorySize,
    /// +0x0C FusInfo.
    pub fus_info: u32,
    /// +0x10 wireless firmware version.
    pub ws_version: Version,
    /// +0x14 wireless firmware memory size.
    pub ws_memory_size: MemorySize,
    /// +0x18 InfoStack.
    pub info_stack: u32,
    /// +0x1C Reserved.
    pub reserved: u32,
}

impl WsDeviceInfo {
    /// Encoded length.
    pub const LEN: usize = 32;

    /// Stack type (InfoStack bits 7:0).
    pub const fn stack_type(&self) -> u8 {
        self.info_stack as u8
    }

    /// Parses the first 32 bytes. No magic: use [`DeviceInfo::parse`] to tell the layouts
    /// apart.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let [a, b, c, d, e, f, g, h] = words::<8>(bytes, "wireless stack device information")?;
        Ok(Self {
            safeboot_version: Version(a),
            fus_version: Version(b),
            fus_memory_size: MemorySize(c),
            fus_info: d,
            ws_version: Version(e),
            ws_memory_size: MemorySize(f),
            info_stack: g,
            reserved: h,
        })
    }

    /// Writes 32 bytes.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        put_words(
            out,
            &[
                self.safeboot_version.0,
                self.fus_version.0,
                self.fus_memory_size.0,
                self.fus_info,
                self.ws_version.0,
                self.ws_memory_size.0,
                self.info_stack,
                self.reserved,
            ],
            "wireless stack device information",
        )
    }
}

const _: () = assert!(WsDeviceInfo::LEN == 8 * 4);
const _: () = assert!(RefTable::LEN == 10 * 4);
const _: () = assert!(RefTable::OFF_SYS == 3 * 4);
const _: () = assert!(SysTable::LEN == 2 * 4);
const _: () = assert!(MemManagerTable::LEN == 7 * 4);

/// Either device-information layout, told apart as WPAN `SHCI_GetWirelessFwInfo` does
/// (fus-clients.md B.3): word 0 = 0xA94656B9 → FUS layout, anything else → wireless-stack
/// layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceInfo {
    /// Written by the FUS.
    Fus(FusDeviceInfo),
    /// Written by a wireless stack.
    WirelessStack(WsDeviceInfo),
}

impl DeviceInfo {
    /// Parses either layout.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "device information table");
        if r.u32_le()? == DEVICE_INFO_VALID_MAGIC {
            FusDeviceInfo::parse(bytes).map(DeviceInfo::Fus)
        } else {
            WsDeviceInfo::parse(bytes).map(DeviceInfo::WirelessStack)
        }
    }

    /// Writes the layout. A wireless-stack table whose SafeBoot version word equals the FUS
    /// magic is refused ([`Error::Inconsistent`]): clients would read it as the FUS layout.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        match self {
            DeviceInfo::Fus(t) => t.encode(out),
            DeviceInfo::WirelessStack(t) if t.safeboot_version.0 == DEVICE_INFO_VALID_MAGIC => {
                Err(Error::Inconsistent {
                    what: "wireless-stack device info whose word 0 is the FUS magic 0xA94656B9",
                })
            }
            DeviceInfo::WirelessStack(t) => t.encode(out),
        }
    }

    /// FUS version from either layout (+0x0C in the FUS layout, +0x04 in the stack layout).
    pub fn fus_version(&self) -> Version {
        match self {
            DeviceInfo::Fus(t) => t.fus_version,
            DeviceInfo::WirelessStack(t) => t.fus_version,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    /// fus-clients.md B.4: device-info table observed at 0x20030024 on a FUS 1.1 device
    /// (CubeProgrammer memory view, 32-bit words).
    const DUMP_WORDS: [u32; 13] = [
        0xA94656B9, 0x00000001, 0x01010000, 0x01010100, 0x00000006, 0x00000000, 0x00000000,
        0x00000000, 0x00000000, 0x00000000, 0x00658473, 0x0080E126, 0x00000496,
    ];
    const DUMP_ADDR: u32 = 0x2003_0024;

    fn dump_bytes() -> [u8; 52] {
        let mut b = [0u8; 52];
        for (chunk, w) in b.chunks_exact_mut(4).zip(DUMP_WORDS) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    #[test]
    fn observed_fus_device_info_dump() {
        let b = dump_bytes();
        let t = FusDeviceInfo::parse(&b).unwrap();
        assert_eq!(t.reserved1, 0x01);
        assert_eq!(t.last_fus_state, LastFusState::Idle);
        assert_eq!(t.last_ws_state, LastWsState::NotStarted);
        assert_eq!(t.ws_type, WsType::None);
        assert_eq!(t.safeboot_version, Version(0x0101_0000));
        assert_eq!(t.safeboot_version.triple(), (1, 1, 0));
        assert_eq!(t.fus_version, Version(0x0101_0100));
        assert_eq!(t.fus_version.triple(), (1, 1, 1));
        assert_eq!(t.fus_memory_size.flash_sectors(), 6);
        assert_eq!(t.fus_memory_size.sram2a_kb(), 0);
        assert_eq!(t.fus_memory_size.sram2b_kb(), 0);
        assert_eq!(t.ws_version, Version(0));
        assert_eq!(t.ws_memory_size, MemorySize(0));
        assert_eq!(t.ws_ble_info, 0);
        assert_eq!(t.ws_thread_info, 0);
        assert_eq!(t.reserved2, 0);
        assert_eq!(t.uid64, 0x0080_E126_0065_8473);
        assert_eq!(t.device_id, 0x0496);

        // AN5185 §1.2: the FUS version word CubeProgrammer reads at 0x20030030.
        let off = (0x2003_0030 - DUMP_ADDR) as usize;
        assert_eq!(off, FusDeviceInfo::OFF_FUS_VERSION);
        assert_eq!(
            u32::from_le_bytes(b[off..off + 4].try_into().unwrap()),
            t.fus_version.0
        );

        assert_eq!(DeviceInfo::parse(&b).unwrap(), DeviceInfo::Fus(t));
        assert_eq!(
            DeviceInfo::parse(&b).unwrap().fus_version().triple(),
            (1, 1, 1)
        );

        // Our encoder reproduces the observed 0x34 bytes exactly.
        let mut out = [0xAAu8; 60];
        assert_eq!(t.encode(&mut out).unwrap(), FusDeviceInfo::ENCODED_LEN);
        assert_eq!(&out[..52], &b[..]);
        assert_eq!(out[52], 0xAA, "encode must not write past 0x34");
    }

    #[test]
    fn fus_device_info_errors() {
        let mut b = dump_bytes();
        assert_eq!(
            FusDeviceInfo::parse(&b[..0x31]),
            Err(Error::TooShort {
                what: "FUS device information table",
                needed: 0x32,
                got: 0x31
            })
        );
        assert!(FusDeviceInfo::parse(&b[..0x32]).is_ok());
        b[0] = 0x61; // little-endian low byte: 0xA94656B9 → 0xA9465661
        assert_eq!(
            FusDeviceInfo::parse(&b),
            Err(Error::BadMagic {
                what: "FUS device information table",
                expected: 0xA946_56B9,
                found: 0xA946_5661
            })
        );
        // Without the magic the dump reads as a wireless-stack table.
        assert!(matches!(
            DeviceInfo::parse(&b),
            Ok(DeviceInfo::WirelessStack(_))
        ));
    }

    #[test]
    fn ws_layout_offsets() {
        // fus-clients.md B.4: FUS version at +4, WS version at +0x10, InfoStack at +0x18.
        let mut b = [0u8; 32];
        b[4..8].copy_from_slice(&0x0102_0000u32.to_le_bytes());
        b[0x10..0x14].copy_from_slice(&0x0118_0000u32.to_le_bytes());
        b[0x18] = info_stack_type::BLE_FULL;
        let t = WsDeviceInfo::parse(&b).unwrap();
        assert_eq!(t.fus_version.triple(), (1, 2, 0));
        assert_eq!(t.ws_version.triple(), (1, 24, 0));
        assert_eq!(t.stack_type(), 0x01);
        assert_eq!(
            DeviceInfo::parse(&b).unwrap().fus_version().triple(),
            (1, 2, 0)
        );
    }

    #[test]
    fn ref_table_example() {
        // AN5185 §1.2: IPCCDBA = 0 → table at 0x20030000 containing 0x20030024.
        assert_eq!(ref_table_address(0), 0x2003_0000);
        let mut b = [0u8; 40];
        b[..4].copy_from_slice(&0x2003_0024u32.to_le_bytes());
        b[0x0C..0x10].copy_from_slice(&0x2003_0100u32.to_le_bytes());
        let t = RefTable::parse(&b).unwrap();
        assert_eq!(t.device_info, DEVICE_INFO_DEFAULT_ADDR);
        assert_eq!(t.sys, 0x2003_0100);
        assert!(fits_in_sram2a(0x2003_0000, RefTable::LEN as u32));
        assert!(!fits_in_sram2a(0x2003_7FF0, RefTable::LEN as u32));
        assert!(!fits_in_sram2a(0x2002_FFFC, 4));
        assert!(RefTable::parse(&b[..39]).is_err());
    }

    #[test]
    fn magic_words() {
        // fus-clients.md B.4.
        assert_eq!(DEVICE_INFO_VALID_MAGIC, 0xA946_56B9);
        assert_eq!(IPCC_MEM_INCORRECT_MAGIC, 0x3DE9_6F61);
        assert_eq!(CPU2_HARD_FAULT_MAGIC, 0x1170_FD0F);
    }
}
