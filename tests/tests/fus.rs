//! The FUS firmware on CPU2 of a virgin device, driven through a debug probe the way
//! STM32CubeProgrammer drives it over SWD (tests/src/probe.rs).

use wb_periph::flash::FlashOpKind;
use wb_proto::fus::{FusError, FusState};
use wb_proto::layout::{self, tables};
use wb_proto::tables::{DeviceInfo, FusDeviceInfo};
use wb_tests::probe::{self, poll, Probe, ProbeError, MS};

#[test]
fn virgin_device_activates_the_fus() -> Result<(), ProbeError> {
    let mut p = probe::virgin();
    assert_eq!(p.boot_cpu2()?, Some(0x01), "READY: FUS running");
    // Once: no second event.
    p.run(20 * MS)?;
    assert_eq!(p.take_event()?, None);
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
    let r = p.command(0xFC52, &[], 10 * MS)?.expect("answer");
    assert_eq!(&r[..8], &[0x11, 0x0E, 0x05, 0xFF, 0x52, 0xFC, 0x00, 0x00]);
    assert_eq!(&r[8..16], &r[..8]);
    // Option bytes as shipped.
    assert_eq!(p.options(), (0xF4, layout::FUS_SRRVR));
    Ok(())
}

#[test]
fn no_reference_table_means_no_communication() -> Result<(), ProbeError> {
    let mut p = probe::virgin();
    // IPCCDBA = 0 but the device-info/system pointers are garbage outside SRAM2a.
    p.setup_tables()?;
    p.write(tables::REF_TABLE + 0x0C, 0x1000_0000)?;
    p.write(0x5800_0050, 1 << 20)?;
    p.write(0x5800_040C, 1 << 15)?;
    p.run(50 * MS)?;
    assert_eq!(
        p.take_event()?,
        None,
        "no READY without a usable system table"
    );
    assert!(p.readies.is_empty());
    Ok(())
}

#[test]
fn garbage_commands_get_an_error_answer_and_change_nothing() -> Result<(), ProbeError> {
    let mut p = probe::virgin();
    p.boot_cpu2()?;
    // Unknown opcode, reserved opcode, not-yet-supported commands: status FAIL (0x01).
    for op in [
        0xFC00u16, 0xFC50, 0xFC53, 0xFC5C, 0xFC60, 0x1234, 0xFC57, 0xFC5F,
    ] {
        let r = p.command(op, &[], 10 * MS)?.expect("answer");
        assert_eq!(r[0..3], [0x11, 0x0E, 0x04]);
        assert_eq!(u16::from_le_bytes([r[4], r[5]]), op);
        assert_eq!(r[6], 0x01, "opcode {op:#06x}");
    }
    // A known command with a wrong length: INVALID_HCI_CMD_PARAMS.
    let r = p.command(0xFC52, &[1, 2, 3], 10 * MS)?.expect("answer");
    assert_eq!(r[6], 0x12);
    let r = p.command(0xFC54, &[1, 2], 10 * MS)?.expect("answer");
    assert_eq!(r[6], 0x12);
    // Not a command packet at all, and a length beyond the buffer.
    let mut junk = vec![0u8; 8];
    junk.extend_from_slice(&[0x77, 0x52, 0xFC, 0x00]);
    assert_eq!(p.raw_command(&junk, 10 * MS)?.expect("answer")[6], 0x01);
    let mut long = vec![0u8; 8];
    long.extend_from_slice(&[0x10, 0x52, 0xFC, 0xFF]);
    long.extend_from_slice(&[0xAA; 255]);
    assert_eq!(p.raw_command(&long, 10 * MS)?.expect("answer")[6], 0x12);
    // Still idle, nothing changed.
    assert_eq!(p.get_state()?, Some((0, 0)));
    assert_eq!(p.options(), (0xF4, layout::FUS_SRRVR));
    Ok(())
}

