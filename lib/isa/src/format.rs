//! Operand formats (Gray Paper A.5.1–A.5.13) and registers.

use std::fmt;

/// How the bytes after an opcode are laid out (one variant per Gray Paper subsection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A.5.1: no operands.
    NoArgs,
    /// A.5.2: one immediate (`ecalli`).
    Imm,
    /// A.5.3: one register and an 8-byte immediate (`load_imm_64`).
    RegImm64,
    /// A.5.4: two immediates, the first with an explicit length.
    ImmImm,
    /// A.5.5: one branch offset.
    Offset,
    /// A.5.6: one register and one immediate.
    RegImm,
    /// A.5.7: one register and two immediates.
    RegImmImm,
    /// A.5.8: one register, one immediate and one branch offset.
    RegImmOffset,
    /// A.5.9: two registers (destination in the low nibble).
    RegReg,
    /// A.5.10: two registers and one immediate.
    RegRegImm,
    /// A.5.11: two registers and one branch offset.
    RegRegOffset,
    /// A.5.12: two registers and two immediates.
    RegRegImmImm,
    /// A.5.13: three registers.
    RegRegReg,
}

impl Format {
    /// Number of variable-length immediate or offset fields the format has (0..=2).
    pub const fn variable_fields(self) -> usize {
        match self {
            Format::NoArgs | Format::RegImm64 | Format::RegReg | Format::RegRegReg => 0,
            Format::Imm | Format::Offset | Format::RegImm | Format::RegRegImm | Format::RegRegOffset => 1,
            Format::ImmImm | Format::RegImmImm | Format::RegImmOffset | Format::RegRegImmImm => 2,
        }
    }

    /// Whether the format's last field is a branch offset.
    pub const fn has_offset(self) -> bool {
        matches!(self, Format::Offset | Format::RegImmOffset | Format::RegRegOffset)
    }
}

/// Number of registers.
pub const REG_COUNT: usize = 13;

/// A register, `r0`..`r12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

/// Conventional register aliases, indexed by register number (as PolkaVM names them).
pub const REG_ALIASES: [&str; REG_COUNT] =
    ["ra", "sp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5"];

impl Reg {
    /// Register `r0`, the return address / halt address holder.
    pub const RA: Reg = Reg(0);
    /// Register `r1`, the stack pointer.
    pub const SP: Reg = Reg(1);

    /// The register numbered `index`, if it is below 13.
    pub const fn new(index: u8) -> Option<Reg> {
        if (index as usize) < REG_COUNT { Some(Reg(index)) } else { None }
    }

    /// The register a 4-bit field (or byte) names: `min(12, value)`.
    pub const fn clamped(value: u8) -> Reg {
        Reg(if value > 12 { 12 } else { value })
    }

    /// The register number, 0..=12.
    pub const fn index(self) -> u8 {
        self.0
    }

    /// Parses `r0`..`r12` or an alias such as `a0`.
    pub fn parse(name: &str) -> Option<Reg> {
        if let Some(number) = name.strip_prefix('r')
            && !number.is_empty()
            && number.len() <= 2
            && number.bytes().all(|b| b.is_ascii_digit())
        {
            return number.parse().ok().and_then(Reg::new);
        }
        REG_ALIASES.iter().position(|&alias| alias == name).map(|i| Reg(i as u8))
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_names() {
        assert_eq!(Reg::parse("r0"), Some(Reg::RA));
        assert_eq!(Reg::parse("sp"), Some(Reg::SP));
        assert_eq!(Reg::parse("a0").map(Reg::index), Some(7));
        assert_eq!(Reg::parse("a5").map(Reg::index), Some(12));
        assert_eq!(Reg::parse("r12").map(Reg::index), Some(12));
        assert_eq!(Reg::parse("r13"), None);
        assert_eq!(Reg::parse("r"), None);
        assert_eq!(Reg::parse("r007"), None);
        assert_eq!(Reg::clamped(15), Reg::new(12).unwrap());
    }
}
