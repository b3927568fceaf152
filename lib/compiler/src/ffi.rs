//! The compiler's only `unsafe` code: the LLVM operations that inkwell exposes only as
//! `unsafe` functions or not at all — building a non-`inbounds` GEP, and reading
//! constants, constant expressions, GEP offsets, aggregate indices and names of the
//! optimised module, and setting LLVM's process-wide options.
//!
//! Every function takes values and types that inkwell handed out (so they are live and
//! belong to the module being compiled) and checks the kind of a value before asking
//! for kind-specific data, as the LLVM C API requires.

use inkwell::builder::{Builder, BuilderError};
use inkwell::targets::TargetData;
use inkwell::values::{AsValueRef, IntValue, PointerValue};
use llvm_sys::core as c;
use llvm_sys::prelude::{LLVMTypeRef, LLVMValueRef};
use llvm_sys::target as t;
use llvm_sys::{LLVMIntPredicate, LLVMOpcode, LLVMTypeKind};

/// `getelementptr i8, ptr, index` without `inbounds`: plain address arithmetic that may
/// point anywhere, which is exactly how WebAssembly addresses behave. `ptr` is an `i8*`.
pub fn byte_gep<'c>(
    builder: &Builder<'c>,
    ptr: PointerValue<'c>,
    index: IntValue<'c>,
) -> Result<PointerValue<'c>, BuilderError> {
    // SAFETY: inkwell marks GEP unsafe because an `inbounds` GEP past its object is
    // undefined. This GEP is not `inbounds`; any index yields a well-defined pointer.
    unsafe { builder.build_gep(ptr, &[index], "") }
}

/// `getelementptr T, base, index` as a constant: element `index` of the array `base`
/// points to.
pub fn constant_element<'c>(base: PointerValue<'c>, index: IntValue<'c>) -> PointerValue<'c> {
    // SAFETY: a constant GEP on a constant pointer; callers stay inside the array.
    unsafe { base.const_gep(&[index]) }
}

/// A raw LLVM value of the module being compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawValue(LLVMValueRef);

/// Looks up the address assigned to a global by name.
pub type GlobalAddresses<'a> = &'a dyn Fn(&str) -> Option<u64>;

/// What constant evaluation needs: type sizes and the addresses of globals.
pub struct ConstEnv<'a> {
    /// The module's data layout.
    pub target_data: &'a TargetData,
    /// Addresses of globals.
    pub address_of: GlobalAddresses<'a>,
}

/// Width in bits of an integer or pointer type (pointers are 32-bit), else `None`.
fn int_width(ty: LLVMTypeRef) -> Option<u32> {
    // SAFETY: `ty` is a live type; the width is only read for integer types.
    unsafe {
        match c::LLVMGetTypeKind(ty) {
            LLVMTypeKind::LLVMIntegerTypeKind => Some(c::LLVMGetIntTypeWidth(ty)),
            LLVMTypeKind::LLVMPointerTypeKind => Some(32),
            _ => None,
        }
    }
}

fn mask(value: u64, bits: u32) -> u64 {
    if bits >= 64 { value } else { value & ((1u64 << bits) - 1) }
}

fn sext(value: u64, bits: u32) -> u64 {
    if bits >= 64 || bits == 0 { value } else { (((value << (64 - bits)) as i64) >> (64 - bits)) as u64 }
}

impl RawValue {
    /// The raw value of an inkwell value.
    pub fn of(value: &impl AsValueRef) -> Self {
        RawValue(value.as_value_ref())
    }

    fn ty(self) -> LLVMTypeRef {
        // SAFETY: every value has a type.
        unsafe { c::LLVMTypeOf(self.0) }
    }

    /// Integer width of the value's type (pointers: 32), if it is an integer or pointer.
    pub fn int_width(self) -> Option<u32> {
        int_width(self.ty())
    }

