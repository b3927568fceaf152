//! Hexadecimal text, the one parser and printer of the workspace: the assembler's data
//! directives, `pvm-run`'s arguments and the tests all read hex through [`decode`].
//!
//! [`decode`] works on bytes, so any input (multi-byte UTF-8, invalid UTF-8) gets an
//! error naming the byte offset and the character found there, never a panic.

use std::fmt;

/// Why a hex text does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexError {
    /// A byte that is neither a hex digit nor ASCII whitespace, at this byte offset; the
    /// character there (U+FFFD when the bytes there are not UTF-8).
    NotHex {
        /// Byte offset into the text.
        offset: usize,
        /// The character found there.
        found: char,
    },
    /// The digits do not pair up into bytes.
    OddDigits {
        /// Number of digits.
        digits: usize,
    },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::NotHex { offset, found } => write!(f, "`{found}` at byte {offset} is not a hex digit"),
            HexError::OddDigits { digits } => write!(f, "an odd number of hex digits ({digits})"),
        }
    }
}

impl std::error::Error for HexError {}

/// Decodes hex digits (either case) into bytes; ASCII whitespace between digits is
/// ignored.
pub fn decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, HexError> {
    let text = text.as_ref();
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    let mut digits = 0;
    for (offset, &byte) in text.iter().enumerate() {
        if byte.is_ascii_whitespace() {
            continue;
        }
        let nibble = match byte {
            b'0'..=b'9' => byte - b'0',
            b'a'..=b'f' => byte - b'a' + 10,
            b'A'..=b'F' => byte - b'A' + 10,
            _ => return Err(HexError::NotHex { offset, found: char_at(text, offset) }),
        };
        digits += 1;
        match high.take() {
            Some(h) => out.push((h << 4) | nibble),
            None => high = Some(nibble),
        }
    }
    if high.is_some() {
        return Err(HexError::OddDigits { digits });
    }
    Ok(out)
}

/// Lower-case hex of `bytes`, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// The character that starts at `offset`, or U+FFFD if the bytes there are not UTF-8.
fn char_at(text: &[u8], offset: usize) -> char {
    let end = (offset + 4).min(text.len());
    (offset + 1..=end)
        .find_map(|e| std::str::from_utf8(&text[offset..e]).ok().and_then(|s| s.chars().next()))
        .unwrap_or(char::REPLACEMENT_CHARACTER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_digits_of_either_case_and_skips_whitespace() {
        assert_eq!(decode("00 0aFf\n7e"), Ok(vec![0x00, 0x0a, 0xff, 0x7e]));
        assert_eq!(decode(""), Ok(vec![]));
        assert_eq!(encode(&[0x00, 0x0a, 0xff, 0x7e]), "000aff7e");
    }

    #[test]
    fn names_the_offset_and_character_of_non_hex_input() {
        assert_eq!(decode("aéa"), Err(HexError::NotHex { offset: 1, found: 'é' }));
        assert_eq!(decode("aéa").unwrap_err().to_string(), "`é` at byte 1 is not a hex digit");
        assert_eq!(decode("00🦀"), Err(HexError::NotHex { offset: 2, found: '🦀' }));
        assert_eq!(decode(b"0\xff"), Err(HexError::NotHex { offset: 1, found: char::REPLACEMENT_CHARACTER }));
        assert_eq!(decode("0x00"), Err(HexError::NotHex { offset: 1, found: 'x' }));
        assert_eq!(decode("abc").unwrap_err().to_string(), "an odd number of hex digits (3)");
    }

    proptest! {
        #[test]
        fn round_trips_and_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), text in "\\PC{0,40}") {
            prop_assert_eq!(decode(encode(&bytes)), Ok(bytes));
            let _ = decode(&text);
        }
    }
}
