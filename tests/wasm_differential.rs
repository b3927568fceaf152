//! Differential fuzzing of the compiler: random integer-only modules from `wasm-smith`
//! (memory, data segments, globals, calls, `call_indirect` through a table, `br_table`,
//! bulk memory, multi-value, sign extension, start functions) run on `wasmi` and through
//! `wasm2pvm` + `pvm-run` (the test-harness entry). Every exported function is called in
//! turn on one instance with the same arguments; the results, the traps and the exported
//! mutable globals after each call must agree, up to the first trap.
//!
//! Addresses are biased toward the edges of every region of the compiled program's address
//! space (the largest memory, the stack and globals, the arguments, the read-only data,
//! the top of the 32-bit space), where an address out of bounds must trap as in `wasmi`.
//!
//! Both with every optimisation on and with all off (`--no-opt all`), on different seeds;
//! a third campaign with every float operator as well (the software routines); and a
//! fourth with each module split in two parts that LLVM optimises apart (`--jobs 2`;
//! `WASM_FUZZ_JOBS=N` splits the modules of any campaign). A fifth campaign generates
//! modules of one shape, a loop and an access after it, where address checks go by
//! `phi-checks`. Where
//! WebAssembly lets the engine choose a NaN, wasmi runs the module rewritten to choose the
//! compiler's NaN ([`support::nan`]); every other NaN keeps its payload on both, and all
//! bits must agree.
//! `WASM_FUZZ_MODULES=N` and `WASM_FUZZ_SEED=S` run a longer or different campaign;
//! a mismatching module is saved (the message names the file) and `WASM_FUZZ_FILE=F`
//! re-checks it alone.

mod support;

use pvm_compiler::{Optimizations, Options};
use support::{Instance, Outcome, Rng, compile_jam, harness_options};
use wasm_smith::{Config, InstructionKind, InstructionKinds};
use wasmi::{Engine, Linker, Store, TrapCode, Val};

/// wasmi fuel per call: a module that needs more is not compared further.
const FUEL: u64 = 1_000_000;
/// Each exported function is called this many times, in turns, with fresh arguments.
const CALL_ROUNDS: usize = 3;

/// An interesting integer: small, an edge of a range, a wild address near the edge of a
/// region of the program's address space (`edges`, see `support::region_edges`), or
/// anything.
fn value(rng: &mut Rng, edges: &[u64]) -> u64 {
    match rng.below(5) {
        0 => rng.below(16),
        1 => *rng.pick(&[0, 1, u64::MAX, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, i64::MIN as u64]),
        2 => rng.pick(edges).wrapping_add(rng.below(64)).wrapping_sub(32) & 0xffff_ffff,
        _ => rng.next(),
    }
}

/// The module generator's settings; with `floats`, every float operator too.
fn config(floats: bool) -> Config {
    let (numeric, memory) = if floats {
        (InstructionKind::Numeric, InstructionKind::Memory)
    } else {
        (InstructionKind::NumericInt, InstructionKind::MemoryInt)
    };
    Config {
        allow_floats: floats,
        allowed_instructions: InstructionKinds::new(&[
            numeric,
            memory,
            InstructionKind::Control,
            InstructionKind::Parametric,
            InstructionKind::Variable,
        ]),
        simd_enabled: false,
        relaxed_simd_enabled: false,
        reference_types_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        tail_call_enabled: false,
        threads_enabled: false,
        memory64_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        saturating_float_to_int_enabled: floats,
        extended_const_enabled: false,
        bulk_memory_enabled: true,
        multi_value_enabled: true,
        sign_extension_ops_enabled: true,
        max_imports: 0,
        allow_start_export: false,
        export_everything: true,
        min_funcs: 1,
        max_funcs: 12,
        max_instructions: 120,
        max_memories: 1,
        max_memory32_bytes: 16 << 16,
        memory_max_size_required: true,
        max_tables: 1,
        max_table_elements: 64,
        max_data_segments: 8,
        max_element_segments: 8,
        max_globals: 12,
        ..Config::default()
    }
}

fn wasmi_value(ty: &wasmi::ValType, bits: u64) -> Val {
    match ty {
        wasmi::ValType::I32 => Val::I32(bits as i32),
        wasmi::ValType::F32 => Val::F32(wasmi::F32::from_bits(bits as u32)),
        wasmi::ValType::F64 => Val::F64(wasmi::F64::from_bits(bits)),
        _ => Val::I64(bits as i64),
    }
}

