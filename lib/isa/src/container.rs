//! The three container forms a PVM program comes in — a `.jam` file (metadata prefix +
//! SPI container), a bare SPI container, a bare program blob — parsed in one place for
//! every reader: the disassembler and inspector of `pvm-asm` and the runner's loader.

use crate::blob::ProgramBlob;
use crate::error::DecodeError;
use crate::spi::{Spi, split_metadata};

/// Which container a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputForm {
    /// A `.jam`: metadata prefix, then an SPI container.
    Jam,
    /// A bare SPI container.
    Spi,
    /// A bare program blob.
    Blob,
}

impl InputForm {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            InputForm::Jam => "a .jam file (metadata prefix + SPI container)",
            InputForm::Spi => "a bare SPI container",
            InputForm::Blob => "a bare program blob",
        }
    }
}

/// A parsed file: its container layers and the program blob inside.
#[derive(Debug, Clone)]
pub struct Parsed<'a> {
    /// The form it was read as.
    pub form: InputForm,
    /// Metadata bytes (`.jam` only).
    pub metadata: Option<&'a [u8]>,
    /// File offset of the metadata bytes.
    pub metadata_offset: usize,
    /// The SPI container (`.jam` and SPI).
    pub spi: Option<Spi<'a>>,
    /// File offset of the SPI container.
    pub spi_offset: usize,
    /// The program blob.
    pub blob: ProgramBlob<'a>,
}

/// Parses `bytes` as `form`.
pub fn parse_file(bytes: &[u8], form: InputForm) -> Result<Parsed<'_>, DecodeError> {
    crate::polkavm::reject(bytes)?;
    let (metadata, rest, spi_offset) = match form {
        InputForm::Jam => {
            let (m, rest, at) = split_metadata(bytes)?;
            (Some(m), rest, at)
        }
        _ => (None, bytes, 0),
    };
    let metadata_offset = spi_offset - metadata.map_or(0, <[u8]>::len);
    let (spi, blob) = match form {
        InputForm::Blob => (None, ProgramBlob::parse(bytes, 0)?),
        _ => {
            let spi = Spi::parse(rest, spi_offset)?;
            let blob = ProgramBlob::parse(spi.blob, spi.blob_offset)?;
            (Some(spi), blob)
        }
    };
    Ok(Parsed { form, metadata, metadata_offset, spi, spi_offset, blob })
}

/// Tries the other forms: the first that parses, for a hint when `form` did not.
pub fn other_form_that_parses(bytes: &[u8], form: InputForm) -> Option<InputForm> {
    [InputForm::Jam, InputForm::Spi, InputForm::Blob]
        .into_iter()
        .filter(|&f| f != form)
        .find(|&f| parse_file(bytes, f).is_ok_and(|p| p.blob.trailing.is_empty()))
}
