//! Building (encrypt + descriptor + image footer + ST tag), customer signing and decryption.

use aes::{Aes128, Aes256};
use ctr::cipher::{KeyIvInit, StreamCipher};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};
use wb_proto::image::{
    FooterType, ImageFooter, Magic, SignatureFooter, SignatureSource, Version, SIGNATURE_LEN,
};

use crate::format::{
    crc32, footer_check, pad4, Descriptor, CHECK_WORD_AT, DESCRIPTOR_LEN, MAX_PAYLOAD_LEN,
    NONCE_LEN, TAG_LEN, TRAILER_LEN,
};
use crate::keys::{AesKey, StKeys};
use crate::scan::{scan, FoundImage};
use crate::{Error, ImageError};

/// What an image holds, which selects its magic (AN5185 Table 18).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageKind {
    /// A wireless stack: 0x23372991 with footer type 1, 0xB10C8B99 with footer type 2.
    WirelessStack,
    /// A FUS image: 0x32279221.
    Fus,
    /// Other firmware: 0x42769811.
    Other,
}

impl ImageKind {
    /// The magic of this kind for a footer type.
    pub fn magic(self, footer_type: FooterType) -> Magic {
        match (self, footer_type) {
            (ImageKind::WirelessStack, FooterType::Type1) => Magic::WirelessStackLegacy,
            (ImageKind::WirelessStack, FooterType::Type2) => Magic::WirelessStack,
            (ImageKind::Fus, _) => Magic::Fus,
            (ImageKind::Other, _) => Magic::OtherFirmware,
        }
    }
}

/// The image footer fields chosen by the builder (the flash size is computed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// Image kind (selects the magic).
    pub kind: ImageKind,
    /// Version word, copied into the image footer and the tags.
    pub version: Version,
    /// Required secure SRAM2a, 1-KiB sectors.
    pub sram2a_kb: u8,
    /// Required secure SRAM2b, 1-KiB sectors.
    pub sram2b_kb: u8,
    /// Footer type (1 = 0xFF, 2 = 0x02).
    pub footer_type: FooterType,
    /// NVM section size (Info1 bits 15:8), 4-KiB sectors; footer type 2 only.
    pub nvm_sectors: u8,
}

impl BuildOptions {
    /// Footer type 1, no SRAM, no NVM section.
    pub fn new(kind: ImageKind, version: Version) -> BuildOptions {
        BuildOptions {
            kind,
            version,
            sram2a_kb: 0,
            sram2b_kb: 0,
            footer_type: FooterType::Type1,
            nvm_sectors: 0,
        }
    }
}

/// Runs AES-CTR (counter block = nonce ‖ 32-bit big-endian counter starting at 0) over
/// `data` in place; encryption and decryption are the same operation.
pub fn ctr_apply(key: &AesKey, nonce: &[u8; NONCE_LEN], data: &mut [u8]) {
    let mut iv = [0u8; 16];
    for (d, s) in iv.iter_mut().zip(nonce) {
        *d = *s;
    }
    match key {
        AesKey::Aes128(k) => {
            ctr::Ctr32BE::<Aes128>::new(k.into(), &iv.into()).apply_keystream(data)
        }
        AesKey::Aes256(k) => {
            ctr::Ctr32BE::<Aes256>::new(k.into(), &iv.into()).apply_keystream(data)
        }
    }
}

/// SHA-256 digest a tag signs: the whole image element (body, descriptor, image footer)
/// followed by the tag's own 20-byte signature footer.
pub fn tag_digest(element: &[u8], tag_footer: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(element);
    h.update(tag_footer);
    h.finalize().into()
}

/// Makes a tag (signature ‖ signature footer) over `element`.
pub fn make_tag(
    element: &[u8],
    source: SignatureSource,
    version: Version,
    key: &SigningKey,
) -> Result<Vec<u8>, Error> {
    let footer = SignatureFooter {
        source,
        size: SIGNATURE_LEN as u8,
        version,
    };
    let mut fb = [0u8; SignatureFooter::LEN];
    footer.encode(&mut fb)?;
    let digest = tag_digest(element, &fb);
    let sig: Signature = key.sign_prehash(&digest).map_err(|e| Error::Key {
        what: format!("{source:?} signing key"),
        detail: format!("signing failed: {e}"),
    })?;
    let mut tag = Vec::with_capacity(TAG_LEN);
    tag.extend_from_slice(&sig.to_bytes());
    tag.extend_from_slice(&fb);
    Ok(tag)
}

