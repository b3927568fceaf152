//! The contract between the front end (WebAssembly → LLVM IR) and the back end (LLVM IR
//! → PVM): names of the pseudo functions and globals the front end emits and the back end
//! lowers, and the register conventions of compiled code (see `docs/abi.md`).

use pvm_isa::Reg;

/// The byte at the start of linear memory. Its address is the memory base.
pub const MEMORY: &str = "wasm.memory";
/// Current memory size in pages (i32). External linkage, so LLVM treats it as writable by
/// the opaque `memory.grow` routine.
pub const MEMORY_PAGES: &str = "__pvm.memory_pages";
/// The end of the largest linear memory with wild address traps, in bytes: 2 GiB (32,768
/// pages). An address below it has bit 31 clear, so the common address check is a test
/// of the sign of the (sign-extended) address: `branch_lt_s_imm a, 0`, 3 or 4 bytes.
pub const MEMORY_LIMIT: u64 = 0x8000_0000;
/// Where every layout's stack lies above with wild address traps (`backend::layout`): an
/// access that ends at or below it reaches linear memory or unmapped pages only.
pub const ACCESS_LIMIT: u64 = 0xfc00_0000;

/// The highest address an access of up to `reach` bytes from it may start at without
/// leaving linear memory and the unmapped pages above it: below [`MEMORY_LIMIT`], and
/// ending at or below [`ACCESS_LIMIT`].
pub fn check_limit(reach: u64) -> u64 {
    (MEMORY_LIMIT - 1).min(ACCESS_LIMIT - reach)
}
/// Global that keeps r8 after each host call when the module reads it.
pub const HOST_R8_SLOT: &str = "__pvm.host_r8_slot";
/// Prefix of the globals that carry a function's results beyond the first.
pub const EXTRA_RESULT_PREFIX: &str = "__pvm.result.";
/// Prefix of the per-segment "dropped" flags of passive data segments.
pub const DROPPED_PREFIX: &str = "__pvm.dropped.";
/// Prefix of passive data segment contents.
pub const SEGMENT_PREFIX: &str = "__pvm.segment.";
/// The entries of a table that functions change (slot numbers; slot 0 is null).
pub const TABLE: &str = "__pvm.table";
/// Prefix of element segments of a table that functions change (slot numbers), and of
/// their current lengths (`.len`).
pub const ELEM_PREFIX: &str = "__pvm.elem.";
/// The program entry: `i64 entry(i64 args_address, i64 args_length)`, returning the result
/// as `start | end << 32` (PVM addresses; the result is memory `[start, end)`). A program
/// with several entry points has one such function per slot: [`entry_function`].
pub const ENTRY: &str = "__pvm_entry";
/// Bytes of code per entry slot: slot `k` starts at pc `ENTRY_SLOT_SIZE · k`.
pub const ENTRY_SLOT_SIZE: u32 = 5;

/// The entry function of slot `slot`: [`ENTRY`] for slot 0, `ENTRY.k` for slot k.
pub fn entry_function(slot: usize) -> String {
    if slot == 0 { ENTRY.to_string() } else { format!("{ENTRY}.{slot}") }
}

/// The slot of an entry function, `None` for any other function.
pub fn entry_slot(name: &str) -> Option<usize> {
    match name.strip_prefix(ENTRY)? {
        "" => Some(0),
        rest => rest.strip_prefix('.')?.parse().ok(),
    }
}

/// Host-call index the test harness entry uses to ask for the next call.
pub const HARNESS_ECALLI: u32 = 0x7fff_fff0;
/// The harness mailbox: 64-bit slots; slot 0 holds the number of the exported function
/// to call (its position among the module's function exports), slots 1.. its arguments,
/// and, after the call, its results.
pub const HARNESS_MAILBOX: &str = "__pvm.harness.mailbox";
/// Slots in the harness mailbox.
pub const HARNESS_SLOTS: u32 = 32;

