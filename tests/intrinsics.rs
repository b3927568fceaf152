//! Every LLVM intrinsic the optimiser forms from WebAssembly, at each width it forms it:
//! one program per intrinsic and width, written the way real code spells the operation
//! (mask-and-shift bit reversal, byte swaps, rotates, clamps, overflow checks, bulk
//! memory). Each program's optimised LLVM IR must contain the intrinsic (so the case
//! tests what it says), and the compiled program must give wasmi's results on edge and
//! random arguments. (LLVM 14 forms no `smin`/`smax`/`umin`/`umax` from WebAssembly:
//! a compare and select stays a select.)

mod support;

use support::{Instance, Outcome, Rng, compile_jam, harness_options};
use wasmi::{Linker, Store, Val};

/// One case: the intrinsic (with its width suffix), the exported function's parameters
/// and result, and its body.
struct Case {
    intrinsic: &'static str,
    signature: &'static str,
    body: &'static str,
}

const fn case(intrinsic: &'static str, signature: &'static str, body: &'static str) -> Case {
    Case { intrinsic, signature, body }
}

const I32_1: &str = "(param $a i32) (result i32)";
const I32_2: &str = "(param $a i32) (param $b i32) (result i32)";
const I64_1: &str = "(param $a i64) (result i64)";
const I64_2: &str = "(param $a i64) (param $b i64) (result i64)";