#[test]
fn upgrade_without_an_image_reports_not_found() -> Result<(), ProbeError> {
    let mut p = probe::virgin();
    p.boot_cpu2()?;
    let r = p.command(0xFC54, &[], 10 * MS)?.expect("answer");
    assert_eq!(r[6], 0x00, "operation started");
    let (state, error) = poll(&mut p, 5000 * MS)?.expect("FUS answers");
    assert_eq!(FusState::from(state), FusState::Error);
    assert_eq!(FusError::from(error), FusError::ImgNotFound);
    // Reported once; then idle again.
    assert_eq!(p.get_state()?, Some((0, 0)));
    // Delete with no stack: IMG_NOT_FOUND too (AN5185 §2.2).
    assert_eq!(p.command(0xFC55, &[], 10 * MS)?.expect("answer")[6], 0x00);
    assert_eq!(p.get_state()?, Some((0xFF, 0x01)));
    Ok(())
}

use wb_firmware::images::{
    download_address, test_st_keys, Stack, CUSTOMER_SIGNING_PEM, WS_1_0_0, WS_1_1_0,
};
use wb_image::wb_proto::image::FooterType;
use wb_image::{BuildOptions, StKeys};
use wb_machine::ResetCause;

const FUS_GET_STATE: u16 = 0xFC52;
const FUS_FW_UPGRADE: u16 = 0xFC54;
const FUS_FW_DELETE: u16 = 0xFC55;
const FUS_START_WS: u16 = 0xFC5A;

/// A virgin device with the FUS running and `image` written at its AN5185 download address.
fn with_image(image: &[u8]) -> Result<(Probe, u32), ProbeError> {
    let mut p = probe::virgin();
    assert_eq!(p.boot_cpu2()?, Some(0x01));
    let at = download_address(0xF4, image.len());
    assert!(p.m.poke(at, image));
    Ok((p, at))
}

fn upgrade(p: &mut Probe) -> Result<Option<(u8, u8)>, ProbeError> {
    let r = p.command(FUS_FW_UPGRADE, &[], 10 * MS)?.expect("answer");
    assert_eq!(r[6], 0x00, "install started");
    poll(p, 20_000 * MS)
}

fn flash(p: &Probe, addr: u32, len: usize) -> Vec<u8> {
    p.m.peek(addr, len).unwrap().to_vec()
}

fn erased(p: &Probe, from: u32, to: u32) -> bool {
    flash(p, from, (to - from) as usize)
        .iter()
        .all(|&b| b == 0xFF)
}

/// The stack `s` is installed where it is linked, with the option bytes that go with it.
fn assert_installed(p: &Probe, s: &Stack, sbrv_fus: bool) {
    let page = (s.link_address - layout::FLASH_BASE) / layout::PAGE_SIZE;
    let sbrv = if sbrv_fus {
        layout::FUS_SBRV
    } else {
        layout::sbrv_for(s.link_address)
    };
    let want = layout::srrvr(sbrv, s.sram2a_kb.max(4), s.sram2b_kb.max(8));
    assert_eq!(p.options(), (page, want), "SFR, SRRVR for {:?}", s.version);
    assert_eq!(
        flash(p, s.link_address, s.len as usize),
        s.payload(),
        "stack in place"
    );
}

/// Two FUS_GET_STATE to the running stack: the first is answered "not supported", the
/// second sends the device back to the FUS.
fn back_to_fus(p: &mut Probe) -> Result<(), ProbeError> {
    let r = p
        .command(FUS_GET_STATE, &[], 10 * MS)?
        .expect("stack answers");
    assert_eq!((r[6], r[7]), (0xFF, 0xFE));
    assert_eq!(
        p.command(FUS_GET_STATE, &[], 10 * MS)?,
        None,
        "no answer: reset"
    );
    assert!(p.wait_reset(500 * MS)?, "no reset");
    assert_eq!(p.boot_cpu2()?, Some(0x01), "FUS runs again");
    Ok(())
}

