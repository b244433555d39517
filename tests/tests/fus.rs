//! The FUS firmware on CPU2 of a virgin device, driven through a debug probe the way
//! STM32CubeProgrammer drives it over SWD (tests/src/probe.rs).

use wb_proto::fus::{FusError, FusState};
use wb_proto::layout::{self, tables};
use wb_proto::tables::{DeviceInfo, FusDeviceInfo};
use wb_tests::probe::{Probe, MS};

#[test]
fn virgin_device_activates_the_fus() {
    let mut p = Probe::virgin();
    assert_eq!(p.boot_cpu2(), Some(0x01), "READY: FUS running");
    // Once: no second event.
    p.run(20 * MS);
    assert_eq!(p.take_event(), None);
    assert_eq!(p.readies, vec![0x01]);
    // CubeProgrammer reads the FUS version at 0x20030030.
    assert_eq!(p.m.read_u32(0x2003_0030), Some(layout::FUS_VERSION.0));
    let raw =
        p.m.peek(tables::DEVICE_INFO, FusDeviceInfo::ENCODED_LEN)
            .unwrap();
    let DeviceInfo::Fus(info) = DeviceInfo::parse(raw).unwrap() else {
        panic!("FUS layout expected");
    };
    assert_eq!(info.fus_version, layout::FUS_VERSION);
    assert_eq!(info.fus_memory_size, layout::FUS_MEMORY_SIZE);
    assert_eq!(info.ws_version.0, 0);
    assert_eq!(info.device_id, layout::DEVICE_ID);
    let uid = p.m.peek(0x1FFF_7580, 8).unwrap();
    assert_eq!(info.uid64, u64::from_le_bytes(uid.try_into().unwrap()));
    // FUS_GET_STATE: idle, no error; response at offset 0 and mirrored at offset 8.
    let r = p.command(0xFC52, &[], 10 * MS).expect("answer");
    assert_eq!(&r[..8], &[0x11, 0x0E, 0x05, 0xFF, 0x52, 0xFC, 0x00, 0x00]);
    assert_eq!(&r[8..16], &r[..8]);
    // Option bytes as shipped.
    assert_eq!(p.options(), (0xF4, layout::FUS_SRRVR));
}

#[test]
fn no_reference_table_means_no_communication() {
    let mut p = Probe::virgin();
    // IPCCDBA = 0 but the device-info/system pointers are garbage outside SRAM2a.
    p.setup_tables();
    p.write(tables::REF_TABLE + 0x0C, 0x1000_0000);
    p.write(0x5800_0050, 1 << 20);
    p.write(0x5800_040C, 1 << 15);
    p.run(50 * MS);
    assert_eq!(
        p.take_event(),
        None,
        "no READY without a usable system table"
    );
    assert!(p.readies.is_empty());
}

#[test]
fn garbage_commands_get_an_error_answer_and_change_nothing() {
    let mut p = Probe::virgin();
    p.boot_cpu2();
    // Unknown opcode, reserved opcode, not-yet-supported commands: status FAIL (0x01).
    for op in [
        0xFC00u16, 0xFC50, 0xFC53, 0xFC5C, 0xFC60, 0x1234, 0xFC57, 0xFC5F,
    ] {
        let r = p.command(op, &[], 10 * MS).expect("answer");
        assert_eq!(r[0..3], [0x11, 0x0E, 0x04]);
        assert_eq!(u16::from_le_bytes([r[4], r[5]]), op);
        assert_eq!(r[6], 0x01, "opcode {op:#06x}");
    }
    // A known command with a wrong length: INVALID_HCI_CMD_PARAMS.
    let r = p.command(0xFC52, &[1, 2, 3], 10 * MS).expect("answer");
    assert_eq!(r[6], 0x12);
    let r = p.command(0xFC54, &[1, 2], 10 * MS).expect("answer");
    assert_eq!(r[6], 0x12);
    // Not a command packet at all, and a length beyond the buffer.
    let mut junk = vec![0u8; 8];
    junk.extend_from_slice(&[0x77, 0x52, 0xFC, 0x00]);
    assert_eq!(p.raw_command(&junk, 10 * MS).expect("answer")[6], 0x01);
    let mut long = vec![0u8; 8];
    long.extend_from_slice(&[0x10, 0x52, 0xFC, 0xFF]);
    long.extend_from_slice(&[0xAA; 255]);
    assert_eq!(p.raw_command(&long, 10 * MS).expect("answer")[6], 0x12);
    // Still idle, nothing changed.
    assert_eq!(p.get_state(), Some((0, 0)));
    assert_eq!(p.options(), (0xF4, layout::FUS_SRRVR));
}

#[test]
fn upgrade_without_an_image_reports_not_found() {
    let mut p = Probe::virgin();
    p.boot_cpu2();
    let r = p.command(0xFC54, &[], 10 * MS).expect("answer");
    assert_eq!(r[6], 0x00, "operation started");
    let (state, error) = p.poll(5000 * MS).expect("FUS answers");
    assert_eq!(FusState::from(state), FusState::Error);
    assert_eq!(FusError::from(error), FusError::ImgNotFound);
    // Reported once; then idle again.
    assert_eq!(p.get_state(), Some((0, 0)));
    // Delete with no stack: IMG_NOT_FOUND too (AN5185 §2.2).
    assert_eq!(p.command(0xFC55, &[], 10 * MS).expect("answer")[6], 0x00);
    assert_eq!(p.get_state(), Some((0xFF, 0x01)));
}
