//! WebAssembly function bodies to LLVM IR, one file per category of instruction
//! ([`control`], [`variable`], [`memory`], [`integer`], [`float`]).
//!
//! Locals and block values live in allocas that LLVM's SSA promotion turns into phis.
//! Every WebAssembly trap is explicit control flow to `llvm.trap` (division by zero,
//! signed overflow, out-of-range table index), or an address check that the back end
//! expands (a memory access outside linear memory), so LLVM never sees undefined
//! behaviour. The translator reads the
//! declarations of [`ModuleEnv`] and declares nothing itself.

mod control;
mod float;
mod integer;
mod memory;
mod variable;

pub(crate) use float::float_operator_shape;

use crate::error::{CompileError, Result};
use crate::wasm::arguments::ArgumentCopies;
use crate::wasm::env::ModuleEnv;
use crate::wasm::module::{Module, Signature, ValType};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::values::{FunctionValue, IntValue, PointerValue};
use wasmparser::{BlockType, Operator};

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

/// The LLVM functions a body's `call` reaches, by function index.
#[derive(Clone, Copy)]
pub enum Callees<'m, 'c> {
    /// The program's functions.
    Program(&'m [FunctionValue<'c>]),
    /// The float routines the program uses (the others are not declared).
    Routines(&'m [Option<FunctionValue<'c>>]),
}

impl<'c> Callees<'_, 'c> {
    fn get(self, index: u32) -> Option<FunctionValue<'c>> {
        match self {
            Callees::Program(functions) => functions.get(index as usize).copied(),
            Callees::Routines(functions) => functions.get(index as usize).copied().flatten(),
        }
    }
}

/// Translates one defined function.
pub struct FunctionTranslator<'c, 'm, 'w> {
    env: &'m ModuleEnv<'c>,
    callees: Callees<'m, 'c>,
    module: &'m Module<'w>,
    /// The `memory.copy` instructions of `module` that may read the arguments.
    argument_copies: &'m ArgumentCopies,
    /// The function's index in `module`.
    index: u32,
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
    /// Translates defined function `index` of `module` into its (already declared) LLVM
    /// function, `callees.get(index)`.
    pub fn translate(
        env: &'m ModuleEnv<'c>,
        module: &'m Module<'w>,
        argument_copies: &'m ArgumentCopies,
        callees: Callees<'m, 'c>,
        index: u32,
    ) -> Result<()> {
        let wasm_function = &module.functions[index as usize];
        let body = wasm_function.body.as_ref().expect("defined functions have bodies");
        let function = callees.get(index).expect("translated functions are declared");
        let builder = env.context.create_builder();
        let entry = env.context.append_basic_block(function, "entry");
        let signature = module.signature(index).clone();
        let mut t = FunctionTranslator {
            env,
            callees,
            module,
            argument_copies,
            index,
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
                self.builder.build_store(slot, self.env.int_type(ty).const_zero()).map_err(llvm)?;
                self.locals.push((slot, ty));
            }
        }
        // The function body is a block whose results are the function's results.
        let following = self.env.context.append_basic_block(self.function, "return");
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
            self.operator(op)
                .map_err(|e| if e.offset.is_none() { CompileError { offset: Some(self.offset), ..e } } else { e })?;
        }
        self.seal().map_err(llvm)
    }

    fn err(&self, message: impl Into<String>) -> CompileError {
        CompileError::at(self.offset, message)
    }

    // ---- small helpers -------------------------------------------------------------

    fn alloca(&self, ty: ValType) -> BuildResult<PointerValue<'c>> {
        let b = self.env.context.create_builder();
        match self.entry.get_first_instruction() {
            Some(first) => b.position_before(&first),
            None => b.position_at_end(self.entry),
        }
        b.build_alloca(self.env.int_type(ty), "")
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
        self.env.i32.const_int(v, false)
    }

    fn i64c(&self, v: u64) -> IntValue<'c> {
        self.env.i64.const_int(v, false)
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
        let block = self.env.context.append_basic_block(self.function, "trap");
        let here = self.builder.get_insert_block();
        self.builder.position_at_end(block);
        self.builder.build_call(self.env.trap, &[], "")?;
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
            self.builder.build_call(self.env.expect_i1, &[condition.into(), self.env.bool.const_zero().into()], "")?;
        let condition = expected.try_as_basic_value().basic().expect("llvm.expect returns a value").into_int_value();
        let cont = self.env.context.append_basic_block(self.function, "");
        self.builder.build_conditional_branch(condition, trap, cont)?;
        self.builder.position_at_end(cont);
        Ok(())
    }

    /// Emits a trap and marks the rest of the construct unreachable.
    fn trap_here(&mut self) -> BuildResult<()> {
        self.builder.build_call(self.env.trap, &[], "")?;
        self.builder.build_unreachable()?;
        self.dead_depth = Some(0);
        // Whatever the current operator still builds goes to a block nothing reaches.
        let dead = self.env.context.append_basic_block(self.function, "dead");
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

    /// Translates one operator.
    fn operator(&mut self, op: &Operator<'w>) -> Result<()> {
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
        let handled =
            self.control(op)? || self.variable(op)? || self.memory(op)? || self.integer(op)? || self.float(op)?;
        if !handled {
            return Err(self.err(format!("unsupported operator {}", operator_name(op))));
        }
        Ok(())
    }
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
}
