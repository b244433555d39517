//! `wbemu keys gen` and `wbemu image build|sign|inspect|verify|decrypt` end to end.

use std::path::{Path, PathBuf};

mod common;

use common::{ok, wbemu};

/// Exit code `code`; returns stdout + stderr.
fn exits(code: i32, args: &[&str]) -> String {
    let out = wbemu(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "wbemu {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap()
    )
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(args)).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-image");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn fixtures() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/keys")
        .to_str()
        .unwrap()
        .to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn keys_gen_writes_key_sets_and_never_overwrites() {
    let dir = scratch("keys");
    let d = s(&dir);
    ok(&["keys", "gen", "--out", d]);
    ok(&["keys", "gen", "--out", d, "--customer"]);
    for f in [
        "st-signing-key.pem",
        "st-public-key.pem",
        "st-aes-key.hex",
        "customer-signing-key.pem",
        "customer-public-key.pem",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let before = std::fs::read(dir.join("st-signing-key.pem")).unwrap();
    let err = exits(2, &["keys", "gen", "--out", d]);
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read(dir.join("st-signing-key.pem")).unwrap(),
        before
    );
    ok(&["keys", "gen", "--out", d, "--force", "--aes256"]);
    assert_ne!(
        std::fs::read(dir.join("st-signing-key.pem")).unwrap(),
        before
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("st-aes-key.hex"))
            .unwrap()
            .trim()
            .len(),
        64
    );

    // The fresh keys work end to end.
    let bin = scratch("fresh.bin");
    std::fs::write(&bin, [0xA5u8; 100]).unwrap();
    let img = scratch("fresh.img");
    ok(&[
        "image",
        "build",
        "--kind",
        "fus",
        "--version",
        "2.1.0",
        "--st-key",
        d,
        s(&bin),
        s(&img),
    ]);
    ok(&["image", "sign", "--customer-key", d, s(&img)]);
    ok(&[
        "image",
        "verify",
        s(&img),
        "--st-pub",
        d,
        "--customer-pub",
        d,
    ]);
    let v = json(&["image", "inspect", s(&img), "--json"]);
    assert_eq!(v["image"]["cipher"], "AES-256-CTR");
}