#[test]
fn install_start_upgrade_with_relocation_and_delete() -> Result<(), ProbeError> {
    let img = WS_1_0_0.image();
    let (mut p, at) = with_image(&img)?;
    assert_eq!(p.get_state()?, Some((0, 0)));
    assert_eq!(upgrade(&mut p)?, None, "the stack announced itself");
    assert_eq!(p.readies.last(), Some(&0x00));
    assert_installed(&p, &WS_1_0_0, false);
    assert!(erased(&p, at, WS_1_0_0.link_address), "shadow copy erased");
    // The stack's device information table.
    assert_eq!(
        p.m.read_u32(tables::DEVICE_INFO + 0x10),
        Some(WS_1_0_0.version.0)
    );

    back_to_fus(&mut p)?;
    assert_installed(&p, &WS_1_0_0, true);
    let raw =
        p.m.peek(tables::DEVICE_INFO, FusDeviceInfo::ENCODED_LEN)
            .unwrap();
    let DeviceInfo::Fus(info) = DeviceInfo::parse(raw).unwrap() else {
        panic!("FUS layout expected");
    };
    assert_eq!(info.ws_version, WS_1_0_0.version);
    assert_eq!(p.get_state()?, Some((0, 0)));

    // FUS_START_WS: the stack runs again.
    assert_eq!(
        p.command(FUS_START_WS, &[], 10 * MS)?.expect("answer")[6],
        0x00
    );
    assert!(p.wait_reset(500 * MS)?, "no reset");
    assert_eq!(p.boot_cpu2()?, Some(0x00));
    assert_installed(&p, &WS_1_0_0, false);
    back_to_fus(&mut p)?;

    // Upgrade to the larger 1.1.0, downloaded below the installed stack (AN5185 address):
    // moved up to just below the FUS.
    let img2 = WS_1_1_0.image();
    let at2 = download_address(0xF0, img2.len());
    assert!(p.m.poke(at2, &img2));
    assert_eq!(upgrade(&mut p)?, None);
    assert_installed(&p, &WS_1_1_0, false);
    assert!(at2 < WS_1_1_0.link_address, "relocated upwards");
    assert!(erased(&p, at2, WS_1_1_0.link_address), "shadow copy erased");
    assert_eq!(
        p.m.read_u32(tables::DEVICE_INFO + 0x10),
        Some(WS_1_1_0.version.0)
    );

    // Delete, then delete again.
    back_to_fus(&mut p)?;
    assert_eq!(
        p.command(FUS_FW_DELETE, &[], 10 * MS)?.expect("answer")[6],
        0x00
    );
    assert_eq!(poll(&mut p, 10_000 * MS)?, Some((0, 0)));
    assert_eq!(p.options(), (0xF4, layout::FUS_SRRVR));
    assert!(
        erased(&p, WS_1_1_0.link_address, layout::FUS_VECTOR),
        "stack erased"
    );
    assert_eq!(
        p.command(FUS_FW_DELETE, &[], 10 * MS)?.expect("answer")[6],
        0x00
    );
    assert_eq!(p.get_state()?, Some((0xFF, FusError::ImgNotFound.into())));
    Ok(())
}

#[test]
fn image_signed_with_another_key_is_not_authentic_and_changes_nothing() -> Result<(), ProbeError> {
    let keys = StKeys {
        signing: wb_image::keys::signing_key_from_pem(CUSTOMER_SIGNING_PEM, "other").unwrap(),
        aes: test_st_keys().aes,
    };
    let img = WS_1_0_0.image_with(&keys);
    let (mut p, at) = with_image(&img)?;
    let before = flash(&p, 0x0800_0000, 0x10_0000);
    assert_eq!(
        upgrade(&mut p)?,
        Some((0xFF, FusError::ImgNotAuthentic.into()))
    );
    assert_eq!(
        flash(&p, 0x0800_0000, 0x10_0000)[..(at - 0x0800_0000) as usize + img.len()],
        before[..(at - 0x0800_0000) as usize + img.len()]
    );
    assert_eq!(p.options(), (0xF4, layout::FUS_SRRVR));
    assert_eq!(p.get_state()?, Some((0, 0)));
    Ok(())
}

#[test]
fn damaged_body_is_corrupted_and_erased() -> Result<(), ProbeError> {
    let mut img = WS_1_0_0.image();
    img[100] ^= 0x10;
    let (mut p, at) = with_image(&img)?;
    assert_eq!(upgrade(&mut p)?, Some((0xFF, FusError::ImgCorrupt.into())));
    assert!(erased(&p, at, at + img.len() as u32), "image erased");
    assert_eq!(p.options(), (0xF4, layout::FUS_SRRVR));
    Ok(())
}

