//! One decoded instruction: operand decoding (Gray Paper A.5, eqs. A.20–A.32) and the
//! canonical encoder with optional explicit field widths.
//!
//! Immediates are held as the 64-bit value the machine sees (already sign-extended);
//! branch targets as absolute code offsets (`pc + offset`, wrapping at 2^32).
//!
//! Encodings the assembler never produces decode by the Gray Paper's rules, or under
//! [`Decoding::Reference`] by those of the reference implementation (pvm-spec §10).

use crate::blob::MAX_SKIP;
use crate::codec::{imm_len, sign_extend};
use crate::format::{Format, Reg};
use crate::opcode::Opcode;
use std::fmt;

/// Decoded operands, one variant per [`Format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Args {
    /// [`Format::NoArgs`].
    None,
    /// [`Format::Imm`].
    Imm(u64),
    /// [`Format::RegImm64`]: register, 64-bit immediate.
    RegImm64(Reg, u64),
    /// [`Format::ImmImm`]: immX, immY.
    ImmImm(u64, u64),
    /// [`Format::Offset`]: branch target.
    Offset(u32),
    /// [`Format::RegImm`]: rA, imm.
    RegImm(Reg, u64),
    /// [`Format::RegImmImm`]: rA, immX, immY.
    RegImmImm(Reg, u64, u64),
    /// [`Format::RegImmOffset`]: rA, imm, branch target.
    RegImmOffset(Reg, u64, u32),
    /// [`Format::RegReg`]: rD (destination), rA (source).
    RegReg(Reg, Reg),
    /// [`Format::RegRegImm`]: rA, rB, imm.
    RegRegImm(Reg, Reg, u64),
    /// [`Format::RegRegOffset`]: rA, rB, branch target.
    RegRegOffset(Reg, Reg, u32),
    /// [`Format::RegRegImmImm`]: rA, rB, immX, immY.
    RegRegImmImm(Reg, Reg, u64, u64),
    /// [`Format::RegRegReg`]: rD (destination), rA, rB.
    RegRegReg(Reg, Reg, Reg),
}

impl Args {
    /// The format these operands belong to.
    pub const fn format(&self) -> Format {
        match self {
            Args::None => Format::NoArgs,
            Args::Imm(..) => Format::Imm,
            Args::RegImm64(..) => Format::RegImm64,
            Args::ImmImm(..) => Format::ImmImm,
            Args::Offset(..) => Format::Offset,
            Args::RegImm(..) => Format::RegImm,
            Args::RegImmImm(..) => Format::RegImmImm,
            Args::RegImmOffset(..) => Format::RegImmOffset,
            Args::RegReg(..) => Format::RegReg,
            Args::RegRegImm(..) => Format::RegRegImm,
            Args::RegRegOffset(..) => Format::RegRegOffset,
            Args::RegRegImmImm(..) => Format::RegRegImmImm,
            Args::RegRegReg(..) => Format::RegRegReg,
        }
    }

    /// The static branch target, if the format has one.
    pub const fn target(&self) -> Option<u32> {
        match *self {
            Args::Offset(t) | Args::RegImmOffset(_, _, t) | Args::RegRegOffset(_, _, t) => Some(t),
            _ => None,
        }
    }
}

/// Byte widths of the variable-length fields of an encoding (`None` = shortest).
/// `first` is the only field of a one-field format, or immX of a two-field format;
/// `second` is immY or the branch offset of a two-field format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Widths {
    /// Width of the first variable field.
    pub first: Option<u8>,
    /// Width of the second variable field.
    pub second: Option<u8>,
}

/// Why an instruction cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The operands do not match the opcode's format.
    #[error("{opcode} takes {expected:?} operands")]
    WrongFormat {
        /// The opcode.
        opcode: Opcode,
        /// Its format.
        expected: Format,
    },
    /// An immediate that no 4-byte sign-extended field can hold.
    #[error("immediate {0:#x} does not fit a sign-extended 32-bit field")]
    ImmediateOutOfRange(u64),
    /// An explicit width smaller than the value needs, or larger than 4.
    #[error("width {given} cannot hold a value that needs {needed} bytes (widths are {needed}..=4)")]
    BadWidth {
        /// Width asked for.
        given: u8,
        /// Smallest width that works.
        needed: u8,
    },
}

