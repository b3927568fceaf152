//! Compilation errors. Each names where it happened (byte offset in the module, function,
//! operator) and why, in one line.

use std::fmt;

/// A failed compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Byte offset in the WebAssembly binary, when known.
    pub offset: Option<usize>,
    /// The function concerned, when known (its name or `func[N]`).
    pub function: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl CompileError {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        CompileError { offset: None, function: None, message: message.into() }
    }

    /// An error at a byte offset of the module.
    pub fn at(offset: usize, message: impl Into<String>) -> Self {
        CompileError { offset: Some(offset), function: None, message: message.into() }
    }

    /// Attaches the function this error concerns.
    pub fn in_function(mut self, function: impl Into<String>) -> Self {
        if self.function.is_none() {
            self.function = Some(function.into());
        }
        self
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(offset) = self.offset {
            write!(f, "offset {offset:#x}: ")?;
        }
        if let Some(function) = &self.function {
            write!(f, "function {function}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for CompileError {}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        CompileError::at(e.offset() as usize, e.message().to_string())
    }
}

/// Result alias for the compiler.
pub type Result<T, E = CompileError> = std::result::Result<T, E>;
