//! WebAssembly's memory guarantees at every boundary of the PVM address space
//! (docs/memory.md): loads and stores of every width, with small, large and wrapping
//! offsets, at the last bytes of memory and one past them, at the largest memory the
//! layout allows, at addresses that would land on the stack, the globals, the arguments
//! and the read-only data, and at addresses whose sum with the offset wraps past 4 GiB —
//! on `wasmi` and through the compiler (harness entry) on the runner: the same values
//! and a trap wherever `wasmi` traps, before and after `memory.grow`. The arguments `main`
//! is given are the one documented exception: they read as the arguments.

mod support;

use pvm_runner::{InputForm, Status};
use support::{Instance, Outcome, compile_jam, harness_options};
use wasmi::{Engine, Linker, Module, Store, Val};

/// Loads and stores of every width and offset kind; a global and a passive data segment
/// (read-only data) so that every region exists.
fn module(memory: &str) -> String {
    format!(
        r#"(module
  (memory {memory})
  (global $g (mut i64) (i64.const 0x1122334455667788))
  (data $d "\de\ad\be\ef\01\02\03\04")
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "load16") (param i32) (result i32) (i32.load16_s offset=1 (local.get 0)))
  (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "load64") (param i32) (result i64) (i64.load (local.get 0)))
  (func (export "load64_guard") (param i32) (result i64) (i64.load offset=0xfff8 (local.get 0)))
  (func (export "load32_large") (param i32) (result i32) (i32.load offset=0x12345 (local.get 0)))
  (func (export "load8_wrap") (param i32) (result i32) (i32.load8_u offset=0xffff0000 (local.get 0)))
  (func (export "load64_top") (param i32) (result i64) (i64.load offset=0xfffffff8 (local.get 0)))
  (func (export "store8") (param i32) (i32.store8 (local.get 0) (i32.const 0x5a)))
  (func (export "store32_offset") (param i32) (i32.store offset=0x10 (local.get 0) (i32.const -1)))
  (func (export "store64") (param i32) (i64.store (local.get 0) (i64.const -1)))
  (func (export "store64_large") (param i32) (i64.store offset=0x20000 (local.get 0) (i64.const -1)))
  (func (export "store16_wrap") (param i32) (i32.store16 offset=0xfffffff0 (local.get 0) (i32.const -1)))
  (func (export "global") (result i64) (global.get $g))
  (func (export "bump") (global.set $g (i64.add (global.get $g) (i64.const 1))))
  (func (export "init") (param i32) (memory.init $d (local.get 0) (i32.const 0) (i32.const 8)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#
    )
}

/// The exported functions that take an address, by export position.
const ACCESSES: [(&str, usize); 14] = [
    ("load8", 0),
    ("load16", 1),
    ("load32", 2),
    ("load64", 3),
    ("load64_guard", 4),
    ("load32_large", 5),
    ("load8_wrap", 6),
    ("load64_top", 7),
    ("store8", 8),
    ("store32_offset", 9),
    ("store64", 10),
    ("store64_large", 11),
    ("store16_wrap", 12),
    ("init", 15),
];
const GLOBAL: usize = 13;
const BUMP: usize = 14;
const GROW: usize = 16;

