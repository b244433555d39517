//! Images made from the built firmware with the test-only keys of `fixtures/keys`: the
//! sample wireless stack as signed, encrypted WS images, and the device-resident key block
//! the FUS reads from its key page (docs/fus-layout.md §3).

use wb_image::keys::{signing_key_from_pem, verifying_key_from_pem};
use wb_image::wb_proto::image::Version;
use wb_image::wb_proto::layout::keys as kb;
use wb_image::{AesKey, BuildOptions, ImageKind, StKeys};

const ST_SIGNING_PEM: &str = include_str!("../../../fixtures/keys/test-st-signing-key.pem");
const ST_PUBLIC_PEM: &str = include_str!("../../../fixtures/keys/test-st-public-key.pem");
const ST_AES_HEX: &str = include_str!("../../../fixtures/keys/test-st-aes-key.hex");
/// A second signing key, to make images the device must refuse.
pub const CUSTOMER_SIGNING_PEM: &str =
    include_str!("../../../fixtures/keys/test-customer-signing-key.pem");

/// The test-only ST keys (signing key and body key) of `fixtures/keys`.
pub fn test_st_keys() -> StKeys {
    StKeys {
        signing: signing_key_from_pem(ST_SIGNING_PEM, "test-st-signing-key.pem")
            .expect("committed test key"),
        aes: test_aes_key(),
    }
}

fn test_aes_key() -> AesKey {
    AesKey::parse(ST_AES_HEX.as_bytes(), "test-st-aes-key.hex").expect("committed test key")
}

/// The key block of a device holding the test-only ST keys.
pub fn test_key_block() -> Vec<u8> {
    let public = verifying_key_from_pem(ST_PUBLIC_PEM, "test-st-public-key.pem")
        .expect("committed test key");
    key_block(&test_aes_key(), &public)
}

/// The FUS state record of a device as shipped (docs/fus-layout.md §2): the first of the
/// journal, idle, no stack, no error. Without it the FUS takes its journal for erased by a
/// factory reset and reports FUS_UFB_CORRUPT once.
pub fn shipped_state_record() -> Vec<u8> {
    use wb_image::wb_proto::layout::record as rec;
    let mut w = [0u32; rec::WORDS];
    w[0] = rec::MAGIC;
    w[rec::SEQ] = 1;
    let mut b: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    let crc = wb_image::format::crc32(&b[..rec::SIZE as usize - 4]);
    b[rec::SIZE as usize - 4..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The key page's block: magic, body-key length and key, ST public key (Qx, Qy), CRC-32.
pub fn key_block(aes: &AesKey, public: &wb_image::VerifyingKey) -> Vec<u8> {
    let mut b = vec![0u8; kb::LEN];
    b[..4].copy_from_slice(&kb::MAGIC.to_le_bytes());
    let key = aes.bytes();
    b[kb::OFF_AES_LEN..kb::OFF_AES_LEN + 4].copy_from_slice(&(key.len() as u32).to_le_bytes());
    b[kb::OFF_AES_KEY..kb::OFF_AES_KEY + key.len()].copy_from_slice(key);
    let point = public.to_encoded_point(false);
    b[kb::OFF_PUB_X..kb::OFF_PUB_X + 32].copy_from_slice(point.x().expect("uncompressed"));
    b[kb::OFF_PUB_Y..kb::OFF_PUB_Y + 32].copy_from_slice(point.y().expect("uncompressed"));
    let crc = wb_image::format::crc32(&b[..kb::OFF_CRC]);
    b[kb::OFF_CRC..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// A version of the sample wireless stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stack {
    pub elf: &'static [u8],
    pub version: Version,
    pub sram2a_kb: u8,
    pub sram2b_kb: u8,
    /// Where the FUS installs it (where it is linked).
    pub link_address: u32,
    /// Its size in flash.
    pub len: u32,
}

/// Sample wireless stack 1.0.0: 16 KiB right below the FUS.
pub const WS_1_0_0: Stack = Stack {
    elf: crate::WS_1_0_0,
    version: Version(0x0100_0001),
    sram2a_kb: 4,
    sram2b_kb: 16,
    link_address: 0x080F_0000,
    len: 16 * 1024,
};

/// Sample wireless stack 1.1.0: 132 KiB, so installed lower.
pub const WS_1_1_0: Stack = Stack {
    elf: crate::WS_1_1_0,
    version: Version(0x0101_0001),
    sram2a_kb: 8,
    sram2b_kb: 20,
    link_address: 0x080D_3000,
    len: 132 * 1024,
};

impl Stack {
    /// The stack's payload: its flash contents, padded with 0xFF to its full size so that
    /// the FUS places it where it is linked.
    pub fn payload(&self) -> Vec<u8> {
        let (base, mut payload) = wb_image::elf_payload(self.elf).expect("built stack ELF");
        assert_eq!(
            base, self.link_address,
            "stack linked where the FUS puts it"
        );
        assert!(payload.len() <= self.len as usize, "stack fits its size");
        payload.resize(self.len as usize, 0xFF);
        payload
    }

    /// The image build options for this stack.
    pub fn options(&self) -> BuildOptions {
        BuildOptions {
            sram2a_kb: self.sram2a_kb,
            sram2b_kb: self.sram2b_kb,
            ..BuildOptions::new(ImageKind::WirelessStack, self.version)
        }
    }

    /// Its WS image, encrypted and signed with `keys`.
    pub fn image_with(&self, keys: &StKeys) -> Vec<u8> {
        wb_image::build(&self.payload(), &self.options(), keys).expect("image of a built stack")
    }

    /// Its WS image with the test-only ST keys.
    pub fn image(&self) -> Vec<u8> {
        self.image_with(&test_st_keys())
    }
}

pub use wb_image::wb_proto::layout::download_address;
