//! Fuzz-style tests: random byte slices of random lengths go to every parser, and every
//! encoder gets output buffers of every size. Nothing may panic; results are ignored.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use wb_proto::bootloader::{
    CheckedPacket, Command, DfuUpload, OpcodePacket, SizedPacket, SpecialStatus,
};
use wb_proto::fus::{FusCommand, FusResponse, Opcode};
use wb_proto::image::{FooterType, ImageFooter, Magic, SignatureFooter, SignatureSource, Version};
use wb_proto::tables::{
    DeviceInfo, FusDeviceInfo, MemManagerTable, RefTable, SysTable, WsDeviceInfo,
};
use wb_proto::tl::{CommandComplete, ListNode, ReadyEvent, SysCommand, SysEvent};

fn image_footer(word: u32) -> ImageFooter {
    ImageFooter {
        info1: word,
        info2: !word,
        sram2b_kb: 1,
        sram2a_kb: 2,
        footer_type: FooterType::Type2,
        flash_sectors: 3,
        version: Version(word),
        magic: Magic::WirelessStack,
    }
}

/// Calls every parser on `b`.
fn parse_all(b: &[u8]) {
    let _ = SysCommand::parse(b);
    let _ = SysCommand::parse_packet(b);
    if let Ok(c) = SysCommand::parse(b) {
        let _ = FusCommand::parse(&c);
    }
    let _ = CommandComplete::parse(b);
    let _ = FusResponse::parse(b);
    let _ = SysEvent::parse(b);
    let _ = SysEvent::parse_packet(b);
    let _ = ReadyEvent::parse(b);
    let _ = ListNode::parse(b);
    let _ = RefTable::parse(b);
    let _ = SysTable::parse(b);
    let _ = MemManagerTable::parse(b);
    let _ = FusDeviceInfo::parse(b);
    let _ = WsDeviceInfo::parse(b);
    let _ = DeviceInfo::parse(b);
    let _ = ImageFooter::parse(b);
    let _ = ImageFooter::parse_trailing(b);
    let _ = SignatureFooter::parse(b);
    let _ = SignatureFooter::parse_trailing(b);
    let _ = Command::parse_frame(b);
    let _ = OpcodePacket::parse(b);
    let _ = CheckedPacket::parse(b);
    let _ = SizedPacket::parse(b);
    let _ = SpecialStatus::parse(b);
}

/// Byte strings that start like the real thing, so the parsers get past their first checks.
fn shaped_bytes() -> impl Strategy<Value = Vec<u8>> {
    let prefixes: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x10],
        vec![0x11, 0x0E],
        vec![0x12, 0xFF],
        vec![0x12, 0xFF, 0x03, 0x00, 0x92],
        vec![0xB9, 0x56, 0x46, 0xA9],
        vec![0, 0, 0, 0, 0, 0, 0, 0, 0x10],
        vec![0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0xFF],
        vec![0x00, 0x03],
    ];
    (
        prop::sample::select(prefixes),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(mut p, rest)| {
            p.extend(rest);
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..600)) {
        parse_all(&b);
        // Every prefix, to hit each length boundary.
        for n in 0..b.len().min(80) {
            parse_all(&b[..n]);
        }
    }

    #[test]
    fn shaped_bytes_never_panic(b in shaped_bytes()) {
        parse_all(&b);
    }

    #[test]
    fn fus_payloads_never_panic(
        idx in 0..Opcode::ALL.len(),
        payload in prop::collection::vec(any::<u8>(), 0..=255),
    ) {
        // A random u16 almost never hits a FUS opcode: pick real ones.
        let c = SysCommand { opcode: Opcode::ALL[idx].into(), payload: &payload };
        let _ = FusCommand::parse(&c);
        for n in 0..payload.len().min(80) {
            let _ = FusCommand::parse(&SysCommand { opcode: c.opcode, payload: &payload[..n] });
        }
    }

    #[test]
    fn dfu_addresses_never_panic(addr: u32, low: u8) {
        let _ = DfuUpload::from_address(addr);
        let _ = DfuUpload::from_address(0xFFFF_0000 | u32::from(low));
    }

    #[test]
    fn encoders_never_panic_on_small_buffers(
        payload in prop::collection::vec(any::<u8>(), 0..300),
        opcode: u16,
        word: u32,
    ) {
        for size in 0..=(payload.len() + 16).min(320) {
            let mut out = vec![0u8; size];
            let _ = SysCommand { opcode, payload: &payload }.encode(&mut out);
            let _ = SysCommand { opcode, payload: &payload }.encode_packet(&mut out);
            let _ = CommandComplete { numcmd: 0xFF, opcode, status: 0, payload: &payload }
                .encode(&mut out);
            let _ = SysEvent { subevt: opcode, payload: &payload }.encode(&mut out);
            let _ = SysEvent { subevt: opcode, payload: &payload }.encode_packet(&mut out);
            let _ = CheckedPacket::encode(&payload, &mut out);
            let _ = SizedPacket::encode(&payload, &mut out);
            let _ = OpcodePacket { opcode }.encode(&mut out);
            let _ = FusCommand::UpdateAuthKey { key: &payload }.encode(&mut out);
            let _ = RefTable { device_info: word, ..Default::default() }.encode(&mut out);
            let _ = SysTable::default().encode(&mut out);
            let _ = MemManagerTable::default().encode(&mut out);
            let _ = ListNode::empty_at(word).encode(&mut out);
            let _ = FusDeviceInfo::parse(&[0xB9, 0x56, 0x46, 0xA9].repeat(13))
                .map(|t| t.encode(&mut out));
            let _ = WsDeviceInfo::parse(&[0u8; 32]).map(|t| t.encode(&mut out));
            let _ = image_footer(word).encode(&mut out);
            let _ = SignatureFooter { source: SignatureSource::St, size: 64, version: Version(word) }
                .encode(&mut out);
            let _ = FusResponse::GetState { state: 0.into(), error: Some(0.into()) }.encode(&mut out);
            let _ = SpecialStatus { status: 1, detail: Some((0xFF, 3)) }.encode(&mut out);
        }
    }
}

/// Valid packets with one byte changed or cut short: the paths past the first checks.
#[test]
fn mutated_valid_packets_never_panic() {
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    let mut b = [0u8; 300];
    let key = [7u8; 32];
    for c in [
        FusCommand::GetState,
        FusCommand::UpdateAuthKey { key: &key },
        FusCommand::StoreUsrKey {
            key_type: wb_proto::fus::KeyType::Encrypted,
            key: &key,
            iv: Some([1; 12]),
        },
        FusCommand::LoadUsrKey(3),
        FusCommand::FwUpgrade(wb_proto::fus::UpgradeAddress::SourceAndDestination {
            src: 1,
            dst: 2,
        }),
    ] {
        let n = c.encode(&mut b).unwrap();
        seeds.push(b[..n].to_vec());
    }
    let n = ReadyEvent {
        kind: wb_proto::tl::ReadyKind::FusFwRunning,
    }
    .encode(&mut b)
    .unwrap();
    seeds.push(b[..n].to_vec());
    let n = FusResponse::GetState {
        state: 0.into(),
        error: Some(0.into()),
    }
    .encode(&mut b)
    .unwrap();
    seeds.push(b[..n].to_vec());
    let n = CheckedPacket::encode(&[1, 2, 3], &mut b).unwrap();
    seeds.push(b[..n].to_vec());

    for seed in &seeds {
        for i in 0..seed.len() {
            for v in [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF] {
                let mut m = seed.clone();
                m[i] = v;
                parse_all(&m);
            }
            parse_all(&seed[..i]);
        }
    }
}