#[test]
fn build_inspect_sign_verify_with_the_fixture_keys() {
    let keys = fixtures();
    let bin = scratch("ws.bin");
    let payload: Vec<u8> = (0..9000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&bin, &payload).unwrap();
    let img = scratch("ws.img");
    let out = json(&[
        "image",
        "build",
        "--kind",
        "ws",
        "--version",
        "1.17.3",
        "--sram2a",
        "8",
        "--sram2b",
        "4",
        "--footer-type",
        "2",
        "--nvm-size",
        "2",
        "--st-key",
        &keys,
        s(&bin),
        s(&img),
        "--json",
    ]);
    assert_eq!(out["payload_bytes"], 9000);
    assert_eq!(out["image"]["magic"], "0xb10c8b99");

    let v = json(&["image", "inspect", s(&img), "--json"]);
    let i = &v["image"];
    assert_eq!(i["magic_name"], "WirelessStack");
    assert_eq!(i["footer_type"], 2);
    assert_eq!(i["version_word"], "0x01110300");
    assert_eq!(i["sram2a_kb"], 8);
    assert_eq!(i["sram2b_kb"], 4);
    assert_eq!(i["nvm_sectors"], 2);
    assert_eq!(i["flash_sectors"], 3);
    assert_eq!(i["start"], 0);
    assert_eq!(i["body_crc_ok"], true);
    assert_eq!(v["st_tag"]["offset"], 9000 + 48);
    assert!(v["customer_tag"].is_null());
    let text = ok(&["image", "inspect", s(&img)]);
    assert!(
        text.contains("WirelessStack") && text.contains("ST tag at"),
        "{text}"
    );

    let st_pub = format!("{keys}/test-st-public-key.pem");
    let cust_pub = format!("{keys}/test-customer-public-key.pem");
    let cust_key = format!("{keys}/test-customer-signing-key.pem");
    assert!(ok(&["image", "verify", s(&img), "--st-pub", &st_pub]).contains("valid"));
    // Customer key required but no customer tag: exit 1 with the FUS error name.
    let out = exits(
        1,
        &[
            "image",
            "verify",
            s(&img),
            "--st-pub",
            &keys,
            "--customer-pub",
            &cust_pub,
        ],
    );
    assert!(out.contains("FUS_AUTH_TAG_CUST_NOTFOUND"), "{out}");

    // Sign to another file, then in place.
    let signed = scratch("ws-signed.img");
    ok(&[
        "image",
        "sign",
        "--customer-key",
        &cust_key,
        s(&img),
        "-o",
        s(&signed),
    ]);
    ok(&[
        "image",
        "verify",
        s(&signed),
        "--st-pub",
        &st_pub,
        "--customer-pub",
        &cust_pub,
    ]);
    exits(
        1,
        &[
            "image",
            "verify",
            s(&img),
            "--st-pub",
            &st_pub,
            "--customer-pub",
            &cust_pub,
        ],
    );
    ok(&["image", "sign", "--customer-key", &cust_key, s(&img)]);
    let v = json(&[
        "image",
        "verify",
        s(&img),
        "--st-pub",
        &st_pub,
        "--customer-pub",
        &cust_pub,
        "--json",
    ]);
    assert_eq!(v["valid"], true);
    assert_eq!(v["customer_verified"], true);

    // The payload decrypts back.
    let back = scratch("ws.back");
    ok(&[
        "image",
        "decrypt",
        s(&img),
        "--st-key",
        &keys,
        "-o",
        s(&back),
    ]);
    assert_eq!(std::fs::read(&back).unwrap(), payload);

    // Damage → the FUS error, as text and JSON.
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[5000] ^= 0xFF;
    let bad = scratch("ws-bad.img");
    std::fs::write(&bad, &bytes).unwrap();
    let out = exits(1, &["image", "verify", s(&bad), "--st-pub", &st_pub]);
    assert!(out.contains("FUS_STATE_IMG_CORRUPTED"), "{out}");
    let out = exits(
        1,
        &["image", "verify", s(&bad), "--st-pub", &st_pub, "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["fus_error"], "FUS_STATE_IMG_CORRUPTED");
    assert_eq!(v["code"], 2);
    // Verified with the customer key as the ST key: not authentic.
    let out = exits(1, &["image", "verify", s(&img), "--st-pub", &cust_pub]);
    assert!(out.contains("FUS_STATE_IMG_NOT_AUTHENTIC"), "{out}");
    // A damaged footer: not found; inspect names the rejected magic.
    let mut bytes = std::fs::read(&img).unwrap();
    bytes[9000 + 30] ^= 1;
    std::fs::write(&bad, &bytes).unwrap();
    let out = exits(1, &["image", "verify", s(&bad), "--st-pub", &st_pub]);
    assert!(out.contains("FUS_STATE_IMG_NOT_FOUND"), "{out}");
    let text = ok(&["image", "inspect", s(&bad)]);
    assert!(text.contains("rejected WirelessStack magic"), "{text}");
}

/// A little-endian ELF32 (ARM) with two loadable segments 8 bytes apart and a bss segment.
fn tiny_elf() -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0");
    for h in [2u16, 40] {
        e.extend_from_slice(&h.to_le_bytes());
    }
    for w in [1u32, 0x0800_0001, 52, 0, 0x0500_0000] {
        e.extend_from_slice(&w.to_le_bytes());
    }
    for h in [52u16, 32, 3, 40, 0, 0] {
        e.extend_from_slice(&h.to_le_bytes());
    }
    let data = 52 + 3 * 32;
    // type, offset, vaddr, paddr, filesz, memsz, flags, align. The second segment's vaddr
    // differs from its paddr (like .data): the paddr places it.
    let phs = [
        [1u32, data, 0x0800_0000, 0x0800_0000, 8, 8, 5, 4],
        [1, data + 8, 0x2000_0000, 0x0800_0010, 4, 4, 6, 4],
        [1, data + 12, 0x2000_0100, 0x2000_0100, 0, 64, 6, 4],
    ];
    for ph in phs {
        for w in ph {
            e.extend_from_slice(&w.to_le_bytes());
        }
    }
    e.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 0xA, 0xB, 0xC, 0xD]);
    e
}

#[test]
fn elf_input_takes_loadable_segments_with_0xff_gaps() {
    let keys = fixtures();
    let elf = scratch("tiny.elf");
    std::fs::write(&elf, tiny_elf()).unwrap();
    let img = scratch("tiny.img");
    ok(&[
        "image",
        "build",
        "--kind",
        "other",
        "--version",
        "0.1.0",
        "--st-key",
        &keys,
        s(&elf),
        s(&img),
    ]);
    let back = scratch("tiny.back");
    ok(&[
        "image",
        "decrypt",
        s(&img),
        "--st-key",
        &keys,
        "-o",
        s(&back),
    ]);
    let mut want = vec![1u8, 2, 3, 4, 5, 6, 7, 8];
    want.extend_from_slice(&[0xFF; 8]);
    want.extend_from_slice(&[0xA, 0xB, 0xC, 0xD]);
    assert_eq!(std::fs::read(&back).unwrap(), want);

    // A truncated ELF is an error naming the file.
    let mut broken = tiny_elf();
    broken.truncate(60);
    std::fs::write(&elf, &broken).unwrap();
    let err = exits(
        2,
        &[
            "image",
            "build",
            "--kind",
            "ws",
            "--version",
            "1.0.0",
            "--st-key",
            &keys,
            s(&elf),
            s(&img),
        ],
    );
    assert!(err.contains("tiny.elf"), "{err}");
}

