//! Key files (docs/image-format.md §7): ECDSA P-256 keys as PEM (what `openssl ec` / `openssl
//! pkey` read and write), the symmetric ST key as hex, and the file names of a key directory.

use std::path::{Path, PathBuf};

use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use p256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};

use crate::format::Cipher;
use crate::Error;

/// File name ending of the ST signing (private) key in a key directory.
pub const ST_SIGNING_KEY: &str = "st-signing-key.pem";
/// File name ending of the ST public key.
pub const ST_PUBLIC_KEY: &str = "st-public-key.pem";
/// File name ending of the symmetric ST body key.
pub const ST_AES_KEY: &str = "st-aes-key.hex";
/// File name ending of a customer signing (private) key.
pub const CUSTOMER_SIGNING_KEY: &str = "customer-signing-key.pem";
/// File name ending of a customer public key.
pub const CUSTOMER_PUBLIC_KEY: &str = "customer-public-key.pem";

/// The device-resident symmetric ST key that encrypts image bodies.
#[derive(Clone, PartialEq, Eq)]
pub enum AesKey {
    /// 16 bytes: bodies are AES-128-CTR.
    Aes128([u8; 16]),
    /// 32 bytes: bodies are AES-256-CTR.
    Aes256([u8; 32]),
}

impl std::fmt::Debug for AesKey {
    // Never print key bytes into logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AesKey({})", self.cipher().name())
    }
}

impl AesKey {
    /// The body cipher this key selects.
    pub fn cipher(&self) -> Cipher {
        match self {
            AesKey::Aes128(_) => Cipher::Aes128Ctr,
            AesKey::Aes256(_) => Cipher::Aes256Ctr,
        }
    }

    /// Key bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            AesKey::Aes128(k) => k,
            AesKey::Aes256(k) => k,
        }
    }

    /// From 16 or 32 raw bytes.
    pub fn from_bytes(b: &[u8]) -> Option<AesKey> {
        if let Ok(k) = <[u8; 16]>::try_from(b) {
            Some(AesKey::Aes128(k))
        } else {
            <[u8; 32]>::try_from(b).ok().map(AesKey::Aes256)
        }
    }

    /// Parses a key file: 32 or 64 hex digits (whitespace and a `0x` prefix ignored), or
    /// exactly 16 or 32 raw bytes.
    pub fn parse(file: &[u8], what: &str) -> Result<AesKey, Error> {
        let text: Vec<u8> = file
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let digits = text
            .strip_prefix(b"0x")
            .or_else(|| text.strip_prefix(b"0X"))
            .unwrap_or(&text);
        if matches!(digits.len(), 32 | 64) && digits.iter().all(u8::is_ascii_hexdigit) {
            let bytes = hex_decode(digits).ok_or_else(|| key_err(what, "bad hex digits"))?;
            return AesKey::from_bytes(&bytes).ok_or_else(|| key_err(what, "bad key length"));
        }
        AesKey::from_bytes(file).ok_or_else(|| {
            key_err(
                what,
                format!(
                    "not an AES key: expected 32 or 64 hex digits or 16 or 32 raw bytes, \
                     got {} bytes",
                    file.len()
                ),
            )
        })
    }

    /// Reads a key file (see [`AesKey::parse`]).
    pub fn load(path: &Path) -> Result<AesKey, Error> {
        AesKey::parse(&read(path)?, &path.display().to_string())
    }

    /// The file text: lowercase hex and a newline.
    pub fn to_hex(&self) -> String {
        let mut s: String = self.bytes().iter().map(|b| format!("{b:02x}")).collect();
        s.push('\n');
        s
    }

    /// A fresh random key from the OS random source.
    pub fn generate(cipher: Cipher) -> Result<AesKey, Error> {
        let mut k = vec![0u8; cipher.key_len()];
        OsRng
            .try_fill_bytes(&mut k)
            .map_err(|e| Error::Random(e.to_string()))?;
        AesKey::from_bytes(&k).ok_or_else(|| Error::Random("key length".into()))
    }
}

