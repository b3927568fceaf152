//! The program blob (Gray Paper A.2 "deblob", eq. A.2; C.1.4): jump table, code and
//! opcode bitmask, with the skip function (eq. A.3), instruction walking and basic-block
//! starts (eq. A.5).
//!
//! Parsing is zero-copy and lenient about what the Gray Paper calls invalid but readers
//! commonly accept (trailing bytes, set padding bits, non-canonical lengths); those are
//! reported by [`ProgramBlob::findings`].

use crate::codec::{self, Reader, bit, encode_varint, pack_bits, varint_len};
use crate::error::DecodeError;
use crate::instruction::Instruction;
use crate::opcode::Opcode;

/// The longest skip the Gray Paper allows (eq. A.3).
pub const MAX_SKIP: usize = 24;

/// A program blob borrowed from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramBlob<'a> {
    /// Bytes per jump-table entry (`z`).
    pub jump_table_entry_size: u8,
    /// Number of jump-table entries.
    pub jump_table_len: usize,
    jump_table: &'a [u8],
    /// The code bytes `c`.
    pub code: &'a [u8],
    /// The opcode bitmask `k`, `ceil(len(c) / 8)` bytes.
    pub mask: &'a [u8],
    /// Bytes after the bitmask (none in a valid blob).
    pub trailing: &'a [u8],
    /// File offsets of each part.
    pub offsets: BlobOffsets,
    /// Whether both header lengths used their canonical encoding.
    pub canonical_header: bool,
}

/// Where each part of a blob starts in the input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlobOffsets {
    /// The jump-table entry count.
    pub header: usize,
    /// The first jump-table entry.
    pub jump_table: usize,
    /// The first code byte.
    pub code: usize,
    /// The first bitmask byte.
    pub mask: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A problem found in a blob that parsed: each with the file offset it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// File offset.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// Most entries a jump table of 0-byte entries may declare (every such entry is pc 0).
pub const MAX_ZERO_SIZE_ENTRIES: u64 = 1 << 16;

impl<'a> ProgramBlob<'a> {
    /// Parses a blob; `base` is its offset within the file (for error messages).
    pub fn parse(bytes: &'a [u8], base: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, base);
        let header = r.offset();
        let raw_count = codec::decode_varint(r.remaining(), header);
        let count = r.varint_lenient("jump-table entry count")?;
        let entry_size = r.fixed(1, "jump-table entry size")? as u8;
        let code_len_at = r.offset();
        let raw_code_len = codec::decode_varint(r.remaining(), code_len_at);
        let code_len = r.varint_lenient("code length")?;
        let canonical_header = raw_count.is_ok_and(|v| v.canonical) && raw_code_len.is_ok_and(|v| v.canonical);
        let too_large = || {
            DecodeError::new(
                header,
                crate::error::DecodeErrorKind::Invalid(format!(
                    "jump table of {count} entries of {entry_size} bytes is too large"
                )),
            )
        };
        // Entries of 0 bytes take no room, so only this bound keeps their count sane.
        if entry_size == 0 && count > MAX_ZERO_SIZE_ENTRIES {
            return Err(too_large());
        }
        let table_bytes = count.checked_mul(u64::from(entry_size)).ok_or_else(too_large)?;
        let jump_table_at = r.offset();
        let jump_table = r.bytes(usize_of(table_bytes), "jump table")?;
        let code_at = r.offset();
        let code = r.bytes(usize_of(code_len), "code")?;
        let mask_at = r.offset();
        let mask = r.bytes(code.len().div_ceil(8), "opcode bitmask")?;
        let trailing = r.remaining();
        Ok(ProgramBlob {
            jump_table_entry_size: entry_size,
            jump_table_len: usize_of(count),
            jump_table,
            code,
            mask,
            trailing,
            offsets: BlobOffsets {
                header,
                jump_table: jump_table_at,
                code: code_at,
                mask: mask_at,
                end: base + bytes.len(),
            },
            canonical_header,
        })
    }

    /// Jump-table entry `index` (a code offset), if it exists.
    pub fn jump_table_entry(&self, index: usize) -> Option<u64> {
        if index >= self.jump_table_len {
            return None;
        }
        let size = usize::from(self.jump_table_entry_size);
        let bytes = &self.jump_table[index * size..(index + 1) * size];
        // Entries wider than 8 bytes keep only their low 64 bits.
        Some(codec::read_le(&bytes[..size.min(8)]))
    }

