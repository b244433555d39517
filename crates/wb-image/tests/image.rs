//! Build → inspect → classify round trips, every damage class of docs/image-format.md §6 and
//! the FUS error it gives, golden footer positions (AN5185 Tables 15–17), and fuzz-style
//! inputs that must never panic.

use std::path::Path;

use proptest::prelude::*;
use wb_image::format::{crc32, footer_check, DESCRIPTOR_LEN, TAG_LEN, TRAILER_LEN};
use wb_image::keys::{self, AesKey, StKeys};
use wb_image::wb_proto::fus::FusError;
use wb_image::wb_proto::image::{
    FooterType, ImageFooter, Magic, SignatureFooter, SignatureSource, Version,
};
use wb_image::{
    build, classify, decrypt, inspect, scan, sign_customer, BuildOptions, ImageError, ImageKind,
    Signer, SigningKey, VerifyingKey,
};

fn st_keys() -> StKeys {
    StKeys {
        signing: SigningKey::from_slice(&[0x11; 32]).unwrap(),
        aes: AesKey::Aes128([0x22; 16]),
    }
}

fn customer_key() -> SigningKey {
    SigningKey::from_slice(&[0x33; 32]).unwrap()
}

fn st_pub() -> VerifyingKey {
    *st_keys().signing.verifying_key()
}

fn cust_pub() -> VerifyingKey {
    *customer_key().verifying_key()
}

