//! wbemu images: our stand-in for ST's secret WS/FUS image format, consistent with the footers
//! AN5185 §6.4 documents. The format is specified in `docs/image-format.md`; in short, an
//! image file is
//!
//! ```text
//! [ciphertext, round_up(L,4)] [descriptor, 28] [image footer, 20] [ST tag, 84] ([customer tag, 84])
//! ```
//!
//! - the body is the payload encrypted with the device-resident "ST" AES key in CTR mode,
//!   nonce in the descriptor ([`format::Descriptor`]);
//! - the image footer is `wb_proto::image::ImageFooter`, its reserved Info2 word carrying a
//!   CRC-32 check of descriptor + footer ([`format::footer_check`]);
//! - each tag is an ECDSA P-256 signature over SHA-256(image element ‖ tag footer), then a
//!   `wb_proto::image::SignatureFooter`.
//!
//! Entry points: [`build`], [`sign_customer`], [`inspect`], [`classify`] (the FUS's checks,
//! one [`ImageError`] variant per FUS error code), [`decrypt`], and the key files in [`keys`].
#![warn(missing_docs)]
#![deny(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::unreachable
)]

mod elf;
mod error;
pub mod format;
mod image;
pub mod keys;
pub mod scan;
mod verify;

pub use elf::elf_payload;
pub use error::{Error, ImageError, Signer};
pub use image::{
    build, ctr_apply, decrypt, element_bytes, make_tag, sign_customer, tag_digest, BuildOptions,
    ImageKind,
};
pub use keys::{AesKey, StKeys};
pub use p256::ecdsa::{SigningKey, VerifyingKey};
pub use scan::{scan, FoundImage, FoundTag, Rejected, Scan};
pub use verify::{classify, inspect, Inspection, Verified};
pub use wb_proto;