    /// All jump-table entries in order.
    pub fn jump_table(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.jump_table_len).map(|i| self.jump_table_entry(i).unwrap_or(0))
    }

    /// The bitmask as a queryable view.
    pub fn bitmask(&self) -> Bitmask<'a> {
        Bitmask { mask: self.mask, code_len: self.code.len() }
    }

    /// Every instruction start in order with its decoded instruction (`None` for an
    /// unassigned opcode byte) and its skip.
    pub fn instructions(&self) -> impl Iterator<Item = (u32, Option<Instruction>, usize)> + '_ {
        let mask = self.bitmask();
        mask.starts().map(move |pc| {
            let skip = mask.skip(pc);
            (pc as u32, Instruction::decode(self.code, pc as u32, skip), skip)
        })
    }

    /// Basic-block starts (GP eq. A.5): 0 and every instruction start that follows a
    /// terminator, restricted to valid instruction starts. One flag per code byte.
    pub fn basic_block_starts(&self) -> Vec<bool> {
        let mask = self.bitmask();
        let mut starts = vec![false; self.code.len()];
        let valid = |pc: usize| mask.is_start(pc) && Opcode::from_u8(self.code[pc]).is_some();
        if !self.code.is_empty() && valid(0) {
            starts[0] = true;
        }
        for pc in mask.starts() {
            let is_term = Opcode::from_u8(self.code[pc]).is_some_and(Opcode::is_terminator);
            let next = pc + 1 + mask.skip(pc);
            if is_term && next < self.code.len() && valid(next) {
                starts[next] = true;
            }
        }
        starts
    }

    /// Why the Gray Paper's deblob (eq. A.2, C.1.4) rejects this blob, which must
    /// decompose exactly: non-canonical header lengths, set padding bits, trailing bytes.
    pub fn deblob_findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        if !self.canonical_header {
            out.push(Finding {
                offset: self.offsets.header,
                message: "a header length uses a non-canonical variable-length encoding".into(),
            });
        }
        if let Some(&last) = self.mask.last() {
            let used = self.code.len() % 8;
            if used != 0 && last >> used != 0 {
                out.push(Finding {
                    offset: self.offsets.mask + self.mask.len() - 1,
                    message: "padding bits of the last bitmask byte are set".into(),
                });
            }
        }
        if !self.trailing.is_empty() {
            out.push(Finding {
                offset: self.offsets.end - self.trailing.len(),
                message: format!("{} trailing bytes after the bitmask", self.trailing.len()),
            });
        }
        out
    }

    /// Everything the Gray Paper calls invalid about this blob, or that makes it unusable:
    /// the [deblob findings](Self::deblob_findings), jump-table entries that are not
    /// basic-block starts, and code that does not end in a terminator.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = self.deblob_findings();
        let mask = self.bitmask();
        if !self.code.is_empty() && !mask.is_start(0) {
            out.push(Finding { offset: self.offsets.code, message: "code does not start with an instruction".into() });
        }
        for (pc, inst, _) in self.instructions() {
            if inst.is_none() {
                out.push(Finding {
                    offset: self.offsets.code + pc as usize,
                    message: format!("invalid opcode {} at pc {pc}", self.code[pc as usize]),
                });
            }
        }
        let blocks = self.basic_block_starts();
        let size = usize::from(self.jump_table_entry_size);
        for (index, target) in self.jump_table().enumerate() {
            let ok = usize::try_from(target).is_ok_and(|t| blocks.get(t).copied().unwrap_or(false));
            if !ok {
                out.push(Finding {
                    offset: self.offsets.jump_table + index * size,
                    message: format!("jump-table entry {index} targets {target}, which is not a basic-block start"),
                });
            }
        }
        match self.instructions().last() {
            None => out.push(Finding { offset: self.offsets.code, message: "the code is empty".into() }),
            Some((pc, inst, _)) => {
                if !inst.is_some_and(|i| i.opcode.is_terminator()) {
                    out.push(Finding {
                        offset: self.offsets.code + pc as usize,
                        message: format!("code does not end in a terminator (last instruction at pc {pc})"),
                    });
                }
            }
        }
        out
    }
}

fn usize_of(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

impl Reader<'_> {
    /// A variable-length number, accepting non-canonical forms (see [`ProgramBlob`]).
    fn varint_lenient(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let at = self.offset();
        let v = codec::decode_varint(self.remaining(), at)
            .map_err(|e| DecodeError::new(e.offset, crate::error::DecodeErrorKind::Truncated(what)))?;
        self.bytes(v.len, what)?;
        Ok(v.value)
    }
}

/// A view of the opcode bitmask over `code_len` code bytes.
#[derive(Debug, Clone, Copy)]
pub struct Bitmask<'a> {
    mask: &'a [u8],
    code_len: usize,
}

impl<'a> Bitmask<'a> {
    /// A view of `mask` for `code_len` bytes of code.
    pub fn new(mask: &'a [u8], code_len: usize) -> Self {
        Bitmask { mask, code_len }
    }

    /// Whether byte `pc` starts an instruction (false past the end of the code).
    pub fn is_start(&self, pc: usize) -> bool {
        pc < self.code_len && bit(self.mask, pc, false)
    }

    /// `skip(pc)` of GP eq. A.3 with the Gray Paper's cap of 24.
    pub fn skip(&self, pc: usize) -> usize {
        self.skip_capped(pc, MAX_SKIP)
    }

