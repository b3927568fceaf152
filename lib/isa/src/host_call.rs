//! The host calls of a JAM chain (Gray Paper v0.7.2 appendix B, and JIP-1 `log`): each
//! call's `ecalli` index, name, and which of its arguments (r7 = argument 0 … r12 =
//! argument 5) are addresses in the program's memory, with how many bytes the call
//! reads or writes there; and the general result constants. See
//! `../shared/docs/jam-services.md` and docs/abi.md.

/// One host call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCall {
    /// Its `ecalli` index.
    pub index: u32,
    /// Its name (`jam.NAME` in a WebAssembly import).
    pub name: &'static str,
    /// Its arguments that are memory addresses.
    pub pointers: &'static [Pointer],
}

/// An argument that is a memory address, and the extent of memory there the call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pointer {
    /// Its position (0 is r7).
    pub arg: usize,
    /// How many bytes from it the call reads or writes.
    pub length: Length,
}

/// How many bytes a host call uses at an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// As many as the argument at this position says.
    Arg(usize),
    /// The argument at this position times this many bytes (a count of records).
    Records(usize, u64),
    /// A fixed size (a hash, a memo, the gas and registers of an inner machine, a list
    /// with one record per core or validator).
    Bytes(u64),
}

impl HostCall {
    /// Whether argument `arg` is a memory address.
    pub fn is_pointer(&self, arg: usize) -> bool {
        self.pointers.iter().any(|p| p.arg == arg)
    }
}

impl Pointer {
    /// The number of bytes at this address for a call with argument registers `args`
    /// (r7…r12), saturating.
    pub fn bytes(&self, args: &[u64; 6]) -> u64 {
        match self.length {
            Length::Arg(k) => args[k],
            Length::Records(k, size) => args[k].saturating_mul(size),
            Length::Bytes(n) => n,
        }
    }
}

const fn call(index: u32, name: &'static str, pointers: &'static [Pointer]) -> HostCall {
    HostCall { index, name, pointers }
}

/// Argument `arg` is an address of `length` bytes.
const fn at(arg: usize, length: Length) -> Pointer {
    Pointer { arg, length }
}

use Length::{Arg, Bytes, Records};

/// A hash: 32 bytes.
const HASH: Length = Bytes(32);
/// Cores (`C`), validators (`V`), authorizer-queue entries (`Q`) and the memo size
/// (`W_T`) of the full chain (GP v0.7.2 appendix I).
const CORES: u64 = 341;
const VALIDATORS: u64 = 1023;
const QUEUE: u64 = 80;
const MEMO: u64 = 128;

/// Every host call, by index.
pub const HOST_CALLS: [HostCall; 28] = [
    call(0, "gas", &[]),
    // fetch(out, offset, length, kind, a, b)
    call(1, "fetch", &[at(0, Arg(2))]),
    // lookup(service, hash, out, offset, length)
    call(2, "lookup", &[at(1, HASH), at(2, Arg(4))]),
    // read(service, key, key_len, out, offset, length)
    call(3, "read", &[at(1, Arg(2)), at(3, Arg(5))]),
    // write(key, key_len, value, value_len)
    call(4, "write", &[at(0, Arg(1)), at(2, Arg(3))]),
    // info(service, out, offset, length)
    call(5, "info", &[at(1, Arg(3))]),
    // historical_lookup(service, hash, out, offset, length)
    call(6, "historical_lookup", &[at(1, HASH), at(2, Arg(4))]),
    // export(data, length)
    call(7, "export", &[at(0, Arg(1))]),
    // machine(code, code_len, pc)
    call(8, "machine", &[at(0, Arg(1))]),
    // peek(machine, out, inner_address, length)
    call(9, "peek", &[at(1, Arg(3))]),
    // poke(machine, data, inner_address, length)
    call(10, "poke", &[at(1, Arg(3))]),
    // pages(machine, page, count, mode)
    call(11, "pages", &[]),
    // invoke(machine, gas_and_registers): 8 bytes of gas, then 13 registers of 8
    call(12, "invoke", &[at(1, Bytes(8 + 13 * 8))]),
    // expunge(machine)
    call(13, "expunge", &[]),
    // bless(manager, assigners, delegator, registrar, always_accumulate, count): one
    // 4-byte assigner per core; `count` records of (service 4, gas 8)
    call(14, "bless", &[at(1, Bytes(4 * CORES)), at(4, Records(5, 12))]),
    // assign(core, authorizers, assigner): the core's authorizer queue of hashes
    call(15, "assign", &[at(1, Bytes(32 * QUEUE))]),
    // designate(validators): 336 bytes of keys per validator
    call(16, "designate", &[at(0, Bytes(336 * VALIDATORS))]),
    call(17, "checkpoint", &[]),
    // new(code_hash, code_len, gas, min_memo_gas, gratis, wanted_id)
    call(18, "new", &[at(0, HASH)]),
    // upgrade(code_hash, gas, min_memo_gas)
    call(19, "upgrade", &[at(0, HASH)]),
    // transfer(destination, amount, gas, memo)
    call(20, "transfer", &[at(3, Bytes(MEMO))]),
    // eject(service, hash)
    call(21, "eject", &[at(1, HASH)]),
    // query(hash, length): `length` is the preimage's, not the memory's
    call(22, "query", &[at(0, HASH)]),
    // solicit(hash, length)
    call(23, "solicit", &[at(0, HASH)]),
    // forget(hash, length)
    call(24, "forget", &[at(0, HASH)]),
    // yield(hash)
    call(25, "yield", &[at(0, HASH)]),
    // provide(service, data, length)
    call(26, "provide", &[at(1, Arg(2))]),
    // log(level, target, target_len, message, message_len) — JIP-1
    call(100, "log", &[at(1, Arg(2)), at(3, Arg(4))]),
];

