//! The PVM (Gray Paper v0.7.2) instruction set and binary formats, with no dependency on
//! any compiler: the instruction table ([`opcode`]), operand formats and registers
//! ([`format`]), instruction decoding and encoding ([`instruction`]), the integer codecs
//! ([`codec`]), hex text ([`hex`]), the program blob ([`blob`]), the SPI container with its `.jam`
//! metadata prefix and memory layout ([`spi`]), the JAM-SDK metadata layout
//! ([`metadata`]), the JAM host calls ([`host_call`]), the recognition of PolkaVM blobs
//! ([`polkavm`]), the symbol map that names a program's functions ([`symbols`]), and the
//! three container forms a file comes in, parsed in one place ([`container`]).

#![forbid(unsafe_code)]

pub mod blob;
pub mod codec;
pub mod container;
pub mod error;
pub mod format;
pub mod hex;
pub mod host_call;
pub mod instruction;
pub mod metadata;
pub mod opcode;
pub mod polkavm;
pub mod spi;
pub mod symbols;

pub use blob::{Bitmask, ProgramBlob};
pub use container::{InputForm, Parsed};
pub use error::{DecodeError, DecodeErrorKind};
pub use format::{Format, Reg};
pub use instruction::{Args, Decoding, EncodeError, Instruction, Widths};
pub use metadata::Metadata;
pub use opcode::Opcode;
pub use spi::{Spi, SpiLayout};
pub use symbols::{Symbol, SymbolMap};
