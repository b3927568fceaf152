//! What `jam-inspect` reports about a file: every header field, the jump table with the
//! validity of each target, a disassembly listing with basic-block boundaries and labels,
//! the metadata decoded when it has the JAM-SDK layout, the entry slots of a JAM service
//! (a `jump` at pc 0, 5, …), and the findings that make the file invalid, each with its
//! file offset. Rendered as text or as JSON.

use crate::disasm::{Listed, label_name, listing};
use pvm_isa::blob::Finding;
use pvm_isa::container::{InputForm, Parsed, parse_file};
use pvm_isa::{DecodeError, Metadata, Opcode};
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// A file's report.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// The parsed file.
    pub parsed: Parsed<'a>,
    /// File size.
    pub file_len: usize,
    /// The code listing.
    pub listing: Vec<Listed>,
    /// Basic-block starts, one flag per code byte.
    pub block_starts: Vec<bool>,
    /// Code offsets that jumps, branches or the jump table target.
    pub targets: BTreeSet<u32>,
    /// Everything that makes the file invalid.
    pub findings: Vec<Finding>,
    /// The entry slots of a JAM service: `(pc, target)` for each `jump` at pc 0, 5, 10, …
    /// in a row (`../shared/docs/jam-services.md`).
    pub entry_slots: Vec<(u32, u32)>,
}

/// Bytes per entry slot.
const ENTRY_SLOT_SIZE: u32 = 5;

/// The `jump`s at pc 0, 5, 10, … in a row, with their targets.
fn entry_slots(listing: &[Listed]) -> Vec<(u32, u32)> {
    let mut slots = Vec::new();
    for l in listing.iter().filter(|l| l.is_start) {
        let pc = ENTRY_SLOT_SIZE * slots.len() as u32;
        if l.pc < pc {
            continue;
        }
        match l.instruction {
            Some(i) if l.pc == pc && i.opcode == Opcode::Jump => {
                slots.push((pc, i.args.target().expect("a jump has a target")));
            }
            _ => break,
        }
    }
    slots
}

/// What the JAM conventions enter at an entry slot's pc.
fn entry_role(pc: u32) -> &'static str {
    match pc {
        0 => " (refine, is_authorized)",
        5 => " (accumulate)",
        _ => "",
    }
}

/// Inspects `bytes` read as `form`.
pub fn inspect(bytes: &[u8], form: InputForm) -> Result<Report<'_>, DecodeError> {
    let parsed = parse_file(bytes, form)?;
    let listing = listing(&parsed.blob);
    let block_starts = parsed.blob.basic_block_starts();
    let mut targets: BTreeSet<u32> = parsed.blob.jump_table().filter_map(|t| u32::try_from(t).ok()).collect();
    targets.extend(listing.iter().filter_map(|l| l.instruction.and_then(|i| i.args.target())));
    let findings = parsed.blob.findings();
    let entry_slots = entry_slots(&listing);
    Ok(Report { parsed, file_len: bytes.len(), listing, block_starts, targets, findings, entry_slots })
}

use pvm_isa::hex::encode as hex;

