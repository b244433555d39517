//! FUS system commands: opcodes, command payloads, response status, FUS states and error
//! codes, and typed FUS responses.
//!
//! Sources: AN5185 Tables 11–14, fus-clients.md B.1 (WPAN `shci.h`) and B.3 (`shci.c`).

use crate::bytes::{tail_mut, Reader, Writer};
use crate::error::{Error, Result};
use crate::tl::{CommandComplete, PacketType, SysCommand, CMD_HDR_LEN, PACKET_HEADER_LEN};

/// Opcode group field of every system command: vendor specific, 0x3F (fus-clients.md B.1:
/// "Opcode = (OGF 0x3F << 10) | OCF").
pub const OGF_VENDOR: u16 = 0x3F;

/// Builds an opcode from its OCF: `0xFC00 | ocf` (fus-clients.md B.1).
pub const fn opcode_from_ocf(ocf: u16) -> u16 {
    (OGF_VENDOR << 10) | (ocf & 0x03FF)
}

/// OGF (bits 15:10) of a raw opcode.
pub const fn ogf(opcode: u16) -> u16 {
    opcode >> 10
}

/// OCF (bits 9:0) of a raw opcode.
pub const fn ocf(opcode: u16) -> u16 {
    opcode & 0x03FF
}

closed_enum! {
    /// System-command opcodes, named as in WPAN `shci.h` `SHCI_OCF_t` (fus-clients.md B.1;
    /// "THE ORDER SHALL NOT BE CHANGED"). The FUS subset is AN5185 Table 11 plus 0xFC5B.
    ///
    /// Packets keep the opcode as a raw `u16` ([`SysCommand::opcode`]) so that a FUS can
    /// answer an unknown or reserved opcode; `TryFrom<u16>` fails only for values outside
    /// this list.
    ///
    /// Disagreements: AN5185 Table 11 does not list 0xFC5B; `shci.h` v1.24.0 names it
    /// FUS_FW_PURGE (RESERVED2 in v1.3.0–v1.23.0) — kept, as the brief and newest clients use
    /// it. 0xFC5E/0xFC5F were RESERVED5/6 in `shci.h` up to v1.9.0. embassy-stm32-wpan names
    /// 0xFC72 `ExtraConfig` and lacks 0xFC5B and 0xFC79. AN5185 notes that FUSv2 prefixes the
    /// names FUS_CMD_ (FUS_CMD_WRITE_USER_KEY_IN_MEMORY = STORE_USR_KEY,
    /// FUS_CMD_WRITE_USER_KEY_INTO_AES = LOAD_USR_KEY); the values are unchanged.
    pub enum Opcode: u16, "system command opcode" {
        /// SHCI_OCF_C2_RESERVED1.
        C2Reserved1 = 0xFC50,
        /// SHCI_OCF_C2_RESERVED2.
        C2Reserved2 = 0xFC51,
        /// FUS_GET_STATE (Table 11): no payload; response status = FUS state, payload = error.
        FusGetState = 0xFC52,
        /// FUS_RESERVED1 (Table 11 "Reserved").
        FusReserved1 = 0xFC53,
        /// FUS_FW_UPGRADE (Table 11): 0, 4 or 8 payload bytes.
        FusFwUpgrade = 0xFC54,
        /// FUS_FW_DELETE (Table 11): no payload.
        FusFwDelete = 0xFC55,
        /// FUS_UPDATE_AUTH_KEY (Table 11): key size + key data, up to 65 bytes.
        FusUpdateAuthKey = 0xFC56,
        /// FUS_LOCK_AUTH_KEY (Table 11): no payload.
        FusLockAuthKey = 0xFC57,
        /// FUS_STORE_USR_KEY (Table 11): type, size, key data (+ 12-byte IV).
        FusStoreUsrKey = 0xFC58,
        /// FUS_LOAD_USR_KEY (Table 11): one key-index byte.
        FusLoadUsrKey = 0xFC59,
        /// FUS_START_WS (Table 11): no payload.
        FusStartWs = 0xFC5A,
        /// FUS_FW_PURGE (`shci.h` v1.24.0): "Delete the wireless stack on CPU2 and the NVM
        /// section"; no payload.
        FusFwPurge = 0xFC5B,
        /// FUS_RESERVED3.
        FusReserved3 = 0xFC5C,
        /// FUS_LOCK_USR_KEY (Table 11): one key-index byte.
        FusLockUsrKey = 0xFC5D,
        /// FUS_UNLOAD_USR_KEY (Table 11): one key-index byte.
        FusUnloadUsrKey = 0xFC5E,
        /// FUS_ACTIVATE_ANTIROLLBACK (Table 11): no payload.
        FusActivateAntirollback = 0xFC5F,
        /// FUS_RESERVED7.
        FusReserved7 = 0xFC60,
        /// FUS_RESERVED8.
        FusReserved8 = 0xFC61,
        /// FUS_RESERVED9.
        FusReserved9 = 0xFC62,
        /// FUS_RESERVED10.
        FusReserved10 = 0xFC63,
        /// FUS_RESERVED11.
        FusReserved11 = 0xFC64,
        /// FUS_RESERVED12.
        FusReserved12 = 0xFC65,
        /// SHCI BLE_INIT (wireless stack only).
        BleInit = 0xFC66,
        /// SHCI THREAD_INIT (wireless stack only).
        ThreadInit = 0xFC67,
        /// SHCI DEBUG_INIT (wireless stack only).
        DebugInit = 0xFC68,
        /// SHCI FLASH_ERASE_ACTIVITY (wireless stack only).
        FlashEraseActivity = 0xFC69,
        /// SHCI CONCURRENT_SET_MODE (wireless stack only).
        ConcurrentSetMode = 0xFC6A,
        /// SHCI FLASH_STORE_DATA (wireless stack only).
        FlashStoreData = 0xFC6B,
        /// SHCI FLASH_ERASE_DATA (wireless stack only).
        FlashEraseData = 0xFC6C,
        /// SHCI RADIO_ALLOW_LOW_POWER (wireless stack only).
        RadioAllowLowPower = 0xFC6D,
        /// SHCI MAC_802_15_4_INIT (wireless stack only).
        Mac802154Init = 0xFC6E,
        /// SHCI REINIT (wireless stack only).
        Reinit = 0xFC6F,
        /// SHCI ZIGBEE_INIT (wireless stack only).
        ZigbeeInit = 0xFC70,
        /// SHCI LLD_TESTS_INIT (wireless stack only).
        LldTestsInit = 0xFC71,
        /// SHCI EXTPA_CONFIG (wireless stack only; embassy: ExtraConfig).
        ExtpaConfig = 0xFC72,
        /// SHCI SET_FLASH_ACTIVITY_CONTROL (wireless stack only).
        SetFlashActivityControl = 0xFC73,
        /// SHCI BLE_LLD_INIT (wireless stack only).
        BleLldInit = 0xFC74,
        /// SHCI CONFIG (wireless stack only).
        Config = 0xFC75,
        /// SHCI CONCURRENT_GET_NEXT_BLE_EVT_TIME (wireless stack only).
        ConcurrentGetNextBleEvtTime = 0xFC76,
        /// SHCI CONCURRENT_ENABLE_NEXT_802154_EVT_NOTIFICATION (wireless stack only).
        ConcurrentEnableNext802154EvtNotification = 0xFC77,
        /// SHCI 802_15_4_DEINIT (wireless stack only).
        Mac802154Deinit = 0xFC78,
        /// SHCI SET_SYSTEM_CLOCK (wireless stack only).
        SetSystemClock = 0xFC79,
    }
}

