//! Which exported functions a program enters, slot by slot: slot `k` starts at pc
//! `5·k` (`../shared/docs/jam-services.md`). `--entry NAME[,NAME…]` lists them
//! explicitly; otherwise `main` when the module exports it, else a JAM service's `refine`
//! (pc 0) and `accumulate` (pc 5), else an authorizer's `is_authorized` (pc 0).

use crate::error::{CompileError, Result};
use crate::wasm::module::Module;

/// The export of one entry slot: its name and function index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryExport {
    /// The export's name.
    pub name: String,
    /// The function it exports.
    pub function: u32,
}

/// The entry slots of `wasm`, in pc order; `None` for a slot the convention reserves but
/// the module leaves out (`refine` of a service that exports only `accumulate`), which
/// traps.
pub fn entry_exports(wasm: &Module<'_>, explicit: &[String]) -> Result<Vec<Option<EntryExport>>> {
    let find = |name: &str| wasm.exported_function(name).map(|function| EntryExport { name: name.into(), function });
    if !explicit.is_empty() {
        return explicit
            .iter()
            .map(|name| {
                find(name).map(Some).ok_or_else(|| {
                    CompileError::new(format!("--entry {name}: the module exports no function named {name}"))
                })
            })
            .collect();
    }
    if let Some(main) = find("main") {
        return Ok(vec![Some(main)]);
    }
    let (refine, accumulate) = (find("refine"), find("accumulate"));
    if refine.is_some() || accumulate.is_some() {
        return Ok(if accumulate.is_some() { vec![refine, accumulate] } else { vec![refine] });
    }
    if let Some(is_authorized) = find("is_authorized") {
        return Ok(vec![Some(is_authorized)]);
    }
    Err(CompileError::new(
        "the module exports no function named main, nor a service's refine/accumulate or an authorizer's is_authorized (name others with --entry)",
    ))
}