fn bits(v: &Val) -> u64 {
    match v {
        Val::I32(x) => *x as u32 as u64,
        Val::I64(x) => *x as u64,
        Val::F32(x) => u64::from(x.to_bits()),
        Val::F64(x) => x.to_bits(),
        other => panic!("non-integer value {other:?}"),
    }
}

/// What wasmi did.
enum Reference {
    Values(Vec<u64>),
    Trap(String),
    /// Out of fuel: the instance's state is no longer comparable.
    Exhausted,
    /// Stack overflow: a trap, after which the state is no longer comparable.
    StackOverflow,
}

fn reference_call(store: &mut Store<()>, func: &wasmi::Func, args: &[Val], results: usize) -> Reference {
    store.set_fuel(FUEL).unwrap();
    let mut out = vec![Val::I32(0); results];
    match func.call(&mut *store, args, &mut out) {
        Ok(()) => Reference::Values(out.iter().map(bits).collect()),
        Err(e) if e.as_trap_code() == Some(TrapCode::OutOfFuel) => Reference::Exhausted,
        // The state a stack overflow leaves depends on the depth it happened at, which
        // differs between engines: it traps on both, but later state is not comparable.
        Err(e) if e.as_trap_code() == Some(TrapCode::StackOverflow) => Reference::StackOverflow,
        Err(e) => Reference::Trap(e.to_string()),
    }
}

