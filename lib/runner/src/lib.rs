//! An exact, fast PVM (Gray Paper v0.7.2) interpreter.
//!
//! [`program`] decodes a program blob once into ops with resolved branch targets;
//! [`memory`] is sparse paged memory with access rights; [`vm`] runs it with gas charged
//! per basic block. This module loads programs: a `.jam` file or SPI container with the
//! standard program initialisation ([`Vm::from_spi`]), or a bare program blob.
//! [`profile`] runs a program with a gas profile by function and call stack.
//!
//! Where the Gray Paper and the reference implementation (anan-as) differ on
//! observable behaviour, the runner follows the reference; `docs/runner.md` lists each
//! case.

pub mod host;
pub mod memory;
pub mod nested;
pub mod profile;
pub mod program;
pub mod vm;

pub use host::{Host, HostAction, LogHost, run_with_host};
pub use memory::{AccessError, Memory};
pub use profile::{Profile, run_profiled};
pub use program::Program;
pub use vm::{Status, Step, Vm};

use pvm_isa::spi::{MAX_ARGS, Spi, SpiLayout, page_align};
use pvm_isa::{DecodeError, ProgramBlob};

/// Why a program cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file does not decode.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The arguments exceed the SPI argument area.
    #[error("arguments of {0} bytes exceed the {MAX_ARGS}-byte argument area")]
    ArgsTooLarge(usize),
}

/// Lowest address `sbrk` hands out in a program without SPI memory.
const RAW_HEAP_START: u64 = 0x1_0000;

impl Vm {
    /// Loads a `.jam` file (metadata prefix + SPI container) with arguments.
    pub fn from_jam(bytes: &[u8], args: &[u8], gas: i64) -> Result<Vm, LoadError> {
        pvm_isa::polkavm::reject(bytes)?;
        let (_, rest, offset) = pvm_isa::spi::split_metadata(bytes)?;
        Self::from_spi_at(rest, offset, args, gas)
    }

    /// Loads a bare SPI container with arguments.
    pub fn from_spi(bytes: &[u8], args: &[u8], gas: i64) -> Result<Vm, LoadError> {
        pvm_isa::polkavm::reject(bytes)?;
        Self::from_spi_at(bytes, 0, args, gas)
    }

    fn from_spi_at(bytes: &[u8], offset: usize, args: &[u8], gas: i64) -> Result<Vm, LoadError> {
        if args.len() > MAX_ARGS as usize {
            return Err(LoadError::ArgsTooLarge(args.len()));
        }
        let spi = Spi::parse(bytes, offset)?;
        let blob = ProgramBlob::parse(spi.blob, spi.blob_offset)?;
        let program = Program::from_parsed(&blob);
        let layout = spi.layout(args.len());
        let mut memory = Memory::new();
        memory.map(layout.ro.start, layout.ro.end, false);
        memory.write_initial(layout.ro.start, spi.ro_data);
        memory.map(layout.rw.start, layout.rw.end, true);
        memory.write_initial(layout.rw.start, spi.rw_data);
        memory.map(layout.stack.start, layout.stack.end, true);
        memory.map(layout.args.start, layout.args.end, false);
        memory.write_initial(layout.args.start, args);
        memory.heap_break = layout.rw.end;
        memory.heap_limit = layout.stack.start;
        let regs = SpiLayout::initial_registers(args.len() as u32);
        Ok(Vm::new(program, regs, memory, gas, 0))
    }

    /// Loads a bare program blob: all registers zero, no memory (the reference's model
    /// for programs without a container).
    pub fn from_blob(bytes: &[u8], gas: i64) -> Result<Vm, LoadError> {
        pvm_isa::polkavm::reject(bytes)?;
        let program = Program::from_blob(bytes, 0)?;
        let mut memory = Memory::new();
        memory.heap_break = RAW_HEAP_START;
        memory.heap_limit = 1 << 32;
        Ok(Vm::new(program, [0; 13], memory, gas, 0))
    }

    /// A machine for the test-vector model: a bare blob with given registers, pages
    /// `(address, length, writable)` and initial memory chunks.
    pub fn with_pages(
        blob: &[u8],
        regs: [u64; 13],
        pages: &[(u32, u32, bool)],
        chunks: &[(u32, Vec<u8>)],
        gas: i64,
        pc: u32,
    ) -> Result<Vm, LoadError> {
        let program = Program::from_blob(blob, 0)?;
        let mut memory = Memory::new();
        let mut top = RAW_HEAP_START;
        for &(address, length, writable) in pages {
            memory.map(u64::from(address), u64::from(address) + u64::from(length), writable);
            if writable {
                top = top.max(page_align(u64::from(address) + u64::from(length)));
            }
        }
        for (address, bytes) in chunks {
            memory.write_initial(u64::from(*address), bytes);
            top = top.max(u64::from(*address) + bytes.len() as u64);
        }
        memory.heap_break = top;
        memory.heap_limit = 1 << 32;
        Ok(Vm::new(program, regs, memory, gas, pc))
    }
}
