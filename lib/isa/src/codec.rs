//! Integer codecs of the Gray Paper (Appendix C): the variable-length natural-number
//! encoding `E` (C.1.7, eq. C.12), fixed-width little-endian `E_l` (C.1.1), and the
//! LSB-first bit sequences used by the opcode mask (C.1.4).
//!
//! Every decoder takes the byte offset of its input within the whole file so that errors
//! say where they happened.

use crate::error::{DecodeError, DecodeErrorKind};

/// Largest number of bytes the variable-length encoding uses (a `0xff` prefix + 8 bytes).
pub const MAX_VARINT_LEN: usize = 9;

/// Appends the canonical (shortest) variable-length encoding of `value` to `out`.
pub fn encode_varint(value: u64, out: &mut Vec<u8>) {
    let len = varint_len(value);
    if len == MAX_VARINT_LEN {
        out.push(0xff);
        out.extend_from_slice(&value.to_le_bytes());
        return;
    }
    // `l` = number of trailing little-endian bytes.
    let l = len - 1;
    let prefix = (0xffu32 << (8 - l)) as u8;
    let high = (value >> (8 * l)) as u8;
    out.push(prefix | high);
    out.extend_from_slice(&value.to_le_bytes()[..l]);
}

/// The canonical variable-length encoding of `value` as a new vector.
pub fn varint_bytes(value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_VARINT_LEN);
    encode_varint(value, &mut out);
    out
}

/// Number of bytes of the canonical variable-length encoding of `value` (1..=9).
pub fn varint_len(value: u64) -> usize {
    // The smallest l in 0..=7 with value < 2^(7(l+1)), else the 9-byte form.
    for l in 0..8 {
        if value < 1u64 << (7 * (l + 1)) {
            return l + 1;
        }
    }
    MAX_VARINT_LEN
}

/// A decoded variable-length natural number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Varint {
    /// The value.
    pub value: u64,
    /// Bytes the encoding took.
    pub len: usize,
    /// Whether the encoding is the shortest one for `value` (the Gray Paper's encoding
    /// is canonical; a longer form is accepted by lenient readers but is not a valid blob).
    pub canonical: bool,
}

/// Decodes a variable-length natural number at the start of `bytes`; `offset` is the
/// position of `bytes` within the file, for error messages.
pub fn decode_varint(bytes: &[u8], offset: usize) -> Result<Varint, DecodeError> {
    let Some(&first) = bytes.first() else {
        return Err(DecodeError::new(offset, DecodeErrorKind::Truncated("variable-length integer")));
    };
    let l = first.leading_ones() as usize;
    let needed = if l == 8 { 9 } else { l + 1 };
    if bytes.len() < needed {
        return Err(DecodeError::new(offset, DecodeErrorKind::Truncated("variable-length integer")));
    }
    let value = if l == 8 {
        read_le(&bytes[1..9])
    } else {
        let high = u64::from(first & (0x7f >> l));
        (high << (8 * l)) | read_le(&bytes[1..=l])
    };
    Ok(Varint { value, len: needed, canonical: varint_len(value) == needed })
}

/// Reads up to 8 bytes as a little-endian unsigned number.
pub fn read_le(bytes: &[u8]) -> u64 {
    debug_assert!(bytes.len() <= 8);
    bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Appends the low `len` bytes of `value`, little-endian (`E_len`).
pub fn write_le(value: u64, len: usize, out: &mut Vec<u8>) {
    debug_assert!(len <= 8);
    out.extend_from_slice(&value.to_le_bytes()[..len]);
}

/// Sign-extends the low `len` bytes of `value` (Gray Paper `X_len`; `len` 0 gives 0).
pub fn sign_extend(value: u64, len: usize) -> u64 {
    match len {
        0 => 0,
        8.. => value,
        _ => {
            let shift = 64 - 8 * len as u32;
            (((value << shift) as i64) >> shift) as u64
        }
    }
}

/// Number of bytes (0..=4) of the shortest immediate that sign-extends back to `value`,
/// or `None` when no 4-byte immediate can express it.
pub fn imm_len(value: u64) -> Option<usize> {
    (0..=4).find(|&len| sign_extend(value, len) == value)
}

/// Bit `index` of an LSB-first packed bit sequence; bits past the end read as `past_end`.
pub fn bit(bits: &[u8], index: usize, past_end: bool) -> bool {
    bits.get(index / 8).map_or(past_end, |byte| byte >> (index % 8) & 1 == 1)
}

/// Packs booleans LSB-first into bytes, zero-padding the last byte.
pub fn pack_bits(bits: impl IntoIterator<Item = bool>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, set) in bits.into_iter().enumerate() {
        if i % 8 == 0 {
            out.push(0);
        }
        if set {
            *out.last_mut().expect("pushed above") |= 1 << (i % 8);
        }
    }
    out
}

