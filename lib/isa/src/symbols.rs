//! The symbol map: which function starts at which code offset, so that tools that run or
//! inspect a program can name its code. `jam-pack` writes it beside a `.jam` (as
//! `NAME.jam.sym`); `pvm-run --profile` reads it.
//!
//! The text form has one function per line, in code order: the code offset in decimal,
//! one space, and the name, with `\` written `\\` and line breaks `\n`, so that any name
//! (WebAssembly names are arbitrary strings) fits on its line. A function runs from its
//! offset to the next function's. Lines starting with `#` are comments.

use std::fmt;

/// A function's name and where its code starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Code offset of the first instruction.
    pub offset: u32,
    /// The name.
    pub name: String,
}

/// The functions of a program, ordered by code offset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SymbolMap {
    symbols: Vec<Symbol>,
}

/// Why a symbol map does not parse: the line (1-based) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct SymbolMapError {
    /// The line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl SymbolMap {
    /// A map of these symbols, sorted by offset (of several at one offset the first
    /// given is kept).
    pub fn new(mut symbols: Vec<Symbol>) -> Self {
        symbols.sort_by_key(|s| s.offset);
        symbols.dedup_by_key(|s| s.offset);
        SymbolMap { symbols }
    }

    /// The symbols in code order.
    pub fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }

    /// Whether the map names no function.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Index of the function whose code contains `offset` (the last one starting at or
    /// before it), if any starts there or earlier.
    pub fn index_at(&self, offset: u32) -> Option<usize> {
        self.symbols.partition_point(|s| s.offset <= offset).checked_sub(1)
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Result<SymbolMap, SymbolMapError> {
        let mut symbols: Vec<Symbol> = Vec::new();
        for (k, raw) in text.lines().enumerate() {
            let error = |reason: String| SymbolMapError { line: k + 1, reason };
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let (offset, name) = raw.split_once(' ').ok_or_else(|| error("expected `OFFSET NAME`".to_string()))?;
            let offset: u32 = offset.parse().map_err(|_| error(format!("`{offset}` is not a code offset")))?;
            if symbols.last().is_some_and(|s| s.offset >= offset) {
                return Err(error(format!("offset {offset} is not after the previous line's")));
            }
            symbols.push(Symbol { offset, name: unescape(name).map_err(error)? });
        }
        Ok(SymbolMap { symbols })
    }
}

impl fmt::Display for SymbolMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.symbols {
            writeln!(f, "{} {}", s.offset, s.name.replace('\\', "\\\\").replace('\n', "\\n"))?;
        }
        Ok(())
    }
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            other => {
                return Err(format!("unknown escape `\\{}` in a name", other.map(String::from).unwrap_or_default()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(offset: u32, name: &str) -> Symbol {
        Symbol { offset, name: name.to_string() }
    }

    #[test]
    fn text_round_trip_and_lookup() {
        let map = SymbolMap::new(vec![sym(40, "b\\c\nd"), sym(0, "main"), sym(12, "with space"), sym(12, "dup")]);
        let text = map.to_string();
        assert_eq!(text, "0 main\n12 with space\n40 b\\\\c\\nd\n");
        assert_eq!(SymbolMap::parse(&text).unwrap(), map);
        assert_eq!(
            [0, 11, 12, 39, 40, 1000].map(|o| map.index_at(o)),
            [Some(0), Some(0), Some(1), Some(1), Some(2), Some(2)]
        );
        assert_eq!(SymbolMap::new(vec![sym(5, "f")]).index_at(4), None);
    }

    #[test]
    fn errors_name_the_line() {
        let e = |text: &str| SymbolMap::parse(text).unwrap_err().to_string();
        assert_eq!(e("# c\n0 a\nx b\n"), "line 3: `x` is not a code offset");
        assert_eq!(e("4 a\n4 b\n"), "line 2: offset 4 is not after the previous line's");
        assert_eq!(e("7\n"), "line 1: expected `OFFSET NAME`");
        assert_eq!(e("7 a\\q\n"), "line 1: unknown escape `\\q` in a name");
    }
}
