//! The JAM-SDK layout of the `.jam` metadata bytes (`../shared/docs/jam-services.md`):
//! a format version byte (0), then the name, version, licence and each author as
//! length-prefixed UTF-8 strings (GP natural-number lengths), the authors preceded by
//! their count. The PVM never reads these bytes; the layout is a convention of the tools
//! that build and inspect service code.

use crate::codec::{Reader, encode_varint};
use crate::error::{DecodeError, DecodeErrorKind};

/// The only format version of the layout.
pub const FORMAT_VERSION: u8 = 0;

/// Service metadata in the JAM-SDK layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The service's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its licence.
    pub license: String,
    /// Its authors.
    pub authors: Vec<String>,
}

impl Metadata {
    /// The metadata bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_VERSION];
        let text = |s: &str, out: &mut Vec<u8>| {
            encode_varint(s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        };
        text(&self.name, &mut out);
        text(&self.version, &mut out);
        text(&self.license, &mut out);
        encode_varint(self.authors.len() as u64, &mut out);
        for author in &self.authors {
            text(author, &mut out);
        }
        out
    }

    /// Decodes metadata bytes found at file offset `base`; an error when they do not have
    /// exactly this layout (another format version, a length past the end, text that is
    /// not UTF-8, trailing bytes).
    pub fn decode(bytes: &[u8], base: usize) -> Result<Metadata, DecodeError> {
        let mut r = Reader::new(bytes, base);
        let version = r.fixed(1, "metadata format version")?;
        if version != u64::from(FORMAT_VERSION) {
            return Err(DecodeError::new(
                base,
                DecodeErrorKind::Invalid(format!("metadata format version {version}; only {FORMAT_VERSION} is known")),
            ));
        }
        let name = text(&mut r, "metadata name")?;
        let version = text(&mut r, "metadata version")?;
        let license = text(&mut r, "metadata licence")?;
        let count = r.varint("metadata author count")?;
        // Each author takes at least one byte, which bounds the count by the input.
        if count > r.remaining().len() as u64 {
            return Err(DecodeError::new(
                r.offset(),
                DecodeErrorKind::PastEnd {
                    what: "metadata authors",
                    needed: count,
                    available: r.remaining().len() as u64,
                },
            ));
        }
        let authors = (0..count).map(|_| text(&mut r, "metadata author")).collect::<Result<_, _>>()?;
        r.finish("the metadata")?;
        Ok(Metadata { name, version, license, authors })
    }
}

fn text(r: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    let at = r.offset();
    let len = r.varint(what)?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let bytes = r.bytes(len, what)?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| DecodeError::new(at, DecodeErrorKind::Invalid(format!("{what} is not UTF-8"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk_example() -> Metadata {
        Metadata {
            name: "example".into(),
            version: "0.0.1".into(),
            license: "MPL2".into(),
            authors: vec!["Fluffy Labs <hello@fluffylabs.dev>".into()],
        }
    }

    /// The bytes of the JAM-SDK `fib` service's metadata (jam-services.md).
    #[test]
    fn encodes_the_sdk_layout() {
        let mut expected = vec![0, 7];
        expected.extend_from_slice(b"example");
        expected.push(5);
        expected.extend_from_slice(b"0.0.1");
        expected.push(4);
        expected.extend_from_slice(b"MPL2");
        expected.extend_from_slice(&[1, 0x22]);
        expected.extend_from_slice(b"Fluffy Labs <hello@fluffylabs.dev>");
        assert_eq!(sdk_example().encode(), expected);
        assert_eq!(Metadata::decode(&expected, 1).unwrap(), sdk_example());
    }

    #[test]
    fn long_fields_use_multi_byte_lengths() {
        let m = Metadata { name: "n".repeat(200), authors: vec!["a".into(), "b".into()], ..Metadata::default() };
        let bytes = m.encode();
        assert_eq!(&bytes[1..3], &[0x80, 200]);
        assert_eq!(Metadata::decode(&bytes, 0).unwrap(), m);
    }

    #[test]
    fn other_layouts_are_errors() {
        let bytes = sdk_example().encode();
        for cut in 0..bytes.len() {
            assert!(Metadata::decode(&bytes[..cut], 0).is_err(), "cut at {cut}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Metadata::decode(&trailing, 1).unwrap_err().to_string(),
            format!("offset {:#x}: 1 trailing bytes after the metadata", bytes.len() + 1)
        );
        assert_eq!(
            Metadata::decode(b"service v1", 1).unwrap_err().to_string(),
            "offset 0x1: metadata format version 115; only 0 is known"
        );
        assert_eq!(
            Metadata::decode(&[0, 1, 0xff, 0, 0, 0], 0).unwrap_err().to_string(),
            "offset 0x1: metadata name is not UTF-8"
        );
        assert_eq!(
            Metadata::decode(&[0, 0, 0, 0, 0x7f], 0).unwrap_err().to_string(),
            "offset 0x5: metadata authors needs 127 bytes but only 0 remain"
        );
    }
}