/// A pseudo function: a call the front end emits and the back end lowers itself. Its
/// LLVM symbol is [`Pseudo::symbol`]; the back end reads it back with [`Pseudo::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pseudo {
    /// `i32 memory_grow(i32 delta_pages)`: the runtime routine behind `memory.grow`.
    MemoryGrow,
    /// `call_indirect` for the signature with this id, taking `(i32 table index, args...)`.
    CallIndirect(usize),
    /// Host call N (`ecalli N`), taking up to six i64 arguments (r7..r12) and returning r7.
    Ecalli(u32),
    /// `i64 host_r8()`: r8 as the most recent host call left it.
    HostR8,
    /// `i32 address_check(i1 outside, i32 address, i32 reach)`: the address, once
    /// checked for an access of up to `reach` bytes from it (offset plus size), where
    /// `outside` is `address > check_limit(reach)`; the back end expands it
    /// (`backend::address_check`, docs/memory.md). LLVM sees a call without side effects
    /// on memory, so it shares one check among the accesses to an address, and drops the
    /// check where it proves `outside` false.
    AddressCheck,
    /// `i64 mul_upper_u_u(i64 a, i64 b)`: the high 64 bits of the unsigned 128-bit product
    /// `a * b` (the PVM's `mul_upper_u_u`, which LLVM IR cannot spell without i128). The
    /// float routines import it (`softfloat.wat`); it has no side effects, so LLVM
    /// optimises around it like around a multiplication.
    MulUpperUU,
}

const MEMORY_GROW: &str = "__pvm.memory_grow";
const CALL_INDIRECT_PREFIX: &str = "__pvm.call_indirect.";
const ECALLI_PREFIX: &str = "__pvm.ecalli.";
const HOST_R8: &str = "__pvm.host_r8";
const ADDRESS_CHECK: &str = "__pvm.address_check";
const MUL_UPPER_U_U: &str = "__pvm.mul_upper_u_u";

impl Pseudo {
    /// The LLVM symbol of this pseudo function.
    pub fn symbol(self) -> String {
        match self {
            Pseudo::MemoryGrow => MEMORY_GROW.to_string(),
            Pseudo::CallIndirect(signature) => format!("{CALL_INDIRECT_PREFIX}{signature}"),
            Pseudo::Ecalli(index) => format!("{ECALLI_PREFIX}{index}"),
            Pseudo::HostR8 => HOST_R8.to_string(),
            Pseudo::AddressCheck => ADDRESS_CHECK.to_string(),
            Pseudo::MulUpperUU => MUL_UPPER_U_U.to_string(),
        }
    }

    /// The pseudo function an LLVM symbol names, if it names one.
    pub fn parse(symbol: &str) -> Option<Self> {
        match symbol {
            MEMORY_GROW => Some(Pseudo::MemoryGrow),
            HOST_R8 => Some(Pseudo::HostR8),
            ADDRESS_CHECK => Some(Pseudo::AddressCheck),
            MUL_UPPER_U_U => Some(Pseudo::MulUpperUU),
            _ => {
                if let Some(id) = symbol.strip_prefix(CALL_INDIRECT_PREFIX) {
                    id.parse().ok().map(Pseudo::CallIndirect)
                } else {
                    symbol.strip_prefix(ECALLI_PREFIX)?.parse().ok().map(Pseudo::Ecalli)
                }
            }
        }
    }
}

/// Argument registers, in order.
pub const ARG_REGS: [u8; 6] = [7, 8, 9, 10, 11, 12];
/// Result registers, in order (the first results of a call).
pub const RESULT_REGS: [u8; 2] = [7, 8];
/// Registers a callee must preserve.
pub const CALLEE_SAVED: [u8; 5] = [2, 3, 4, 5, 6];
/// Registers a call may clobber (besides its results). r0 is the return address: every
/// call overwrites it, and a function that calls saves its own in its frame.
pub const CALLER_SAVED: [u8; 6] = [7, 8, 9, 10, 11, 12];
/// The return-address register.
pub const RA: Reg = Reg::RA;
/// The stack pointer.
pub const SP: Reg = Reg::SP;

/// The register with number `n` (callers pass constants below 13).
pub fn reg(n: u8) -> Reg {
    Reg::new(n).expect("register numbers in the ABI tables are below 13")
}

#[cfg(test)]
mod tests {
    use super::Pseudo;

    #[test]
    fn pseudo_symbols_parse_back() {
        for pseudo in [
            Pseudo::MemoryGrow,
            Pseudo::CallIndirect(7),
            Pseudo::Ecalli(0x7fff_fff0),
            Pseudo::HostR8,
            Pseudo::AddressCheck,
            Pseudo::MulUpperUU,
        ] {
            assert_eq!(Pseudo::parse(&pseudo.symbol()), Some(pseudo));
        }
        assert_eq!(Pseudo::Ecalli(3).symbol(), "__pvm.ecalli.3");
        assert_eq!(Pseudo::parse("__pvm.ecalli.x"), None);
        assert_eq!(Pseudo::parse("__pvm.result.1.32"), None);
        assert_eq!(Pseudo::parse("wasm.func.3"), None);
    }
}