    /// `skip(pc)` with a custom cap; bits past the end of the code count as set.
    pub fn skip_capped(&self, pc: usize, cap: usize) -> usize {
        (0..cap).find(|&t| pc + 1 + t >= self.code_len || bit(self.mask, pc + 1 + t, true)).unwrap_or(cap)
    }

    /// Every instruction start in ascending order.
    pub fn starts(self) -> impl Iterator<Item = usize> + 'a {
        let mask = self.mask;
        (0..self.code_len).filter(move |&i| bit(mask, i, false))
    }
}

/// Builds the bytes of a program blob from its parts.
pub fn build_blob(jump_table_entry_size: u8, jump_table: &[u64], code: &[u8], starts: &[bool]) -> Vec<u8> {
    assert_eq!(code.len(), starts.len(), "one mask flag per code byte");
    let size = usize::from(jump_table_entry_size);
    let mut out = Vec::with_capacity(
        varint_len(jump_table.len() as u64)
            + 1
            + varint_len(code.len() as u64)
            + jump_table.len() * size
            + code.len() * 9 / 8
            + 1,
    );
    encode_varint(jump_table.len() as u64, &mut out);
    out.push(jump_table_entry_size);
    encode_varint(code.len() as u64, &mut out);
    for &entry in jump_table {
        let bytes = entry.to_le_bytes();
        out.extend((0..size).map(|i| bytes.get(i).copied().unwrap_or(0)));
    }
    out.extend_from_slice(code);
    out.extend(pack_bits(starts.iter().copied()));
    out
}

/// The smallest jump-table entry size that holds every entry: 0 for an empty table, and
/// at least 1 otherwise — the Gray Paper allows 0-byte entries (all targeting pc 0), but
/// the reference implementation panics on every dynamic jump through such a table.
pub fn min_entry_size(jump_table: &[u64]) -> u8 {
    let max = jump_table.iter().copied().max();
    match max {
        None => 0,
        Some(m) => (1..=8u8).find(|&n| n == 8 || m < 1u64 << (8 * n)).unwrap_or(8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUMP_IND_EXAMPLE: [u8; 21] = [
        0x01, 0x01, 0x10, 0x06, 0x33, 0x07, 0x02, 0x32, 0x07, 0x00, 0x14, 0x08, 0xef, 0xbe, 0xad, 0xde, 0x00, 0x00,
        0x00, 0x00, 0x69,
    ];

    #[test]
    fn parses_the_spec_example() {
        let mut bytes = JUMP_IND_EXAMPLE.to_vec();
        bytes.push(0x00);
        let blob = ProgramBlob::parse(&bytes, 0).unwrap();
        assert_eq!(blob.jump_table_entry_size, 1);
        assert_eq!(blob.jump_table().collect::<Vec<_>>(), vec![6]);
        assert_eq!(blob.code.len(), 16);
        let starts: Vec<usize> = blob.bitmask().starts().collect();
        assert_eq!(starts, vec![0, 3, 5, 6]);
        assert_eq!(blob.bitmask().skip(6), 9);
        // The example relies on the implicit trap past the end of the code.
        let findings = blob.findings();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].message, "code does not end in a terminator (last instruction at pc 6)");
        let rebuilt = build_blob(1, &[6], blob.code, &(0..16).map(|i| blob.bitmask().is_start(i)).collect::<Vec<_>>());
        assert_eq!(rebuilt, bytes);
    }

    #[test]
    fn truncated_blobs_fail_with_offsets() {
        let mut bytes = JUMP_IND_EXAMPLE.to_vec();
        bytes.push(0x00);
        for cut in 0..bytes.len() {
            let err = ProgramBlob::parse(&bytes[..cut], 100).unwrap_err();
            assert!(err.offset >= 100 && err.offset <= 100 + cut, "cut {cut}: {err}");
        }
    }

    #[test]
    fn findings_report_each_problem() {
        // jump table entry 1 (not an instruction start), code `load_imm r7, 2` with no
        // terminator, padding bit set, one trailing byte.
        let bytes = [0x01, 0x01, 0x03, 0x01, 0x33, 0x07, 0x02, 0x09, 0xaa];
        let blob = ProgramBlob::parse(&bytes, 0).unwrap();
        let messages: Vec<String> = blob.findings().iter().map(|f| format!("{}: {}", f.offset, f.message)).collect();
        assert_eq!(
            messages,
            vec![
                "7: padding bits of the last bitmask byte are set",
                "8: 1 trailing bytes after the bitmask",
                "3: jump-table entry 0 targets 1, which is not a basic-block start",
                "4: code does not end in a terminator (last instruction at pc 0)",
            ]
        );
    }

    #[test]
    fn entry_sizes() {
        assert_eq!(min_entry_size(&[]), 0);
        assert_eq!(min_entry_size(&[0]), 1);
        assert_eq!(min_entry_size(&[1]), 1);
        assert_eq!(min_entry_size(&[255]), 1);
        assert_eq!(min_entry_size(&[256]), 2);
        assert_eq!(min_entry_size(&[1 << 24]), 4);
    }
}