/// Addresses at every boundary: of the current memory (`size` bytes) and of every region
/// (`support::region_edges`), each with neighbours and with the offsets above subtracted
/// (so that address + offset lands there).
fn boundary_addresses(size: u64, compiled: &pvm_compiler::Compiled) -> Vec<u32> {
    let edges: Vec<u64> = [0, size, 1 << 31].into_iter().chain(support::region_edges(compiled)).collect();
    let offsets = [0u64, 1, 0x10, 0xfff8, 0x1_0000, 0x12345, 0x2_0000, 0xffff_0000, 0xffff_fff0, 0xffff_fff8];
    let nudges = [-0x1_0000i64, -9, -8, -4, -2, -1, 0, 1, 2, 7, 8, 0xfff8];
    let mut out: Vec<u32> = edges
        .iter()
        .flat_map(|&e| offsets.iter().map(move |&o| e.wrapping_sub(o)))
        .flat_map(|a| nudges.iter().map(move |&n| a.wrapping_add(n as u64) as u32))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// What wasmi does: `None` for a trap.
fn reference(store: &mut Store<()>, instance: &wasmi::Instance, name: &str, args: &[Val]) -> Option<Vec<u64>> {
    let func = instance.get_func(&*store, name).unwrap();
    let mut results = vec![Val::I64(0); func.ty(&*store).results().len()];
    func.call(&mut *store, args, &mut results).ok()?;
    Some(
        results
            .iter()
            .map(|v| match v {
                Val::I32(x) => *x as u32 as u64,
                Val::I64(x) => *x as u64,
                other => panic!("unexpected result {other:?}"),
            })
            .collect(),
    )
}

/// Our outcome in wasmi's terms, results cut to their widths.
fn ours(outcome: Outcome, widths: &[u32]) -> Option<Vec<u64>> {
    match outcome {
        Outcome::Values(v) => {
            Some(v.iter().zip(widths).map(|(v, w)| if *w == 32 { v & 0xffff_ffff } else { *v }).collect())
        }
        Outcome::Trap => None,
        other => panic!("neither values nor a trap: {other:?}"),
    }
}

/// Runs every access at every boundary address on both engines; returns (calls compared,
/// traps seen).
fn compare(memory: &str) -> (usize, usize) {
    let text = module(memory);
    let (jam, compiled) = compile_jam(text.as_bytes(), &harness_options()).unwrap();
    let engine = Engine::default();
    let wasm = wat::parse_str(&text).unwrap();
    let mut store = Store::new(&engine, ());
    let theirs = Linker::<()>::new(&engine).instantiate_and_start(&mut store, &Module::new(&engine, &wasm).unwrap());
    let theirs = theirs.unwrap();
    let names: Vec<String> = wasmparser::Parser::new(0)
        .parse_all(&wasm)
        .flatten()
        .filter_map(|p| match p {
            wasmparser::Payload::ExportSection(r) => Some(r.into_iter().flatten().map(|e| e.name.to_string())),
            _ => None,
        })
        .flatten()
        .collect();
    for (name, index) in ACCESSES {
        assert_eq!(names[index], name, "export order");
    }
    let mut instance = Instance::start(&jam, &compiled, names.clone(), vec![]).expect("instantiates");
    let (mut calls, mut traps) = (0, 0);
    let mut check = |index: usize, args: &[u64], store: &mut Store<()>, instance: &mut Instance| {
        let name = &names[index];
        let vals: Vec<Val> = args.iter().map(|&a| Val::I32(a as i32)).collect();
        let func = theirs.get_func(&*store, name).unwrap();
        let widths: Vec<u32> =
            func.ty(&*store).results().iter().map(|t| if *t == wasmi::ValType::I32 { 32 } else { 64 }).collect();
        let want = reference(store, &theirs, name, &vals);
        let have = ours(instance.call(index, args), &widths);
        assert_eq!(have, want, "{memory}: {name}({args:#x?})");
        calls += 1;
        traps += usize::from(want.is_none());
        want
    };
    for grow in [0, 1, 3] {
        let pages = check(GROW, &[grow], &mut store, &mut instance).expect("grow returns");
        assert_ne!(pages[0], 0xffff_ffff, "{memory}: grows by {grow}");
        let size = (pages[0] + grow) * 0x1_0000;
        for address in boundary_addresses(size, &compiled) {
            for (_, index) in ACCESSES {
                check(index, &[u64::from(address)], &mut store, &mut instance);
                // Nothing outside linear memory changed: the global (in the globals area)
                // and the stack (the harness loop's frame) are intact.
                check(BUMP, &[], &mut store, &mut instance);
                check(GLOBAL, &[], &mut store, &mut instance);
            }
        }
    }
    (calls, traps)
}

#[test]
fn out_of_bounds_accesses_trap_at_every_boundary_as_in_wasmi() {
    // No declared maximum (the largest memory the layout allows), and a small maximum.
    for memory in ["1", "1 8"] {
        let (calls, traps) = compare(memory);
        println!("memory {memory}: {calls} calls agree with wasmi, {traps} of them traps");
        assert!(calls >= 30_000, "{memory}: only {calls} calls compared");
        assert!(traps >= 5_000, "{memory}: only {traps} traps compared");
    }
}

/// `main` reading its arguments, one past the argument area, below it, and writing them.
#[test]
fn main_reads_its_arguments_and_nothing_around_them() {
    let main = |body: &str| {
        format!(
            r#"(module (memory 1)
                 (func (export "main") (param $ptr i32) (param $len i32) (result i64)
                   {body}
                   (i64.const 0x800000000)))"#
        )
    };
    let run = |body: &str, args: &[u8]| -> (Status, Vec<u8>) {
        let options = pvm_compiler::Options::default();
        let (jam, _) = compile_jam(main(body).as_bytes(), &options).unwrap();
        let mut vm = pvm_runner::Instance::load(&jam, InputForm::Jam, args, 1_000_000).unwrap();
        let status = vm.run();
        (status, if status == Status::Halt { vm.result() } else { vec![] })
    };
    let args = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    let read = "(i64.store (i32.const 0) (i64.load offset=1 (local.get $ptr)))";
    assert_eq!(run(read, &args), (Status::Halt, vec![2, 3, 4, 5, 6, 7, 8, 9]));
    let read_last = "(i64.store (i32.const 0) (i64.load8_u (i32.add (local.get $ptr) (i32.const 8))))";
    assert_eq!(run(read_last, &args), (Status::Halt, vec![9, 0, 0, 0, 0, 0, 0, 0]));
    for outside in [
        // Below the arguments: the unmapped gap above the stack.
        "(drop (i64.load (i32.sub (local.get $ptr) (i32.const 8))))",
        // Past the argument area.
        "(drop (i32.load8_u (i32.add (local.get $ptr) (i32.const 0x1000000))))",
        // Writing the arguments, also with the value they hold.
        "(i32.store8 (local.get $ptr) (i32.const 0))",
        "(i32.store (local.get $ptr) (i32.load (local.get $ptr)))",
        "(i64.store offset=1 (local.get $ptr) (i64.load offset=1 (local.get $ptr)))",
        "(i64.store offset=8 (local.get $ptr) (i64.const 0))",
    ] {
        let (status, _) = run(outside, &args);
        assert!(matches!(status, Status::Panic | Status::Fault(_)), "{outside}: {status:?}");
    }
}

