//! The assembly text parser (format in `docs/asm.md`). Errors carry line and column.

use crate::ast::{AsmInstruction, FORMAT_VERSION, Item, Operand, Program, TableEntry, Target, Value};
use pvm_isa::hex::HexError;
use pvm_isa::{Format, Opcode, Reg};
use std::fmt;

/// A parse or assembly error at a place in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsmError {
    /// 1-based line, 0 when the error concerns no particular line.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

impl AsmError {
    /// An error at `line`, `column`.
    pub fn new(line: u32, column: u32, message: impl Into<String>) -> Self {
        AsmError { line, column, message: message.into() }
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => f.write_str(&self.message),
            (l, 0) => write!(f, "line {l}: {}", self.message),
            (l, c) => write!(f, "line {l}, column {c}: {}", self.message),
        }
    }
}

impl std::error::Error for AsmError {}

/// What an operand position of a format holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperandKind {
    /// A register.
    Reg,
    /// An immediate.
    Imm,
    /// A branch target.
    Target,
}

/// The operand kinds of a format, in text order.
pub fn operand_kinds(format: Format) -> &'static [OperandKind] {
    use OperandKind::{Imm, Reg, Target};
    match format {
        Format::NoArgs => &[],
        Format::Imm => &[Imm],
        Format::RegImm64 => &[Reg, Imm],
        Format::ImmImm => &[Imm, Imm],
        Format::Offset => &[Target],
        Format::RegImm => &[Reg, Imm],
        Format::RegImmImm => &[Reg, Imm, Imm],
        Format::RegImmOffset => &[Reg, Imm, Target],
        Format::RegReg => &[Reg, Reg],
        Format::RegRegImm => &[Reg, Reg, Imm],
        Format::RegRegOffset => &[Reg, Reg, Target],
        Format::RegRegImmImm => &[Reg, Reg, Imm, Imm],
        Format::RegRegReg => &[Reg, Reg, Reg],
    }
}

/// Parses a whole program.
pub fn parse(text: &str) -> Result<Program, AsmError> {
    let mut program = Program::default();
    let mut labels = std::collections::HashSet::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line_no = index as u32 + 1;
        let line = strip_comment(raw_line);
        let mut rest = line.trim_start();
        let mut column = (line.len() - rest.len()) as u32 + 1;
        // Labels: `name:` (several may precede one instruction).
        while let Some((name, after)) = split_label(rest) {
            if !labels.insert(name.to_string()) {
                return Err(AsmError::new(line_no, column, format!("label `{name}` is defined twice")));
            }
            program.items.push(Item::Label(name.to_string()));
            let consumed = rest.len() - after.len();
            column += consumed as u32;
            let trimmed = after.trim_start();
            column += (after.len() - trimmed.len()) as u32;
            rest = trimmed;
        }
        let rest = rest.trim_end();
        if rest.is_empty() {
            continue;
        }
        if let Some(directive) = rest.strip_prefix('.') {
            parse_directive(directive, line_no, column, &mut program)?;
        } else {
            program.items.push(Item::Instruction(parse_instruction(rest, line_no, column)?));
        }
    }
    Ok(program)
}

/// The line without its comment (`;` outside a string literal).
fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ';' if !in_string => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Whether `name` is a valid label.
pub fn is_label(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '$'));
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$')) && Reg::parse(name).is_none()
}

/// `name:` at the start of `text`: the name and what follows the colon.
fn split_label(text: &str) -> Option<(&str, &str)> {
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$')))?;
    let (name, after) = text.split_at(end);
    let after = after.strip_prefix(':')?;
    (is_label(name) && !name.starts_with('.')).then_some((name, after))
}

