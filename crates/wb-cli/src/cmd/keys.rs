//! `wbemu keys`: make key files for `wbemu image` (docs/image-format.md §7).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use wb_image::format::Cipher;
use wb_image::keys::{
    generate_signing_key, signing_key_to_pem, verifying_key_to_pem, CUSTOMER_PUBLIC_KEY,
    CUSTOMER_SIGNING_KEY, ST_AES_KEY, ST_PUBLIC_KEY, ST_SIGNING_KEY,
};
use wb_image::AesKey;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Generate an ST key set (signing key pair + symmetric body key) or, with --customer, a
    /// customer signing key pair.
    Gen {
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Make a customer key pair instead of an ST key set.
        #[arg(long)]
        customer: bool,
        /// Prefix for the file names, e.g. "test-" for keys that must never sign anything real.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Make a 256-bit body key (AES-256-CTR bodies) instead of a 128-bit one.
        #[arg(long, conflicts_with = "customer")]
        aes256: bool,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(a: Args) -> Result<ExitCode> {
    let Command::Gen {
        out,
        customer,
        prefix,
        aes256,
        force,
    } = a.command;
    let name = |suffix: &str| out.join(format!("{prefix}{suffix}"));
    let (private, public) = if customer {
        (name(CUSTOMER_SIGNING_KEY), name(CUSTOMER_PUBLIC_KEY))
    } else {
        (name(ST_SIGNING_KEY), name(ST_PUBLIC_KEY))
    };
    let aes = (!customer).then(|| name(ST_AES_KEY));
    // Check every target before writing any, so a refusal leaves nothing half-made.
    if !force {
        for p in [Some(&private), Some(&public), aes.as_ref()]
            .into_iter()
            .flatten()
        {
            if p.exists() {
                bail!("{} exists (use --force to replace it)", p.display());
            }
        }
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let key = generate_signing_key();
    write_secret(&private, signing_key_to_pem(&key)?.as_bytes())?;
    crate::files::write(
        &public,
        verifying_key_to_pem(key.verifying_key())?.as_bytes(),
    )?;
    println!(
        "{}: ECDSA P-256 private key (PKCS#8 PEM)",
        private.display()
    );
    println!(
        "{}: public key (SubjectPublicKeyInfo PEM)",
        public.display()
    );
    if let Some(aes) = aes {
        let cipher = if aes256 {
            Cipher::Aes256Ctr
        } else {
            Cipher::Aes128Ctr
        };
        write_secret(&aes, AesKey::generate(cipher)?.to_hex().as_bytes())?;
        println!("{}: {} body key (hex)", aes.display(), cipher.name());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a secret: owner-only permissions where the OS has them.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}
