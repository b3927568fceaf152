//! The WebAssembly spec tests of `../shared/testvectors/wasm-spec` (WebAssembly 1.0 with
//! sign extension, bulk memory, multi-value and the saturating conversions) and of its
//! `float/` directory, run through the compiler and the runner. Floats compile to the
//! software routines; a float result is checked bit for bit, and a NaN result as the
//! spec says (`nan:canonical`: a canonical NaN of either sign, `nan:arithmetic`: a NaN
//! with the top fraction bit set). Every skipped assertion has its reason; the test
//! prints counts per file, fails on any failure, and demands a floor of checked
//! assertions per file.

mod support;

use pvm_compiler::Optimizations;
use std::collections::{BTreeMap, HashMap};
use support::{Instance, Outcome, compile_jam, harness_options, shared};
use wast::core::{WastArgCore, WastRetCore};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

/// The features the compiler supports (the spec tests' README, rule 1, with floats).
fn subset() -> wasmparser::WasmFeatures {
    use wasmparser::WasmFeatures as F;
    F::MUTABLE_GLOBAL
        | F::SIGN_EXTENSION
        | F::MULTI_VALUE
        | F::BULK_MEMORY
        | F::GC_TYPES
        | F::FLOATS
        | F::SATURATING_FLOAT_TO_INT
}

/// The files run, with the least number of assertions each must check (per run): a
/// harness change that silently skips more fails the test.
const FLOORS: &[(&str, usize)] = &[
    ("address.wast", 256),
    ("align.wast", 140),
    ("block.wast", 222),
    ("br.wast", 96),
    ("br_if.wast", 118),
    ("br_table.wast", 24),
    ("bulk.wast", 55),
    ("call.wast", 90),
    ("call_indirect.wast", 157),
    ("conversions.wast", 618),
    ("data.wast", 34),
    ("elem.wast", 47),
    ("endianness.wast", 68),
    ("exports.wast", 38),
    ("fac.wast", 7),
    ("forward.wast", 4),
    ("func.wast", 171),
    ("func_ptrs.wast", 32),
    ("global.wast", 47),
    ("i32.wast", 459),
    ("i64.wast", 415),
    ("if.wast", 240),
    ("int_exprs.wast", 89),
    ("int_literals.wast", 50),
    ("labels.wast", 28),
    ("left-to-right.wast", 95),
    ("load.wast", 96),
    ("local_get.wast", 35),
    ("local_set.wast", 52),
    ("local_tee.wast", 97),
    ("loop.wast", 120),
    ("memory.wast", 78),
    ("memory_copy.wast", 4402),
    ("memory_fill.wast", 84),
    ("memory_grow.wast", 94),
    ("memory_init.wast", 209),
    ("memory_size.wast", 38),
    ("memory_trap.wast", 180),
    ("names.wast", 482),
    ("nop.wast", 87),
    ("return.wast", 83),
    ("select.wast", 30),
    ("skip-stack-guard-page.wast", 10),
    ("stack.wast", 5),
    ("start.wast", 11),
    ("store.wast", 67),
    ("switch.wast", 27),
    ("traps.wast", 32),
    ("unreachable.wast", 63),
    ("unreached-invalid.wast", 121),
    ("unreached-valid.wast", 1),
    ("unwind.wast", 49),
    ("float/f32.wast", 2513),
    ("float/f32_bitwise.wast", 363),
    ("float/f32_cmp.wast", 2406),
    ("float/f64.wast", 2513),
    ("float/f64_bitwise.wast", 363),
    ("float/f64_cmp.wast", 2406),
    ("float/float_exprs.wast", 819),
    ("float/float_literals.wast", 177),
    ("float/float_memory.wast", 60),
    ("float/float_misc.wast", 470),
];

/// Why an assertion was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Skip {
    /// An argument or result is a reference or vector.
    NonNumericValue,
    /// The module needs a feature outside the subset (reference types, ...).
    OutsideSubset,
    /// The module imports from another instance (cross-module linking).
    Linking,
    /// Directives this harness does not run (threads, custom sections, ...).
    Unsupported,
    /// A listed exception (see `EXCEPTIONS`).
    Exception,
}

/// Modules the compiler rejects on purpose, by file and line, with the reason. Their
/// assertions are not run. Any other failure fails the test, and so does an exception
/// that no longer fails.
const EXCEPTIONS: &[(&str, &str)] = &[];

#[derive(Default)]
struct Counts {
    passed: usize,
    failed: Vec<String>,
    excepted: Vec<String>,
    skipped: BTreeMap<Skip, usize>,
}

