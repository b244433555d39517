//! Finding and checking an image in user flash, in the order of docs/image-format.md §5–§6:
//! the footer scan from the top of the area down, then integrity (body CRC), the tags,
//! and the ST signature (SHA-256 in software, ECDSA on the PKA).

use crate::crypto::{crc32, ecdsa_verify, Crc};
use crate::hw::{bytes, read32};
use crate::keys::Keys;
use sha2::{Digest, Sha256};
use wb_proto::fus::FusError;
use wb_proto::image::{ImageFooter, Magic, SignatureFooter, SignatureSource, SIGNATURE_LEN};
use wb_proto::layout::PAGE_SIZE;

const DESCRIPTOR_LEN: u32 = 28;
const TRAILER_LEN: u32 = DESCRIPTOR_LEN + ImageFooter::LEN as u32;
const TAG_LEN: u32 = SIGNATURE_LEN as u32 + SignatureFooter::LEN as u32;

/// A recognised image element.
#[derive(Clone, Copy)]
pub struct Image {
    pub footer: ImageFooter,
    /// One past the image footer.
    pub end: u32,
    /// First body byte, `None` when the descriptor's length reaches below the area.
    pub start: Option<u32>,
    pub len: u32,
    pub cipher: u32,
    pub nonce: [u32; 3],
    pub body_crc: u32,
    pub plain_crc: u32,
}

impl Image {
    /// Body bytes as stored (the payload padded to 4).
    pub fn padded_len(&self) -> u32 {
        self.len.next_multiple_of(4)
    }
}

/// A recognised signature tag: the signature, then its footer, ending at `end`.
#[derive(Clone, Copy)]
pub struct Tag {
    pub end: u32,
}

impl Tag {
    fn signature(&self) -> u32 {
        self.end - TAG_LEN
    }
    fn footer(&self) -> u32 {
        self.end - SignatureFooter::LEN as u32
    }
}

#[derive(Clone, Copy, Default)]
pub struct Scan {
    pub image: Option<Image>,
    pub st_tag: Option<Tag>,
    pub customer_tag: Option<Tag>,
}

fn image_footer_ok(base: u32, e: u32) -> Option<Image> {
    if e - base < TRAILER_LEN {
        return None;
    }
    let footer =
        ImageFooter::parse(bytes(e - ImageFooter::LEN as u32, ImageFooter::LEN as u32)).ok()?;
    let d = e - TRAILER_LEN;
    // The footer check word (Info2): CRC-32 of the trailer without Info2 itself.
    let mut c = Crc::start();
    c.feed(d, 32);
    c.feed(d + 36, 12);
    if footer.info2 != c.value() {
        return None;
    }
    let len = read32(d);
    let cipher = read32(d + 4);
    if cipher != 1 && cipher != 2 {
        return None;
    }
    let padded = len.checked_next_multiple_of(4)?;
    let element = padded.checked_add(TRAILER_LEN)?;
    if u32::from(footer.flash_sectors) != element.div_ceil(PAGE_SIZE) {
        return None;
    }
    let start = d.checked_sub(padded).filter(|&s| s >= base);
    Some(Image {
        footer,
        end: e,
        start,
        len,
        cipher,
        nonce: [read32(d + 8), read32(d + 12), read32(d + 16)],
        body_crc: read32(d + 20),
        plain_crc: read32(d + 24),
    })
}

fn tag_ok(base: u32, e: u32, source: SignatureSource) -> Option<Tag> {
    if e - base < TAG_LEN {
        return None;
    }
    let f = SignatureFooter::parse(bytes(
        e - SignatureFooter::LEN as u32,
        SignatureFooter::LEN as u32,
    ))
    .ok()?;
    (f.source == source && f.size as usize == SIGNATURE_LEN).then_some(Tag { end: e })
}

/// Scan `[base, top)` from the top down, one aligned word at a time; the highest valid
/// element of each kind wins and an accepted element is skipped over whole.
pub fn scan(base: u32, top: u32) -> Scan {
    let mut s = Scan::default();
    let mut e = base + ((top - base) & !3);
    while e - base >= 4 {
        let w = read32(e - 4);
        let mut next = e - 4;
        match Magic::try_from(w) {
            Ok(m) if m.is_image() && s.image.is_none() => {
                if let Some(img) = image_footer_ok(base, e) {
                    next = img.start.unwrap_or(base);
                    s.image = Some(img);
                }
            }
            Ok(Magic::StSignature) if s.st_tag.is_none() => {
                if let Some(t) = tag_ok(base, e, SignatureSource::St) {
                    next = t.signature();
                    s.st_tag = Some(t);
                }
            }
            Ok(Magic::CustomerSignature) if s.customer_tag.is_none() => {
                if let Some(t) = tag_ok(base, e, SignatureSource::Customer) {
                    next = t.signature();
                    s.customer_tag = Some(t);
                }
            }
            _ => {}
        }
        if s.image.is_some() && s.st_tag.is_some() && s.customer_tag.is_some() {
            break;
        }
        e = next;
    }
    s
}

fn array32(addr: u32) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(bytes(addr, 32));
    a
}

/// Whether `tag` holds a valid signature of `img` by the key (qx, qy).
fn signature_ok(img: &Image, start: u32, tag: &Tag, qx: &[u8; 32], qy: &[u8; 32]) -> bool {
    let mut h = Sha256::new();
    h.update(bytes(start, img.end - start));
    h.update(bytes(tag.footer(), SignatureFooter::LEN as u32));
    let digest: [u8; 32] = h.finalize().into();
    let r = array32(tag.signature());
    let s = array32(tag.signature() + 32);
    ecdsa_verify(qx, qy, &r, &s, &digest)
}

/// Where the found image's pieces end (for erasing it), from its start or the area base.
pub fn extent(s: &Scan, base: u32) -> (u32, u32) {
    let img = s.image.as_ref();
    let start = img.and_then(|i| i.start).unwrap_or(base);
    let mut end = img.map_or(start, |i| i.end);
    for t in [s.st_tag, s.customer_tag].into_iter().flatten() {
        end = end.max(t.end);
    }
    (start, end)
}

/// Checks 1–6 of docs/image-format.md §6 on a wireless-stack image. On success the image
/// (with its start) is returned; on failure the error, and whether the image must be erased
/// (only for a damaged body: AN5185 Table 6).
pub fn check(s: &Scan, keys: &Keys) -> Result<(Image, u32), (FusError, bool)> {
    let img = s.image.ok_or((FusError::ImgNotFound, false))?;
    // Our FUS installs wireless stacks; FUS self-upgrade comes later.
    if !matches!(
        img.footer.magic,
        Magic::WirelessStack | Magic::WirelessStackLegacy
    ) {
        return Err((FusError::ImgNotFound, false));
    }
    let start = img.start.ok_or((FusError::ImgCorrupt, true))?;
    if crc32(start, img.padded_len()) != img.body_crc {
        return Err((FusError::ImgCorrupt, true));
    }
    let tag = s.st_tag.ok_or((FusError::AuthTagStNotFound, false))?;
    if !signature_ok(&img, start, &tag, &keys.st_pub_x, &keys.st_pub_y) {
        return Err((FusError::ImgNotAuthentic, false));
    }
    Ok((img, start))
}
