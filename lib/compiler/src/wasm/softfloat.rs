//! IEEE 754 floating point in software: the routines behind every f32/f64 operator that
//! is not a bit move. They are written once in integer-only WebAssembly
//! (`softfloat.wat`, instantiated for binary32 and binary64), read by the same front end
//! as the program, and added to the program's LLVM module as internal functions — only
//! those the program uses — so LLVM optimises and inlines them like any other code.
//! Each routine is exported under the name of the operator it implements (`f32.add`,
//! `i64.trunc_sat_f64_u`, ...) with that operator's signature.

use crate::error::{CompileError, Result};
use crate::options::Options;
use crate::wasm::module::Module;
use std::sync::OnceLock;

const TEMPLATE: &str = include_str!("softfloat.wat");

/// The constants of one binary interchange format, as the template names them.
struct Format {
    /// Bits of the format (32 or 64).
    width: u32,
    /// Explicit significand bits.
    m: i64,
    /// Exponent bits.
    e: i64,
}

impl Format {
    fn substitutions(&self) -> Vec<(&'static str, String)> {
        let (m, e) = (self.m, self.e);
        let bias = (1i64 << (e - 1)) - 1;
        let emax = (1i64 << e) - 1;
        let sign = 1u64 << (m + e);
        let inf = (emax as u64) << m;
        // The square root's first radicand, m << sqrt_shift (m below 2^(M + 2)), stays below
        // 2^63 for Newton's iteration; each further block of root bits keeps the remainder
        // shifted by twice its size below 2^63. The root ends with M + 5 bits or more.
        let (sqrt_shift, sqrt_blocks): (i64, &[i64]) = match self.width {
            32 => (34, &[]),
            _ => (8, &[14, 8, 4]),
        };
        let sqrt_root_shift = sqrt_shift / 2 + sqrt_blocks.iter().sum::<i64>();
        let (ty, ext, wrap, narrow) = match self.width {
            32 => (
                "i32",
                "(i64.extend_i32_u (local.get $x))",
                "(i32.wrap_i64 (local.get $x))",
                "(i64.and (local.get $x) (i64.const 0xffffffff))",
            ),
            _ => ("i64", "(local.get $x)", "(local.get $x)", "(local.get $x)"),
        };
        // Addition's common case (`$add@`): the magnitude key (the exponent field at the top
        // of a 31-bit or 64-bit integer) and the significand with its leading one at bit
        // add_top - 1, above at least three zero bits (guard, round, sticky).
        let (add_key, add_key_exp, add_sig, add_top): (&str, i64, &str, i64) = match self.width {
            32 => (
                "(i64.and (local.get $x) (i64.const 0x7fffffff))",
                23,
                "(i64.shl (i64.and (i64.or (local.get $x) (i64.const 0x800000)) (i64.const 0xffffff)) (i64.const 6))",
                30,
            ),
            _ => (
                "(i64.shl (local.get $x) (i64.const 1))",
                53,
                "(i64.shr_u (i64.or (i64.shl (local.get $x) (i64.const 10)) (i64.const -0x8000000000000000)) (i64.const 2))",
                62,
            ),
        };
        let add_cut = add_top - m;
        let int = |v: i64| v.to_string();
        let bits = |v: u64| (v as i64).to_string();
        vec![
            ("{T}", ty.to_string()),
            ("{EXT}", ext.to_string()),
            ("{WRAP}", wrap.to_string()),
            ("{M}", int(m)),
            ("{BIAS}", int(bias)),
            ("{EMAX}", int(emax)),
            ("{EMAX_1}", int(emax - 1)),
            ("{SIGN}", bits(sign)),
            ("{MAG}", bits(sign - 1)),
            ("{INF}", bits(inf)),
            ("{QNAN}", bits(inf | 1 << (m - 1))),
            ("{FMASK}", bits((1 << m) - 1)),
            ("{EXPMASK}", bits(inf)),
            ("{IMPL}", bits(1 << m)),
            ("{UNPACK_LZ}", int(63 - m)),
            ("{PACK_LZ}", int(60 - m)),
            // The significands' product (below 2^(2M + 2)) times 2^(64 - (M - 3)): its high
            // half is the product >> (M - 3), the rest of it in the low half.
            ("{MUL_SHIFT_A}", int((67 - m) / 2)),
            ("{MUL_SHIFT_B}", int((67 - m) - (67 - m) / 2)),
            ("{DIV_STEP}", int(62 - m)),
            ("{DIV_BITS}", int(m + 5)),
            ("{DIV_EXP}", int(bias - 2)),
            ("{SQRT_K}", int(bias + m)),
            ("{SQRT_SHIFT}", int(sqrt_shift)),
            ("{SQRT_BLOCKS}", int(sqrt_blocks.iter().rev().fold(0, |blocks, &bits| blocks << 8 | bits))),
            ("{SQRT_EXP}", int(bias + m + 3 - sqrt_root_shift)),
            ("{INTEGRAL_EXP}", int(bias + m)),
            ("{HALF_EXP}", int(bias - 1)),
            ("{ONE}", bits((bias as u64) << m)),
            ("{TOP_DROP}", int(63 - m)),
            ("{TOP_KEEP}", int(m + 1)),
            ("{LZ_EXP}", int(bias + 62)),
            ("{NARROW}", narrow.to_string()),
            ("{WIDE_SIGN}", int(-1 << (self.width - 1))),
            ("{ADD_KEY}", add_key.to_string()),
            ("{ADD_KEY_EXP}", int(add_key_exp)),
            ("{ADD_SIG}", add_sig.to_string()),
            ("{ADD_SIG_TOP}", int(add_top - 1)),
            ("{ADD_TOP}", int(add_top)),
            ("{ADD_LZ}", int(63 - add_top)),
            ("{ADD_CUT}", int(add_cut)),
            ("{ADD_HALF_1}", int((1 << (add_cut - 1)) - 1)),
            // The sum is normal (cancellation moves the leading one down at most M + 2
            // places) and a zero or subnormal y is below a quarter of x's last place from
            // exponent field M + 3 on; it is finite or rounds exactly to infinity up to
            // EMAX - 2.
            ("{ADD_ELO}", int(m + 3)),
            ("{ADD_ERANGE}", int(emax - 2 - (m + 3) + 1)),
        ]
    }

