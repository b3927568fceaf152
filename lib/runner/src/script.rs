//! A scripted test host: it answers each host call from a script, in order, and records
//! every call — its index, the registers, and the memory each address argument points at
//! — so a test (or `pvm-run --host-script FILE`) checks exactly what a program asked of
//! its host.
//!
//! The script's text form has one reply per line (`#` starts a comment):
//! `CALL [r7=N] [r8=N] [rK@=HEX]…`, where `CALL` is an `ecalli` index or a JAM host-call
//! name (`read`, `log`, …), `r7=`/`r8=` set those registers (decimal, `0x` hex, or a
//! result constant such as `NONE`), and `rK@=HEX` writes bytes at the address in
//! register K. A call that differs from the script's next line, or comes after its
//! last, stops the run (status HOST).

use crate::host::{Host, HostAction};
use crate::state::State;
use pvm_isa::host_call;

/// The most bytes recorded per address argument.
pub const MAX_RECORDED: u64 = 4096;

/// One scripted reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The `ecalli` index the call must have.
    pub index: u64,
    /// The value to put in r7.
    pub r7: Option<u64>,
    /// The value to put in r8.
    pub r8: Option<u64>,
    /// Bytes to write at the address in each register.
    pub writes: Vec<(usize, Vec<u8>)>,
}

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Its `ecalli` index.
    pub index: u64,
    /// The registers at the call.
    pub registers: [u64; 13],
    /// For each address argument of a JAM host call (`pvm_isa::host_call`): the register
    /// and the memory at that address, as long as the next register says (at most
    /// [`MAX_RECORDED`] bytes; empty when unreadable).
    pub memory: Vec<(usize, Vec<u8>)>,
}

/// The scripted host.
#[derive(Debug, Clone, Default)]
pub struct ScriptedHost {
    /// The replies still to give, in order.
    pub script: std::collections::VecDeque<Reply>,
    /// Every call so far, answered or not.
    pub calls: Vec<Call>,
}

impl ScriptedHost {
    /// A host that gives `replies` in order.
    pub fn new(replies: Vec<Reply>) -> Self {
        ScriptedHost { script: replies.into(), calls: Vec::new() }
    }

    /// Parses the text form; errors name the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut replies = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            replies.push(parse_reply(line).map_err(|e| format!("line {}: {e}", n + 1))?);
        }
        Ok(ScriptedHost::new(replies))
    }
}

fn parse_reply(line: &str) -> Result<Reply, String> {
    let mut words = line.split_whitespace();
    let call = words.next().expect("the line is not empty");
    let index = match host_call::by_name(call) {
        Some(c) => u64::from(c.index),
        None => call.parse().map_err(|_| format!("`{call}` is neither a host-call index nor a JAM host-call name"))?,
    };
    let mut reply = Reply { index, ..Reply::default() };
    for word in words {
        let (key, value) = word.split_once('=').ok_or_else(|| format!("`{word}`: expected KEY=VALUE"))?;
        match key {
            "r7" => reply.r7 = Some(number(value)?),
            "r8" => reply.r8 = Some(number(value)?),
            _ => {
                let reg = key
                    .strip_prefix('r')
                    .and_then(|k| k.strip_suffix('@'))
                    .and_then(|k| k.parse::<usize>().ok())
                    .filter(|&k| k < 13)
                    .ok_or_else(|| format!("`{key}`: expected r7, r8 or rK@ (K below 13)"))?;
                reply.writes.push((
                    reg,
                    pvm_isa::hex::decode(value.strip_prefix("0x").unwrap_or(value))
                        .map_err(|e| format!("`{word}`: {e}"))?,
                ));
            }
        }
    }
    Ok(reply)
}

/// A register value: decimal, `0x` hex, or a result constant name.
fn number(text: &str) -> Result<u64, String> {
    let named = [
        ("OK", host_call::OK),
        ("NONE", host_call::NONE),
        ("WHAT", host_call::WHAT),
        ("OOB", host_call::OOB),
        ("WHO", host_call::WHO),
        ("FULL", host_call::FULL),
        ("CORE", host_call::CORE),
        ("CASH", host_call::CASH),
        ("LOW", host_call::LOW),
        ("HUH", host_call::HUH),
    ];
    if let Some(&(_, v)) = named.iter().find(|(n, _)| *n == text) {
        return Ok(v);
    }
    match text.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => text.parse(),
    }
    .map_err(|_| format!("`{text}` is not a number"))
}

impl Host for ScriptedHost {
    fn call(&mut self, index: u64, state: &mut State) -> HostAction {
        let registers = *state.regs();
        let pointers = host_call::by_index(index).map_or(&[][..], |c| c.pointers);
        let memory = pointers
            .iter()
            .map(|&arg| {
                let (reg, len) = (7 + arg, registers.get(8 + arg).copied().unwrap_or(0).min(MAX_RECORDED));
                let bytes = state.memory_mut().read_bytes(registers[reg] as u32, len as u32).unwrap_or_default();
                (reg, bytes)
            })
            .collect();
        self.calls.push(Call { index, registers, memory });
        let Some(reply) = self.script.front().filter(|r| r.index == index).cloned() else {
            return HostAction::Stop;
        };
        self.script.pop_front();
        for (reg, bytes) in &reply.writes {
            if state.memory_mut().write_bytes(registers[*reg] as u32, bytes).is_err() {
                state.regs_mut()[7] = host_call::OOB;
            }
        }
        if let Some(v) = reply.r7 {
            state.regs_mut()[7] = v;
        }
        if let Some(v) = reply.r8 {
            state.regs_mut()[8] = v;
        }
        HostAction::Resume
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_text_form() {
        let host =
            ScriptedHost::parse("# a service\nread r7=NONE\n4 r7=0x10 r8=3 r10@=0a0b  # write\n\n100\n").unwrap();
        assert_eq!(
            Vec::from(host.script),
            vec![
                Reply { index: 3, r7: Some(u64::MAX), ..Reply::default() },
                Reply { index: 4, r7: Some(16), r8: Some(3), writes: vec![(10, vec![10, 11])] },
                Reply { index: 100, ..Reply::default() },
            ]
        );
        assert_eq!(
            ScriptedHost::parse("read\nfoo r7=1").unwrap_err(),
            "line 2: `foo` is neither a host-call index nor a JAM host-call name"
        );
        assert_eq!(ScriptedHost::parse("3 r7=x").unwrap_err(), "line 1: `x` is not a number");
        assert_eq!(
            ScriptedHost::parse("3 r13@=00").unwrap_err(),
            "line 1: `r13@`: expected r7, r8 or rK@ (K below 13)"
        );
        assert_eq!(ScriptedHost::parse("3 r7").unwrap_err(), "line 1: `r7`: expected KEY=VALUE");
        assert_eq!(ScriptedHost::parse("3 r9@=0g").unwrap_err(), "line 1: `r9@=0g`: `g` at byte 1 is not a hex digit");
    }
}