impl Opcode {
    /// The OCF (low 10 bits).
    pub const fn ocf(self) -> u16 {
        ocf(self as u16)
    }

    /// True for the commands the FUS implements: AN5185 Table 11 plus FUS_FW_PURGE.
    /// Reserved FUS opcodes and wireless-stack-only opcodes are false.
    pub const fn is_fus_command(self) -> bool {
        matches!(
            self,
            Opcode::FusGetState
                | Opcode::FusFwUpgrade
                | Opcode::FusFwDelete
                | Opcode::FusUpdateAuthKey
                | Opcode::FusLockAuthKey
                | Opcode::FusStoreUsrKey
                | Opcode::FusLoadUsrKey
                | Opcode::FusStartWs
                | Opcode::FusFwPurge
                | Opcode::FusLockUsrKey
                | Opcode::FusUnloadUsrKey
                | Opcode::FusActivateAntirollback
        )
    }
}

open_enum! {
    /// Status byte of a command-complete response for every command except FUS_GET_STATE
    /// (whose status byte is a [`FusState`]).
    ///
    /// AN5185 Table 12 defines only 0x00 (operation started / done) and 0x01 (fail); the other
    /// values are WPAN `SHCI_CmdStatus_t` (fus-clients.md B.1).
    ///
    /// Disagreement: `shci.h` names 0x01 SHCI_UNKNOWN_CMD, AN5185 names it "Fail"; same value,
    /// so both readings accept it. INVALID_PARAMS is 0x42 before WPAN v1.13.0 and 0x92 after.
    pub enum Status: u8 {
        /// 0x00: operation started (FW_UPGRADE, FW_DELETE, START_WS) or done (others).
        Success = 0x00,
        /// 0x01: fail (AN5185) / SHCI_UNKNOWN_CMD (`shci.h`).
        Fail = 0x01,
        /// 0x07: SHCI_MEMORY_CAPACITY_EXCEEDED.
        MemoryCapacityExceeded = 0x07,
        /// 0x11: SHCI_UNSUPPORTED_FEATURE.
        UnsupportedFeature = 0x11,
        /// 0x12: SHCI_INVALID_HCI_CMD_PARAMS.
        InvalidHciCmdParams = 0x12,
        /// 0x42: SHCI_INVALID_PARAMS (WPAN < v1.13.0).
        InvalidParams = 0x42,
        /// 0x92: SHCI_INVALID_PARAMS_V2 (WPAN >= v1.13.0).
        InvalidParamsV2 = 0x92,
        /// 0xFF: SHCI_FUS_CMD_NOT_SUPPORTED (a wireless stack answering a FUS command).
        FusCmdNotSupported = 0xFF,
    }
}

