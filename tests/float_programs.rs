//! Float programs nobody here wrote the arithmetic of: a Mandelbrot kernel in WAT (f64
//! multiply, add, compare, division, square root, conversions) and an AssemblyScript
//! program that uses `Math`/`Mathf` and formats floats with `toString()` (the standard
//! library's dtoa). Each compiles without flags; its result must be node's, on both of
//! our engines and on the reference implementation, with the same status, pc, gas and
//! registers.

mod support;

use pvm_compiler::Options;
use support::{Job, build_assemblyscript, compile_jam, hex, node_batch, root, run_ours, run_reference, unhex};

/// (program in tests/programs, args hex, node's result hex).
const CASES: [(&str, &str, &str); 4] = [
    ("mandelbrot.wat", "1000000020000000", "81090000000000009a85df0cbe288240"),
    ("mandelbrot.wat", "1400000028000000", "fe10000000000000011c02207f958b40"),
    // "1.1747655564475388 6.63077181736374 8.096259147825873 8.0 0.8964708 0.3333333333333333 3e+21 0.0 5e-324"
    (
        "float_format.ts",
        "03000000",
        "312e3137343736353535363434373533383820362e363330373731383137333633373420382e30393632353931343738323538373320382e3020302e3839363437303820302e333333333333333333333333333333332033652b323120302e302035652d333234",
    ),
    // "255.1928554334374 2011.0822642309383 4078.5579037004404 19324.0 -4.5031757 0.3333333333333333 1.9999999999999999e+23 0.0 5e-324"
    (
        "float_format.ts",
        "c8000000",
        "3235352e3139323835353433333433373420323031312e3038323236343233303933383320343037382e353537393033373030343430342031393332342e30202d342e3530333137353720302e3333333333333333333333333333333320312e39393939393939393939393939393939652b323320302e302035652d333234",
    ),
];

fn wasm(program: &str) -> Vec<u8> {
    let path = root().join("tests/programs").join(program);
    if program.ends_with(".ts") {
        build_assemblyscript(&path)
    } else {
        pvm_compiler::read_input(&std::fs::read(path).unwrap()).unwrap().into_owned()
    }
}

#[test]
fn float_programs_give_nodes_results() {
    let modules: Vec<Vec<u8>> = CASES.iter().map(|(program, _, _)| wasm(program)).collect();
    let node_input: Vec<serde_json::Value> = CASES
        .iter()
        .zip(&modules)
        .map(|((_, args, _), wasm)| serde_json::json!({ "wasm": hex(wasm), "args": args }))
        .collect();
    let node = node_batch("run-wasm.mjs", &serde_json::Value::Array(node_input));
    assert_eq!(node.len(), CASES.len(), "node gives one outcome per program");
    let jobs: Vec<Job> = modules
        .iter()
        .zip(CASES)
        .map(|(wasm, (program, args, _))| {
            let (jam, _) = compile_jam(wasm, &Options::default()).unwrap_or_else(|e| panic!("{program}: {e}"));
            Job { program: jam, args: unhex(args), gas: 3_000_000_000 }
        })
        .collect();
    let reference = run_reference(&jobs);
    for (((program, args, expected), job), (theirs, node)) in CASES.iter().zip(&jobs).zip(reference.iter().zip(&node)) {
        let ours = run_ours(job);
        println!("{program:<16} {args:<18} gas {:>10}  result {}", job.gas - ours.gas, ours.result);
        assert_eq!(node["result"].as_str(), Some(*expected), "{program} {args}: node's result");
        assert_eq!(ours.status, 0, "{program} {args}: status {}", ours.status);
        assert_eq!(&ours.result, expected, "{program} {args}");
        assert_eq!(&ours, theirs, "{program} {args}: our runner and the reference differ");
    }
}
