//! `pvm-run` as users run it: the report, JSON, the trace, the JIP-1 log host call, the
//! exit code of every status, and bad input (truncated or garbage files, huge header
//! lengths, invalid code, jump-table entries out of range, gas 0, oversized args, bad
//! flags) — one-line errors, never a panic.

mod support;

use assert_cmd::Command;

fn jam(text: &str) -> std::path::PathBuf {
    let bytes = pvm_asm::assemble(&pvm_asm::parse(text).unwrap()).unwrap().jam;
    let path = support::scratch_dir("cli-run").join(format!("{:016x}.jam", fxhash(text)));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin("pvm-run").unwrap().args(args).output().unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

const HELLO: &str = ".rw_data 48656c6c6f
    load_imm r7, 3
    load_imm r8, 0
    load_imm r9, 0
    load_imm r10, 0x20000
    load_imm r11, 5
    ecalli 100
    load_imm r7, 0x20000
    load_imm r8, 0x20005
    jump_ind r0, 0
";

#[test]
fn report_json_trace_and_log() {
    let path = jam(HELLO);
    let file = path.to_str().unwrap();
    let (code, out, err) = run(&[file]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "Status: 0 (HALT)\nExit code: 0\nProgram counter: 27\nGas remaining: 1099511627757\n\
         Registers: [4294901760, 4278059008, 0, 0, 0, 0, 0, 131072, 131077, 0, 131072, 5, 0]\n\
         Result: [0x48656c6c6f]\n"
    );
    // The log call prints on stderr, sets r7 to WHAT and costs 10 gas besides the ecalli.
    assert_eq!(err, "[INFO] Hello\n");
    let (_, out, _) = run(&[file, "--json", "--gas", "100"]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["status"], "HALT");
    assert_eq!(json["gas"], 100 - 9 - 10);
    assert_eq!(json["result"], "48656c6c6f");
    assert_eq!(json["registers"][7], 131072);
    let (_, _, trace) = run(&[file, "--trace"]);
    let first = trace.lines().next().unwrap();
    assert_eq!(
        first.split_whitespace().collect::<Vec<_>>(),
        ["0", "load_imm", "r7,", "3", "r7=0x3", "gas=1099511627775"]
    );
    assert_eq!(trace.lines().filter(|l| !l.starts_with('[')).count(), 9);
}

#[test]
fn every_status_has_its_exit_code() {
    let cases = [
        ("trap\n", 10, "Status: 1 (PANIC)\nExit code: 0\n"),
        ("load_u8 r1, 0x30000\n", 11, "Status: 2 (FAULT)\nExit code: 196608\n"),
        ("ecalli 7\n", 12, "Status: 3 (HOST)\nExit code: 7\n"),
        ("top:\n  jump top\n", 13, "Status: 4 (OOG)\nExit code: 0\n"),
    ];
    for (text, expected, head) in cases {
        let path = jam(text);
        let (code, out, _) = run(&[path.to_str().unwrap(), "--gas", "1000"]);
        assert_eq!(code, Some(expected), "{text}");
        assert!(out.starts_with(head), "{text}: {out}");
    }
}

#[test]
fn gas_zero_and_jump_table_entries_out_of_range() {
    let path = jam("load_imm r7, 1\ntrap\n");
    let (code, out, _) = run(&[path.to_str().unwrap(), "--gas", "0"]);
    assert_eq!(code, Some(13));
    assert!(out.contains("Program counter: 0\nGas remaining: 0\n"), "{out}");
    // Entry 0 points into the middle of an instruction, entry 1 past the code.
    let path = jam(".jump_table @1, @1000\n  load_imm r1, 2\n  load_imm r2, 4\n  jump_ind r1, 0\n");
    let (code, out, _) = run(&[path.to_str().unwrap()]);
    assert_eq!(code, Some(10));
    assert!(out.contains("Program counter: 6\n"), "{out}");
}

#[test]
fn bad_input_gets_one_line_errors() {
    let good = std::fs::read(jam("load_imm r7, 5\ntrap\n")).unwrap();
    let dir = support::scratch_dir("cli-run-bad");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let fails = |args: &[&str]| {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(1), "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(out.is_empty());
        err
    };
    for cut in 0..good.len() {
        let path = write(&format!("cut{cut}.jam"), &good[..cut]);
        let err = fails(&[&path]);
        assert!(err.starts_with(&format!("pvm-run: {path}: offset 0x")), "{err}");
    }
    let mut huge = good.clone();
    huge[12] = 0xff; // the code-blob length becomes a long varint
    let path = write("huge.jam", &huge);
    assert!(fails(&[&path]).contains("bytes but only"));
    let path = write("garbage.jam", &[0x5a; 40]);
    assert!(fails(&[&path]).starts_with(&format!("pvm-run: {path}: offset 0x")));
    let args = write("args.bin", &vec![0; (1 << 24) + 1]);
    let ok = write("ok.jam", &good);
    assert_eq!(
        fails(&[&ok, "--args-file", &args]),
        format!("pvm-run: {ok}: arguments of 16777217 bytes exceed the 16777216-byte argument area\n")
    );
    assert_eq!(fails(&[&ok, "zz"]), "pvm-run: arguments `zz`: `z` at byte 0 is not a hex digit\n");
    // Multi-byte UTF-8 where hex is expected: an error naming the character, no panic.
    assert_eq!(fails(&[&ok, "aéa"]), "pvm-run: arguments `aéa`: `é` at byte 1 is not a hex digit\n");
    assert_eq!(fails(&[&ok, "0x0"]), "pvm-run: arguments `0x0`: an odd number of hex digits (1)\n");
    assert_eq!(
        fails(&[&ok, "--inner", &ok, "--inner-args", "🦀"]),
        "pvm-run: arguments `🦀`: `🦀` at byte 0 is not a hex digit\n"
    );
    assert_eq!(fails(&["/nonexistent.jam"]), "pvm-run: /nonexistent.jam: No such file or directory (os error 2)\n");
    let (code, _, err) = run(&[&ok, "--gas", "lots"]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("error: invalid value 'lots' for '--gas <GAS>'"), "{err}");
}
