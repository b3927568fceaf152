//! Two JIT libraries on the native engine's hot loop: fib's loop (see [`pvm`]) translated
//! with `dynasmrt` (what `lib/runner/src/native/` uses) and with `iced-x86`'s code
//! assembler, with the engine's register mapping, gas check per block and trampoline.
//! Checks that both give the interpreter's outcome (registers, gas, the block where the
//! gas runs out), then prints per library: translation time per instruction (a program
//! of 23,000 instructions, the size of `compiler.jam`), run speed of the loop, and code
//! size. `run.sh` adds the build time and the dependency weight of each.
//!
//! ```text
//! cargo run --release [-- N]      # N: fib's argument for the speed run (default 50,000,000)
//! ```

mod exec;
mod pvm;
#[cfg(feature = "dynasm")]
mod with_dynasm;
#[cfg(feature = "iced")]
mod with_iced;

use pvm::{Block, Ctx};
use std::time::{Duration, Instant};

/// Translated code.
pub trait Code {
    /// Runs from `block` on `ctx` until the code exits; returns the exit code.
    fn run(&self, block: usize, ctx: &mut Ctx) -> u32;
    /// Bytes of code in all (trampoline and blocks).
    fn size(&self) -> usize;
    /// Bytes of code of `block`.
    fn block_size(&self, block: usize) -> usize;
}

/// A library: its name and its translation function.
type Backend = (&'static str, fn(&[Block]) -> Box<dyn Code>);

const BACKENDS: &[Backend] = &[
    #[cfg(feature = "dynasm")]
    ("dynasmrt 5.1", |p| Box::new(with_dynasm::translate(p))),
    #[cfg(feature = "iced")]
    ("iced-x86 1.22", |p| Box::new(with_iced::translate(p))),
];

/// Instructions of the program translated for timing (about `compiler.jam`'s).
const LONG: usize = 23_000;
const ROUNDS: usize = 20;
/// Speed runs of the loop per library (the best counts: the machine is shared).
const RUNS: usize = 11;

fn main() {
    let n: u64 = match std::env::args().nth(1).map(|a| a.replace('_', "").parse()) {
        None => 50_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("jit-choice: the argument is fib's n, a positive integer");
            std::process::exit(2);
        }
    };
    let (halt, done) = pvm::expected(n, 1 << 40);
    assert_eq!(halt, pvm::EXIT_HALT);
    let executed = (1 << 40) - done.gas as u64;
    let long = pvm::long(LONG);
    let long_instructions: usize = long.iter().map(Block::instructions).sum();

    println!(
        "fib({n}): {executed} PVM instructions; translation of {long_instructions} instructions, best of {ROUNDS}; run, best of {RUNS}"
    );
    println!(
        "{:<14} {:>12} {:>10} {:>10} {:>10} {:>11} {:>11}",
        "library", "translate", "per instr", "run s", "M instr/s", "loop bytes", "bytes/instr"
    );
    // The speed runs alternate between the libraries, so that both see the same
    // neighbours on the shared machine; the best run of each counts.
    let codes: Vec<Box<dyn Code>> = BACKENDS
        .iter()
        .map(|&(name, translate)| {
            check(name, translate);
            translate(&pvm::fib())
        })
        .collect();
    let mut best = vec![Duration::MAX; codes.len()];
    for _ in 0..RUNS {
        for ((code, best), &(name, _)) in codes.iter().zip(&mut best).zip(BACKENDS) {
            let mut ctx = start(n, 1 << 40);
            let start = Instant::now();
            let exit = code.run(0, &mut ctx);
            *best = (*best).min(start.elapsed());
            assert_eq!((exit, &ctx), (halt, &done), "{name}: fib({n})");
        }
    }
    for ((code, run), &(name, translate)) in codes.iter().zip(best).zip(BACKENDS) {
        let translation = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                let code = translate(&long);
                let elapsed = start.elapsed();
                std::hint::black_box(code.size());
                elapsed
            })
            .min()
            .unwrap_or_default();
        let long_size = translate(&long).size();
        println!(
            "{:<14} {:>9.3} ms {:>7.0} ns {:>10.3} {:>10.0} {:>11} {:>11.1}",
            name,
            ms(translation),
            translation.as_nanos() as f64 / long_instructions as f64,
            run.as_secs_f64(),
            executed as f64 / run.as_secs_f64() / 1e6,
            code.block_size(1),
            long_size as f64 / long_instructions as f64,
        );
    }
}

/// The state fib's code starts from: `n` in r7.
fn start(n: u64, gas: i64) -> Ctx {
    let mut ctx = Ctx { regs: [0; 13], gas, block: 0 };
    ctx.regs[7] = n;
    ctx
}

/// Checks `translate`'s code against the interpreter's outcome: a halt, and out-of-gas at
/// every gas from 0 to a few iterations.
fn check(name: &str, translate: fn(&[Block]) -> Box<dyn Code>) {
    let code = translate(&pvm::fib());
    for n in [1, 2, 3, 1000] {
        for gas in (0..40).chain([1 << 40]) {
            let mut ctx = start(n, gas);
            let exit = code.run(0, &mut ctx);
            assert_eq!((exit, ctx), pvm::expected(n, gas), "{name}: fib({n}) with {gas} gas");
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