    fn instantiate(&self, part: &str) -> String {
        let mut text = part.replace('@', &self.width.to_string());
        for (name, value) in self.substitutions() {
            text = text.replace(name, &value);
        }
        text
    }
}

/// The routines as WebAssembly text: the template with its per-format part instantiated
/// for binary32 and binary64.
pub fn text() -> String {
    let (head, rest) = TEMPLATE.split_once(";; @begin").expect("the template has a per-format part");
    let (part, tail) = rest.split_once(";; @end").expect("the per-format part ends");
    let formats = [Format { width: 32, m: 23, e: 8 }, Format { width: 64, m: 52, e: 11 }];
    let mut text = head.to_string();
    for format in &formats {
        text.push_str(&format.instantiate(part));
    }
    text.push_str(tail);
    text
}

/// Whether the routine named `name` is the general case of an operator whose common
/// case has a short path of its own (`$add_general32`, `$mul_general64`, ...): it stays
/// out of line (`noinline`, `cold`), so that inlining the short path brings no register
/// pressure and no code for operands that are rare.
pub fn is_out_of_line(name: &str) -> bool {
    name.contains("_general")
}

/// The routines as a WebAssembly binary (assembled once per process).
pub fn binary() -> &'static [u8] {
    static BINARY: OnceLock<Vec<u8>> = OnceLock::new();
    BINARY.get_or_init(|| wat::parse_str(text()).expect("softfloat.wat is valid WebAssembly text"))
}

/// The routines as the front end reads them.
pub fn module() -> Result<Module<'static>> {
    Module::parse(binary(), &Options::default())
        .map_err(|e| CompileError::new(format!("internal error: the float routines: {e}")))
}