/// A store out of bounds traps even in a loop that never ends and never reads memory,
/// where LLVM's loop-invariant code motion would keep the stored value in a register and
/// store it at the loop's exits (there are none): the run faults at once instead of
/// running out of gas, as `wasmi` traps.
#[test]
fn a_store_in_a_loop_without_exit_traps() {
    let main = |memory: &str, body: &str| {
        format!(
            r#"(module (memory {memory})
                 (func (export "main") (param $ptr i32) (param $len i32) (result i64)
                   (loop {body} (br 0))
                   (i64.const 0)))"#
        )
    };
    for (memory, body) in [
        // A changing value at a fixed address one past the memory.
        (
            "1",
            "(i32.store (i32.const 0x10000) (local.get $len)) (local.set $len (i32.add (local.get $len) (i32.const 1)))",
        ),
        // At address 0 of an empty memory that could grow.
        (
            "0 8",
            "(i64.store32 (i32.const 0) (i64.extend_i32_u (memory.size))) (local.set $len (i32.add (local.get $len) (i32.const 1)))",
        ),
        // At an address from the arguments.
        ("1", "(i32.store8 (i32.add (local.get $len) (i32.const 0xffff)) (local.get $ptr))"),
    ] {
        let text = main(memory, body);
        let engine = Engine::default();
        let module = Module::new(&engine, wat::parse_str(&text).unwrap()).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::<()>::new(&engine).instantiate_and_start(&mut store, &module).unwrap();
        let mut result = [Val::I64(0)];
        let call =
            instance.get_func(&store, "main").unwrap().call(&mut store, &[Val::I32(0), Val::I32(4)], &mut result);
        assert!(call.is_err(), "{body}: wasmi does not trap");
        let (jam, _) = compile_jam(text.as_bytes(), &pvm_compiler::Options::default()).unwrap();
        let mut vm = pvm_runner::Instance::load(&jam, InputForm::Jam, &[1, 2, 3, 4], 1_000_000).unwrap();
        let status = vm.run();
        assert!(matches!(status, Status::Panic | Status::Fault(_)), "{body}: {status:?}");
        let used = 1_000_000 - vm.state().gas();
        assert!(used < 100, "{body}: the store traps in the first iteration, not after {used} gas");
    }
}

