//! Host ends of the emulated UARTs: a pseudo-terminal (so serial tools open it like a USB
//! adapter), a TCP socket, or this process's stdin/stdout. Each end runs its own reader thread
//! feeding a channel; the run loop moves bytes between the channels and the machine at slice
//! boundaries.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;

use anyhow::{bail, Context, Result};
use crossbeam_channel::{unbounded, Receiver, Sender};

/// Where a UART's host end goes, as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Pty,
    Tcp(SocketAddr),
    Stdio,
}

pub fn parse_endpoint(s: &str) -> Result<Endpoint, String> {
    match s {
        "pty" => Ok(Endpoint::Pty),
        "stdio" => Ok(Endpoint::Stdio),
        _ => match s.strip_prefix("tcp:") {
            Some(addr) => addr
                .parse()
                .map(Endpoint::Tcp)
                .map_err(|e| format!("{addr}: not a socket address like 127.0.0.1:4000 ({e})")),
            None => Err(format!(
                "{s}: expected pty, stdio or tcp:HOST:PORT (e.g. tcp:127.0.0.1:4000)"
            )),
        },
    }
}

/// An open host end: bytes from the host, and a sink for the device's bytes.
pub struct Link {
    pub from_host: Receiver<Vec<u8>>,
    pub to_host: Sender<Vec<u8>>,
    /// Where a user connects (pty path, TCP address, "stdio").
    pub description: String,
}

/// Spawn a thread that forwards everything `reader` gives to `tx` until EOF or an error.
fn forward_reads(mut reader: impl Read + Send + 'static, tx: Sender<Vec<u8>>) {
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
}

/// Spawn a thread that writes everything sent on the returned channel to `writer`.
fn forward_writes(mut writer: impl Write + Send + 'static) -> Sender<Vec<u8>> {
    let (tx, rx) = unbounded::<Vec<u8>>();
    thread::spawn(move || {
        for bytes in rx {
            if writer
                .write_all(&bytes)
                .and_then(|_| writer.flush())
                .is_err()
            {
                break;
            }
        }
    });
    tx
}

pub fn open(endpoint: &Endpoint) -> Result<Link> {
    let (host_tx, from_host) = unbounded();
    match endpoint {
        Endpoint::Stdio => {
            forward_reads(std::io::stdin(), host_tx);
            Ok(Link {
                from_host,
                to_host: forward_writes(std::io::stdout()),
                description: "stdio".into(),
            })
        }
        Endpoint::Tcp(addr) => {
            let listener = TcpListener::bind(addr).with_context(|| format!("tcp:{addr}"))?;
            let local = listener.local_addr()?;
            let (out_tx, out_rx) = unbounded::<Vec<u8>>();
            // One client at a time; the device's output waits in the channel until it comes.
            thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let Ok(reader) = stream.try_clone() else {
                        continue;
                    };
                    forward_reads(reader, host_tx.clone());
                    let mut writer = stream;
                    for bytes in &out_rx {
                        if writer.write_all(&bytes).is_err() {
                            break;
                        }
                    }
                }
            });
            Ok(Link {
                from_host,
                to_host: out_tx,
                description: format!("tcp:{local}"),
            })
        }
        Endpoint::Pty => {
            let pty = nix::pty::openpty(None, None).context("opening a pseudo-terminal")?;
            // Raw mode: bytes pass unchanged (no echo, no line editing, no CR/LF mapping).
            let mut attrs = nix::sys::termios::tcgetattr(&pty.slave)?;
            nix::sys::termios::cfmakeraw(&mut attrs);
            nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &attrs)?;
            let path = nix::unistd::ttyname(&pty.slave)
                .context("naming the pseudo-terminal")?
                .display()
                .to_string();
            // Keep the slave open so that reads of the master do not fail before a tool opens it.
            std::mem::forget(pty.slave);
            let master = File::from(pty.master);
            forward_reads(master.try_clone()?, host_tx);
            Ok(Link {
                from_host,
                to_host: forward_writes(master),
                description: path,
            })
        }
    }
}

/// Reject two UARTs on stdio: they would share one input.
pub fn check_endpoints<'a>(endpoints: impl Iterator<Item = &'a Endpoint>) -> Result<()> {
    if endpoints.filter(|e| **e == Endpoint::Stdio).count() > 1 {
        bail!("only one UART can use stdio");
    }
    Ok(())
}