const CASES: &[Case] = &[
    // Bit reversal: swap halves, then bytes, nibbles, pairs and bits.
    case(
        "bitreverse.i8",
        I32_1,
        "(local.set $a (i32.and (local.get $a) (i32.const 0xff)))
         (local.set $a (i32.or (i32.shr_u (local.get $a) (i32.const 4)) (i32.and (i32.shl (local.get $a) (i32.const 4)) (i32.const 0xf0))))
         (local.set $a (i32.or (i32.and (i32.shr_u (local.get $a) (i32.const 2)) (i32.const 0x33)) (i32.and (i32.shl (local.get $a) (i32.const 2)) (i32.const 0xcc))))
         (i32.or (i32.and (i32.shr_u (local.get $a) (i32.const 1)) (i32.const 0x55)) (i32.and (i32.shl (local.get $a) (i32.const 1)) (i32.const 0xaa)))",
    ),
    case(
        "bitreverse.i16",
        I32_1,
        "(local.set $a (i32.and (local.get $a) (i32.const 0xffff)))
         (local.set $a (i32.or (i32.shr_u (local.get $a) (i32.const 8)) (i32.and (i32.shl (local.get $a) (i32.const 8)) (i32.const 0xff00))))
         (local.set $a (i32.or (i32.and (i32.shr_u (local.get $a) (i32.const 4)) (i32.const 0x0f0f)) (i32.and (i32.shl (local.get $a) (i32.const 4)) (i32.const 0xf0f0))))
         (local.set $a (i32.or (i32.and (i32.shr_u (local.get $a) (i32.const 2)) (i32.const 0x3333)) (i32.and (i32.shl (local.get $a) (i32.const 2)) (i32.const 0xcccc))))
         (i32.or (i32.and (i32.shr_u (local.get $a) (i32.const 1)) (i32.const 0x5555)) (i32.and (i32.shl (local.get $a) (i32.const 1)) (i32.const 0xaaaa)))",
    ),
    case(
        "bitreverse.i32",
        I32_1,
        "(local.set $a (i32.or (i32.and (i32.shr_u (local.get $a) (i32.const 1)) (i32.const 0x55555555)) (i32.shl (i32.and (local.get $a) (i32.const 0x55555555)) (i32.const 1))))
         (local.set $a (i32.or (i32.and (i32.shr_u (local.get $a) (i32.const 2)) (i32.const 0x33333333)) (i32.shl (i32.and (local.get $a) (i32.const 0x33333333)) (i32.const 2))))
         (local.set $a (i32.or (i32.and (i32.shr_u (local.get $a) (i32.const 4)) (i32.const 0x0f0f0f0f)) (i32.shl (i32.and (local.get $a) (i32.const 0x0f0f0f0f)) (i32.const 4))))
         (local.set $a (i32.or (i32.and (i32.shr_u (local.get $a) (i32.const 8)) (i32.const 0x00ff00ff)) (i32.shl (i32.and (local.get $a) (i32.const 0x00ff00ff)) (i32.const 8))))
         (i32.or (i32.shr_u (local.get $a) (i32.const 16)) (i32.shl (local.get $a) (i32.const 16)))",
    ),
    case(
        "bitreverse.i64",
        I64_1,
        "(local.set $a (i64.or (i64.and (i64.shr_u (local.get $a) (i64.const 1)) (i64.const 0x5555555555555555)) (i64.shl (i64.and (local.get $a) (i64.const 0x5555555555555555)) (i64.const 1))))
         (local.set $a (i64.or (i64.and (i64.shr_u (local.get $a) (i64.const 2)) (i64.const 0x3333333333333333)) (i64.shl (i64.and (local.get $a) (i64.const 0x3333333333333333)) (i64.const 2))))
         (local.set $a (i64.or (i64.and (i64.shr_u (local.get $a) (i64.const 4)) (i64.const 0x0f0f0f0f0f0f0f0f)) (i64.shl (i64.and (local.get $a) (i64.const 0x0f0f0f0f0f0f0f0f)) (i64.const 4))))
         (local.set $a (i64.or (i64.and (i64.shr_u (local.get $a) (i64.const 8)) (i64.const 0x00ff00ff00ff00ff)) (i64.shl (i64.and (local.get $a) (i64.const 0x00ff00ff00ff00ff)) (i64.const 8))))
         (local.set $a (i64.or (i64.and (i64.shr_u (local.get $a) (i64.const 16)) (i64.const 0x0000ffff0000ffff)) (i64.shl (i64.and (local.get $a) (i64.const 0x0000ffff0000ffff)) (i64.const 16))))
         (i64.or (i64.shr_u (local.get $a) (i64.const 32)) (i64.shl (local.get $a) (i64.const 32)))",
    ),
    // Byte swaps.
    case(
        "bswap.i16",
        I32_1,
        "(local.set $a (i32.and (local.get $a) (i32.const 0xffff)))
         (i32.and (i32.or (i32.shl (local.get $a) (i32.const 8)) (i32.shr_u (local.get $a) (i32.const 8))) (i32.const 0xffff))",
    ),
    case(
        "bswap.i32",
        I32_1,
        "(i32.or
           (i32.or (i32.shr_u (local.get $a) (i32.const 24)) (i32.and (i32.shr_u (local.get $a) (i32.const 8)) (i32.const 0xff00)))
           (i32.or (i32.and (i32.shl (local.get $a) (i32.const 8)) (i32.const 0xff0000)) (i32.shl (local.get $a) (i32.const 24))))",
    ),
    case(
        "bswap.i64",
        I64_1,
        "(i64.or
           (i64.or
             (i64.or (i64.shl (local.get $a) (i64.const 56)) (i64.and (i64.shl (local.get $a) (i64.const 40)) (i64.const 0xff000000000000)))
             (i64.or (i64.and (i64.shl (local.get $a) (i64.const 24)) (i64.const 0xff0000000000)) (i64.and (i64.shl (local.get $a) (i64.const 8)) (i64.const 0xff00000000))))
           (i64.or
             (i64.or (i64.and (i64.shr_u (local.get $a) (i64.const 8)) (i64.const 0xff000000)) (i64.and (i64.shr_u (local.get $a) (i64.const 24)) (i64.const 0xff0000)))
             (i64.or (i64.and (i64.shr_u (local.get $a) (i64.const 40)) (i64.const 0xff00)) (i64.shr_u (local.get $a) (i64.const 56)))))",
    ),
    // Funnel shifts: rotates of narrow values, shifts of two words together.
    case(
        "fshl.i8",
        I32_1,
        "(local.set $a (i32.load8_u (i32.const 600)))
         (i32.store8 (i32.const 608) (i32.or (i32.shl (local.get $a) (i32.const 3)) (i32.shr_u (local.get $a) (i32.const 5))))
         (i32.load8_u (i32.const 608))",
    ),
    case("fshl.i32", I32_2, "(i32.or (i32.shl (local.get $a) (i32.const 5)) (i32.shr_u (local.get $b) (i32.const 27)))"),
    case(
        "fshr.i32",
        "(param $a i32) (param $b i32) (param $s i32) (result i32)",
        "(local.set $s (i32.and (local.get $s) (i32.const 31)))
         (if (result i32) (local.get $s)
           (then (i32.or (i32.shr_u (local.get $b) (local.get $s)) (i32.shl (local.get $a) (i32.sub (i32.const 32) (local.get $s)))))
           (else (local.get $b)))",
    ),
    case("fshl.i64", I64_2, "(i64.or (i64.shl (local.get $a) (i64.const 13)) (i64.shr_u (local.get $b) (i64.const 51)))"),
    case("fshl.i64", I64_2, "(i64.rotl (local.get $a) (local.get $b))"),
    case("fshr.i32", I32_2, "(i32.rotr (local.get $a) (local.get $b))"),
    // Absolute values.
    case(
        "abs.i8",
        I32_1,
        "(local.set $a (i32.load8_s (i32.const 600)))
         (i32.store8 (i32.const 608) (select (i32.sub (i32.const 0) (local.get $a)) (local.get $a) (i32.lt_s (local.get $a) (i32.const 0))))
         (i32.load8_u (i32.const 608))",
    ),
    case(
        "abs.i16",
        I32_1,
        "(local.set $a (i32.load16_s (i32.const 600)))
         (i32.store16 (i32.const 608) (select (i32.sub (i32.const 0) (local.get $a)) (local.get $a) (i32.lt_s (local.get $a) (i32.const 0))))
         (i32.load16_u (i32.const 608))",
    ),
    case("abs.i32", I32_1, "(select (i32.sub (i32.const 0) (local.get $a)) (local.get $a) (i32.lt_s (local.get $a) (i32.const 0)))"),
    case("abs.i64", I64_1, "(select (i64.sub (i64.const 0) (local.get $a)) (local.get $a) (i64.lt_s (local.get $a) (i64.const 0)))"),
    // Bit counts, also of narrow values.
    case("ctpop.i8", I32_1, "(i32.popcnt (i32.load8_u (i32.const 600)))"),
    case("ctpop.i16", I32_1, "(i32.popcnt (i32.load16_u (i32.const 600)))"),
    case("ctpop.i32", I32_1, "(i32.popcnt (local.get $a))"),
    case("ctpop.i64", I64_1, "(i64.popcnt (local.get $a))"),
    case("ctlz.i32", I32_1, "(i32.clz (local.get $a))"),
    case("ctlz.i64", I64_1, "(i64.clz (local.get $a))"),
    case("cttz.i32", I32_1, "(i32.ctz (local.get $a))"),
    case("cttz.i64", I64_1, "(i64.ctz (local.get $a))"),
    // Saturating arithmetic.
    case(
        "uadd.sat.i32",
        I32_2,
        "(local.set $b (i32.add (local.get $a) (local.get $b)))
         (select (i32.const -1) (local.get $b) (i32.lt_u (local.get $b) (local.get $a)))",
    ),
    case(
        "uadd.sat.i64",
        I64_2,
        "(local.set $b (i64.add (local.get $a) (local.get $b)))
         (select (i64.const -1) (local.get $b) (i64.lt_u (local.get $b) (local.get $a)))",
    ),
    case(
        "usub.sat.i32",
        I32_2,
        "(select (i32.sub (local.get $a) (local.get $b)) (i32.const 0) (i32.gt_u (local.get $a) (local.get $b)))",
    ),
    case(
        "usub.sat.i64",
        I64_2,
        "(select (i64.sub (local.get $a) (local.get $b)) (i64.const 0) (i64.gt_u (local.get $a) (local.get $b)))",
    ),
    case(
        "sadd.sat.i16",
        I32_1,
        "(local.set $a (i32.add (i32.load16_s (i32.const 600)) (i32.load16_s (i32.const 602))))
         (local.set $a (select (local.get $a) (i32.const 32767) (i32.lt_s (local.get $a) (i32.const 32767))))
         (local.set $a (select (local.get $a) (i32.const -32768) (i32.gt_s (local.get $a) (i32.const -32768))))
         (i32.store16 (i32.const 608) (local.get $a))
         (i32.load16_u (i32.const 608))",
    ),
    case(
        "sadd.sat.i32",
        "(param $a i32) (param $b i32) (result i32) (local $t i64)",
        "(local.set $t (i64.add (i64.extend_i32_s (local.get $a)) (i64.extend_i32_s (local.get $b))))
         (local.set $t (select (local.get $t) (i64.const 2147483647) (i64.lt_s (local.get $t) (i64.const 2147483647))))
         (local.set $t (select (local.get $t) (i64.const -2147483648) (i64.gt_s (local.get $t) (i64.const -2147483648))))
         (i32.wrap_i64 (local.get $t))",
    ),
    case(
        "ssub.sat.i32",
        "(param $a i32) (param $b i32) (result i32) (local $t i64)",
        "(local.set $t (i64.sub (i64.extend_i32_s (local.get $a)) (i64.extend_i32_s (local.get $b))))
         (local.set $t (select (local.get $t) (i64.const 2147483647) (i64.lt_s (local.get $t) (i64.const 2147483647))))
         (local.set $t (select (local.get $t) (i64.const -2147483648) (i64.gt_s (local.get $t) (i64.const -2147483648))))
         (i32.wrap_i64 (local.get $t))",
    ),
    // Overflow checks.
    case(
        "umul.with.overflow.i16",
        I32_2,
        "(local.set $a (i32.load16_u (i32.const 600)))
         (local.set $b (i32.load16_u (i32.const 602)))
         (if (result i32) (local.get $a)
           (then
             (i32.ne (i32.div_u (i32.and (i32.mul (local.get $a) (local.get $b)) (i32.const 0xffff)) (local.get $a)) (local.get $b)))
           (else (i32.const 0)))",
    ),
    case(
        "umul.with.overflow.i32",
        I32_2,
        "(if (result i32) (local.get $a)
           (then (i32.ne (i32.div_u (i32.mul (local.get $a) (local.get $b)) (local.get $a)) (local.get $b)))
           (else (i32.const 0)))",
    ),
    case(
        "umul.with.overflow.i64",
        "(param $a i64) (param $b i64) (result i32)",
        "(if (result i32) (i64.eqz (local.get $a))
           (then (i32.const 0))
           (else (i64.ne (i64.div_u (i64.mul (local.get $a) (local.get $b)) (local.get $a)) (local.get $b))))",
    ),
    // Bulk memory, with constant and variable lengths; the result is a digest of the
    // first 512 bytes.
    case(
        "memset",
        I32_2,
        "(memory.fill (i32.and (local.get $a) (i32.const 255)) (local.get $b) (i32.const 100))
         (call $digest)",
    ),
    case(
        "memset",
        I32_2,
        "(memory.fill (i32.and (local.get $a) (i32.const 255)) (local.get $b) (i32.and (local.get $b) (i32.const 255)))
         (call $digest)",
    ),
    case(
        "memmove",
        I32_2,
        "(memory.copy (i32.and (local.get $a) (i32.const 255)) (i32.and (local.get $b) (i32.const 255)) (i32.const 100))
         (call $digest)",
    ),
    case(
        "memmove",
        I32_2,
        "(memory.copy (i32.and (local.get $a) (i32.const 255)) (i32.and (local.get $b) (i32.const 255)) (i32.shr_u (local.get $a) (i32.const 24)))
         (call $digest)",
    ),
];

