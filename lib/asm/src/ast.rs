//! The PVM assembly program as data: what the parser produces, what the assembler
//! consumes, what the disassembler and the compiler build, and what the printer writes
//! (the `Display` impls here are the one printer of the text format, `docs/asm.md`).

use pvm_isa::{Opcode, Reg, hex};
use std::fmt;

/// Version of the assembly text format this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A whole assembly program: the SPI sections and the code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Program {
    /// Metadata bytes of the `.jam` prefix.
    pub metadata: Vec<u8>,
    /// Read-only data.
    pub ro_data: Vec<u8>,
    /// Read-write data.
    pub rw_data: Vec<u8>,
    /// Zero-filled heap pages after the read-write data.
    pub heap_pages: u16,
    /// Stack size in bytes.
    pub stack_size: u32,
    /// Bytes per jump-table entry; `None` picks the smallest that holds every entry.
    pub jump_table_entry_size: Option<u8>,
    /// Explicit jump-table entries, in order. Labels referenced with `&label` that are not
    /// listed here are appended in order of first reference.
    pub jump_table: Vec<TableEntry>,
    /// The code, in order.
    pub items: Vec<Item>,
    /// Functions: (label where the function starts, its name), for the symbol map
    /// (`pvm_isa::symbols`). They do not change the program's bytes.
    pub functions: Vec<(String, String)>,
}

/// One jump-table entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TableEntry {
    /// The code offset of a label.
    Label(String),
    /// A literal code offset (also for entries that point nowhere valid).
    Address(u64),
}

/// One element of the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A label definition.
    Label(String),
    /// An instruction.
    Instruction(AsmInstruction),
    /// A raw instruction: these bytes, with the mask bit set on the first one only
    /// (`.insn HEX`). Used for encodings the instruction syntax cannot express.
    Insn(Vec<u8>),
    /// Raw code bytes that start no instruction (`.bytes HEX`, no mask bits).
    Bytes(Vec<u8>),
    /// A comment line.
    Comment(String),
}

/// An instruction with symbolic operands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsmInstruction {
    /// The opcode.
    pub opcode: Opcode,
    /// Operands in text order (see `docs/asm.md`).
    pub operands: Vec<Operand>,
    /// Source line (1-based), 0 for generated code.
    pub line: u32,
}

/// An operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A register.
    Reg(Reg),
    /// An immediate; `width` forces its encoded byte length.
    Imm {
        /// The value.
        value: Value,
        /// Explicit encoded width in bytes.
        width: Option<u8>,
    },
    /// A branch target; `width` forces the encoded byte length of its offset.
    Target {
        /// Where to.
        target: Target,
        /// Explicit encoded width in bytes.
        width: Option<u8>,
    },
}

/// The value of an immediate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A number as a 64-bit two's-complement pattern. In a 32-bit field (every immediate
    /// but `load_imm_64`'s) a value in `2^31..2^32` denotes that 32-bit pattern, which the
    /// machine sign-extends; other values must already be sign-extended 32-bit values.
    Const(u64),
    /// `&label`: the dynamic-jump address `2·(i+1)` of the label's jump-table entry `i`.
    JumpAddress(String),
}

/// A branch target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A label.
    Label(String),
    /// An absolute code offset (`@N`).
    Absolute(u32),
}

impl AsmInstruction {
    /// A generated instruction (no source line).
    pub fn new(opcode: Opcode, operands: Vec<Operand>) -> Self {
        AsmInstruction { opcode, operands, line: 0 }
    }
}

impl Operand {
    /// A register operand.
    pub fn reg(reg: Reg) -> Self {
        Operand::Reg(reg)
    }

    /// A numeric immediate of shortest width.
    pub fn imm(value: u64) -> Self {
        Operand::Imm { value: Value::Const(value), width: None }
    }

    /// `&label`.
    pub fn jump_address(label: impl Into<String>) -> Self {
        Operand::Imm { value: Value::JumpAddress(label.into()), width: None }
    }

    /// A branch to `label`.
    pub fn label(label: impl Into<String>) -> Self {
        Operand::Target { target: Target::Label(label.into()), width: None }
    }
}

