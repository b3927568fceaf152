//! The float routines of the compiler (`lib/compiler/src/wasm/softfloat.wat`) on their
//! own: each exported routine runs on `wasmi` against the host's IEEE 754 arithmetic
//! (Rust's f32/f64, with WebAssembly's rules for min/max, NaN and the conversions) on
//! `SOFTFLOAT_PAIRS` operand pairs (default 1,000,000) per operator: random bit patterns
//! and every special class (±0, subnormals, ±inf, NaNs, exact halfway cases, extreme
//! exponents, results that overflow or underflow). A NaN result must be the canonical
//! NaN with the sign clear (docs/abi.md); any other result must have the host's bits.
//! The routines' one import, the PVM's `mul_upper_u_u`, is defined here by its
//! meaning; the back end's lowering of it is checked end to end by the float spec tests
//! and programs.

use wasmi::{Engine, Instance, Linker, Module, Store, TypedFunc, WasmParams, WasmResults};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A binary interchange format, for the operand generator.
#[derive(Clone, Copy)]
struct Format {
    m: u32,
    e: u32,
}

impl Format {
    const F32: Format = Format { m: 23, e: 8 };
    const F64: Format = Format { m: 52, e: 11 };

    fn sign(self) -> u64 {
        1 << (self.m + self.e)
    }

    fn emax(self) -> u64 {
        (1 << self.e) - 1
    }

    fn pack(self, sign: bool, exponent: u64, fraction: u64) -> u64 {
        (if sign { self.sign() } else { 0 }) | (exponent << self.m) | (fraction & ((1 << self.m) - 1))
    }

    /// One operand: random bits half of the time, else a value of a special class.
    fn operand(self, rng: &mut Rng) -> u64 {
        let sign = rng.next() & 1 == 1;
        let fraction = rng.next() & ((1 << self.m) - 1);
        let bias = (1 << (self.e - 1)) - 1;
        match rng.below(16) {
            0..=7 => rng.next() & (self.sign() << 1).wrapping_sub(1),
            8 => self.pack(sign, 0, [0, 1, fraction, (1 << self.m) - 1][rng.below(4) as usize]),
            9 => self.pack(sign, self.emax(), [0, 1, 1 << (self.m - 1), fraction][rng.below(4) as usize]),
            // Extreme exponents, and the bounds of addition's common case (a power of two
            // half of the time).
            10 => {
                let exponents = [
                    1,
                    2,
                    self.m as u64 + 2,
                    self.m as u64 + 3,
                    self.m as u64 + 4,
                    self.emax() - 3,
                    self.emax() - 2,
                    self.emax() - 1,
                ];
                self.pack(sign, exponents[rng.below(8) as usize], fraction & (rng.next() & 1).wrapping_neg())
            }
            // Small integers and simple fractions (exact halfway cases for rounding).
            11 => self.pack(sign, bias + rng.below(self.m as u64 + 2), fraction & (3 << (self.m - 2))),
            12 => self.pack(sign, bias - 1 + rng.below(3), [0, 1 << (self.m - 1), fraction][rng.below(3) as usize]),
            // Exponents near the bounds of integer conversions.
            13 => self.pack(sign, bias + 29 + rng.below(37), fraction >> rng.below(self.m as u64)),
            _ => self.pack(sign, rng.below(self.emax()), fraction),
        }
    }

    /// A second operand related to the first: equal, negated, half an ulp (exact ties
    /// in addition), or the same exponent.
    fn partner(self, rng: &mut Rng, a: u64) -> u64 {
        let exponent = (a >> self.m) & self.emax();
        match rng.below(8) {
            0 => a,
            1 => a ^ self.sign(),
            2 if exponent > self.m as u64 + 1 => self.pack(rng.next() & 1 == 1, exponent - self.m as u64 - 1, 0),
            3 => self.pack(rng.next() & 1 == 1, exponent, rng.next()),
            _ => self.operand(rng),
        }
    }
}

