//! LLVM's optimisation pipeline as the compiler runs it.
//!
//! The module uses 32-bit pointers (WebAssembly addresses) and 64-bit native integers,
//! like the PVM. LLVM needs a target machine for its cost models; a 64-bit RISC-V core
//! with the multiply and bit-manipulation extensions is the closest match to the PVM
//! (64-bit registers, no condition flags, compare-and-branch, count/rotate/min/max
//! instructions). Vectorisation is off: the PVM has no vector registers.
//!
//! At `-O2` (the default) this is LLVM's `default<O2>` function simplification (SSA
//! promotion, SROA, instcombine, simplifycfg, early CSE, GVN, LICM, loop rotation,
//! induction-variable simplification, inlining, IPSCCP, global DCE, dead-argument
//! elimination) trimmed of the passes that do nothing for the PVM or cost time for no
//! measured gain, with a size-aware inliner: each function carries
//! `function-inline-threshold`, and instcombine does one round per run. `-O1`, `-O3`,
//! `-Os` and `-Oz` are LLVM's own pipelines; at `-Os` every function is marked
//! `optsize`, at `-Oz` `optsize` and `minsize`, as clang does, so that the passes that
//! trade size for speed (unrolling, switch and branch transformations, the inliner's
//! threshold) hold back. `-O0` (and `--no-opt llvm`) runs only SSA
//! promotion, which instruction selection needs; `--no-opt inline` marks every function
//! `noinline`.

use crate::error::{CompileError, Result};
use crate::options::{OptLevel, Optimization, Options};
use inkwell::OptimizationLevel;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, InitializationConfig, RelocMode, Target, TargetData, TargetMachine, TargetTriple};

/// The data layout of compiled modules: little-endian, 32-bit pointers, 64-bit native
/// integers, 64-bit aligned i64.
pub const DATA_LAYOUT: &str = "e-m:e-p:32:32-i64:64-n32:64-S64";

const TRIPLE: &str = "riscv64-unknown-unknown";
const CPU_FEATURES: &str = "+m,+zbb";

/// The target machine used for LLVM's cost models.
pub fn target_machine() -> Result<TargetMachine> {
    static INITIALIZE: std::sync::Once = std::sync::Once::new();
    INITIALIZE.call_once(|| {
        Target::initialize_riscv(&InitializationConfig::default());
        // One round of instcombine per run: the pipeline runs it often enough that a
        // fixed point per run buys nothing measurable and costs a tenth of the time.
        crate::ffi::set_llvm_options(&["-instcombine-max-iterations=1"]);
    });
    let triple = TargetTriple::create(TRIPLE);
    let target = Target::from_triple(&triple).map_err(|e| CompileError::new(format!("LLVM target {TRIPLE}: {e}")))?;
    target
        .create_target_machine(
            &triple,
            "generic-rv64",
            CPU_FEATURES,
            OptimizationLevel::Default,
            RelocMode::Static,
            CodeModel::Small,
        )
        .ok_or_else(|| CompileError::new(format!("LLVM cannot create a {TRIPLE} target machine")))
}

/// The inliner's threshold at `-O2`, in LLVM's cost units: as much inlining as LLVM's
/// `-Os` does. `compiler.wasm` becomes 62 % of the code `default<O2>`'s threshold gives,
/// for 8 % more instructions on `as_objects`, the most call-heavy bench case
/// (docs/optimizations.md).
const INLINE_THRESHOLD: &str = "50";

/// Sets the module's data layout and triple, and tells the inliner and the size-aware
/// passes what they may do with each function.
pub fn prepare(module: &Module<'_>, options: &Options) {
    module.set_data_layout(&TargetData::create(DATA_LAYOUT).get_data_layout());
    module.set_triple(&TargetTriple::create(TRIPLE));
    let context = module.get_context();
    let enum_attribute = |name: &str| context.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0);
    let mut attributes = Vec::new();
    if !options.enabled(Optimization::Inline) {
        attributes.push(enum_attribute("noinline"));
    } else if options.opt_level == OptLevel::O2 {
        attributes.push(context.create_string_attribute("function-inline-threshold", INLINE_THRESHOLD));
    }
    match options.opt_level {
        OptLevel::Os => attributes.push(enum_attribute("optsize")),
        OptLevel::Oz => attributes.extend([enum_attribute("optsize"), enum_attribute("minsize")]),
        _ => {}
    }
    for function in module.get_functions().filter(|f| f.count_basic_blocks() > 0) {
        for &attribute in &attributes {
            function.add_attribute(AttributeLoc::Function, attribute);
        }
    }
    if options.enabled(Optimization::Inline)
        && options.enabled(Optimization::HotCalls)
        && options.opt_level == OptLevel::O2
    {
        crate::hot_calls::mark(module);
    }
}