struct Module {
    instance: Option<Instance>,
    /// Why the module cannot run, if it cannot.
    unusable: Option<Skip>,
}

/// Harness options with the spectest module's imports, compiling with `optimizations`.
fn spectest_options(optimizations: Optimizations) -> pvm_compiler::Options {
    let mut options = harness_options();
    options.optimizations = optimizations;
    options.strict_imports = true;
    for f in ["print", "print_i32", "print_i64", "print_f32", "print_f64", "print_i32_f32", "print_f64_f64"] {
        options.imports.insert(("spectest".into(), f.into()), pvm_compiler::ImportAction::Nop);
    }
    options.imported_globals.insert("spectest.global_i32".into(), 666);
    options.imported_globals.insert("spectest.global_i64".into(), 666);
    options.imported_globals.insert("spectest.global_f32".into(), u64::from(666.6f32.to_bits()));
    options.imported_globals.insert("spectest.global_f64".into(), 666.6f64.to_bits());
    // The spectest memory has 1 page (at most 2), its table 10 entries.
    options.imported_memory = Some((1, Some(2)));
    options.imported_table_size = Some(10);
    options
}

/// The module names a module imports from.
fn import_modules(wasm: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm).flatten() {
        if let wasmparser::Payload::ImportSection(r) = payload {
            out.extend(r.into_imports().flatten().map(|i| i.module.to_string()));
        }
    }
    out
}

/// Whether a module imports from anything but `spectest`.
fn imports_other_instances(wasm: &[u8]) -> bool {
    wasmparser::Parser::new(0).parse_all(wasm).flatten().any(|p| match p {
        wasmparser::Payload::ImportSection(r) => r.into_imports().flatten().any(|i| i.module != "spectest"),
        _ => false,
    })
}

fn exports(wasm: &[u8]) -> (Vec<String>, Vec<(String, u32)>) {
    let mut functions = Vec::new();
    let mut globals = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm).flatten() {
        if let wasmparser::Payload::ExportSection(r) = payload {
            for e in r.into_iter().flatten() {
                match e.kind {
                    wasmparser::ExternalKind::Func => functions.push(e.name.to_string()),
                    wasmparser::ExternalKind::Global => globals.push((e.name.to_string(), e.index)),
                    _ => {}
                }
            }
        }
    }
    (functions, globals)
}

/// Compiles and instantiates a module.
fn instantiate(wasm: &[u8], options: &pvm_compiler::Options) -> Result<Module, String> {
    if wasmparser::Validator::new_with_features(subset()).validate_all(wasm).is_err() {
        return Ok(Module { instance: None, unusable: Some(Skip::OutsideSubset) });
    }
    if imports_other_instances(wasm) {
        return Ok(Module { instance: None, unusable: Some(Skip::Linking) });
    }
    let (jam, compiled) = compile_jam(wasm, options)?;
    let (functions, globals) = exports(wasm);
    let globals = globals
        .into_iter()
        .filter_map(|(name, index)| compiled.global_addresses.get(&index).map(|&a| (name, a)))
        .collect();
    match Instance::start(&jam, &compiled, functions, globals) {
        Ok(instance) => Ok(Module { instance: Some(instance), unusable: None }),
        Err(outcome) => Err(format!("instantiation: {outcome:?}")),
    }
}

