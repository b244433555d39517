//! Bounds-checked byte cursors. All parsing and encoding goes through these so that no input
//! can make the crate index out of bounds: every access is `get`/`get_mut` based.

use crate::error::{Error, Result};

/// Sequential little-/big-endian reader over a borrowed slice.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let too_short = Error::TooShort {
            what: self.what,
            needed: self.pos.saturating_add(n),
            got: self.buf.len(),
        };
        let end = self.pos.checked_add(n).ok_or(too_short)?;
        let s = self.buf.get(self.pos..end).ok_or(too_short)?;
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let what = self.what;
        let got = self.buf.len();
        let s = self.take(N)?;
        <[u8; N]>::try_from(s).map_err(|_| Error::TooShort {
            what,
            needed: N,
            got,
        })
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub(crate) fn u16_le(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u16_be(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32_le(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

/// Sequential writer over a borrowed mutable slice. The capacity is checked once up front so
/// that a failed encode leaves the output untouched; any later overrun (a bug in the computed
/// length) is reported by [`Writer::finish`] instead of panicking.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    what: &'static str,
    overflow: bool,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8], needed: usize, what: &'static str) -> Result<Self> {
        if buf.len() < needed {
            return Err(Error::BufferTooSmall {
                what,
                needed,
                got: buf.len(),
            });
        }
        Ok(Self {
            buf,
            pos: 0,
            what,
            overflow: false,
        })
    }

    pub(crate) fn put(&mut self, src: &[u8]) {
        let dst = self
            .pos
            .checked_add(src.len())
            .and_then(|end| self.buf.get_mut(self.pos..end));
        match dst {
            Some(d) => {
                d.copy_from_slice(src);
                self.pos = self.pos.saturating_add(src.len());
            }
            None => self.overflow = true,
        }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }

    pub(crate) fn u16_le(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }

    pub(crate) fn u16_be(&mut self, v: u16) {
        self.put(&v.to_be_bytes());
    }

    pub(crate) fn u32_le(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }

    pub(crate) fn u64_le(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }

    /// Bytes written, or an error if a write did not fit.
    pub(crate) fn finish(self) -> Result<usize> {
        if self.overflow {
            Err(Error::BufferTooSmall {
                what: self.what,
                needed: self.buf.len().saturating_add(1),
                got: self.buf.len(),
            })
        } else {
            Ok(self.pos)
        }
    }
}

/// Mutable tail of `buf` starting at `offset`, or `BufferTooSmall`.
pub(crate) fn tail_mut<'a>(
    buf: &'a mut [u8],
    offset: usize,
    what: &'static str,
) -> Result<&'a mut [u8]> {
    let len = buf.len();
    buf.get_mut(offset..).ok_or(Error::BufferTooSmall {
        what,
        needed: offset,
        got: len,
    })
}

/// Tail of `buf` starting at `offset`, or `TooShort`.
pub(crate) fn tail<'a>(buf: &'a [u8], offset: usize, what: &'static str) -> Result<&'a [u8]> {
    buf.get(offset..).ok_or(Error::TooShort {
        what,
        needed: offset,
        got: buf.len(),
    })
}
