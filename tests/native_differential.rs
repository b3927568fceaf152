//! The native engine against the interpreter on random programs (`support::random`):
//! every instruction, faults and panics mid-block, dynamic jumps to valid and invalid
//! targets, `sbrk`, and gas limits from 0 up, so that out-of-gas falls at every position
//! inside blocks. Host calls go to a host that changes registers, memory and gas and
//! resumes (a few times), and runs start at random positions too; every fourth program
//! runs under the Gray Paper's semantics. Both engines must agree on status, exit code,
//! pc, gas, registers and every page of memory.
//!
//! `NATIVE_FUZZ_PROGRAMS=N` and `NATIVE_FUZZ_SEED=S` run a longer or different batch.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod support;

use pvm_runner::{InputForm, Instance, Semantics};
use support::{Rng, agree, random::program};

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
        let semantics = if n % 4 == 3 { Semantics::GrayPaper } else { Semantics::Reference };
        let make = || {
            let mut vm = Instance::load_under(&jam, InputForm::Jam, &args, gas, semantics).expect("loads");
            if let Some(pc) = pc {
                vm.set_pc(pc);
            }
            vm
        };
        let what = format!("program {n}: gas {gas}, pc {pc:?}, host budget {budget}, {semantics:?}, program:\n{text}");
        let interpreted = agree(make, budget, &what);
        statuses[usize::from(interpreted.status.code())] += 1;
    }
    println!("{count} programs agree; HALT, PANIC, FAULT, HOST, OOG: {statuses:?}");
    assert!(statuses.iter().all(|&n| n > count / 100), "{statuses:?}");
}