/// `simplifycfg` with LLVM's `default<O2>` settings plus `options`.
macro_rules! simplifycfg {
    ($options:literal) => {
        concat!("simplifycfg<bonus-inst-threshold=1;", $options, ">")
    };
}

/// `simplifycfg` as the function simplification runs it between other passes.
macro_rules! simplifycfg_keeping_loops {
    () => {
        simplifycfg!(
            "no-forward-switch-cond;switch-range-to-icmp;no-switch-to-lookup;keep-loops;no-hoist-common-insts;no-sink-common-insts"
        )
    };
}

/// The `-O2` pipeline: LLVM's `default<O2>` (as `opt -print-pipeline-passes` prints it)
/// without the passes that have nothing to do here (coroutines, OpenMP, the vectorisers,
/// loop distribution, load elimination, call-graph profiles, lookup-table conversion)
/// and without some that cost compile time and change little or nothing in the code:
/// the instcombine before inlining, at the end of each function's simplification and
/// after the vectorisers, reassociation, merged load/store motion, bit-tracking DCE, the
/// second jump threading and value propagation, loop sinking, div/rem pairing, called-
/// value propagation, the post-inlining function attributes and the globals alias
/// analysis, the late loop rotation. Left out too, each where leaving it out changed no
/// bench case's code or gas but to make it smaller or faster, and made `compiler.wasm`'s
/// code no larger (docs/results.md, "Compile time"): the `globalopt` before inlining, the
/// function attributes, the second and third SROA, the LICM before loop rotation, the CFG
/// simplification and the instcombine between the loop passes, loop instruction and CFG
/// simplification, loop idiom recognition, loop deletion, full unrolling, SCCP,
/// aggressive DCE, memcpy optimisation, dead-store elimination, the lowering of constant
/// intrinsics, and the late CFG simplification that turns switches into tables. Of the bench cases only `as_objects`, the most
/// call-heavy, runs more instructions than under `default<O2>` (`scripts/bench-compile.sh`,
/// docs/optimizations.md). After inlining, `elim-avail-extern` drops the bodies a part of
/// a split module holds only to inline ([`crate::wasm::partition`]).
const O2_PIPELINE: &str = concat!(
    "function<eager-inv>(lower-expect,",
    simplifycfg!(
        "no-forward-switch-cond;no-switch-range-to-icmp;no-switch-to-lookup;keep-loops;no-hoist-common-insts;no-sink-common-insts"
    ),
    ",sroa,early-cse<>),",
    "ipsccp,function(mem2reg),deadargelim,",
    "cgscc(devirt<4>(inline,function<eager-inv>(",
    "early-cse<memssa>,jump-threading,correlated-propagation,",
    simplifycfg_keeping_loops!(),
    ",instcombine,",
    "loop-mssa(loop-rotate,licm,simple-loop-unswitch<no-nontrivial;trivial>),",
    "loop(indvars),gvn<>,instcombine,loop-mssa(licm),",
    simplifycfg!(
        "no-forward-switch-cond;switch-range-to-icmp;no-switch-to-lookup;keep-loops;hoist-common-insts;sink-common-insts"
    ),
    "))),",
    "elim-avail-extern,globalopt,globaldce,",
    "function<eager-inv>(instcombine,loop-unroll<O2>,loop-mssa(licm),instsimplify,",
    simplifycfg_keeping_loops!(),
    "),",
    "globaldce,constmerge",
);

/// The pass pipeline text for an optimisation level.
pub fn pipeline(level: OptLevel) -> &'static str {
    match level {
        OptLevel::O0 => "function(mem2reg,instsimplify,simplifycfg)",
        OptLevel::O1 => "default<O1>",
        OptLevel::O2 => O2_PIPELINE,
        OptLevel::O3 => "default<O3>",
        OptLevel::Os => "default<Os>",
        OptLevel::Oz => "default<Oz>",
    }
}

/// Verifies and optimises the module.
pub fn optimize(module: &Module<'_>, options: &Options) -> Result<()> {
    let level = if options.enabled(Optimization::Llvm) { options.opt_level } else { OptLevel::O0 };
    module
        .verify()
        .map_err(|e| CompileError::new(format!("internal error: invalid LLVM IR before optimisation: {e}")))?;
    let machine = target_machine()?;
    let options = PassBuilderOptions::create();
    options.set_loop_vectorization(false);
    options.set_loop_slp_vectorization(false);
    options.set_loop_interleaving(false);
    module
        .run_passes(pipeline(level), &machine, options)
        .map_err(|e| CompileError::new(format!("LLVM optimisation failed: {e}")))?;
    module.verify().map_err(|e| CompileError::new(format!("internal error: invalid LLVM IR after optimisation: {e}")))
}
