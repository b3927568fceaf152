//! The programs as Unix tools: each ends quietly with the SIGPIPE status when the reader
//! of its output goes away, and every reader names a PolkaVM blob as such.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// 128 + SIGPIPE, the status of a program whose reader went away.
const READER_GONE: i32 = 141;

fn bin(name: &str) -> Command {
    Command::new(assert_cmd::cargo::cargo_bin(name))
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let path = support::scratch_dir("cli-unix").join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A program of a few instructions that halts, as assembly text.
const LOOP_ASM: &str = "load_imm r2, 3\nL: add_imm_32 r2, r2, -1\nbranch_ne_imm r2, 0, L\njump_ind r0, 0\n";

fn pack(text: &str) -> Vec<u8> {
    let out = assert_cmd::Command::cargo_bin("jam-pack").unwrap().write_stdin(text).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Runs `command` with standard output (or, with `stderr_closed`, standard error) going
/// into a pipe whose reader is already gone; returns the exit status and what it printed on
/// the other stream.
fn run_into_closed_pipe(mut command: Command, stdin: Option<&Path>, stderr_closed: bool) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let (mut other_reader, other_writer) = std::io::pipe().unwrap();
    if stderr_closed {
        command.stderr(writer).stdout(other_writer);
    } else {
        command.stdout(writer).stderr(other_writer);
    }
    command.stdin(stdin.map_or_else(Stdio::null, |p| std::fs::File::open(p).unwrap().into()));
    let mut child = command.spawn().unwrap();
    drop(command);
    let mut other = String::new();
    other_reader.read_to_string(&mut other).unwrap();
    (child.wait().unwrap().code(), other)
}

#[test]
fn every_program_exits_quietly_when_its_reader_goes_away() {
    let asm = scratch("loop.s", LOOP_ASM.as_bytes());
    let jam = scratch("loop.jam", &pack(LOOP_ASM));
    let wat = scratch("add.wat", b"(module (func (export \"main\") (param i32 i32)))");
    let cases: Vec<(&str, Command, Option<&Path>, bool)> = vec![
        ("wasm2pvm", with_args("wasm2pvm", &[wat.as_os_str()]), None, false),
        ("jam-pack", with_args("jam-pack", &[]), Some(&asm), false),
        ("jam-inspect", with_args("jam-inspect", &[jam.as_os_str()]), None, false),
        ("jam-inspect --asm", with_args("jam-inspect", &[jam.as_os_str(), "--asm".as_ref()]), None, false),
        ("jam-inspect --json", with_args("jam-inspect", &[jam.as_os_str(), "--json".as_ref()]), None, false),
        ("pvm-run", with_args("pvm-run", &[jam.as_os_str()]), None, false),
        ("pvm-run --json", with_args("pvm-run", &[jam.as_os_str(), "--json".as_ref()]), None, false),
        ("pvm-run --gp", with_args("pvm-run", &[jam.as_os_str(), "--gp".as_ref()]), None, false),
        ("pvm-run --trace (stdout)", with_args("pvm-run", &["--trace".as_ref(), jam.as_os_str()]), None, false),
        ("pvm-run --trace (stderr)", with_args("pvm-run", &["--trace".as_ref(), jam.as_os_str()]), None, true),
    ];
    for (what, command, stdin, stderr_closed) in cases {
        let (status, other) = run_into_closed_pipe(command, stdin, stderr_closed);
        assert_eq!(status, Some(READER_GONE), "{what}: status");
        if what.contains("--trace") {
            assert!(!other.contains("panicked"), "{what}: {other}");
        } else {
            assert_eq!(other, "", "{what}: nothing on stderr");
        }
    }
}

fn with_args(name: &str, args: &[&std::ffi::OsStr]) -> Command {
    let mut command = bin(name);
    command.args(args);
    command
}

/// A PolkaVM program blob header: magic, version 3 (JAM v1), declared length, then bytes.
fn polkavm_blob() -> Vec<u8> {
    let mut blob = b"PVM\0\x03".to_vec();
    blob.extend_from_slice(&48u64.to_le_bytes());
    blob.extend_from_slice(&[0x01, 0x05, 0, 0, 0, 0, 0, 0x02, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    blob
}

#[test]
fn every_reader_names_a_polkavm_blob() {
    let path = scratch("program.polkavm", &polkavm_blob());
    let shown = path.display().to_string();
    let expected = format!(
        "{shown}: offset 0x0: a PolkaVM blob, not a JAM program (magic `PVM\\0`, blob version 3, declared length 48 bytes)\n"
    );
    for form in [&[][..], &["--no-metadata"], &["--blob"]] {
        let out = bin("jam-inspect").arg(&path).args(form).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "jam-inspect {form:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("jam-inspect: {expected}"), "jam-inspect {form:?}");
        assert!(out.stdout.is_empty());
        let out = bin("pvm-run").arg(&path).args(form).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "pvm-run {form:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("pvm-run: {expected}"), "pvm-run {form:?}");
        assert!(out.stdout.is_empty());
    }
    // The compiler and the assembler name it too, rather than failing on its bytes.
    for reader in ["wasm2pvm", "jam-pack"] {
        let out = bin(reader).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{reader}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("{reader}: {expected}"), "{reader}");
        assert!(out.stdout.is_empty());
    }
    // Under --gp a program that does not decode is a PANIC with no gas used, and pvm-run
    // says why.
    let out = bin("pvm-run").arg(&path).args(["--gp", "--gas", "7"]).output().unwrap();
    assert_eq!(out.status.code(), Some(10));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("pvm-run: {}: under --gp a PANIC with no gas used\n", expected.trim_end())
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("Status: 1 (PANIC)\nExit code: 0\nProgram counter: 0\nGas remaining: 7\n")
    );
    let out = bin("jam-inspect").arg(scratch("short.polkavm", b"PVM\0")).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .ends_with(": offset 0x0: a PolkaVM blob, not a JAM program (magic `PVM\\0`, no version byte, truncated length field)\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