fn pairs() -> usize {
    std::env::var("SOFTFLOAT_PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

struct Routines {
    store: Store<()>,
    instance: Instance,
}

impl Routines {
    fn new() -> Self {
        let engine = Engine::default();
        let module = Module::new(&engine, pvm_compiler::wasm::softfloat::binary()).expect("the routines load");
        let mut store = Store::new(&engine, ());
        // The one import: the PVM's `mul_upper_u_u`, the high half of a 128-bit product.
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap("__pvm", "mul_upper_u_u", |a: i64, b: i64| ((a as u64 as u128 * b as u64 as u128) >> 64) as i64)
            .expect("a new linker takes the import");
        let instance = linker.instantiate_and_start(&mut store, &module).expect("the import is defined");
        Routines { store, instance }
    }

    fn get<P: WasmParams, R: WasmResults>(&mut self, name: &str) -> TypedFunc<P, R> {
        self.instance.get_typed_func::<P, R>(&self.store, name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

/// What a routine must return: a value's exact bits, any NaN (the routine's must be the
/// canonical one), or a trap.
#[derive(Debug, PartialEq, Clone, Copy)]
enum Expected {
    Bits(u64),
    Nan,
    Trap,
}

fn f32_result(v: f32) -> Expected {
    if v.is_nan() { Expected::Nan } else { Expected::Bits(u64::from(v.to_bits())) }
}

fn f64_result(v: f64) -> Expected {
    if v.is_nan() { Expected::Nan } else { Expected::Bits(v.to_bits()) }
}

const NAN32: u64 = 0x7fc0_0000;
const NAN64: u64 = 0x7ff8_0000_0000_0000;

/// Checks `count` cases of routine `name`; `got` runs it (None: it trapped).
fn check(
    name: &str,
    count: usize,
    nan: u64,
    mut case: impl FnMut(&mut Rng) -> (Vec<u64>, Expected),
    mut got: impl FnMut(&[u64]) -> Option<u64>,
) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64 ^ (name.as_bytes()[1] as u64) << 32);
    for _ in 0..count {
        let (args, expected) = case(&mut rng);
        let actual = got(&args);
        let ok = match (expected, actual) {
            (Expected::Bits(b), Some(a)) => a == b,
            (Expected::Nan, Some(a)) => a == nan,
            (Expected::Trap, None) => true,
            _ => false,
        };
        assert!(ok, "{name}{args:x?}: expected {expected:x?}, got {actual:x?}");
    }
}

/// Checks `count` cases of routine `name` on float operands of `format`: one, or an
/// operand and its partner (`arity` 2); `expected` gives the host's answer.
fn check_floats(
    name: &str,
    count: usize,
    nan: u64,
    (format, arity): (Format, usize),
    expected: impl Fn(&[u64]) -> Expected,
    got: impl FnMut(&[u64]) -> Option<u64>,
) {
    let case = |rng: &mut Rng| {
        let a = format.operand(rng);
        let args = if arity == 2 { vec![a, format.partner(rng, a)] } else { vec![a] };
        let e = expected(&args);
        (args, e)
    };
    check(name, count, nan, case, got);
}

fn wasm_min<T: PartialOrd + Copy>(a: T, b: T, a_negative: bool) -> T {
    // Zeros compare equal; WebAssembly's min takes -0.
    if a < b || (a == b && a_negative) { a } else { b }
}

macro_rules! float_suite {
    ($test:ident, $f:ty, $bits:ty, $format:expr, $prefix:literal, $result:ident, $nan:expr) => {
        #[test]
        fn $test() {
            let n = pairs();
            let mut routines = Routines::new();
            let format = $format;
            let float = |b: u64| <$f>::from_bits(b as $bits);
            let binary: [(&str, fn($f, $f) -> $f); 6] = [
                ("add", |a, b| a + b),
                ("sub", |a, b| a - b),
                ("mul", |a, b| a * b),
                ("div", |a, b| a / b),
                ("min", |a, b| if a.is_nan() || b.is_nan() { <$f>::NAN } else { wasm_min(a, b, a.is_sign_negative()) }),
                ("max", |a, b| {
                    if a.is_nan() || b.is_nan() {
                        <$f>::NAN
                    } else if a == b {
                        if a.is_sign_positive() { a } else { b }
                    } else if a > b {
                        a
                    } else {
                        b
                    }
                }),
            ];
            for (op, host) in binary {
                let name = format!("{}.{op}", $prefix);
                let f = routines.get::<($bits, $bits), $bits>(&name);
                let store = &mut routines.store;
                check_floats(
                    &name,
                    n,
                    $nan,
                    (format, 2),
                    |a| $result(host(float(a[0]), float(a[1]))),
                    |args| f.call(&mut *store, (args[0] as $bits, args[1] as $bits)).ok().map(|v| v as u64),
                );
            }
            let unary: [(&str, fn($f) -> $f); 5] = [
                ("sqrt", |a| a.sqrt()),
                ("ceil", |a| a.ceil()),
                ("floor", |a| a.floor()),
                ("trunc", |a| a.trunc()),
                ("nearest", |a| a.round_ties_even()),
            ];
            for (op, host) in unary {
                let name = format!("{}.{op}", $prefix);
                let f = routines.get::<$bits, $bits>(&name);
                let store = &mut routines.store;
                check_floats(
                    &name,
                    n,
                    $nan,
                    (format, 1),
                    |a| $result(host(float(a[0]))),
                    |args| f.call(&mut *store, args[0] as $bits).ok().map(|v| v as u64),
                );
            }
            let compare: [(&str, fn($f, $f) -> bool); 6] = [
                ("eq", |a, b| a == b),
                ("ne", |a, b| a != b),
                ("lt", |a, b| a < b),
                ("gt", |a, b| a > b),
                ("le", |a, b| a <= b),
                ("ge", |a, b| a >= b),
            ];
            for (op, host) in compare {
                let name = format!("{}.{op}", $prefix);
                let f = routines.get::<($bits, $bits), i32>(&name);
                let store = &mut routines.store;
                check_floats(
                    &name,
                    n,
                    $nan,
                    (format, 2),
                    |a| Expected::Bits(u64::from(host(float(a[0]), float(a[1])))),
                    |args| f.call(&mut *store, (args[0] as $bits, args[1] as $bits)).ok().map(|v| v as u64),
                );
            }
            // Conversions from integers: random bits, small values and powers of two
            // near the rounding boundaries.
            let integer = |rng: &mut Rng| match rng.below(4) {
                0 => rng.next(),
                1 => rng.below(1 << 12).wrapping_sub(1 << 11),
                _ => (rng.next() >> rng.below(64)) | (1 << rng.below(64)),
            };
            let from: [(&str, fn(u64) -> $f); 4] = [
                ("convert_i32_s", |x| x as i32 as $f),
                ("convert_i32_u", |x| x as u32 as $f),
                ("convert_i64_s", |x| x as i64 as $f),
                ("convert_i64_u", |x| x as $f),
            ];
            for (op, host) in from {
                let name = format!("{}.{op}", $prefix);
                let store = &mut routines.store;
                let case = |rng: &mut Rng| {
                    let x = integer(rng);
                    (vec![x], $result(host(x)))
                };
                if op.contains("i32") {
                    let f = routines.instance.get_typed_func::<i32, $bits>(&*store, &name).unwrap();
                    check(&name, n, $nan, case, |args| f.call(&mut *store, args[0] as i32).ok().map(|v| v as u64));
                } else {
                    let f = routines.instance.get_typed_func::<i64, $bits>(&*store, &name).unwrap();
                    check(&name, n, $nan, case, |args| f.call(&mut *store, args[0] as i64).ok().map(|v| v as u64));
                }
            }
            // Conversions to integers, trapping and saturating.
            type Truncation = (&'static str, fn(f64) -> Option<u64>, fn(f64) -> u64);
            let to: [Truncation; 4] = [
                (
                    "i32.trunc_{}_s",
                    |x| (x > -2147483649.0 && x < 2147483648.0).then(|| x as i32 as u32 as u64),
                    |x| x as i32 as u32 as u64,
                ),
                ("i32.trunc_{}_u", |x| (x > -1.0 && x < 4294967296.0).then(|| x as u32 as u64), |x| x as u32 as u64),
                (
                    "i64.trunc_{}_s",
                    |x| (-9223372036854775808.0..9223372036854775808.0).contains(&x).then(|| x as i64 as u64),
                    |x| x as i64 as u64,
                ),
                ("i64.trunc_{}_u", |x| (x > -1.0 && x < 18446744073709551616.0).then(|| x as u64), |x| x as u64),
            ];
            for (pattern, trapping, saturating) in to {
                for saturate in [false, true] {
                    let kind = if saturate { format!("sat_{}", $prefix) } else { $prefix.to_string() };
                    let name = pattern.replace("{}", &kind);
                    let store = &mut routines.store;
                    let expected = |a: &[u64]| {
                        // Every f32 is exactly an f64: the host converts through f64.
                        let x = float(a[0]) as f64;
                        match (saturate, trapping(x)) {
                            (true, _) => Expected::Bits(saturating(x)),
                            (false, Some(v)) => Expected::Bits(v),
                            (false, None) => Expected::Trap,
                        }
                    };
                    if name.starts_with("i32") {
                        let f = routines.instance.get_typed_func::<$bits, i32>(&*store, &name).unwrap();
                        check_floats(&name, n, $nan, (format, 1), expected, |args| {
                            f.call(&mut *store, args[0] as $bits).ok().map(|v| v as u32 as u64)
                        });
                    } else {
                        let f = routines.instance.get_typed_func::<$bits, i64>(&*store, &name).unwrap();
                        check_floats(&name, n, $nan, (format, 1), expected, |args| {
                            f.call(&mut *store, args[0] as $bits).ok().map(|v| v as u64)
                        });
                    }
                }
            }
        }
    };
}

float_suite!(f32_routines_match_the_host, f32, u32, Format::F32, "f32", f32_result, NAN32);
float_suite!(f64_routines_match_the_host, f64, u64, Format::F64, "f64", f64_result, NAN64);

#[test]
fn promote_and_demote_match_the_host() {
    let n = pairs();
    let mut routines = Routines::new();
    let promote = routines.get::<u32, u64>("f64.promote_f32");
    let store = &mut routines.store;
    check_floats(
        "f64.promote_f32",
        n,
        NAN64,
        (Format::F32, 1),
        |a| f64_result(f32::from_bits(a[0] as u32) as f64),
        |args| promote.call(&mut *store, args[0] as u32).ok(),
    );
    let demote = routines.get::<u64, u32>("f32.demote_f64");
    let store = &mut routines.store;
    check(
        "f32.demote_f64",
        n,
        NAN32,
        |rng| {
            // Binary64 values in and around binary32's range, and any.
            let a = match rng.below(2) {
                0 => Format::F64.operand(rng),
                _ => Format::F64.pack(rng.next() & 1 == 1, 1023 - 160 + rng.below(300), rng.next()),
            };
            (vec![a], f32_result(f64::from_bits(a) as f32))
        },
        |args| demote.call(&mut *store, args[0]).ok().map(u64::from),
    );
}

#[test]
fn routines_are_integer_only() {
    let mut validator = wasmparser::Validator::new_with_features(
        wasmparser::WasmFeatures::MUTABLE_GLOBAL | wasmparser::WasmFeatures::MULTI_VALUE,
    );
    // Without the FLOATS feature any float type or operator fails validation.
    validator.validate_all(pvm_compiler::wasm::softfloat::binary()).expect("no float type or operator");
}
