//! The example service of `examples/counter` (AssemblyScript, built with the pinned
//! `asc`): refine and accumulate on our runner with the scripted host, every host call
//! and result checked; the same `.jam` on the reference CLI at pc 0 and pc 5 up to its
//! first host call; and inside PVM-in-PVM with the inner pc as input.

mod support;

use pvm_compiler::Options;
use pvm_runner::script::Call;
use pvm_runner::{InputForm, Instance, ScriptedHost, Status};
use support::{build_assemblyscript, compile_jam, hex, root};

const GAS: i64 = 10_000_000;

fn service() -> Vec<u8> {
    let wasm = build_assemblyscript(&root().join("examples/counter/service.ts"));
    compile_jam(&wasm, &Options::default()).unwrap().0
}

fn run(jam: &[u8], pc: u32, args: &[u8], script: &str) -> (Status, Vec<u8>, Vec<Call>) {
    let mut host = ScriptedHost::parse(script).unwrap();
    let mut vm = Instance::load(jam, InputForm::Jam, args, GAS).unwrap();
    vm.set_pc(pc);
    let status = vm.run_with_host(&mut host);
    let result = if status == Status::Halt { vm.result() } else { Vec::new() };
    (status, result, host.calls)
}

/// 64-bit FNV-1a, the digest refine returns.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[test]
fn the_example_service_on_every_runner() {
    let jam = service();
    // refine: no host calls; the digest of the arguments.
    let (status, result, calls) = run(&jam, 0, b"abc", "");
    assert_eq!((status, hex(&result)), (Status::Halt, hex(&fnv1a(b"abc").to_le_bytes())));
    assert_eq!(hex(&result), "4b57410519a21fe7");
    assert!(calls.is_empty());
    // accumulate: read the counter (41), write 42, log.
    let script = std::fs::read_to_string(root().join("examples/counter/accumulate.script")).unwrap();
    let (status, result, calls) = run(&jam, 5, &[], &script);
    assert_eq!((status, hex(&result)), (Status::Halt, "2a000000".to_string()));
    let summary: Vec<(u64, support::RecordedMemory)> =
        calls.iter().map(|c| (c.index, support::recorded_memory(c))).collect();
    let some = |bytes: &[u8]| Some(hex(bytes));
    assert_eq!(
        summary,
        vec![
            (3, vec![(8, some(b"count")), (10, some(&[0; 4]))]),
            (4, vec![(7, some(b"count")), (9, some(&[42, 0, 0, 0]))]),
            (100, vec![(8, some(b"counter")), (10, some(b"called"))]),
        ]
    );
    assert_eq!((calls[0].registers[7], calls[0].registers[9], calls[0].registers[12]), (u64::MAX, 5, 4));
    assert_eq!((calls[1].registers[8], calls[1].registers[10]), (5, 4));
    assert_eq!((calls[2].registers[7], calls[2].registers[9], calls[2].registers[11]), (3, 7, 6));
    // A first accumulate: read finds nothing (NONE), the counter becomes 1.
    let (_, result, _) = run(&jam, 5, &[], "read r7=NONE\nwrite r7=NONE\nlog\n");
    assert_eq!(hex(&result), "01000000");

    // The reference CLI at pc 0 (to the end) and pc 5 (to its first host call, read).
    let jobs: Vec<serde_json::Value> = [(0u32, b"abc".to_vec()), (5, Vec::new())]
        .iter()
        .map(|(pc, args)| serde_json::json!({"program": hex(&jam), "args": hex(args), "gas": GAS.to_string(), "form": "jam", "pc": pc}))
        .collect();
    let reference = support::node_batch("run-batch.mjs", &serde_json::Value::Array(jobs));
    assert_eq!((reference[0]["status"].as_u64(), reference[0]["result"].as_str()), (Some(0), Some("4b57410519a21fe7")));
    let mut vm = Instance::load(&jam, InputForm::Jam, &[], GAS).unwrap();
    vm.set_pc(5);
    let status = vm.run();
    assert_eq!(status, Status::Host(3));
    assert_eq!((reference[1]["status"].as_u64(), reference[1]["exitCode"].as_u64()), (Some(3), Some(3)));
    assert_eq!(reference[1]["pc"].as_u64(), Some(u64::from(vm.pc())));
    assert_eq!(reference[1]["gas"].as_str(), Some(vm.state().gas().to_string().as_str()));

    // PVM-in-PVM: the interpreter gets the inner pc with the program; the inner outcome
    // is the direct run's (with the inner gas; to the first host call at pc 5).
    let interpreter = support::pvm_interpreter();
    for (pc, args, status, result) in [(0u32, b"abc".to_vec(), 0, "4b57410519a21fe7"), (5, Vec::new(), 3, "")] {
        let (_, inner) = support::run_nested(&interpreter, &jam, &args, pc);
        assert_eq!((inner.status, hex(&inner.result)), (status, result.to_string()), "pc {pc}");
        let mut vm = Instance::load(&jam, InputForm::Jam, &args, support::NESTED_INNER_GAS as i64).unwrap();
        vm.set_pc(pc);
        let direct = vm.run();
        let direct_result = if direct == Status::Halt { vm.result() } else { Vec::new() };
        assert_eq!(
            (inner.status, u64::from(inner.exit_code), inner.pc, inner.gas as i64, inner.result),
            (direct.code(), vm.exit_code(direct), vm.pc(), vm.state().gas(), direct_result),
            "pc {pc}: nested and direct runs differ"
        );
    }
}