/// The module of a case: its function exported as `f`, a memory with a data pattern
/// and a digest function for the bulk-memory cases, and `set`, which stores a value at
/// address 600 for the narrow cases to load (a load of 8 or 16 bits is what makes LLVM
/// form an intrinsic of that width; a store in the same function would be forwarded).
fn module(case: &Case) -> String {
    format!(
        r#"(module
  (memory 1)
  (data (i32.const 0) "\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10\11\12\13\14\15\16\17\18\19\1a\1b\1c\1d\1e\1f")
  (data (i32.const 200) "the quick brown fox jumps over the lazy dog")
  (func $digest (result i32)
    (local $i i32) (local $h i32)
    (loop $next
      (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 31)) (i32.load8_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 512))))
    (local.get $h))
  (func (export "set") (param i64) (i64.store (i32.const 600) (local.get 0)))
  (func (export "f") {} {}))"#,
        case.signature, case.body
    )
}

/// Edge values of every width, then random ones.
fn arguments(rng: &mut Rng) -> u64 {
    const EDGES: &[u64] = &[
        0,
        1,
        2,
        3,
        5,
        0x7f,
        0x80,
        0xff,
        0x7fff,
        0x8000,
        0xffff,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        i64::MAX as u64,
        i64::MIN as u64,
        u64::MAX,
    ];
    if rng.chance(40) { *rng.pick(EDGES) } else { rng.next() >> rng.below(64) }
}

