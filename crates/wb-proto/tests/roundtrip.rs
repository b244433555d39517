//! Property tests: `parse(encode(x)) == x` for every encodable format, plus exhaustive
//! round trips of the code enums.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use wb_proto::bootloader::{
    CheckedPacket, Command, DfuUpload, OpcodePacket, SizedPacket, SpecialRead, SpecialStatus,
    SpecialWrite,
};
use wb_proto::fus::{
    FusCommand, FusError, FusResponse, FusState, KeyType, Opcode, Status, UpgradeAddress,
    USER_KEY_IV_LEN,
};
use wb_proto::image::{
    FooterType, ImageFooter, Magic, MemorySize, SignatureFooter, SignatureSource, Version,
};
use wb_proto::tables::{
    DeviceInfo, FusDeviceInfo, LastFusState, LastWsState, MemManagerTable, RefTable, SysTable,
    WsDeviceInfo, WsType, DEVICE_INFO_VALID_MAGIC,
};
use wb_proto::tl::{
    CommandComplete, ListNode, PacketType, ReadyEvent, ReadyKind, SysCommand, SysEvent,
    SysEventCode, CMD_PACKET_LEN, PACKET_HEADER_LEN,
};

// ---- exhaustive code-enum round trips ----

#[test]
fn open_enums_are_total_and_lossless() {
    for v in 0..=255u8 {
        assert_eq!(u8::from(FusState::from(v)), v);
        assert_eq!(u8::from(FusError::from(v)), v);
        assert_eq!(u8::from(Status::from(v)), v);
        assert_eq!(u8::from(ReadyKind::from(v)), v);
        assert_eq!(u8::from(LastFusState::from(v)), v);
        assert_eq!(u8::from(LastWsState::from(v)), v);
        assert_eq!(u8::from(WsType::from(v)), v);
        // And the other way round for values produced by From.
        let s = FusState::from(v);
        assert_eq!(FusState::from(u8::from(s)), s);
    }
    for &k in SysEventCode::NAMED {
        assert_eq!(SysEventCode::from(u16::from(k)), k);
    }
    assert_eq!(SysEventCode::from(0x1234), SysEventCode::Other(0x1234));
}

#[test]
fn closed_enums_round_trip() {
    for &op in Opcode::ALL {
        assert_eq!(Opcode::try_from(u16::from(op)).unwrap(), op);
    }
    for &t in PacketType::ALL {
        assert_eq!(PacketType::try_from(u8::from(t)).unwrap(), t);
    }
    for &k in KeyType::ALL {
        assert_eq!(KeyType::try_from(u8::from(k)).unwrap(), k);
    }
    for &m in Magic::ALL {
        assert_eq!(Magic::try_from(u32::from(m)).unwrap(), m);
    }
    for &c in Command::ALL {
        assert_eq!(Command::parse_frame(&c.frame()).unwrap(), c);
    }
    for &d in DfuUpload::ALL {
        assert_eq!(DfuUpload::from_address(d.address()).unwrap(), Some(d));
    }
    for &w in SpecialWrite::ALL {
        assert_eq!(SpecialWrite::from_opcode(w.opcode()), Some(w));
    }
    for &r in SpecialRead::ALL {
        assert_eq!(SpecialRead::try_from(u8::from(r)).unwrap(), r);
    }
    // Every u8/u16 either maps to a variant that maps back, or is rejected.
    for v in 0..=u16::MAX {
        if let Ok(op) = Opcode::try_from(v) {
            assert_eq!(u16::from(op), v);
        }
    }
    for v in 0..=255u8 {
        if let Ok(t) = PacketType::try_from(v) {
            assert_eq!(u8::from(t), v);
        }
        if let Ok(t) = FooterType::try_from(v) {
            assert_eq!(u8::from(t), v);
        }
        if let Ok(t) = SignatureSource::try_from(v) {
            assert_eq!(u8::from(t), v);
        }
        if let Ok(c) = Command::try_from(v) {
            assert_eq!(u8::from(c), v);
        }
    }
}

