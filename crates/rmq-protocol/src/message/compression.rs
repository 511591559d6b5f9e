//! Body compression: ZLIB, LZ4 (frame format) and ZSTD, as the Java client writes them.
//!
//! | type | wire format | Java implementation |
//! |---|---|---|
//! | [`CompressionType::Zlib`] | RFC 1950 zlib stream | `java.util.zip.Deflater` / `InflaterInputStream` |
//! | [`CompressionType::Lz4`] | LZ4 **frame** format | lz4-java `LZ4FrameOutputStream` / `LZ4FrameInputStream` |
//! | [`CompressionType::Zstd`] | zstd frame(s) | zstd-jni `ZstdOutputStream` / `ZstdInputStream` |
//!
//! Decompression always takes a size limit so that a small hostile body cannot expand without bound.

use std::io::{Read, Write};

use crate::error::{ProtocolError, Result};
use crate::message::sysflag;

/// The Java client's compression level (`rocketmq.message.compressLevel`).
pub const DEFAULT_COMPRESS_LEVEL: i32 = 5;

/// A body compression algorithm, identified in the message sysFlag by bits 8..=10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CompressionType {
    /// LZ4 frame format (type value 1, sysFlag `0x100`).
    Lz4,
    /// Zstandard (type value 2, sysFlag `0x200`).
    Zstd,
    /// zlib / RFC 1950 (type value 3, sysFlag `0x300`; value 0 also means zlib). The Java default.
    #[default]
    Zlib,
}

impl CompressionType {
    /// Java's `CompressionType.getValue()`: 1 = LZ4, 2 = ZSTD, 3 = ZLIB.
    pub fn value(self) -> i32 {
        match self {
            CompressionType::Lz4 => 1,
            CompressionType::Zstd => 2,
            CompressionType::Zlib => 3,
        }
    }

    /// Java's `CompressionType.findByValue`: 0 and 3 are ZLIB (0 for messages from old clients).
    pub fn from_value(value: i32) -> Result<Self> {
        match value {
            1 => Ok(CompressionType::Lz4),
            2 => Ok(CompressionType::Zstd),
            0 | 3 => Ok(CompressionType::Zlib),
            other => Err(ProtocolError::UnknownCompression(other << 8)),
        }
    }

    /// The compression type encoded in a message sysFlag (bits 8..=10), whatever the COMPRESSED bit says.
    pub fn from_sys_flag(sys_flag: i32) -> Result<Self> {
        match sys_flag & sysflag::COMPRESSION_TYPE_MASK {
            sysflag::COMPRESSION_LZ4 => Ok(CompressionType::Lz4),
            sysflag::COMPRESSION_ZSTD => Ok(CompressionType::Zstd),
            0 | sysflag::COMPRESSION_ZLIB => Ok(CompressionType::Zlib),
            other => Err(ProtocolError::UnknownCompression(other)),
        }
    }

    /// The sysFlag bits announcing this type (`0x100`, `0x200` or `0x300`); OR them with
    /// [`sysflag::COMPRESSED`].
    pub fn sys_flag_bits(self) -> i32 {
        self.value() << 8
    }

    /// Parse a name as Java's `CompressionType.of` does (trimmed, case-insensitive `LZ4`/`ZSTD`/`ZLIB`).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("LZ4") {
            Some(CompressionType::Lz4)
        } else if name.eq_ignore_ascii_case("ZSTD") {
            Some(CompressionType::Zstd)
        } else if name.eq_ignore_ascii_case("ZLIB") {
            Some(CompressionType::Zlib)
        } else {
            None
        }
    }

    /// The upper-case name (`"LZ4"`, `"ZSTD"`, `"ZLIB"`).
    pub fn name(self) -> &'static str {
        match self {
            CompressionType::Lz4 => "LZ4",
            CompressionType::Zstd => "ZSTD",
            CompressionType::Zlib => "ZLIB",
        }
    }
}

/// Compress `data` with `ty` at `level` (the Java client uses [`DEFAULT_COMPRESS_LEVEL`]).
///
/// The level is clamped to what the algorithm accepts (zlib 0..=9, zstd its own range); LZ4 frame
/// compression has no level (like Java's `LZ4FrameOutputStream`).
pub fn compress(ty: CompressionType, level: i32, data: &[u8]) -> Result<Vec<u8>> {
    let failed = |e: std::io::Error| ProtocolError::Compress(e.to_string());
    match ty {
        CompressionType::Zlib => {
            let level = flate2::Compression::new(level.clamp(0, 9) as u32);
            let mut enc = flate2::write::ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 64), level);
            enc.write_all(data).map_err(failed)?;
            enc.finish().map_err(failed)
        }
        CompressionType::Lz4 => {
            let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(data.len() / 2 + 64));
            enc.write_all(data).map_err(failed)?;
            enc.finish().map_err(|e| ProtocolError::Compress(e.to_string()))
        }
        CompressionType::Zstd => {
            let range = zstd::compression_level_range();
            let level = level.clamp(*range.start(), *range.end());
            zstd::bulk::compress(data, level).map_err(failed)
        }
    }
}

