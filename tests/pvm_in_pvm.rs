//! PVM-in-PVM: the anan-as interpreter (`compiler.wasm` of `@fluffylabs/anan-as` 1.2.0)
//! compiled to `compiler.jam` runs inner programs on our runner. Each inner outcome must
//! equal (a) the native run of `compiler.wasm` in node with the same input, and (b) the
//! reference CLI running the inner program directly; the outer run must equal the
//! reference CLI running `compiler.jam` itself.

mod support;

use pvm_compiler::Options;
use pvm_runner::nested;
use support::{Job, RunResult, build_assemblyscript, compile_jam, hex, run_ours, run_reference, shared, unhex};

const INNER_GAS: u64 = support::NESTED_INNER_GAS;
const OUTER_GAS: i64 = support::NESTED_OUTER_GAS;

fn assembled(text: &str) -> Vec<u8> {
    pvm_asm::assemble(&pvm_asm::parse(text).unwrap()).unwrap().jam
}

/// Outputs of the native run (node) for each input.
fn native(inputs: &[Vec<u8>]) -> Vec<String> {
    let payload = inputs.iter().map(|i| serde_json::Value::from(hex(i))).collect();
    support::node_batch("native-nested.mjs", &serde_json::Value::Array(payload))
        .into_iter()
        .map(|v| v.as_str().unwrap_or_else(|| panic!("native run failed: {v}")).to_string())
        .collect()
}

struct Case {
    name: &'static str,
    program: Vec<u8>,
    args: Vec<u8>,
    gas: u64,
    status: u8,
    result: &'static str,
}

#[test]
fn nested_runs_agree_with_native_and_direct_runs() {
    let interpreter = support::pvm_interpreter();
    let add = std::fs::read(shared().join("bench/add.wat")).unwrap();
    let add = compile_jam(&add, &Options::default()).unwrap().0;
    let fib = compile_jam(&build_assemblyscript(&shared().join("bench/as_fib.ts")), &Options::default()).unwrap().0;
    let copy_as_told = std::fs::read(support::root().join("tests/programs/copy_as_told.wat")).unwrap();
    let copy_as_told = compile_jam(&copy_as_told, &Options::default()).unwrap().0;
    let cases = [
        Case { name: "trap", program: assembled("trap\n"), args: vec![], gas: INNER_GAS, status: 1, result: "" },
        Case {
            name: "add(5, 7)",
            program: add.clone(),
            args: unhex("0500000007000000"),
            gas: INNER_GAS,
            status: 0,
            result: "0c000000",
        },
        Case {
            name: "as_fib(10)",
            program: fib,
            args: unhex("0a000000"),
            gas: INNER_GAS,
            status: 0,
            result: "37000000",
        },
        Case {
            name: "fault",
            program: assembled("load_u32 r7, 0x80000000\ntrap\n"),
            args: vec![],
            gas: INNER_GAS,
            status: 2,
            result: "",
        },
        // memory.copy from the arguments (tests/memory_bounds.rs has the same cases
        // direct): all of them, from an offset into them, one byte past their page (a
        // fault), from below args_ptr (a trap), and an overlapping copy in memory.
        Case {
            name: "copy args",
            program: copy_as_told.clone(),
            args: unhex("00010000000000002800000001000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"),
            gas: INNER_GAS,
            status: 0,
            result: "00010000000000002800000001000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7\
                     28292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
        },
        Case {
            name: "copy args+21",
            program: copy_as_told.clone(),
            args: unhex("08010000150000000b00000001000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"),
            gas: INNER_GAS,
            status: 0,
            result: "0001020304050607a5a6a7a8a9aaabacadaeaf131415161718191a1b1c1d1e1f202122232425262728292a2b\
                     2c2d2e2f303132333435363738393a3b3c3d3e3f",
        },
        Case {
            name: "copy past",
            program: copy_as_told.clone(),
            args: unhex("00010000000000000110000001000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"),
            gas: INNER_GAS,
            status: 2,
            result: "",
        },
        Case {
            name: "copy below",
            program: copy_as_told.clone(),
            args: unhex("00010000ffffffff0200000001000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"),
            gas: INNER_GAS,
            status: 1,
            result: "",
        },
        Case {
            name: "copy overlap",
            program: copy_as_told,
            args: unhex("04010000000100003000000000000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"),
            gas: INNER_GAS,
            status: 0,
            result: "00010203000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728\
                     292a2b2c2d2e2f3435363738393a3b3c3d3e3f",
        },
        Case { name: "out of gas", program: add, args: unhex("0500000007000000"), gas: 3, status: 4, result: "" },
        Case {
            name: "host call",
            program: assembled("ecalli 7\ntrap\n"),
            args: vec![],
            gas: INNER_GAS,
            status: 3,
            result: "",
        },
    ];
    let inputs: Vec<Vec<u8>> = cases.iter().map(|c| nested::input(&c.program, &c.args, c.gas, 0)).collect();
    let natives = native(&inputs);
    let outer_jobs: Vec<Job> =
        inputs.iter().map(|i| Job { program: interpreter.clone(), args: i.clone(), gas: OUTER_GAS }).collect();
    let direct_jobs: Vec<Job> =
        cases.iter().map(|c| Job { program: c.program.clone(), args: c.args.clone(), gas: c.gas as i64 }).collect();
    let mut jobs = outer_jobs.clone();
    jobs.extend(direct_jobs);
    let reference = run_reference(&jobs);
    let (outer_reference, direct_reference) = reference.split_at(cases.len());
    for (i, case) in cases.iter().enumerate() {
        let outer = run_ours(&outer_jobs[i]);
        assert_eq!(outer.status, 0, "{}: the interpreter itself must halt", case.name);
        // (a) the native run of compiler.wasm.
        assert_eq!(outer.result, natives[i], "{}: nested and native outputs differ", case.name);
        // The reference CLI running compiler.jam agrees on the whole outer outcome.
        assert_eq!(&outer, &outer_reference[i], "{}: outer run differs from the reference", case.name);
        let inner = nested::Outcome::decode(&unhex(&outer.result)).expect("an outcome");
        assert_eq!(inner.status, case.status, "{}", case.name);
        assert_eq!(hex(&inner.result), case.result, "{}", case.name);
        // (b) the reference CLI running the inner program directly.
        let direct: &RunResult = &direct_reference[i];
        assert_eq!(
            (inner.status, u64::from(inner.exit_code), inner.gas as i64, inner.pc, hex(&inner.result)),
            (direct.status, direct.exit_code, direct.gas, direct.pc, direct.result.clone()),
            "{}: nested and direct runs differ",
            case.name
        );
        println!(
            "{:<12} inner {:<5} gas left {:>10}  pc {:>4}  result {:<10} outer gas {}",
            case.name,
            inner.status_name(),
            inner.gas,
            inner.pc,
            hex(&inner.result),
            OUTER_GAS - outer.gas
        );
    }
}