fn write_width(f: &mut fmt::Formatter<'_>, width: Option<u8>) -> fmt::Result {
    match width {
        Some(w) => write!(f, ":{w}"),
        None => Ok(()),
    }
}

/// Writes a constant: small values in signed decimal; larger ones in hex, as a 32-bit
/// pattern when `wide` is false (32-bit fields sign-extend it), else as all 64 bits.
fn write_const(f: &mut fmt::Formatter<'_>, value: u64, wide: bool) -> fmt::Result {
    let signed = value as i64;
    if (-(1 << 20)..(1 << 20)).contains(&signed) {
        write!(f, "{signed}")
    } else if !wide && (signed as i32) as i64 == signed {
        write!(f, "{:#x}", value as u32)
    } else {
        write!(f, "{value:#x}")
    }
}

impl Operand {
    /// Writes the operand; `wide` marks the 64-bit immediate of `load_imm_64`.
    fn write(&self, f: &mut fmt::Formatter<'_>, wide: bool) -> fmt::Result {
        match self {
            Operand::Reg(r) => write!(f, "{r}"),
            Operand::Imm { value, width } => {
                match value {
                    Value::Const(v) => write_const(f, *v, wide)?,
                    Value::JumpAddress(label) => write!(f, "&{label}")?,
                }
                write_width(f, *width)
            }
            Operand::Target { target, width } => {
                match target {
                    Target::Label(label) => write!(f, "{label}")?,
                    Target::Absolute(pc) => write!(f, "@{pc}")?,
                }
                write_width(f, *width)
            }
        }
    }
}

impl fmt::Display for AsmInstruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.opcode.mnemonic())?;
        let wide = self.opcode.format() == pvm_isa::Format::RegImm64;
        for (i, operand) in self.operands.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            operand.write(f, wide)?;
        }
        Ok(())
    }
}

impl fmt::Display for TableEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableEntry::Label(label) => f.write_str(label),
            TableEntry::Address(pc) => write!(f, "@{pc}"),
        }
    }
}

/// Bytes per line of the data directives the printer writes.
const DATA_LINE: usize = 64;

fn write_data(f: &mut fmt::Formatter<'_>, directive: &str, bytes: &[u8]) -> fmt::Result {
    for chunk in bytes.chunks(DATA_LINE) {
        writeln!(f, ".{directive} {}", hex::encode(chunk))?;
    }
    Ok(())
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, ".asm {FORMAT_VERSION}")?;
        if !self.metadata.is_empty() {
            match std::str::from_utf8(&self.metadata) {
                Ok(text) if text.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') => {
                    writeln!(f, ".metadata {text:?}")?
                }
                _ => writeln!(f, ".metadata_hex {}", hex::encode(&self.metadata))?,
            }
        }
        write_data(f, "ro_data", &self.ro_data)?;
        write_data(f, "rw_data", &self.rw_data)?;
        if self.heap_pages != 0 {
            writeln!(f, ".heap_pages {}", self.heap_pages)?;
        }
        if self.stack_size != 0 {
            writeln!(f, ".stack_size {}", self.stack_size)?;
        }
        if let Some(size) = self.jump_table_entry_size {
            writeln!(f, ".jump_table_entry_size {size}")?;
        }
        for chunk in self.jump_table.chunks(8) {
            let entries: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            writeln!(f, ".jump_table {}", entries.join(", "))?;
        }
        for (label, name) in &self.functions {
            writeln!(f, ".function {label} {name:?}")?;
        }
        for item in &self.items {
            match item {
                Item::Label(label) => writeln!(f, "{label}:")?,
                Item::Instruction(inst) => writeln!(f, "    {inst}")?,
                Item::Insn(bytes) => writeln!(f, "    .insn {}", hex::encode(bytes))?,
                Item::Bytes(bytes) => writeln!(f, "    .bytes {}", hex::encode(bytes))?,
                Item::Comment(text) => {
                    for line in text.lines() {
                        writeln!(f, "; {line}")?;
                    }
                }
            }
        }
        Ok(())
    }
}