/// A decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instruction {
    /// The opcode.
    pub opcode: Opcode,
    /// Its operands.
    pub args: Args,
}

/// Byte `i` of the code; the code is followed by infinitely many zeros (GP eq. A.4).
fn code_byte(code: &[u8], i: usize) -> u8 {
    code.get(i).copied().unwrap_or(0)
}

/// `len` bytes from `start`, little-endian, zero past the end of the code.
fn code_le(code: &[u8], start: usize, len: usize) -> u64 {
    (0..len).rev().fold(0u64, |acc, k| (acc << 8) | u64::from(code_byte(code, start + k)))
}

/// Immediate of `len` bytes from `start`, sign-extended (GP `X_len`).
fn code_imm(code: &[u8], start: usize, len: usize) -> u64 {
    sign_extend(code_le(code, start, len), len)
}

/// Branch target `pc + signed(offset of len bytes at start)`, wrapping at 2^32.
fn code_target(code: &[u8], pc: u32, start: usize, len: usize) -> u32 {
    pc.wrapping_add(code_imm(code, start, len) as u32)
}

/// Whose rules decode the encodings the assembler never produces (pvm-spec §10, rows 5–7):
/// a skip longer than 24 bytes, a three-register destination byte of 16 or more, a length
/// field of 8 or more. Canonical encodings decode alike under both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decoding {
    /// The Gray Paper's: skip capped at 24, destination `min(12, byte)`, length
    /// `min(4, field mod 8)`.
    #[default]
    GrayPaper,
    /// The reference implementation's (anan-as): skip capped at 25, destination
    /// `min(12, byte & 15)`, length `min(4, field)` of a 4-bit field.
    Reference,
}

impl Decoding {
    /// The largest skip ℓ: the bytes after an opcode that belong to its instruction.
    pub const fn skip_cap(self) -> usize {
        match self {
            Decoding::GrayPaper => MAX_SKIP,
            Decoding::Reference => MAX_SKIP + 1,
        }
    }

    /// The width of a variable field whose length is given by `field` (a byte whose low
    /// bits, or a nibble, hold it).
    fn length(self, field: u8) -> usize {
        4.min(usize::from(match self {
            Decoding::GrayPaper => field % 8,
            Decoding::Reference => field & 15,
        }))
    }

    /// The destination register of a three-register instruction from its byte.
    const fn destination(self, byte: u8) -> Reg {
        match self {
            Decoding::GrayPaper => Reg::clamped(byte),
            Decoding::Reference => Reg::clamped(byte & 15),
        }
    }
}

impl Instruction {
    /// An instruction from its parts.
    pub const fn new(opcode: Opcode, args: Args) -> Self {
        Instruction { opcode, args }
    }

    /// Decodes the instruction whose opcode byte is at `pc`, with `skip` = ℓ (the number of
    /// bytes before the next instruction start). Returns `None` when the byte is not an
    /// assigned opcode (the machine treats it as `trap`). Decodes by the Gray Paper's rules.
    pub fn decode(code: &[u8], pc: u32, skip: usize) -> Option<Instruction> {
        Self::decode_as(code, pc, skip, Decoding::GrayPaper)
    }

