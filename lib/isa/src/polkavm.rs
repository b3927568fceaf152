//! Recognising a PolkaVM program blob (magic `PVM\0`), a different container from the
//! JAM program formats, so that every reader names it instead of failing on a length
//! field. Its header: the magic, a version byte (the instruction set; 3 is JAM v1), and
//! the blob's total length as a little-endian u64.

use crate::error::{DecodeError, DecodeErrorKind};

/// The magic bytes every PolkaVM program blob starts with.
pub const MAGIC: [u8; 4] = *b"PVM\0";

/// The header fields of a PolkaVM program blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolkaVmHeader {
    /// The blob version byte, if the file has one.
    pub version: Option<u8>,
    /// The blob length the header declares, if the file has the whole field.
    pub declared_length: Option<u64>,
}

impl PolkaVmHeader {
    /// The header, if `bytes` start with the PolkaVM magic.
    pub fn parse(bytes: &[u8]) -> Option<PolkaVmHeader> {
        let rest = bytes.strip_prefix(&MAGIC)?;
        let version = rest.first().copied();
        let declared_length = rest.get(1..9).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
        Some(PolkaVmHeader { version, declared_length })
    }

    /// The header fields as text, e.g. `blob version 3, declared length 1234 bytes`.
    pub fn describe(&self) -> String {
        let version = self.version.map_or_else(|| "no version byte".to_string(), |v| format!("blob version {v}"));
        match self.declared_length {
            Some(length) => format!("{version}, declared length {length} bytes"),
            None => format!("{version}, truncated length field"),
        }
    }
}

/// An error naming the file as a PolkaVM blob when `bytes` start with its magic.
pub fn reject(bytes: &[u8]) -> Result<(), DecodeError> {
    match PolkaVmHeader::parse(bytes) {
        Some(header) => Err(DecodeError::new(0, DecodeErrorKind::PolkaVmBlob(header.describe()))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_polkavm_blob_with_its_header() {
        let mut blob = b"PVM\0\x03".to_vec();
        blob.extend_from_slice(&42u64.to_le_bytes());
        blob.extend_from_slice(&[0; 29]);
        assert_eq!(PolkaVmHeader::parse(&blob), Some(PolkaVmHeader { version: Some(3), declared_length: Some(42) }));
        assert_eq!(
            reject(&blob).unwrap_err().to_string(),
            "offset 0x0: a PolkaVM blob, not a JAM program (magic `PVM\\0`, blob version 3, declared length 42 bytes)"
        );
        assert_eq!(
            reject(b"PVM\0").unwrap_err().to_string(),
            "offset 0x0: a PolkaVM blob, not a JAM program (magic `PVM\\0`, no version byte, truncated length field)"
        );
        assert!(reject(b"PVM").is_ok());
        assert!(reject(&[0, 0, 0, 0, 0]).is_ok());
    }
}