// ---- strategies ----

fn version() -> impl Strategy<Value = Version> {
    any::<u32>().prop_map(Version)
}

fn memory_size() -> impl Strategy<Value = MemorySize> {
    any::<u32>().prop_map(MemorySize)
}

fn fus_device_info() -> impl Strategy<Value = FusDeviceInfo> {
    (
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()),
        (
            version(),
            version(),
            memory_size(),
            version(),
            memory_size(),
        ),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
            any::<u16>(),
        ),
    )
        .prop_map(
            |(
                (reserved1, lf, lw, ty),
                (safeboot_version, fus_version, fus_memory_size, ws_version, ws_memory_size),
                (ws_ble_info, ws_thread_info, reserved2, uid64, device_id),
            )| FusDeviceInfo {
                reserved1,
                last_fus_state: lf.into(),
                last_ws_state: lw.into(),
                ws_type: ty.into(),
                safeboot_version,
                fus_version,
                fus_memory_size,
                ws_version,
                ws_memory_size,
                ws_ble_info,
                ws_thread_info,
                reserved2,
                uid64,
                device_id,
            },
        )
}

fn ws_device_info() -> impl Strategy<Value = WsDeviceInfo> {
    proptest::array::uniform8(any::<u32>()).prop_map(|w| WsDeviceInfo {
        safeboot_version: Version(w[0]),
        fus_version: Version(w[1]),
        fus_memory_size: MemorySize(w[2]),
        fus_info: w[3],
        ws_version: Version(w[4]),
        ws_memory_size: MemorySize(w[5]),
        info_stack: w[6],
        reserved: w[7],
    })
}

fn image_footer() -> impl Strategy<Value = ImageFooter> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u8>(),
        prop::sample::select(vec![FooterType::Type1, FooterType::Type2]),
        any::<u8>(),
        version(),
        prop::sample::select(vec![
            Magic::WirelessStackLegacy,
            Magic::WirelessStack,
            Magic::Fus,
            Magic::OtherFirmware,
        ]),
    )
        .prop_map(
            |(info1, info2, sram2b_kb, sram2a_kb, footer_type, flash_sectors, version, magic)| {
                // Table 18 ties the two wireless-stack magics to a footer type.
                let footer_type = match magic {
                    Magic::WirelessStackLegacy => FooterType::Type1,
                    Magic::WirelessStack => FooterType::Type2,
                    _ => footer_type,
                };
                ImageFooter {
                    info1,
                    info2,
                    sram2b_kb,
                    sram2a_kb,
                    footer_type,
                    flash_sectors,
                    version,
                    magic,
                }
            },
        )
}

fn upgrade_address() -> impl Strategy<Value = UpgradeAddress> {
    prop_oneof![
        Just(UpgradeAddress::None),
        any::<u32>().prop_map(UpgradeAddress::Source),
        (any::<u32>(), any::<u32>())
            .prop_map(|(src, dst)| UpgradeAddress::SourceAndDestination { src, dst }),
    ]
}

/// Owned description of a FusCommand (the real type borrows its key bytes).
#[derive(Clone, Debug)]
enum Cmd {
    Simple(u8),
    FwUpgrade(UpgradeAddress),
    AuthKey(Vec<u8>),
    StoreKey(KeyType, Vec<u8>, [u8; USER_KEY_IV_LEN]),
    Index(u8, u8),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        (0u8..6).prop_map(Cmd::Simple),
        upgrade_address().prop_map(Cmd::FwUpgrade),
        prop::collection::vec(any::<u8>(), 0..=64).prop_map(Cmd::AuthKey),
        (
            prop::sample::select(KeyType::ALL.to_vec()),
            prop::collection::vec(any::<u8>(), 0..=64),
            any::<[u8; USER_KEY_IV_LEN]>()
        )
            .prop_map(|(t, k, iv)| Cmd::StoreKey(t, k, iv)),
        (0u8..3, any::<u8>()).prop_map(|(w, i)| Cmd::Index(w, i)),
    ]
}

