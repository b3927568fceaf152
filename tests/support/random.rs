//! Random PVM programs as assembly text: every instruction of the table with random
//! operands, branches and jumps to valid targets (direct, through the jump table, to the
//! halt address) and to invalid ones, loads and stores inside and outside mapped memory
//! (at region ends, around 0x10000 and the top of the address space), `sbrk`, `ecalli`.

use super::Rng;
use pvm_isa::spi::{ARGS_START, PAGE_SIZE, SpiLayout};
use pvm_isa::{Format, Opcode};

/// The memory a program gets, for choosing addresses.
struct Memory {
    layout: SpiLayout,
}

impl Memory {
    /// An address for an access of `size` bytes: usually inside a mapped region (never
    /// straddling a page, see docs/runner.md), sometimes just outside one or anywhere.
    fn address(&self, rng: &mut Rng, size: u64) -> u64 {
        let regions = [&self.layout.ro, &self.layout.rw, &self.layout.stack, &self.layout.args];
        let region = rng.pick(&regions);
        match rng.below(10) {
            0 => rng.next() & 0xffff_ffff,
            1 => region.end,
            2 => region.start.wrapping_sub(size),
            3 => *rng.pick(&[0, 0xffff, 0x10000, 0xffff_f000, u64::from(ARGS_START) - 8]),
            _ => {
                let len = (region.end - region.start).max(size);
                let page = region.start + (rng.below(len) & !u64::from(PAGE_SIZE - 1));
                page + (rng.below(u64::from(PAGE_SIZE) - size + 1) & !(size - 1))
            }
        }
    }
}

fn access_size(op: Opcode) -> Option<u64> {
    let name = op.mnemonic();
    if !(name.starts_with("load_") || name.starts_with("store_")) || name.starts_with("load_imm") {
        return None;
    }
    Some(match name.rsplit('_').next().unwrap() {
        "u8" | "i8" => 1,
        "u16" | "i16" => 2,
        "u32" | "i32" => 4,
        _ => 8,
    })
}

fn reg(rng: &mut Rng) -> String {
    format!("r{}", rng.below(13))
}

fn imm(rng: &mut Rng) -> String {
    let v: i64 = match rng.below(6) {
        0 => rng.below(16) as i64,
        1 => -(rng.below(16) as i64),
        2 => *rng.pick(&[0x7fff_ffff, -0x8000_0000, 0xff, 0xffff, 63, 64, 31, 32, -1]),
        3 => rng.next() as i32 as i64,
        4 => rng.below(1 << 12) as i64,
        _ => (rng.next() as i16) as i64,
    };
    v.to_string()
}

/// A random `.jam` as assembly text, and its args.
pub fn program(rng: &mut Rng) -> (String, Vec<u8>) {
    let ro: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
    let rw: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
    let heap_pages = rng.below(3) as u16;
    let stack_size = rng.below(3) as u32 * 4096 + rng.below(100) as u32;
    let args: Vec<u8> = (0..rng.below(20)).map(|_| rng.next() as u8).collect();
    let memory =
        Memory { layout: SpiLayout::new(ro.len() as u32, rw.len() as u32, heap_pages, stack_size, args.len() as u32) };
    let hexed = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();

    let blocks = 2 + rng.below(8) as usize;
    let label = |rng: &mut Rng| format!("b{}", rng.below(blocks as u64));
    let mut text = String::new();
    if !ro.is_empty() {
        text.push_str(&format!(".ro_data {}\n", hexed(&ro)));
    }
    if !rw.is_empty() {
        text.push_str(&format!(".rw_data {}\n", hexed(&rw)));
    }
    text.push_str(&format!(".heap_pages {heap_pages}\n.stack_size {stack_size}\n"));
    for block in 0..blocks {
        text.push_str(&format!("b{block}:\n"));
        for _ in 0..rng.below(12) {
            let op = *rng.pick(Opcode::ALL);
            if op.is_terminator() {
                continue;
            }
            text.push_str(&format!("  {}\n", instruction(rng, op, &memory)));
        }
        // End the block: a terminator (or fall into the next block).
        let last = block + 1 == blocks;
        let ending = match rng.below(if last { 6 } else { 10 }) {
            0 => "jump_ind r0, 0".to_string(),
            1 => format!("jump {}", label(rng)),
            2 => {
                let r = reg(rng);
                format!("load_imm {r}, &{}\n  jump_ind {r}, 0", label(rng))
            }
            3 => format!("load_imm_jump {}, {}, {}", reg(rng), imm(rng), label(rng)),
            4 => format!("{} {}, {}, {}", rng.pick(&BRANCH_IMM), reg(rng), imm(rng), label(rng)),
            5 => rng.pick(&["trap", "fallthrough", "jump_ind r0, 0"]).to_string(),
            6 => format!("{} {}, {}, {}", rng.pick(&BRANCH_REG), reg(rng), reg(rng), label(rng)),
            7 => format!("jump_ind {}, {}", reg(rng), imm(rng)),
            8 => format!("load_imm_jump_ind {}, {}, {}, {}", reg(rng), reg(rng), imm(rng), imm(rng)),
            _ => String::new(),
        };
        if !ending.is_empty() {
            text.push_str(&format!("  {ending}\n"));
        }
    }
    (text, args)
}

