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
//! last, stops the run (status HOST). A recorded address argument whose memory is not
//! readable is recorded as such (`None`), never as empty bytes.

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
    /// and the memory at that address, as many bytes as the call uses there (at most
    /// [`MAX_RECORDED`]); `None` when they are not all readable (or the address is not
    /// below 2^32).
    pub memory: Vec<(usize, Option<Vec<u8>>)>,
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
        let args: &[u64; 6] = registers[7..].try_into().expect("r7..r12");
        let pointers = host_call::by_index(index).map_or(&[][..], |c| c.pointers);
        let memory = pointers
            .iter()
            .map(|pointer| {
                let reg = 7 + pointer.arg;
                let len = pointer.bytes(args).min(MAX_RECORDED) as u32;
                let bytes = u32::try_from(registers[reg]).ok().and_then(|a| state.memory_mut().read_bytes(a, len));
                (reg, bytes)
            })
            .collect();
        self.calls.push(Call { index, registers, memory });
        let Some(reply) = self.script.front().filter(|r| r.index == index).cloned() else {
            return HostAction::Stop;
        };
        self.script.pop_front();
        for (reg, bytes) in &reply.writes {
            let written =
                u32::try_from(registers[*reg]).is_ok_and(|a| state.memory_mut().write_bytes(a, bytes).is_ok());
            if !written {
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

    #[test]
    fn records_unreadable_memory_and_wide_addresses_explicitly() {
        let mut memory = crate::memory::Memory::new();
        memory.map(0x20000, 0x21000, true);
        memory.write_initial(0x20000, b"key!");
        let program = crate::program::Program::empty();
        let mut regs = [0; 13];
        // read(service, key, key_len, out, offset, length): the key is readable, the
        // output area is not; a write of bytes at an address above 2^32 is `OOB`.
        regs[7..13].copy_from_slice(&[u64::MAX, 0x20000, 4, 0x30000, 0, 8]);
        let mut state = State::new(&program, regs, memory.clone(), 100, 0);
        let mut host = ScriptedHost::parse("read r10@=01").unwrap();
        assert_eq!(host.call(3, &mut state), HostAction::Resume);
        assert_eq!(host.calls[0].memory, vec![(8, Some(b"key!".to_vec())), (10, None)]);
        assert_eq!(state.regs()[7], host_call::OOB);
        // The same key address with bits above 32: not truncated to 0x20000.
        regs[8] = 0x1_0002_0000;
        regs[10] = 0x1_0002_0000;
        let mut state = State::new(&program, regs, memory, 100, 0);
        let mut host = ScriptedHost::parse("read r10@=01").unwrap();
        assert_eq!(host.call(3, &mut state), HostAction::Resume);
        assert_eq!(host.calls[0].memory, vec![(8, None), (10, None)]);
        assert_eq!(state.regs()[7], host_call::OOB);
        assert_eq!(state.memory_mut().read_bytes(0x20000, 4), Some(b"key!".to_vec()));
    }
}