    /// [`Instruction::decode`] by the rules of `decoding`.
    pub fn decode_as(code: &[u8], pc: u32, skip: usize, decoding: Decoding) -> Option<Instruction> {
        let at = pc as usize;
        let opcode = Opcode::from_u8(code_byte(code, at))?;
        let b1 = code_byte(code, at + 1);
        let low = Reg::clamped(b1 & 15);
        let high = Reg::clamped(b1 >> 4);
        let one_field = |lead: usize| (4usize).min(skip.saturating_sub(lead));
        let args = match opcode.format() {
            Format::NoArgs => Args::None,
            Format::Imm => Args::Imm(code_imm(code, at + 1, one_field(0))),
            Format::RegImm64 => Args::RegImm64(low, code_le(code, at + 2, 8)),
            Format::ImmImm => {
                let lx = decoding.length(b1);
                let ly = one_field(lx + 1);
                Args::ImmImm(code_imm(code, at + 2, lx), code_imm(code, at + 2 + lx, ly))
            }
            Format::Offset => Args::Offset(code_target(code, pc, at + 1, one_field(0))),
            Format::RegImm => Args::RegImm(low, code_imm(code, at + 2, one_field(1))),
            Format::RegImmImm | Format::RegImmOffset => {
                let lx = decoding.length(b1 >> 4);
                let ly = one_field(lx + 1);
                let x = code_imm(code, at + 2, lx);
                if opcode.format() == Format::RegImmImm {
                    Args::RegImmImm(low, x, code_imm(code, at + 2 + lx, ly))
                } else {
                    Args::RegImmOffset(low, x, code_target(code, pc, at + 2 + lx, ly))
                }
            }
            Format::RegReg => Args::RegReg(low, high),
            Format::RegRegImm => Args::RegRegImm(low, high, code_imm(code, at + 2, one_field(1))),
            Format::RegRegOffset => Args::RegRegOffset(low, high, code_target(code, pc, at + 2, one_field(1))),
            Format::RegRegImmImm => {
                let lx = decoding.length(code_byte(code, at + 2));
                let ly = one_field(lx + 2);
                Args::RegRegImmImm(low, high, code_imm(code, at + 3, lx), code_imm(code, at + 3 + lx, ly))
            }
            Format::RegRegReg => Args::RegRegReg(decoding.destination(code_byte(code, at + 2)), low, high),
        };
        Some(Instruction { opcode, args })
    }

    /// The widths of the variable fields as they were encoded in `code` at `pc` with
    /// skip ℓ. Together with [`Instruction::decode`] this describes the encoding; see
    /// [`Instruction::encode`].
    pub fn encoded_widths(code: &[u8], pc: u32, skip: usize) -> Widths {
        let at = pc as usize;
        let b1 = code_byte(code, at + 1);
        let Some(opcode) = Opcode::from_u8(code_byte(code, at)) else {
            return Widths::default();
        };
        let one = |lead: usize| Some(4.min(skip.saturating_sub(lead)) as u8);
        let two = |lx: usize, lead: usize| Widths { first: Some(lx as u8), second: one(lx + lead) };
        match opcode.format() {
            Format::NoArgs | Format::RegImm64 | Format::RegReg | Format::RegRegReg => Widths::default(),
            Format::Imm | Format::Offset => Widths { first: one(0), second: None },
            Format::RegImm | Format::RegRegImm | Format::RegRegOffset => Widths { first: one(1), second: None },
            Format::ImmImm => two(Decoding::GrayPaper.length(b1), 1),
            Format::RegImmImm | Format::RegImmOffset => two(Decoding::GrayPaper.length(b1 >> 4), 1),
            Format::RegRegImmImm => two(Decoding::GrayPaper.length(code_byte(code, at + 2)), 2),
        }
    }

    /// Appends the encoding of this instruction, placed at `pc`, to `out`: the opcode byte
    /// and its operands, with each variable field in its shortest form unless `widths`
    /// gives its width. The mask bit of the first byte is the caller's to set.
    pub fn encode(&self, pc: u32, widths: Widths, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self.args.format() != self.opcode.format() {
            return Err(EncodeError::WrongFormat { opcode: self.opcode, expected: self.opcode.format() });
        }
        out.push(self.opcode as u8);
        let nib = |lo: Reg, hi: Reg| lo.index() | hi.index() << 4;
        match self.args {
            Args::None => {}
            Args::Imm(x) => {
                put_imm(x, widths.first, out)?;
            }
            Args::RegImm64(r, x) => {
                out.push(r.index());
                out.extend_from_slice(&x.to_le_bytes());
            }
            Args::ImmImm(x, y) => {
                let lx = width_for(x, widths.first)?;
                out.push(lx);
                put_bytes(x, lx, out);
                put_imm(y, widths.second, out)?;
            }
            Args::Offset(t) => {
                put_imm(offset(pc, t), widths.first, out)?;
            }
            Args::RegImm(r, x) => {
                out.push(r.index());
                put_imm(x, widths.first, out)?;
            }
            Args::RegImmImm(r, x, y) => {
                let lx = width_for(x, widths.first)?;
                out.push(r.index() | lx << 4);
                put_bytes(x, lx, out);
                put_imm(y, widths.second, out)?;
            }
            Args::RegImmOffset(r, x, t) => {
                let lx = width_for(x, widths.first)?;
                out.push(r.index() | lx << 4);
                put_bytes(x, lx, out);
                put_imm(offset(pc, t), widths.second, out)?;
            }
            Args::RegReg(d, a) => out.push(nib(d, a)),
            Args::RegRegImm(a, b, x) => {
                out.push(nib(a, b));
                put_imm(x, widths.first, out)?;
            }
            Args::RegRegOffset(a, b, t) => {
                out.push(nib(a, b));
                put_imm(offset(pc, t), widths.first, out)?;
            }
            Args::RegRegImmImm(a, b, x, y) => {
                out.push(nib(a, b));
                let lx = width_for(x, widths.first)?;
                out.push(lx);
                put_bytes(x, lx, out);
                put_imm(y, widths.second, out)?;
            }
            Args::RegRegReg(d, a, b) => {
                out.push(nib(a, b));
                out.push(d.index());
            }
        }
        Ok(())
    }

