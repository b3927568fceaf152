//! The compiler's only `unsafe` code: the LLVM operations that inkwell exposes only as
//! `unsafe` functions or not at all — building a non-`inbounds` GEP, and reading
//! constants, constant expressions, GEP offsets, aggregate indices and names of the
//! optimised module, and setting LLVM's process-wide options; and the handover of an
//! LLVM context to another thread and back ([`spawn_in_context`], [`join_context_thread`]).
//!
//! [`RawValue`] carries the lifetime of the LLVM context its value lives in, like
//! inkwell's own values, so it cannot outlive the context. Every function checks the
//! kind of a value (and of its type) before asking for kind-specific data, as the LLVM C
//! API requires, and returns an error for a kind it does not handle.

use inkwell::builder::{Builder, BuilderError};
use inkwell::targets::TargetData;
use inkwell::values::{AnyValue, IntValue, PointerValue};
use llvm_sys::core as c;
use llvm_sys::prelude::{LLVMTypeRef, LLVMValueRef};
use llvm_sys::target as t;
use llvm_sys::{LLVMIntPredicate, LLVMOpcode, LLVMTypeKind};
use std::marker::PhantomData;

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

/// Stack of a thread that works in an LLVM context: deeply nested WebAssembly makes the
/// translation recurse deeply.
const CONTEXT_THREAD_STACK: usize = 1 << 30;

/// A value tied to an LLVM context (the context itself, a module built in it, its
/// functions) on its way to or from another thread. LLVM lets any thread use a context as
/// long as no two use it at once. The only handovers are those of
/// [`spawn_in_context`] and [`join_context_thread`]: the value goes to the new thread as
/// it starts and comes back when it has ended, and the calling thread leaves the context
/// alone in between (each part of a split module has a context of its own).
pub struct ContextBound<T>(T);

// SAFETY: see the type's documentation: the value and everything else of its context is
// used by one thread at a time, the handover being a thread's start or its end (`join`).
unsafe impl<T> Send for ContextBound<T> {}

impl<T> ContextBound<T> {
    fn take(self) -> T {
        self.0
    }
}

/// Runs `work` on `value`, a value of an LLVM context the calling thread leaves alone
/// until [`join_context_thread`] gives back the result, on a thread of its own in `scope`.
pub fn spawn_in_context<'scope, T: 'scope, R: 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    value: T,
    work: impl FnOnce(T) -> R + Send + 'scope,
) -> Result<std::thread::ScopedJoinHandle<'scope, ContextBound<R>>, crate::CompileError> {
    let value = ContextBound(value);
    std::thread::Builder::new()
        .stack_size(CONTEXT_THREAD_STACK)
        .spawn_scoped(scope, move || {
            // A method call, so that the closure takes the whole wrapper, not its field.
            let value = value.take();
            ContextBound(work(value))
        })
        .map_err(|e| crate::CompileError::new(format!("cannot start a compiler thread: {e}")))
}

/// Waits for a thread of [`spawn_in_context`] and takes its result; its panic, if it
/// panicked, goes on in the calling thread.
pub fn join_context_thread<R>(handle: std::thread::ScopedJoinHandle<'_, ContextBound<R>>) -> R {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)).take()
}

/// A raw LLVM value of the module being compiled, valid as long as its context `'c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawValue<'c>(LLVMValueRef, PhantomData<&'c ()>);

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

impl<'c> RawValue<'c> {
    /// The raw value of an inkwell value of context `'c`.
    pub fn of(value: &impl AnyValue<'c>) -> Self {
        RawValue(value.as_value_ref(), PhantomData)
    }

