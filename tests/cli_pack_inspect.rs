//! `jam-pack` and `jam-inspect` as users run them: the TRAP program byte for byte, the
//! report, round trips of every test-vector program and of odd encodings, the reference
//! disassembler's reading of every test-vector program, and bad input.

mod support;

use assert_cmd::Command;
use pvm_isa::{Args, Instruction};
use serde_json::Value;
use support::{hex, shared};

const TRAP_JAM: &str = "000000000000000000000000050000000000010001";

fn pack(text: &str, extra: &[&str]) -> Vec<u8> {
    let out = Command::cargo_bin("jam-pack").unwrap().args(extra).write_stdin(text).output().unwrap();
    assert!(out.status.success(), "jam-pack failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = support::scratch_dir("cli").join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn trap_program_byte_for_byte_and_its_report() {
    let jam = pack("trap\n", &[]);
    assert_eq!(hex(&jam), TRAP_JAM);
    assert_eq!(jam.len(), 21);
    let path = temp_file("trap.jam", &jam);
    let out = Command::cargo_bin("jam-inspect").unwrap().arg(&path).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let expected = format!(
        "file: {} (21 bytes, read as a .jam file (metadata prefix + SPI container))
metadata: 0 bytes at offset 0x1
SPI container at offset 0x1:
  read-only data: 0 bytes
  read-write data: 0 bytes
  heap pages: 0
  stack size: 0 bytes
  code blob: 5 bytes at offset 0x10
program blob at offset 0x10:
  jump table: 0 entries of 0 bytes
  code: 1 bytes at offset 0x13
  bitmask: 1 bytes at offset 0x14
disassembly:
         0  00                      trap
valid: no findings
",
        path.display()
    );
    assert_eq!(text, expected);
    let json: Value = serde_json::from_slice(
        &Command::cargo_bin("jam-inspect").unwrap().arg(&path).arg("--json").output().unwrap().stdout,
    )
    .unwrap();
    assert_eq!(json["spi"]["blob_length"], 5);
    assert_eq!(json["instructions"][0]["text"], "trap");
}

/// The program blobs of the test vectors.
fn vector_programs() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(shared().join("testvectors/pvm/programs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let program = v["program"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
            (v["name"].as_str().unwrap().to_string(), program)
        })
        .collect();
    out.sort();
    out
}

fn round_trip_cli(bytes: &[u8], form: &[&str], name: &str) {
    let path = temp_file(&format!("{name}.bin"), bytes);
    let asm = Command::cargo_bin("jam-inspect").unwrap().arg("--asm").args(form).arg(&path).output().unwrap();
    let text = String::from_utf8(asm.stdout).unwrap();
    assert!(!text.is_empty(), "{name}: no disassembly: {}", String::from_utf8_lossy(&asm.stderr));
    assert_eq!(pack(&text, form), bytes, "{name}: round trip changed the bytes");
}

#[test]
fn every_test_vector_program_round_trips() {
    let programs = vector_programs();
    assert_eq!(programs.len(), 309);
    for (name, blob) in &programs {
        let spi = pvm_isa::spi::build_spi(&[], &[], 0, 0, blob).unwrap();
        let jam = pvm_isa::spi::with_metadata(&[], &spi);
        round_trip_cli(&jam, &[], name);
        round_trip_cli(blob, &["--blob"], name);
    }
}

#[test]
fn odd_encodings_round_trip() {
    let text = ".metadata \"odd\"\n.rw_data 0102\n.jump_table_entry_size 3\n.jump_table here, @9999\nhere: load_imm r7, 5:4\n  jump here:4\n  branch_eq_imm r7, 1:3, @100000\n  .insn fe01\n  .insn 3373\n  trap\n  .bytes 0000000000000000000000000000000000000000000000000000000000\n  fallthrough\n";
    let jam = pack(text, &[]);
    round_trip_cli(&jam, &[], "odd");
}

/// Our instruction as the reference disassembler prints it: operand fields in encoding
/// order (high nibble first), immediates as their low 32 bits, branch targets relative.
fn reference_form(i: &Instruction, pc: u32) -> String {
    let v = |x: u64| (x as u32).to_string();
    let off = |t: u32| t.wrapping_sub(pc).to_string();
    let r = |r: pvm_isa::Reg| r.index().to_string();
    let fields: Vec<String> = match i.args {
        Args::None => vec![],
        Args::Imm(x) => vec![v(x)],
        Args::RegImm64(a, x) => vec![r(a), v(x), v(x >> 32)],
        Args::ImmImm(x, y) => vec![v(x), v(y)],
        Args::Offset(t) => vec![off(t)],
        Args::RegImm(a, x) => vec![r(a), v(x)],
        Args::RegImmImm(a, x, y) => vec![r(a), v(x), v(y)],
        Args::RegImmOffset(a, x, t) => vec![r(a), v(x), off(t)],
        Args::RegReg(d, a) => vec![r(a), r(d)],
        Args::RegRegImm(a, b, x) => vec![r(b), r(a), v(x)],
        Args::RegRegOffset(a, b, t) => vec![r(b), r(a), off(t)],
        Args::RegRegImmImm(a, b, x, y) => vec![r(b), r(a), v(x), v(y)],
        Args::RegRegReg(d, a, b) => vec![r(b), r(a), r(d)],
    };
    format!("{pc}: {}({}) {}", i.opcode.mnemonic().to_uppercase(), i.opcode as u8, fields.join(", "))
}