    /// The indices of an `extractvalue` or `insertvalue` instruction.
    pub fn aggregate_indices(self) -> Vec<u32> {
        // SAFETY: only read from extractvalue/insertvalue instructions (checked), whose
        // index array has LLVMGetNumIndices entries.
        unsafe {
            if c::LLVMIsAExtractValueInst(self.0).is_null() && c::LLVMIsAInsertValueInst(self.0).is_null() {
                return Vec::new();
            }
            let count = c::LLVMGetNumIndices(self.0) as usize;
            let indices = c::LLVMGetIndices(self.0);
            (0..count).map(|i| *indices.add(i)).collect()
        }
    }

    /// Whether the value is `undef` or `poison`.
    pub fn is_undef(self) -> bool {
        // SAFETY: LLVMIsUndef/LLVMIsPoison accept any value.
        unsafe { c::LLVMIsUndef(self.0) != 0 || c::LLVMIsPoison(self.0) != 0 }
    }

    /// Whether the value is a constant (of any kind, including globals).
    pub fn is_constant(self) -> bool {
        // SAFETY: LLVMIsConstant accepts any value.
        unsafe { c::LLVMIsConstant(self.0) != 0 }
    }

    /// The name of a named value.
    pub fn name(self) -> String {
        let mut len = 0usize;
        // SAFETY: LLVMGetValueName2 returns a pointer to `len` bytes owned by the value.
        unsafe {
            let ptr = c::LLVMGetValueName2(self.0, &mut len);
            if ptr.is_null() {
                return String::new();
            }
            String::from_utf8_lossy(std::slice::from_raw_parts(ptr.cast::<u8>(), len)).into_owned()
        }
    }

    /// The initializer of a global variable.
    pub fn initializer(self) -> Option<RawValue> {
        // SAFETY: only read from global variables (checked).
        unsafe {
            if c::LLVMIsAGlobalVariable(self.0).is_null() {
                return None;
            }
            let init = c::LLVMGetInitializer(self.0);
            (!init.is_null()).then_some(RawValue(init))
        }
    }

    /// Allocation size in bytes of the type a global variable holds.
    pub fn global_value_size(self, td: &TargetData) -> u64 {
        // SAFETY: LLVMGlobalGetValueType is valid on global values (checked).
        unsafe {
            if c::LLVMIsAGlobalValue(self.0).is_null() {
                return 0;
            }
            t::LLVMABISizeOfType(td.as_mut_ptr(), c::LLVMGlobalGetValueType(self.0))
        }
    }

    /// The constant-operand byte offset and the scaled variable operands of a
    /// `getelementptr` (instruction or constant expression): operand 0 is the base;
    /// each term is `(operand index, bytes per unit)`.
    pub fn gep_layout(self, env: &ConstEnv<'_>) -> Result<(i64, Vec<(u32, u64)>), String> {
        // SAFETY: only used on GEPs (the caller matched the opcode); the source element
        // type and the types stepped through are live types of the module.
        unsafe {
            let td = env.target_data.as_mut_ptr();
            let mut ty = c::LLVMGetGEPSourceElementType(self.0);
            let count = c::LLVMGetNumOperands(self.0) as u32;
            let mut offset: i64 = 0;
            let mut terms = Vec::new();
            for index in 1..count {
                let operand = RawValue(c::LLVMGetOperand(self.0, index));
                if index == 1 {
                    let size = t::LLVMABISizeOfType(td, ty);
                    step(&mut offset, &mut terms, operand, index, size, env)?;
                    continue;
                }
                match c::LLVMGetTypeKind(ty) {
                    LLVMTypeKind::LLVMStructTypeKind => {
                        let field = operand.eval(env)? as u32;
                        offset += t::LLVMOffsetOfElement(td, ty, field) as i64;
                        ty = c::LLVMStructGetTypeAtIndex(ty, field);
                    }
                    LLVMTypeKind::LLVMArrayTypeKind => {
                        ty = c::LLVMGetElementType(ty);
                        step(&mut offset, &mut terms, operand, index, t::LLVMABISizeOfType(td, ty), env)?;
                    }
                    _ => return Err("getelementptr into an unsupported type".into()),
                }
            }
            Ok((offset, terms))
        }
    }