/// FUS state, the status byte of the FUS_GET_STATE response (AN5185 Table 13).
///
/// Values inside a range all mean the same state ("0x12 or 0x1E both mean
/// FUS_STATE_FW_UPGRD_ONGOING"); the range variants keep the raw byte so it round-trips.
/// `From<FusState> for u8` forces a range variant's byte into its range (low nibble kept).
///
/// Disagreement: 0xFE FUS_STATE_NOT_RUNNING is listed in the *error* table (Table 14), but
/// AN5185 §1.3/§2.1 says GET_STATE "must return FUS_STATE_NOT_RUNNING state" when a wireless
/// stack answers, and embassy decodes the status byte with the error-code enum. So 0xFE is a
/// state here. (`shci.h` instead says the stack answers SHCI_FUS_CMD_NOT_SUPPORTED, 0xFF, the
/// first time; that byte decodes as [`FusState::Error`].)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FusState {
    /// 0x00 FUS_STATE_IDLE.
    Idle,
    /// 0x10..=0x1F FUS_STATE_FW_UPGRD_ONGOING (raw byte kept).
    FwUpgradeOngoing(u8),
    /// 0x20..=0x2F FUS_STATE_FUS_UPGRD_ONGOING (raw byte kept).
    FusUpgradeOngoing(u8),
    /// 0x30..=0x3F FUS_STATE_SERVICE_ONGOING: authentication-key or user-key service.
    ServiceOngoing(u8),
    /// 0xFE FUS_STATE_NOT_RUNNING: a wireless stack, not the FUS, answered.
    NotRunning,
    /// 0xFF FUS_STATE_ERROR: details in the error-code byte.
    Error,
    /// 0x01..=0x0F and 0x40..=0xFD: "Not used / reserved for future use".
    Reserved(u8),
}

impl FusState {
    /// Canonical FW_UPGRD_ONGOING byte.
    pub const FW_UPGRADE_ONGOING: FusState = FusState::FwUpgradeOngoing(0x10);
    /// Canonical FUS_UPGRD_ONGOING byte.
    pub const FUS_UPGRADE_ONGOING: FusState = FusState::FusUpgradeOngoing(0x20);
    /// Canonical SERVICE_ONGOING byte.
    pub const SERVICE_ONGOING: FusState = FusState::ServiceOngoing(0x30);

    /// True while an upgrade (FW or FUS) is in progress, the window in which ST's BLE_Ota
    /// keeps polling (fus-clients.md B.6: "reset when state leaves 0x10..0x2F").
    pub const fn is_upgrade_ongoing(self) -> bool {
        matches!(
            self,
            FusState::FwUpgradeOngoing(_) | FusState::FusUpgradeOngoing(_)
        )
    }
}

impl From<u8> for FusState {
    fn from(v: u8) -> Self {
        match v {
            0x00 => FusState::Idle,
            0x10..=0x1F => FusState::FwUpgradeOngoing(v),
            0x20..=0x2F => FusState::FusUpgradeOngoing(v),
            0x30..=0x3F => FusState::ServiceOngoing(v),
            0xFE => FusState::NotRunning,
            0xFF => FusState::Error,
            other => FusState::Reserved(other),
        }
    }
}

impl From<FusState> for u8 {
    fn from(s: FusState) -> u8 {
        match s {
            FusState::Idle => 0x00,
            FusState::FwUpgradeOngoing(v) => 0x10 | (v & 0x0F),
            FusState::FusUpgradeOngoing(v) => 0x20 | (v & 0x0F),
            FusState::ServiceOngoing(v) => 0x30 | (v & 0x0F),
            FusState::NotRunning => 0xFE,
            FusState::Error => 0xFF,
            FusState::Reserved(v) => v,
        }
    }
}

open_enum! {
    /// FUS error code, the payload byte of the FUS_GET_STATE response (AN5185 Table 14,
    /// names from `shci.h` where they exist, fus-clients.md B.1).
    ///
    /// Disagreement: 0x12 FUS_BUSY and 0x13 FUS_INVALID_CKS_OPERATION are in AN5185 rev 12
    /// (FUSv2) but not in `shci.h`; kept. AN5185 spells 0x04 "FUS_SATE_NO_ENOUGH_SPACE".
    pub enum FusError: u8 {
        /// 0x00 FUS_STATE_NO_ERROR.
        NoError = 0x00,
        /// 0x01 FUS_STATE_IMG_NOT_FOUND: upgrade requested but no image found.
        ImgNotFound = 0x01,
        /// 0x02 FUS_STATE_IMG_CORRUPTED: image found, authentic, but not integer.
        ImgCorrupt = 0x02,
        /// 0x03 FUS_STATE_IMG_NOT_AUTHENTIC: signature not valid.
        ImgNotAuthentic = 0x03,
        /// 0x04 FUS_STATE_NO_ENOUGH_SPACE: not enough space due to the installed image.
        ImgNotEnoughSpace = 0x04,
        /// 0x05 FUS_IMAGE_USRABORT: aborted by user or power off.
        ImageUsrAbort = 0x05,
        /// 0x06 FUS_IMAGE_ERSEERROR: flash erase error.
        ImageEraseError = 0x06,
        /// 0x07 FUS_IMAGE_WRTERROR: flash write error.
        ImageWriteError = 0x07,
        /// 0x08 FUS_AUTH_TAG_ST_NOTFOUND.
        AuthTagStNotFound = 0x08,
        /// 0x09 FUS_AUTH_TAG_CUST_NOTFOUND.
        AuthTagCustNotFound = 0x09,
        /// 0x0A FUS_AUTH_KEY_LOCKED.
        AuthKeyLocked = 0x0A,
        /// 0x11 FUS_FW_ROLLBACK_ERROR: anti-rollback refused an older version.
        FwRollbackError = 0x11,
        /// 0x12 FUS_BUSY (AN5185 rev 12 only): an operation is already ongoing.
        Busy = 0x12,
        /// 0x13 FUS_INVALID_CKS_OPERATION (AN5185 rev 12 only).
        InvalidCksOperation = 0x13,
        /// 0x14 FUS_UFB_CORRUPT: the FUS's state area (UFB) was found erased and set back
        /// to its reset values. Ours: AN5185's FAQ names the error without a Table 14
        /// value; 0x14 is the first reserved one (docs/fus-layout.md §7).
        UfbCorrupt = 0x14,
        /// 0xFE FUS_STATE_NOT_RUNNING: a wireless stack answered.
        NotRunning = 0xFE,
        /// 0xFF FUS_STATE_ERR_UNKNOWN.
        ErrUnknown = 0xFF,
    }
}