/// A read at `args_ptr + x` for a variable `x` (a loop over the argument bytes) is checked
/// on `x` itself, its constant part folded into the load (`address_check::offset_zone`):
/// at every boundary it reads what a read of the same address checked as a whole reads —
/// the arguments, linear memory (an `x` that wraps `args_ptr + x` past 4 GiB), or a trap.
#[test]
fn argument_reads_at_a_variable_offset_match_the_whole_address_check() {
    let module = |base: u32| {
        format!(
            r#"(module (memory 1) (data (i32.const 100) "\2a")
                 (func (export "main") (param $ptr i32) (param $len i32) (result i64)
                   (i64.store (i32.const 0)
                     (i64.load8_u (i32.add (i32.add (local.get $ptr) (i32.const {base})) (i32.load (local.get $ptr)))))
                   (i64.const 0x800000000)))"#
        )
    };
    let mut whole = pvm_compiler::Optimizations::all();
    whole.disable(pvm_compiler::Optimization::FoldAddress);
    for base in [0, 8] {
        let text = module(base);
        let (offset_jam, compiled) = compile_jam(text.as_bytes(), &pvm_compiler::Options::default()).unwrap();
        let (whole_jam, _) =
            compile_jam(text.as_bytes(), &pvm_compiler::Options { optimizations: whole, ..Default::default() })
                .unwrap();
        // The offset form: the rare path tests `x` against linear memory's range.
        let offset_form = compiled
            .program
            .items
            .iter()
            .any(|item| matches!(item, pvm_asm::Item::Instruction(i) if i.opcode == pvm_isa::Opcode::BranchLeUImm));
        assert!(offset_form, "base {base}: no offset check");
        let args_ptr = (0xFEFF_0000 - compiled.memory_base) as u32;
        let zone_end = (0x1_0000_0000 - compiled.memory_base) as u32;
        let limit = 0xFC00_0000u32;
        let run = |jam: &[u8], address: u32| -> (Status, Vec<u8>) {
            let x = address.wrapping_sub(args_ptr.wrapping_add(base));
            let mut args = x.to_le_bytes().to_vec();
            args.extend(0x10..0x1c);
            let mut vm = pvm_runner::Instance::load(jam, InputForm::Jam, &args, 1_000_000).unwrap();
            let status = vm.run();
            let status = if matches!(status, Status::Fault(_)) { Status::Panic } else { status };
            (status, if status == Status::Halt { vm.result() } else { vec![] })
        };
        let byte = |b: u8| (Status::Halt, vec![b, 0, 0, 0, 0, 0, 0, 0]);
        let trap = (Status::Panic, vec![]);
        let expected = [
            // The first argument byte is the low byte of `x`.
            (args_ptr, Some(byte(base.wrapping_neg() as u8))),
            (args_ptr + 5, Some(byte(0x11))),
            (args_ptr + 15, Some(byte(0x1b))),
            (args_ptr - 1, Some(trap.clone())),
            (zone_end - 1, Some(trap.clone())),
            (zone_end, Some(trap.clone())),
            (zone_end + 1, Some(trap.clone())),
            (100, Some(byte(0x2a))),
            (0, Some(byte(0))),
            (65535, Some(byte(0))),
            (65536, Some(trap.clone())),
            (limit - 128, Some(trap.clone())),
            (limit - 127, Some(trap.clone())),
            (args_ptr - 0x10000, Some(trap.clone())),
            (args_ptr + 16, None),
            (args_ptr + 0xffff, None),
        ];
        for (address, want) in expected {
            let got = run(&offset_jam, address);
            assert_eq!(got, run(&whole_jam, address), "base {base}, address {address:#x}");
            if let Some(want) = want {
                assert_eq!(got, want, "base {base}, address {address:#x}");
            }
        }
    }
}