fn bits(v: &Val) -> u64 {
    match v {
        Val::I32(x) => *x as u32 as u64,
        Val::I64(x) => *x as u64,
        other => panic!("non-integer value {other:?}"),
    }
}

#[test]
fn every_intrinsic_lowers_and_agrees_with_wasmi() {
    let options = harness_options();
    let mut rng = Rng(11);
    let (mut calls, mut unformed) = (0, Vec::new());
    for case in CASES {
        let name =
            format!("{} ({})", case.intrinsic, case.body.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
        let wasm = wat::parse_str(module(case)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (ir, _) = pvm_compiler::compile_to_llvm_ir(&wasm, &options).unwrap();
        if !ir.contains(&format!("@llvm.{}", case.intrinsic)) {
            unformed.push(name);
            continue;
        }
        let (jam, compiled) = compile_jam(&wasm, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut ours = Instance::start(&jam, &compiled, vec!["set".into(), "f".into()], Vec::new())
            .unwrap_or_else(|o| panic!("{name}: instantiation {o:?}"));

        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, &wasm).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::<()>::new(&engine).instantiate_and_start(&mut store, &module).unwrap();
        let set = instance.get_func(&store, "set").unwrap();
        let f = instance.get_func(&store, "f").unwrap();
        let ty = f.ty(&store);
        for _ in 0..200 {
            let stored = arguments(&mut rng);
            set.call(&mut store, &[Val::I64(stored as i64)], &mut []).unwrap();
            assert!(matches!(ours.call(0, &[stored]), Outcome::Values(_)), "{name}: set");
            let args: Vec<u64> = ty.params().iter().map(|_| arguments(&mut rng)).collect();
            let values: Vec<Val> = ty
                .params()
                .iter()
                .zip(&args)
                .map(|(t, &a)| if *t == wasmi::ValType::I32 { Val::I32(a as i32) } else { Val::I64(a as i64) })
                .collect();
            let mut out = [Val::I32(0)];
            let want = f.call(&mut store, &values, &mut out).map(|()| bits(&out[0]));
            let got = ours.call(1, &args);
            let wide = ty.results()[0] == wasmi::ValType::I64;
            match (want, got) {
                (Ok(w), Outcome::Values(v)) => {
                    let v = if wide { v[0] } else { v[0] & 0xffff_ffff };
                    assert_eq!(v, w, "{name}: f{args:x?} with {stored:#x} stored");
                }
                (Err(_), Outcome::Trap) => {}
                (w, g) => panic!("{name}: f{args:x?}: wasmi {w:?}, ours {g:?}"),
            }
            calls += 1;
        }
    }
    assert!(unformed.is_empty(), "the optimiser no longer forms the intrinsic of {unformed:?}");
    println!("{} programs, {calls} calls agree", CASES.len());
}