closed_enum! {
    /// User-key type, byte 0 of FUS_STORE_USR_KEY (AN5185 Table 11, `shci.h` via
    /// fus-clients.md B.1).
    pub enum KeyType: u8, "user key type" {
        /// 0x00: none.
        None = 0x00,
        /// 0x01: simple (clear) key.
        Simple = 0x01,
        /// 0x02: master key (decrypts encrypted keys, never loaded into AES).
        Master = 0x02,
        /// 0x03: key encrypted with the master key (AES-128-GCM), followed by a 12-byte IV.
        Encrypted = 0x03,
    }
}

/// Allowed user-key sizes in bytes: 128/256 bits (AN5185 §5.1) and `shci.h` v1.24.0
/// KEYSIZE_64 (fus-clients.md B.1).
pub const USER_KEY_SIZES: [u8; 3] = [16, 32, 64];
/// Length of the IV sent with an encrypted user key (AN5185 §5.1).
pub const USER_KEY_IV_LEN: usize = 12;
/// The 4 bytes the FUS appends to the 12-byte IV to form the 16-byte GCM counter block
/// (AN5185 §5.1: "fixed by FUS to 0x00, 0x00, 0x00, 0x02").
pub const USER_KEY_IV_SUFFIX: [u8; 4] = [0x00, 0x00, 0x00, 0x02];
/// Number of user keys besides the master key (AN5185 §5.1: "1 master key and 100
/// clear/encrypted keys").
pub const MAX_USER_KEYS: u8 = 100;
/// Index of the master key (AN5185 §5.1: "Master key index is always 0").
pub const MASTER_KEY_INDEX: u8 = 0;
/// Largest authentication-key data length (AN5185 Table 11: payload "up to 65" = size byte +
/// 64 bytes; a P-256 public key, AN5185 §4).
pub const MAX_AUTH_KEY_LEN: usize = 64;

/// Optional addresses of FUS_FW_UPGRADE (AN5185 Table 11: 0, 4 or 8 payload bytes, "not used
/// in the current version").
///
/// Client quirks (fus-clients.md B.3): ST `SHCI_C2_FUS_FwUpgrade(0, dst)` sends plen = 4 with
/// four uninitialised bytes; MicroPython sends one u32; embassy sends [src, dst] when dst≠0.
/// A FUS must therefore treat the 4-byte form's value as untrusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpgradeAddress {
    /// No payload (ST BLE_Ota sends (0, 0)).
    None,
    /// 4 bytes: firmware image location.
    Source(u32),
    /// 8 bytes: image location, then destination.
    SourceAndDestination {
        /// Image location.
        src: u32,
        /// Destination.
        dst: u32,
    },
}

/// A FUS command with its decoded payload (AN5185 Table 11).
///
/// Built from a [`SysCommand`] by [`FusCommand::parse`]; an opcode the FUS does not implement
/// (reserved, wireless-stack-only or unknown) gives [`Error::UnknownValue`], while the raw
/// opcode stays available in the `SysCommand` for the error response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FusCommand<'a> {
    /// FUS_GET_STATE.
    GetState,
    /// FUS_FW_UPGRADE.
    FwUpgrade(UpgradeAddress),
    /// FUS_FW_DELETE.
    FwDelete,
    /// FUS_UPDATE_AUTH_KEY: the key data (size byte implied).
    UpdateAuthKey {
        /// Key data, at most [`MAX_AUTH_KEY_LEN`] bytes.
        key: &'a [u8],
    },
    /// FUS_LOCK_AUTH_KEY.
    LockAuthKey,
    /// FUS_STORE_USR_KEY.
    StoreUsrKey {
        /// Key type.
        key_type: KeyType,
        /// Key data (length = the KeySize byte).
        key: &'a [u8],
        /// IV, present exactly when `key_type` is [`KeyType::Encrypted`].
        iv: Option<[u8; USER_KEY_IV_LEN]>,
    },
    /// FUS_LOAD_USR_KEY with the key index.
    LoadUsrKey(u8),
    /// FUS_START_WS.
    StartWs,
    /// FUS_FW_PURGE (`shci.h` v1.24.0).
    FwPurge,
    /// FUS_LOCK_USR_KEY with the key index.
    LockUsrKey(u8),
    /// FUS_UNLOAD_USR_KEY with the key index.
    UnloadUsrKey(u8),
    /// FUS_ACTIVATE_ANTIROLLBACK.
    ActivateAntirollback,
}