const BRANCH_IMM: [&str; 10] = [
    "branch_eq_imm",
    "branch_ne_imm",
    "branch_lt_u_imm",
    "branch_le_u_imm",
    "branch_ge_u_imm",
    "branch_gt_u_imm",
    "branch_lt_s_imm",
    "branch_le_s_imm",
    "branch_ge_s_imm",
    "branch_gt_s_imm",
];
const BRANCH_REG: [&str; 6] = ["branch_eq", "branch_ne", "branch_lt_u", "branch_lt_s", "branch_ge_u", "branch_ge_s"];

/// One non-terminator instruction (with a set-up `load_imm` for addresses and sizes).
fn instruction(rng: &mut Rng, op: Opcode, memory: &Memory) -> String {
    let name = op.mnemonic();
    if let Some(size) = access_size(op) {
        let address = memory.address(rng, size);
        return match op.format() {
            Format::RegImm => format!("{name} {}, {address}", reg(rng)),
            Format::ImmImm => format!("{name} {address}, {}", imm(rng)),
            Format::RegImmImm | Format::RegRegImm => {
                // Usually a base register set just before; sometimes whatever it holds.
                let base = format!("r{}", 1 + rng.below(12));
                let offset = rng.below(64) & !(size - 1);
                let setup = if rng.chance(80) {
                    format!("load_imm {base}, {}\n  ", address.wrapping_sub(offset) as u32)
                } else {
                    String::new()
                };
                if op.format() == Format::RegImmImm {
                    format!("{setup}{name} {base}, {offset}, {}", imm(rng))
                } else {
                    format!("{setup}{name} {}, {base}, {offset}", reg(rng))
                }
            }
            other => unreachable!("{name} has format {other:?}"),
        };
    }
    match op {
        Opcode::Ecalli => format!("ecalli {}", if rng.chance(50) { 100 } else { rng.below(200) }),
        Opcode::Sbrk => {
            let size = reg(rng);
            format!(
                "load_imm {size}, {}\n  sbrk {}, {size}",
                rng.pick(&[0, 1, 4096, 5000, 70000, 0x7fff_0000]),
                reg(rng)
            )
        }
        Opcode::LoadImm64 => format!("load_imm_64 {}, {:#x}", reg(rng), rng.next()),
        _ => match op.format() {
            Format::RegImm => format!("{name} {}, {}", reg(rng), imm(rng)),
            Format::RegReg => format!("{name} {}, {}", reg(rng), reg(rng)),
            Format::RegRegImm => format!("{name} {}, {}, {}", reg(rng), reg(rng), imm(rng)),
            Format::RegRegReg => format!("{name} {}, {}, {}", reg(rng), reg(rng), reg(rng)),
            other => unreachable!("{name} has format {other:?}"),
        },
    }
}
