//! The footer scan (docs/image-format.md §5): from the end of the area down, one aligned word
//! at a time, recognising the image element and the two signature tags by their footers.
//! The FUS runs the same scan over user flash; here the area is an image file whose first byte
//! stands for the (sector-aligned) download address.

use wb_proto::image::{ImageFooter, Magic, SignatureFooter, SignatureSource, SIGNATURE_LEN};

use crate::format::{
    footer_check, Descriptor, DescriptorError, CHECK_WORD_AT, DESCRIPTOR_LEN, TAG_LEN, TRAILER_LEN,
};

/// A recognised image element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundImage {
    /// The image footer (Info2 holds the footer check word).
    pub footer: ImageFooter,
    /// The body descriptor.
    pub descriptor: Descriptor,
    /// Offset of the descriptor (the footer follows it).
    pub descriptor_offset: usize,
    /// One past the image footer's last byte.
    pub end: usize,
    /// Offset of the body's first byte; `None` when the descriptor's length puts it before
    /// the start of the area (a truncated or misplaced image).
    pub start: Option<usize>,
}

impl FoundImage {
    /// Offset of the image footer.
    pub fn footer_offset(&self) -> usize {
        self.descriptor_offset + DESCRIPTOR_LEN
    }
}

/// A recognised signature tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundTag {
    /// Its footer.
    pub footer: SignatureFooter,
    /// Offset of the signature bytes (the footer follows them).
    pub offset: usize,
    /// The signature: r ‖ s, 32 bytes each, big-endian.
    pub signature: [u8; SIGNATURE_LEN],
    /// The footer's 20 bytes as stored (reserved bits included: the signature covers them).
    pub footer_bytes: [u8; SignatureFooter::LEN],
}

impl FoundTag {
    /// Offset of the signature footer.
    pub fn footer_offset(&self) -> usize {
        self.offset + SIGNATURE_LEN
    }
}

/// A magic number that did not turn out to close a valid element, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Offset of the magic word.
    pub magic_offset: usize,
    /// The magic found.
    pub magic: Magic,
    /// Why the footer ending there was not taken.
    pub reason: String,
}

/// What the scan found: the highest valid element of each kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The image element.
    pub image: Option<FoundImage>,
    /// The ST signature tag.
    pub st_tag: Option<FoundTag>,
    /// The customer signature tag.
    pub customer_tag: Option<FoundTag>,
    /// Magic words passed over, highest first.
    pub rejected: Vec<Rejected>,
}

fn word_at(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at.checked_add(4)?)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
}

/// Scans `area` from its end down. Alignment is relative to the area's start; bytes past the
/// last whole word are ignored.
///
/// At each word offset `w` (highest first) holding a Table 18 magic, the footer ending at
/// `e = w + 4` is tried as the element its magic names, unless an element of that kind was
/// already found (then the word is skipped). An accepted element moves the scan to just
/// below its first byte; a rejected one is recorded and the scan moves down one word. The
/// scan ends at the start of the area or when all three kinds are found.
pub fn scan(area: &[u8]) -> Scan {
    let mut s = Scan::default();
    let mut end = area.len() & !3;
    while end >= 4 {
        let w = end - 4;
        let Some(magic) = word_at(area, w).and_then(|v| Magic::try_from(v).ok()) else {
            end = w;
            continue;
        };
        let mut next = w;
        if magic.is_image() {
            if s.image.is_none() {
                match recognise_image(area, end) {
                    Ok(img) => {
                        // Nothing of a truncated image's body is in the area: stop there.
                        next = img.start.unwrap_or(0);
                        s.image = Some(img);
                    }
                    Err(reason) => s.rejected.push(Rejected {
                        magic_offset: w,
                        magic,
                        reason,
                    }),
                }
            }
        } else {
            let (slot, source) = if magic == Magic::StSignature {
                (&mut s.st_tag, SignatureSource::St)
            } else {
                (&mut s.customer_tag, SignatureSource::Customer)
            };
            if slot.is_none() {
                match recognise_tag(area, end, source) {
                    Ok(tag) => {
                        next = tag.offset;
                        *slot = Some(tag);
                    }
                    Err(reason) => s.rejected.push(Rejected {
                        magic_offset: w,
                        magic,
                        reason,
                    }),
                }
            }
        }
        if s.image.is_some() && s.st_tag.is_some() && s.customer_tag.is_some() {
            break;
        }
        end = next;
    }
    s
}

/// Tries the image footer ending at `end` (the magic is already known to be an image magic).
fn recognise_image(area: &[u8], end: usize) -> Result<FoundImage, String> {
    let d = end
        .checked_sub(TRAILER_LEN)
        .ok_or_else(|| format!("only {end} bytes before the footer end, need {TRAILER_LEN}"))?;
    let trailer = area
        .get(d..end)
        .ok_or_else(|| "trailer outside the area".to_string())?;
    let footer_bytes = trailer.get(DESCRIPTOR_LEN..).unwrap_or_default();
    let footer = ImageFooter::parse(footer_bytes).map_err(|e| e.to_string())?;
    let check = footer_check(trailer).unwrap_or_default();
    if footer.info2 != check {
        return Err(format!(
            "footer check word (Info2, offset {}) is {:#010x}, computed {:#010x}",
            d + CHECK_WORD_AT,
            footer.info2,
            check
        ));
    }
    let descriptor = Descriptor::parse(trailer).map_err(|e| match e {
        DescriptorError::TooShort => "descriptor too short".to_string(),
        DescriptorError::UnknownCipher(c) => format!("descriptor: unknown cipher {c:#x}"),
    })?;
    if descriptor.flash_sectors() != usize::from(footer.flash_sectors) {
        return Err(format!(
            "footer flash size {} sectors disagrees with the descriptor's length {} ({} sectors)",
            footer.flash_sectors,
            descriptor.payload_len,
            descriptor.flash_sectors()
        ));
    }
    Ok(FoundImage {
        footer,
        descriptor,
        descriptor_offset: d,
        end,
        start: d.checked_sub(descriptor.body_len()),
    })
}

/// Tries the signature footer ending at `end` for a tag of `source`.
fn recognise_tag(area: &[u8], end: usize, source: SignatureSource) -> Result<FoundTag, String> {
    let offset = end
        .checked_sub(TAG_LEN)
        .ok_or_else(|| format!("only {end} bytes before the footer end, need {TAG_LEN}"))?;
    let tag = area
        .get(offset..end)
        .ok_or_else(|| "tag outside the area".to_string())?;
    let footer_bytes: [u8; SignatureFooter::LEN] = tag
        .get(SIGNATURE_LEN..)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| "signature footer outside the area".to_string())?;
    let footer =
        SignatureFooter::parse(&footer_bytes).map_err(|e| format!("signature footer: {e}"))?;
    if footer.source != source {
        return Err("signature source does not match the magic".into());
    }
    if usize::from(footer.size) != SIGNATURE_LEN {
        return Err(format!(
            "signature size {} bytes, expected {SIGNATURE_LEN}",
            footer.size
        ));
    }
    let signature = tag
        .get(..SIGNATURE_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| "signature outside the area".to_string())?;
    Ok(FoundTag {
        footer,
        offset,
        signature,
        footer_bytes,
    })
}