/// Deterministic non-trivial payload.
fn payload(n: usize) -> Vec<u8> {
    let mut x = 0x1234_5678u32;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn opts() -> BuildOptions {
    BuildOptions {
        sram2a_kb: 8,
        sram2b_kb: 16,
        ..BuildOptions::new(
            ImageKind::WirelessStack,
            Version::new(1, 2, 3, 0, 1).unwrap(),
        )
    }
}

/// A 10 002-byte payload (not a multiple of 4, spans three sectors), ST-signed (built once).
fn image() -> Vec<u8> {
    static IMG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    IMG.get_or_init(|| build(&payload(10_002), &opts(), &st_keys()).unwrap())
        .clone()
}

/// Layout of [`image`]: body 10 004 bytes, then descriptor, footer, ST tag.
const BODY: usize = 10_004;
const DESC: usize = BODY;
const FOOTER: usize = BODY + DESCRIPTOR_LEN;
const ELEMENT_END: usize = BODY + TRAILER_LEN;

fn verdict(img: &[u8]) -> Result<(), FusError> {
    classify(img, &st_pub(), None)
        .map(|_| ())
        .map_err(|e| e.fus_error())
}

fn verdict_cust(img: &[u8]) -> Result<(), FusError> {
    classify(img, &st_pub(), Some(&cust_pub()))
        .map(|_| ())
        .map_err(|e| e.fus_error())
}

fn word(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn put_word(b: &mut [u8], at: usize, w: u32) {
    b[at..at + 4].copy_from_slice(&w.to_le_bytes());
}

#[test]
fn build_inspect_verify_decrypt_round_trip() {
    let img = image();
    assert_eq!(img.len(), ELEMENT_END + TAG_LEN);
    assert_eq!(img.len() % 4, 0);
    // Deterministic: same input, same bytes.
    assert_eq!(img, build(&payload(10_002), &opts(), &st_keys()).unwrap());

    let info = inspect(&img).unwrap();
    let found = info.scan.image.clone().unwrap();
    assert_eq!(found.start, Some(0));
    assert_eq!(found.descriptor_offset, DESC);
    assert_eq!(found.footer_offset(), FOOTER);
    assert_eq!(found.end, ELEMENT_END);
    assert_eq!(found.footer.magic, Magic::WirelessStackLegacy);
    assert_eq!(found.footer.version.triple(), (1, 2, 3));
    assert_eq!(found.footer.sram2a_kb, 8);
    assert_eq!(found.footer.sram2b_kb, 16);
    assert_eq!(found.footer.flash_sectors, 3);
    assert_eq!(found.descriptor.payload_len, 10_002);
    assert_eq!(info.body_crc_ok, Some(true));
    let st = info.scan.st_tag.clone().unwrap();
    assert_eq!(st.offset, ELEMENT_END);
    assert_eq!(st.footer.source, SignatureSource::St);
    assert_eq!(st.footer.version, found.footer.version);
    assert!(info.scan.customer_tag.is_none());
    assert!(info.scan.rejected.is_empty());

    // The body is not the plaintext.
    assert_ne!(&img[..10_002], &payload(10_002)[..]);

    let v = classify(&img, &st_pub(), None).unwrap();
    assert!(!v.customer_verified);
    assert_eq!(
        decrypt(&img, &v.image, &st_keys().aes).unwrap(),
        payload(10_002)
    );

    // Customer signature: appended, verified; signing again replaces it.
    let signed = sign_customer(&img, &customer_key()).unwrap();
    assert_eq!(signed.len(), img.len() + TAG_LEN);
    assert_eq!(&signed[..img.len()], &img[..]);
    let v = classify(&signed, &st_pub(), Some(&cust_pub())).unwrap();
    assert!(v.customer_verified);
    assert_eq!(sign_customer(&signed, &customer_key()).unwrap(), signed);
    // Without a customer key the customer tag is ignored.
    assert!(classify(&signed, &st_pub(), None).is_ok());
}

#[test]
fn footer_type_2_fus_other_and_aes256() {
    let mut o = opts();
    o.footer_type = FooterType::Type2;
    o.nvm_sectors = 4;
    let img = build(&payload(100), &o, &st_keys()).unwrap();
    let f = scan(&img).image.unwrap().footer;
    assert_eq!(f.magic, Magic::WirelessStack);
    assert_eq!(f.nvm_section_size(), 4);
    assert_eq!(verdict(&img), Ok(()));

    o.footer_type = FooterType::Type1;
    assert!(
        build(&payload(100), &o, &st_keys()).is_err(),
        "NVM needs type 2"
    );

    for (kind, magic) in [
        (ImageKind::Fus, Magic::Fus),
        (ImageKind::Other, Magic::OtherFirmware),
    ] {
        let img = build(
            &payload(64),
            &BuildOptions::new(kind, Version::NONE),
            &st_keys(),
        )
        .unwrap();
        assert_eq!(scan(&img).image.unwrap().footer.magic, magic);
        assert_eq!(verdict(&img), Ok(()));
    }

    let keys256 = StKeys {
        signing: st_keys().signing,
        aes: AesKey::Aes256([0x44; 32]),
    };
    let img = build(&payload(5000), &opts(), &keys256).unwrap();
    let v = classify(&img, &st_pub(), None).unwrap();
    assert_eq!(v.image.descriptor.cipher.name(), "AES-256-CTR");
    assert_eq!(
        decrypt(&img, &v.image, &keys256.aes).unwrap(),
        payload(5000)
    );
    // The other key size is refused, a wrong key of the right size fails the plaintext CRC.
    assert!(matches!(
        decrypt(&img, &v.image, &st_keys().aes),
        Err(ImageError::Corrupted { .. })
    ));
    let wrong = AesKey::Aes256([0x45; 32]);
    let e = decrypt(&img, &v.image, &wrong).unwrap_err();
    assert_eq!(e.fus_error(), FusError::ImgCorrupt);
    assert!(e.to_string().contains("plaintext CRC"), "{e}");

    assert!(build(&[], &opts(), &st_keys()).is_err());
    assert!(build(&vec![0; 255 * 4096], &opts(), &st_keys()).is_err());
    // The largest payload fits exactly 255 sectors.
    let max = wb_image::format::MAX_PAYLOAD_LEN;
    let img = build(&vec![0; max], &opts(), &st_keys()).unwrap();
    assert_eq!(scan(&img).image.unwrap().footer.flash_sectors, 255);
}

#[test]
fn golden_footer_positions_follow_an5185() {
    let img = image();
    // Table 15: five words, magic last; wb-proto parses what we wrote.
    let f = ImageFooter::parse(&img[FOOTER..FOOTER + 20]).unwrap();
    assert_eq!(word(&img, FOOTER), 0, "Info1: NVM size 0 for type 1");
    // Info2 = footer check word: CRC-32 of descriptor ‖ footer without Info2.
    let mut covered = img[DESC..FOOTER + 4].to_vec();
    covered.extend_from_slice(&img[FOOTER + 8..ELEMENT_END]);
    assert_eq!(word(&img, FOOTER + 4), crc32(&covered));
    assert_eq!(word(&img, FOOTER + 4), f.info2);
    // Memory word: [31:24] SRAM2b = 16, [23:16] SRAM2a = 8, [15:8] footer type 1 = 0xFF,
    // [7:0] flash = 3 sectors of 4 KiB.
    assert_eq!(word(&img, FOOTER + 8), 0x1008_FF03);
    // Version word: [31:24] major, [23:16] minor, [15:8] sub, [7:4] branch, [3:0] build.
    assert_eq!(word(&img, FOOTER + 12), 0x0102_0301);
    // Magic (Table 18): wireless stack, footer type 1.
    assert_eq!(word(&img, FOOTER + 16), 0x2337_2991);

    // Descriptor: L, cipher 1, nonce, body CRC, plaintext CRC.
    assert_eq!(word(&img, DESC), 10_002);
    assert_eq!(word(&img, DESC + 4), 1);
    assert_eq!(word(&img, DESC + 20), crc32(&img[..BODY]));
    assert_eq!(word(&img, DESC + 24), crc32(&payload(10_002)));
    assert_eq!(footer_check(&img[DESC..ELEMENT_END]), Some(f.info2));

    // Figure 8 / Table 17: reserved, reserved, [15:8] source / [7:0] size, version, magic.
    let t = ELEMENT_END + 64;
    assert_eq!(word(&img, t), 0);
    assert_eq!(word(&img, t + 4), 0);
    assert_eq!(word(&img, t + 8), 0x0000_0040);
    assert_eq!(word(&img, t + 12), 0x0102_0301);
    assert_eq!(word(&img, t + 16), 0xD3A1_2C5E);
    let sf = SignatureFooter::parse(&img[t..t + 20]).unwrap();
    assert_eq!(sf.source, SignatureSource::St);
    assert_eq!(sf.size, 64);

    let signed = sign_customer(&img, &customer_key()).unwrap();
    let c = img.len() + 64;
    assert_eq!(word(&signed, c + 8), 0x0000_0140);
    assert_eq!(word(&signed, c + 16), 0xE2B5_1D4A);

    // Type 2 with NVM 4: Info1 [15:8] = 4, memory word [15:8] = 0x02, magic 0xB10C8B99.
    let mut o = opts();
    o.footer_type = FooterType::Type2;
    o.nvm_sectors = 4;
    let img2 = build(&payload(10_002), &o, &st_keys()).unwrap();
    assert_eq!(word(&img2, FOOTER), 0x0000_0400);
    assert_eq!(word(&img2, FOOTER + 8), 0x1008_0203);
    assert_eq!(word(&img2, FOOTER + 16), 0xB10C_8B99);
}

#[test]
fn damaged_image_footer_or_descriptor_is_not_found() {
    let img = image();
    // Every bit of the 48-byte trailer (descriptor + image footer).
    for at in DESC..ELEMENT_END {
        for bit in 0..8 {
            let mut d = img.clone();
            d[at] ^= 1 << bit;
            assert_eq!(
                verdict(&d),
                Err(FusError::ImgNotFound),
                "bit {bit} of byte {at:#x}"
            );
        }
    }
    // Erased footer (a download cut before its last page was written).
    let mut d = img.clone();
    d[FOOTER..ELEMENT_END].fill(0xFF);
    assert_eq!(verdict(&d), Err(FusError::ImgNotFound));
    // Garbage and an empty/erased area.
    assert_eq!(verdict(&[]), Err(FusError::ImgNotFound));
    assert_eq!(verdict(&vec![0xFF; 8192]), Err(FusError::ImgNotFound));
    let e = classify(&d, &st_pub(), None).unwrap_err();
    assert!(e.to_string().starts_with("FUS_STATE_IMG_NOT_FOUND"), "{e}");
}

#[test]
fn damaged_body_is_corrupted() {
    let img = image();
    for at in [0, 1, 4095, 4096, 5000, BODY - 1] {
        let mut d = img.clone();
        d[at] ^= 0x01;
        assert_eq!(verdict(&d), Err(FusError::ImgCorrupt), "byte {at}");
    }
    // Power loss during install: a page of the body erased, a torn program leaving 0x00s.
    let mut d = img.clone();
    d[4096..8192].fill(0xFF);
    assert_eq!(verdict(&d), Err(FusError::ImgCorrupt));
    let mut d = img.clone();
    d[8192..8200].fill(0x00);
    assert_eq!(verdict(&d), Err(FusError::ImgCorrupt));
    // Erased tail of the body right below an intact descriptor.
    let mut d = img.clone();
    d[BODY - 1000..BODY].fill(0xFF);
    assert_eq!(verdict(&d), Err(FusError::ImgCorrupt));
    // Front truncation: the descriptor says the body is longer than what precedes it.
    assert_eq!(verdict(&img[4096..]), Err(FusError::ImgCorrupt));
    assert_eq!(verdict(&img[4..]), Err(FusError::ImgCorrupt));
    let e = classify(&img[4096..], &st_pub(), None).unwrap_err();
    assert!(e.to_string().contains("precede"), "{e}");
}

#[test]
fn truncated_tail_loses_tags_then_the_footer() {
    let img = image();
    // Any cut inside the ST tag: no tag.
    for cut in [1, 4, 20, 21, 64, TAG_LEN] {
        assert_eq!(
            verdict(&img[..img.len() - cut]),
            Err(FusError::AuthTagStNotFound),
            "cut {cut}"
        );
    }
    // Cut into the image footer: no image.
    assert_eq!(verdict(&img[..ELEMENT_END - 4]), Err(FusError::ImgNotFound));
    // Erased tail instead of cut: same.
    let mut d = img.clone();
    d[ELEMENT_END..].fill(0xFF);
    assert_eq!(verdict(&d), Err(FusError::AuthTagStNotFound));
}

#[test]
fn signature_damage_and_wrong_keys_are_not_authentic() {
    let img = image();
    // Every byte of the 64 signature bytes.
    for at in ELEMENT_END..ELEMENT_END + 64 {
        let mut d = img.clone();
        d[at] ^= 0x80;
        assert_eq!(verdict(&d), Err(FusError::ImgNotAuthentic), "byte {at}");
    }
    // The tag footer's version is signed too.
    let mut d = img.clone();
    d[ELEMENT_END + 64 + 12] ^= 1;
    assert_eq!(verdict(&d), Err(FusError::ImgNotAuthentic));
    // Reserved words and bits of the tag footer are signed as well.
    for at in [
        ELEMENT_END + 64,
        ELEMENT_END + 64 + 7,
        ELEMENT_END + 64 + 10,
        ELEMENT_END + 64 + 11,
    ] {
        let mut d = img.clone();
        d[at] ^= 1;
        assert_eq!(verdict(&d), Err(FusError::ImgNotAuthentic), "byte {at}");
    }
    // A broken tag footer (magic, size, source) is a missing tag.
    for at in [
        ELEMENT_END + 64 + 8,
        ELEMENT_END + 64 + 9,
        ELEMENT_END + 64 + 16,
    ] {
        let mut d = img.clone();
        d[at] ^= 1;
        assert_eq!(verdict(&d), Err(FusError::AuthTagStNotFound), "byte {at}");
    }

    // Signed with another ST key.
    let other = StKeys {
        signing: SigningKey::from_slice(&[0x12; 32]).unwrap(),
        aes: st_keys().aes,
    };
    let forged = build(&payload(10_002), &opts(), &other).unwrap();
    let e = classify(&forged, &st_pub(), None).unwrap_err();
    assert!(matches!(
        e,
        ImageError::NotAuthentic {
            signer: Signer::St,
            ..
        }
    ));
    // Verified with the customer key in the ST role.
    assert_eq!(
        classify(&img, &cust_pub(), None).unwrap_err().fus_error(),
        FusError::ImgNotAuthentic
    );
    // Customer tag made with the wrong customer key.
    let signed = sign_customer(&img, &SigningKey::from_slice(&[0x34; 32]).unwrap()).unwrap();
    let e = classify(&signed, &st_pub(), Some(&cust_pub())).unwrap_err();
    assert!(matches!(
        e,
        ImageError::NotAuthentic {
            signer: Signer::Customer,
            ..
        }
    ));
    // A signature of all zeros is not even an (r, s) pair.
    let mut d = img.clone();
    d[ELEMENT_END..ELEMENT_END + 64].fill(0);
    assert_eq!(verdict(&d), Err(FusError::ImgNotAuthentic));
}

#[test]
fn body_altered_with_its_integrity_words_is_not_authentic() {
    let img = image();
    let mut d = img.clone();
    d[100] ^= 0x5A;
    d[7000] = d[7000].wrapping_add(1);
    // Recompute the body CRC in the descriptor, then the footer check word: every integrity
    // value is consistent again, so only the signature can tell.
    let body_crc = crc32(&d[..BODY]);
    put_word(&mut d, DESC + 20, body_crc);
    let check = footer_check(&d[DESC..ELEMENT_END]).unwrap();
    put_word(&mut d, FOOTER + 4, check);
    let info = inspect(&d).unwrap();
    assert_eq!(info.body_crc_ok, Some(true));
    assert_eq!(verdict(&d), Err(FusError::ImgNotAuthentic));

    // Same with a changed footer field (SRAM2a) and a fixed check word.
    let mut d = img.clone();
    d[FOOTER + 10] = 0x20;
    let check = footer_check(&d[DESC..ELEMENT_END]).unwrap();
    put_word(&mut d, FOOTER + 4, check);
    assert_eq!(verdict(&d), Err(FusError::ImgNotAuthentic));

    // And with a re-signed customer tag: the customer key does not make up for the ST one.
    let signed = sign_customer(&d[..ELEMENT_END], &customer_key()).unwrap();
    let mut with_st = signed[..ELEMENT_END].to_vec();
    with_st.extend_from_slice(&img[ELEMENT_END..]);
    with_st.extend_from_slice(&signed[ELEMENT_END..]);
    assert_eq!(verdict_cust(&with_st), Err(FusError::ImgNotAuthentic));
}

#[test]
fn missing_tags() {
    let img = image();
    assert_eq!(
        verdict(&img[..ELEMENT_END]),
        Err(FusError::AuthTagStNotFound)
    );
    // Customer key required, no customer tag.
    assert_eq!(verdict_cust(&img), Err(FusError::AuthTagCustNotFound));
    // Customer tag but no ST tag: the ST tag is still required.
    let only_cust = sign_customer(&img[..ELEMENT_END], &customer_key()).unwrap();
    assert_eq!(verdict_cust(&only_cust), Err(FusError::AuthTagStNotFound));
    let both = sign_customer(&img, &customer_key()).unwrap();
    assert_eq!(verdict_cust(&both), Ok(()));
    // A damaged customer tag footer: not found.
    let mut d = both.clone();
    let last = d.len() - 1;
    d[last] ^= 1;
    assert_eq!(verdict_cust(&d), Err(FusError::AuthTagCustNotFound));
}

#[test]
fn tags_may_be_anywhere_in_the_area() {
    let img = image();
    // ST tag first, then padding up to a sector, then the image element.
    let mut moved = img[ELEMENT_END..].to_vec();
    moved.resize(4096, 0xFF);
    moved.extend_from_slice(&img[..ELEMENT_END]);
    assert_eq!(verdict(&moved), Ok(()));
    let s = scan(&moved);
    assert_eq!(s.st_tag.unwrap().offset, 0);
    assert_eq!(s.image.unwrap().start, Some(4096));
    // Trailing erased flash after the tags does not matter, nor does a partial last word.
    let mut padded = img.clone();
    padded.extend_from_slice(&[0xFF; 4099]);
    assert_eq!(verdict(&padded), Ok(()));
}

#[test]
fn error_codes_match_table_14() {
    let codes = [
        (
            ImageError::NotFound {
                detail: String::new(),
            },
            0x01,
            "FUS_STATE_IMG_NOT_FOUND",
        ),
        (
            ImageError::Corrupted {
                detail: String::new(),
            },
            0x02,
            "FUS_STATE_IMG_CORRUPTED",
        ),
        (
            ImageError::NotAuthentic {
                signer: Signer::St,
                detail: String::new(),
            },
            0x03,
            "FUS_STATE_IMG_NOT_AUTHENTIC",
        ),
        (ImageError::StTagNotFound, 0x08, "FUS_AUTH_TAG_ST_NOTFOUND"),
        (
            ImageError::CustomerTagNotFound,
            0x09,
            "FUS_AUTH_TAG_CUST_NOTFOUND",
        ),
    ];
    for (e, code, name) in codes {
        assert_eq!(u8::from(e.fus_error()), code);
        assert_eq!(e.fus_name(), name);
        assert!(e.to_string().starts_with(name));
    }
}

#[test]
fn sign_and_inspect_refuse_what_they_cannot_handle() {
    let img = image();
    assert!(matches!(
        sign_customer(&img[..img.len() - 2], &customer_key()),
        Err(wb_image::Error::Layout(_))
    ));
    assert!(matches!(
        sign_customer(&vec![0xFF; 4096], &customer_key()),
        Err(wb_image::Error::NoImage(_))
    ));
    let e = inspect(&[0u8; 7]).unwrap_err();
    assert!(e.to_string().contains("7 bytes"), "{e}");
    // A lone magic word is reported with the reason it was not taken.
    let mut lone = vec![0u8; 64];
    lone[60..].copy_from_slice(&0x3227_9221u32.to_le_bytes());
    let e = inspect(&lone).unwrap_err().to_string();
    assert!(e.contains("Fus magic at offset 0x3c rejected"), "{e}");
    // A customer tag in the middle of the file cannot be replaced.
    let both = sign_customer(&img, &customer_key()).unwrap();
    let mut mid = both.clone();
    mid.extend_from_slice(&[0xFF; 4]);
    assert!(matches!(
        sign_customer(&mid, &customer_key()),
        Err(wb_image::Error::Layout(_))
    ));
}

#[test]
fn key_files_round_trip_and_fixture_keys_work() {
    let k = st_keys().signing;
    let pem = keys::signing_key_to_pem(&k).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(keys::signing_key_from_pem(&pem, "k").unwrap(), k);
    let pubpem = keys::verifying_key_to_pem(k.verifying_key()).unwrap();
    assert!(pubpem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(
        keys::verifying_key_from_pem(&pubpem, "p").unwrap(),
        *k.verifying_key()
    );
    // A private key where a public one is expected: its public half.
    assert_eq!(
        keys::verifying_key_from_pem(&pem, "p").unwrap(),
        *k.verifying_key()
    );
    assert!(keys::signing_key_from_pem(&pubpem, "k").is_err());
    assert!(keys::signing_key_from_pem("garbage", "k").is_err());
    let mangled = pem.replace('A', "B");
    assert!(keys::signing_key_from_pem(&mangled, "k").is_err());

    // AES key files: hex (with whitespace / 0x), raw bytes; anything else is refused.
    let hex = AesKey::Aes128([0xAB; 16]).to_hex();
    assert_eq!(
        AesKey::parse(hex.as_bytes(), "a").unwrap(),
        AesKey::Aes128([0xAB; 16])
    );
    assert_eq!(
        AesKey::parse(format!("0x{}", "cd".repeat(32)).as_bytes(), "a").unwrap(),
        AesKey::Aes256([0xCD; 32])
    );
    assert_eq!(
        AesKey::parse(&[7; 16], "a").unwrap(),
        AesKey::Aes128([7; 16])
    );
    assert!(AesKey::parse(b"abcd", "a").is_err());
    assert!(AesKey::parse(&[0xAB; 20], "a").is_err());

    // The committed test-only fixtures (made by `wbemu keys gen --prefix test-`).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys");
    let st = StKeys::load_dir(&dir).unwrap();
    let st_pub =
        keys::load_verifying_key(&keys::find_key_file(&dir, keys::ST_PUBLIC_KEY).unwrap()).unwrap();
    assert_eq!(st_pub, *st.signing.verifying_key());
    let cust =
        keys::load_signing_key(&keys::find_key_file(&dir, keys::CUSTOMER_SIGNING_KEY).unwrap())
            .unwrap();
    let cust_pub =
        keys::load_verifying_key(&keys::find_key_file(&dir, keys::CUSTOMER_PUBLIC_KEY).unwrap())
            .unwrap();
    let img = build(&payload(3000), &opts(), &st).unwrap();
    let img = sign_customer(&img, &cust).unwrap();
    let v = classify(&img, &st_pub, Some(&cust_pub)).unwrap();
    assert_eq!(decrypt(&img, &v.image, &st.aes).unwrap(), payload(3000));
}

/// openssl reads our PEM files and we read openssl's (skipped when openssl is absent).
#[test]
fn openssl_interoperates() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wb-image-openssl");
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
    };
    let Ok(out) = run(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "sec1.pem",
    ]) else {
        eprintln!("openssl not found: skipped");
        return;
    };
    assert!(out.status.success());
    let sec1 = std::fs::read_to_string(dir.join("sec1.pem")).unwrap();
    let k = keys::signing_key_from_pem(&sec1, "sec1.pem").unwrap();
    assert!(
        run(&["pkcs8", "-topk8", "-nocrypt", "-in", "sec1.pem", "-out", "p8.pem"])
            .unwrap()
            .status
            .success()
    );
    let p8 = std::fs::read_to_string(dir.join("p8.pem")).unwrap();
    assert_eq!(keys::signing_key_from_pem(&p8, "p8.pem").unwrap(), k);
    assert!(
        run(&["ec", "-in", "sec1.pem", "-pubout", "-out", "pub.pem"])
            .unwrap()
            .status
            .success()
    );
    let p = std::fs::read_to_string(dir.join("pub.pem")).unwrap();
    assert_eq!(
        keys::verifying_key_from_pem(&p, "pub.pem").unwrap(),
        *k.verifying_key()
    );

    // Ours, read by openssl; and an openssl signature over the tag digest input verifies.
    std::fs::write(dir.join("ours.pem"), keys::signing_key_to_pem(&k).unwrap()).unwrap();
    let out = run(&["ec", "-in", "ours.pem", "-pubout"]).unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), p);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = inspect(&bytes);
        let _ = classify(&bytes, &st_pub(), Some(&cust_pub()));
        let _ = sign_customer(&bytes, &customer_key());
        let s = scan(&bytes);
        if let Some(img) = &s.image {
            let _ = decrypt(&bytes, img, &st_keys().aes);
        }
    }

    /// Random words with magics and plausible footers sprinkled in.
    #[test]
    fn magic_laden_garbage_never_panics(
        words in proptest::collection::vec(
            prop_oneof![
                any::<u32>(),
                Just(0x2337_2991u32), Just(0xB10C_8B99), Just(0x3227_9221),
                Just(0xD3A1_2C5E), Just(0xE2B5_1D4A), Just(0x4276_9811),
                Just(0x0000_0040), Just(0x0000_0140), Just(0x1008_FF03), Just(1), Just(0),
            ],
            0..200,
        )
    ) {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let _ = inspect(&bytes);
        let _ = classify(&bytes, &st_pub(), None);
        let _ = sign_customer(&bytes, &customer_key());
    }

    /// Any one changed byte of an ST-only image is refused, whatever the byte.
    #[test]
    fn any_single_byte_change_is_refused(
        at in prop_oneof![0usize..(ELEMENT_END + TAG_LEN), DESC..(ELEMENT_END + TAG_LEN)],
        x in 1u8..=255,
    ) {
        let mut d = image();
        d[at] ^= x;
        let e = verdict(&d).unwrap_err();
        let expected: &[FusError] = if at < DESC {
            &[FusError::ImgCorrupt]
        } else if at < ELEMENT_END {
            &[FusError::ImgNotFound]
        } else {
            &[FusError::ImgNotAuthentic, FusError::AuthTagStNotFound]
        };
        prop_assert!(expected.contains(&e), "byte {} ^ {:#x}: {:?}", at, x, e);
    }

    /// Mutated images (several random byte writes, random truncation) never panic.
    #[test]
    fn mutated_images_never_panic(
        edits in proptest::collection::vec((0usize..10_200, any::<u8>()), 0..8),
        cut in 0usize..10_200,
    ) {
        let mut d = sign_customer(&image(), &customer_key()).unwrap();
        for (at, v) in edits {
            if let Some(b) = d.get_mut(at) {
                *b = v;
            }
        }
        let _ = inspect(&d);
        let _ = classify(&d, &st_pub(), Some(&cust_pub()));
        let _ = classify(&d[cut.min(d.len())..], &st_pub(), None);
        let _ = sign_customer(&d, &customer_key());
    }
}