/// Decompress `data` compressed with `ty`, failing with [`ProtocolError::TooLarge`] rather than producing
/// more than `max_len` bytes, and with [`ProtocolError::Decompress`] on corrupt or truncated input.
///
/// Bytes after the end of a zlib stream are ignored (as `InflaterInputStream` does); LZ4 and zstd accept
/// several concatenated frames. An LZ4 frame cut exactly at a block boundary (or inside its end mark)
/// decodes to the blocks before the cut, as `lz4_flex` does not require the end mark.
pub fn decompress(ty: CompressionType, data: &[u8], max_len: usize) -> Result<Vec<u8>> {
    // The output grows while it is produced (the size is not known up front). Growing the result
    // itself would reallocate it a dozen times on the way to 1 MiB and leave up to half of it
    // spare, and a body kept in a consumer's cache would hold that too. So decompress into this
    // thread's scratch buffer and return an exact copy: one allocation of the right size.
    SCRATCH.with_borrow_mut(|scratch| {
        scratch.clear();
        let out = decompress_into(ty, data, max_len, scratch).map(|()| scratch.to_vec());
        if scratch.capacity() > SCRATCH_KEEP {
            *scratch = Vec::new();
        }
        out
    })
}

/// [`decompress`] into the empty `out`.
fn decompress_into(ty: CompressionType, data: &[u8], max_len: usize, out: &mut Vec<u8>) -> Result<()> {
    match ty {
        CompressionType::Zlib => inflate_zlib(data, max_len, out),
        CompressionType::Lz4 => {
            read_limited(lz4_flex::frame::FrameDecoder::new(data), data.len(), max_len, out)
        }
        CompressionType::Zstd => {
            // zstd's default window limit (2^27, as in zstd-jni) bounds the decoder's own buffers.
            let dec = zstd::stream::read::Decoder::with_buffer(data).map_err(decompress_failed)?;
            read_limited(dec, data.len(), max_len, out)
        }
    }
}

