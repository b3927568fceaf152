//! Constants made from constants: at `-Oz`, a `load_imm` of a value that another
//! register holds give or take a small delta becomes an `add_imm_32` from that register
//! (an `add_imm_64` for a `load_imm_64`, a `move_reg` for the same value).
//!
//! Each takes one instruction, as the load did, so the gas does not change; the bytes do:
//! `load_imm` is two bytes and its constant's, `add_imm_32` two bytes and the delta's.
//! An entry's result, for one, is two addresses four apart (`load_imm r7, 131088` and
//! `load_imm r8, 131092`: the second becomes `add_imm_32 r8, r7, 4`, 3 bytes instead of
//! 5). Applied to a function's emitted code, where registers are known: a register holds
//! a known value from the `load_imm` or `load_imm_64` that wrote it until anything else
//! names it as an operand (written or not), until a host call (which may write any
//! register), and never past a label (code may arrive there from elsewhere).

use pvm_asm::{AsmInstruction, Item, Operand, Value};
use pvm_isa::codec::{imm_len, sign_extend};
use pvm_isa::format::REG_COUNT;
use pvm_isa::{Opcode, Reg};

/// Rewrites the constant loads of one function's items that a known register makes
/// shorter.
pub fn apply(items: &mut [Item]) {
    let mut known: [Option<u64>; REG_COUNT] = [None; REG_COUNT];
    for item in items {
        let instruction = match item {
            Item::Instruction(instruction) => instruction,
            Item::Comment(_) => continue,
            Item::Label(_) | Item::Insn(_) | Item::Bytes(_) => {
                known = [None; REG_COUNT];
                continue;
            }
        };
        if let Some((target, value)) = loaded_constant(instruction) {
            if let Some(shorter) = from_known(target, value, instruction.opcode, &known) {
                *instruction = shorter;
            }
            known[target.index() as usize] = Some(value);
            continue;
        }
        if instruction.opcode == Opcode::Ecalli {
            known = [None; REG_COUNT];
        }
        for operand in &instruction.operands {
            if let Operand::Reg(reg) = operand {
                known[reg.index() as usize] = None;
            }
        }
    }
}

/// The register and the 64-bit value a `load_imm` or `load_imm_64` of a number writes.
fn loaded_constant(instruction: &AsmInstruction) -> Option<(Reg, u64)> {
    let [Operand::Reg(target), Operand::Imm { value: Value::Const(value), width: None }] =
        instruction.operands.as_slice()
    else {
        return None;
    };
    match instruction.opcode {
        // A 32-bit field: `2^31..2^32` stands for the pattern the machine sign-extends.
        Opcode::LoadImm => Some((*target, if *value >> 32 == 0 { sign_extend(*value, 4) } else { *value })),
        Opcode::LoadImm64 => Some((*target, *value)),
        _ => None,
    }
}

