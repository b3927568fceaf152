//! The W3F PVM test vectors (v0.4, `../shared/testvectors/pvm`): every vector runs on
//! the runner, on the interpreter and on the native engine, under the reference's
//! semantics and the Gray Paper's, and must match registers, pc, gas, status, fault
//! address and memory — with two conventions of the vectors that are not the Gray
//! Paper v0.7.2's, both asserted exactly: the 11 vectors that NOTES.md lists expect 2 gas
//! for a faulting instruction, which costs 1 in either semantics (docs/runner.md); and a
//! halt or panic reports the instruction's pc, which the Gray Paper reports as 0.

use pvm_runner::{Engine, Instance, NATIVE_SUPPORTED, Semantics, Status};
use serde_json::Value;
use std::path::PathBuf;

/// Vectors that expect 2 gas for a single faulting instruction (GP 0.5.4-era gas for
/// faults). In Gray Paper v0.7.2 every instruction costs 1 gas and a fault adds nothing;
/// the reference implementation skips these same 11 (see NOTES.md). Here they run, and
/// must use exactly 1 gas less than they expect.
const EXTRA_FAULT_GAS: [&str; 11] = [
    "inst_load_u8_nok",
    "inst_store_u8_trap_inaccessible",
    "inst_store_imm_u8_trap_inaccessible",
    "inst_store_indirect_u8_with_offset_nok",
    "inst_store_indirect_u16_with_offset_nok",
    "inst_store_indirect_u32_with_offset_nok",
    "inst_store_indirect_u64_with_offset_nok",
    "inst_store_imm_indirect_u8_with_offset_nok",
    "inst_store_imm_indirect_u16_with_offset_nok",
    "inst_store_imm_indirect_u32_with_offset_nok",
    "inst_store_imm_indirect_u64_with_offset_nok",
];

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testvectors/pvm/programs")
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("u64")).collect()
}

fn bytes(v: &Value) -> Vec<u8> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("byte") as u8).collect()
}

/// Runs one vector; returns a description of the first mismatch.
fn check(v: &Value, engine: Engine, semantics: Semantics) -> Result<(), String> {
    let regs: [u64; 13] = u64s(&v["initial-regs"]).try_into().map_err(|_| "13 registers")?;
    let pages: Vec<(u32, u32, bool)> = v["initial-page-map"]
        .as_array()
        .expect("page map")
        .iter()
        .map(|p| {
            (
                p["address"].as_u64().unwrap() as u32,
                p["length"].as_u64().unwrap() as u32,
                p["is-writable"].as_bool().unwrap(),
            )
        })
        .collect();
    let chunks: Vec<(u32, Vec<u8>)> = v["initial-memory"]
        .as_array()
        .expect("memory")
        .iter()
        .map(|c| (c["address"].as_u64().unwrap() as u32, bytes(&c["contents"])))
        .collect();
    let gas = v["initial-gas"].as_i64().expect("gas");
    let pc = v["initial-pc"].as_u64().expect("pc") as u32;
    let mut vm = Instance::with_pages(&bytes(&v["program"]), regs, &pages, &chunks, gas, pc, semantics)
        .map_err(|e| e.to_string())?;
    vm.set_engine(engine).map_err(|e| e.to_string())?;
    let status = vm.run();
    let expected_status = v["expected-status"].as_str().expect("status");
    let got_status = match status {
        Status::Halt => "halt",
        Status::Panic => "panic",
        Status::Fault(_) => "page-fault",
        Status::Host(_) => "host",
        Status::OutOfGas => "out-of-gas",
    };
    if got_status != expected_status {
        return Err(format!("status {got_status}, expected {expected_status}"));
    }
    if let Some(address) = v.get("expected-page-fault-address") {
        let expected = address.as_u64().unwrap() as u32;
        if status != Status::Fault(expected) {
            return Err(format!("{status:?}, expected fault at {expected:#x}"));
        }
    }
    let expected_regs = u64s(&v["expected-regs"]);
    if vm.state().regs().as_slice() != expected_regs.as_slice() {
        return Err(format!("registers {:?}, expected {expected_regs:?}", vm.state().regs()));
    }
    let expected_pc = match (semantics, status) {
        (Semantics::GrayPaper, Status::Halt | Status::Panic) => 0,
        _ => v["expected-pc"].as_u64().unwrap(),
    };
    if u64::from(vm.pc()) != expected_pc {
        return Err(format!("pc {}, expected {expected_pc}", vm.pc()));
    }
    let extra_fault_gas = EXTRA_FAULT_GAS.contains(&v["name"].as_str().unwrap());
    let expected_gas = v["expected-gas"].as_i64().unwrap() + i64::from(extra_fault_gas);
    if vm.state().gas() != expected_gas {
        return Err(format!("gas {}, expected {expected_gas}", vm.state().gas()));
    }
    for chunk in v["expected-memory"].as_array().unwrap() {
        let address = chunk["address"].as_u64().unwrap() as u32;
        let expected = bytes(&chunk["contents"]);
        let got = vm.state_mut().memory_mut().read_bytes(address, expected.len() as u32);
        if got.as_deref() != Some(expected.as_slice()) {
            return Err(format!("memory at {address:#x}: {got:?}, expected {expected:?}"));
        }
    }
    Ok(())
}

/// Every vector under `semantics` on every engine: the number that passed, and the
/// mismatches.
fn run_all(semantics: Semantics) -> (usize, Vec<String>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("test vectors beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 309);
    let (mut passed, mut failures) = (0, Vec::new());
    for file in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap();
        let engines = [Engine::Interpreter, Engine::Native];
        let errors: Vec<String> = engines[..if NATIVE_SUPPORTED { 2 } else { 1 }]
            .iter()
            .filter_map(|&engine| check(&v, engine, semantics).err().map(|e| format!("{name} on {engine:?}: {e}")))
            .collect();
        match errors.is_empty() {
            true => passed += 1,
            false => failures.extend(errors),
        }
    }
    println!("PVM test vectors under {semantics:?}: {passed} passed, {} failed", failures.len());
    (passed, failures)
}

#[test]
fn every_vector_passes_under_the_reference_semantics() {
    let (passed, failures) = run_all(Semantics::Reference);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(passed, 309);
}

#[test]
fn every_vector_passes_under_the_gray_paper() {
    let (passed, failures) = run_all(Semantics::GrayPaper);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(passed, 309);
}