/// `main`'s arguments read wherever it passes `args_ptr`: to a function it calls (inlined
/// or not), through the table, and through memory. Only the checks of loads whose address
/// may be an argument address have the rare path that lets it through
/// (`backend::address_check::zoned`): the load of `$read` alone while the compiler can
/// follow `args_ptr`, the load of `$other` (at `args_len`) too once `args_ptr` is stored
/// to memory or passed through the table.
#[test]
fn arguments_read_wherever_main_passes_them() {
    let module = |body: &str| {
        format!(
            r#"(module (memory 1) (table 1 funcref) (elem (i32.const 0) $read)
                 (type $t (func (param i32) (result i64)))
                 (global $g (mut i32) (i32.const 0))
                 (func $read (param $p i32) (result i64) (i64.load offset=1 (local.get $p)))
                 (func $other (param $p i32) (result i32) (i32.load (local.get $p)))
                 (func (export "main") (param $ptr i32) (param $len i32) (result i64)
                   (global.set $g (call $other (local.get $len)))
                   {body}
                   (i64.const 0x800000000)))"#
        )
    };
    let mut not_inlined = pvm_compiler::Optimizations::all();
    not_inlined.disable(pvm_compiler::Optimization::Inline);
    let options = [
        pvm_compiler::Options::default(),
        pvm_compiler::Options { optimizations: not_inlined, ..pvm_compiler::Options::default() },
    ];
    let args = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    let direct = "(i64.store (i32.const 0) (call $read (local.get $ptr)))";
    let indirect = "(i64.store (i32.const 0) (call_indirect (type $t) (local.get $ptr) (i32.const 0)))";
    let through_memory =
        "(i32.store (i32.const 64) (local.get $ptr)) (i64.store (i32.const 0) (call $read (i32.load (i32.const 64))))";
    let mut rare_paths = Vec::new();
    for body in [direct, indirect, through_memory] {
        for options in &options {
            let (jam, compiled) = compile_jam(module(body).as_bytes(), options).unwrap();
            let mut vm = pvm_runner::Instance::load(&jam, InputForm::Jam, &args, 1_000_000).unwrap();
            assert_eq!(vm.run(), Status::Halt, "{body}");
            assert_eq!(vm.result(), vec![2, 3, 4, 5, 6, 7, 8, 9], "{body}");
            let labels = compiled.program.items.iter();
            rare_paths
                .push(labels.filter(|item| matches!(item, pvm_asm::Item::Label(l) if l.ends_with(".back"))).count());
        }
    }
    // Inlined, `$read` reads at a constant address in the argument zone, which needs no
    // check at all; not inlined, its load needs the rare path. Through the table or
    // memory every load's check needs it: `$read`'s, `$other`'s, and (inlined, through
    // memory) the copy of `$read` in `main` beside the one the table keeps.
    assert_eq!(rare_paths, [0, 1, 2, 2, 3, 2]);
}

/// What `--no-wild-address-traps` gives up: without the checks, a store far out of bounds
/// lands on the globals (and a load reads them) instead of trapping.
#[test]
fn without_wild_address_traps_a_wild_store_reaches_the_globals() {
    let text = module("1");
    // An instance, and the WebAssembly address that lands on global $g.
    let start = |options: &pvm_compiler::Options| {
        let (jam, compiled) = compile_jam(text.as_bytes(), options).unwrap();
        let names = (0..=GROW).map(|i| format!("export{i}")).collect();
        let instance = Instance::start(&jam, &compiled, names, vec![]).expect("instantiates");
        (instance, compiled.global_addresses[&0].wrapping_sub(compiled.memory_base) & 0xffff_ffff)
    };
    const STORE64: usize = 10;
    const LOAD64: usize = 3;
    let initial = Some(vec![0x1122_3344_5566_7788]);
    let (mut unchecked, wild) = start(&pvm_compiler::Options { wild_address_traps: false, ..harness_options() });
    assert_eq!(ours(unchecked.call(GLOBAL, &[]), &[64]), initial);
    assert_eq!(ours(unchecked.call(STORE64, &[wild]), &[]), Some(vec![]));
    assert_eq!(ours(unchecked.call(GLOBAL, &[]), &[64]), Some(vec![u64::MAX]));
    assert_eq!(ours(unchecked.call(LOAD64, &[wild]), &[64]), Some(vec![u64::MAX]));
    // With the checks (the default), the same store and load trap and the global is intact.
    let (mut checked, wild) = start(&harness_options());
    assert_eq!(checked.call(STORE64, &[wild]), Outcome::Trap);
    assert_eq!(checked.call(LOAD64, &[wild]), Outcome::Trap);
    assert_eq!(ours(checked.call(GLOBAL, &[]), &[64]), initial);
}

/// `tests/programs/copy_as_told.wat`: `main` copies with `memory.copy` as its arguments
/// say ([`told`]) and returns the 64 bytes at 0x100; a copy that may read the arguments.
fn copy_as_told() -> String {
    std::fs::read_to_string(support::root().join("tests/programs/copy_as_told.wat")).unwrap()
}

/// The arguments of [`copy_as_told`], with a load of one byte at the source instead of the copy.
const LOAD_AS_TOLD: &str = r#"(module (memory 1)
  (func (export "main") (param $ptr i32) (param $len i32) (result i64)
    (local $src i32)
    (local.set $src (i32.load offset=4 (local.get $ptr)))
    (if (i32.load offset=12 (local.get $ptr))
      (then (local.set $src (i32.add (local.get $src) (local.get $ptr)))))
    (i32.store8 (i32.const 0x100) (i32.load8_u (local.get $src)))
    (i64.const 0x100000100)))"#;