/// The host call named `name`.
pub fn by_name(name: &str) -> Option<&'static HostCall> {
    HOST_CALLS.iter().find(|c| c.name == name)
}

/// The host call with index `index`.
pub fn by_index(index: u64) -> Option<&'static HostCall> {
    HOST_CALLS.iter().find(|c| u64::from(c.index) == index)
}

/// `OK`: success.
pub const OK: u64 = 0;
/// `NONE`: the item does not exist.
pub const NONE: u64 = u64::MAX;
/// `WHAT`: the host call is not offered (or its name is wrong).
pub const WHAT: u64 = u64::MAX - 1;
/// `OOB`: a memory range is not accessible.
pub const OOB: u64 = u64::MAX - 2;
/// `WHO`: the service or machine does not exist.
pub const WHO: u64 = u64::MAX - 3;
/// `FULL`: storage deposit too low.
pub const FULL: u64 = u64::MAX - 4;
/// `CORE`: the core index is unknown.
pub const CORE: u64 = u64::MAX - 5;
/// `CASH`: insufficient funds.
pub const CASH: u64 = u64::MAX - 6;
/// `LOW`: gas limit too low.
pub const LOW: u64 = u64::MAX - 7;
/// `HUH`: the item is already solicited or cannot be forgotten.
pub const HUH: u64 = u64::MAX - 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_jam_services_md() {
        let names: Vec<(u32, &str)> = HOST_CALLS.iter().map(|c| (c.index, c.name)).collect();
        let expected = [
            "gas",
            "fetch",
            "lookup",
            "read",
            "write",
            "info",
            "historical_lookup",
            "export",
            "machine",
            "peek",
            "poke",
            "pages",
            "invoke",
            "expunge",
            "bless",
            "assign",
            "designate",
            "checkpoint",
            "new",
            "upgrade",
            "transfer",
            "eject",
            "query",
            "solicit",
            "forget",
            "yield",
            "provide",
        ];
        for (i, name) in expected.iter().enumerate() {
            assert_eq!(names[i], (i as u32, *name));
        }
        assert_eq!(names[27], (100, "log"));
        assert_eq!(by_name("read").map(|c| (c.index, c.pointers)), Some((3, &[at(1, Arg(2)), at(3, Arg(5))][..])));
        assert_eq!(by_index(100).map(|c| c.name), Some("log"));
        assert_eq!(by_name("nope"), None);
        // Every address and length argument is one of the six argument registers, and a
        // length argument is not itself an address.
        for c in HOST_CALLS {
            for p in c.pointers {
                assert!(p.arg < 6, "{}", c.name);
                if let Arg(k) | Records(k, _) = p.length {
                    assert!(k < 6 && !c.is_pointer(k), "{}", c.name);
                }
            }
        }
        let args = [1, 2, 3, 4, 5, 6];
        let lengths = |name| by_name(name).unwrap().pointers.iter().map(|p| p.bytes(&args)).collect::<Vec<_>>();
        assert_eq!(lengths("fetch"), [3]);
        assert_eq!(lengths("lookup"), [32, 5]);
        assert_eq!(lengths("invoke"), [112]);
        assert_eq!(lengths("bless"), [1364, 72]);
        assert_eq!(lengths("new"), [32]);
        assert_eq!(lengths("transfer"), [128]);
        assert_eq!(
            [NONE, WHAT, OOB, WHO, FULL, CORE, CASH, LOW, HUH].map(|c| u64::MAX - c),
            [0, 1, 2, 3, 4, 5, 6, 7, 8]
        );
    }
}
