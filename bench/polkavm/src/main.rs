//! Runs a `.jam` on PolkaVM 0.37 (its interpreter or its x86-64 recompiler) through the
//! adapter of `../shared/docs/polkavm.md`, for `scripts/bench-run.sh`:
//!
//! ```text
//! polkavm-bench interpreter|compiler FILE.jam ARGS_HEX GAS
//! ```
//!
//! prints the status, the gas used, the result (memory `[r7, r8)` after a halt) and the
//! seconds spent in `run` (the sandbox start-up and the compilation excluded).

use polkavm::program::InstructionSetKind;
use polkavm::{
    BackendKind, Config, Engine, GasMeteringKind, InterruptKind, Module, ModuleConfig, ProgramBlob, ProgramCounter,
    ProgramParts, Reg, SandboxKind,
};
use pvm_isa::container::{InputForm, parse_file};
use std::process::ExitCode;

/// JIP-1 `log`, answered with WHAT like `pvm-run`'s log host.
const LOG: u32 = 100;
const WHAT: u64 = u64::MAX - 1;
const HALT_ADDRESS: u64 = 0xffff_0000;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("polkavm-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [backend, file, args_hex, gas] = args.as_slice() else {
        return Err("usage: polkavm-bench interpreter|compiler FILE.jam ARGS_HEX GAS".into());
    };
    let backend = match backend.as_str() {
        "interpreter" => BackendKind::Interpreter,
        "compiler" => BackendKind::Compiler,
        other => return Err(format!("unknown backend `{other}`")),
    };
    let input = pvm_isa::hex::decode(args_hex.trim_start_matches("0x")).map_err(|e| format!("arguments: {e}"))?;
    let gas: i64 = gas.parse().map_err(|e| format!("gas `{gas}`: {e}"))?;
    let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
    let parsed = parse_file(&bytes, InputForm::Jam).map_err(|e| format!("{file}: {e}"))?;
    let spi = parsed.spi.as_ref().ok_or_else(|| format!("{file}: no SPI container"))?;

    // JamV1 has no sbrk (GP opcode 101): GP opcodes 102..=111 are its 101..=110.
    let mut code_and_jump_table = spi.blob.to_vec();
    let code_start = parsed.blob.offsets.code - spi.blob_offset;
    for pc in parsed.blob.bitmask().starts() {
        let opcode = &mut code_and_jump_table[code_start + pc];
        match *opcode {
            101 => return Err(format!("{file}: sbrk at {pc} (PolkaVM's JamV1 has none)")),
            102..=111 => *opcode -= 1,
            _ => {}
        }
    }
    let page = |n: usize| n.div_ceil(4096) * 4096;
    let mut parts = ProgramParts::empty(InstructionSetKind::JamV1);
    parts.ro_data_size = page(spi.ro_data.len()) as u32;
    parts.rw_data_size = (page(spi.rw_data.len()) + 4096 * usize::from(spi.heap_pages)) as u32;
    parts.stack_size = spi.stack_size;
    parts.ro_data = spi.ro_data.to_vec().into();
    parts.rw_data = spi.rw_data.to_vec().into();
    parts.code_and_jump_table = code_and_jump_table.into();
    let blob = ProgramBlob::from_parts(parts).map_err(|e| format!("{file}: {e}"))?;

    let mut config = Config::new();
    config.set_backend(Some(backend));
    config.set_sandbox(Some(SandboxKind::Linux));
    let engine = Engine::new(&config).map_err(|e| format!("engine: {e}"))?;
    let mut module_config = ModuleConfig::new();
    module_config.set_aux_data_size(1 << 24);
    module_config.set_gas_metering(Some(GasMeteringKind::Sync));
    let module = Module::from_blob(&engine, &module_config, blob).map_err(|e| format!("{file}: {e}"))?;
    let map = module.memory_map().clone();
    let mut instance = module.instantiate().map_err(|e| format!("instance: {e}"))?;
    instance.write_memory(map.aux_data_address(), &input).map_err(|e| format!("arguments: {e}"))?;
    instance.set_reg(Reg::RA, HALT_ADDRESS);
    instance.set_reg(Reg::SP, u64::from(map.stack_address_high()));
    instance.set_reg(Reg::A0, u64::from(map.aux_data_address()));
    instance.set_reg(Reg::A1, input.len() as u64);
    instance.set_gas(gas);
    instance.set_next_program_counter(ProgramCounter(0));

    let start = std::time::Instant::now();
    let status = loop {
        match instance.run().map_err(|e| format!("run: {e}"))? {
            InterruptKind::Ecalli(LOG) => instance.set_reg(Reg::A0, WHAT),
            InterruptKind::Finished => break "HALT".to_string(),
            other => break format!("{other:?}"),
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let (r7, r8) = (instance.reg(Reg::A0) as u32, instance.reg(Reg::A1) as u32);
    let result = if status == "HALT" && r7 < r8 {
        instance.read_memory(r7, r8 - r7).map_err(|e| format!("result: {e}"))?
    } else {
        Vec::new()
    };
    println!("Status: {status}");
    println!("Gas used: {}", gas - instance.gas());
    println!("Result: [0x{}]", pvm_isa::hex::encode(&result));
    println!("Seconds: {seconds:.3}");
    Ok(())
}
