//! The correctness cases of `../shared/bench/README.md`: each program (WAT, or
//! AssemblyScript built with the pinned `asc`) is compiled, assembled and run on our
//! runner and on the reference implementation; both must give the listed result, and the
//! same status, pc, gas and registers. Every `.jam` built here also round-trips through
//! the disassembler.

mod support;

use pvm_compiler::{OptLevel, Optimization, Optimizations, Options};
use std::collections::BTreeMap;
use support::{Job, build_assemblyscript, compile_jam, run_ours, run_reference, shared, unhex};

/// (program, args hex, expected result hex) from the README's "Correctness cases" table.
fn cases() -> Vec<(String, String, String)> {
    let readme = std::fs::read_to_string(shared().join("bench/README.md")).unwrap();
    let section = readme.split("## Correctness cases").nth(1).unwrap().split("\n## ").next().unwrap();
    let mut out = Vec::new();
    let mut program = String::new();
    for row in section.lines().filter(|l| l.starts_with('|') && l.contains('`')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        if !cells[1].is_empty() {
            program = cells[1].to_string();
        }
        let code = |c: &str| c.split('`').nth(1).unwrap_or_default().to_string();
        out.push((program.clone(), code(cells[3]), code(cells[4])));
    }
    out
}

fn source(program: &str) -> Vec<u8> {
    let path = shared().join("bench").join(program);
    if program.ends_with(".ts") { build_assemblyscript(&path) } else { std::fs::read(path).unwrap() }
}

#[test]
fn bench_cases_give_the_listed_results_on_both_runners() {
    check_cases(Optimizations::all(), OptLevel::O2);
}

#[test]
fn bench_cases_without_optimizations_give_the_listed_results() {
    check_cases(Optimizations::none(), OptLevel::O2);
}

/// At `-Oz` every program gives its result in less code than at `-O2` (docs/results.md,
/// "-Oz against -O2").
#[test]
fn bench_cases_at_oz_give_the_listed_results_in_less_code_than_at_o2() {
    let o2 = code_lengths(&Options::default());
    let oz = check_cases(Optimizations::all(), OptLevel::Oz);
    assert_eq!(oz.len(), 13);
    for (program, code) in &oz {
        assert!(*code < o2[program], "{program}: {code} bytes of code at -Oz, {} at -O2", o2[program]);
    }
}

/// At `-Oz` the entry's result is its start and its end four bytes on, the end added to
/// the start (3 bytes) rather than loaded (5 bytes): the same instructions run.
#[test]
fn add_at_oz_adds_the_results_end_to_its_start() {
    let entry = |options: &Options| {
        let (_, compiled) = compile_jam(&source("add.wat"), options).unwrap();
        let text = compiled.program.to_string();
        text.lines().skip_while(|l| *l != "__pvm_entry:").skip(1).map(|l| l.trim().to_string()).collect::<Vec<_>>()
    };
    let mut oz = Options { opt_level: OptLevel::Oz, ..Options::default() };
    let code = [
        "load_i32 r7, 0xfeff0000",
        "load_i32 r8, 0xfeff0004",
        "add_32 r7, r8, r7",
        "store_u32 r7, 131088",
        "load_imm r7, 131088",
        "add_imm_32 r8, r7, 4",
        "jump_ind r0, 0",
    ];
    assert_eq!(entry(&oz), code);
    oz.optimizations.disable(Optimization::ConstantDeltas);
    assert_eq!(entry(&oz)[5], "load_imm r8, 131092");
    assert_eq!(entry(&Options::default())[5], "load_imm r8, 131092");
}

/// The code bytes of each bench program compiled with `options`.
fn code_lengths(options: &Options) -> BTreeMap<String, usize> {
    let mut lengths = BTreeMap::new();
    for (program, _, _) in cases() {
        lengths.entry(program.clone()).or_insert_with(|| {
            let (_, compiled) = compile_jam(&source(&program), options).unwrap_or_else(|e| panic!("{program}: {e}"));
            pvm_asm::assemble(&compiled.program).unwrap().code_len
        });
    }
    lengths
}

/// Runs every case compiled with `optimizations` at `level`; returns the code bytes of
/// each program.
fn check_cases(optimizations: Optimizations, level: OptLevel) -> BTreeMap<String, usize> {
    let options = Options { optimizations, opt_level: level, ..Options::default() };
    let cases = cases();
    assert_eq!(cases.len(), 20, "the README lists 20 correctness cases");
    let mut jams: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut code_lengths = BTreeMap::new();
    let mut jobs = Vec::new();
    for (program, args, _) in &cases {
        let jam = jams
            .entry(program.clone())
            .or_insert_with(|| {
                let (jam, compiled) =
                    compile_jam(&source(program), &options).unwrap_or_else(|e| panic!("{program}: {e}"));
                code_lengths.insert(program.clone(), pvm_asm::assemble(&compiled.program).unwrap().code_len);
                jam
            })
            .clone();
        jobs.push(Job { program: jam, args: unhex(args), gas: 3_000_000_000 });
    }
    let reference = run_reference(&jobs);
    for (((program, args, expected), job), theirs) in cases.iter().zip(&jobs).zip(&reference) {
        let ours = run_ours(job);
        assert_eq!(ours.status, 0, "{program} {args}: status {}", ours.status);
        assert_eq!(&ours.result, expected, "{program} {args}");
        assert_eq!(&ours, theirs, "{program} {args}: our runner and the reference differ");
        println!("{program:<16} {args:<34} gas {:>10}  result {}", job.gas - ours.gas, ours.result);
    }
    code_lengths
}