/// The arguments of [`copy_as_told`] and [`LOAD_AS_TOLD`] (destination, source, length,
/// and whether the source is an offset from `args_ptr`), then `payload`.
fn told(dst: u32, src: u32, len: u32, from_args: bool, payload: &[u8]) -> Vec<u8> {
    let words = [dst, src, len, u32::from(from_args)];
    words.iter().flat_map(|w| w.to_le_bytes()).chain(payload.iter().copied()).collect()
}

/// Runs `main` of `jam` with `args`: the status and, on a halt, the result.
fn run_main(jam: &[u8], args: &[u8]) -> (Status, Vec<u8>) {
    let mut vm = pvm_runner::Instance::load(jam, InputForm::Jam, args, 10_000_000).unwrap();
    let status = vm.run();
    (status, if status == Status::Halt { vm.result() } else { vec![] })
}

/// `memory.copy` reads what a load may read: linear memory, and the arguments from
/// `args_ptr` on (docs/memory.md). Where its source lies in linear memory or in the
/// arguments, it gives what wasmi gives when the arguments are in wasmi's memory at
/// `0x8000` (`args_ptr` there): the full arguments, from an offset into them, none, and
/// overlapping and zero-length copies inside memory, every one of them compiled as a copy
/// that may read the arguments. Past the argument pages it faults where a load faults,
/// below `args_ptr` it traps as a load does, and copying to the arguments traps: the
/// destination is a write, in linear memory only.
#[test]
fn memory_copy_reads_the_arguments_where_a_load_may() {
    let copy_text = copy_as_told();
    let (copy, _) = compile_jam(copy_text.as_bytes(), &pvm_compiler::Options::default()).unwrap();
    let (load, _) = compile_jam(LOAD_AS_TOLD.as_bytes(), &pvm_compiler::Options::default()).unwrap();
    let engine = Engine::default();
    let wasmi_module = Module::new(&engine, wat::parse_str(&copy_text).unwrap()).unwrap();
    let wasmi_args = 0x8000u32;
    let wasmi = |args: &[u8]| -> Option<Vec<u8>> {
        let mut store = Store::new(&engine, ());
        let instance = Linker::<()>::new(&engine).instantiate_and_start(&mut store, &wasmi_module).unwrap();
        let memory = instance.get_memory(&store, "memory").unwrap();
        memory.write(&mut store, wasmi_args as usize, args).unwrap();
        let main = instance.get_typed_func::<(i32, i32), i64>(&store, "main").unwrap();
        main.call(&mut store, (wasmi_args as i32, args.len() as i32)).ok()?;
        Some(memory.data(&store)[0x100..0x140].to_vec())
    };
    let payload: Vec<u8> = (0xa0..0xb8).collect();
    let args_len = 16 + payload.len() as u32;
    let plain = [
        // The whole arguments, over the start of the pattern.
        told(0x100, 0, args_len, true, &payload),
        // From an offset into them, to an offset into the pattern.
        told(0x108, 16 + 5, 11, true, &payload),
        // The last byte of the arguments, and none of them.
        told(0x13f, args_len - 1, 1, true, &payload),
        told(0x100, 0, 0, true, &payload),
        told(0x100, args_len, 0, true, &payload),
        // Inside linear memory: overlapping either way, zero bytes at its end, and out
        // of bounds (a trap on both engines).
        told(0x104, 0x100, 0x30, false, &payload),
        told(0x100, 0x107, 0x30, false, &payload),
        told(0x100, 0x1_0000, 0, false, &payload),
        told(0x100, 0xfff0, 0x11, false, &payload),
        told(0x100, 0x1_0001, 0, false, &payload),
        told(0xfff0, 0x100, 0x11, false, &payload),
    ];
    let mut halts = 0;
    for args in &plain {
        let want = wasmi(args);
        let (status, result) = run_main(&copy, args);
        match &want {
            Some(bytes) => assert_eq!((status, &result), (Status::Halt, bytes), "{}", support::hex(args)),
            None => assert_eq!(status, Status::Panic, "{}", support::hex(args)),
        }
        halts += usize::from(want.is_some());
    }
    assert_eq!(halts, 8);
    // The whole arguments, as bytes: the four words and the payload.
    let (_, whole) = run_main(&copy, &plain[0]);
    assert_eq!(&whole[..args_len as usize], &plain[0][..]);
    assert_eq!(&whole[args_len as usize..], &(args_len as u8..0x40).collect::<Vec<u8>>()[..]);

    // Outside linear memory and the arguments, copy and load agree: up to the end of the
    // argument page (zeros past the arguments), and one byte past it, a fault at the
    // next page; below `args_ptr` (the unmapped gap above the stack), a trap.
    let page = 0x1000u32;
    let to_page_end = told(0x100, page - 0x40, 0x40, true, &payload);
    assert_eq!(run_main(&copy, &to_page_end), (Status::Halt, vec![0; 0x40]));
    let fault = Status::Fault(pvm_isa::spi::ARGS_START + page);
    assert_eq!(run_main(&copy, &told(0x100, page - 0x40, 0x41, true, &payload)).0, fault);
    assert_eq!(run_main(&copy, &told(0x100, 0, page + 1, true, &payload)).0, fault);
    assert_eq!(run_main(&copy, &told(0x100, page, 1, true, &payload)).0, fault);
    assert_eq!(run_main(&load, &told(0x100, page, 1, true, &payload)).0, fault);
    for below in [1u32, 8, 0x1_0000] {
        let args = told(0x100, below.wrapping_neg(), below + 1, true, &payload);
        assert_eq!(run_main(&copy, &args).0, Status::Panic, "{below} bytes below");
        assert_eq!(run_main(&load, &args).0, Status::Panic, "{below} bytes below");
    }
    // Writing the arguments (the destination at args_ptr) traps.
    let main_writes = |body: &str| {
        format!(
            r#"(module (memory 1) (data "\01\02")
                 (func (export "main") (param $ptr i32) (param $len i32) (result i64)
                   {body} (i64.const 0)))"#
        )
    };
    for body in [
        "(memory.copy (local.get $ptr) (i32.const 0) (i32.const 1))",
        "(memory.copy (local.get $ptr) (local.get $ptr) (i32.const 1))",
        "(memory.fill (local.get $ptr) (i32.const 0) (i32.const 1))",
        "(memory.init 0 (local.get $ptr) (i32.const 0) (i32.const 1))",
    ] {
        let (jam, _) = compile_jam(main_writes(body).as_bytes(), &pvm_compiler::Options::default()).unwrap();
        assert_eq!(run_main(&jam, &[1, 2, 3]).0, Status::Panic, "{body}");
    }
}