/// Numeric arguments as 64-bit patterns, or `None` if any is not a number.
fn numeric_args(args: &[WastArg<'_>]) -> Option<Vec<u64>> {
    args.iter()
        .map(|a| match a {
            WastArg::Core(WastArgCore::I32(v)) => Some(*v as u32 as u64),
            WastArg::Core(WastArgCore::I64(v)) => Some(*v as u64),
            WastArg::Core(WastArgCore::F32(v)) => Some(u64::from(v.bits)),
            WastArg::Core(WastArgCore::F64(v)) => Some(v.bits),
            _ => None,
        })
        .collect()
}

/// One expected result.
#[derive(Debug, Clone, PartialEq)]
enum Expected {
    /// These bits, of a value this many bits wide.
    Bits(u64, u32),
    /// `nan:canonical`: a NaN whose fraction is only its top bit, either sign.
    CanonicalNan(u32),
    /// `nan:arithmetic`: a NaN with the top bit of its fraction set.
    ArithmeticNan(u32),
    /// Any of these.
    Either(Vec<Expected>),
}

impl Expected {
    fn from_wast(r: &WastRetCore<'_>) -> Option<Self> {
        use wast::core::NanPattern as N;
        Some(match r {
            WastRetCore::I32(v) => Expected::Bits(*v as u32 as u64, 32),
            WastRetCore::I64(v) => Expected::Bits(*v as u64, 64),
            WastRetCore::F32(N::Value(v)) => Expected::Bits(u64::from(v.bits), 32),
            WastRetCore::F64(N::Value(v)) => Expected::Bits(v.bits, 64),
            WastRetCore::F32(N::CanonicalNan) => Expected::CanonicalNan(32),
            WastRetCore::F64(N::CanonicalNan) => Expected::CanonicalNan(64),
            WastRetCore::F32(N::ArithmeticNan) => Expected::ArithmeticNan(32),
            WastRetCore::F64(N::ArithmeticNan) => Expected::ArithmeticNan(64),
            WastRetCore::Either(options) => {
                Expected::Either(options.iter().map(Expected::from_wast).collect::<Option<_>>()?)
            }
            _ => return None,
        })
    }

    /// The width of the value in bits.
    fn width(&self) -> u32 {
        match self {
            Expected::Bits(_, w) | Expected::CanonicalNan(w) | Expected::ArithmeticNan(w) => *w,
            Expected::Either(options) => options.first().map_or(64, Expected::width),
        }
    }

    /// Whether `got` (a value zero-extended to 64 bits, high bits ignored) matches.
    fn matches(&self, got: u64) -> bool {
        let width = self.width();
        let got = if width == 32 { got & 0xffff_ffff } else { got };
        // The exponent and fraction widths of the float format of this width.
        let fraction = if width == 32 { 23 } else { 52 };
        let magnitude = if width == 32 { 0x7fff_ffff } else { u64::MAX >> 1 };
        let infinity = if width == 32 { 0x7f80_0000 } else { 0x7ff0_0000_0000_0000 };
        let quiet = 1u64 << (fraction - 1);
        match self {
            Expected::Bits(v, _) => got == *v,
            Expected::CanonicalNan(_) => (got & magnitude) == (infinity | quiet),
            Expected::ArithmeticNan(_) => (got & magnitude) > infinity && (got & quiet) != 0,
            Expected::Either(options) => options.iter().any(|o| o.matches(got)),
        }
    }
}

/// Expected results, or `None` if any is not a number.
fn numeric_results(results: &[WastRet<'_>]) -> Option<Vec<Expected>> {
    results
        .iter()
        .map(|r| match r {
            WastRet::Core(r) => Expected::from_wast(r),
            _ => None,
        })
        .collect()
}

struct Script {
    modules: Vec<Module>,
    current: Option<usize>,
    named: HashMap<String, usize>,
    /// Instances registered under a module name, for imports.
    registered: HashMap<String, usize>,
    definitions: HashMap<String, Vec<u8>>,
    counts: Counts,
    file: String,
    /// What every module compiles with.
    options: pvm_compiler::Options,
}

impl Script {
    fn target(&mut self, id: Option<wast::token::Id<'_>>) -> Option<&mut Module> {
        let index = match id {
            Some(id) => *self.named.get(id.name())?,
            None => self.current?,
        };
        self.modules.get_mut(index)
    }

    fn fail(&mut self, line: usize, message: impl Into<String>) {
        let location = format!("{}:{line}", self.file);
        if EXCEPTIONS.iter().any(|(l, _)| *l == location) {
            self.counts.excepted.push(location);
            self.skip(Skip::Exception);
        } else {
            self.counts.failed.push(format!("{location}: {}", message.into()));
        }
    }

    fn skip(&mut self, why: Skip) {
        *self.counts.skipped.entry(why).or_default() += 1;
    }

    /// Runs an invocation; `Err(skip)` when it is not checked.
    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Outcome, Skip> {
        let args = numeric_args(&invoke.args).ok_or(Skip::NonNumericValue)?;
        let module = self.target(invoke.module).ok_or(Skip::Unsupported)?;
        if let Some(why) = module.unusable {
            return Err(why);
        }
        let instance = module.instance.as_mut().ok_or(Skip::Unsupported)?;
        let index = instance.functions.iter().position(|f| f == invoke.name).ok_or(Skip::Unsupported)?;
        Ok(instance.call(index, &args))
    }

    fn module(&mut self, line: usize, mut quote: QuoteWat<'_>) {
        let name = quote.name().map(|id| id.name().to_string());
        let wasm = match quote.encode() {
            Ok(w) => w,
            Err(e) => return self.fail(line, format!("encoding: {e}")),
        };
        // A module that imports from an earlier instance may change its table, memory or
        // globals, which this harness cannot share: that instance's later results are
        // not checked.
        for imported in import_modules(&wasm) {
            if let Some(&index) = self.registered.get(&imported) {
                self.modules[index].unusable = Some(Skip::Linking);
            }
        }
        match instantiate(&wasm, &self.options) {
            Ok(module) => {
                self.modules.push(module);
                let index = self.modules.len() - 1;
                self.current = Some(index);
                if let Some(name) = name {
                    self.named.insert(name, index);
                }
            }
            Err(e) => {
                self.fail(line, format!("module: {e}"));
                self.modules.push(Module { instance: None, unusable: Some(Skip::Unsupported) });
                self.current = Some(self.modules.len() - 1);
            }
        }
    }

    fn directive(&mut self, line: usize, directive: WastDirective<'_>) {
        match directive {
            WastDirective::Module(quote) => self.module(line, quote),
            WastDirective::ModuleDefinition(mut quote) => {
                let name = quote.name().map(|id| id.name().to_string());
                if let (Some(name), Ok(wasm)) = (name, quote.encode()) {
                    self.definitions.insert(name, wasm);
                }
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let wasm = module.and_then(|m| self.definitions.get(m.name()).cloned());
                match wasm.map(|w| instantiate(&w, &self.options)) {
                    Some(Ok(m)) => {
                        self.modules.push(m);
                        let index = self.modules.len() - 1;
                        self.current = Some(index);
                        if let Some(id) = instance {
                            self.named.insert(id.name().to_string(), index);
                        }
                    }
                    Some(Err(e)) => self.fail(line, e),
                    None => self.fail(line, "module instance of an unknown definition"),
                }
            }
            WastDirective::Register { name, module, .. } => {
                let index = match module {
                    Some(id) => self.named.get(id.name()).copied(),
                    None => self.current,
                };
                if let Some(index) = index {
                    self.registered.insert(name.to_string(), index);
                }
            }
            WastDirective::Invoke(invoke) => {
                if let Ok(Outcome::Other(e)) = self.invoke(&invoke) {
                    self.fail(line, format!("invoke {}: {e}", invoke.name));
                }
            }
            WastDirective::AssertReturn { exec, results, .. } => self.assert_return(line, exec, &results),
            WastDirective::AssertTrap { exec, .. } => match exec {
                WastExecute::Invoke(invoke) => match self.invoke(&invoke) {
                    Ok(Outcome::Trap) => self.counts.passed += 1,
                    Ok(other) => self.fail(line, format!("{}: expected a trap, got {other:?}", invoke.name)),
                    Err(why) => self.skip(why),
                },
                WastExecute::Wat(mut wat) => match wat.encode() {
                    Ok(wasm) => match instantiate(&wasm, &self.options) {
                        Err(_) => self.counts.passed += 1,
                        Ok(Module { unusable: Some(why), .. }) => self.skip(why),
                        Ok(_) => self.fail(line, "expected instantiation to trap"),
                    },
                    Err(e) => self.fail(line, format!("encoding: {e}")),
                },
                WastExecute::Get { .. } => self.skip(Skip::Unsupported),
            },
            WastDirective::AssertExhaustion { call, .. } => match self.invoke(&call) {
                Ok(Outcome::Trap) => self.counts.passed += 1,
                Ok(other) => self.fail(line, format!("{}: expected stack exhaustion, got {other:?}", call.name)),
                Err(why) => self.skip(why),
            },
            WastDirective::AssertInvalid { module, .. } | WastDirective::AssertMalformed { module, .. } => {
                self.assert_rejected(line, module)
            }
            WastDirective::AssertUnlinkable { mut module, .. } => match module.encode() {
                Ok(wasm) => match compile_jam(&wasm, &self.options) {
                    Err(_) => self.counts.passed += 1,
                    Ok(_) if imports_other_instances(&wasm) => self.skip(Skip::Linking),
                    Ok(_) => self.fail(line, "expected the module not to link"),
                },
                Err(e) => self.fail(line, format!("encoding: {e}")),
            },
            _ => self.skip(Skip::Unsupported),
        }
    }

    fn assert_return(&mut self, line: usize, exec: WastExecute<'_>, results: &[WastRet<'_>]) {
        let Some(expected) = numeric_results(results) else { return self.skip(Skip::NonNumericValue) };
        let outcome = match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke).map(|o| (o, invoke.name.to_string())),
            WastExecute::Get { module, global, .. } => {
                let Some(m) = self.target(module) else { return self.skip(Skip::Unsupported) };
                if let Some(why) = m.unusable {
                    return self.skip(why);
                }
                let Some(instance) = m.instance.as_mut() else { return self.skip(Skip::Unsupported) };
                let bytes = expected.first().map_or(8, |e| e.width() / 8);
                match instance.global(global, bytes) {
                    Some(v) => Ok((Outcome::Values(vec![v]), global.to_string())),
                    // Immutable globals are constants in the compiled code, not memory.
                    None => Err(Skip::Unsupported),
                }
            }
            WastExecute::Wat(_) => Err(Skip::Unsupported),
        };
        match outcome {
            Ok((Outcome::Values(values), name)) => {
                if expected.iter().zip(&values).all(|(e, &got)| e.matches(got)) {
                    self.counts.passed += 1;
                } else {
                    let got: Vec<String> = values.iter().take(expected.len()).map(|v| format!("{v:#x}")).collect();
                    self.fail(line, format!("{name}: got [{}], expected {expected:x?}", got.join(", ")));
                }
            }
            Ok((other, name)) => self.fail(line, format!("{name}: got {other:?}")),
            Err(why) => self.skip(why),
        }
    }

    /// `assert_invalid` / `assert_malformed`: the module must be rejected.
    fn assert_rejected(&mut self, line: usize, mut module: QuoteWat<'_>) {
        let Ok(wasm) = module.encode() else {
            // The text parser rejects it.
            self.counts.passed += 1;
            return;
        };
        match compile_jam(&wasm, &self.options) {
            Err(_) => self.counts.passed += 1,
            Ok(_) => self.fail(line, "expected the module to be rejected"),
        }
    }
}