#[test]
fn stack_that_does_not_fit_is_refused() -> Result<(), ProbeError> {
    // A type-2 image with an 8-sector NVM section, loaded where only the stack would fit.
    let opts = BuildOptions {
        footer_type: FooterType::Type2,
        nvm_sectors: 8,
        ..WS_1_0_0.options()
    };
    let img = wb_image::build(&WS_1_0_0.payload(), &opts, &test_st_keys()).unwrap();
    let (mut p, at) = with_image(&img)?;
    assert_eq!(
        upgrade(&mut p)?,
        Some((0xFF, FusError::ImgNotEnoughSpace.into()))
    );
    assert_eq!(flash(&p, at, img.len()), img, "image left as it was");
    assert_eq!(p.options(), (0xF4, layout::FUS_SRRVR));
    Ok(())
}

/// Resets at spread-out points of an install (by flash operation count): the FUS resumes and
/// the install completes, or it ends with a documented error; the FUS always answers.
#[test]
fn resets_during_an_install_resume_or_report() -> Result<(), ProbeError> {
    // A reference run gives the number of flash operations of a whole install.
    let img = WS_1_0_0.image();
    let (mut p, _) = with_image(&img)?;
    assert_eq!(upgrade(&mut p)?, None);
    let total = p.m.flash_log().len();
    assert!(total > 1000, "{total} flash operations");
    let mut completed = 0;
    for k in 0..12 {
        let point = 1 + k * total / 12;
        let (mut p, _) = with_image(&img)?;
        p.command(FUS_FW_UPGRADE, &[], 10 * MS)?.expect("answer");
        let mut cause = ResetCause::Pin;
        while p.m.flash_log().len() < point {
            if !p.cpu2_started()? {
                p.boot_cpu2()?;
            }
            p.run(MS / 2)?;
        }
        if k % 2 == 1 {
            cause = ResetCause::Software;
        }
        p.m.reset(cause);
        let mut outcome = poll(&mut p, 20_000 * MS)?;
        if outcome == Some((0, 0)) {
            // Reset before the request was recorded: it is lost, and sent again (AN5185
            // Table 6: "command resending must result in receiving a FUS response").
            outcome = upgrade(&mut p)?;
        }
        match outcome {
            None => {
                assert_installed(&p, &WS_1_0_0, false);
                completed += 1;
            }
            Some((state, error)) => {
                assert_eq!(state, 0xFF, "reset at op {point}: error state");
                assert!(
                    [FusError::ImgCorrupt, FusError::ImgNotFound].contains(&FusError::from(error)),
                    "reset at op {point}: {error:#x}"
                );
                assert_eq!(p.get_state()?, Some((0, 0)), "FUS answers afterwards");
            }
        }
    }
    assert!(completed >= 8, "{completed} of 12 resumed to the end");
    Ok(())
}

/// Power cuts in the middle of flash operations spread over an install (each one torn,
/// leaving a double-word or a page with a broken ECC): at power-on the FUS resumes from its
/// journal, reading torn records and pages through its ECC NMI handler, and the install
/// completes. (A sweep of 200 points passes too; option-byte programs are left to the fault
/// campaigns: a torn one sends CPU2 to safeboot.)
#[test]
fn power_cuts_during_an_install_resume_to_the_end() -> Result<(), ProbeError> {
    let img = WS_1_0_0.image();
    let (mut p, _) = with_image(&img)?;
    let before = p.m.flash_log().len();
    assert_eq!(upgrade(&mut p)?, None);
    let points = cut_points(&p.m.flash_log()[before..], 4);
    for (k, &seq) in points.iter().enumerate() {
        let (mut p, _) = with_image(&img)?;
        let outcome = upgrade_cut_during(&mut p, seq, k as u64)?;
        assert_eq!(outcome, None, "cut during op {seq}: the stack runs");
        assert_installed(&p, &WS_1_0_0, false);
    }
    Ok(())
}

/// FUS_FW_UPGRADE with the power cut half-way through flash operation `seq` (`seed` decides
/// how it tears), polled to the end; a request lost to the cut (it struck before the FUS
/// recorded it: AN5185 Table 6) is sent again. How the install ended.
fn upgrade_cut_during(p: &mut Probe, seq: u64, seed: u64) -> Result<Option<(u8, u8)>, ProbeError> {
    p.m.arm_power_cut(wb_machine::PowerCut::DuringOp(seq), seed);
    p.command(FUS_FW_UPGRADE, &[], 10 * MS)?.expect("answer");
    let mut outcome = poll(p, 30_000 * MS)?;
    assert_eq!(p.power_cuts, [Some(seq)], "the cut tore operation {seq}");
    if outcome == Some((0, 0)) {
        outcome = upgrade(p)?;
    }
    Ok(outcome)
}

