//! Host calls: the [`Host`] trait an embedder implements (it sees the machine state:
//! registers, memory, gas), and the host of the `pvm-run` command: JIP-1 `log` (ecalli 100), as the
//! reference CLI handles it; every other index stops the run.

use crate::state::State;
use std::io::Write;

/// What the host decided about a host call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostAction {
    /// Continue at the instruction after the `ecalli`.
    Resume,
    /// Stop with status HOST.
    Stop,
}

/// An embedder's host-call handler.
pub trait Host {
    /// Handles host call `index`; may read and change registers, memory and gas.
    fn call(&mut self, index: u64, state: &mut State) -> HostAction;
}

/// Index of the JIP-1 log host call.
pub const LOG_INDEX: u64 = 100;
/// Gas the log host call costs (the reference deducts it, floored at 0).
pub const LOG_GAS: i64 = 10;
/// The JAM "WHAT" result: host call not implemented / acknowledged.
pub const WHAT: u64 = u64::MAX - 1;
/// Longest target or message the log host call prints.
const MAX_LOG_LEN: u32 = 8192;
const LEVELS: [&str; 5] = ["FATAL", "ERROR", "WARN", "INFO", "DEBUG"];

/// JIP-1 logging to a writer; other host calls stop the run.
pub struct LogHost<W: Write> {
    /// Where log lines go.
    pub out: W,
}

impl<W: Write> LogHost<W> {
    /// The log line for the current registers, as the reference CLI formats it.
    pub fn line(state: &mut State) -> String {
        let r = *state.regs();
        let level = match usize::try_from(r[7]).ok().and_then(|l| LEVELS.get(l)) {
            Some(name) => (*name).to_string(),
            None => format!("LEVEL({})", r[7]),
        };
        let mut text = |ptr: u64, len: u64| {
            let (ptr, len) = (ptr as u32, (len as u32).min(MAX_LOG_LEN));
            if ptr == 0 || len == 0 {
                return String::new();
            }
            state
                .memory_mut()
                .read_bytes(ptr, len)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let target = text(r[8], r[9]);
        let message = text(r[10], r[11]);
        if target.is_empty() { format!("[{level}] {message}") } else { format!("[{level}] {target}: {message}") }
    }
}

impl<W: Write> Host for LogHost<W> {
    fn call(&mut self, index: u64, state: &mut State) -> HostAction {
        if index != LOG_INDEX {
            return HostAction::Stop;
        }
        let line = Self::line(state);
        // A closed log stream must not change the program's outcome.
        let _ = writeln!(self.out, "{line}");
        state.regs_mut()[7] = WHAT;
        state.set_gas((state.gas() - LOG_GAS).max(0));
        HostAction::Resume
    }
}