thread_local! {
    /// Decompression output buffer, reused by the calls on this thread.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest scratch buffer a thread keeps (the broker's default message size limit); a larger
/// one, grown for an unusual body, is freed after use.
const SCRATCH_KEEP: usize = 4 * 1024 * 1024;

fn decompress_failed(e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Decompress(e.to_string())
}

fn too_large(len: usize, max: usize) -> ProtocolError {
    ProtocolError::TooLarge {
        what: "decompressed body",
        len,
        max,
    }
}

/// A first guess at the output size that never exceeds the limit.
fn initial_capacity(input_len: usize, max_len: usize) -> usize {
    input_len
        .saturating_mul(4)
        .saturating_add(64)
        .min(max_len.saturating_add(1))
}

/// Reads everything `reader` produces, up to `max_len` bytes, into the empty `out`.
fn read_limited<R: Read>(reader: R, input_len: usize, max_len: usize, out: &mut Vec<u8>) -> Result<()> {
    out.reserve(initial_capacity(input_len, max_len));
    let limit = (max_len as u64).saturating_add(1);
    reader.take(limit).read_to_end(out).map_err(decompress_failed)?;
    if out.len() > max_len {
        return Err(too_large(out.len(), max_len));
    }
    Ok(())
}

/// Inflates the zlib stream `data`, up to `max_len` bytes, into the empty `out`.
fn inflate_zlib(data: &[u8], max_len: usize, out: &mut Vec<u8>) -> Result<()> {
    use flate2::{Decompress, FlushDecompress, Status};

    let mut inflater = Decompress::new(true);
    out.reserve(initial_capacity(data.len(), max_len));
    loop {
        if out.len() == out.capacity() {
            if out.len() > max_len {
                return Err(too_large(out.len(), max_len));
            }
            let room = out.len().max(4096).min(max_len.saturating_add(1) - out.len());
            out.reserve_exact(room);
        }
        let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
        let consumed = usize::try_from(in_before).unwrap_or(usize::MAX).min(data.len());
        let status = inflater
            .decompress_vec(&data[consumed..], out, FlushDecompress::None)
            .map_err(decompress_failed)?;
        if out.len() > max_len {
            return Err(too_large(out.len(), max_len));
        }
        match status {
            Status::StreamEnd => return Ok(()),
            Status::Ok | Status::BufError => {
                let progressed = inflater.total_in() != in_before || inflater.total_out() != out_before;
                if !progressed && out.len() < out.capacity() {
                    return Err(ProtocolError::Decompress("unexpected end of zlib stream".into()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CompressionType; 3] = [CompressionType::Zlib, CompressionType::Lz4, CompressionType::Zstd];

    fn sample() -> Vec<u8> {
        (0..10_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect()
    }

    #[test]
    fn output_is_one_allocation_of_its_exact_size() {
        // Highly compressible: the output grows from a small first guess by doubling.
        let data = vec![b'x'; (1 << 20) + 100];
        for ty in ALL {
            let packed = compress(ty, DEFAULT_COMPRESS_LEVEL, &data).unwrap();
            let plain = decompress(ty, &packed, crate::message::DEFAULT_MAX_BODY).unwrap();
            assert_eq!(plain, data, "{ty:?}");
            assert_eq!(plain.capacity(), plain.len(), "{ty:?}");
        }
    }

    #[test]
    fn round_trip_each_type() {
        let data = sample();
        for ty in ALL {
            let packed = compress(ty, DEFAULT_COMPRESS_LEVEL, &data).unwrap();
            assert!(packed.len() < data.len() / 2, "{ty:?} did not compress");
            assert_eq!(decompress(ty, &packed, data.len()).unwrap(), data, "{ty:?}");
            assert_eq!(decompress(ty, &compress(ty, 5, b"").unwrap(), 0).unwrap(), b"");
        }
    }

    #[test]
    fn wire_formats() {
        // zlib header 0x78 (deflate, 32 KiB window), LZ4 frame magic 0x184D2204 (LE), zstd magic 0xFD2FB528 (LE).
        assert_eq!(compress(CompressionType::Zlib, 5, b"abc").unwrap()[0], 0x78);
        assert_eq!(
            &compress(CompressionType::Lz4, 5, b"abc").unwrap()[..4],
            &[0x04, 0x22, 0x4D, 0x18]
        );
        assert_eq!(
            &compress(CompressionType::Zstd, 5, b"abc").unwrap()[..4],
            &[0x28, 0xB5, 0x2F, 0xFD]
        );
    }

    #[test]
    fn known_zlib_stream_from_java_deflater() {
        // java.util.zip.Deflater(5) over "hello": 78 5E CB 48 CD C9 C9 07 00 06 2C 02 15
        let java = [
            0x78, 0x5E, 0xCB, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x06, 0x2C, 0x02, 0x15,
        ];
        assert_eq!(decompress(CompressionType::Zlib, &java, 100).unwrap(), b"hello");
        // Trailing bytes after the stream end are ignored, like InflaterInputStream.
        let mut trailing = java.to_vec();
        trailing.extend_from_slice(b"junk");
        assert_eq!(
            decompress(CompressionType::Zlib, &trailing, 100).unwrap(),
            b"hello"
        );
    }

    #[test]
    fn limit_is_enforced() {
        let data = vec![0u8; 1 << 20];
        for ty in ALL {
            let packed = compress(ty, 5, &data).unwrap();
            assert!(packed.len() < 8 << 10, "{ty:?} bomb too big");
            assert_eq!(decompress(ty, &packed, 1 << 20).unwrap().len(), 1 << 20);
            match decompress(ty, &packed, (1 << 20) - 1) {
                Err(ProtocolError::TooLarge { max, .. }) => assert_eq!(max, (1 << 20) - 1),
                other => panic!("{ty:?}: expected TooLarge, got {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_and_corrupt_input_fail() {
        let data = sample();
        for ty in ALL {
            let packed = compress(ty, 5, &data).unwrap();
            // lz4_flex treats end of input at a block boundary (even inside the end mark) as the end of
            // the frame, so only cuts inside the header or a block are detected for LZ4.
            let last = if ty == CompressionType::Lz4 {
                packed.len() - 5
            } else {
                packed.len() - 1
            };
            for cut in [1, packed.len() / 2, last] {
                assert!(
                    decompress(ty, &packed[..cut], 1 << 20).is_err(),
                    "{ty:?} accepted a stream cut at {cut}"
                );
            }
            assert!(decompress(ty, b"", 1 << 20).is_err() || ty == CompressionType::Lz4);
            assert!(
                decompress(ty, b"definitely not compressed", 1 << 20).is_err(),
                "{ty:?}"
            );
        }
    }

    #[test]
    fn type_bits() {
        assert_eq!(
            CompressionType::from_sys_flag(0x1).unwrap(),
            CompressionType::Zlib
        );
        assert_eq!(
            CompressionType::from_sys_flag(0x301).unwrap(),
            CompressionType::Zlib
        );
        assert_eq!(
            CompressionType::from_sys_flag(0x101).unwrap(),
            CompressionType::Lz4
        );
        assert_eq!(
            CompressionType::from_sys_flag(0x201).unwrap(),
            CompressionType::Zstd
        );
        assert_eq!(
            CompressionType::from_sys_flag(0x401),
            Err(ProtocolError::UnknownCompression(0x400))
        );
        assert_eq!(CompressionType::from_value(0).unwrap(), CompressionType::Zlib);
        assert!(CompressionType::from_value(7).is_err());
        for ty in ALL {
            assert_eq!(CompressionType::from_sys_flag(ty.sys_flag_bits()).unwrap(), ty);
            assert_eq!(CompressionType::from_value(ty.value()).unwrap(), ty);
            assert_eq!(
                CompressionType::from_name(&format!(" {} ", ty.name().to_lowercase())),
                Some(ty)
            );
        }
        assert_eq!(CompressionType::from_name("gzip"), None);
    }
}
