//! The disassembler: a `.jam` file, SPI container or program blob back to a [`Program`]
//! that assembles to the same bytes. Encodings the instruction syntax cannot express
//! (non-minimal widths aside, which `:N` covers) become `.insn`; bytes outside any
//! instruction become `.bytes`; branch and jump-table targets get labels.

use crate::assemble::assemble;
use crate::ast::{AsmInstruction, Item, Operand, Program, TableEntry, Target, Value};
use pvm_isa::ProgramBlob;
use pvm_isa::blob::{MAX_SKIP, min_entry_size};
use pvm_isa::codec::imm_len;
use pvm_isa::container::{InputForm, Parsed};
use pvm_isa::spi::Spi;
use pvm_isa::{Args, Instruction, Widths};
use std::collections::BTreeSet;

/// One listed element of the code: where it starts and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Code offset.
    pub pc: u32,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The decoded instruction, if the bytes start a valid one.
    pub instruction: Option<Instruction>,
    /// Whether the bytes start an instruction (mask bit set).
    pub is_start: bool,
}

/// Splits the code into instructions (from each mask bit to the next) and runs of
/// bytes that start none.
pub fn listing(blob: &ProgramBlob<'_>) -> Vec<Listed> {
    let mask = blob.bitmask();
    let code = blob.code;
    let starts: Vec<usize> = mask.starts().collect();
    let mut out = Vec::with_capacity(starts.len() + 1);
    if starts.first() != Some(&0) && !code.is_empty() {
        let end = starts.first().copied().unwrap_or(code.len());
        out.push(Listed { pc: 0, bytes: code[..end].to_vec(), instruction: None, is_start: false });
    }
    for (i, &s) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(code.len());
        let skip = mask.skip(s);
        let instruction = Instruction::decode(code, s as u32, skip);
        out.push(Listed { pc: s as u32, bytes: code[s..end].to_vec(), instruction, is_start: true });
    }
    out
}

/// Why a file cannot be disassembled to assembly text exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisassembleError {
    /// The blob has a property no assembly text can reproduce.
    #[error("cannot be expressed as assembly: {0}")]
    Unrepresentable(String),
    /// The round trip failed (a bug): the first offset where the bytes differ, or why
    /// the text did not assemble.
    #[error("internal error: the disassembly does not assemble to the same bytes ({0})")]
    RoundTrip(String),
}

/// Disassembles a parsed file to a program that assembles to the same bytes.
pub fn disassemble(parsed: &Parsed<'_>) -> Result<Program, DisassembleError> {
    let blob = &parsed.blob;
    if !blob.canonical_header {
        return Err(DisassembleError::Unrepresentable("a header length uses a non-canonical encoding".into()));
    }
    if !blob.trailing.is_empty() {
        return Err(DisassembleError::Unrepresentable(format!("{} bytes follow the bitmask", blob.trailing.len())));
    }
    let used = blob.code.len() % 8;
    if used != 0 && blob.mask.last().is_some_and(|&b| b >> used != 0) {
        return Err(DisassembleError::Unrepresentable("padding bits of the bitmask are set".into()));
    }
    let listed = listing(blob);
    let original = match parsed.form {
        InputForm::Blob => blob_bytes(parsed),
        _ => parsed.spi.as_ref().map(spi_bytes).unwrap_or_default(),
    };
    let mut problem = String::new();
    for pin_targets in [false, true] {
        let program = build(parsed, &listed, pin_targets);
        match assemble(&program) {
            Ok(a) => {
                let produced = if parsed.form == InputForm::Blob { a.blob } else { a.spi };
                if produced == original {
                    return Ok(program);
                }
                let differs = produced.iter().zip(&original).position(|(a, b)| a != b);
                let at = differs.unwrap_or(produced.len().min(original.len()));
                problem = format!("they first differ at offset {at:#x} of the container");
            }
            Err(e) => problem = e.to_string(),
        }
    }
    Err(DisassembleError::RoundTrip(problem))
}