const NO_PAYLOAD: &str = "FUS command payload (must be empty)";
const ONE_BYTE: &str = "FUS key-index payload (must be 1 byte)";

fn expect_len(payload: &[u8], len: usize, what: &'static str) -> Result<()> {
    if payload.len() == len {
        Ok(())
    } else {
        Err(Error::BadLength {
            what,
            found: payload.len(),
        })
    }
}

fn one_byte(payload: &[u8]) -> Result<u8> {
    match payload {
        [b] => Ok(*b),
        _ => Err(Error::BadLength {
            what: ONE_BYTE,
            found: payload.len(),
        }),
    }
}

impl<'a> FusCommand<'a> {
    /// Opcode of this command.
    pub const fn opcode(&self) -> Opcode {
        match self {
            FusCommand::GetState => Opcode::FusGetState,
            FusCommand::FwUpgrade(_) => Opcode::FusFwUpgrade,
            FusCommand::FwDelete => Opcode::FusFwDelete,
            FusCommand::UpdateAuthKey { .. } => Opcode::FusUpdateAuthKey,
            FusCommand::LockAuthKey => Opcode::FusLockAuthKey,
            FusCommand::StoreUsrKey { .. } => Opcode::FusStoreUsrKey,
            FusCommand::LoadUsrKey(_) => Opcode::FusLoadUsrKey,
            FusCommand::StartWs => Opcode::FusStartWs,
            FusCommand::FwPurge => Opcode::FusFwPurge,
            FusCommand::LockUsrKey(_) => Opcode::FusLockUsrKey,
            FusCommand::UnloadUsrKey(_) => Opcode::FusUnloadUsrKey,
            FusCommand::ActivateAntirollback => Opcode::FusActivateAntirollback,
        }
    }

    /// Decodes the payload of a system command.
    ///
    /// Lengths are checked exactly as AN5185 Table 11 gives them, except
    /// FUS_UPDATE_AUTH_KEY, where bytes after the key are ignored: ST's client always sends 65
    /// bytes (`KeySize + KeyData[64]`) whatever the key size (fus-clients.md B.1).
    pub fn parse(cmd: &SysCommand<'a>) -> Result<Self> {
        let p = cmd.payload;
        let op = Opcode::try_from(cmd.opcode)?;
        let c = match op {
            Opcode::FusGetState => {
                expect_len(p, 0, NO_PAYLOAD)?;
                FusCommand::GetState
            }
            Opcode::FusFwUpgrade => {
                let mut r = Reader::new(p, "FUS_FW_UPGRADE payload");
                let addr = match p.len() {
                    0 => UpgradeAddress::None,
                    4 => UpgradeAddress::Source(r.u32_le()?),
                    8 => UpgradeAddress::SourceAndDestination {
                        src: r.u32_le()?,
                        dst: r.u32_le()?,
                    },
                    n => {
                        return Err(Error::BadLength {
                            what: "FUS_FW_UPGRADE payload (must be 0, 4 or 8 bytes)",
                            found: n,
                        })
                    }
                };
                FusCommand::FwUpgrade(addr)
            }
            Opcode::FusFwDelete => {
                expect_len(p, 0, NO_PAYLOAD)?;
                FusCommand::FwDelete
            }
            Opcode::FusUpdateAuthKey => {
                let mut r = Reader::new(p, "FUS_UPDATE_AUTH_KEY payload");
                let size = r.u8()?;
                if usize::from(size) > MAX_AUTH_KEY_LEN {
                    return Err(Error::OutOfRange {
                        what: "FUS_UPDATE_AUTH_KEY key size",
                        value: u32::from(size),
                        max: MAX_AUTH_KEY_LEN as u32,
                    });
                }
                FusCommand::UpdateAuthKey {
                    key: r.take(usize::from(size))?,
                }
            }
            Opcode::FusLockAuthKey => {
                expect_len(p, 0, NO_PAYLOAD)?;
                FusCommand::LockAuthKey
            }
            Opcode::FusStoreUsrKey => {
                let mut r = Reader::new(p, "FUS_STORE_USR_KEY payload");
                let key_type = KeyType::try_from(r.u8()?)?;
                let size = usize::from(r.u8()?);
                let iv_len = if key_type == KeyType::Encrypted {
                    USER_KEY_IV_LEN
                } else {
                    0
                };
                // Exact length: ST sends KeySize + 2 (+ 12), never its whole 46-byte struct.
                if p.len() != 2 + size + iv_len {
                    return Err(Error::BadLength {
                        what: "FUS_STORE_USR_KEY payload (must be 2 + KeySize, + 12 if encrypted)",
                        found: p.len(),
                    });
                }
                let key = r.take(size)?;
                let iv = if iv_len > 0 {
                    Some(r.array::<USER_KEY_IV_LEN>()?)
                } else {
                    None
                };
                FusCommand::StoreUsrKey { key_type, key, iv }
            }
            Opcode::FusLoadUsrKey => FusCommand::LoadUsrKey(one_byte(p)?),
            Opcode::FusStartWs => {
                expect_len(p, 0, NO_PAYLOAD)?;
                FusCommand::StartWs
            }
            Opcode::FusFwPurge => {
                expect_len(p, 0, NO_PAYLOAD)?;
                FusCommand::FwPurge
            }
            Opcode::FusLockUsrKey => FusCommand::LockUsrKey(one_byte(p)?),
            Opcode::FusUnloadUsrKey => FusCommand::UnloadUsrKey(one_byte(p)?),
            Opcode::FusActivateAntirollback => {
                expect_len(p, 0, NO_PAYLOAD)?;
                FusCommand::ActivateAntirollback
            }
            other => {
                return Err(Error::UnknownValue {
                    what: "FUS command opcode",
                    value: u32::from(u16::from(other)),
                })
            }
        };
        Ok(c)
    }