    /// Length in bytes of [`Instruction::encode`]'s output.
    pub fn encoded_len(&self, pc: u32, widths: Widths) -> Result<usize, EncodeError> {
        let mut scratch = Vec::with_capacity(16);
        self.encode(pc, widths, &mut scratch)?;
        Ok(scratch.len())
    }
}

/// The signed offset from `pc` to `target` (mod 2^32) as a sign-extended 64-bit value.
fn offset(pc: u32, target: u32) -> u64 {
    i64::from(target.wrapping_sub(pc) as i32) as u64
}

/// The width to use for `value`: the explicit one if valid, else the shortest.
fn width_for(value: u64, explicit: Option<u8>) -> Result<u8, EncodeError> {
    let needed = imm_len(value).ok_or(EncodeError::ImmediateOutOfRange(value))? as u8;
    match explicit {
        None => Ok(needed),
        Some(given) if given >= needed && given <= 4 => Ok(given),
        Some(given) => Err(EncodeError::BadWidth { given, needed }),
    }
}

fn put_bytes(value: u64, len: u8, out: &mut Vec<u8>) {
    out.extend_from_slice(&value.to_le_bytes()[..usize::from(len)]);
}

fn put_imm(value: u64, explicit: Option<u8>, out: &mut Vec<u8>) -> Result<u8, EncodeError> {
    let len = width_for(value, explicit)?;
    put_bytes(value, len, out);
    Ok(len)
}

