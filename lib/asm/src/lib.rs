//! PVM assembly: the program model ([`ast`]) and its text form (`docs/asm.md`).

pub mod ast;

pub use ast::{AsmInstruction, Item, Operand, Program, TableEntry, Target, Value};
