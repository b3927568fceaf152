//! `pvm-run`'s runner against the reference implementation on random programs: every
//! instruction of the table with random operands, branches and jumps to valid targets
//! (direct, through the jump table, to the halt address), loads and stores inside and
//! outside mapped memory, `sbrk`, `ecalli` (100, the JIP-1 log, resumes), and small gas
//! limits so that out-of-gas happens at every kind of instruction. Same status, exit
//! code, pc, gas, registers and result, all in one node batch; and every program of the
//! PVM test vectors run the same way.
//!
//! `RUNNER_FUZZ_PROGRAMS=N` and `RUNNER_FUZZ_SEED=S` run a longer or different batch.

mod support;

use support::random::program;
use support::{Job, Rng, run_ours, run_reference};

#[test]
fn random_programs_agree_with_the_reference() {
    let count: usize = std::env::var("RUNNER_FUZZ_PROGRAMS").map_or(1200, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("RUNNER_FUZZ_SEED").map_or(0x5eed, |v| v.parse().unwrap());
    let mut rng = Rng(seed);
    let mut jobs = Vec::with_capacity(count);
    let mut sources = Vec::with_capacity(count);
    for _ in 0..count {
        let (text, args) = program(&mut rng);
        let parsed = pvm_asm::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let jam = pvm_asm::assemble(&parsed).unwrap_or_else(|e| panic!("{e}\n{text}")).jam;
        support::assert_round_trip(&jam);
        let gas = *rng.pick(&[0, 1, 2, 5, 10, 17, 40, 100, 1000, 100_000]);
        jobs.push(Job { program: jam, args, gas });
        sources.push(text);
    }
    let theirs = run_reference(&jobs);
    let mut statuses = [0usize; 5];
    for ((job, text), reference) in jobs.iter().zip(&sources).zip(&theirs) {
        let ours = run_ours(job);
        assert_eq!(&ours, reference, "gas {}, args {:?}, program:\n{text}", job.gas, job.args);
        statuses[usize::from(ours.status)] += 1;
    }
    println!("{count} programs agree; HALT, PANIC, FAULT, HOST, OOG: {statuses:?}");
    // The generator reaches every outcome.
    assert!(statuses.iter().all(|&n| n > count / 100), "{statuses:?}");
}

#[test]
fn test_vector_programs_agree_with_the_reference() {
    // Every program of the PVM test vectors, packed as a `.jam` and run from the standard
    // initialisation (their own initial registers and memory are not expressible there).
    let mut jobs = Vec::new();
    for entry in std::fs::read_dir(support::shared().join("testvectors/pvm/programs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let vector: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let blob: Vec<u8> = vector["program"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
        let spi = pvm_isa::spi::build_spi(&[], &[], 1, 4096, &blob).unwrap();
        jobs.push(Job { program: pvm_isa::spi::with_metadata(&[], &spi), args: vec![1, 2, 3], gas: 10_000 });
    }
    assert_eq!(jobs.len(), 309);
    let theirs = run_reference(&jobs);
    for (job, reference) in jobs.iter().zip(&theirs) {
        assert_eq!(&run_ours(job), reference, "program {}", support::hex(&job.program));
    }
}

/// The reference batch helper refuses a reply with fewer outcomes than programs (the
/// callers pair programs and outcomes up, which would otherwise compare only a prefix).
#[test]
#[should_panic(expected = "run-batch.mjs returned 2 outcomes for 3 inputs")]
fn a_reply_with_fewer_outcomes_than_programs_fails() {
    support::one_outcome_each("run-batch.mjs", vec!["halt", "panic"], 3);
}

/// A harness that checked fewer cases than its floor fails.
#[test]
#[should_panic(expected = "only 917 calls compared (at least 918 expected)")]
fn a_harness_below_its_floor_fails() {
    support::assert_floor("calls compared", 917, 918);
}
