//! WebAssembly function bodies to LLVM IR.
//!
//! Locals and block values live in allocas that LLVM's SSA promotion turns into phis.
//! Every WebAssembly trap is explicit control flow to `llvm.trap` (division by zero,
//! signed overflow, out-of-range table index, memory offsets that would wrap the 32-bit
//! address space), so LLVM never sees undefined behaviour. Floats travel as integer bit
//! patterns; loads, stores, constants, moves, `abs`/`neg`/`copysign` and reinterpretations
//! are exact, every other float operator is an error or, with `trap_floats`, a trap.

use crate::error::{CompileError, Result};
use crate::ffi;
use crate::wasm::ir::IrModule;
use crate::wasm::module::{Module, Signature, ValType};
use inkwell::IntPredicate;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, GlobalValue, IntValue, PointerValue};
use wasmparser::{BlockType, MemArg, Operator};

/// The limits that wrap checks use, smallest first: an access whose offset plus size is
/// at most `g` checks `address <= 2^32 - g`, so accesses to one address with offsets in
/// the same tier share one check, and `-g` fits a one- or two-byte immediate. Addresses
/// above `2^32 - 2^16` are out of bounds anyway (linear memory ends far below 4 GiB).
const WRAP_GUARDS: [u64; 3] = [0x80, 0x8000, 0x1_0000];

type BuildResult<T> = std::result::Result<T, inkwell::builder::BuilderError>;

fn llvm(e: inkwell::builder::BuilderError) -> CompileError {
    CompileError::new(format!("LLVM builder: {e}"))
}

/// What kind of control construct a frame is.
enum FrameKind<'c> {
    Block,
    Loop,
    If { else_block: Option<BasicBlock<'c>>, params: Vec<IntValue<'c>> },
}

