//! Errors: [`Error`] for building, signing, inspecting and key files; [`ImageError`] for the
//! verdict of [`crate::classify`], one variant per FUS error code.

use std::path::PathBuf;

use wb_proto::fus::FusError;

/// Failure of a tool operation (build, sign, inspect, key files). The message names the file
/// or field concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written (the OS error follows as the source).
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key file holds no key of the expected kind, or a malformed one.
    #[error("{what}: {detail}")]
    Key {
        /// The file or key being read.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A key directory has no file, or more than one file, for a role.
    #[error("{dir}: {detail}")]
    KeyDir {
        /// The directory searched.
        dir: PathBuf,
        /// Which file is missing or ambiguous.
        detail: String,
    },
    /// An ELF input cannot be turned into a payload.
    #[error("ELF: {0}")]
    Elf(String),
    /// The payload to build an image from is empty.
    #[error("payload is empty")]
    EmptyPayload,
    /// The payload does not fit the 255 4-KiB sectors the image footer can describe.
    #[error("payload is {len} bytes; an image carries at most {max} (255 sectors of 4 KiB)")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
        /// Largest payload allowed.
        max: usize,
    },
    /// A build option is not allowed (e.g. an NVM size with footer type 1).
    #[error("build option: {0}")]
    Option(String),
    /// A footer could not be encoded (the codec's error follows as the source).
    #[error("encoding a footer")]
    Proto(#[from] wb_proto::Error),
    /// The input holds no image element (no valid image footer was found by the scan).
    #[error("no image found: {0}")]
    NoImage(String),
    /// The input holds no image footer and no signature tag at all.
    #[error("{len} bytes: no image footer and no signature tag found{detail}")]
    NothingFound {
        /// Input length.
        len: usize,
        /// Rejected candidates, if any, as text.
        detail: String,
    },
    /// The image file cannot take a tag at its end.
    #[error("cannot append a tag: {0}")]
    Layout(String),
    /// The operating system's random source failed.
    #[error("random source: {0}")]
    Random(String),
}

/// Who made a signature tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signer {
    /// STMicroelectronics (here: whoever holds the ST signing key).
    St,
    /// The customer (the device's installed authentication key).
    Customer,
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Signer::St => "ST",
            Signer::Customer => "customer",
        })
    }
}

/// Why an image is refused, one variant per FUS error code (AN5185 Table 14); see
/// docs/image-format.md §6 for which damage gives which. [`ImageError::fus_error`] gives the
/// code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// FUS_STATE_IMG_NOT_FOUND: no valid image footer (magic, footer fields, check word,
    /// descriptor) anywhere in the scanned area.
    #[error("FUS_STATE_IMG_NOT_FOUND: {detail}")]
    NotFound {
        /// What the scan saw.
        detail: String,
    },
    /// FUS_STATE_IMG_CORRUPTED: image footer found but the body is not integer (body CRC
    /// mismatch, body outside the scanned area, or plaintext CRC mismatch after decryption).
    #[error("FUS_STATE_IMG_CORRUPTED: {detail}")]
    Corrupted {
        /// What does not match.
        detail: String,
    },
    /// FUS_STATE_IMG_NOT_AUTHENTIC: a tag was found but its signature does not verify.
    #[error("FUS_STATE_IMG_NOT_AUTHENTIC: {signer} signature {detail}")]
    NotAuthentic {
        /// Whose signature failed.
        signer: Signer,
        /// How it failed.
        detail: String,
    },
    /// FUS_AUTH_TAG_ST_NOTFOUND: no valid ST signature tag.
    #[error("FUS_AUTH_TAG_ST_NOTFOUND: no ST signature tag (magic 0xD3A12C5E) found")]
    StTagNotFound,
    /// FUS_AUTH_TAG_CUST_NOTFOUND: a customer key is required but no customer tag was found.
    #[error("FUS_AUTH_TAG_CUST_NOTFOUND: no customer signature tag (magic 0xE2B51D4A) found")]
    CustomerTagNotFound,
}

impl ImageError {
    /// The FUS error code the FUS reports for this verdict.
    pub fn fus_error(&self) -> FusError {
        match self {
            ImageError::NotFound { .. } => FusError::ImgNotFound,
            ImageError::Corrupted { .. } => FusError::ImgCorrupt,
            ImageError::NotAuthentic { .. } => FusError::ImgNotAuthentic,
            ImageError::StTagNotFound => FusError::AuthTagStNotFound,
            ImageError::CustomerTagNotFound => FusError::AuthTagCustNotFound,
        }
    }

    /// The AN5185 Table 14 name of the code.
    pub fn fus_name(&self) -> &'static str {
        match self {
            ImageError::NotFound { .. } => "FUS_STATE_IMG_NOT_FOUND",
            ImageError::Corrupted { .. } => "FUS_STATE_IMG_CORRUPTED",
            ImageError::NotAuthentic { .. } => "FUS_STATE_IMG_NOT_AUTHENTIC",
            ImageError::StTagNotFound => "FUS_AUTH_TAG_ST_NOTFOUND",
            ImageError::CustomerTagNotFound => "FUS_AUTH_TAG_CUST_NOTFOUND",
        }
    }
}