fn parse_directive(text: &str, line: u32, column: u32, program: &mut Program) -> Result<(), AsmError> {
    let (name, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let args = args.trim();
    let arg_column = column + 1 + (text.len() - text[name.len()..].trim_start().len()) as u32;
    let err = |m: String| AsmError::new(line, arg_column, m);
    // Hex data; an error points at the offending character.
    let parse_hex = |args: &str| {
        pvm_isa::hex::decode(args).map_err(|e| {
            let at = match e {
                HexError::NotHex { offset, .. } => arg_column + offset as u32,
                HexError::OddDigits { .. } => arg_column,
            };
            AsmError::new(line, at, format!("hex data: {e}"))
        })
    };
    let number = |what: &str, max: u64| -> Result<u64, AsmError> {
        let v = parse_number(args).ok_or_else(|| err(format!(".{name} needs a number, not `{args}`")))?;
        if v > max {
            return Err(err(format!("{what} {v} is larger than {max}")));
        }
        Ok(v)
    };
    match name {
        "asm" => {
            let version = number("format version", u64::from(u32::MAX))?;
            if version != u64::from(FORMAT_VERSION) {
                return Err(err(format!(
                    "unsupported format version {version} (this assembler reads version {FORMAT_VERSION})"
                )));
            }
        }
        "metadata" => program.metadata.extend(parse_string(args).map_err(err)?),
        "metadata_hex" => program.metadata.extend(parse_hex(args)?),
        "ro_data" => program.ro_data.extend(parse_hex(args)?),
        "rw_data" => program.rw_data.extend(parse_hex(args)?),
        "heap_pages" => program.heap_pages = number("heap page count", u64::from(u16::MAX))? as u16,
        "stack_size" => program.stack_size = number("stack size", u64::from(pvm_isa::spi::MAX_E3))? as u32,
        "jump_table_entry_size" => program.jump_table_entry_size = Some(number("jump-table entry size", 255)? as u8),
        "jump_table" => {
            for entry in args.split(',') {
                let entry = entry.trim();
                if let Some(address) = entry.strip_prefix('@') {
                    let v = parse_number(address).ok_or_else(|| err(format!("bad jump-table address `{entry}`")))?;
                    program.jump_table.push(TableEntry::Address(v));
                } else if is_label(entry) {
                    program.jump_table.push(TableEntry::Label(entry.to_string()));
                } else {
                    return Err(err(format!("a jump-table entry must be a label or @address, not `{entry}`")));
                }
            }
        }
        "function" => {
            let (label, name) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            if !is_label(label) {
                return Err(err(format!(".function needs a label and a name, not `{args}`")));
            }
            let name = String::from_utf8(parse_string(name.trim()).map_err(err)?)
                .map_err(|_| err("a function name must be UTF-8".into()))?;
            program.functions.push((label.to_string(), name));
        }
        "insn" => {
            let bytes = parse_hex(args)?;
            if bytes.is_empty() {
                return Err(err(".insn needs at least one byte".into()));
            }
            program.items.push(Item::Insn(bytes));
        }
        "bytes" => program.items.push(Item::Bytes(parse_hex(args)?)),
        other => return Err(AsmError::new(line, column, format!("unknown directive .{other}"))),
    }
    Ok(())
}

fn parse_instruction(text: &str, line: u32, column: u32) -> Result<AsmInstruction, AsmError> {
    let (mnemonic, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let opcode = Opcode::from_mnemonic(mnemonic)
        .ok_or_else(|| AsmError::new(line, column, format!("unknown instruction `{mnemonic}`")))?;
    let kinds = operand_kinds(opcode.format());
    let rest_trimmed = rest.trim();
    let mut operand_column = column + (text.len() - rest.trim_start().len()) as u32;
    let pieces: Vec<&str> = if rest_trimmed.is_empty() { Vec::new() } else { rest_trimmed.split(',').collect() };
    if pieces.len() != kinds.len() {
        return Err(AsmError::new(
            line,
            column,
            format!("{mnemonic} takes {} operands ({}), found {}", kinds.len(), describe(kinds), pieces.len()),
        ));
    }
    let mut operands = Vec::with_capacity(kinds.len());
    for (piece, &kind) in pieces.iter().zip(kinds) {
        let lead = piece.len() - piece.trim_start().len();
        let at = operand_column + lead as u32;
        operands.push(parse_operand(piece.trim(), kind).map_err(|m| AsmError::new(line, at, m))?);
        operand_column += piece.len() as u32 + 1;
    }
    Ok(AsmInstruction { opcode, operands, line })
}

fn describe(kinds: &[OperandKind]) -> String {
    if kinds.is_empty() {
        return "none".into();
    }
    kinds
        .iter()
        .map(|k| match k {
            OperandKind::Reg => "register",
            OperandKind::Imm => "immediate",
            OperandKind::Target => "target",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits `text:N` into the text and the width.
fn split_width(text: &str) -> Result<(&str, Option<u8>), String> {
    match text.rsplit_once(':') {
        Some((value, width)) => {
            let w: u8 = width.trim().parse().map_err(|_| format!("bad width `{width}` (expected 0 to 4)"))?;
            if w > 4 {
                return Err(format!("width {w} is larger than 4"));
            }
            Ok((value.trim(), Some(w)))
        }
        None => Ok((text, None)),
    }
}

fn parse_operand(text: &str, kind: OperandKind) -> Result<Operand, String> {
    match kind {
        OperandKind::Reg => {
            Reg::parse(text).map(Operand::Reg).ok_or_else(|| format!("expected a register, found `{text}`"))
        }
        OperandKind::Imm => {
            let (value, width) = split_width(text)?;
            let value = if let Some(label) = value.strip_prefix('&') {
                if !is_label(label) {
                    return Err(format!("`{label}` is not a label"));
                }
                Value::JumpAddress(label.to_string())
            } else {
                Value::Const(parse_number(value).ok_or_else(|| format!("expected an immediate, found `{value}`"))?)
            };
            Ok(Operand::Imm { value, width })
        }
        OperandKind::Target => {
            let (value, width) = split_width(text)?;
            let target = if let Some(address) = value.strip_prefix('@') {
                let v = parse_number(address).ok_or_else(|| format!("bad target address `{value}`"))?;
                Target::Absolute(u32::try_from(v).map_err(|_| format!("target address {v} exceeds 32 bits"))?)
            } else if is_label(value) {
                Target::Label(value.to_string())
            } else {
                return Err(format!("expected a label or @address, found `{value}`"));
            };
            Ok(Operand::Target { target, width })
        }
    }
}

/// Parses a decimal or `0x` hex number with an optional `-` (two's complement) and `_`
/// separators.
pub fn parse_number(text: &str) -> Option<u64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let cleaned: String = digits.chars().filter(|&c| c != '_').collect();
    if cleaned.is_empty() || digits.starts_with('_') {
        return None;
    }
    let magnitude = match cleaned.strip_prefix("0x").or_else(|| cleaned.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok()?,
        Some(_) => return None,
        None => cleaned.parse::<u64>().ok()?,
    };
    if negative {
        if magnitude > 1 << 63 {
            return None;
        }
        Some(magnitude.wrapping_neg())
    } else {
        Some(magnitude)
    }
}

/// Parses a string literal with the escapes Rust's `{:?}` writes.
fn parse_string(text: &str) -> Result<Vec<u8>, String> {
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .ok_or_else(|| format!("expected a string in double quotes, found `{text}`"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some('u') => {
                let rest: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let hex = rest.strip_prefix('{').ok_or("bad \\u escape (expected \\u{XXXX})")?;
                let code = u32::from_str_radix(hex, 16).map_err(|_| format!("bad \\u escape `{hex}`"))?;
                out.push(char::from_u32(code).ok_or_else(|| format!("\\u{{{hex}}} is not a character"))?);
            }
            other => return Err(format!("unknown escape \\{}", other.map(String::from).unwrap_or_default())),
        }
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("-1"), Some(u64::MAX));
        assert_eq!(parse_number("0x10"), Some(16));
        assert_eq!(parse_number("-0x10"), Some(16u64.wrapping_neg()));
        assert_eq!(parse_number("1_000"), Some(1000));
        assert_eq!(parse_number("-9223372036854775808"), Some(1 << 63));
        assert_eq!(parse_number("-9223372036854775809"), None);
        assert_eq!(parse_number("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_number("18446744073709551616"), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn a_program_with_everything() {
        let text = r#".asm 1
.metadata "hi \"there\"\n"
.ro_data 0102
.rw_data 03
.heap_pages 2
.stack_size 4096
.jump_table loop, @7
start: loop: add_imm_64 sp, sp, -8 ; comment
    load_imm a0, 0xffffffff:4
    branch_ne_imm r7, 0, loop:2
    load_imm_jump ra, &start, @0
    .insn 0001
    .bytes ff
    trap
"#;
        let p = parse(text).unwrap();
        assert_eq!(p.metadata, b"hi \"there\"\n");
        assert_eq!(
            (p.ro_data.as_slice(), p.rw_data.as_slice(), p.heap_pages, p.stack_size),
            (&[1, 2][..], &[3][..], 2, 4096)
        );
        assert_eq!(p.jump_table, vec![TableEntry::Label("loop".into()), TableEntry::Address(7)]);
        assert_eq!(p.items.len(), 9);
        assert_eq!(p.items[0], Item::Label("start".into()));
        let Item::Instruction(i) = &p.items[3] else { panic!() };
        assert_eq!(i.operands[1], Operand::Imm { value: Value::Const(0xffff_ffff), width: Some(4) });
    }

    #[test]
    fn functions_name_labels() {
        let text = ".function f \"fib \\\"loop\\\"\"\n.function g \"\"\nf: trap\ng: trap\n";
        let p = parse(text).unwrap();
        assert_eq!(p.functions, vec![("f".into(), "fib \"loop\"".into()), ("g".into(), String::new())]);
        assert_eq!(parse(&p.to_string()).unwrap().functions, p.functions);
        let symbols = crate::assemble(&p).unwrap().symbols;
        assert_eq!(symbols.to_string(), "0 fib \"loop\"\n1 \n");
        let e = crate::assemble(&parse(".function nowhere \"x\"\ntrap").unwrap()).unwrap_err();
        assert_eq!(e.to_string(), ".function `nowhere` is not a defined label");
        let e = parse(".function 3x \"x\"").unwrap_err();
        assert_eq!(e.to_string(), "line 1, column 11: .function needs a label and a name, not `3x \"x\"`");
        let e = parse(".function f x").unwrap_err();
        assert_eq!(e.to_string(), "line 1, column 11: expected a string in double quotes, found `x`");
    }

    #[test]
    fn errors_say_where() {
        let e = parse("trap\n  add_32 r1, r2\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2, column 3: add_32 takes 3 operands (register, register, register), found 2");
        let e = parse("jump r1").unwrap_err();
        assert_eq!(e.to_string(), "line 1, column 6: expected a label or @address, found `r1`");
        let e = parse("x:\nx: trap").unwrap_err();
        assert_eq!(e.to_string(), "line 2, column 1: label `x` is defined twice");
        let e = parse("  frobnicate r1").unwrap_err();
        assert_eq!(e.to_string(), "line 1, column 3: unknown instruction `frobnicate`");
        let e = parse(".asm 2").unwrap_err();
        assert_eq!(e.to_string(), "line 1, column 6: unsupported format version 2 (this assembler reads version 1)");
        let e = parse("load_imm r1, 5:9").unwrap_err();
        assert_eq!(e.to_string(), "line 1, column 14: width 9 is larger than 4");
    }

    #[test]
    fn printed_programs_parse_back() {
        let text = ".asm 1\n.metadata \"h\u{e9}llo\"\nL1:\n    load_imm_64 r7, 0xfeff0000\n    load_imm r8, 0xfeff0000\n    jump L1\n";
        let p = parse(text).unwrap();
        assert_eq!(p.to_string(), text);
    }
}
