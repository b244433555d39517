//! The FUS's verdict on an image ([`classify`]) and the tool's view of one ([`inspect`]).

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};

use crate::format::crc32;
use crate::image::{describe_rejected, element_bytes, tag_digest};
use crate::scan::{scan, FoundImage, FoundTag, Rejected, Scan};
use crate::{Error, ImageError, Signer};

/// An image that passed every check of [`classify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The image element.
    pub image: FoundImage,
    /// The ST tag (its signature verified).
    pub st_tag: FoundTag,
    /// The customer tag, if one was found.
    pub customer_tag: Option<FoundTag>,
    /// True when a customer key was given and the customer tag verified with it.
    pub customer_verified: bool,
}

/// Checks an image as the FUS does before installing it, in this order (docs/image-format.md
/// §6), and stops at the first failure:
///
/// 1. scan for the image footer → [`ImageError::NotFound`];
/// 2. body inside the area and body CRC → [`ImageError::Corrupted`];
/// 3. ST tag present → [`ImageError::StTagNotFound`];
/// 4. if `customer_pub` is given, customer tag present → [`ImageError::CustomerTagNotFound`];
/// 5. ST signature over SHA-256(element ‖ ST tag footer) → [`ImageError::NotAuthentic`];
/// 6. if `customer_pub` is given, the customer signature likewise → `NotAuthentic`.
///
/// The plaintext CRC needs the body key and is checked by [`crate::decrypt`] at install time.
pub fn classify(
    area: &[u8],
    st_pub: &VerifyingKey,
    customer_pub: Option<&VerifyingKey>,
) -> Result<Verified, ImageError> {
    let s = scan(area);
    let Some(image) = s.image else {
        return Err(ImageError::NotFound {
            detail: describe_rejected(&s.rejected),
        });
    };
    let element = element_bytes(area, &image)?;
    let body = element
        .get(..image.descriptor.body_len())
        .unwrap_or_default();
    let crc = crc32(body);
    if crc != image.descriptor.body_crc {
        return Err(ImageError::Corrupted {
            detail: format!(
                "body CRC {crc:#010x} over {:#x}..{:#x} does not match the descriptor's {:#010x}",
                image.start.unwrap_or_default(),
                image.descriptor_offset,
                image.descriptor.body_crc
            ),
        });
    }
    let st_tag = s.st_tag.ok_or(ImageError::StTagNotFound)?;
    let customer = match customer_pub {
        Some(k) => Some((
            k,
            s.customer_tag
                .clone()
                .ok_or(ImageError::CustomerTagNotFound)?,
        )),
        None => None,
    };
    check_tag(element, &st_tag, st_pub, Signer::St)?;
    if let Some((k, tag)) = &customer {
        check_tag(element, tag, k, Signer::Customer)?;
    }
    Ok(Verified {
        image,
        st_tag,
        customer_verified: customer.is_some(),
        customer_tag: s.customer_tag,
    })
}

fn check_tag(
    element: &[u8],
    tag: &FoundTag,
    key: &VerifyingKey,
    signer: Signer,
) -> Result<(), ImageError> {
    let sig = Signature::from_slice(&tag.signature).map_err(|_| ImageError::NotAuthentic {
        signer,
        detail: format!(
            "at offset {:#x} is not a valid (r, s) pair (zero or not below the curve order)",
            tag.offset
        ),
    })?;
    key.verify_prehash(&tag_digest(element, &tag.footer_bytes), &sig)
        .map_err(|_| ImageError::NotAuthentic {
            signer,
            detail: format!(
                "at offset {:#x} does not verify with the given public key",
                tag.offset
            ),
        })
}

/// What `inspect` reports about a file: the scan's findings plus the key-less checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// File length.
    pub len: usize,
    /// The scan.
    pub scan: Scan,
    /// Body CRC result when an image with a complete body was found.
    pub body_crc_ok: Option<bool>,
}

impl Inspection {
    /// Rejected candidates (convenience).
    pub fn rejected(&self) -> &[Rejected] {
        &self.scan.rejected
    }
}

/// Decodes the footers and tags of an image file. Fails only when nothing at all is
/// recognised; otherwise missing parts are `None` in the result. Never panics.
pub fn inspect(file: &[u8]) -> Result<Inspection, Error> {
    let s = scan(file);
    if s.image.is_none() && s.st_tag.is_none() && s.customer_tag.is_none() {
        let detail = if s.rejected.is_empty() {
            String::new()
        } else {
            format!(" ({})", describe_rejected(&s.rejected))
        };
        return Err(Error::NothingFound {
            len: file.len(),
            detail,
        });
    }
    let body_crc_ok = s.image.as_ref().and_then(|img| {
        let element = element_bytes(file, img).ok()?;
        let body = element.get(..img.descriptor.body_len())?;
        Some(crc32(body) == img.descriptor.body_crc)
    });
    Ok(Inspection {
        len: file.len(),
        scan: s,
        body_crc_ok,
    })
}