fn blob_bytes(parsed: &Parsed<'_>) -> Vec<u8> {
    let b = &parsed.blob;
    let mut out = Vec::new();
    pvm_isa::codec::encode_varint(b.jump_table_len as u64, &mut out);
    out.push(b.jump_table_entry_size);
    pvm_isa::codec::encode_varint(b.code.len() as u64, &mut out);
    let size = usize::from(b.jump_table_entry_size);
    for entry in b.jump_table() {
        let bytes = entry.to_le_bytes();
        out.extend((0..size).map(|i| bytes.get(i).copied().unwrap_or(0)));
    }
    out.extend_from_slice(b.code);
    out.extend_from_slice(b.mask);
    out
}

fn spi_bytes(spi: &Spi<'_>) -> Vec<u8> {
    pvm_isa::spi::build_spi(spi.ro_data, spi.rw_data, spi.heap_pages, spi.stack_size, spi.blob).unwrap_or_default()
}

/// The label of code offset `pc`.
pub fn label_name(pc: u32) -> String {
    format!("L{pc}")
}

/// Builds the program; `pin_targets` gives every branch offset its original width.
fn build(parsed: &Parsed<'_>, listed: &[Listed], pin_targets: bool) -> Program {
    let blob = &parsed.blob;
    let starts: BTreeSet<u32> = listed.iter().filter(|l| l.is_start).map(|l| l.pc).collect();
    let mut targets: BTreeSet<u32> = BTreeSet::new();
    let mut items_per_listed = Vec::with_capacity(listed.len());
    for l in listed {
        let item = item_for(l, blob, &starts, pin_targets);
        if let Item::Instruction(i) = &item {
            for op in &i.operands {
                if let Operand::Target { target: Target::Label(name), .. } = op {
                    targets.insert(name[1..].parse().expect("labels are L<pc>"));
                }
            }
        }
        items_per_listed.push(item);
    }
    let jump_table: Vec<TableEntry> = blob
        .jump_table()
        .map(|t| match u32::try_from(t) {
            Ok(pc) if starts.contains(&pc) => {
                targets.insert(pc);
                TableEntry::Label(label_name(pc))
            }
            _ => TableEntry::Address(t),
        })
        .collect();
    let mut items = Vec::with_capacity(items_per_listed.len() + targets.len());
    for (l, item) in listed.iter().zip(items_per_listed) {
        if targets.contains(&l.pc) && l.is_start {
            items.push(Item::Label(label_name(l.pc)));
        }
        items.push(item);
    }
    let entries: Vec<u64> = blob.jump_table().collect();
    let entry_size = (blob.jump_table_entry_size != min_entry_size(&entries)).then_some(blob.jump_table_entry_size);
    let (ro_data, rw_data, heap_pages, stack_size) = match &parsed.spi {
        Some(s) => (s.ro_data.to_vec(), s.rw_data.to_vec(), s.heap_pages, s.stack_size),
        None => (Vec::new(), Vec::new(), 0, 0),
    };
    Program {
        metadata: parsed.metadata.map(<[u8]>::to_vec).unwrap_or_default(),
        ro_data,
        rw_data,
        heap_pages,
        stack_size,
        jump_table_entry_size: entry_size,
        jump_table,
        items,
        functions: Vec::new(),
    }
}

/// The item for one listed element: an instruction if the syntax reproduces its bytes.
fn item_for(l: &Listed, blob: &ProgramBlob<'_>, starts: &BTreeSet<u32>, pin_targets: bool) -> Item {
    if !l.is_start {
        return Item::Bytes(l.bytes.clone());
    }
    let raw = || Item::Insn(l.bytes.clone());
    let Some(instruction) = l.instruction else { return raw() };
    if l.bytes.len() > MAX_SKIP + 1 {
        return raw();
    }
    let skip = l.bytes.len() - 1;
    let widths = Instruction::encoded_widths(blob.code, l.pc, skip);
    let mut encoded = Vec::new();
    if instruction.encode(l.pc, widths, &mut encoded).is_err() || encoded != l.bytes {
        return raw();
    }
    Item::Instruction(AsmInstruction::new(
        instruction.opcode,
        operands(&instruction, l.pc, widths, starts, pin_targets),
    ))
}