/// A loop that copies the arguments a byte or a word at a time: LLVM could turn it into
/// a `memcpy` from the argument bytes, but the loads are volatile (docs/memory.md), so
/// it stays a loop of loads, each through its address check, and copies the arguments
/// like a `memory.copy` from `args_ptr` does; no call to the copy routine appears.
#[test]
fn copy_loops_over_the_arguments_stay_loads() {
    let copy_loop = |load: &str, store: &str, step: u32| {
        format!(
            r#"(module (memory 1)
                 (func (export "main") (param $ptr i32) (param $len i32) (result i64)
                   (local $i i32)
                   (block $done (loop $next
                     (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
                     ({store} offset=0x100 (local.get $i) ({load} (i32.add (local.get $ptr) (local.get $i))))
                     (local.set $i (i32.add (local.get $i) (i32.const {step})))
                     (br $next)))
                   (i64.or (i64.const 0x100) (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32)))))"#
        )
    };
    let args: Vec<u8> = (1..=24).collect();
    for (load, store, step) in [("i32.load8_u", "i32.store8", 1), ("i64.load", "i64.store", 8)] {
        let (jam, compiled) =
            compile_jam(copy_loop(load, store, step).as_bytes(), &pvm_compiler::Options::default()).unwrap();
        assert_eq!(run_main(&jam, &args), (Status::Halt, args.clone()), "{load}");
        let routine = |item: &pvm_asm::Item| matches!(item, pvm_asm::Item::Label(l) if l.contains("memmove"));
        assert!(!compiled.program.items.iter().any(routine), "{load}: a loop became a copy routine call");
    }
}