fn as_command(c: &Cmd) -> FusCommand<'_> {
    match c {
        Cmd::Simple(0) => FusCommand::GetState,
        Cmd::Simple(1) => FusCommand::FwDelete,
        Cmd::Simple(2) => FusCommand::LockAuthKey,
        Cmd::Simple(3) => FusCommand::StartWs,
        Cmd::Simple(4) => FusCommand::FwPurge,
        Cmd::Simple(_) => FusCommand::ActivateAntirollback,
        Cmd::FwUpgrade(a) => FusCommand::FwUpgrade(*a),
        Cmd::AuthKey(k) => FusCommand::UpdateAuthKey { key: k },
        Cmd::StoreKey(t, k, iv) => FusCommand::StoreUsrKey {
            key_type: *t,
            key: k,
            iv: (*t == KeyType::Encrypted).then_some(*iv),
        },
        Cmd::Index(0, i) => FusCommand::LoadUsrKey(*i),
        Cmd::Index(1, i) => FusCommand::LockUsrKey(*i),
        Cmd::Index(_, i) => FusCommand::UnloadUsrKey(*i),
    }
}

fn fus_response() -> impl Strategy<Value = FusResponse> {
    prop_oneof![
        (any::<u8>(), proptest::option::of(any::<u8>())).prop_map(|(s, e)| {
            FusResponse::GetState {
                state: s.into(),
                error: e.map(FusError::from),
            }
        }),
        (any::<u8>(), proptest::option::of(any::<u8>())).prop_map(|(s, i)| {
            FusResponse::StoreUsrKey {
                status: s.into(),
                index: i,
            }
        }),
        (
            any::<u16>().prop_filter("GET_STATE/STORE_USR_KEY have their own variants", |o| {
                *o != 0xFC52 && *o != 0xFC58
            }),
            any::<u8>()
        )
            .prop_map(|(opcode, s)| FusResponse::Status {
                opcode,
                status: s.into()
            }),
    ]
}

// ---- round trips ----

