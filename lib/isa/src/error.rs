//! Decoding errors: every error carries the byte offset (within the whole input file)
//! where it was found, and prints as `offset 0x1f: reason`.

use std::fmt;

/// A decoding error at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset within the input where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// An error of `kind` at `offset`.
    pub fn new(offset: usize, kind: DecodeErrorKind) -> Self {
        DecodeError { offset, kind }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {:#x}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for DecodeError {}

/// The reasons a file can fail to decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The input ended inside a field.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A length field points past the end of the input.
    #[error("{what} needs {needed} bytes but only {available} remain")]
    PastEnd {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the input.
        available: u64,
    },
    /// A variable-length integer used more bytes than its canonical form.
    #[error("non-canonical variable-length encoding of {0}")]
    NonCanonicalVarint(&'static str),
    /// Bytes remain after a structure that must consume its input exactly.
    #[error("{count} trailing bytes after {what}")]
    TrailingBytes {
        /// The structure that should have ended.
        what: &'static str,
        /// How many bytes are left over.
        count: usize,
    },
    /// The input is a PolkaVM program blob (its header fields described).
    #[error("a PolkaVM blob, not a JAM program (magic `PVM\\0`, {0})")]
    PolkaVmBlob(String),
    /// A value that does not fit the field it is stored in.
    #[error("{0}")]
    Invalid(String),
}