    /// Length of the payload [`FusCommand::encode_payload`] writes.
    pub fn payload_len(&self) -> usize {
        match self {
            FusCommand::FwUpgrade(UpgradeAddress::None) => 0,
            FusCommand::FwUpgrade(UpgradeAddress::Source(_)) => 4,
            FusCommand::FwUpgrade(UpgradeAddress::SourceAndDestination { .. }) => 8,
            FusCommand::UpdateAuthKey { key } => 1 + key.len(),
            FusCommand::StoreUsrKey { key, iv, .. } => {
                2 + key.len() + if iv.is_some() { USER_KEY_IV_LEN } else { 0 }
            }
            FusCommand::LoadUsrKey(_) | FusCommand::LockUsrKey(_) | FusCommand::UnloadUsrKey(_) => {
                1
            }
            _ => 0,
        }
    }

    /// Value checks shared by the encoders, done before any size check or write.
    fn check(&self) -> Result<()> {
        match *self {
            FusCommand::UpdateAuthKey { key } if key.len() > MAX_AUTH_KEY_LEN => {
                return Err(Error::OutOfRange {
                    what: "FUS_UPDATE_AUTH_KEY key size",
                    value: key.len() as u32,
                    max: MAX_AUTH_KEY_LEN as u32,
                })
            }
            FusCommand::StoreUsrKey { key_type, key, iv } => {
                if key.len() > usize::from(u8::MAX) {
                    return Err(Error::OutOfRange {
                        what: "FUS_STORE_USR_KEY key size",
                        value: key.len() as u32,
                        max: u32::from(u8::MAX),
                    });
                }
                if (key_type == KeyType::Encrypted) != iv.is_some() {
                    return Err(Error::Inconsistent {
                        what: "FUS_STORE_USR_KEY: IV present iff key type is Encrypted",
                    });
                }
            }
            _ => {}
        }
        let len = self.payload_len();
        if len > usize::from(u8::MAX) {
            return Err(Error::OutOfRange {
                what: "system command plen",
                value: len as u32,
                max: u32::from(u8::MAX),
            });
        }
        Ok(())
    }

    /// Writes the payload into `out` and returns its length.
    ///
    /// FUS_UPDATE_AUTH_KEY is written as size + key (AN5185 "up to 65"), not padded to 65
    /// like ST's client; [`FusCommand::parse`] accepts both.
    pub fn encode_payload(&self, out: &mut [u8]) -> Result<usize> {
        self.check()?;
        let len = self.payload_len();
        let mut w = Writer::new(out, len, "FUS command payload")?;
        match *self {
            FusCommand::FwUpgrade(UpgradeAddress::Source(src)) => w.u32_le(src),
            FusCommand::FwUpgrade(UpgradeAddress::SourceAndDestination { src, dst }) => {
                w.u32_le(src);
                w.u32_le(dst);
            }
            FusCommand::UpdateAuthKey { key } => {
                w.u8(key.len() as u8);
                w.put(key);
            }
            FusCommand::StoreUsrKey { key_type, key, iv } => {
                w.u8(key_type.into());
                w.u8(key.len() as u8);
                w.put(key);
                if let Some(iv) = iv {
                    w.put(&iv);
                }
            }
            FusCommand::LoadUsrKey(i) | FusCommand::LockUsrKey(i) | FusCommand::UnloadUsrKey(i) => {
                w.u8(i)
            }
            _ => {}
        }
        w.finish()
    }

    /// Writes the whole system command (type 0x10, opcode, plen, payload) starting at
    /// `out[0]`, i.e. the part after the 8-byte list header. Returns bytes written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        self.check()?;
        // Payload written in place after the 4-byte header: no scratch buffer on CPU2's stack.
        let needed = CMD_HDR_LEN + self.payload_len();
        if out.len() < needed {
            return Err(Error::BufferTooSmall {
                what: "system command",
                needed,
                got: out.len(),
            });
        }
        let n = self.encode_payload(tail_mut(out, CMD_HDR_LEN, "system command")?)?;
        let plen = u8::try_from(n).map_err(|_| Error::OutOfRange {
            what: "system command plen",
            value: n as u32,
            max: 255,
        })?;
        let mut w = Writer::new(out, CMD_HDR_LEN, "system command")?;
        w.u8(PacketType::SysCmd.into());
        w.u16_le(self.opcode().into());
        w.u8(plen);
        w.finish()?;
        Ok(CMD_HDR_LEN + n)
    }

    /// Writes the command at `buf[8..]` of a command buffer, leaving the 8-byte list header
    /// untouched (as ST's client does). Returns the end offset.
    pub fn encode_packet(&self, buf: &mut [u8]) -> Result<usize> {
        let n = self.encode(tail_mut(buf, PACKET_HEADER_LEN, "system command packet")?)?;
        Ok(PACKET_HEADER_LEN + n)
    }
}

