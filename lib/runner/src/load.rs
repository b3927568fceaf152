//! Loading a program into a machine: the standard program initialisation (SPI) of a
//! `.jam` file or SPI container with arguments, a bare program blob (no memory, all
//! registers zero: the reference's model for programs without a container), and the
//! test-vector model (a bare blob with given registers and pages). The container forms
//! are parsed by [`pvm_isa::container`].

use crate::memory::Memory;
use crate::program::Program;
use crate::state::State;
use pvm_isa::DecodeError;
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

/// Loads `bytes` in container form `form` with arguments `args` and `gas`, at pc 0.
pub(crate) fn load(bytes: &[u8], form: InputForm, args: &[u8], gas: i64) -> Result<(Program, State), LoadError> {
    if args.len() > MAX_ARGS as usize {
        return Err(LoadError::ArgsTooLarge(args.len()));
    }
    let parsed = parse_file(bytes, form)?;
    let program = Program::from_parsed(&parsed.blob);
    let Some(spi) = parsed.spi else {
        if !args.is_empty() {
            return Err(LoadError::ArgsWithoutMemory);
        }
        let mut memory = Memory::new();
        memory.heap_break = RAW_HEAP_START;
        memory.heap_limit = 1 << 32;
        let state = State::new(&program, [0; 13], memory, gas, 0);
        return Ok((program, state));
    };
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
    let state = State::new(&program, regs, memory, gas, 0);
    Ok((program, state))
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
) -> Result<(Program, State), LoadError> {
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
    let state = State::new(&program, regs, memory, gas, pc);
    Ok((program, state))
}