/// With the checks, linear memory ends at 2 GiB at most (32,768 pages; `memory.grow`
/// returns -1 beyond), so an address is checked by its sign alone: `branch_lt_s_imm
/// a, 0` (3 or 4 bytes), never a compare with a 32-bit limit. Without them the layout
/// allows nearly 4 GiB.
#[test]
fn memory_ends_at_two_gib_and_an_address_is_checked_by_its_sign() {
    let text = module("1");
    let (jam, compiled) = compile_jam(text.as_bytes(), &harness_options()).unwrap();
    assert_eq!(compiled.max_pages, 32_768);
    // The checks: tests of the sign; no compare with a 32-bit limit is left but
    // memory.grow's with its page count.
    let asm = compiled.program.to_string();
    let lines: Vec<&str> = asm.lines().map(str::trim).filter(|l| !l.contains("__pvm.memory_grow")).collect();
    let sign_tests = lines.iter().filter(|l| l.starts_with("branch_lt_s_imm ") && l.contains(", 0, ")).count();
    assert!(sign_tests >= 10, "only {sign_tests} sign tests");
    assert!(!lines.iter().any(|l| l.starts_with("branch_gt_u_imm ")), "a check compares with a limit:\n{asm}");
    let names = (0..=GROW).map(|i| format!("export{i}")).collect();
    let mut instance = Instance::start(&jam, &compiled, names, vec![]).expect("instantiates");
    // From 1 page, 32,768 more would end past 2 GiB.
    assert_eq!(ours(instance.call(GROW, &[32_768]), &[32]), Some(vec![0xffff_ffff]));
    assert_eq!(ours(instance.call(GROW, &[1]), &[32]), Some(vec![1]));
    // Just below and at 2 GiB, and at the top of the address range: traps.
    const LOAD8: usize = 0;
    for address in [0x7fff_ffffu64, 0x8000_0000, 0xffff_ffff] {
        assert_eq!(instance.call(LOAD8, &[address]), Outcome::Trap, "{address:#x}");
    }
    let (_, unchecked) =
        compile_jam(text.as_bytes(), &pvm_compiler::Options { wild_address_traps: false, ..harness_options() })
            .unwrap();
    assert!(unchecked.max_pages > 65_000, "{}", unchecked.max_pages);
}

/// The sign test of an address (above) holds only if every register holding a 32-bit
/// address holds it sign-extended. Addresses that land on the stack, made every way a
/// program makes an i32 (read from the arguments, wrapped from an i64 whose upper half is
/// zero, summed past 2^31, loaded from linear memory, assembled from halves), trap on a
/// load and on a store, where a zero-extended register would pass the test and reach
/// the stack.
#[test]
fn stack_addresses_made_every_way_trap() {
    let text = r#"(module (memory 1)
      (func (export "main") (param $ptr i32) (param $len i32) (result i64)
        (local $a i32)
        (local.set $a (i32.load offset=4 (local.get $ptr)))
        (block $made (block $halves (block $memory (block $sum (block $wrapped (block $read
          (br_table $read $wrapped $sum $memory $halves (i32.load (local.get $ptr))))
          (br $made))
          (local.set $a (i32.wrap_i64 (i64.load offset=8 (local.get $ptr)))) (br $made))
          (local.set $a (i32.add (i32.load offset=16 (local.get $ptr)) (i32.load offset=20 (local.get $ptr))))
          (br $made))
          (i32.store (i32.const 64) (local.get $a))
          (local.set $a (i32.load (i32.const 64))) (br $made))
          (local.set $a (i32.or (i32.shl (i32.load16_u offset=6 (local.get $ptr)) (i32.const 16))
                                (i32.load16_u offset=4 (local.get $ptr)))))
        (if (i32.load offset=24 (local.get $ptr))
          (then (i32.store8 (local.get $a) (i32.const 0x55))))
        (i64.store (i32.const 0) (i64.load8_u (local.get $a)))
        (i64.const 0x800000000)))"#;
    let (jam, compiled) = compile_jam(text.as_bytes(), &pvm_compiler::Options::default()).unwrap();
    let args = |way: u32, address: u32, store: bool| {
        let half = 0x8000_0000u32;
        let words = [way, address, address, 0, address.wrapping_sub(half), half, u32::from(store)];
        words.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>()
    };
    // A stack address (the stack ends at 0xFEFE_0000) and one in linear memory.
    let stack = (0xFEFD_FFF0 - compiled.memory_base) as u32;
    assert!(stack >= 0x8000_0000);
    for way in 0..5 {
        for store in [false, true] {
            let (status, _) = run_main(&jam, &args(way, stack, store));
            assert!(matches!(status, Status::Panic | Status::Fault(_)), "way {way}, store {store}: {status:?}");
            let (status, result) = run_main(&jam, &args(way, 100, store));
            let byte = if store { 0x55 } else { 0 };
            assert_eq!((status, result), (Status::Halt, vec![byte, 0, 0, 0, 0, 0, 0, 0]), "way {way}, store {store}");
        }
    }
}