/// A reference line with its offsets normalised to 32-bit patterns.
fn normalise_reference(line: &str) -> String {
    let line = line.trim_end();
    let (head, operands) = line.split_once(") ").unwrap_or((line.trim_end_matches(')'), ""));
    let fields: Vec<String> = operands
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| f.parse::<i64>().map(|n| (n as u32).to_string()).unwrap_or_else(|_| f.to_string()))
        .collect();
    format!("{head}) {}", fields.join(", "))
}

#[test]
fn reference_disassembler_agrees_on_every_test_vector_program() {
    let programs = vector_programs();
    let payload = programs.iter().map(|(_, p)| serde_json::Value::from(hex(p))).collect();
    let listings: Vec<String> = support::node_batch("disassemble.mjs", &serde_json::Value::Array(payload))
        .into_iter()
        .map(|v| v.as_str().expect("a listing").to_string())
        .collect();
    let mut compared = 0;
    for ((name, blob), listing) in programs.iter().zip(&listings) {
        let parsed = pvm_isa::ProgramBlob::parse(blob, 0).unwrap();
        let ours: Vec<String> =
            parsed.instructions().filter_map(|(pc, i, _)| i.map(|i| reference_form(&i, pc))).collect();
        let theirs: Vec<String> = listing
            .lines()
            .map(str::trim)
            .filter(|l| l.split(':').next().is_some_and(|pc| pc.parse::<u32>().is_ok()))
            .map(normalise_reference)
            .filter(|l| {
                (l.split(": ").nth(1).unwrap_or(""))
                    .split('(')
                    .next()
                    .is_some_and(|m| pvm_isa::Opcode::from_mnemonic(&m.to_lowercase()).is_some())
            })
            .collect();
        let ours: Vec<String> = ours.iter().map(|l| normalise_reference(l)).collect();
        assert_eq!(ours, theirs, "{name}");
        compared += ours.len();
    }
    println!("{compared} instructions in {} programs read alike", programs.len());
    // 24,082 when this was written: fewer means instructions went uncompared.
    support::assert_floor("instructions compared", compared, 24_000);
}

#[test]
fn bad_input_gets_one_line_errors() {
    let fail = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };
    // Every truncation of a .jam.
    let jam = pack(".rw_data 0102\nload_imm r7, 5\ntrap\n", &[]);
    for cut in 0..jam.len() {
        let path = temp_file(&format!("cut{cut}.jam"), &jam[..cut]);
        let err = fail(Command::cargo_bin("jam-inspect").unwrap().arg(&path));
        assert!(err.starts_with(&format!("jam-inspect: {}: offset 0x", path.display())), "{err}");
    }
    // A length pointing past the end.
    let mut long = jam.clone();
    long[1] = 0xff;
    let path = temp_file("long.jam", &long);
    let err = fail(Command::cargo_bin("jam-inspect").unwrap().arg(&path));
    assert!(err.contains("needs 255 bytes but only"), "{err}");
    // Without the metadata prefix: a hint.
    let spi = pack("trap\n", &["--no-metadata"]);
    let path = temp_file("bare.spi", &spi);
    let err = fail(Command::cargo_bin("jam-inspect").unwrap().arg(&path));
    assert!(err.ends_with("it parses as a bare SPI container: try --no-metadata\n"), "{err}");
    // Assembly errors name file, line and column; invalid UTF-8 names the offset.
    let err = fail(Command::cargo_bin("jam-pack").unwrap().write_stdin("trap\n  load_imm r99, 1\n"));
    assert_eq!(err, "jam-pack: <stdin>:2:12: expected a register, found `r99`\n");
    // Multi-byte UTF-8 where hex is expected: an error naming the character, no panic.
    let err = fail(Command::cargo_bin("jam-pack").unwrap().write_stdin(".ro_data aéa\ntrap\n"));
    assert_eq!(err, "jam-pack: <stdin>:1:11: hex data: `é` at byte 1 is not a hex digit\n");
    let err = fail(Command::cargo_bin("jam-pack").unwrap().write_stdin("trap\n  .bytes 0a\u{1F980}\n"));
    assert_eq!(err, "jam-pack: <stdin>:2:12: hex data: `\u{1F980}` at byte 2 is not a hex digit\n");
    let err = fail(Command::cargo_bin("jam-pack").unwrap().write_stdin(b"trap\n\xff\n".to_vec()));
    assert_eq!(err, "jam-pack: <stdin>: offset 0x5: the input is not UTF-8 text\n");
    let err = fail(Command::cargo_bin("jam-inspect").unwrap().arg("/nonexistent/x.jam"));
    assert_eq!(err, "jam-inspect: /nonexistent/x.jam: No such file or directory (os error 2)\n");
}

