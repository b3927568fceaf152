//! PVM assembly: the program model ([`ast`]) and its text form (`docs/asm.md`), the
//! parser ([`parse`]), the assembler ([`assemble`]), the disassembler ([`disasm`]) and
//! the file report of `jam-inspect` ([`inspect`]).

#![forbid(unsafe_code)]

pub mod assemble;
pub mod ast;
pub mod disasm;
pub mod inspect;
pub mod parse;

pub use assemble::{Assembled, assemble};
pub use ast::{AsmInstruction, Item, Operand, Program, TableEntry, Target, Value};
pub use disasm::disassemble;
pub use parse::{AsmError, parse};
pub use pvm_isa::container::{InputForm, Parsed, other_form_that_parses, parse_file};