fn run_file(path: &std::path::Path, optimizations: Optimizations) -> Counts {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut lexer = wast::lexer::Lexer::new(&text);
    lexer.allow_confusing_unicode(true);
    let buffer = wast::parser::ParseBuffer::new_with_lexer(lexer).unwrap();
    let script: wast::Wast = wast::parser::parse(&buffer).unwrap();
    let mut s = Script {
        modules: Vec::new(),
        current: None,
        named: HashMap::new(),
        registered: HashMap::new(),
        definitions: HashMap::new(),
        counts: Counts::default(),
        file,
        options: spectest_options(optimizations),
    };
    for directive in script.directives {
        let (line, _) = directive.span().linecol_in(&text);
        s.directive(line + 1, directive);
    }
    s.counts
}

#[test]
fn spec_tests() {
    run_spec_tests(Optimizations::all());
}

#[test]
fn spec_tests_without_optimizations() {
    run_spec_tests(Optimizations::none());
}

fn run_spec_tests(optimizations: Optimizations) {
    let dir = shared().join("testvectors/wasm-spec");
    // SPEC_FILTER=name runs only the files whose name contains it (for debugging).
    let filter = std::env::var("SPEC_FILTER").ok();
    let files = FLOORS.iter().filter(|(name, _)| filter.as_ref().is_none_or(|f| name.contains(f.as_str())));
    let (mut passed, mut failed, mut excepted, mut skipped) =
        (0, Vec::new(), Vec::new(), BTreeMap::<Skip, usize>::new());
    let mut below_floor = Vec::new();
    println!("{:<26} {:>7} {:>7} {:>7}", "file", "passed", "failed", "skipped");
    for (name, floor) in files {
        let counts = run_file(&dir.join(name), optimizations);
        let skips: usize = counts.skipped.values().sum();
        if std::env::var("SPEC_VERBOSE").is_ok() {
            for f in &counts.failed {
                println!("  FAIL {f}");
            }
            println!("  skipped {:?}", counts.skipped);
        }
        println!("{name:<26} {:>7} {:>7} {:>7}", counts.passed, counts.failed.len(), skips);
        if counts.passed < *floor {
            below_floor.push(format!("{name}: {} passed, floor {floor}", counts.passed));
        }
        passed += counts.passed;
        for (k, v) in counts.skipped {
            *skipped.entry(k).or_default() += v;
        }
        failed.extend(counts.failed);
        excepted.extend(counts.excepted);
    }
    for (location, reason) in EXCEPTIONS {
        println!("exception {location}: {reason}");
    }
    println!("total: {passed} passed, {} failed, skipped: {skipped:?}", failed.len());
    assert!(failed.is_empty(), "{} failures:\n{}", failed.len(), failed.join("\n"));
    assert!(below_floor.is_empty(), "fewer assertions checked than the floor: {below_floor:?}");
    if filter.is_none() {
        let stale: Vec<_> = EXCEPTIONS.iter().filter(|(l, _)| !excepted.iter().any(|e| e == l)).collect();
        assert!(stale.is_empty(), "listed exceptions that no longer fail: {stale:?}");
    }
}