    /// Evaluates a constant to its bits (zero-extended from its width; pointers are
    /// 32-bit addresses).
    pub fn eval(self, env: &ConstEnv<'_>) -> Result<u64, String> {
        // SAFETY: every C call below is guarded by the matching LLVMIsA* check.
        unsafe {
            let v = self.0;
            if !c::LLVMIsAConstantInt(v).is_null() {
                let bits = c::LLVMGetIntTypeWidth(c::LLVMTypeOf(v));
                if bits > 64 {
                    return Err(format!("{bits}-bit integer constants are not supported"));
                }
                return Ok(c::LLVMConstIntGetZExtValue(v));
            }
            if !c::LLVMIsAConstantPointerNull(v).is_null() || self.is_undef() {
                return Ok(0);
            }
            if !c::LLVMIsAGlobalValue(v).is_null() {
                let name = self.name();
                return (env.address_of)(&name).ok_or_else(|| format!("no address for global {name}"));
            }
            if c::LLVMIsAConstantExpr(v).is_null() {
                return Err("unsupported constant".into());
            }
            let opcode = c::LLVMGetConstOpcode(v);
            let bits = int_width(c::LLVMTypeOf(v)).ok_or("constant expression of a non-integer type")?;
            let arg = |i: u32| -> Result<u64, String> { RawValue(c::LLVMGetOperand(v, i)).eval(env) };
            let arg_bits = |i: u32| int_width(c::LLVMTypeOf(c::LLVMGetOperand(v, i))).unwrap_or(64);
            use LLVMOpcode::*;
            let value = match opcode {
                LLVMBitCast | LLVMPtrToInt | LLVMIntToPtr | LLVMTrunc | LLVMZExt => arg(0)?,
                LLVMSExt => sext(arg(0)?, arg_bits(0)),
                LLVMAdd => arg(0)?.wrapping_add(arg(1)?),
                LLVMSub => arg(0)?.wrapping_sub(arg(1)?),
                LLVMMul => arg(0)?.wrapping_mul(arg(1)?),
                LLVMAnd => arg(0)? & arg(1)?,
                LLVMOr => arg(0)? | arg(1)?,
                LLVMXor => arg(0)? ^ arg(1)?,
                LLVMShl => arg(0)?.checked_shl(arg(1)? as u32).unwrap_or(0),
                LLVMLShr => arg(0)?.checked_shr(arg(1)? as u32).unwrap_or(0),
                LLVMAShr => (sext(arg(0)?, bits) as i64).checked_shr(arg(1)? as u32).unwrap_or(0) as u64,
                LLVMGetElementPtr => {
                    let (offset, terms) = self.gep_layout(env)?;
                    if !terms.is_empty() {
                        return Err("constant getelementptr with variable indices".into());
                    }
                    arg(0)?.wrapping_add(offset as u64)
                }
                LLVMICmp => {
                    let w = arg_bits(0);
                    let (a, b) = (arg(0)?, arg(1)?);
                    let (sa, sb) = (sext(a, w) as i64, sext(b, w) as i64);
                    use LLVMIntPredicate::*;
                    u64::from(match c::LLVMGetICmpPredicate(v) {
                        LLVMIntEQ => a == b,
                        LLVMIntNE => a != b,
                        LLVMIntUGT => a > b,
                        LLVMIntUGE => a >= b,
                        LLVMIntULT => a < b,
                        LLVMIntULE => a <= b,
                        LLVMIntSGT => sa > sb,
                        LLVMIntSGE => sa >= sb,
                        LLVMIntSLT => sa < sb,
                        LLVMIntSLE => sa <= sb,
                    })
                }
                LLVMSelect => {
                    if arg(0)? & 1 == 1 {
                        arg(1)?
                    } else {
                        arg(2)?
                    }
                }
                other => return Err(format!("unsupported constant expression {other:?}")),
            };
            Ok(mask(value, bits))
        }
    }

