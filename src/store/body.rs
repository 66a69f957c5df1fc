//! How a message's bytes are kept in `messages.raw`.
//!
//! Every message is stored exactly as it arrived or left (the bytes are the
//! legal record of what was exchanged), but not uncompressed: iStandaarden
//! XML repeats its namespace prefixes and element names on every line and
//! shrinks to a fifth or less with zstd, and the raw bytes were most of what
//! a stored message cost. Messages are small (a retour is one or two KB), so
//! most of what zstd would learn per message is the standard's vocabulary;
//! a dictionary trained on the project's own messages
//! (`schemas/store/messages-1.zdict`, `examples/train_message_dictionary.rs`)
//! starts every message with it and halves the compressed size again.
//!
//! `messages.raw_encoding` says how the bytes of one row are kept, so rows
//! written before compression (`identity`) stay readable as they are, and a
//! row that would not get smaller stays plain. A dictionary in use is never
//! changed: a better one gets the next number and encoding, and the old one
//! stays to read the rows it wrote.
//!
//! Compression runs where the message is checked (in the parallel stage of
//! the ingest, not in its single writer); decompression runs only where the
//! bytes are needed: a resend's stored retour, a download, the outbox worker.

use anyhow::{Context, Result, bail};

/// `messages.raw_encoding` of bytes kept as they are.
pub const IDENTITY: &str = "identity";
/// `messages.raw_encoding` of a zstd frame without a dictionary.
pub const ZSTD: &str = "zstd";
/// `messages.raw_encoding` of a zstd frame made with dictionary 1.
pub const ZSTD_D1: &str = "zstd-d1";

/// Dictionary 1: the iWmo and iJw messages and retours of `fixtures/`.
static DICTIONARY_1: &[u8] = include_bytes!("../../schemas/store/messages-1.zdict");

/// Dictionary 1 prepared once for compressing and for decompressing (each
/// preparation indexes its 16 KB; per message that would cost more than the
/// compression itself).
fn encoder_1() -> &'static zstd::dict::EncoderDictionary<'static> {
    static D: std::sync::OnceLock<zstd::dict::EncoderDictionary<'static>> =
        std::sync::OnceLock::new();
    D.get_or_init(|| zstd::dict::EncoderDictionary::copy(DICTIONARY_1, LEVEL))
}

fn decoder_1() -> &'static zstd::dict::DecoderDictionary<'static> {
    static D: std::sync::OnceLock<zstd::dict::DecoderDictionary<'static>> =
        std::sync::OnceLock::new();
    D.get_or_init(|| zstd::dict::DecoderDictionary::copy(DICTIONARY_1))
}

/// zstd's default level: within a few percent of the best ratio on XML of
/// this size, at several hundred MB/s on one core.
const LEVEL: i32 = 3;

/// Largest message loket ever unpacks: what it accepts (25 MiB by default)
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
    /// `raw` compressed with the current dictionary, or as it is when
    /// compression does not make it smaller (tiny bodies, random bytes).
    pub fn new(raw: &[u8]) -> Packed {
        thread_local! {
            /// One compression context per thread, reused: creating one
            /// per message cost about as much as compressing it.
            static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
                const { std::cell::RefCell::new(None) };
        }
        let packed = COMPRESSOR.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_none() {
                *c = Some(zstd::bulk::Compressor::with_prepared_dictionary(
                    encoder_1(),
                )?);
            }
            match c.as_mut() {
                Some(c) => c.compress(raw),
                None => Err(std::io::Error::other("no compressor")),
            }
        });
        match packed {
            Ok(z) if z.len() < raw.len() => Packed {
                bytes: z,
                encoding: ZSTD_D1,
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
        ZSTD => read_all(
            zstd::stream::read::Decoder::new(&bytes[..])
                .context("stored message: not a zstd frame")?,
        ),
        ZSTD_D1 => read_all(
            zstd::stream::read::Decoder::with_prepared_dictionary(&bytes[..], decoder_1())
                .context("stored message: not a zstd frame")?,
        ),
        other => bail!("stored message: unknown encoding {other:?}"),
    }
}

/// Everything `decoder` yields, up to [`MAX_UNPACKED`].
fn read_all(decoder: impl std::io::Read) -> Result<Vec<u8>> {
    let mut out = Vec::new();
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
        assert_eq!(p.encoding, ZSTD_D1);
        assert!(p.bytes.len() * 5 < xml.len(), "{} bytes", p.bytes.len());
        assert_eq!(unpack(p.encoding, p.bytes).unwrap(), xml.as_bytes());
    }

    /// Rows written without the dictionary stay readable.
    #[test]
    fn rows_without_dictionary_are_read() {
        let xml = b"<a>".repeat(100);
        let z = zstd::bulk::compress(&xml, LEVEL).unwrap();
        assert_eq!(unpack(ZSTD, z).unwrap(), xml);
    }

    /// The dictionary earns its place: a WMO301 fixture is at least a third
    /// smaller with it than without. (The fixture was among its training
    /// samples; on messages held out of training the gain measured 2.3x.)
    #[test]
    fn the_dictionary_shrinks_a_real_message() {
        let xml = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/iwmo/valid/WMO301_omvang.xml"
        ))
        .unwrap();
        let with = Packed::new(&xml);
        let without = zstd::bulk::compress(&xml, LEVEL).unwrap();
        assert!(
            with.bytes.len() * 3 < without.len() * 2,
            "{} with, {} without",
            with.bytes.len(),
            without.len()
        );
        assert_eq!(unpack(with.encoding, with.bytes).unwrap(), xml);
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
        assert!(unpack(ZSTD_D1, b"<not zstd>".to_vec()).is_err());
        let big: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut p = Packed::new(&big).bytes;
        p.truncate(p.len() / 2);
        assert!(unpack(ZSTD_D1, p).is_err());
        assert!(unpack("gzip", Vec::new()).is_err());
        assert_eq!(unpack_opt(None, None).unwrap(), None);
    }
}