/// A FUS command-complete response with its payload decoded per AN5185 Table 12.
///
/// `numcmd` is not part of this view: AN5185 §6.3.4 says the FUS always writes 0xFF (also seen
/// on FUS 1.2 and 0.5.3); MicroPython says "docs say 0xff, but we see 0x01" (fus-clients.md
/// B.2). No client checks it; [`FusResponse::encode`] writes [`crate::tl::NUMCMD_FUS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FusResponse {
    /// FUS_GET_STATE: status byte = state, payload byte 0 = error code (Table 12 length 5).
    /// `error` is `None` when the answer carries no payload (length 4), as a wireless stack's
    /// may.
    GetState {
        /// FUS state (Table 13).
        state: FusState,
        /// Error code (Table 14).
        error: Option<FusError>,
    },
    /// FUS_STORE_USR_KEY: status, then the stored key index (Table 12 length 5).
    StoreUsrKey {
        /// Status.
        status: Status,
        /// Key index assigned by the FUS; `None` if the answer has no payload.
        index: Option<u8>,
    },
    /// Any other opcode: status only (Table 12 length 4). Extra payload bytes are ignored by
    /// [`FusResponse::parse`].
    Status {
        /// Raw opcode echoed by the response (may be unknown).
        opcode: u16,
        /// Status.
        status: Status,
    },
}

impl FusResponse {
    /// Opcode echoed in the response.
    pub fn opcode(&self) -> u16 {
        match *self {
            FusResponse::GetState { .. } => Opcode::FusGetState.into(),
            FusResponse::StoreUsrKey { .. } => Opcode::FusStoreUsrKey.into(),
            FusResponse::Status { opcode, .. } => opcode,
        }
    }

    /// Decodes a parsed command-complete packet.
    pub fn from_cc(cc: &CommandComplete<'_>) -> Self {
        let first = cc.payload.first().copied();
        if cc.opcode == u16::from(Opcode::FusGetState) {
            FusResponse::GetState {
                state: cc.status.into(),
                error: first.map(FusError::from),
            }
        } else if cc.opcode == u16::from(Opcode::FusStoreUsrKey) {
            FusResponse::StoreUsrKey {
                status: cc.status.into(),
                index: first,
            }
        } else {
            FusResponse::Status {
                opcode: cc.opcode,
                status: cc.status.into(),
            }
        }
    }

    /// Parses a response from the start of the command buffer (offset 0, fus-clients.md B.2).
    pub fn parse(buf: &[u8]) -> Result<Self> {
        Ok(Self::from_cc(&CommandComplete::parse(buf)?))
    }