    /// The bytes of a constant of `size` bytes (a global initializer).
    pub fn bytes(self, size: u64, env: &ConstEnv<'_>) -> Result<Vec<u8>, String> {
        let mut out = vec![0u8; size as usize];
        self.write_bytes(&mut out, env)?;
        Ok(out)
    }

    fn write_bytes(self, out: &mut [u8], env: &ConstEnv<'_>) -> Result<(), String> {
        // SAFETY: every C call below is guarded by the matching LLVMIsA* check; element
        // and operand indices stay below the counts LLVM reports.
        unsafe {
            let v = self.0;
            if !c::LLVMIsAConstantAggregateZero(v).is_null() || self.is_undef() {
                return Ok(());
            }
            let td = env.target_data.as_mut_ptr();
            let ty = c::LLVMTypeOf(v);
            if !c::LLVMIsAConstantDataSequential(v).is_null() || !c::LLVMIsAConstantArray(v).is_null() {
                let element = c::LLVMGetElementType(ty);
                let size = t::LLVMABISizeOfType(td, element) as usize;
                for i in 0..c::LLVMGetArrayLength(ty) {
                    let item = if c::LLVMIsAConstantArray(v).is_null() {
                        c::LLVMGetElementAsConstant(v, i)
                    } else {
                        c::LLVMGetOperand(v, i)
                    };
                    let start = i as usize * size;
                    RawValue(item).write_bytes(&mut out[start..start + size], env)?;
                }
                return Ok(());
            }
            if !c::LLVMIsAConstantStruct(v).is_null() {
                for i in 0..c::LLVMCountStructElementTypes(ty) {
                    let start = t::LLVMOffsetOfElement(td, ty, i) as usize;
                    let size = t::LLVMABISizeOfType(td, c::LLVMStructGetTypeAtIndex(ty, i)) as usize;
                    RawValue(c::LLVMGetOperand(v, i)).write_bytes(&mut out[start..start + size], env)?;
                }
                return Ok(());
            }
            let value = self.eval(env)?;
            let size = t::LLVMStoreSizeOfType(td, ty) as usize;
            let bytes = value.to_le_bytes();
            out[..size.min(8)].copy_from_slice(&bytes[..size.min(8)]);
            Ok(())
        }
    }
}

/// Adds one GEP index: constant indices go to `offset`, others become terms.
fn step(
    offset: &mut i64,
    terms: &mut Vec<(u32, u64)>,
    operand: RawValue,
    index: u32,
    size: u64,
    env: &ConstEnv<'_>,
) -> Result<(), String> {
    if operand.is_constant() {
        let bits = operand.int_width().unwrap_or(64);
        let value = sext(operand.eval(env)?, bits) as i64;
        *offset = offset.wrapping_add(value.wrapping_mul(size as i64));
    } else if size != 0 {
        terms.push((index, size));
    }
    Ok(())
}

/// Sign-extends the low `bits` of `value` (shared with the back end's constant handling).
pub fn sign_extend(value: u64, bits: u32) -> u64 {
    sext(value, bits)
}

/// Sets LLVM's process-wide command-line options (`-name=value`). LLVM rejects an option
/// given twice, so the caller must call this once per process.
pub fn set_llvm_options(options: &[&str]) {
    let args: Vec<std::ffi::CString> = std::iter::once("wasm2pvm")
        .chain(options.iter().copied())
        .map(|a| std::ffi::CString::new(a).expect("option text without NUL"))
        .collect();
    let argv: Vec<*const std::ffi::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: `argv` points to `args.len()` NUL-terminated strings that outlive the call;
    // LLVM copies what it keeps.
    unsafe { llvm_sys::support::LLVMParseCommandLineOptions(argv.len() as i32, argv.as_ptr(), std::ptr::null()) }
}