/// An open control construct.
struct Frame<'c> {
    kind: FrameKind<'c>,
    /// Where `br` to this frame goes (the loop header, else the following block).
    branch_target: BasicBlock<'c>,
    /// Slots the branch values are stored to (loop params, else results).
    branch_slots: Vec<(PointerValue<'c>, ValType)>,
    /// The block after the construct.
    following: BasicBlock<'c>,
    /// Result slots, read at the start of `following`.
    result_slots: Vec<(PointerValue<'c>, ValType)>,
    /// Operand stack height below the construct's parameters.
    height: usize,
    /// Whether any edge reaches `following`.
    following_reached: bool,
}

/// Translates one defined function.
pub struct FunctionTranslator<'c, 'm, 'w> {
    ir: &'m IrModule<'c>,
    module: &'m Module<'w>,
    builder: Builder<'c>,
    function: FunctionValue<'c>,
    locals: Vec<(PointerValue<'c>, ValType)>,
    stack: Vec<IntValue<'c>>,
    frames: Vec<Frame<'c>>,
    /// When set, the current code is unreachable; counts constructs opened inside it.
    dead_depth: Option<u32>,
    trap_block: Option<BasicBlock<'c>>,
    entry: BasicBlock<'c>,
    results: Vec<ValType>,
    /// Byte offset of the operator being translated.
    offset: usize,
}

impl<'c, 'm, 'w> FunctionTranslator<'c, 'm, 'w> {
    /// Translates defined function `index` into its (already declared) LLVM function.
    pub fn translate(ir: &'m IrModule<'c>, module: &'m Module<'w>, index: u32) -> Result<()> {
        let wasm_function = &module.functions[index as usize];
        let body = wasm_function.body.as_ref().expect("defined functions have bodies");
        let function = ir.functions[index as usize];
        let builder = ir.context.create_builder();
        let entry = ir.context.append_basic_block(function, "entry");
        let signature = module.signature(index).clone();
        let mut t = FunctionTranslator {
            ir,
            module,
            builder,
            function,
            locals: Vec::new(),
            stack: Vec::new(),
            frames: Vec::new(),
            dead_depth: None,
            trap_block: None,
            entry,
            results: signature.results.clone(),
            offset: body.range().start as usize,
        };
        t.run(body, &signature).map_err(|e| e.in_function(wasm_function.name.clone()))
    }

    fn run(&mut self, body: &wasmparser::FunctionBody<'w>, signature: &Signature) -> Result<()> {
        self.builder.position_at_end(self.entry);
        for (i, &ty) in signature.params.iter().enumerate() {
            let slot = self.alloca(ty).map_err(llvm)?;
            let param = self.function.get_nth_param(i as u32).expect("declared with every parameter").into_int_value();
            self.builder.build_store(slot, param).map_err(llvm)?;
            self.locals.push((slot, ty));
        }
        for local in body.get_locals_reader()? {
            let (count, ty) = local?;
            let ty = ValType::from_wasm_local(ty)?;
            for _ in 0..count {
                let slot = self.alloca(ty).map_err(llvm)?;
                self.builder.build_store(slot, self.ir.int_type(ty).const_zero()).map_err(llvm)?;
                self.locals.push((slot, ty));
            }
        }
        // The function body is a block whose results are the function's results.
        let following = self.ir.context.append_basic_block(self.function, "return");
        let result_slots = self.slots(&self.results.clone()).map_err(llvm)?;
        self.frames.push(Frame {
            kind: FrameKind::Block,
            branch_target: following,
            branch_slots: result_slots.clone(),
            following,
            result_slots,
            height: 0,
            following_reached: false,
        });
        let mut reader = body.get_operators_reader()?;
        let mut operators = Vec::new();
        while !reader.eof() {
            let offset = reader.original_position() as usize;
            operators.push((offset, reader.read()?));
        }
        for (offset, op) in &operators {
            self.offset = *offset;
            self.operator(op.clone())
                .map_err(|e| if e.offset.is_none() { CompileError { offset: Some(self.offset), ..e } } else { e })?;
        }
        self.seal().map_err(llvm)
    }

    fn err(&self, message: impl Into<String>) -> CompileError {
        CompileError::at(self.offset, message)
    }

    // ---- small helpers -------------------------------------------------------------

    fn alloca(&self, ty: ValType) -> BuildResult<PointerValue<'c>> {
        let b = self.ir.context.create_builder();
        match self.entry.get_first_instruction() {
            Some(first) => b.position_before(&first),
            None => b.position_at_end(self.entry),
        }
        b.build_alloca(self.ir.int_type(ty), "")
    }

    fn slots(&self, types: &[ValType]) -> BuildResult<Vec<(PointerValue<'c>, ValType)>> {
        types.iter().map(|&ty| Ok((self.alloca(ty)?, ty))).collect()
    }

    fn pop(&mut self) -> Result<IntValue<'c>> {
        self.stack.pop().ok_or_else(|| self.err("operand stack underflow"))
    }

    fn pop_n(&mut self, n: usize) -> Result<Vec<IntValue<'c>>> {
        if self.stack.len() < n {
            return Err(self.err("operand stack underflow"));
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    fn push(&mut self, v: IntValue<'c>) {
        self.stack.push(v);
    }

    fn i32c(&self, v: u64) -> IntValue<'c> {
        self.ir.i32.const_int(v, false)
    }

    fn i64c(&self, v: u64) -> IntValue<'c> {
        self.ir.i64.const_int(v, false)
    }

    fn store_slots(&self, slots: &[(PointerValue<'c>, ValType)], values: &[IntValue<'c>]) -> BuildResult<()> {
        for ((slot, _), value) in slots.iter().zip(values) {
            self.builder.build_store(*slot, *value)?;
        }
        Ok(())
    }

    fn load_slots(&self, slots: &[(PointerValue<'c>, ValType)]) -> BuildResult<Vec<IntValue<'c>>> {
        slots.iter().map(|&(slot, _)| Ok(self.builder.build_load(slot, "")?.into_int_value())).collect()
    }

    fn block_signature(&self, ty: BlockType) -> (Vec<ValType>, Vec<ValType>) {
        match ty {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![ValType::from_wasm_local(t).unwrap_or(ValType::I32)]),
            BlockType::FuncType(i) => {
                let s = &self.module.types[i as usize];
                (s.params.clone(), s.results.clone())
            }
        }
    }

    /// The function's shared trap block.
    fn trap_block(&mut self) -> BuildResult<BasicBlock<'c>> {
        if let Some(b) = self.trap_block {
            return Ok(b);
        }
        let block = self.ir.context.append_basic_block(self.function, "trap");
        let here = self.builder.get_insert_block();
        self.builder.position_at_end(block);
        self.builder.build_call(self.ir.trap, &[], "")?;
        self.builder.build_unreachable()?;
        if let Some(here) = here {
            self.builder.position_at_end(here);
        }
        self.trap_block = Some(block);
        Ok(block)
    }

    /// Branches to the trap block when `condition` holds; continues otherwise.
    fn trap_if(&mut self, condition: IntValue<'c>) -> BuildResult<()> {
        let trap = self.trap_block()?;
        let expected =
            self.builder.build_call(self.ir.expect_i1, &[condition.into(), self.ir.bool.const_zero().into()], "")?;
        let condition = expected.try_as_basic_value().basic().expect("llvm.expect returns a value").into_int_value();
        let cont = self.ir.context.append_basic_block(self.function, "");
        self.builder.build_conditional_branch(condition, trap, cont)?;
        self.builder.position_at_end(cont);
        Ok(())
    }

    /// Emits a trap and marks the rest of the construct unreachable.
    fn trap_here(&mut self) -> BuildResult<()> {
        self.builder.build_call(self.ir.trap, &[], "")?;
        self.builder.build_unreachable()?;
        self.dead_depth = Some(0);
        // Whatever the current operator still builds goes to a block nothing reaches.
        let dead = self.ir.context.append_basic_block(self.function, "dead");
        self.builder.position_at_end(dead);
        Ok(())
    }

    /// Terminates the current block with `unreachable` if it has no terminator (code
    /// after a trap, or an unreachable join).
    fn seal(&self) -> BuildResult<()> {
        if let Some(block) = self.builder.get_insert_block()
            && block.get_terminator().is_none()
        {
            self.builder.build_unreachable()?;
        }
        Ok(())
    }

    /// Handles a float operator the compiler does not implement: an error, or a trap
    /// that keeps the operand stack shape (`pops` operands, `pushes` results of `ty`).
    fn unsupported_float(&mut self, op: &Operator<'_>, pops: usize, push: Option<ValType>) -> Result<()> {
        if !self.ir.options.trap_floats {
            return Err(self.err(format!(
                "floating-point operator {} is not supported (use --trap-floats to compile it to a trap)",
                operator_name(op)
            )));
        }
        self.pop_n(pops)?;
        if let Some(ty) = push {
            self.push(self.ir.int_type(ty).get_undef());
        }
        if let Some(index) = self.ir.options.float_trap_host_call {
            // Announce the float trap to the host first (test harnesses tell it apart).
            let announce =
                self.ir.pseudo(&format!("{}{index}", crate::abi::ECALLI_PREFIX), self.ir.i64.fn_type(&[], false));
            self.builder.build_call(announce, &[], "").map_err(llvm)?;
        }
        self.trap_here().map_err(llvm)
    }

    // ---- memory -------------------------------------------------------------------

    /// The pointer for an access of `size` bytes at `address + memarg.offset`, with the
    /// check that keeps the effective address from wrapping past 2^32.
    fn address(&mut self, address: IntValue<'c>, memarg: &MemArg, size: u64) -> Result<PointerValue<'c>> {
        let offset = memarg.offset;
        if offset > 0 {
            let end = offset + size;
            let guard = WRAP_GUARDS.into_iter().find(|&g| end <= g).unwrap_or(end);
            let limit = (1u64 << 32).saturating_sub(guard);
            if end > 1 << 32 {
                self.trap_here().map_err(llvm)?;
                return Ok(self.ir.memory_base());
            }
            let wraps =
                self.builder.build_int_compare(IntPredicate::UGT, address, self.i32c(limit), "").map_err(llvm)?;
            self.trap_if(wraps).map_err(llvm)?;
        }
        let base = ffi::byte_gep(&self.builder, self.ir.memory_base(), address).map_err(llvm)?;
        if offset == 0 {
            return Ok(base);
        }
        ffi::byte_gep(&self.builder, base, self.i32c(offset)).map_err(llvm)
    }

    fn load(&mut self, memarg: &MemArg, bytes: u32, result: ValType, signed: bool) -> Result<()> {
        let address = self.pop()?;
        let ptr = self.address(address, memarg, u64::from(bytes))?;
        let ty = self.ir.int_bits(bytes * 8);
        let typed = self.builder.build_pointer_cast(ptr, ty.ptr_type(Default::default()), "").map_err(llvm)?;
        let value = self.builder.build_load(typed, "").map_err(llvm)?.into_int_value();
        let load = value.as_instruction().expect("a load is an instruction");
        load.set_alignment(1).map_err(|e| self.err(e.to_string()))?;
        // Out-of-bounds accesses trap through the PVM's page faults, which LLVM does not
        // know about: every load is volatile, so none is deleted (even when its value is
        // unused), merged or moved past another access.
        load.set_volatile(true).map_err(|e| self.err(e.to_string()))?;
        let target = self.ir.int_type(result);
        let value = if bytes * 8 == result.bits() {
            value
        } else if signed {
            self.builder.build_int_s_extend(value, target, "").map_err(llvm)?
        } else {
            self.builder.build_int_z_extend(value, target, "").map_err(llvm)?
        };
        self.push(value);
        Ok(())
    }

    fn store(&mut self, memarg: &MemArg, bytes: u32) -> Result<()> {
        let value = self.pop()?;
        let address = self.pop()?;
        let ptr = self.address(address, memarg, u64::from(bytes))?;
        let ty = self.ir.int_bits(bytes * 8);
        let value = if value.get_type().get_bit_width() == bytes * 8 {
            value
        } else {
            self.builder.build_int_truncate(value, ty, "").map_err(llvm)?
        };
        let typed = self.builder.build_pointer_cast(ptr, ty.ptr_type(Default::default()), "").map_err(llvm)?;
        let store = self.builder.build_store(typed, value).map_err(llvm)?;
        store.set_alignment(1).map_err(|e| self.err(e.to_string()))?;
        Ok(())
    }

    /// Memory size in bytes as an i64.
    fn memory_bytes(&self) -> BuildResult<IntValue<'c>> {
        let pages = self.builder.build_load(self.ir.memory_pages(), "")?.into_int_value();
        let pages = self.builder.build_int_z_extend(pages, self.ir.i64, "")?;
        self.builder.build_left_shift(pages, self.i64c(16), "")
    }

    /// Traps unless `start + length <= limit` (all as unsigned 32-bit values, the sum in
    /// 64 bits).
    fn check_range(&mut self, start: IntValue<'c>, length: IntValue<'c>, limit: IntValue<'c>) -> BuildResult<()> {
        let start = self.builder.build_int_z_extend(start, self.ir.i64, "")?;
        let length = self.builder.build_int_z_extend(length, self.ir.i64, "")?;
        let end = self.builder.build_int_add(start, length, "")?;
        let out = self.builder.build_int_compare(IntPredicate::UGT, end, limit, "")?;
        self.trap_if(out)
    }

    fn memory_pointer(&self, address: IntValue<'c>) -> BuildResult<PointerValue<'c>> {
        ffi::byte_gep(&self.builder, self.ir.memory_base(), address)
    }

    /// A pointer to entry `index` (in bounds) of an `[n x i32]` table or element segment.
    fn table_pointer(&self, array: GlobalValue<'c>, index: IntValue<'c>) -> BuildResult<PointerValue<'c>> {
        let bytes = array.as_pointer_value().const_cast(self.ir.i8.ptr_type(Default::default()));
        let offset = self.builder.build_int_mul(index, self.i32c(4), "")?;
        let entry = ffi::byte_gep(&self.builder, bytes, offset)?;
        self.builder.build_pointer_cast(entry, self.ir.i32.ptr_type(Default::default()), "")
    }

    // ---- control ------------------------------------------------------------------

    /// Branches to the frame `depth` levels out, passing the top values.
    fn branch_to(&mut self, depth: u32) -> Result<()> {
        let index =
            self.frames.len().checked_sub(1 + depth as usize).ok_or_else(|| self.err("branch depth out of range"))?;
        let n = self.frames[index].branch_slots.len();
        let values = self.stack[self.stack.len() - n..].to_vec();
        let frame = &mut self.frames[index];
        if !matches!(frame.kind, FrameKind::Loop) {
            frame.following_reached = true;
        }
        let (slots, target) = (frame.branch_slots.clone(), frame.branch_target);
        self.store_slots(&slots, &values).map_err(llvm)?;
        self.builder.build_unconditional_branch(target).map_err(llvm)?;
        Ok(())
    }

    fn open_frame(
        &mut self,
        ty: BlockType,
        kind: FrameKind<'c>,
        target_is_header: bool,
    ) -> Result<(Vec<ValType>, BasicBlock<'c>)> {
        let (params, results) = self.block_signature(ty);
        let following = self.ir.context.append_basic_block(self.function, "");
        let result_slots = self.slots(&results).map_err(llvm)?;
        let (branch_target, branch_slots) = if target_is_header {
            let header = self.ir.context.append_basic_block(self.function, "loop");
            (header, self.slots(&params).map_err(llvm)?)
        } else {
            (following, result_slots.clone())
        };
        let height = self.stack.len().checked_sub(params.len()).ok_or_else(|| self.err("operand stack underflow"))?;
        self.frames.push(Frame {
            kind,
            branch_target,
            branch_slots,
            following,
            result_slots,
            height,
            following_reached: false,
        });
        Ok((params, branch_target))
    }

    /// Closes the innermost frame at its `end`.
    fn close_frame(&mut self) -> Result<()> {
        let mut frame = self.frames.pop().ok_or_else(|| self.err("unbalanced end"))?;
        if self.dead_depth.is_none() {
            let values = self.pop_n(frame.result_slots.len())?;
            self.store_slots(&frame.result_slots, &values).map_err(llvm)?;
            self.builder.build_unconditional_branch(frame.following).map_err(llvm)?;
            frame.following_reached = true;
        }
        if let FrameKind::If { else_block: Some(else_block), params } = &frame.kind {
            // An `if` without `else`: the false edge passes the parameters through.
            self.seal().map_err(llvm)?;
            self.builder.position_at_end(*else_block);
            self.store_slots(&frame.result_slots, params).map_err(llvm)?;
            self.builder.build_unconditional_branch(frame.following).map_err(llvm)?;
            frame.following_reached = true;
        }
        self.stack.truncate(frame.height);
        if frame.following_reached {
            self.seal().map_err(llvm)?;
            self.builder.position_at_end(frame.following);
            self.dead_depth = None;
            if self.frames.is_empty() {
                // The end of the function body.
                let values = self.load_slots(&frame.result_slots).map_err(llvm)?;
                self.build_return(&values)?;
            } else {
                for v in self.load_slots(&frame.result_slots).map_err(llvm)? {
                    self.push(v);
                }
            }
        } else {
            // Nothing reaches the code after the construct.
            self.seal().map_err(llvm)?;
            let _ = frame.following.remove_from_function();
            self.dead_depth = Some(0);
        }
        Ok(())
    }

    fn build_return(&mut self, values: &[IntValue<'c>]) -> Result<()> {
        for (i, value) in values.iter().enumerate().skip(1) {
            self.builder.build_store(self.ir.extra_result(i, self.results[i]), *value).map_err(llvm)?;
        }
        match values.first() {
            Some(v) => self.builder.build_return(Some(v)).map_err(llvm)?,
            None => self.builder.build_return(None).map_err(llvm)?,
        };
        Ok(())
    }

    fn call(&mut self, callee: FunctionValue<'c>, signature: &Signature, leading: &[IntValue<'c>]) -> Result<()> {
        let args = self.pop_n(signature.params.len())?;
        let all: Vec<BasicMetadataValueEnum<'c>> = leading.iter().chain(&args).map(|&v| v.into()).collect();
        let call = self.builder.build_call(callee, &all, "").map_err(llvm)?;
        if let Some(first) = call.try_as_basic_value().basic() {
            self.push(first.into_int_value());
        }
        for (i, &ty) in signature.results.iter().enumerate().skip(1) {
            let v = self.builder.build_load(self.ir.extra_result(i, ty), "").map_err(llvm)?;
            self.push(v.into_int_value());
        }
        Ok(())
    }

    // ---- operators ----------------------------------------------------------------

    fn operator(&mut self, op: Operator<'w>) -> Result<()> {
        if let Some(depth) = self.dead_depth {
            // Skip unreachable code, tracking nesting so `else`/`end` close the right frame.
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    self.dead_depth = Some(depth + 1);
                    return Ok(());
                }
                Operator::End if depth > 0 => {
                    self.dead_depth = Some(depth - 1);
                    return Ok(());
                }
                Operator::Else if depth > 0 => return Ok(()),
                Operator::End | Operator::Else => {}
                _ => return Ok(()),
            }
        }
        macro_rules! bin {
            ($f:ident) => {{
                let r = self.pop()?;
                let l = self.pop()?;
                let v = self.builder.$f(l, r, "").map_err(llvm)?;
                self.push(v);
            }};
        }
        macro_rules! cmp {
            ($pred:expr) => {{
                let r = self.pop()?;
                let l = self.pop()?;
                let c = self.builder.build_int_compare($pred, l, r, "").map_err(llvm)?;
                let v = self.builder.build_int_z_extend(c, self.ir.i32, "").map_err(llvm)?;
                self.push(v);
            }};
        }
        match op {
            Operator::Nop => {}
            Operator::Unreachable => self.trap_here().map_err(llvm)?,
            Operator::Block { blockty } => {
                self.open_frame(blockty, FrameKind::Block, false)?;
            }
            Operator::Loop { blockty } => {
                let (params, header) = self.open_frame(blockty, FrameKind::Loop, true)?;
                let values = self.pop_n(params.len())?;
                let slots = self.frames.last().expect("just opened").branch_slots.clone();
                self.store_slots(&slots, &values).map_err(llvm)?;
                self.builder.build_unconditional_branch(header).map_err(llvm)?;
                self.builder.position_at_end(header);
                for v in self.load_slots(&slots).map_err(llvm)? {
                    self.push(v);
                }
            }
            Operator::If { blockty } => {
                let condition = self.pop()?;
                let (params, _) = self.block_signature(blockty);
                let params_values = self.stack[self.stack.len().saturating_sub(params.len())..].to_vec();
                let then_block = self.ir.context.append_basic_block(self.function, "then");
                let else_block = self.ir.context.append_basic_block(self.function, "else");
                let cond =
                    self.builder.build_int_compare(IntPredicate::NE, condition, self.i32c(0), "").map_err(llvm)?;
                self.builder.build_conditional_branch(cond, then_block, else_block).map_err(llvm)?;
                self.open_frame(blockty, FrameKind::If { else_block: Some(else_block), params: params_values }, false)?;
                self.builder.position_at_end(then_block);
            }
            Operator::Else => {
                let frame = self.frames.last_mut().ok_or_else(|| CompileError::at(self.offset, "else outside if"))?;
                let FrameKind::If { else_block, params } = &mut frame.kind else {
                    return Err(self.err("else outside if"));
                };
                let else_block = else_block.take().ok_or_else(|| CompileError::at(self.offset, "duplicate else"))?;
                let params = params.clone();
                let (result_slots, following, height) = (frame.result_slots.clone(), frame.following, frame.height);
                if self.dead_depth.is_none() {
                    let values = self.pop_n(result_slots.len())?;
                    self.store_slots(&result_slots, &values).map_err(llvm)?;
                    self.builder.build_unconditional_branch(following).map_err(llvm)?;
                    self.frames.last_mut().expect("checked above").following_reached = true;
                }
                self.stack.truncate(height);
                self.stack.extend(params);
                self.seal().map_err(llvm)?;
                self.builder.position_at_end(else_block);
                self.dead_depth = None;
            }
            Operator::End => self.close_frame()?,
            Operator::Br { relative_depth } => {
                self.branch_to(relative_depth)?;
                self.dead_depth = Some(0);
            }
            Operator::BrIf { relative_depth } => {
                let condition = self.pop()?;
                let taken = self.ir.context.append_basic_block(self.function, "");
                let cont = self.ir.context.append_basic_block(self.function, "");
                let cond =
                    self.builder.build_int_compare(IntPredicate::NE, condition, self.i32c(0), "").map_err(llvm)?;
                self.builder.build_conditional_branch(cond, taken, cont).map_err(llvm)?;
                self.builder.position_at_end(taken);
                self.branch_to(relative_depth)?;
                self.builder.position_at_end(cont);
            }
            Operator::BrTable { targets } => {
                let index = self.pop()?;
                let default = targets.default();
                let depths: Vec<u32> = targets.targets().collect::<std::result::Result<_, _>>()?;
                let default_block = self.ir.context.append_basic_block(self.function, "");
                let mut cases = Vec::with_capacity(depths.len());
                let mut edge_blocks: Vec<(u32, BasicBlock<'c>)> = Vec::new();
                for (i, &depth) in depths.iter().enumerate() {
                    // One edge block per distinct target depth.
                    let block = match edge_blocks.iter().find(|(d, _)| *d == depth) {
                        Some(&(_, block)) => block,
                        None => {
                            let block = self.ir.context.append_basic_block(self.function, "");
                            edge_blocks.push((depth, block));
                            block
                        }
                    };
                    cases.push((self.i32c(i as u64), block));
                }
                self.builder.build_switch(index, default_block, &cases).map_err(llvm)?;
                for (depth, block) in edge_blocks {
                    self.builder.position_at_end(block);
                    self.branch_to(depth)?;
                }
                self.builder.position_at_end(default_block);
                self.branch_to(default)?;
                self.dead_depth = Some(0);
            }
            Operator::Return => {
                let values = self.pop_n(self.results.len())?;
                self.build_return(&values)?;
                self.dead_depth = Some(0);
            }
            Operator::Call { function_index } => {
                let callee = *self
                    .ir
                    .functions
                    .get(function_index as usize)
                    .ok_or_else(|| self.err("call to unknown function"))?;
                let signature = self.module.signature(function_index).clone();
                self.call(callee, &signature, &[])?;
            }
            Operator::CallIndirect { type_index, .. } => {
                let index = self.pop()?;
                let size = self.module.table.as_ref().map_or(0, |t| t.entries.len() as u64);
                let out =
                    self.builder.build_int_compare(IntPredicate::UGE, index, self.i32c(size), "").map_err(llvm)?;
                self.trap_if(out).map_err(llvm)?;
                // A table that changes holds slot numbers in memory; the jump table is
                // indexed by slot then.
                let index = match &self.ir.mutable_table {
                    Some(table) => {
                        let entry = self.table_pointer(table.entries, index).map_err(llvm)?;
                        self.builder.build_load(entry, "").map_err(llvm)?.into_int_value()
                    }
                    None => index,
                };
                let signature = self.module.types[type_index as usize].clone();
                let callee = self.ir.call_indirect_pseudo(&signature);
                self.call(callee, &signature, &[index])?;
            }
            Operator::TableSize { .. } => {
                let size = self.module.table.as_ref().map_or(0, |t| t.entries.len() as u64);
                self.push(self.i32c(size));
            }
            Operator::TableCopy { .. } => {
                let length = self.pop()?;
                let source = self.pop()?;
                let dest = self.pop()?;
                let table = self.ir.mutable_table.clone().ok_or_else(|| self.err("table.copy without a table"))?;
                let size = self.i64c(table.size);
                self.check_range(source, length, size).map_err(llvm)?;
                self.check_range(dest, length, size).map_err(llvm)?;
                let d = self.table_pointer(table.entries, dest).map_err(llvm)?;
                let s = self.table_pointer(table.entries, source).map_err(llvm)?;
                let bytes = self.builder.build_int_mul(length, self.i32c(4), "").map_err(llvm)?;
                self.builder.build_memmove(d, 4, s, 4, bytes).map_err(|e| self.err(e.to_string()))?;
            }
            Operator::TableInit { elem_index, .. } => {
                let length = self.pop()?;
                let source = self.pop()?;
                let dest = self.pop()?;
                let table = self.ir.mutable_table.clone().ok_or_else(|| self.err("table.init without a table"))?;
                let (segment, segment_len) =
                    *table.segments.get(elem_index as usize).ok_or_else(|| self.err("unknown element segment"))?;
                let available = self.builder.build_load(segment_len.as_pointer_value(), "").map_err(llvm)?;
                let available =
                    self.builder.build_int_z_extend(available.into_int_value(), self.ir.i64, "").map_err(llvm)?;
                self.check_range(source, length, available).map_err(llvm)?;
                self.check_range(dest, length, self.i64c(table.size)).map_err(llvm)?;
                let d = self.table_pointer(table.entries, dest).map_err(llvm)?;
                let s = self.table_pointer(segment, source).map_err(llvm)?;
                let bytes = self.builder.build_int_mul(length, self.i32c(4), "").map_err(llvm)?;
                self.builder.build_memcpy(d, 4, s, 4, bytes).map_err(|e| self.err(e.to_string()))?;
            }
            Operator::ElemDrop { elem_index } => {
                // Only a table that changes keeps its segments.
                if let Some(table) = &self.ir.mutable_table {
                    let (_, segment_len) =
                        *table.segments.get(elem_index as usize).ok_or_else(|| self.err("unknown element segment"))?;
                    self.builder.build_store(segment_len.as_pointer_value(), self.i32c(0)).map_err(llvm)?;
                }
            }
            Operator::Drop => {
                self.pop()?;
            }
            Operator::Select | Operator::TypedSelect { .. } => {
                let condition = self.pop()?;
                let r = self.pop()?;
                let l = self.pop()?;
                let cond =
                    self.builder.build_int_compare(IntPredicate::NE, condition, self.i32c(0), "").map_err(llvm)?;
                let v = self.builder.build_select(cond, l, r, "").map_err(llvm)?.into_int_value();
                self.push(v);
            }
            Operator::LocalGet { local_index } => {
                let (slot, _) = *self.locals.get(local_index as usize).ok_or_else(|| self.err("unknown local"))?;
                let v = self.builder.build_load(slot, "").map_err(llvm)?.into_int_value();
                self.push(v);
            }
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                let v = self.pop()?;
                let (slot, _) = *self.locals.get(local_index as usize).ok_or_else(|| self.err("unknown local"))?;
                self.builder.build_store(slot, v).map_err(llvm)?;
                if matches!(op, Operator::LocalTee { .. }) {
                    self.push(v);
                }
            }
            Operator::GlobalGet { global_index } => {
                let v = self.ir.global_get(&self.builder, global_index).map_err(llvm)?;
                self.push(v);
            }
            Operator::GlobalSet { global_index } => {
                let v = self.pop()?;
                let slot =
                    self.ir.global_slot(global_index).ok_or_else(|| self.err("global.set of an immutable global"))?;
                self.builder.build_store(slot, v).map_err(llvm)?;
            }

            Operator::I32Load { memarg } | Operator::F32Load { memarg } => {
                self.load(&memarg, 4, ValType::I32, false)?
            }
            Operator::I64Load { memarg } | Operator::F64Load { memarg } => {
                self.load(&memarg, 8, ValType::I64, false)?
            }
            Operator::I32Load8S { memarg } => self.load(&memarg, 1, ValType::I32, true)?,
            Operator::I32Load8U { memarg } => self.load(&memarg, 1, ValType::I32, false)?,
            Operator::I32Load16S { memarg } => self.load(&memarg, 2, ValType::I32, true)?,
            Operator::I32Load16U { memarg } => self.load(&memarg, 2, ValType::I32, false)?,
            Operator::I64Load8S { memarg } => self.load(&memarg, 1, ValType::I64, true)?,
            Operator::I64Load8U { memarg } => self.load(&memarg, 1, ValType::I64, false)?,
            Operator::I64Load16S { memarg } => self.load(&memarg, 2, ValType::I64, true)?,
            Operator::I64Load16U { memarg } => self.load(&memarg, 2, ValType::I64, false)?,
            Operator::I64Load32S { memarg } => self.load(&memarg, 4, ValType::I64, true)?,
            Operator::I64Load32U { memarg } => self.load(&memarg, 4, ValType::I64, false)?,
            Operator::I32Store { memarg } | Operator::F32Store { memarg } => self.store(&memarg, 4)?,
            Operator::I64Store { memarg } | Operator::F64Store { memarg } => self.store(&memarg, 8)?,
            Operator::I32Store8 { memarg } | Operator::I64Store8 { memarg } => self.store(&memarg, 1)?,
            Operator::I32Store16 { memarg } | Operator::I64Store16 { memarg } => self.store(&memarg, 2)?,
            Operator::I64Store32 { memarg } => self.store(&memarg, 4)?,

            Operator::MemorySize { .. } => {
                let v = self.builder.build_load(self.ir.memory_pages(), "").map_err(llvm)?.into_int_value();
                self.push(v);
            }
            Operator::MemoryGrow { .. } => {
                let delta = self.pop()?;
                let call = self.builder.build_call(self.ir.memory_grow, &[delta.into()], "").map_err(llvm)?;
                self.push(call.try_as_basic_value().basic().expect("returns i32").into_int_value());
            }
            Operator::MemoryFill { .. } => {
                let length = self.pop()?;
                let value = self.pop()?;
                let dest = self.pop()?;
                let limit = self.memory_bytes().map_err(llvm)?;
                self.check_range(dest, length, limit).map_err(llvm)?;
                let ptr = self.memory_pointer(dest).map_err(llvm)?;
                let byte = self.builder.build_int_truncate(value, self.ir.i8, "").map_err(llvm)?;
                self.builder.build_memset(ptr, 1, byte, length).map_err(|e| self.err(e.to_string()))?;
            }
            Operator::MemoryCopy { .. } => {
                let length = self.pop()?;
                let source = self.pop()?;
                let dest = self.pop()?;
                let limit = self.memory_bytes().map_err(llvm)?;
                self.check_range(source, length, limit).map_err(llvm)?;
                self.check_range(dest, length, limit).map_err(llvm)?;
                let d = self.memory_pointer(dest).map_err(llvm)?;
                let s = self.memory_pointer(source).map_err(llvm)?;
                self.builder.build_memmove(d, 1, s, 1, length).map_err(|e| self.err(e.to_string()))?;
            }
            Operator::MemoryInit { data_index, .. } => {
                let length = self.pop()?;
                let source = self.pop()?;
                let dest = self.pop()?;
                let (segment, segment_len, dropped) =
                    self.ir.passive_segment(data_index).ok_or_else(|| self.err("unknown data segment"))?;
                // A dropped segment has length 0.
                let flag = self.builder.build_load(dropped, "").map_err(llvm)?.into_int_value();
                let is_dropped = self
                    .builder
                    .build_int_compare(IntPredicate::NE, flag, self.ir.i8.const_zero(), "")
                    .map_err(llvm)?;
                let available = self
                    .builder
                    .build_select(is_dropped, self.i64c(0), self.i64c(segment_len), "")
                    .map_err(llvm)?
                    .into_int_value();
                self.check_range(source, length, available).map_err(llvm)?;
                let limit = self.memory_bytes().map_err(llvm)?;
                self.check_range(dest, length, limit).map_err(llvm)?;
                let d = self.memory_pointer(dest).map_err(llvm)?;
                let s = ffi::byte_gep(&self.builder, segment, source).map_err(llvm)?;
                self.builder.build_memcpy(d, 1, s, 1, length).map_err(|e| self.err(e.to_string()))?;
            }
            Operator::DataDrop { data_index } => {
                let (_, _, dropped) =
                    self.ir.passive_segment(data_index).ok_or_else(|| self.err("unknown data segment"))?;
                self.builder.build_store(dropped, self.ir.i8.const_int(1, false)).map_err(llvm)?;
            }

            Operator::I32Const { value } => self.push(self.i32c(value as u32 as u64)),
            Operator::I64Const { value } => self.push(self.i64c(value as u64)),
            Operator::F32Const { value } => self.push(self.i32c(u64::from(value.bits()))),
            Operator::F64Const { value } => self.push(self.i64c(value.bits())),

            Operator::I32Eqz | Operator::I64Eqz => {
                let v = self.pop()?;
                let c =
                    self.builder.build_int_compare(IntPredicate::EQ, v, v.get_type().const_zero(), "").map_err(llvm)?;
                let v = self.builder.build_int_z_extend(c, self.ir.i32, "").map_err(llvm)?;
                self.push(v);
            }
            Operator::I32Eq | Operator::I64Eq => cmp!(IntPredicate::EQ),
            Operator::I32Ne | Operator::I64Ne => cmp!(IntPredicate::NE),
            Operator::I32LtS | Operator::I64LtS => cmp!(IntPredicate::SLT),
            Operator::I32LtU | Operator::I64LtU => cmp!(IntPredicate::ULT),
            Operator::I32GtS | Operator::I64GtS => cmp!(IntPredicate::SGT),
            Operator::I32GtU | Operator::I64GtU => cmp!(IntPredicate::UGT),
            Operator::I32LeS | Operator::I64LeS => cmp!(IntPredicate::SLE),
            Operator::I32LeU | Operator::I64LeU => cmp!(IntPredicate::ULE),
            Operator::I32GeS | Operator::I64GeS => cmp!(IntPredicate::SGE),
            Operator::I32GeU | Operator::I64GeU => cmp!(IntPredicate::UGE),

            Operator::I32Clz | Operator::I64Clz => self.bit_count(self.ir.ctlz(self.top_width()?), true)?,
            Operator::I32Ctz | Operator::I64Ctz => self.bit_count(self.ir.cttz(self.top_width()?), true)?,
            Operator::I32Popcnt | Operator::I64Popcnt => self.bit_count(self.ir.ctpop(self.top_width()?), false)?,

            Operator::I32Add | Operator::I64Add => bin!(build_int_add),
            Operator::I32Sub | Operator::I64Sub => bin!(build_int_sub),
            Operator::I32Mul | Operator::I64Mul => bin!(build_int_mul),
            Operator::I32And | Operator::I64And => bin!(build_and),
            Operator::I32Or | Operator::I64Or => bin!(build_or),
            Operator::I32Xor | Operator::I64Xor => bin!(build_xor),
            Operator::I32DivU | Operator::I64DivU => self.division(Division::DivU)?,
            Operator::I32DivS | Operator::I64DivS => self.division(Division::DivS)?,
            Operator::I32RemU | Operator::I64RemU => self.division(Division::RemU)?,
            Operator::I32RemS | Operator::I64RemS => self.division(Division::RemS)?,
            Operator::I32Shl | Operator::I64Shl => self.shift(Shift::Left)?,
            Operator::I32ShrU | Operator::I64ShrU => self.shift(Shift::RightU)?,
            Operator::I32ShrS | Operator::I64ShrS => self.shift(Shift::RightS)?,
            Operator::I32Rotl | Operator::I64Rotl => self.rotate(true)?,
            Operator::I32Rotr | Operator::I64Rotr => self.rotate(false)?,

            Operator::I32WrapI64 => {
                let v = self.pop()?;
                let v = self.builder.build_int_truncate(v, self.ir.i32, "").map_err(llvm)?;
                self.push(v);
            }
            Operator::I64ExtendI32S => {
                let v = self.pop()?;
                let v = self.builder.build_int_s_extend(v, self.ir.i64, "").map_err(llvm)?;
                self.push(v);
            }
            Operator::I64ExtendI32U => {
                let v = self.pop()?;
                let v = self.builder.build_int_z_extend(v, self.ir.i64, "").map_err(llvm)?;
                self.push(v);
            }
            Operator::I32Extend8S | Operator::I64Extend8S => self.sign_extend(8)?,
            Operator::I32Extend16S | Operator::I64Extend16S => self.sign_extend(16)?,
            Operator::I64Extend32S => self.sign_extend(32)?,

            // Exact float operators: bit moves and sign-bit arithmetic.
            Operator::I32ReinterpretF32
            | Operator::F32ReinterpretI32
            | Operator::I64ReinterpretF64
            | Operator::F64ReinterpretI64 => {}
            Operator::F32Abs | Operator::F64Abs => {
                let v = self.pop()?;
                let mask = self.sign_mask(v).const_not();
                let v = self.builder.build_and(v, mask, "").map_err(llvm)?;
                self.push(v);
            }
            Operator::F32Neg | Operator::F64Neg => {
                let v = self.pop()?;
                let v = self.builder.build_xor(v, self.sign_mask(v), "").map_err(llvm)?;
                self.push(v);
            }
            Operator::F32Copysign | Operator::F64Copysign => {
                let sign_source = self.pop()?;
                let v = self.pop()?;
                let mask = self.sign_mask(v);
                let magnitude = self.builder.build_and(v, mask.const_not(), "").map_err(llvm)?;
                let sign = self.builder.build_and(sign_source, mask, "").map_err(llvm)?;
                let v = self.builder.build_or(magnitude, sign, "").map_err(llvm)?;
                self.push(v);
            }

            other => {
                let (pops, push) = float_operator_shape(&other)
                    .ok_or_else(|| self.err(format!("unsupported operator {}", operator_name(&other))))?;
                self.unsupported_float(&other, pops, push)?;
            }
        }
        Ok(())
    }

    fn top_width(&self) -> Result<u32> {
        self.stack.last().map(|v| v.get_type().get_bit_width()).ok_or_else(|| self.err("operand stack underflow"))
    }

    fn sign_mask(&self, v: IntValue<'c>) -> IntValue<'c> {
        let bits = v.get_type().get_bit_width();
        v.get_type().const_int(1u64 << (bits - 1), false)
    }

    fn bit_count(&mut self, intrinsic: FunctionValue<'c>, has_zero_flag: bool) -> Result<()> {
        let v = self.pop()?;
        let mut args: Vec<BasicMetadataValueEnum<'c>> = vec![v.into()];
        if has_zero_flag {
            args.push(self.ir.bool.const_zero().into());
        }
        let call = self.builder.build_call(intrinsic, &args, "").map_err(llvm)?;
        self.push(call.try_as_basic_value().basic().expect("intrinsic returns a value").into_int_value());
        Ok(())
    }

    fn sign_extend(&mut self, from_bits: u32) -> Result<()> {
        let v = self.pop()?;
        let narrow = self.builder.build_int_truncate(v, self.ir.int_bits(from_bits), "").map_err(llvm)?;
        let v = self.builder.build_int_s_extend(narrow, v.get_type(), "").map_err(llvm)?;
        self.push(v);
        Ok(())
    }

    fn shift(&mut self, kind: Shift) -> Result<()> {
        let amount = self.pop()?;
        let value = self.pop()?;
        let ty = value.get_type();
        let masked =
            self.builder.build_and(amount, ty.const_int(u64::from(ty.get_bit_width()) - 1, false), "").map_err(llvm)?;
        let v = match kind {
            Shift::Left => self.builder.build_left_shift(value, masked, ""),
            Shift::RightU => self.builder.build_right_shift(value, masked, false, ""),
            Shift::RightS => self.builder.build_right_shift(value, masked, true, ""),
        }
        .map_err(llvm)?;
        self.push(v);
        Ok(())
    }

    fn rotate(&mut self, left: bool) -> Result<()> {
        let amount = self.pop()?;
        let value = self.pop()?;
        let width = value.get_type().get_bit_width();
        let intrinsic = if left { self.ir.fshl(width) } else { self.ir.fshr(width) };
        let call =
            self.builder.build_call(intrinsic, &[value.into(), value.into(), amount.into()], "").map_err(llvm)?;
        self.push(call.try_as_basic_value().basic().expect("funnel shifts return a value").into_int_value());
        Ok(())
    }

    fn division(&mut self, kind: Division) -> Result<()> {
        let divisor = self.pop()?;
        let dividend = self.pop()?;
        let ty = divisor.get_type();
        let bits = ty.get_bit_width();
        let zero = self.builder.build_int_compare(IntPredicate::EQ, divisor, ty.const_zero(), "").map_err(llvm)?;
        self.trap_if(zero).map_err(llvm)?;
        let min = ty.const_int(1u64 << (bits - 1), false);
        let minus_one = ty.const_all_ones();
        let v = match kind {
            Division::DivU => self.builder.build_int_unsigned_div(dividend, divisor, "").map_err(llvm)?,
            Division::RemU => self.builder.build_int_unsigned_rem(dividend, divisor, "").map_err(llvm)?,
            Division::DivS => {
                let is_min = self.builder.build_int_compare(IntPredicate::EQ, dividend, min, "").map_err(llvm)?;
                let is_m1 = self.builder.build_int_compare(IntPredicate::EQ, divisor, minus_one, "").map_err(llvm)?;
                let overflow = self.builder.build_and(is_min, is_m1, "").map_err(llvm)?;
                self.trap_if(overflow).map_err(llvm)?;
                self.builder.build_int_signed_div(dividend, divisor, "").map_err(llvm)?
            }
            Division::RemS => {
                // x rem -1 is 0; LLVM's srem is undefined for MIN rem -1, so that case
                // takes its own path.
                let is_m1 = self.builder.build_int_compare(IntPredicate::EQ, divisor, minus_one, "").map_err(llvm)?;
                let here = self.builder.get_insert_block().expect("positioned");
                let compute = self.ir.context.append_basic_block(self.function, "");
                let join = self.ir.context.append_basic_block(self.function, "");
                self.builder.build_conditional_branch(is_m1, join, compute).map_err(llvm)?;
                self.builder.position_at_end(compute);
                let rem = self.builder.build_int_signed_rem(dividend, divisor, "").map_err(llvm)?;
                self.builder.build_unconditional_branch(join).map_err(llvm)?;
                self.builder.position_at_end(join);
                let phi = self.builder.build_phi(ty, "").map_err(llvm)?;
                phi.add_incoming(&[(&ty.const_zero(), here), (&rem, compute)]);
                phi.as_basic_value().into_int_value()
            }
        };
        self.push(v);
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Shift {
    Left,
    RightU,
    RightS,
}

#[derive(Clone, Copy)]
enum Division {
    DivU,
    DivS,
    RemU,
    RemS,
}

impl ValType {
    /// The type of a local declaration.
    pub fn from_wasm_local(ty: wasmparser::ValType) -> Result<Self> {
        Ok(match ty {
            wasmparser::ValType::I32 => ValType::I32,
            wasmparser::ValType::I64 => ValType::I64,
            wasmparser::ValType::F32 => ValType::F32,
            wasmparser::ValType::F64 => ValType::F64,
            other => return Err(CompileError::new(format!("unsupported value type {other}"))),
        })
    }
}

/// Operands popped and result pushed by a float operator that needs real floating point,
/// or `None` if `op` is not one.
fn float_operator_shape(op: &Operator<'_>) -> Option<(usize, Option<ValType>)> {
    use Operator as O;
    use ValType::{F32, F64, I32, I64};
    Some(match op {
        O::F32Add | O::F32Sub | O::F32Mul | O::F32Div | O::F32Min | O::F32Max => (2, Some(F32)),
        O::F64Add | O::F64Sub | O::F64Mul | O::F64Div | O::F64Min | O::F64Max => (2, Some(F64)),
        O::F32Sqrt | O::F32Ceil | O::F32Floor | O::F32Trunc | O::F32Nearest => (1, Some(F32)),
        O::F64Sqrt | O::F64Ceil | O::F64Floor | O::F64Trunc | O::F64Nearest => (1, Some(F64)),
        O::F32Eq | O::F32Ne | O::F32Lt | O::F32Gt | O::F32Le | O::F32Ge => (2, Some(I32)),
        O::F64Eq | O::F64Ne | O::F64Lt | O::F64Gt | O::F64Le | O::F64Ge => (2, Some(I32)),
        O::I32TruncF32S | O::I32TruncF32U | O::I32TruncF64S | O::I32TruncF64U => (1, Some(I32)),
        O::I32TruncSatF32S | O::I32TruncSatF32U | O::I32TruncSatF64S | O::I32TruncSatF64U => (1, Some(I32)),
        O::I64TruncF32S | O::I64TruncF32U | O::I64TruncF64S | O::I64TruncF64U => (1, Some(I64)),
        O::I64TruncSatF32S | O::I64TruncSatF32U | O::I64TruncSatF64S | O::I64TruncSatF64U => (1, Some(I64)),
        O::F32ConvertI32S | O::F32ConvertI32U | O::F32ConvertI64S | O::F32ConvertI64U | O::F32DemoteF64 => {
            (1, Some(F32))
        }
        O::F64ConvertI32S | O::F64ConvertI32U | O::F64ConvertI64S | O::F64ConvertI64U | O::F64PromoteF32 => {
            (1, Some(F64))
        }
        _ => return None,
    })
}

/// The text-format name of an operator, e.g. `f32.add`.
pub fn operator_name(op: &Operator<'_>) -> String {
    // `Operator`'s Debug form is `F32Add` or `I32Load { memarg: .. }`: turn the variant
    // name into the text-format mnemonic.
    let debug = format!("{op:?}");
    let variant = debug.split([' ', '{', '(']).next().unwrap_or(&debug);
    let mut out = String::new();
    for (i, c) in variant.char_indices() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = variant.as_bytes()[i - 1];
            out.push(if prev.is_ascii_digit() && out.len() <= 3 { '.' } else { '_' });
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_names_follow_the_text_format() {
        assert_eq!(operator_name(&Operator::F32Add), "f32.add");
        assert_eq!(operator_name(&Operator::F64ConvertI32S), "f64.convert_i32_s");
        assert_eq!(operator_name(&Operator::I32TruncSatF32U), "i32.trunc_sat_f32_u");
    }

    #[test]
    fn float_shapes() {
        assert_eq!(float_operator_shape(&Operator::F32Add), Some((2, Some(ValType::F32))));
        assert_eq!(float_operator_shape(&Operator::I32Add), None);
    }
}
