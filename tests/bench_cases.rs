//! The correctness cases of `../shared/bench/README.md`: each program (WAT, or
//! AssemblyScript built with the pinned `asc`) is compiled, assembled and run on our
//! runner and on the reference implementation; both must give the listed result, and the
//! same status, pc, gas and registers. Every `.jam` built here also round-trips through
//! the disassembler.

mod support;

use pvm_compiler::{Optimizations, Options};
use std::collections::HashMap;
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
    check_cases(Optimizations::all());
}

#[test]
fn bench_cases_without_optimizations_give_the_listed_results() {
    check_cases(Optimizations::none());
}

fn check_cases(optimizations: Optimizations) {
    let options = Options { optimizations, ..Options::default() };
    let cases = cases();
    assert_eq!(cases.len(), 20, "the README lists 20 correctness cases");
    let mut jams: HashMap<String, Vec<u8>> = HashMap::new();
    let mut jobs = Vec::new();
    for (program, args, _) in &cases {
        let jam = jams
            .entry(program.clone())
            .or_insert_with(|| {
                let (jam, _) = compile_jam(&source(program), &options).unwrap_or_else(|e| panic!("{program}: {e}"));
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
}
