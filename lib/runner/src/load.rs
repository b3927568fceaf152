//! Loading a program into a machine: the standard program initialisation (SPI) of a
//! `.jam` file or SPI container with arguments, a bare program blob (no memory, all
//! registers zero: the reference's model for programs without a container), and the
//! test-vector model (a bare blob with given registers and pages). The container forms
//! are parsed by [`pvm_isa::container`]; the [`Semantics`] decide the program's jump
//! targets and the memory's rules.

use crate::memory::Memory;
use crate::program::Program;
use crate::semantics::Semantics;
use crate::state::State;
use pvm_isa::DecodeError;
use pvm_isa::blob::ProgramBlob;
use pvm_isa::container::{InputForm, parse_file};
use pvm_isa::spi::{MAX_ARGS, SpiLayout, page_align};

/// Why a program cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The file does not decode.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The arguments exceed the SPI argument area.
    #[error("arguments of {0} bytes exceed the {MAX_ARGS}-byte argument area")]
    ArgsTooLarge(usize),
    /// Arguments given for a bare program blob, which has no memory to hold them.
    #[error("a bare program blob has no memory to put arguments in")]
    ArgsWithoutMemory,
}

/// Lowest address `sbrk` hands out in a program without SPI memory.
const RAW_HEAP_START: u64 = 0x1_0000;

/// A program that loads: the program and its initial state; or, under
/// [`Semantics::GrayPaper`], why the paper's decoding rejects it (the run panics at once).
pub(crate) type Loaded = Result<(Program, State), String>;

/// Loads `bytes` in container form `form` with arguments `args` and `gas`, at pc 0.
pub(crate) fn load(
    bytes: &[u8],
    form: InputForm,
    args: &[u8],
    gas: i64,
    semantics: Semantics,
) -> Result<Loaded, LoadError> {
    if args.len() > MAX_ARGS as usize {
        return Err(LoadError::ArgsTooLarge(args.len()));
    }
    let parsed = match parse_file(bytes, form) {
        Ok(parsed) => parsed,
        Err(e) => return undecodable(e, semantics),
    };
    if let Some(reason) = semantics.deblob_error(&parsed.blob) {
        return Ok(Err(reason));
    }
    let program = Program::from_parsed(&parsed.blob, semantics);
    let Some(spi) = parsed.spi else {
        if !args.is_empty() {
            return Err(LoadError::ArgsWithoutMemory);
        }
        let memory = memory(semantics, RAW_HEAP_START, 1 << 32);
        let state = State::new(&program, [0; 13], memory, gas, 0);
        return Ok(Ok((program, state)));
    };
    let layout = spi.layout(args.len());
    let mut memory = memory(semantics, layout.rw.end, layout.stack.start);
    memory.map(layout.ro.start, layout.ro.end, false);
    memory.write_initial(layout.ro.start, spi.ro_data);
    memory.map(layout.rw.start, layout.rw.end, true);
    memory.write_initial(layout.rw.start, spi.rw_data);
    memory.map(layout.stack.start, layout.stack.end, true);
    memory.map(layout.args.start, layout.args.end, false);
    memory.write_initial(layout.args.start, args);
    let regs = SpiLayout::initial_registers(args.len() as u32);
    let state = State::new(&program, regs, memory, gas, 0);
    Ok(Ok((program, state)))
}

/// A file that does not decode: an error under the reference; under the Gray Paper a
/// program whose run panics at once.
fn undecodable(e: DecodeError, semantics: Semantics) -> Result<Loaded, LoadError> {
    match semantics {
        Semantics::Reference => Err(e.into()),
        Semantics::GrayPaper => Ok(Err(e.to_string())),
    }
}

/// Empty memory under `semantics` whose heap starts at `heap_start` and may reach `heap_limit`.
fn memory(semantics: Semantics, heap_start: u64, heap_limit: u64) -> Memory {
    let mut memory = Memory::new();
    memory.semantics = semantics;
    memory.heap_start = heap_start;
    memory.heap_break = heap_start;
    memory.heap_limit = heap_limit;
    memory
}

/// The test-vector model: a bare blob with given registers, pages
/// `(address, length, writable)`, initial memory chunks, gas and pc.
pub(crate) fn with_pages(
    blob: &[u8],
    regs: [u64; 13],
    pages: &[(u32, u32, bool)],
    chunks: &[(u32, Vec<u8>)],
    gas: i64,
    pc: u32,
    semantics: Semantics,
) -> Result<Loaded, LoadError> {
    let parsed = match ProgramBlob::parse(blob, 0) {
        Ok(parsed) => parsed,
        Err(e) => return undecodable(e, semantics),
    };
    if let Some(reason) = semantics.deblob_error(&parsed) {
        return Ok(Err(reason));
    }
    let program = Program::from_parsed(&parsed, semantics);
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
    memory.semantics = semantics;
    memory.heap_start = top;
    memory.heap_break = top;
    memory.heap_limit = 1 << 32;
    let state = State::new(&program, regs, memory, gas, pc);
    Ok(Ok((program, state)))
}