    /// A value LLVM handed out for this value (an operand, an initializer), which lives
    /// in the same context.
    fn related(&self, value: LLVMValueRef) -> Self {
        RawValue(value, PhantomData)
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
    pub fn initializer(self) -> Option<RawValue<'c>> {
        // SAFETY: only read from global variables (checked).
        unsafe {
            if c::LLVMIsAGlobalVariable(self.0).is_null() {
                return None;
            }
            let init = c::LLVMGetInitializer(self.0);
            (!init.is_null()).then_some(self.related(init))
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
        // SAFETY: the value is checked to be a GEP (instruction or constant expression);
        // the types stepped through are live types of the module, and struct field
        // indices are checked against the field count.
        unsafe {
            let is_gep = !c::LLVMIsAGetElementPtrInst(self.0).is_null()
                || (!c::LLVMIsAConstantExpr(self.0).is_null()
                    && c::LLVMGetConstOpcode(self.0) == LLVMOpcode::LLVMGetElementPtr);
            if !is_gep {
                return Err("internal error: getelementptr offsets asked of another kind of value".into());
            }
            let td = env.target_data.as_mut_ptr();
            let mut ty = c::LLVMGetGEPSourceElementType(self.0);
            let count = c::LLVMGetNumOperands(self.0) as u32;
            let mut offset: i64 = 0;
            let mut terms = Vec::new();
            for index in 1..count {
                let operand = self.related(c::LLVMGetOperand(self.0, index));
                if index == 1 {
                    let size = t::LLVMABISizeOfType(td, ty);
                    step(&mut offset, &mut terms, operand, index, size, env)?;
                    continue;
                }
                match c::LLVMGetTypeKind(ty) {
                    LLVMTypeKind::LLVMStructTypeKind => {
                        let field = operand.eval(env)?;
                        if field >= u64::from(c::LLVMCountStructElementTypes(ty)) {
                            return Err(format!("getelementptr to field {field} of a smaller struct"));
                        }
                        let field = field as u32;
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
            let arg = |i: u32| -> Result<u64, String> { self.related(c::LLVMGetOperand(v, i)).eval(env) };
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
            let sequence_length = match c::LLVMGetTypeKind(ty) {
                LLVMTypeKind::LLVMArrayTypeKind => Some(u64::from(c::LLVMGetArrayLength(ty))),
                LLVMTypeKind::LLVMVectorTypeKind => Some(u64::from(c::LLVMGetVectorSize(ty))),
                _ => None,
            };
            if let Some(length) = sequence_length {
                let element = c::LLVMGetElementType(ty);
                let size = t::LLVMABISizeOfType(td, element);
                if t::LLVMStoreSizeOfType(td, element) != size {
                    return Err("constant sequences of elements with padding are not supported".into());
                }
                let elements: unsafe extern "C" fn(LLVMValueRef, u32) -> LLVMValueRef =
                    if !c::LLVMIsAConstantDataSequential(v).is_null() {
                        c::LLVMGetElementAsConstant
                    } else if !c::LLVMIsAConstantArray(v).is_null() || !c::LLVMIsAConstantVector(v).is_null() {
                        c::LLVMGetOperand
                    } else {
                        return Err("unsupported constant array or vector".into());
                    };
                for i in 0..length {
                    let part = slice(out, i * size, size)?;
                    self.related(elements(v, i as u32)).write_bytes(part, env)?;
                }
                return Ok(());
            }
            if !c::LLVMIsAConstantStruct(v).is_null() {
                for i in 0..c::LLVMCountStructElementTypes(ty) {
                    let start = t::LLVMOffsetOfElement(td, ty, i);
                    let size = t::LLVMABISizeOfType(td, c::LLVMStructGetTypeAtIndex(ty, i));
                    self.related(c::LLVMGetOperand(v, i)).write_bytes(slice(out, start, size)?, env)?;
                }
                return Ok(());
            }
            let value = self.eval(env)?;
            let size = (t::LLVMStoreSizeOfType(td, ty) as usize).min(8);
            slice(out, 0, size as u64)?.copy_from_slice(&value.to_le_bytes()[..size]);
            Ok(())
        }
    }
}

/// `size` bytes of `out` from `start`, or an error if the constant's layout does not fit
/// the bytes of the global it initialises.
fn slice(out: &mut [u8], start: u64, size: u64) -> Result<&mut [u8], String> {
    let len = out.len();
    usize::try_from(start)
        .ok()
        .zip(usize::try_from(size).ok())
        .and_then(|(start, size)| out.get_mut(start..start.checked_add(size)?))
        .ok_or_else(|| format!("constant bytes {start}..{} outside the {len} bytes of the global", start + size))
}

/// Adds one GEP index: constant indices go to `offset`, others become terms.
fn step(
    offset: &mut i64,
    terms: &mut Vec<(u32, u64)>,
    operand: RawValue<'_>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use inkwell::context::Context;
    use inkwell::values::BasicValue;

    fn no_globals(_: &str) -> Option<u64> {
        None
    }

    #[test]
    fn constant_arrays_vectors_and_structs_read_as_their_own_kinds() {
        let context = Context::create();
        let td = TargetData::create(crate::optimize::DATA_LAYOUT);
        let env = ConstEnv { target_data: &td, address_of: &no_globals };
        let i16 = context.i16_type();
        let i32 = context.i32_type();
        let halves = [i16.const_int(0x0102, false), i16.const_int(0x0304, false), i16.const_int(0xfffe, false)];
        let array = i16.const_array(&halves);
        assert_eq!(RawValue::of(&array).bytes(6, &env).unwrap(), [2, 1, 4, 3, 0xfe, 0xff]);
        // A vector has a vector type, not an array type: its length is read as such.
        let vector = inkwell::types::VectorType::const_vector(&[i32.const_int(7, false), i32.const_int(9, false)]);
        assert_eq!(RawValue::of(&vector).bytes(8, &env).unwrap(), [7, 0, 0, 0, 9, 0, 0, 0]);
        let pair = context.const_struct(&[i16.const_int(5, false).as_basic_value_enum(), array.into()], false);
        assert_eq!(RawValue::of(&pair).bytes(8, &env).unwrap(), [5, 0, 2, 1, 4, 3, 0xfe, 0xff]);
        // A global smaller than its initializer is an error, not a write past the bytes.
        assert_eq!(
            RawValue::of(&array).bytes(4, &env).unwrap_err(),
            "constant bytes 4..6 outside the 4 bytes of the global"
        );
        // Kind-specific reads of the wrong kind of value are errors.
        let gep = RawValue::of(&i32.const_int(1, false)).gep_layout(&env).unwrap_err();
        assert_eq!(gep, "internal error: getelementptr offsets asked of another kind of value");
        assert!(RawValue::of(&array).aggregate_indices().is_empty());
        assert_eq!(RawValue::of(&array).initializer(), None);
    }
}
