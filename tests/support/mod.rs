//! Shared helpers of the integration tests: where the shared data and the reference
//! implementation live, compiling WebAssembly to `.jam` in process, and running the
//! test-harness entry of compiled modules.

#![allow(dead_code)]

use pvm_compiler::{Compiled, EntryKind, Options};
use pvm_runner::{Status, Vm};
use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared data beside the repository (`../shared`).
pub fn shared() -> PathBuf {
    root().join("../shared")
}

/// The reference CLI script.
pub fn reference_cli() -> PathBuf {
    root().join("vendor/node_modules/@fluffylabs/anan-as/dist/bin/index.js")
}

/// Compiles a module (binary or text) and assembles it into a `.jam`.
pub fn compile_jam(source: &[u8], options: &Options) -> Result<(Vec<u8>, Compiled), String> {
    let wasm = pvm_compiler::read_input(source).map_err(|e| e.to_string())?;
    let compiled = pvm_compiler::compile(&wasm, options).map_err(|e| e.to_string())?;
    let assembled = pvm_asm::assemble(&compiled.program).map_err(|e| format!("assembling: {e}"))?;
    Ok((assembled.jam, compiled))
}

/// Gas for one harness call: far more than any test needs, small enough to stop a loop.
pub const CALL_GAS: i64 = 1 << 32;

/// How a harness call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Returned these results (bit patterns, zero-extended to 64 bits).
    Values(Vec<u64>),
    /// Trapped (PANIC or FAULT).
    Trap,
    /// Reached a float operator compiled to a trap.
    FloatTrap,
    /// Ran out of gas.
    OutOfGas,
    /// Stopped in an unexpected way.
    Other(String),
}

/// Host-call index that announces a float trap in harness builds.
pub const FLOAT_TRAP: u32 = 0x7fff_ffef;

/// Options for harness builds.
pub fn harness_options() -> Options {
    Options {
        entry: EntryKind::Harness,
        trap_floats: true,
        float_trap_host_call: Some(FLOAT_TRAP),
        ..Options::default()
    }
}

/// A running instance of a module compiled with the harness entry.
pub struct Instance {
    vm: Vm,
    mailbox: u32,
    /// Registers and pc where the harness asks for the next call.
    resume: ([u64; 13], u32),
    /// Exported function names in export order (a call names its position).
    pub functions: Vec<String>,
    /// Exported mutable global addresses by name.
    pub globals: Vec<(String, u64)>,
}

impl Instance {
    /// Loads and instantiates (runs the start function); `Err(Outcome)` if that traps.
    pub fn start(
        jam: &[u8],
        compiled: &Compiled,
        functions: Vec<String>,
        globals: Vec<(String, u64)>,
    ) -> Result<Self, Outcome> {
        let mut vm = Vm::from_jam(jam, &[], CALL_GAS).map_err(|e| Outcome::Other(e.to_string()))?;
        match (vm.run(), compiled.mailbox) {
            (Status::Host(i), Some(mailbox)) if i == u64::from(pvm_compiler::abi::HARNESS_ECALLI) => {
                let resume = (vm.regs, vm.pc());
                Ok(Instance { vm, mailbox: mailbox as u32, resume, functions, globals })
            }
            (other, _) => Err(classify(other)),
        }
    }

    /// Calls exported function number `index` with 64-bit argument patterns.
    pub fn call(&mut self, index: usize, args: &[u64]) -> Outcome {
        let mut slots = vec![index as u64];
        slots.extend_from_slice(args);
        for (i, v) in slots.iter().enumerate() {
            self.vm.memory.write_bytes(self.mailbox + 8 * i as u32, &v.to_le_bytes()).expect("the mailbox is writable");
        }
        self.vm.gas = CALL_GAS;
        self.vm.resume_after_host_call();
        let status = self.vm.run();
        let outcome = match status {
            Status::Host(i) if i == u64::from(pvm_compiler::abi::HARNESS_ECALLI) => {
                let values = (1..=16)
                    .map(|i| {
                        let b = self.vm.memory.read_bytes(self.mailbox + 8 * i, 8).expect("mailbox");
                        u64::from_le_bytes(b.try_into().expect("8 bytes"))
                    })
                    .collect();
                return Outcome::Values(values);
            }
            other => classify(other),
        };
        // Back to the harness loop, as if the call had returned.
        self.vm.regs = self.resume.0;
        self.vm.set_pc(self.resume.1);
        self.vm.gas = CALL_GAS;
        match self.vm.run() {
            Status::Host(_) => outcome,
            other => Outcome::Other(format!("the harness did not resume after {outcome:?}: {other:?}")),
        }
    }

    /// Reads an exported mutable global (`bytes` wide).
    pub fn global(&mut self, name: &str, bytes: u32) -> Option<u64> {
        let address = self.globals.iter().find(|(n, _)| n == name)?.1 as u32;
        let b = self.vm.memory.read_bytes(address, bytes)?;
        let mut word = [0u8; 8];
        word[..b.len()].copy_from_slice(&b);
        Some(u64::from_le_bytes(word))
    }
}

fn classify(status: Status) -> Outcome {
    match status {
        Status::Panic | Status::Fault(_) => Outcome::Trap,
        Status::Host(i) if i == u64::from(FLOAT_TRAP) => Outcome::FloatTrap,
        Status::OutOfGas => Outcome::OutOfGas,
        other => Outcome::Other(format!("{other:?}")),
    }
}