#[test]
fn usage_and_io_errors_exit_2() {
    let keys = fixtures();
    let bin = scratch("e.bin");
    std::fs::write(&bin, [1u8; 16]).unwrap();
    let img = scratch("e.img");
    let missing = scratch("no-such-dir");
    let err = exits(
        2,
        &[
            "image",
            "build",
            "--kind",
            "ws",
            "--version",
            "1.0.0",
            "--st-key",
            s(&missing),
            s(&bin),
            s(&img),
        ],
    );
    assert!(err.contains("no-such-dir"), "{err}");
    let err = exits(
        2,
        &[
            "image",
            "build",
            "--kind",
            "ws",
            "--version",
            "1.x",
            "--st-key",
            &keys,
            s(&bin),
            s(&img),
        ],
    );
    assert!(err.contains("1.x"), "{err}");
    let err = exits(
        2,
        &[
            "image",
            "build",
            "--kind",
            "ws",
            "--version",
            "1.0.0",
            "--nvm-size",
            "3",
            "--st-key",
            &keys,
            s(&bin),
            s(&img),
        ],
    );
    assert!(err.contains("footer type 2"), "{err}");
    // A public key where the private one is needed.
    let err = exits(
        2,
        &[
            "image",
            "sign",
            "--customer-key",
            &format!("{keys}/test-customer-public-key.pem"),
            s(&bin),
        ],
    );
    assert!(
        err.contains("test-customer-public-key.pem") && err.contains("private"),
        "{err}"
    );
    // Garbage is not an image.
    let err = exits(2, &["image", "inspect", s(&bin)]);
    assert!(
        err.contains("e.bin") && err.contains("no image footer"),
        "{err}"
    );
    let err = exits(2, &["image", "sign", "--customer-key", &keys, s(&bin)]);
    assert!(err.contains("no image found"), "{err}");
    let err = exits(
        2,
        &[
            "image",
            "verify",
            s(&scratch("absent.img")),
            "--st-pub",
            &keys,
        ],
    );
    assert!(err.contains("absent.img"), "{err}");
    // Verify of garbage is a verdict (exit 1), not an I/O error.
    let out = exits(1, &["image", "verify", s(&bin), "--st-pub", &keys]);
    assert!(out.contains("FUS_STATE_IMG_NOT_FOUND"), "{out}");
}

/// The sample stacks the FUS tests install are what `wbemu image build` makes of their ELFs.
#[test]
fn sample_stacks_pack_with_image_build() {
    use wb_firmware::images::{WS_1_0_0, WS_1_1_0};
    let keys = fixtures();
    for (stack, version) in [(WS_1_0_0, "1.0.0.0.1"), (WS_1_1_0, "1.1.0.0.1")] {
        let elf = scratch(&format!("ws-{version}.elf"));
        std::fs::write(&elf, stack.elf).unwrap();
        let img = scratch(&format!("ws-{version}.img"));
        let (a, b) = (stack.sram2a_kb.to_string(), stack.sram2b_kb.to_string());
        let pad = format!("{}K", stack.len / 1024);
        let args = [
            "image",
            "build",
            "--kind",
            "ws",
            "--version",
            version,
            "--sram2a",
            &a,
            "--sram2b",
            &b,
            "--pad-to",
            &pad,
            "--st-key",
            &keys,
            s(&elf),
            s(&img),
        ];
        ok(&args);
        assert!(
            std::fs::read(&img).unwrap() == stack.image(),
            "{version}: CLI image differs from wb_firmware's"
        );
    }
    // A payload larger than --pad-to is refused, naming the file.
    let img = scratch("too-small.img");
    let elf = scratch("ws-big.elf");
    std::fs::write(&elf, WS_1_1_0.elf).unwrap();
    let out = exits(
        2,
        &[
            "image",
            "build",
            "--kind",
            "ws",
            "--version",
            "1.1.0",
            "--pad-to",
            "16K",
            "--st-key",
            &keys,
            s(&elf),
            s(&img),
        ],
    );
    assert!(out.contains("does not fit --pad-to"), "{out}");
    assert!(!img.exists(), "no image written");
}