/// Operands in text order, with widths only where they differ from the shortest.
fn operands(i: &Instruction, pc: u32, widths: Widths, starts: &BTreeSet<u32>, pin_targets: bool) -> Vec<Operand> {
    let imm = |v: u64, w: Option<u8>| Operand::Imm {
        value: Value::Const(v),
        width: w.filter(|&w| Some(usize::from(w)) != imm_len(v)),
    };
    let target = |t: u32, w: Option<u8>| {
        let offset = i64::from(t.wrapping_sub(pc) as i32) as u64;
        let width = if pin_targets { w } else { w.filter(|&w| Some(usize::from(w)) != imm_len(offset)) };
        let target = if starts.contains(&t) { Target::Label(label_name(t)) } else { Target::Absolute(t) };
        Operand::Target { target, width }
    };
    let (first, second) = (widths.first, widths.second);
    match i.args {
        Args::None => vec![],
        Args::Imm(x) => vec![imm(x, first)],
        Args::RegImm64(r, x) => vec![Operand::Reg(r), Operand::Imm { value: Value::Const(x), width: None }],
        Args::ImmImm(x, y) => vec![imm(x, first), imm(y, second)],
        Args::Offset(t) => vec![target(t, first)],
        Args::RegImm(r, x) => vec![Operand::Reg(r), imm(x, first)],
        Args::RegImmImm(r, x, y) => vec![Operand::Reg(r), imm(x, first), imm(y, second)],
        Args::RegImmOffset(r, x, t) => vec![Operand::Reg(r), imm(x, first), target(t, second)],
        Args::RegReg(d, a) => vec![Operand::Reg(d), Operand::Reg(a)],
        Args::RegRegImm(a, b, x) => vec![Operand::Reg(a), Operand::Reg(b), imm(x, first)],
        Args::RegRegOffset(a, b, t) => vec![Operand::Reg(a), Operand::Reg(b), target(t, first)],
        Args::RegRegImmImm(a, b, x, y) => vec![Operand::Reg(a), Operand::Reg(b), imm(x, first), imm(y, second)],
        Args::RegRegReg(d, a, b) => vec![Operand::Reg(d), Operand::Reg(a), Operand::Reg(b)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use pvm_isa::container::parse_file;

    fn round_trip(text: &str) {
        let a = assemble(&parse(text).unwrap()).unwrap();
        for (bytes, form) in [(&a.jam, InputForm::Jam), (&a.spi, InputForm::Spi), (&a.blob, InputForm::Blob)] {
            let parsed = parse_file(bytes, form).unwrap();
            let program = disassemble(&parsed).unwrap();
            let again = assemble(&parse(&program.to_string()).unwrap()).unwrap();
            let produced = match form {
                InputForm::Jam => again.jam,
                InputForm::Spi => again.spi,
                InputForm::Blob => again.blob,
            };
            assert_eq!(&produced, bytes, "{form:?}\n{program}");
        }
    }

    #[test]
    fn odd_encodings_round_trip() {
        round_trip(
            ".metadata \"m\"\n.ro_data 01\n.rw_data 0203\n.heap_pages 1\n.stack_size 8\nL: load_imm r7, 5:4\n  jump L:4\n  branch_eq_imm r7, 1:2, @1000\n  .insn 3300\n  .insn fe0102\n  trap\n  .bytes 00000000000000000000000000000000000000000000000000000000\n  fallthrough\n",
        );
        round_trip(".jump_table_entry_size 4\n.jump_table a, @3\na: load_imm_jump ra, &a, a\n");
        round_trip(".bytes 0102\nx: trap\n");
    }
}
