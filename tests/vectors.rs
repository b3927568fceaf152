//! The W3F PVM test vectors (v0.4, `../shared/testvectors/pvm`): every vector runs on
//! the runner, on the interpreter and on the native engine, and must match registers, pc, gas, status, fault address and memory,
//! except those its NOTES.md lists as expecting an extra gas unit for a page fault.

use pvm_runner::{Engine, Instance, NATIVE_SUPPORTED, Status};
use serde_json::Value;
use std::path::PathBuf;

/// Vectors that expect 2 gas for a single faulting instruction (GP 0.5.4-era gas for
/// faults). In Gray Paper v0.7.2 every instruction costs 1 gas and a fault adds nothing;
/// the reference implementation skips these same 11 (see NOTES.md).
const SKIPPED_EXTRA_FAULT_GAS: [&str; 11] = [
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
fn check(v: &Value, engine: Engine) -> Result<(), String> {
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
    let mut vm =
        Instance::with_pages(&bytes(&v["program"]), regs, &pages, &chunks, gas, pc).map_err(|e| e.to_string())?;
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
    if vm.pc() as u64 != v["expected-pc"].as_u64().unwrap() {
        return Err(format!("pc {}, expected {}", vm.pc(), v["expected-pc"]));
    }
    if vm.state().gas() != v["expected-gas"].as_i64().unwrap() {
        return Err(format!("gas {}, expected {}", vm.state().gas(), v["expected-gas"]));
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

#[test]
fn every_vector_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("test vectors beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut passed, mut skipped, mut failures) = (0, 0, Vec::new());
    for file in &files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap();
        if SKIPPED_EXTRA_FAULT_GAS.contains(&name) {
            skipped += 1;
            continue;
        }
        let engines = [Engine::Interpreter, Engine::Native];
        let errors: Vec<String> = engines[..if NATIVE_SUPPORTED { 2 } else { 1 }]
            .iter()
            .filter_map(|&engine| check(&v, engine).err().map(|e| format!("{name} on {engine:?}: {e}")))
            .collect();
        match errors.is_empty() {
            true => passed += 1,
            false => failures.extend(errors),
        }
    }
    println!(
        "PVM test vectors: {passed} passed, {skipped} skipped (extra fault gas, see NOTES.md), {} failed",
        failures.len()
    );
    assert_eq!(files.len(), 309);
    assert_eq!(skipped, 11);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(passed, 298);
}
