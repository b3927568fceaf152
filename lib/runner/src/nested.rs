//! PVM-in-PVM: the input and output of a PVM interpreter that runs as a PVM program —
//! the anan-as interpreter (`compiler.wasm` of `@fluffylabs/anan-as` 1.2.0) compiled to
//! PVM. Its `main` reads
//! `[u64 gas][u32 pc][u32 program length][u32 args length][program][args]` (the program a
//! `.jam` with its metadata prefix) and returns
//! `[u8 status][u32 exit code][u64 gas left][u32 pc][result]`, or the single byte `01` for
//! malformed input. All integers are little-endian.

use crate::state::Status;

/// The input for running `program` (a `.jam`) with `args`, `gas` and start `pc`.
pub fn input(program: &[u8], args: &[u8], gas: u64, pc: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + program.len() + args.len());
    out.extend_from_slice(&gas.to_le_bytes());
    out.extend_from_slice(&pc.to_le_bytes());
    out.extend_from_slice(&(program.len() as u32).to_le_bytes());
    out.extend_from_slice(&(args.len() as u32).to_le_bytes());
    out.extend_from_slice(program);
    out.extend_from_slice(args);
    out
}

/// How the inner program ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Status number (0 HALT, 1 PANIC, 2 FAULT, 3 HOST, 4 OOG).
    pub status: u8,
    /// Fault address or host-call index.
    pub exit_code: u32,
    /// Gas left.
    pub gas: u64,
    /// Final program counter.
    pub pc: u32,
    /// Result bytes.
    pub result: Vec<u8>,
}

impl Outcome {
    /// Decodes the interpreter's output; `None` when it reports malformed input (or the
    /// output is too short to be an outcome).
    pub fn decode(bytes: &[u8]) -> Option<Outcome> {
        if bytes.len() < 17 {
            return None;
        }
        Some(Outcome {
            status: bytes[0],
            exit_code: u32::from_le_bytes(bytes[1..5].try_into().ok()?),
            gas: u64::from_le_bytes(bytes[5..13].try_into().ok()?),
            pc: u32::from_le_bytes(bytes[13..17].try_into().ok()?),
            result: bytes[17..].to_vec(),
        })
    }

    /// The status name.
    pub fn status_name(&self) -> &'static str {
        match self.status {
            0 => Status::Halt.name(),
            1 => Status::Panic.name(),
            2 => "FAULT",
            3 => "HOST",
            4 => Status::OutOfGas.name(),
            _ => "UNKNOWN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_layout_and_output_decoding() {
        let i = input(&[0xaa, 0xbb], &[0xcc], 100_000_000, 5);
        assert_eq!(i.len(), 23);
        assert_eq!(&i[..8], &100_000_000u64.to_le_bytes());
        assert_eq!(&i[8..12], &[5, 0, 0, 0]);
        assert_eq!(&i[12..20], &[2, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&i[20..], &[0xaa, 0xbb, 0xcc]);
        // The mission's TRAP outcome: PANIC, 99,999,999 gas left, pc 0.
        let out = [0x01, 0, 0, 0, 0, 0xff, 0xe0, 0xf5, 0x05, 0, 0, 0, 0, 0, 0, 0, 0];
        let o = Outcome::decode(&out).unwrap();
        assert_eq!((o.status, o.exit_code, o.gas, o.pc, o.result.len()), (1, 0, 99_999_999, 0, 0));
        assert_eq!(o.status_name(), "PANIC");
        assert_eq!(Outcome::decode(&[0x01]), None);
    }
}