fn printable(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok().filter(|s| s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'))
}

impl Report<'_> {
    /// Whether the file is valid (no findings).
    pub fn is_valid(&self) -> bool {
        self.findings.is_empty()
    }

    /// The metadata decoded, when it has the JAM-SDK layout.
    pub fn service_metadata(&self) -> Option<Metadata> {
        let m = self.parsed.metadata.filter(|m| !m.is_empty())?;
        Metadata::decode(m, self.parsed.metadata_offset).ok()
    }

    fn is_block_start(&self, pc: u32) -> bool {
        self.block_starts.get(pc as usize).copied().unwrap_or(false)
    }

    fn listing_text(&self, l: &Listed) -> String {
        match (l.is_start, l.instruction) {
            (false, _) => format!(".bytes {}", hex(&l.bytes)),
            (true, None) => format!("invalid opcode {} (traps)", l.bytes[0]),
            (true, Some(i)) => {
                let text = i.to_string();
                match i.args.target() {
                    Some(t) if self.targets.contains(&t) && self.listing.iter().any(|x| x.pc == t && x.is_start) => {
                        text.replace(&format!("@{t}"), &label_name(t))
                    }
                    _ => text,
                }
            }
        }
    }

    /// The human-readable report.
    pub fn to_text(&self, file: &str) -> String {
        let p = &self.parsed;
        let mut out = String::new();
        let _ = writeln!(out, "file: {file} ({} bytes, read as {})", self.file_len, p.form.name());
        if let Some(m) = p.metadata {
            let _ = write!(out, "metadata: {} bytes at offset {:#x}", m.len(), p.metadata_offset);
            match self.service_metadata() {
                Some(sdk) => {
                    let _ = writeln!(out, ", JAM-SDK layout:");
                    let _ = writeln!(out, "  name: {:?}", sdk.name);
                    let _ = writeln!(out, "  version: {:?}", sdk.version);
                    let _ = writeln!(out, "  license: {:?}", sdk.license);
                    for author in &sdk.authors {
                        let _ = writeln!(out, "  author: {author:?}");
                    }
                }
                None => {
                    if !m.is_empty() {
                        let _ = write!(out, ": {}", hex(m));
                        if let Some(text) = printable(m) {
                            let _ = write!(out, " ({text:?})");
                        }
                    }
                    out.push('\n');
                }
            }
        }
        if let Some(s) = &p.spi {
            let _ = writeln!(out, "SPI container at offset {:#x}:", p.spi_offset);
            let _ = writeln!(out, "  read-only data: {} bytes", s.ro_data.len());
            let _ = writeln!(out, "  read-write data: {} bytes", s.rw_data.len());
            let _ = writeln!(out, "  heap pages: {}", s.heap_pages);
            let _ = writeln!(out, "  stack size: {} bytes", s.stack_size);
            let _ = writeln!(out, "  code blob: {} bytes at offset {:#x}", s.blob.len(), s.blob_offset);
        }
        let b = &p.blob;
        let _ = writeln!(out, "program blob at offset {:#x}:", b.offsets.header);
        let _ = writeln!(out, "  jump table: {} entries of {} bytes", b.jump_table_len, b.jump_table_entry_size);
        let _ = writeln!(out, "  code: {} bytes at offset {:#x}", b.code.len(), b.offsets.code);
        let _ = writeln!(out, "  bitmask: {} bytes at offset {:#x}", b.mask.len(), b.offsets.mask);
        if b.jump_table_len > 0 {
            let _ = writeln!(out, "jump table:");
            for (i, t) in b.jump_table().enumerate() {
                let ok = usize::try_from(t).is_ok_and(|t| self.block_starts.get(t).copied().unwrap_or(false));
                let verdict = if ok { "basic-block start" } else { "NOT a basic-block start" };
                let _ = writeln!(out, "  [{i}] address {} -> {t} ({verdict})", 2 * (i + 1));
            }
        }
        if !self.entry_slots.is_empty() {
            let _ = writeln!(out, "entry slots:");
            for &(pc, target) in &self.entry_slots {
                let _ = writeln!(out, "  pc {pc}{}: jump to {}", entry_role(pc), label_name(target));
            }
        }
        let _ = writeln!(out, "disassembly:");
        for l in &self.listing {
            if self.is_block_start(l.pc) && l.pc != 0 {
                let _ = writeln!(out, "  ------");
            }
            if self.targets.contains(&l.pc) && l.is_start {
                let _ = writeln!(out, "{}:", label_name(l.pc));
            }
            let _ = writeln!(
                out,
                "  {:>8}  {:<22}  {}",
                l.pc,
                hex(&l.bytes[..l.bytes.len().min(11)]),
                self.listing_text(l)
            );
        }
        if self.findings.is_empty() {
            let _ = writeln!(out, "valid: no findings");
        } else {
            let _ = writeln!(out, "INVALID: {} findings", self.findings.len());
            for f in &self.findings {
                let _ = writeln!(out, "  offset {:#x}: {}", f.offset, f.message);
            }
        }
        out
    }

    /// The machine-readable report.
    pub fn to_json(&self, file: &str) -> Json {
        let p = &self.parsed;
        let b = &p.blob;
        json!({
            "file": file,
            "size": self.file_len,
            "form": match p.form { InputForm::Jam => "jam", InputForm::Spi => "spi", InputForm::Blob => "blob" },
            "metadata": p.metadata.map(|m| json!({
                "offset": p.metadata_offset,
                "length": m.len(),
                "hex": hex(m),
                "text": printable(m),
                "service": self.service_metadata().map(|sdk| json!({
                    "name": sdk.name,
                    "version": sdk.version,
                    "license": sdk.license,
                    "authors": sdk.authors,
                })),
            })),
            "spi": p.spi.as_ref().map(|s| json!({
                "offset": p.spi_offset,
                "ro_data_length": s.ro_data.len(),
                "rw_data_length": s.rw_data.len(),
                "heap_pages": s.heap_pages,
                "stack_size": s.stack_size,
                "blob_length": s.blob.len(),
                "blob_offset": s.blob_offset,
            })),
            "blob": {
                "offset": b.offsets.header,
                "jump_table_entry_size": b.jump_table_entry_size,
                "code_length": b.code.len(),
                "code_offset": b.offsets.code,
                "jump_table": b.jump_table().enumerate().map(|(i, t)| json!({
                    "index": i,
                    "address": 2 * (i + 1),
                    "target": t,
                    "valid": usize::try_from(t).is_ok_and(|t| self.block_starts.get(t).copied().unwrap_or(false)),
                })).collect::<Vec<_>>(),
            },
            "instructions": self.listing.iter().map(|l| json!({
                "pc": l.pc,
                "bytes": hex(&l.bytes),
                "text": self.listing_text(l),
                "opcode": l.instruction.map(|i| i.opcode.mnemonic()),
                "block_start": self.is_block_start(l.pc),
                "label": (self.targets.contains(&l.pc) && l.is_start).then(|| label_name(l.pc)),
            })).collect::<Vec<_>>(),
            "entry_slots": self.entry_slots.iter().map(|&(pc, target)| json!({"pc": pc, "target": target})).collect::<Vec<_>>(),
            "valid": self.is_valid(),
            "findings": self.findings.iter().map(|f| json!({"offset": f.offset, "message": f.message})).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{assemble, parse};

    #[test]
    fn trap_report() {
        let a = assemble(&parse("trap").unwrap()).unwrap();
        let r = inspect(&a.jam, InputForm::Jam).unwrap();
        assert!(r.is_valid());
        let text = r.to_text("trap.jam");
        assert!(text.contains("  heap pages: 0\n"), "{text}");
        assert!(text.contains("         0  00                      trap\n"), "{text}");
        let json = r.to_json("trap.jam");
        assert_eq!(json["blob"]["code_length"], 1);
        assert_eq!(json["valid"], true);
    }
}
