//! A bounds-checked big-endian reader over a byte slice: every read checks the remaining length first
//! and reports which field was cut short, so decoders never panic and never allocate for a length the
//! input cannot hold.

use crate::error::{ProtocolError, Result};

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Take the next `n` bytes, or fail with `Truncated(what)`.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(ProtocolError::Truncated(what)),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(crate) fn i8(&mut self, what: &'static str) -> Result<i8> {
        Ok(i8::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn bytes16(&mut self, what: &'static str) -> Result<[u8; 16]> {
        self.array(what)
    }

    pub(crate) fn bytes4(&mut self, what: &'static str) -> Result<[u8; 4]> {
        self.array(what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let data = [0x80, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFE, 9];
        let mut c = Cursor::new(&data);
        assert_eq!(c.i8("a").unwrap(), -128);
        assert_eq!(c.i16("b").unwrap(), 1);
        assert_eq!(c.i32("c").unwrap(), -2);
        assert_eq!(c.pos(), 7);
        assert_eq!(c.i16("d"), Err(ProtocolError::Truncated("d")));
        assert_eq!(c.take(usize::MAX, "e"), Err(ProtocolError::Truncated("e")));
        assert_eq!(c.take(1, "f").unwrap(), &[9]);
        assert_eq!(c.take(0, "g").unwrap(), &[] as &[u8]);
    }
}