#[test]
fn invalid_files_are_reported_with_offsets() {
    // A jump-table entry that is not an instruction start, and no terminator at the end.
    let jam = pack(".jump_table @1\nload_imm r7, 5\n", &[]);
    let path = temp_file("invalid.jam", &jam);
    let out = Command::cargo_bin("jam-inspect").unwrap().arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("  [0] address 2 -> 1 (NOT a basic-block start)\n"), "{text}");
    assert!(text.contains("INVALID: 2 findings\n"), "{text}");
    assert!(text.contains(": jump-table entry 0 targets 1, which is not a basic-block start\n"), "{text}");
    assert!(text.contains(": code does not end in a terminator (last instruction at pc 0)\n"), "{text}");
}

#[test]
fn service_metadata_round_trip() {
    let args = ["--name", "example", "--version", "0.0.1", "--license", "MPL2"];
    let authors = ["--author", "Fluffy Labs <hello@fluffylabs.dev>", "--author", "Ada"];
    let jam = pack("trap\n", &[&args[..], &authors[..]].concat());
    let expected_metadata = concat!(
        "00",
        "07",
        "6578616d706c65",
        "05",
        "302e302e31",
        "04",
        "4d504c32",
        "02",
        "22",
        "466c75666679204c616273203c68656c6c6f40666c756666796c6162732e6465763e",
        "03",
        "416461",
    );
    assert_eq!(hex(&jam), format!("{:02x}{expected_metadata}{}", expected_metadata.len() / 2, &TRAP_JAM[2..]));
    let path = temp_file("service.jam", &jam);
    let out = Command::cargo_bin("jam-inspect").unwrap().arg(&path).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "metadata: 60 bytes at offset 0x1, JAM-SDK layout:
  name: \"example\"
  version: \"0.0.1\"
  license: \"MPL2\"
  author: \"Fluffy Labs <hello@fluffylabs.dev>\"
  author: \"Ada\"
SPI container at offset 0x3d:
"
        ),
        "{text}"
    );
    let json: Value = serde_json::from_slice(
        &Command::cargo_bin("jam-inspect").unwrap().arg(&path).arg("--json").output().unwrap().stdout,
    )
    .unwrap();
    assert_eq!(
        json["metadata"]["service"],
        serde_json::json!({
            "name": "example",
            "version": "0.0.1",
            "license": "MPL2",
            "authors": ["Fluffy Labs <hello@fluffylabs.dev>", "Ada"],
        })
    );
    // The disassembly keeps the bytes, so it re-packs to the same file.
    let asm = Command::cargo_bin("jam-inspect").unwrap().arg(&path).arg("--asm").output().unwrap().stdout;
    assert_eq!(pack(std::str::from_utf8(&asm).unwrap(), &[]), jam);
    // Only the fields given; the rest stay empty.
    assert_eq!(hex(&pack("trap\n", &["--name", "x"])), format!("06000178000000{}", &TRAP_JAM[2..]));
}

#[test]
fn metadata_in_another_layout_is_shown_as_bytes_and_flags_are_checked() {
    let jam = pack(".metadata \"service v1\"\ntrap\n", &[]);
    let path = temp_file("text-metadata.jam", &jam);
    let out = Command::cargo_bin("jam-inspect").unwrap().arg(&path).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("metadata: 10 bytes at offset 0x1: 73657276696365207631 (\"service v1\")\n"), "{text}");
    let json: Value = serde_json::from_slice(
        &Command::cargo_bin("jam-inspect").unwrap().arg(&path).arg("--json").output().unwrap().stdout,
    )
    .unwrap();
    assert_eq!(json["metadata"]["service"], Value::Null);
    for (input, flags, message) in [
        (
            ".metadata \"m\"\ntrap\n",
            &["--name", "x"][..],
            "jam-pack: <stdin>: the program has .metadata already; drop it or the metadata flags\n",
        ),
        (
            "trap\n",
            &["--author", "a", "--no-metadata"][..],
            "jam-pack: --name, --version, --license and --author write metadata, which --blob and --no-metadata leave out\n",
        ),
    ] {
        let out = Command::cargo_bin("jam-pack").unwrap().args(flags).write_stdin(input).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&out.stderr), message);
    }
    let out = Command::cargo_bin("jam-pack").unwrap().arg("-V").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("pvm-toolchain {}\n", env!("CARGO_PKG_VERSION")));
}
