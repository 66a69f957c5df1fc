//! How a message's bytes are kept in `messages.raw`.
//!
//! Every message is stored exactly as it arrived or left (the bytes are the
//! legal record of what was exchanged), but not uncompressed: iStandaarden
//! XML repeats its namespace prefixes and element names on every line and
//! shrinks to a fifth or less with zstd, and the raw bytes were most of what
//! a stored message cost. `messages.raw_encoding` says how the bytes of one
//! row are kept, so rows written before compression (`identity`) stay
//! readable as they are, and a row that would not get smaller stays plain.
//!
//! Compression runs where the message is checked (in the parallel stage of
//! the ingest, not in its single writer); decompression runs only where the
//! bytes are needed: a resend's stored retour, a download, the outbox worker.

use anyhow::{Context, Result, bail};

/// `messages.raw_encoding` of bytes kept as they are.
pub const IDENTITY: &str = "identity";
/// `messages.raw_encoding` of a zstd frame.
pub const ZSTD: &str = "zstd";

/// zstd's default level: within a few percent of the best ratio on XML of
/// this size, at several hundred MB/s on one core.
const LEVEL: i32 = 3;

/// Largest message loket ever unpacks: what it accepts (10 MiB by default)
/// and writes (a declaration of a large provider) stay far below; a corrupt
/// row must not become an allocation of any size.
const MAX_UNPACKED: u64 = 1024 * 1024 * 1024;

/// A message's bytes as stored: `bytes` in `encoding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub bytes: Vec<u8>,
    pub encoding: &'static str,
}

impl Packed {
    /// `raw` compressed, or as it is when compression does not make it
    /// smaller (tiny bodies, random bytes).
    pub fn new(raw: &[u8]) -> Packed {
        match zstd::bulk::compress(raw, LEVEL) {
            Ok(z) if z.len() < raw.len() => Packed {
                bytes: z,
                encoding: ZSTD,
            },
            _ => Packed {
                bytes: raw.to_vec(),
                encoding: IDENTITY,
            },
        }
    }
}

/// The original bytes of a stored row.
pub fn unpack(encoding: &str, bytes: Vec<u8>) -> Result<Vec<u8>> {
    match encoding {
        IDENTITY => Ok(bytes),
        ZSTD => {
            let mut out = Vec::new();
            let decoder = zstd::stream::read::Decoder::new(&bytes[..])
                .context("stored message: not a zstd frame")?;
            let n = std::io::copy(
                &mut std::io::Read::take(decoder, MAX_UNPACKED + 1),
                &mut out,
            )
            .context("stored message: corrupt zstd frame")?;
            if n > MAX_UNPACKED {
                bail!("stored message: larger than {MAX_UNPACKED} bytes unpacked");
            }
            Ok(out)
        }
        other => bail!("stored message: unknown encoding {other:?}"),
    }
}

/// [`unpack`] for a column that may be NULL (a LEFT JOIN without a match).
pub fn unpack_opt(encoding: Option<String>, bytes: Option<Vec<u8>>) -> Result<Option<Vec<u8>>> {
    match bytes {
        Some(b) => unpack(encoding.as_deref().unwrap_or(IDENTITY), b).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_compressed_and_comes_back_whole() {
        let xml = "<?xml version=\"1.0\"?><wmo:Bericht>".to_string()
            + &"<wmo:Client><wmo:Bsn>123456782</wmo:Bsn></wmo:Client>".repeat(50)
            + "</wmo:Bericht>";
        let p = Packed::new(xml.as_bytes());
        assert_eq!(p.encoding, ZSTD);
        assert!(p.bytes.len() * 5 < xml.len(), "{} bytes", p.bytes.len());
        assert_eq!(unpack(p.encoding, p.bytes).unwrap(), xml.as_bytes());
    }

    #[test]
    fn what_does_not_shrink_stays_plain() {
        let p = Packed::new(b"<a/>");
        assert_eq!(p.encoding, IDENTITY);
        assert_eq!(unpack(p.encoding, p.bytes).unwrap(), b"<a/>");
    }

    #[test]
    fn corrupt_or_unknown_rows_are_errors_not_panics() {
        assert!(unpack(ZSTD, b"<not zstd>".to_vec()).is_err());
        let mut p = Packed::new(&[b'x'; 10_000]).bytes;
        p.truncate(p.len() / 2);
        assert!(unpack(ZSTD, p).is_err());
        assert!(unpack("gzip", Vec::new()).is_err());
        assert_eq!(unpack_opt(None, None).unwrap(), None);
    }
}