/// A cursor over a byte slice that reports errors with absolute file offsets.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, which start at file offset `base`.
    pub fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader { bytes, pos: 0, base }
    }

    /// Absolute file offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    /// Reads a variable-length natural number; a non-canonical encoding is an error
    /// naming `what`.
    pub fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let start = self.offset();
        let v = decode_varint(self.remaining(), start)
            .map_err(|e| DecodeError::new(e.offset, DecodeErrorKind::Truncated(what)))?;
        if !v.canonical {
            return Err(DecodeError::new(start, DecodeErrorKind::NonCanonicalVarint(what)));
        }
        self.pos += v.len;
        Ok(v.value)
    }

    /// Reads a `len`-byte little-endian number.
    pub fn fixed(&mut self, len: usize, what: &'static str) -> Result<u64, DecodeError> {
        Ok(read_le(self.bytes(len, what)?))
    }

    /// Takes the next `len` bytes.
    pub fn bytes(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let available = self.bytes.len() - self.pos;
        if available < len {
            return Err(DecodeError::new(
                self.offset(),
                DecodeErrorKind::PastEnd { what, needed: len as u64, available: available as u64 },
            ));
        }
        let out = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    /// Fails unless every byte has been read.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        let left = self.bytes.len() - self.pos;
        if left == 0 {
            Ok(())
        } else {
            Err(DecodeError::new(self.offset(), DecodeErrorKind::TrailingBytes { what, count: left }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every length boundary of the encoding, with its exact bytes.
    #[test]
    fn varint_boundaries() {
        let cases: &[(u64, &str)] = &[
            (0, "00"),
            (1, "01"),
            ((1 << 7) - 1, "7f"),
            (1 << 7, "8080"),
            (300, "812c"),
            ((1 << 14) - 1, "bfff"),
            (1 << 14, "c00040"),
            ((1 << 21) - 1, "dfffff"),
            (1 << 21, "e0000020"),
            ((1 << 28) - 1, "efffffff"),
            (1 << 28, "f000000010"),
            (1 << 29, "f000000020"),
            (1 << 32, "f100000000"),
            ((1 << 35) - 1, "f7ffffffff"),
            (1 << 35, "f80000000008"),
            ((1 << 42) - 1, "fbffffffffff"),
            (1 << 42, "fc000000000004"),
            ((1 << 49) - 1, "fdffffffffffff"),
            (1 << 49, "fe00000000000002"),
            ((1 << 56) - 1, "feffffffffffffff"),
            (1 << 56, "ff0000000000000001"),
            (u64::MAX, "ffffffffffffffffff"),
        ];
        for &(value, hex) in cases {
            let bytes = varint_bytes(value);
            let got: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(got, hex, "encoding of {value}");
            assert_eq!(varint_len(value), bytes.len());
            let decoded = decode_varint(&bytes, 0).unwrap();
            assert_eq!(decoded, Varint { value, len: bytes.len(), canonical: true });
        }
    }

    #[test]
    fn non_canonical_varint_is_flagged() {
        // 5 encoded with one trailing byte.
        let v = decode_varint(&[0x80, 0x05], 0).unwrap();
        assert_eq!(v, Varint { value: 5, len: 2, canonical: false });
        let err = Reader::new(&[0x80, 0x05], 10).varint("code length").unwrap_err();
        assert_eq!(err.to_string(), "offset 0xa: non-canonical variable-length encoding of code length");
    }

    #[test]
    fn sign_extension_and_immediate_lengths() {
        assert_eq!(sign_extend(0xff, 1), u64::MAX);
        assert_eq!(sign_extend(0x04d2, 2), 1234);
        assert_eq!(sign_extend(0x80, 1), (-128i64) as u64);
        assert_eq!(sign_extend(0x1234, 0), 0);
        assert_eq!(imm_len(0), Some(0));
        assert_eq!(imm_len(127), Some(1));
        assert_eq!(imm_len(128), Some(2));
        assert_eq!(imm_len((-128i64) as u64), Some(1));
        assert_eq!(imm_len((-129i64) as u64), Some(2));
        assert_eq!(imm_len(0x7fff_ffff), Some(4));
        assert_eq!(imm_len(0x8000_0000), None);
        assert_eq!(imm_len(0xffff_ffff_8000_0000), Some(4));
    }

    #[test]
    fn bits_round_trip() {
        let bits = [true, false, false, true, false, true, true, false, true];
        let packed = pack_bits(bits);
        assert_eq!(packed, vec![0x69, 0x01]);
        for (i, &b) in bits.iter().enumerate() {
            assert_eq!(bit(&packed, i, true), b);
        }
        assert!(bit(&packed, 100, true));
        assert!(!bit(&packed, 100, false));
    }

    proptest! {
        #[test]
        fn varint_round_trip(value: u64) {
            let bytes = varint_bytes(value);
            let decoded = decode_varint(&bytes, 0).unwrap();
            prop_assert_eq!(decoded.value, value);
            prop_assert_eq!(decoded.len, bytes.len());
            prop_assert!(decoded.canonical);
            for cut in 0..bytes.len() {
                let err = decode_varint(&bytes[..cut], 7).unwrap_err();
                prop_assert_eq!(err.kind, DecodeErrorKind::Truncated("variable-length integer"));
                prop_assert_eq!(err.offset, 7);
            }
        }

        #[test]
        fn varint_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let _ = decode_varint(&bytes, 0);
        }
    }
}