fn hex_decode(d: &[u8]) -> Option<Vec<u8>> {
    d.chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

fn key_err(what: &str, detail: impl Into<String>) -> Error {
    Error::Key {
        what: what.to_string(),
        detail: detail.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, Error> {
    String::from_utf8(read(path)?).map_err(|_| key_err(&path.display().to_string(), "not text"))
}

/// Parses an ECDSA P-256 private key from PEM: SEC1 (`EC PRIVATE KEY`, `openssl ecparam
/// -genkey`) or PKCS#8 (`PRIVATE KEY`, `openssl genpkey`).
pub fn signing_key_from_pem(pem: &str, what: &str) -> Result<SigningKey, Error> {
    let secret = if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
        SecretKey::from_sec1_pem(pem).map_err(|e| key_err(what, format!("SEC1 key: {e}")))?
    } else if pem.contains("-----BEGIN PRIVATE KEY-----") {
        SecretKey::from_pkcs8_pem(pem)
            .map_err(|e| key_err(what, format!("PKCS#8 key (must be EC P-256): {e}")))?
    } else {
        return Err(key_err(
            what,
            "no \"EC PRIVATE KEY\" or \"PRIVATE KEY\" PEM block (a private key is needed)",
        ));
    };
    Ok(SigningKey::from(secret))
}

/// Parses an ECDSA P-256 public key from PEM: SubjectPublicKeyInfo (`PUBLIC KEY`, `openssl
/// pkey -pubout`). A private key PEM is accepted too and its public half taken.
pub fn verifying_key_from_pem(pem: &str, what: &str) -> Result<VerifyingKey, Error> {
    if pem.contains("-----BEGIN PUBLIC KEY-----") {
        let pk = PublicKey::from_public_key_pem(pem)
            .map_err(|e| key_err(what, format!("public key (must be EC P-256): {e}")))?;
        return Ok(VerifyingKey::from(pk));
    }
    if pem.contains("PRIVATE KEY-----") {
        return Ok(*signing_key_from_pem(pem, what)?.verifying_key());
    }
    Err(key_err(what, "no \"PUBLIC KEY\" PEM block"))
}

/// Reads a private key file (see [`signing_key_from_pem`]).
pub fn load_signing_key(path: &Path) -> Result<SigningKey, Error> {
    signing_key_from_pem(&read_text(path)?, &path.display().to_string())
}

/// Reads a public key file (see [`verifying_key_from_pem`]).
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, Error> {
    verifying_key_from_pem(&read_text(path)?, &path.display().to_string())
}

/// PKCS#8 PEM (`PRIVATE KEY`, unencrypted) of a private key, LF line endings. PKCS#8 rather
/// than SEC1 because its algorithm identifier names the curve, which `openssl pkey`/`ec` need
/// (our SEC1 encoder leaves the optional curve parameters out).
pub fn signing_key_to_pem(key: &SigningKey) -> Result<String, Error> {
    SecretKey::from(key)
        .to_pkcs8_pem(LineEnding::LF)
        .map(|z| z.to_string())
        .map_err(|e| key_err("private key", e.to_string()))
}

/// SubjectPublicKeyInfo PEM (`PUBLIC KEY`) of a public key, LF line endings.
pub fn verifying_key_to_pem(key: &VerifyingKey) -> Result<String, Error> {
    PublicKey::from(key)
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| key_err("public key", e.to_string()))
}

/// A fresh random P-256 key pair from the OS random source.
pub fn generate_signing_key() -> SigningKey {
    SigningKey::from(SecretKey::random(&mut OsRng))
}

/// The one file in `dir` whose name ends with `suffix` (so `test-st-signing-key.pem` is found
/// for [`ST_SIGNING_KEY`]). None or several is an error naming the directory.
pub fn find_key_file(dir: &Path, suffix: &str) -> Result<PathBuf, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found = Vec::new();
    for e in entries {
        let e = e.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if e.file_name().to_string_lossy().ends_with(suffix) {
            found.push(e.path());
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::KeyDir {
            dir: dir.to_path_buf(),
            detail: format!("no file named *{suffix}"),
        }),
        _ => Err(Error::KeyDir {
            dir: dir.to_path_buf(),
            detail: format!(
                "several files named *{suffix}: {}",
                found
                    .iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// What building an image needs: the ST signing key and the symmetric body key.
#[derive(Clone, Debug)]
pub struct StKeys {
    /// Signs the ST tag.
    pub signing: SigningKey,
    /// Encrypts the body.
    pub aes: AesKey,
}

impl StKeys {
    /// Loads `*st-signing-key.pem` and `*st-aes-key.hex` from a key directory.
    pub fn load_dir(dir: &Path) -> Result<StKeys, Error> {
        Ok(StKeys {
            signing: load_signing_key(&find_key_file(dir, ST_SIGNING_KEY)?)?,
            aes: AesKey::load(&find_key_file(dir, ST_AES_KEY)?)?,
        })
    }
}