    /// Writes the response at `out[0]` (0x11, 0x0E, plen, 0xFF, opcode, status, payload) and
    /// returns its length (at most 8, within the 16-byte buffers of ST's client).
    ///
    /// A `Status` variant carrying the GET_STATE or STORE_USR_KEY opcode is refused
    /// ([`Error::Inconsistent`]): it would not decode back to itself.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize> {
        let (status, extra) = match *self {
            FusResponse::GetState { state, error } => (u8::from(state), error.map(u8::from)),
            FusResponse::StoreUsrKey { status, index } => (u8::from(status), index),
            FusResponse::Status { opcode, status } => {
                if opcode == u16::from(Opcode::FusGetState)
                    || opcode == u16::from(Opcode::FusStoreUsrKey)
                {
                    return Err(Error::Inconsistent {
                        what: "FusResponse::Status used for GET_STATE/STORE_USR_KEY opcode",
                    });
                }
                (u8::from(status), None)
            }
        };
        let extra_buf = [extra.unwrap_or(0)];
        let payload: &[u8] = if extra.is_some() { &extra_buf } else { &[] };
        CommandComplete {
            numcmd: crate::tl::NUMCMD_FUS,
            opcode: self.opcode(),
            status,
            payload,
        }
        .encode(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn opcode_values() {
        // AN5185 Table 11 and fus-clients.md B.1.
        let table = [
            (Opcode::FusGetState, 0xFC52),
            (Opcode::FusFwUpgrade, 0xFC54),
            (Opcode::FusFwDelete, 0xFC55),
            (Opcode::FusUpdateAuthKey, 0xFC56),
            (Opcode::FusLockAuthKey, 0xFC57),
            (Opcode::FusStoreUsrKey, 0xFC58),
            (Opcode::FusLoadUsrKey, 0xFC59),
            (Opcode::FusStartWs, 0xFC5A),
            (Opcode::FusFwPurge, 0xFC5B),
            (Opcode::FusLockUsrKey, 0xFC5D),
            (Opcode::FusUnloadUsrKey, 0xFC5E),
            (Opcode::FusActivateAntirollback, 0xFC5F),
            (Opcode::FlashEraseActivity, 0xFC69),
            (Opcode::Mac802154Init, 0xFC6E),
            (Opcode::Reinit, 0xFC6F),
            (Opcode::ExtpaConfig, 0xFC72),
            (Opcode::SetFlashActivityControl, 0xFC73),
            (Opcode::Config, 0xFC75),
            (Opcode::Mac802154Deinit, 0xFC78),
            (Opcode::SetSystemClock, 0xFC79),
        ];
        for (op, v) in table {
            assert_eq!(u16::from(op), v);
            assert_eq!(Opcode::try_from(v).unwrap(), op);
            assert_eq!(opcode_from_ocf(op.ocf()), v);
            assert_eq!(ogf(v), OGF_VENDOR);
        }
        // OCFs are contiguous 0x50..=0x79 ("THE ORDER SHALL NOT BE CHANGED").
        for (i, op) in Opcode::ALL.iter().enumerate() {
            assert_eq!(op.ocf(), 0x50 + i as u16);
        }
        assert_eq!(
            Opcode::ALL.iter().filter(|o| o.is_fus_command()).count(),
            12
        );
        assert!(Opcode::try_from(0xFC00).is_err()); // Table 11 "Reserved"
        assert!(Opcode::try_from(0xFC7A).is_err());
    }

    #[test]
    fn state_ranges() {
        // AN5185 Table 13.
        assert_eq!(FusState::from(0x00), FusState::Idle);
        assert_eq!(FusState::from(0x12), FusState::FwUpgradeOngoing(0x12));
        assert_eq!(FusState::from(0x1E), FusState::FwUpgradeOngoing(0x1E));
        assert_eq!(FusState::from(0x2F), FusState::FusUpgradeOngoing(0x2F));
        assert_eq!(FusState::from(0x30), FusState::ServiceOngoing(0x30));
        assert_eq!(FusState::from(0x0F), FusState::Reserved(0x0F));
        assert_eq!(FusState::from(0x40), FusState::Reserved(0x40));
        assert_eq!(FusState::from(0xFE), FusState::NotRunning);
        assert_eq!(FusState::from(0xFF), FusState::Error);
        assert!(FusState::from(0x10).is_upgrade_ongoing());
        assert!(FusState::from(0x2F).is_upgrade_ongoing());
        assert!(!FusState::from(0x30).is_upgrade_ongoing());
        for v in 0..=255u8 {
            assert_eq!(u8::from(FusState::from(v)), v);
        }
        // Range variants are forced into their range when encoded.
        assert_eq!(u8::from(FusState::FwUpgradeOngoing(0x05)), 0x15);
    }

    #[test]
    fn error_codes() {
        // AN5185 Table 14 / fus-clients.md B.1.
        let table = [
            (0x00, FusError::NoError),
            (0x01, FusError::ImgNotFound),
            (0x02, FusError::ImgCorrupt),
            (0x03, FusError::ImgNotAuthentic),
            (0x04, FusError::ImgNotEnoughSpace),
            (0x05, FusError::ImageUsrAbort),
            (0x06, FusError::ImageEraseError),
            (0x07, FusError::ImageWriteError),
            (0x08, FusError::AuthTagStNotFound),
            (0x09, FusError::AuthTagCustNotFound),
            (0x0A, FusError::AuthKeyLocked),
            (0x11, FusError::FwRollbackError),
            (0x12, FusError::Busy),
            (0x13, FusError::InvalidCksOperation),
            (0xFE, FusError::NotRunning),
            (0xFF, FusError::ErrUnknown),
        ];
        for (v, e) in table {
            assert_eq!(FusError::from(v), e);
            assert_eq!(u8::from(e), v);
        }
        assert_eq!(FusError::from(0x15), FusError::Other(0x15));
        for v in 0..=255u8 {
            assert_eq!(u8::from(FusError::from(v)), v);
            assert_eq!(u8::from(Status::from(v)), v);
        }
    }

    #[test]
    fn status_values() {
        // Table 12 + SHCI_CmdStatus_t (fus-clients.md B.1).
        assert_eq!(Status::from(0x00), Status::Success);
        assert_eq!(Status::from(0x01), Status::Fail);
        assert_eq!(Status::from(0x07), Status::MemoryCapacityExceeded);
        assert_eq!(Status::from(0x11), Status::UnsupportedFeature);
        assert_eq!(Status::from(0x12), Status::InvalidHciCmdParams);
        assert_eq!(Status::from(0x42), Status::InvalidParams);
        assert_eq!(Status::from(0x92), Status::InvalidParamsV2);
        assert_eq!(Status::from(0xFF), Status::FusCmdNotSupported);
    }

    #[test]
    fn key_types_and_constants() {
        assert_eq!(KeyType::try_from(3).unwrap(), KeyType::Encrypted);
        assert_eq!(
            KeyType::try_from(4),
            Err(Error::UnknownValue {
                what: "user key type",
                value: 4
            })
        );
        assert_eq!(USER_KEY_IV_SUFFIX, [0, 0, 0, 2]);
        assert_eq!(MAX_USER_KEYS, 100);
    }

    #[test]
    fn encode_rejects_inconsistent_store_key() {
        let c = FusCommand::StoreUsrKey {
            key_type: KeyType::Simple,
            key: &[0; 16],
            iv: Some([0; 12]),
        };
        let mut out = [0u8; 64];
        assert!(matches!(
            c.encode(&mut out),
            Err(Error::Inconsistent { .. })
        ));
        let c = FusCommand::UpdateAuthKey { key: &[0; 65] };
        assert!(matches!(c.encode(&mut out), Err(Error::OutOfRange { .. })));
        assert!(matches!(
            FusResponse::Status {
                opcode: 0xFC52,
                status: Status::Success
            }
            .encode(&mut out),
            Err(Error::Inconsistent { .. })
        ));
    }
}
