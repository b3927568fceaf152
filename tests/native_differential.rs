//! The native engine against the interpreter on random programs (`support::random`):
//! every instruction, faults and panics mid-block, dynamic jumps to valid and invalid
//! targets, `sbrk`, and gas limits from 0 up, so that out-of-gas falls at every position
//! inside blocks. Host calls go to a host that changes registers, memory and gas and
//! resumes (a few times), and runs start at random positions too. Both engines must agree
//! on status, exit code, pc, gas, registers and every page of memory.
//!
//! `NATIVE_FUZZ_PROGRAMS=N` and `NATIVE_FUZZ_SEED=S` run a longer or different batch.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod support;

use pvm_runner::{Engine, Host, HostAction, InputForm, Instance, State, Status};
use support::{Rng, pages, random::program};

/// A host that resumes the first `budget` calls, each time changing registers, memory and
/// gas as a function of what it sees.
struct ScriptedHost {
    budget: u32,
    calls: u32,
}

impl Host for ScriptedHost {
    fn call(&mut self, index: u64, state: &mut State) -> HostAction {
        if self.calls == self.budget {
            return HostAction::Stop;
        }
        self.calls += 1;
        let r7 = state.regs()[7];
        state.regs_mut()[7] = index.wrapping_mul(0x9e37_79b9) ^ r7;
        state.regs_mut()[(index % 13) as usize] = u64::from(self.calls);
        let address = state.regs()[8] as u32;
        let _ = state.memory_mut().write_bytes(address, &r7.to_le_bytes());
        state.set_gas((state.gas() - index as i64 % 7).max(0));
        HostAction::Resume
    }
}

/// Everything observable after a run.
#[derive(Debug, PartialEq, Eq)]
struct End {
    status: Status,
    exit_code: u32,
    pc: u32,
    gas: i64,
    regs: [u64; 13],
    calls: u32,
    pages: Vec<(u32, Vec<u8>)>,
}

fn run(jam: &[u8], args: &[u8], gas: i64, pc: Option<u32>, budget: u32, engine: Engine) -> End {
    let mut vm = Instance::load(jam, InputForm::Jam, args, gas).expect("loads");
    vm.set_engine(engine).expect("engine");
    if let Some(pc) = pc {
        vm.set_pc(pc);
    }
    let mut host = ScriptedHost { budget, calls: 0 };
    let status = vm.run_with_host(&mut host);
    End {
        status,
        exit_code: vm.exit_code(status),
        pc: vm.pc(),
        gas: vm.state().gas(),
        regs: *vm.state().regs(),
        calls: host.calls,
        pages: pages(&vm),
    }
}

#[test]
fn random_programs_agree_with_the_interpreter() {
    let count: usize = std::env::var("NATIVE_FUZZ_PROGRAMS").map_or(10_000, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("NATIVE_FUZZ_SEED").map_or(0xa717e, |v| v.parse().unwrap());
    let mut rng = Rng(seed);
    let mut statuses = [0usize; 5];
    for n in 0..count {
        let (text, args) = program(&mut rng);
        let jam = pvm_asm::assemble(&pvm_asm::parse(&text).unwrap()).unwrap().jam;
        let gas = match rng.below(4) {
            0 => rng.below(40) as i64,
            1 => rng.below(400) as i64,
            2 => rng.below(100_000) as i64,
            _ => 1 << 20,
        };
        let code_len = pvm_asm::parse_file(&jam, InputForm::Jam).unwrap().blob.code.len() as u64;
        let pc = rng.chance(10).then(|| rng.below(code_len + 2) as u32);
        let budget = rng.below(3) as u32;
        let interpreted = run(&jam, &args, gas, pc, budget, Engine::Interpreter);
        let native = run(&jam, &args, gas, pc, budget, Engine::Native);
        assert_eq!(native, interpreted, "program {n}: gas {gas}, pc {pc:?}, host budget {budget}, program:\n{text}");
        statuses[usize::from(interpreted.status.code())] += 1;
    }
    println!("{count} programs agree; HALT, PANIC, FAULT, HOST, OOG: {statuses:?}");
    assert!(statuses.iter().all(|&n| n > count / 100), "{statuses:?}");
}
