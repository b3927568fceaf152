//! The assembler: labels, the jump table, the opcode bitmask, the shortest encoding of
//! every immediate and branch offset (the layout is iterated until stable), and the
//! program blob, SPI container and `.jam` file.

use crate::ast::{AsmInstruction, Item, Operand, Program, TableEntry, Target, Value};
use crate::parse::AsmError;
use pvm_isa::blob::{build_blob, min_entry_size};
use pvm_isa::spi::{build_spi, with_metadata};
use pvm_isa::{Args, Format, Instruction, Reg, Symbol, SymbolMap, Widths};
use std::collections::HashMap;

/// An assembled program in its three forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    /// The program blob (jump table, code, bitmask).
    pub blob: Vec<u8>,
    /// The SPI container around it.
    pub spi: Vec<u8>,
    /// The `.jam` file: metadata prefix and SPI container.
    pub jam: Vec<u8>,
    /// Code offset of every label.
    pub labels: HashMap<String, u32>,
    /// The jump table (code offsets).
    pub jump_table: Vec<u64>,
    /// Code length in bytes.
    pub code_len: usize,
    /// The functions the program declares (`.function`), by code offset.
    pub symbols: SymbolMap,
}

/// Assembles a program.
pub fn assemble(program: &Program) -> Result<Assembled, AsmError> {
    let table_labels = jump_table(program)?;
    let mut sizes: Vec<usize> = program.items.iter().map(|item| fixed_size(item).unwrap_or(1)).collect();
    let mut labels;
    // Grow instruction sizes until every encoding fits; sizes never shrink, so this ends.
    // Each pass measures against one consistent layout (labels and pcs from the sizes of
    // the previous pass), so every offset is at most its final magnitude and a pinned
    // width that fits the final layout fits every pass.
    loop {
        labels = label_positions(program, &sizes);
        let mut grown = sizes.clone();
        let mut pc = 0u32;
        for (k, item) in program.items.iter().enumerate() {
            if let Item::Instruction(inst) = item {
                let (instruction, widths) = resolve(inst, &labels, &table_labels)?;
                let len = instruction.encoded_len(pc, widths).map_err(|e| error(inst, e))?;
                grown[k] = grown[k].max(len);
            }
            pc += sizes[k] as u32;
        }
        if grown == sizes {
            break;
        }
        sizes = grown;
    }
    let mut code = Vec::new();
    let mut starts = Vec::new();
    for (k, item) in program.items.iter().enumerate() {
        let bytes = match item {
            Item::Instruction(inst) => {
                let (instruction, widths) = resolve(inst, &labels, &table_labels)?;
                encode_exact(&instruction, code.len() as u32, widths, sizes[k]).map_err(|e| error(inst, e))?
            }
            Item::Insn(bytes) | Item::Bytes(bytes) => bytes.clone(),
            Item::Label(_) | Item::Comment(_) => continue,
        };
        // The mask bit is set on the first byte of an instruction; raw bytes get none.
        let first_is_start = !matches!(item, Item::Bytes(_));
        starts.extend((0..bytes.len()).map(|i| i == 0 && first_is_start));
        code.extend_from_slice(&bytes);
    }
    let mut jump_table = Vec::with_capacity(program.jump_table.len());
    for entry in &table_labels.entries {
        jump_table.push(match entry {
            TableEntry::Label(l) => u64::from(labels[l]),
            TableEntry::Address(a) => *a,
        });
    }
    let needed = min_entry_size(&jump_table);
    let entry_size = match program.jump_table_entry_size {
        Some(size) if size < needed => {
            return Err(AsmError::new(
                0,
                0,
                format!("jump-table entries need {needed} bytes, but the entry size is {size}"),
            ));
        }
        Some(size) => size,
        None => needed,
    };
    let blob = build_blob(entry_size, &jump_table, &code, &starts);
    let spi = build_spi(&program.ro_data, &program.rw_data, program.heap_pages, program.stack_size, &blob)
        .map_err(|e| AsmError::new(0, 0, e.to_string()))?;
    let jam = with_metadata(&program.metadata, &spi);
    let symbols = program
        .functions
        .iter()
        .map(|(label, name)| match labels.get(label) {
            Some(&offset) => Ok(Symbol { offset, name: name.clone() }),
            None => Err(AsmError::new(0, 0, format!(".function `{label}` is not a defined label"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Assembled { blob, spi, jam, labels, jump_table, code_len: code.len(), symbols: SymbolMap::new(symbols) })
}

fn error(inst: &AsmInstruction, e: impl std::fmt::Display) -> AsmError {
    AsmError::new(inst.line, 0, format!("{}: {e}", inst.opcode))
}

/// Size of items whose size does not depend on the layout.
fn fixed_size(item: &Item) -> Option<usize> {
    match item {
        Item::Insn(b) | Item::Bytes(b) => Some(b.len()),
        Item::Label(_) | Item::Comment(_) => Some(0),
        Item::Instruction(_) => None,
    }
}

fn label_positions(program: &Program, sizes: &[usize]) -> HashMap<String, u32> {
    let mut labels = HashMap::new();
    let mut pc = 0u32;
    for (item, &size) in program.items.iter().zip(sizes) {
        if let Item::Label(name) = item {
            labels.insert(name.clone(), pc);
        }
        pc += size as u32;
    }
    labels
}

/// The jump table: explicit entries, then labels used as `&label`, in order of first use.
struct JumpTable {
    entries: Vec<TableEntry>,
    first_index: HashMap<String, usize>,
}

fn jump_table(program: &Program) -> Result<JumpTable, AsmError> {
    let defined: std::collections::HashSet<&str> =
        program.items.iter().filter_map(|i| if let Item::Label(l) = i { Some(l.as_str()) } else { None }).collect();
    let mut entries = program.jump_table.clone();
    let mut first_index = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if let TableEntry::Label(l) = e {
            if !defined.contains(l.as_str()) {
                return Err(AsmError::new(0, 0, format!("jump-table entry `{l}` is not a defined label")));
            }
            first_index.entry(l.clone()).or_insert(i);
        }
    }
    for item in &program.items {
        let Item::Instruction(inst) = item else { continue };
        for operand in &inst.operands {
            let label = match operand {
                Operand::Imm { value: Value::JumpAddress(l), .. } => l,
                Operand::Target { target: Target::Label(l), .. } => {
                    if !defined.contains(l.as_str()) {
                        return Err(AsmError::new(inst.line, 0, format!("undefined label `{l}`")));
                    }
                    continue;
                }
                _ => continue,
            };
            if !defined.contains(label.as_str()) {
                return Err(AsmError::new(inst.line, 0, format!("undefined label `{label}`")));
            }
            if !first_index.contains_key(label) {
                first_index.insert(label.clone(), entries.len());
                entries.push(TableEntry::Label(label.clone()));
            }
        }
    }
    Ok(JumpTable { entries, first_index })
}

/// A 32-bit immediate field's value: a 32-bit pattern is sign-extended; a 64-bit value
/// must already be a sign-extended 32-bit one.
fn narrow_immediate(value: u64, inst: &AsmInstruction) -> Result<u64, AsmError> {
    if value <= u64::from(u32::MAX) {
        Ok(value as u32 as i32 as i64 as u64)
    } else if value >= (1u64 << 63) && value as i64 >= i64::from(i32::MIN) {
        Ok(value)
    } else {
        Err(error(inst, format!("immediate {value:#x} does not fit a 32-bit field")))
    }
}

/// The machine instruction an assembly instruction denotes, with its explicit widths.
fn resolve(
    inst: &AsmInstruction,
    labels: &HashMap<String, u32>,
    table: &JumpTable,
) -> Result<(Instruction, Widths), AsmError> {
    let format = inst.opcode.format();
    let mut regs: Vec<Reg> = Vec::new();
    let mut values: Vec<(u64, Option<u8>)> = Vec::new();
    for operand in &inst.operands {
        match operand {
            Operand::Reg(r) => regs.push(*r),
            Operand::Imm { value, width } => {
                let v = match value {
                    Value::Const(v) if format == Format::RegImm64 => *v,
                    Value::Const(v) => narrow_immediate(*v, inst)?,
                    Value::JumpAddress(l) => {
                        let index =
                            table.first_index.get(l).ok_or_else(|| error(inst, format!("undefined label `{l}`")))?;
                        2 * (*index as u64 + 1)
                    }
                };
                values.push((v, *width));
            }
            Operand::Target { target, width } => {
                let t = match target {
                    Target::Label(l) => *labels.get(l).ok_or_else(|| error(inst, format!("undefined label `{l}`")))?,
                    Target::Absolute(a) => *a,
                };
                values.push((u64::from(t), *width));
            }
        }
    }
    let expected = crate::parse::operand_kinds(format);
    if regs.len() + values.len() != expected.len() {
        return Err(error(inst, format!("takes {} operands", expected.len())));
    }
    let v = |i: usize| values[i].0;
    let t = |i: usize| values[i].0 as u32;
    let args = match format {
        Format::NoArgs => Args::None,
        Format::Imm => Args::Imm(v(0)),
        Format::RegImm64 => Args::RegImm64(regs[0], v(0)),
        Format::ImmImm => Args::ImmImm(v(0), v(1)),
        Format::Offset => Args::Offset(t(0)),
        Format::RegImm => Args::RegImm(regs[0], v(0)),
        Format::RegImmImm => Args::RegImmImm(regs[0], v(0), v(1)),
        Format::RegImmOffset => Args::RegImmOffset(regs[0], v(0), t(1)),
        Format::RegReg => Args::RegReg(regs[0], regs[1]),
        Format::RegRegImm => Args::RegRegImm(regs[0], regs[1], v(0)),
        Format::RegRegOffset => Args::RegRegOffset(regs[0], regs[1], t(0)),
        Format::RegRegImmImm => Args::RegRegImmImm(regs[0], regs[1], v(0), v(1)),
        Format::RegRegReg => Args::RegRegReg(regs[0], regs[1], regs[2]),
    };
    let widths = match format.variable_fields() {
        0 => Widths::default(),
        1 => Widths { first: values.first().and_then(|x| x.1), second: None },
        _ => Widths { first: values[0].1, second: values[1].1 },
    };
    if format == Format::RegImm64 && values[0].1.is_some() {
        return Err(error(inst, "the 64-bit immediate of load_imm_64 has a fixed width"));
    }
    Ok((Instruction::new(inst.opcode, args), widths))
}

/// Encodes with exactly `size` bytes: the requested widths, widened where the layout
/// settled on a longer form than the shortest. Widths the source pins stay as pinned; if
/// no encoding has `size` bytes, that is an internal error (the layout loop promised one),
/// never a silently different length.
fn encode_exact(instruction: &Instruction, pc: u32, widths: Widths, size: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    instruction.encode(pc, widths, &mut out).map_err(|e| e.to_string())?;
    if out.len() == size {
        return Ok(out);
    }
    // Widen the last variable field first, then the first one.
    let fields = instruction.opcode.format().variable_fields();
    for first in 0..=4u8 {
        for second in 0..=4u8 {
            let candidate = match fields {
                1 => Widths { first: widths.first.or(Some(second)), second: None },
                _ => Widths { first: widths.first.or(Some(first)), second: widths.second.or(Some(second)) },
            };
            let mut bytes = Vec::new();
            if instruction.encode(pc, candidate, &mut bytes).is_ok() && bytes.len() == size {
                return Ok(bytes);
            }
        }
    }
    Err(format!("internal error: no encoding of {size} bytes with the widths asked (the shortest has {})", out.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use pvm_isa::hex::encode as hex;

    #[test]
    fn the_trap_program() {
        let a = assemble(&parse("trap\n").unwrap()).unwrap();
        assert_eq!(hex(&a.jam), "000000000000000000000000050000000000010001");
    }

    #[test]
    fn labels_jump_table_and_branch_sizes() {
        let text = "start:\n  load_imm_jump ra, &back, far\nback:\n  trap\n.bytes 000000\nfar:\n  jump start\n";
        let a = assemble(&parse(text).unwrap()).unwrap();
        // load_imm_jump r0, imm 2 (1 byte), offset to `far` (1 byte) = 4 bytes.
        assert_eq!(a.labels["back"], 4);
        assert_eq!(a.labels["far"], 8);
        assert_eq!(a.jump_table, vec![4]);
        // jump table: 1 entry of 1 byte; code = 50 10 02 08 | 00 | 00 00 00 | 28 f8
        assert_eq!(hex(&a.blob), "01010a04501002080000000028f81101");
    }

    #[test]
    fn long_branches_grow_until_stable() {
        let mut text = String::from("top:\n");
        for _ in 0..40 {
            text.push_str("  load_imm_64 r1, 0x1122334455667788\n");
        }
        text.push_str("  jump top\n  branch_eq r1, r2, top\n");
        let a = assemble(&parse(&text).unwrap()).unwrap();
        // 40 × 10 bytes, then jump with a 2-byte offset (-400), then a branch (-403).
        assert_eq!(a.code_len, 400 + 3 + 4);
    }

    #[test]
    fn pinned_short_forward_branch_after_long_instructions() {
        let mut text = String::new();
        for _ in 0..20 {
            text.push_str("  load_imm_64 r1, 0x1122334455667788\n");
        }
        text.push_str("  branch_eq r1, r2, end:1\n  trap\nend:\n  trap\n");
        let a = assemble(&parse(&text).unwrap()).unwrap();
        assert_eq!(a.labels["end"], 200 + 3 + 1);
        assert_eq!(a.code_len, 200 + 3 + 1 + 1);
    }

    #[test]
    fn a_length_the_widths_cannot_give_is_an_internal_error() {
        let (inst, widths) = match &parse("load_imm r1, 5:1\n").unwrap().items[0] {
            Item::Instruction(i) => resolve(i, &HashMap::new(), &jump_table(&Program::default()).unwrap()).unwrap(),
            other => panic!("expected an instruction, got {other:?}"),
        };
        assert_eq!(encode_exact(&inst, 0, widths, 3).unwrap(), [0x33, 0x01, 0x05]);
        assert_eq!(
            encode_exact(&inst, 0, widths, 4).unwrap_err(),
            "internal error: no encoding of 4 bytes with the widths asked (the shortest has 3)"
        );
        // Without a pinned width the field widens to fill the length.
        let free = Widths::default();
        assert_eq!(encode_exact(&inst, 0, free, 4).unwrap(), [0x33, 0x01, 0x05, 0x00]);
    }

    #[test]
    fn immediates_and_errors() {
        let ok = assemble(&parse("load_imm r1, 0xffffffff\nload_imm r1, -1").unwrap()).unwrap();
        assert_eq!(hex(&ok.blob[3..9]), "3301ff3301ff");
        let e = assemble(&parse("trap\nload_imm r1, 0x100000000").unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "line 2: load_imm: immediate 0x100000000 does not fit a 32-bit field");
        let e = assemble(&parse("jump nowhere").unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "line 1: undefined label `nowhere`");
        let e = assemble(&parse("load_imm r1, 300:1").unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: load_imm: width 1 cannot hold a value that needs 2 bytes (widths are 2..=4)"
        );
    }
}