proptest! {
    #[test]
    fn sys_command_round_trip(opcode: u16, payload in prop::collection::vec(any::<u8>(), 0..=255)) {
        let c = SysCommand { opcode, payload: &payload };
        let mut buf = [0u8; CMD_PACKET_LEN];
        let n = c.encode(&mut buf).unwrap();
        prop_assert_eq!(n, c.encoded_len());
        prop_assert_eq!(SysCommand::parse(&buf[..n]).unwrap(), c);
        let mut pkt = [0x5Au8; CMD_PACKET_LEN];
        let end = c.encode_packet(&mut pkt).unwrap();
        prop_assert_eq!(end, PACKET_HEADER_LEN + n);
        prop_assert_eq!(&pkt[..PACKET_HEADER_LEN], &[0x5A; PACKET_HEADER_LEN]);
        prop_assert_eq!(SysCommand::parse_packet(&pkt).unwrap(), c);
    }

    #[test]
    fn command_complete_round_trip(
        numcmd: u8, opcode: u16, status: u8,
        payload in prop::collection::vec(any::<u8>(), 0..=251),
    ) {
        let cc = CommandComplete { numcmd, opcode, status, payload: &payload };
        let mut buf = [0u8; 300];
        let n = cc.encode(&mut buf).unwrap();
        prop_assert_eq!(n, cc.encoded_len());
        prop_assert_eq!(CommandComplete::parse(&buf[..n]).unwrap(), cc);
    }

    #[test]
    fn sys_event_round_trip(subevt: u16, payload in prop::collection::vec(any::<u8>(), 0..=253)) {
        let ev = SysEvent { subevt, payload: &payload };
        let mut buf = [0u8; 300];
        let n = ev.encode(&mut buf).unwrap();
        prop_assert_eq!(SysEvent::parse(&buf[..n]).unwrap(), ev);
        let end = ev.encode_packet(&mut buf).unwrap();
        prop_assert_eq!(SysEvent::parse_packet(&buf[..end]).unwrap(), ev);
    }

    #[test]
    fn ready_event_round_trip(kind: u8) {
        let r = ReadyEvent { kind: kind.into() };
        let mut buf = [0u8; 16];
        let n = r.encode(&mut buf).unwrap();
        prop_assert_eq!(n, ReadyEvent::LEN);
        prop_assert_eq!(ReadyEvent::parse(&buf[..n]).unwrap(), r);
        r.encode_packet(&mut buf).unwrap();
        prop_assert_eq!(ReadyEvent::from_event(&SysEvent::parse_packet(&buf).unwrap()).unwrap(), r);
    }

    #[test]
    fn fus_command_round_trip(c in cmd()) {
        let c = as_command(&c);
        let mut buf = [0u8; CMD_PACKET_LEN];
        let end = c.encode_packet(&mut buf).unwrap();
        prop_assert_eq!(end, PACKET_HEADER_LEN + 4 + c.payload_len());
        let sys = SysCommand::parse_packet(&buf).unwrap();
        prop_assert_eq!(sys.opcode, u16::from(c.opcode()));
        prop_assert_eq!(FusCommand::parse(&sys).unwrap(), c);
    }

    #[test]
    fn fus_response_round_trip(r in fus_response()) {
        let mut buf = [0u8; 16];
        let n = r.encode(&mut buf).unwrap();
        prop_assert!(n <= 8);
        prop_assert_eq!(FusResponse::parse(&buf[..n]).unwrap(), r);
    }

    #[test]
    fn version_round_trip(major: u8, minor: u8, sub: u8, branch in 0u8..16, build in 0u8..16) {
        let v = Version::new(major, minor, sub, branch, build).unwrap();
        prop_assert_eq!((v.major(), v.minor(), v.sub(), v.branch(), v.build()),
                        (major, minor, sub, branch, build));
        prop_assert_eq!(Version::from(u32::from(v)), v);
    }

    #[test]
    fn version_word_round_trip(w: u32) {
        let v = Version(w);
        prop_assert_eq!(
            Version::new(v.major(), v.minor(), v.sub(), v.branch(), v.build()).unwrap(),
            v
        );
    }

    #[test]
    fn memory_size_round_trip(a: u8, b: u8, c: u8, d: u8) {
        let m = MemorySize::new(a, b, c, d);
        prop_assert_eq!((m.sram2b_kb(), m.sram2a_kb(), m.reserved(), m.flash_sectors()), (a, b, c, d));
        prop_assert_eq!(MemorySize::from(u32::from(m)), m);
    }

    #[test]
    fn ref_table_round_trip(w in proptest::array::uniform10(any::<u32>())) {
        let t = RefTable {
            device_info: w[0], ble: w[1], thread: w[2], sys: w[3], mem_manager: w[4],
            traces: w[5], mac_802_15_4: w[6], zigbee: w[7], lld_tests: w[8], ble_lld: w[9],
        };
        let mut b = [0u8; RefTable::LEN];
        prop_assert_eq!(t.encode(&mut b).unwrap(), RefTable::LEN);
        prop_assert_eq!(RefTable::parse(&b).unwrap(), t);
        // Field order is the documented pointer order.
        prop_assert_eq!(&b[RefTable::OFF_SYS..RefTable::OFF_SYS + 4], &w[3].to_le_bytes());
    }

    #[test]
    fn small_tables_round_trip(w in proptest::array::uniform7(any::<u32>())) {
        let s = SysTable { cmd_buffer: w[0], sys_queue: w[1] };
        let mut b = [0u8; 8];
        s.encode(&mut b).unwrap();
        prop_assert_eq!(SysTable::parse(&b).unwrap(), s);

        let l = ListNode { next: w[2], prev: w[3] };
        l.encode(&mut b).unwrap();
        prop_assert_eq!(ListNode::parse(&b).unwrap(), l);

        let m = MemManagerTable {
            spare_ble_buffer: w[0], spare_sys_buffer: w[1], ble_pool: w[2], ble_pool_size: w[3],
            evt_free_buffer_queue: w[4], traces_evt_pool: w[5], traces_pool_size: w[6],
        };
        let mut b = [0u8; MemManagerTable::LEN];
        m.encode(&mut b).unwrap();
        prop_assert_eq!(MemManagerTable::parse(&b).unwrap(), m);
    }

    #[test]
    fn fus_device_info_round_trip(t in fus_device_info()) {
        let mut b = [0u8; FusDeviceInfo::C_SIZEOF];
        prop_assert_eq!(t.encode(&mut b).unwrap(), FusDeviceInfo::ENCODED_LEN);
        prop_assert_eq!(FusDeviceInfo::parse(&b).unwrap(), t);
        prop_assert_eq!(DeviceInfo::parse(&b).unwrap(), DeviceInfo::Fus(t));
        prop_assert_eq!(
            u32::from_le_bytes(b[FusDeviceInfo::OFF_FUS_VERSION..][..4].try_into().unwrap()),
            t.fus_version.0
        );
    }

    #[test]
    fn ws_device_info_round_trip(t in ws_device_info()) {
        let mut b = [0u8; WsDeviceInfo::LEN];
        prop_assert_eq!(t.encode(&mut b).unwrap(), WsDeviceInfo::LEN);
        prop_assert_eq!(WsDeviceInfo::parse(&b).unwrap(), t);
        let d = DeviceInfo::WirelessStack(t);
        if t.safeboot_version.0 == DEVICE_INFO_VALID_MAGIC {
            prop_assert!(d.encode(&mut b).is_err());
        } else {
            d.encode(&mut b).unwrap();
            prop_assert_eq!(DeviceInfo::parse(&b).unwrap(), d);
        }
    }

    #[test]
    fn image_footer_round_trip(f in image_footer(), nvm: u8) {
        let mut f = f;
        f.set_nvm_section_size(nvm);
        prop_assert_eq!(f.nvm_section_size(), nvm);
        let mut b = [0u8; ImageFooter::LEN];
        prop_assert_eq!(f.encode(&mut b).unwrap(), ImageFooter::LEN);
        prop_assert_eq!(ImageFooter::parse(&b).unwrap(), f);
        prop_assert_eq!(ImageFooter::parse_trailing(&b).unwrap(), f);
    }

    #[test]
    fn signature_footer_round_trip(st: bool, size: u8, v in version()) {
        let f = SignatureFooter {
            source: if st { SignatureSource::St } else { SignatureSource::Customer },
            size,
            version: v,
        };
        let mut b = [0u8; SignatureFooter::LEN];
        f.encode(&mut b).unwrap();
        prop_assert_eq!(SignatureFooter::parse(&b).unwrap(), f);
        prop_assert_eq!(SignatureFooter::parse_trailing(&b).unwrap(), f);
    }

    #[test]
    fn bootloader_packets_round_trip(
        opcode: u16,
        payload in prop::collection::vec(any::<u8>(), 0..=1024),
        status: u8,
        detail in proptest::option::of(any::<(u8, u8)>()),
    ) {
        let mut b = vec![0u8; 1100];
        let p = OpcodePacket { opcode };
        let n = p.encode(&mut b).unwrap();
        prop_assert_eq!(OpcodePacket::parse(&b[..n]).unwrap(), p);

        let n = CheckedPacket::encode(&payload, &mut b).unwrap();
        prop_assert_eq!(n, CheckedPacket::encoded_len(payload.len()));
        prop_assert_eq!(CheckedPacket::parse(&b[..n]).unwrap(), &payload[..]);
        // The checksum makes the XOR of the whole packet zero (AN3155).
        prop_assert_eq!(wb_proto::bootloader::xor(&b[..n]), 0);

        let n = SizedPacket::encode(&payload, &mut b).unwrap();
        prop_assert_eq!(SizedPacket::parse(&b[..n]).unwrap(), &payload[..]);

        let s = SpecialStatus { status, detail };
        let n = s.encode(&mut b).unwrap();
        prop_assert_eq!(SpecialStatus::parse(&b[..n]).unwrap(), s);
    }
}