/// `per_kind` flash operations each of: state-record programs, page erases, other programs,
/// spread evenly over `log` (fewer when there are none of a kind; option-byte programs are
/// left out: see above).
fn cut_points(log: &[wb_periph::flash::OpRecord], per_kind: usize) -> Vec<u64> {
    let journal = layout::page_address(layout::FUS_RECORD_PAGES[0])
        ..layout::page_address(layout::FUS_KEY_PAGE);
    let of = |f: &dyn Fn(&wb_periph::flash::OpRecord) -> bool| -> Vec<u64> {
        let v: Vec<u64> = log.iter().filter(|r| f(r)).map(|r| r.seq).collect();
        if v.is_empty() {
            return v; // a delete programs nothing but records
        }
        (0..per_kind)
            .map(|k| v[k * (v.len() - 1) / (per_kind - 1).max(1)])
            .collect()
    };
    [
        of(&|r| r.kind == FlashOpKind::Program && journal.contains(&r.address)),
        of(&|r| r.kind.is_erase()),
        of(&|r| r.kind == FlashOpKind::Program && !journal.contains(&r.address)),
    ]
    .concat()
}

/// Power cuts during an upgrade that relocates the stack (1.0.0 → 1.1.0) and during a
/// delete, each one tearing a record program, an erase or a stack program: the upgrade
/// resumes to the end, the delete too. (Sweeps of 60 upgrade points and of every delete
/// operation pass as well.)
#[test]
fn power_cuts_during_an_upgrade_and_a_delete_resume_to_the_end() -> Result<(), ProbeError> {
    use wb_machine::PowerCut;
    let (mut p, _) = with_image(&WS_1_0_0.image())?;
    assert_eq!(upgrade(&mut p)?, None);
    back_to_fus(&mut p)?;
    let img = WS_1_1_0.image();
    assert!(p.m.poke(download_address(0xF0, img.len()), &img));
    let ready = p.m.snapshot();
    let before = p.m.flash_log().len();
    assert_eq!(upgrade(&mut p)?, None);
    for seq in cut_points(&p.m.flash_log()[before..], 2) {
        p.m.restore(&ready);
        p.power_cuts.clear();
        let outcome = upgrade_cut_during(&mut p, seq, seq)?;
        assert_eq!(outcome, None, "cut during op {seq}: the stack runs");
        assert_installed(&p, &WS_1_1_0, false);
    }

    back_to_fus(&mut p)?;
    let installed = p.m.snapshot();
    let before = p.m.flash_log().len();
    assert_eq!(
        p.command(FUS_FW_DELETE, &[], 10 * MS)?.expect("answer")[6],
        0x00
    );
    assert_eq!(poll(&mut p, 10_000 * MS)?, Some((0, 0)));
    let first = p.m.flash_log()[before].seq;
    for seq in cut_points(&p.m.flash_log()[before..], 3) {
        p.m.restore(&installed);
        p.power_cuts.clear();
        p.m.arm_power_cut(PowerCut::DuringOp(seq), seq);
        assert_eq!(
            p.command(FUS_FW_DELETE, &[], 10 * MS)?.expect("answer")[6],
            0x00
        );
        assert_eq!(
            poll(&mut p, 10_000 * MS)?,
            Some((0, 0)),
            "cut during op {seq}"
        );
        assert_eq!(p.power_cuts, [Some(seq)]);
        if p.options().0 != 0xF4 && seq == first {
            // Cut before the request was recorded: it is lost, and sent again.
            assert_eq!(
                p.command(FUS_FW_DELETE, &[], 10 * MS)?.expect("answer")[6],
                0x00
            );
            assert_eq!(poll(&mut p, 10_000 * MS)?, Some((0, 0)));
        }
        assert_eq!(
            p.options(),
            (0xF4, layout::FUS_SRRVR),
            "cut during op {seq}"
        );
        assert!(
            erased(&p, WS_1_1_0.link_address, layout::FUS_VECTOR),
            "cut during op {seq}: stack erased"
        );
    }
    Ok(())
}