impl fmt::Display for Instruction {
    /// Gray Paper mnemonic and operands; immediates in decimal (signed), targets as
    /// absolute code offsets prefixed with `@`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.opcode)?;
        let s = |v: u64| v as i64;
        match self.args {
            Args::None => Ok(()),
            Args::Imm(x) => write!(f, " {}", s(x)),
            Args::RegImm64(r, x) => write!(f, " {r}, {x:#x}"),
            Args::ImmImm(x, y) => write!(f, " {}, {}", s(x), s(y)),
            Args::Offset(t) => write!(f, " @{t}"),
            Args::RegImm(r, x) => write!(f, " {r}, {}", s(x)),
            Args::RegImmImm(r, x, y) => write!(f, " {r}, {}, {}", s(x), s(y)),
            Args::RegImmOffset(r, x, t) => write!(f, " {r}, {}, @{t}", s(x)),
            Args::RegReg(d, a) => write!(f, " {d}, {a}"),
            Args::RegRegImm(a, b, x) => write!(f, " {a}, {b}, {}", s(x)),
            Args::RegRegOffset(a, b, t) => write!(f, " {a}, {b}, @{t}"),
            Args::RegRegImmImm(a, b, x, y) => write!(f, " {a}, {b}, {}, {}", s(x), s(y)),
            Args::RegRegReg(d, a, b) => write!(f, " {d}, {a}, {b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(i: u8) -> Reg {
        Reg::new(i).unwrap()
    }

    fn skip_of(len: usize) -> usize {
        len - 1
    }

    /// The worked examples of the spec, decoded and re-encoded byte for byte.
    #[test]
    fn worked_examples() {
        let cases: &[(&[u8], u32, Instruction)] = &[
            (&[0xbe, 0x87, 0x09], 0, Instruction::new(Opcode::Add32, Args::RegRegReg(reg(9), reg(7), reg(8)))),
            (
                &[0x95, 0x77, 0x9c],
                0,
                Instruction::new(Opcode::AddImm64, Args::RegRegImm(reg(7), reg(7), (-100i64) as u64)),
            ),
            (
                &[0x47, 0x27, 0x00, 0x01, 0x34, 0x12],
                0,
                Instruction::new(Opcode::StoreImmIndU16, Args::RegImmImm(reg(7), 0x100, 0x1234)),
            ),
            (
                &[0x51, 0x27, 0xd2, 0x04, 0x06],
                4,
                Instruction::new(Opcode::BranchEqImm, Args::RegImmOffset(reg(7), 1234, 10)),
            ),
            (
                &[0xb4, 0x78, 0x02, 0xd2, 0x04, 0x64],
                0,
                Instruction::new(Opcode::LoadImmJumpInd, Args::RegRegImmImm(reg(8), reg(7), 1234, 100)),
            ),
            (
                &[0x14, 0x08, 0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0],
                0,
                Instruction::new(Opcode::LoadImm64, Args::RegImm64(reg(8), 0xdead_beef)),
            ),
        ];
        for (bytes, pc, expected) in cases {
            // Place the bytes at `pc` in a code buffer.
            let mut code = vec![0u8; *pc as usize];
            code.extend_from_slice(bytes);
            let decoded = Instruction::decode(&code, *pc, skip_of(bytes.len())).unwrap();
            assert_eq!(&decoded, expected);
            let mut out = Vec::new();
            decoded.encode(*pc, Widths::default(), &mut out).unwrap();
            assert_eq!(&out, bytes, "{decoded}");
        }
    }

    #[test]
    fn explicit_widths_reproduce_non_minimal_encodings() {
        // load_imm r7, 5 with a 4-byte immediate.
        let code = [0x33, 0x07, 0x05, 0x00, 0x00, 0x00];
        let inst = Instruction::decode(&code, 0, 5).unwrap();
        assert_eq!(inst, Instruction::new(Opcode::LoadImm, Args::RegImm(reg(7), 5)));
        let widths = Instruction::encoded_widths(&code, 0, 5);
        assert_eq!(widths, Widths { first: Some(4), second: None });
        let mut out = Vec::new();
        inst.encode(0, widths, &mut out).unwrap();
        assert_eq!(out, code);
        assert_eq!(inst.encoded_len(0, Widths::default()), Ok(3));
    }

    #[test]
    fn encode_errors() {
        let too_big = Instruction::new(Opcode::LoadImm, Args::RegImm(reg(1), 0x8000_0000));
        assert_eq!(
            too_big.encode(0, Widths::default(), &mut Vec::new()),
            Err(EncodeError::ImmediateOutOfRange(0x8000_0000))
        );
        let narrow = Instruction::new(Opcode::LoadImm, Args::RegImm(reg(1), 300));
        let w = Widths { first: Some(1), second: None };
        assert_eq!(narrow.encode(0, w, &mut Vec::new()), Err(EncodeError::BadWidth { given: 1, needed: 2 }));
        let mismatched = Instruction::new(Opcode::Trap, Args::Imm(1));
        assert!(matches!(
            mismatched.encode(0, Widths::default(), &mut Vec::new()),
            Err(EncodeError::WrongFormat { .. })
        ));
    }

    #[test]
    fn operands_past_the_end_read_as_zero() {
        // branch_eq_imm r7 with everything cut off: imm 0, offset 0.
        let code = [0x51];
        let inst = Instruction::decode(&code, 0, 0).unwrap();
        assert_eq!(inst, Instruction::new(Opcode::BranchEqImm, Args::RegImmOffset(reg(0), 0, 0)));
        assert_eq!(Instruction::decode(&[2], 0, 0), None);
    }

    #[test]
    fn backward_branch_target_wraps() {
        // jump -4 at pc 2 → target u32::MAX - 1.
        let mut code = vec![0, 0];
        code.extend_from_slice(&[0x28, 0xfc]);
        let inst = Instruction::decode(&code, 2, 1).unwrap();
        assert_eq!(inst.args, Args::Offset(u32::MAX - 1));
        let mut out = Vec::new();
        inst.encode(2, Widths::default(), &mut out).unwrap();
        assert_eq!(out, [0x28, 0xfc]);
    }
}