/// Builds an image: `payload` encrypted with the ST body key, the descriptor, the image
/// footer, then the ST tag. Deterministic: the nonce is derived from the payload and footer
/// fields, and ECDSA signatures are RFC 6979.
pub fn build(payload: &[u8], opts: &BuildOptions, keys: &StKeys) -> Result<Vec<u8>, Error> {
    if payload.is_empty() {
        return Err(Error::EmptyPayload);
    }
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(Error::PayloadTooLarge {
            len: payload.len(),
            max: MAX_PAYLOAD_LEN,
        });
    }
    if opts.footer_type == FooterType::Type1 && opts.nvm_sectors != 0 {
        return Err(Error::Option(
            "an NVM section size needs footer type 2".into(),
        ));
    }
    let cipher = keys.aes.cipher();
    let body_len = pad4(payload.len());
    let mut descriptor = Descriptor {
        payload_len: payload.len() as u32,
        cipher,
        nonce: [0; NONCE_LEN],
        body_crc: 0,
        plain_crc: crc32(payload),
    };
    let sectors = u8::try_from(descriptor.flash_sectors()).map_err(|_| Error::PayloadTooLarge {
        len: payload.len(),
        max: MAX_PAYLOAD_LEN,
    })?;
    let mut footer = ImageFooter {
        info1: u32::from(opts.nvm_sectors) << 8,
        info2: 0,
        sram2b_kb: opts.sram2b_kb,
        sram2a_kb: opts.sram2a_kb,
        footer_type: opts.footer_type,
        flash_sectors: sectors,
        version: opts.version,
        magic: opts.kind.magic(opts.footer_type),
    };
    let mut fb = [0u8; ImageFooter::LEN];
    footer.encode(&mut fb)?;

    // Synthetic nonce: unique per (payload, footer, cipher), so two different bodies never
    // share a keystream, and the same input always builds the same image.
    let mut h = Sha256::new();
    h.update(b"wbemu image nonce v1\0");
    h.update(cipher.word().to_le_bytes());
    h.update(fb);
    h.update(payload);
    let hash = h.finalize();
    for (n, b) in descriptor.nonce.iter_mut().zip(hash.iter()) {
        *n = *b;
    }

    let mut body = payload.to_vec();
    body.resize(body_len, 0xFF);
    ctr_apply(&keys.aes, &descriptor.nonce, &mut body);
    descriptor.body_crc = crc32(&body);

    let mut trailer = Vec::with_capacity(TRAILER_LEN);
    trailer.extend_from_slice(&descriptor.encode());
    trailer.extend_from_slice(&fb);
    footer.info2 = footer_check(&trailer).unwrap_or_default();
    if let Some(w) = trailer.get_mut(CHECK_WORD_AT..CHECK_WORD_AT + 4) {
        w.copy_from_slice(&footer.info2.to_le_bytes());
    }

    let mut out = body;
    out.extend_from_slice(&trailer);
    let tag = make_tag(&out, SignatureSource::St, opts.version, &keys.signing)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Adds (or replaces) the customer tag: a signature of the image element with the customer
/// key, appended at the end of the file. An existing customer tag is replaced when it is the
/// last thing in the file; elsewhere it is an error.
pub fn sign_customer(image: &[u8], key: &SigningKey) -> Result<Vec<u8>, Error> {
    if !image.len().is_multiple_of(4) {
        return Err(Error::Layout(format!(
            "the file is {} bytes, not a multiple of 4: a tag after it would not be aligned",
            image.len()
        )));
    }
    let s = scan(image);
    let Some(found) = s.image else {
        return Err(Error::NoImage(describe_rejected(&s.rejected)));
    };
    let element = element_bytes(image, &found).map_err(|e| Error::NoImage(e.to_string()))?;
    let mut out = image.to_vec();
    if let Some(t) = s.customer_tag {
        if t.offset + TAG_LEN == image.len() {
            out.truncate(t.offset);
        } else {
            return Err(Error::Layout(format!(
                "a customer tag is already at offset {:#x}, not at the end of the file",
                t.offset
            )));
        }
    }
    let tag = make_tag(
        element,
        SignatureSource::Customer,
        found.footer.version,
        key,
    )?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// The image element's bytes (body ‖ descriptor ‖ footer), or `Corrupted` when its body
/// would start before the area.
pub fn element_bytes<'a>(area: &'a [u8], img: &FoundImage) -> Result<&'a [u8], ImageError> {
    let start = img.start.ok_or_else(|| ImageError::Corrupted {
        detail: format!(
            "the descriptor says the body is {} bytes but only {} bytes precede it",
            img.descriptor.body_len(),
            img.descriptor_offset
        ),
    })?;
    area.get(start..img.end)
        .ok_or_else(|| ImageError::Corrupted {
            detail: "image element outside the area".into(),
        })
}

/// Decrypts the payload of a found image with the device's body key and checks the plaintext
/// CRC. A wrong key (or a body changed after the checks) gives `Corrupted`: the image is
/// authentic but does not decrypt to what was signed for.
pub fn decrypt(area: &[u8], img: &FoundImage, key: &AesKey) -> Result<Vec<u8>, ImageError> {
    if key.cipher() != img.descriptor.cipher {
        return Err(ImageError::Corrupted {
            detail: format!(
                "image body is {} but the device key is for {}",
                img.descriptor.cipher.name(),
                key.cipher().name()
            ),
        });
    }
    let element = element_bytes(area, img)?;
    let mut body = element
        .get(..img.descriptor.body_len())
        .unwrap_or_default()
        .to_vec();
    ctr_apply(key, &img.descriptor.nonce, &mut body);
    body.truncate(img.descriptor.payload_len as usize);
    let crc = crc32(&body);
    if crc != img.descriptor.plain_crc {
        return Err(ImageError::Corrupted {
            detail: format!(
                "plaintext CRC {crc:#010x} does not match the descriptor's {:#010x} \
                 (wrong device key?)",
                img.descriptor.plain_crc
            ),
        });
    }
    Ok(body)
}

/// One line per rejected candidate, for error messages.
pub(crate) fn describe_rejected(rejected: &[crate::scan::Rejected]) -> String {
    if rejected.is_empty() {
        return "no image magic number (AN5185 Table 18) at any aligned word".into();
    }
    rejected
        .iter()
        .map(|r| {
            format!(
                "{:?} magic at offset {:#x} rejected: {}",
                r.magic, r.magic_offset, r.reason
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

const _: () = assert!(DESCRIPTOR_LEN + ImageFooter::LEN == TRAILER_LEN);