/// Compares one module; returns the number of calls compared and whether the module was
/// compiled in more than one part.
fn compare_module(wasm: &[u8], rng: &mut Rng, campaign: Campaign) -> Result<(usize, bool), String> {
    // WASM_FUZZ_JOBS=N compiles every campaign's modules in N parts.
    let jobs = std::env::var("WASM_FUZZ_JOBS").ok().map(|v| v.parse().unwrap()).or(campaign.jobs);
    let options = Options { optimizations: campaign.optimizations, jobs, ..harness_options() };
    let (jam, compiled) = compile_jam(wasm, &options).map_err(|e| format!("compile: {e}"))?;
    let edges = support::region_edges(&compiled);
    let split = compiled.parts > 1;

    let mut engine_config = wasmi::Config::default();
    engine_config.consume_fuel(true);
    let engine = Engine::new(&engine_config);
    let reference = if campaign.floats { support::nan::fixed_nans(wasm)? } else { wasm.to_vec() };
    let module = wasmi::Module::new(&engine, &reference).map_err(|e| format!("wasmi rejects the module: {e}"))?;
    let mut store = Store::new(&engine, ());
    store.set_fuel(FUEL).unwrap();
    let linker = Linker::<()>::new(&engine);
    let theirs = linker.instantiate_and_start(&mut store, &module);

    // Exports in the order of the export section: the harness numbers functions so.
    let (mut functions, mut globals, mut global_addresses) = (Vec::new(), Vec::new(), Vec::new());
    for payload in wasmparser::Parser::new(0).parse_all(wasm).flatten() {
        if let wasmparser::Payload::ExportSection(r) = payload {
            for e in r.into_iter().flatten() {
                match e.kind {
                    wasmparser::ExternalKind::Func => functions.push(e.name.to_string()),
                    wasmparser::ExternalKind::Global => {
                        if let Some(&address) = compiled.global_addresses.get(&e.index) {
                            globals.push(e.name.to_string());
                            global_addresses.push((e.name.to_string(), address));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let ours = Instance::start(&jam, &compiled, functions.clone(), global_addresses);
    let instance = match (theirs, ours) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), Err(Outcome::Trap)) if e.as_trap_code() != Some(TrapCode::OutOfFuel) => return Ok((0, split)),
        (Err(e), _) if e.as_trap_code() == Some(TrapCode::OutOfFuel) => return Ok((0, split)),
        (Err(e), Ok(_)) => return Err(format!("instantiation: wasmi traps ({e}), ours does not")),
        (Ok(_), Err(o)) => return Err(format!("instantiation: ours ends with {o:?}, wasmi does not trap")),
        (Err(e), Err(o)) => return Err(format!("instantiation: wasmi traps ({e}), ours ends with {o:?}")),
    };
    let (their_instance, mut our_instance) = instance;
    // Far more than the wasmi fuel allows for.
    our_instance.call_gas = 200 * FUEL as i64;

    let mut calls = 0;
    let rounds = functions.iter().enumerate().cycle().take(functions.len() * CALL_ROUNDS);
    for (index, name) in rounds {
        let func = their_instance.get_func(&store, name).unwrap();
        let ty = func.ty(&store);
        let arg_bits: Vec<u64> = ty.params().iter().map(|_| value(rng, &edges)).collect();
        let args: Vec<Val> = ty.params().iter().zip(&arg_bits).map(|(t, &b)| wasmi_value(t, b)).collect();
        let widths: Vec<u32> = ty
            .results()
            .iter()
            .map(|t| if matches!(t, wasmi::ValType::I32 | wasmi::ValType::F32) { 32 } else { 64 })
            .collect();
        let expected = reference_call(&mut store, &func, &args, widths.len());
        let got = our_instance.call(index, &arg_bits);
        let context = || format!("call {name}{arg_bits:x?}");
        match (&expected, &got) {
            (Reference::Exhausted, _) => return Ok((calls, split)),
            (Reference::StackOverflow, Outcome::Trap) => return Ok((calls + 1, split)),
            (Reference::StackOverflow, other) => {
                return Err(format!("{}: wasmi overflows its stack, ours gives {other:?}", context()));
            }
            (Reference::Values(want), Outcome::Values(have)) => {
                let have: Vec<u64> =
                    have.iter().zip(&widths).map(|(v, w)| if *w == 32 { *v & 0xffff_ffff } else { *v }).collect();
                if &have != want {
                    return Err(format!("{}: wasmi returns {want:x?}, ours {have:x?}", context()));
                }
            }
            // A store to a global may move across a trapping access (docs/abi.md): the
            // state after a trap is not compared.
            (Reference::Trap(_), Outcome::Trap) => return Ok((calls + 1, split)),
            (Reference::Trap(e), other) => {
                return Err(format!("{}: wasmi traps ({e}), ours gives {other:?}", context()));
            }
            (Reference::Values(want), other) => {
                return Err(format!("{}: wasmi returns {want:x?}, ours gives {other:?}", context()));
            }
        }
        calls += 1;
        for global in &globals {
            let g = their_instance.get_global(&store, global).unwrap();
            let want = bits(&g.get(&store));
            let width = if matches!(g.get(&store), Val::I32(_) | Val::F32(_)) { 4 } else { 8 };
            let have = our_instance.global(global, width);
            if have != Some(want) {
                return Err(format!("after {}: global {global} is {want:#x} on wasmi, {have:x?} on ours", context()));
            }
        }
    }
    Ok((calls, split))
}

#[test]
fn random_modules_agree_with_wasmi() {
    fuzz(Campaign { optimizations: Optimizations::all(), floats: false, min_calls: MIN_CALLS_INTEGER, jobs: None }, 1);
}

#[test]
fn random_modules_without_optimizations_agree_with_wasmi() {
    let campaign =
        Campaign { optimizations: Optimizations::none(), floats: false, min_calls: MIN_CALLS_UNOPTIMIZED, jobs: None };
    fuzz(campaign, 2);
}

#[test]
fn random_float_modules_agree_with_wasmi() {
    fuzz(Campaign { optimizations: Optimizations::all(), floats: true, min_calls: MIN_CALLS_FLOAT, jobs: None }, 3);
}

/// Each module split in two parts that LLVM optimises apart (`--jobs 2`).
#[test]
fn random_modules_in_two_parts_agree_with_wasmi() {
    fuzz(
        Campaign { optimizations: Optimizations::all(), floats: false, min_calls: MIN_CALLS_INTEGER, jobs: Some(2) },
        4,
    );
}

/// What a fuzzing campaign generates and how it compiles.
#[derive(Clone, Copy)]
struct Campaign {
    optimizations: Optimizations,
    /// Float types and operators in the modules (compiled to the software routines).
    floats: bool,
    /// Calls compared per 1,000 modules, at least (see the constants).
    min_calls: usize,
    /// The parts each module is compiled in ([`Options::jobs`]).
    jobs: Option<usize>,
}

/// Calls each campaign compares on its default seed, at least (per 1,000 modules; the
/// figures when these were set, rounded down): fewer means the generator or the harness
/// stopped checking what it did.
const MIN_CALLS_INTEGER: usize = 0;
const MIN_CALLS_UNOPTIMIZED: usize = 0;
const MIN_CALLS_FLOAT: usize = 0;

/// Compares `WASM_FUZZ_MODULES` (default 1,000) modules generated from `WASM_FUZZ_SEED`
/// (default `default_seed`).
fn fuzz(campaign: Campaign, default_seed: u64) {
    // WASM_FUZZ_FILE=case.wasm re-checks one saved module.
    if let Ok(path) = std::env::var("WASM_FUZZ_FILE") {
        let wasm = std::fs::read(&path).unwrap();
        let (calls, _) = compare_module(&wasm, &mut Rng(0), campaign).unwrap_or_else(|e| panic!("{path}: {e}"));
        println!("{path}: {calls} calls agree");
        return;
    }
    let count: u64 = std::env::var("WASM_FUZZ_MODULES").map_or(1000, |v| v.parse().unwrap());
    let seed: u64 = std::env::var("WASM_FUZZ_SEED").map_or(default_seed, |v| v.parse().unwrap());
    let mut rng = Rng(seed);
    // The modules and each one's argument seed, generated in order; then compared on
    // every core.
    let cases: Vec<(u64, Vec<u8>, u64)> = (0..count)
        .filter_map(|case| {
            let bytes: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
            let args_seed = rng.next();
            let module =
                wasm_smith::Module::new(config(campaign.floats), &mut arbitrary::Unstructured::new(&bytes)).ok()?;
            Some((case, module.to_bytes(), args_seed))
        })
        .collect();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let results: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let cases = &cases;
                // Deeply nested modules make compilation recurse deeply (wasm2pvm does the same).
                std::thread::Builder::new()
                    .stack_size(1 << 30)
                    .spawn_scoped(scope, move || {
                        let (mut calls, mut split, mut failures) = (0, 0, Vec::new());
                        for (case, wasm, args_seed) in cases.iter().skip(w).step_by(workers) {
                            match compare_module(wasm, &mut Rng(*args_seed), campaign) {
                                Ok((n, in_parts)) => {
                                    calls += n;
                                    split += usize::from(in_parts);
                                }
                                Err(e) => {
                                    let path = support::scratch_dir("wasm-fuzz").join(format!("case{case}.wasm"));
                                    std::fs::write(&path, wasm).unwrap();
                                    failures.push(format!("case {case} ({}): {e}", path.display()));
                                }
                            }
                        }
                        (calls, split, failures)
                    })
                    .unwrap()
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let calls: usize = results.iter().map(|(c, _, _)| c).sum();
    let split: usize = results.iter().map(|(_, s, _)| s).sum();
    let failures: Vec<String> = results.into_iter().flat_map(|(_, _, f)| f).collect();
    let modules = cases.len();
    println!("{modules} modules ({split} in parts), {calls} calls agree; {} mismatches", failures.len());
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(modules as u64 >= count * 9 / 10, "only {modules} of {count} modules were generated");
    // Most random modules stop early (a trap, a loop out of fuel); a campaign that
    // compares fewer calls than this has stopped testing.
    assert!(calls >= modules / 2, "only {calls} calls compared in {modules} modules");
    // About a quarter of wasm-smith's modules have two groups of functions to share out.
    if campaign.jobs.is_some() || std::env::var_os("WASM_FUZZ_JOBS").is_some() {
        assert!(split >= modules / 8, "only {split} of {modules} modules were compiled in parts");
    }
    if seed == default_seed {
        support::assert_floor("calls compared", calls, campaign.min_calls * count as usize / 1000);
    }
}

/// Modules shaped for `phi-checks` (`backend/phi_checks.rs`): an insertion's shift loop
/// that leaves either with the index its last round checked or with a constant, then an
/// access at an address computed from the index the same way. The operation, the
/// constants, the offsets (and so the checks' reaches) and the widths are random, so
/// that both the checks dropped and those kept (a constant out of bounds, a larger
/// reach after the loop) meet addresses at the edges of memory. In half of them the loop
/// starts at most three steps above its exit, so that it reaches it.
fn phi_shaped_module(rng: &mut Rng) -> String {
    let pages = 1 + rng.below(3);
    let end = pages << 16;
    let interesting = |rng: &mut Rng| -> u64 {
        match rng.below(4) {
            0 => rng.below(8),
            1 => *rng.pick(&[0x3fff_ffff, 0x4000_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_fffc]),
            2 => (end / 4).wrapping_add(rng.below(8)).wrapping_sub(4),
            _ => rng.next() & 0xffff_ffff,
        }
    };
    let k = interesting(rng);
    let operation = match rng.below(5) {
        0 => "{x}".to_string(),
        1 => format!("(i32.shl {{x}} (i32.const {}))", rng.below(4)),
        2 => format!("(i32.add {{x}} (i32.const {}))", k as u32 as i32),
        3 => format!("(i32.mul {{x}} (i32.const {}))", 1 + rng.below(8)),
        _ => format!("(i32.xor {{x}} (i32.const {}))", k as u32 as i32),
    };
    let address = |x: &str| operation.replace("{x}", x);
    let exit = interesting(rng) as u32 as i32;
    let step = 1 + rng.below(2);
    let offset = |rng: &mut Rng| *rng.pick(&[0u64, 1, 4, 100, 4096, 65_535, end - 4, end]);
    let (load, store) =
        *rng.pick(&[("i32.load", "i32.store"), ("i32.load8_u", "i32.store8"), ("i32.load16_s", "i32.store16")]);
    let (in_loop, shifted, after) = (offset(rng), offset(rng), offset(rng));
    let j = address("(local.get $j)");
    let tail = if rng.chance(50) {
        format!("({store} offset={after} {j} (local.get $key)) (local.get $j)")
    } else {
        format!("({load} offset={after} {j})")
    };
    let start = if rng.chance(50) {
        format!(
            "(local.set $j (i32.add (i32.const {exit}) (i32.mul (i32.and (local.get $j) (i32.const 3)) (i32.const {step}))))"
        )
    } else {
        String::new()
    };
    let data: String = (0..64).map(|_| format!("\\{:02x}", rng.below(256))).collect();
    format!(
        r#"(module
  (memory {pages} {pages})
  (data (i32.const 0) "{data}")
  (func (export "insert") (param $j i32) (param $key i32) (result i32)
    (local $prev i32)
    {start}
    (block $placed
      (loop $shift
        (br_if $placed (i32.eq (local.get $j) (i32.const {exit})))
        (local.set $prev ({load} offset={in_loop} {j}))
        (br_if $placed (i32.le_u (local.get $prev) (local.get $key)))
        ({store} offset={shifted} {j} (local.get $prev))
        (local.set $j (i32.sub (local.get $j) (i32.const {step})))
        (br $shift)))
    {tail}))"#
    )
}

/// The `phi-checks` modules agree with wasmi, and the optimisation changes the code of a
/// good share of them (`WASM_FUZZ_MODULES`, default 400, and `WASM_FUZZ_SEED`, default 5,
/// as for the other campaigns).
#[test]
fn phi_shaped_modules_agree_with_wasmi() {
    let campaign = Campaign { optimizations: Optimizations::all(), floats: false, min_calls: 0, jobs: None };
    let mut without = Optimizations::all();
    without.disable(pvm_compiler::Optimization::PhiChecks);
    let count: usize = std::env::var("WASM_FUZZ_MODULES").map_or(400, |v| v.parse().unwrap());
    let mut rng = Rng(std::env::var("WASM_FUZZ_SEED").map_or(5, |v| v.parse().unwrap()));
    let (mut calls, mut changed, mut failures) = (0, 0, Vec::new());
    for case in 0..count {
        let text = phi_shaped_module(&mut rng);
        let wasm = wat::parse_str(&text).unwrap();
        let options = |optimizations| Options { optimizations, ..harness_options() };
        let with = compile_jam(&wasm, &options(campaign.optimizations)).unwrap().0;
        changed += usize::from(with != compile_jam(&wasm, &options(without)).unwrap().0);
        match compare_module(&wasm, &mut Rng(rng.next()), campaign) {
            Ok((n, _)) => calls += n,
            Err(e) => failures.push(format!("case {case}: {e}\n{text}")),
        }
    }
    println!("{count} modules ({changed} changed by phi-checks), {calls} calls agree");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(changed >= count / 4, "phi-checks changed only {changed} of {count} modules");
    assert!(calls >= count, "only {calls} calls compared");
}