/// The instruction that writes `value` to `target` from a register `known` holds, when
/// it is shorter than the load `opcode` (the register whose delta is the shortest).
fn from_known(target: Reg, value: u64, opcode: Opcode, known: &[Option<u64>; REG_COUNT]) -> Option<AsmInstruction> {
    let wide = opcode == Opcode::LoadImm64;
    // Both forms are an opcode, a register byte and the immediate.
    let load_len = if wide { 8 } else { imm_len(value)? };
    let (source, held, delta, delta_len) = known
        .iter()
        .enumerate()
        .filter_map(|(reg, held)| {
            let held = (*held)?;
            // `add_imm_32` adds to the low 32 bits and sign-extends the sum.
            let delta = if wide { value.wrapping_sub(held) } else { sign_extend(value.wrapping_sub(held), 4) };
            Some((reg, held, delta, imm_len(delta)?))
        })
        .min_by_key(|&(.., len)| len)?;
    if delta_len >= load_len {
        return None;
    }
    let operands = vec![Operand::Reg(target), Operand::Reg(Reg::new(source as u8)?)];
    Some(if held == value {
        AsmInstruction::new(Opcode::MoveReg, operands)
    } else {
        let add = if wide { Opcode::AddImm64 } else { Opcode::AddImm32 };
        AsmInstruction::new(add, [operands, vec![Operand::imm(delta)]].concat())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instructions of `code` after `apply`, one per line, as the assembler prints
    /// them (labels keep their line).
    fn applied(code: &str) -> Vec<String> {
        let mut program = pvm_asm::parse(&format!(".asm 1\nf:\n{code}")).unwrap();
        apply(&mut program.items);
        program.to_string().lines().skip_while(|l| *l != "f:").skip(1).map(|l| l.trim().to_string()).collect()
    }

    #[test]
    fn a_constant_near_a_known_one_is_added_to_it() {
        let code =
            "load_imm r7, 131088\nload_imm r8, 131092\nload_imm r9, 131088\nload_imm r10, 0x20000\njump_ind r0, 0";
        assert_eq!(
            applied(code),
            [
                "load_imm r7, 131088",
                "add_imm_32 r8, r7, 4",
                "move_reg r9, r7",
                "add_imm_32 r10, r7, -16",
                "jump_ind r0, 0"
            ]
        );
    }

    #[test]
    fn only_a_shorter_delta_replaces_the_load() {
        // 1000 and 5 take 2 and 1 bytes; the deltas 995 and -995 take 2.
        assert_eq!(
            applied("load_imm r7, 1000\nload_imm r8, 5\nload_imm r9, 1000"),
            ["load_imm r7, 1000", "load_imm r8, 5", "move_reg r9, r7"]
        );
        // Zero is a load of no immediate bytes already.
        assert_eq!(applied("load_imm r7, 1\nload_imm r8, 0"), ["load_imm r7, 1", "load_imm r8, 0"]);
    }

    #[test]
    fn a_32_bit_pattern_stands_for_its_sign_extension() {
        // 0xfeff0000 loads 0xfffffffffeff0000; the nearest known value is r8's.
        assert_eq!(
            applied("load_imm r7, 0x7eff0000\nload_imm r8, -16842760\nload_imm r9, 0xfeff0000"),
            ["load_imm r7, 0x7eff0000", "load_imm r8, 0xfefefff8", "add_imm_32 r9, r8, 8"]
        );
        // `add_imm_32` wraps and sign-extends: from 0x7fffffff, 0x80000000 is one step.
        assert_eq!(
            applied("load_imm r7, 0x7fffffff\nload_imm r8, 0x80000000"),
            ["load_imm r7, 0x7fffffff", "add_imm_32 r8, r7, 1"]
        );
    }

    #[test]
    fn a_64_bit_constant_near_a_known_one_is_added_to_it() {
        assert_eq!(
            applied("load_imm_64 r7, 0x100000001b3\nload_imm_64 r8, 0x100000001b0\nload_imm r9, 0x1b4"),
            ["load_imm_64 r7, 0x100000001b3", "add_imm_64 r8, r7, -3", "add_imm_32 r9, r7, 1"]
        );
        // 2^32 apart: no 32-bit immediate bridges them.
        assert_eq!(
            applied("load_imm_64 r7, 0x100000001b3\nload_imm_64 r8, 0x1b3"),
            ["load_imm_64 r7, 0x100000001b3", "load_imm_64 r8, 435"]
        );
    }

    #[test]
    fn a_register_named_by_any_instruction_label_or_host_call_is_no_longer_known() {
        // Read or written: a store names r7, so r7 is forgotten (r8 too, read by the add).
        assert_eq!(
            applied("load_imm r7, 131088\nstore_u32 r7, 16\nload_imm r8, 131092"),
            ["load_imm r7, 131088", "store_u32 r7, 16", "load_imm r8, 131092"]
        );
        assert_eq!(
            applied("load_imm r7, 131088\ng:\nload_imm r8, 131092"),
            ["load_imm r7, 131088", "g:", "load_imm r8, 131092"]
        );
        assert_eq!(
            applied("load_imm r7, 131088\necalli 100\nload_imm r8, 131092"),
            ["load_imm r7, 131088", "ecalli 100", "load_imm r8, 131092"]
        );
        // A branch leaves registers as they were on the path that falls through.
        assert_eq!(
            applied("load_imm r7, 131088\nbranch_eq_imm r9, 0, f\nload_imm r8, 131092"),
            ["load_imm r7, 131088", "branch_eq_imm r9, 0, f", "add_imm_32 r8, r7, 4"]
        );
    }
}
