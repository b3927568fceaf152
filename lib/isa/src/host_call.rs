//! The host calls of a JAM chain (Gray Paper v0.7.2 appendix B, and JIP-1 `log`): each
//! call's `ecalli` index, name and which of its arguments (r7 = argument 0 … r12 =
//! argument 5) are addresses in the program's memory; and the general result
//! constants. See `../shared/docs/jam-services.md`.

/// One host call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCall {
    /// Its `ecalli` index.
    pub index: u32,
    /// Its name (`jam.NAME` in a WebAssembly import).
    pub name: &'static str,
    /// The positions of its arguments that are memory addresses (0 is r7).
    pub pointers: &'static [usize],
}

const fn call(index: u32, name: &'static str, pointers: &'static [usize]) -> HostCall {
    HostCall { index, name, pointers }
}

/// Every host call, by index.
pub const HOST_CALLS: [HostCall; 28] = [
    call(0, "gas", &[]),
    // fetch(out, offset, length, kind, a, b)
    call(1, "fetch", &[0]),
    // lookup(service, hash, out, offset, length)
    call(2, "lookup", &[1, 2]),
    // read(service, key, key_len, out, offset, length)
    call(3, "read", &[1, 3]),
    // write(key, key_len, value, value_len)
    call(4, "write", &[0, 2]),
    // info(service, out, offset, length)
    call(5, "info", &[1]),
    // historical_lookup(service, hash, out, offset, length)
    call(6, "historical_lookup", &[1, 2]),
    // export(data, length)
    call(7, "export", &[0]),
    // machine(code, code_len, pc)
    call(8, "machine", &[0]),
    // peek(machine, out, inner_address, length)
    call(9, "peek", &[1]),
    // poke(machine, data, inner_address, length)
    call(10, "poke", &[1]),
    // pages(machine, page, count, mode)
    call(11, "pages", &[]),
    // invoke(machine, gas_and_registers)
    call(12, "invoke", &[1]),
    // expunge(machine)
    call(13, "expunge", &[]),
    // bless(manager, assigners, delegator, registrar, always_accumulate, count)
    call(14, "bless", &[1, 4]),
    // assign(core, authorizers, assigner)
    call(15, "assign", &[1]),
    // designate(validators)
    call(16, "designate", &[0]),
    call(17, "checkpoint", &[]),
    // new(code_hash, code_len, gas, min_memo_gas, gratis, wanted_id)
    call(18, "new", &[0]),
    // upgrade(code_hash, gas, min_memo_gas)
    call(19, "upgrade", &[0]),
    // transfer(destination, amount, gas, memo)
    call(20, "transfer", &[3]),
    // eject(service, hash)
    call(21, "eject", &[1]),
    // query(hash, length)
    call(22, "query", &[0]),
    // solicit(hash, length)
    call(23, "solicit", &[0]),
    // forget(hash, length)
    call(24, "forget", &[0]),
    // yield(hash)
    call(25, "yield", &[0]),
    // provide(service, data, length)
    call(26, "provide", &[1]),
    // log(level, target, target_len, message, message_len) — JIP-1
    call(100, "log", &[1, 3]),
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
        assert_eq!(by_name("read").map(|c| (c.index, c.pointers)), Some((3, &[1usize, 3][..])));
        assert_eq!(by_index(100).map(|c| c.name), Some("log"));
        assert_eq!(by_name("nope"), None);
        assert!(HOST_CALLS.iter().all(|c| c.pointers.iter().all(|&p| p < 6)));
        assert_eq!(
            [NONE, WHAT, OOB, WHO, FULL, CORE, CASH, LOW, HUH].map(|c| u64::MAX - c),
            [0, 1, 2, 3, 4, 5, 6, 7, 8]
        );
    }
}
