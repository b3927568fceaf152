//! LLVM's optimisation pipeline as the compiler runs it.
//!
//! The module uses 32-bit pointers (WebAssembly addresses) and 64-bit native integers,
//! like the PVM. LLVM needs a target machine for its cost models; a 64-bit RISC-V core
//! with the multiply and bit-manipulation extensions is the closest match to the PVM
//! (64-bit registers, no condition flags, compare-and-branch, count/rotate/min/max
//! instructions). Vectorisation is off: the PVM has no vector registers.
//!
//! At `-O2` (the default) this is LLVM's `default<O2>` pipeline: SSA promotion, SROA,
//! instcombine, simplifycfg, early CSE, GVN, LICM, loop rotation, induction-variable
//! simplification, inlining, IPSCCP, global DCE and dead-argument elimination. `-O0` runs
//! only SSA promotion, which instruction selection needs.

use crate::error::{CompileError, Result};
use crate::options::OptLevel;
use inkwell::OptimizationLevel;
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
    INITIALIZE.call_once(|| Target::initialize_riscv(&InitializationConfig::default()));
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

/// Sets the module's data layout and triple.
pub fn prepare(module: &Module<'_>) {
    module.set_data_layout(&TargetData::create(DATA_LAYOUT).get_data_layout());
    module.set_triple(&TargetTriple::create(TRIPLE));
}

/// The pass pipeline text for an optimisation level.
pub fn pipeline(level: OptLevel) -> &'static str {
    match level {
        OptLevel::O0 => "function(mem2reg,instsimplify,simplifycfg)",
        OptLevel::O1 => "default<O1>",
        OptLevel::O2 => "default<O2>",
        OptLevel::O3 => "default<O3>",
        OptLevel::Os => "default<Os>",
        OptLevel::Oz => "default<Oz>",
    }
}

/// Verifies and optimises the module.
pub fn optimize(module: &Module<'_>, level: OptLevel) -> Result<()> {
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
