//! Reads the optimised LLVM module into [`lir`]: resolves every constant to a number
//! (addresses from the [`Layout`]), every GEP to base + offset + scaled terms, and every
//! call to what it reaches.

use crate::abi;
use crate::backend::layout::Layout;
use crate::backend::lir::{self, BinOp, BlockId, Callee, Cast, Op, Pred, Ty, Value};
use crate::error::{CompileError, Result};
use crate::ffi::{self, ConstEnv, RawValue};
use inkwell::IntPredicate;
use inkwell::basic_block::BasicBlock;
use inkwell::module::{Linkage, Module};
use inkwell::targets::TargetData;
use inkwell::types::AnyType;
use inkwell::types::AnyTypeEnum;
use inkwell::values::{BasicValueEnum, FunctionValue, InstructionOpcode, InstructionValue};
use std::collections::HashMap;

/// Imports every function with code of the module, or of the parts of a split one, in
/// their order (a copy, `available_externally`, has no code of its own); the entry
/// functions come first, in slot order. The parts other than the first are read each on
/// a thread of its own, each in the LLVM context it was built in.
pub fn import<'c>(modules: &[&Module<'c>], layout: &Layout) -> Result<lir::Module> {
    let mut parts: Vec<Vec<FunctionValue<'c>>> = modules
        .iter()
        .map(|module| {
            module
                .get_functions()
                .filter(|f| f.count_basic_blocks() > 0 && f.get_linkage() != Linkage::AvailableExternally)
                .collect()
        })
        .collect();
    // The entries are all in the first part.
    parts[0].sort_by_key(|f| f.get_name().to_str().ok().and_then(abi::entry_slot).unwrap_or(usize::MAX));
    let ids: HashMap<String, usize> =
        parts.iter().flatten().enumerate().map(|(i, f)| (f.get_name().to_string_lossy().into_owned(), i)).collect();
    let import_part = |functions: Vec<FunctionValue<'c>>| -> Result<Vec<lir::Function>> {
        let td = TargetData::create(crate::optimize::DATA_LAYOUT);
        let lookup = |name: &str| layout.address(name);
        let env = ConstEnv { target_data: &td, address_of: &lookup };
        functions
            .into_iter()
            .map(|f| {
                let name = f.get_name().to_string_lossy().into_owned();
                FunctionImporter::new(f, &ids, &env).run().map_err(|e| e.in_function(&name))
            })
            .collect()
    };
    let first = std::mem::take(&mut parts[0]);
    let imported: Vec<Result<Vec<lir::Function>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = parts
            .drain(1..)
            .map(|functions| ffi::spawn_in_context(scope, functions, import_part))
            .collect::<Result<_>>()?;
        let mut imported = vec![import_part(first)];
        imported.extend(workers.into_iter().map(ffi::join_context_thread));
        Ok::<_, CompileError>(imported)
    })?;
    let mut out = lir::Module::default();
    for part in imported {
        out.functions.extend(part?);
    }
    Ok(out)
}

/// Drops the functions that neither an entry, nor the table (`in_table`), nor a function
/// kept calls, and renumbers the calls: a part of a split module keeps a function that
/// another part calls even when that part inlined every call.
pub fn drop_unreachable(module: &mut lir::Module, in_table: impl Fn(&str) -> bool) {
    let count = module.functions.len();
    let mut live = vec![false; count];
    let mut stack: Vec<usize> = (0..count)
        .filter(|&i| {
            let name = &module.functions[i].name;
            abi::entry_slot(name).is_some() || in_table(name)
        })
        .collect();
    for &root in &stack {
        live[root] = true;
    }
    while let Some(caller) = stack.pop() {
        for inst in &module.functions[caller].insts {
            if let Op::Call { callee: Callee::Function(callee), .. } = inst.op
                && !live[callee]
            {
                live[callee] = true;
                stack.push(callee);
            }
        }
    }
    let new_ids: Vec<usize> =
        live.iter().scan(0, |next, &l| Some(std::mem::replace(next, *next + usize::from(l)))).collect();
    let mut index = 0;
    module.functions.retain(|_| {
        index += 1;
        live[index - 1]
    });
    for function in &mut module.functions {
        for inst in &mut function.insts {
            if let Op::Call { callee: Callee::Function(callee), .. } = &mut inst.op {
                *callee = new_ids[*callee];
            }
        }
    }
}

struct FunctionImporter<'c, 'a> {
    function: FunctionValue<'c>,
    ids: &'a HashMap<String, usize>,
    env: &'a ConstEnv<'a>,
    blocks: HashMap<BasicBlock<'c>, BlockId>,
    insts: HashMap<RawValue<'c>, usize>,
    params: HashMap<RawValue<'c>, u32>,
}

fn unsupported(what: impl std::fmt::Display) -> CompileError {
    CompileError::new(format!("internal error: the back end does not support {what}"))
}

/// A constant's bits in canonical form: sign-extended from its width, i1 as 0 or 1.
pub fn canonical(bits: u64, width: u32) -> u64 {
    if width == 1 { bits & 1 } else { ffi::sign_extend(bits, width) }
}

fn ty_of(ty: AnyTypeEnum<'_>) -> Result<Ty> {
    Ok(match ty {
        AnyTypeEnum::VoidType(_) => Ty::Void,
        AnyTypeEnum::IntType(t) => {
            let bits = t.get_bit_width();
            if bits > 64 {
                return Err(unsupported(format!("{bits}-bit integers")));
            }
            Ty::Int(bits)
        }
        AnyTypeEnum::PointerType(_) => Ty::Int(32),
        AnyTypeEnum::StructType(s) => Ty::Struct(
            s.get_field_types()
                .iter()
                .map(|f| match f {
                    inkwell::types::BasicTypeEnum::IntType(t) => Ok(t.get_bit_width()),
                    inkwell::types::BasicTypeEnum::PointerType(_) => Ok(32),
                    other => Err(unsupported(format!("aggregates with {other:?} fields"))),
                })
                .collect::<Result<_>>()?,
        ),
        other => return Err(unsupported(format!("values of type {other:?}"))),
    })
}

impl<'c, 'a> FunctionImporter<'c, 'a> {
    fn new(function: FunctionValue<'c>, ids: &'a HashMap<String, usize>, env: &'a ConstEnv<'a>) -> Self {
        FunctionImporter { function, ids, env, blocks: HashMap::new(), insts: HashMap::new(), params: HashMap::new() }
    }

    fn run(mut self) -> Result<lir::Function> {
        let blocks = self.function.get_basic_blocks();
        let mut count = 0;
        for (i, &b) in blocks.iter().enumerate() {
            self.blocks.insert(b, i);
            for inst in b.get_instructions() {
                self.insts.insert(RawValue::of(&inst), count);
                count += 1;
            }
        }
        for (i, p) in self.function.get_param_iter().enumerate() {
            self.params.insert(RawValue::of(&p), i as u32);
        }
        let params = self
            .function
            .get_param_iter()
            .map(|p| RawValue::of(&p).int_width().ok_or_else(|| unsupported("non-integer parameters")))
            .collect::<Result<Vec<_>>>()?;
        let result = match self.function.get_type().get_return_type() {
            Some(t) => ty_of(t.as_any_type_enum())?,
            None => Ty::Void,
        };
        let mut out = lir::Function {
            name: self.function.get_name().to_string_lossy().into_owned(),
            params,
            result,
            blocks: vec![lir::Block::default(); blocks.len()],
            insts: Vec::with_capacity(count),
        };
        for (b, block) in blocks.iter().enumerate() {
            for inst in block.get_instructions() {
                let id = out.insts.len();
                out.insts.push(self.inst(inst)?);
                out.blocks[b].insts.push(id);
            }
        }
        Ok(out)
    }

    fn value(&self, v: BasicValueEnum<'c>) -> Result<Value> {
        let raw = RawValue::of(&v);
        if let Some(&id) = self.insts.get(&raw) {
            return Ok(Value::Inst(id));
        }
        if let Some(&p) = self.params.get(&raw) {
            return Ok(Value::Arg(p));
        }
        if raw.is_undef() {
            return Ok(Value::Undef);
        }
        let width = raw.int_width().ok_or_else(|| unsupported("non-integer operands"))?;
        let bits = raw.eval(self.env).map_err(|e| CompileError::new(format!("constant: {e}")))?;
        Ok(Value::Const(canonical(bits, width)))
    }

    fn operand(&self, inst: InstructionValue<'c>, index: u32) -> Result<Value> {
        match inst.get_operand(index) {
            Some(inkwell::values::Operand::Value(v)) => self.value(v),
            _ => Err(unsupported(format!("operand {index} of {:?}", inst.get_opcode()))),
        }
    }

    fn block(&self, inst: InstructionValue<'c>, index: u32) -> Result<BlockId> {
        match inst.get_operand(index) {
            Some(inkwell::values::Operand::Block(b)) => {
                self.blocks.get(&b).copied().ok_or_else(|| unsupported("branches to other functions"))
            }
            _ => Err(unsupported(format!("block operand {index} of {:?}", inst.get_opcode()))),
        }
    }

    fn width(&self, inst: InstructionValue<'c>, index: u32) -> Result<u32> {
        match inst.get_operand(index) {
            Some(inkwell::values::Operand::Value(v)) => {
                RawValue::of(&v).int_width().ok_or_else(|| unsupported("non-integer operands"))
            }
            _ => Err(unsupported("a missing operand")),
        }
    }

    fn inst(&self, inst: InstructionValue<'c>) -> Result<lir::Inst> {
        use InstructionOpcode as I;
        let ty = ty_of(inst.get_type())?;
        let bin = |op| -> Result<Op> { Ok(Op::Binary(op, self.operand(inst, 0)?, self.operand(inst, 1)?)) };
        let op = match inst.get_opcode() {
            I::Add => bin(BinOp::Add)?,
            I::Sub => bin(BinOp::Sub)?,
            I::Mul => bin(BinOp::Mul)?,
            I::UDiv => bin(BinOp::UDiv)?,
            I::SDiv => bin(BinOp::SDiv)?,
            I::URem => bin(BinOp::URem)?,
            I::SRem => bin(BinOp::SRem)?,
            I::And => bin(BinOp::And)?,
            I::Or => bin(BinOp::Or)?,
            I::Xor => bin(BinOp::Xor)?,
            I::Shl => bin(BinOp::Shl)?,
            I::LShr => bin(BinOp::LShr)?,
            I::AShr => bin(BinOp::AShr)?,
            I::ICmp => {
                let pred = match inst.get_icmp_predicate().ok_or_else(|| unsupported("icmp without predicate"))? {
                    IntPredicate::EQ => Pred::Eq,
                    IntPredicate::NE => Pred::Ne,
                    IntPredicate::ULT => Pred::Ult,
                    IntPredicate::ULE => Pred::Ule,
                    IntPredicate::UGT => Pred::Ugt,
                    IntPredicate::UGE => Pred::Uge,
                    IntPredicate::SLT => Pred::Slt,
                    IntPredicate::SLE => Pred::Sle,
                    IntPredicate::SGT => Pred::Sgt,
                    IntPredicate::SGE => Pred::Sge,
                };
                Op::ICmp(pred, self.operand(inst, 0)?, self.operand(inst, 1)?)
            }
            I::Select => Op::Select(self.operand(inst, 0)?, self.operand(inst, 1)?, self.operand(inst, 2)?),
            I::Trunc => Op::Cast(Cast::Trunc, self.operand(inst, 0)?, self.width(inst, 0)?),
            I::ZExt => Op::Cast(Cast::ZExt, self.operand(inst, 0)?, self.width(inst, 0)?),
            I::SExt => Op::Cast(Cast::SExt, self.operand(inst, 0)?, self.width(inst, 0)?),
            I::BitCast | I::Freeze | I::AddrSpaceCast | I::PtrToInt | I::IntToPtr => {
                // Pointers are 32-bit integers: a pointer cast is a width change.
                let from = self.width(inst, 0)?;
                let v = self.operand(inst, 0)?;
                match ty.bits() {
                    to if to == from => Op::Copy(v),
                    to if to < from => Op::Cast(Cast::Trunc, v, from),
                    _ => Op::Cast(Cast::ZExt, v, from),
                }
            }
            I::GetElementPtr => {
                let (offset, terms) = RawValue::of(&inst)
                    .gep_layout(self.env)
                    .map_err(|e| CompileError::new(format!("getelementptr: {e}")))?;
                let terms = terms
                    .into_iter()
                    .map(|(i, scale)| Ok((self.operand(inst, i)?, scale)))
                    .collect::<Result<Vec<_>>>()?;
                Op::Address { base: self.operand(inst, 0)?, offset, terms }
            }
            I::Load => Op::Load { ptr: self.operand(inst, 0)?, bytes: ty.bits().div_ceil(8) },
            I::Store => {
                let bytes = self.width(inst, 0)?.div_ceil(8);
                Op::Store { value: self.operand(inst, 0)?, ptr: self.operand(inst, 1)?, bytes }
            }
            I::Call => self.call(inst)?,
            I::ExtractValue => {
                let indices = RawValue::of(&inst).aggregate_indices();
                match indices.as_slice() {
                    [index] => Op::ExtractValue(self.operand(inst, 0)?, *index),
                    _ => return Err(unsupported("nested extractvalue")),
                }
            }
            I::Phi => {
                let phi: inkwell::values::PhiValue<'c> =
                    inst.try_into().map_err(|_| unsupported("a phi that is not a phi"))?;
                let mut incoming = Vec::new();
                for (v, b) in phi.get_incomings() {
                    let block = self.blocks.get(&b).copied().ok_or_else(|| unsupported("phi from another function"))?;
                    incoming.push((self.value(v)?, block));
                }
                Op::Phi(incoming)
            }
            I::Br => match inst.get_num_operands() {
                1 => Op::Br(self.block(inst, 0)?),
                // LLVM orders a conditional branch's operands as (condition, false, true).
                3 => Op::CondBr(self.operand(inst, 0)?, self.block(inst, 2)?, self.block(inst, 1)?),
                n => return Err(unsupported(format!("a branch with {n} operands"))),
            },
            I::Switch => {
                let value = self.operand(inst, 0)?;
                let default = self.block(inst, 1)?;
                let mut cases = Vec::new();
                let mut i = 2;
                while i + 1 < inst.get_num_operands() {
                    let Value::Const(c) = self.operand(inst, i)? else {
                        return Err(unsupported("a switch case that is not a constant"));
                    };
                    cases.push((c, self.block(inst, i + 1)?));
                    i += 2;
                }
                Op::Switch { value, default, cases }
            }
            I::Return => Op::Ret(if inst.get_num_operands() == 0 { None } else { Some(self.operand(inst, 0)?) }),
            I::Unreachable => Op::Unreachable,
            I::Alloca => return Err(unsupported("stack allocations (alloca)")),
            other => return Err(unsupported(format!("the LLVM instruction {other:?}"))),
        };
        Ok(lir::Inst { op, ty })
    }

    fn call(&self, inst: InstructionValue<'c>) -> Result<Op> {
        let n = inst.get_num_operands();
        let callee = match inst.get_operand(n - 1) {
            Some(inkwell::values::Operand::Value(v)) => RawValue::of(&v).name(),
            _ => String::new(),
        };
        let args = (0..n - 1).map(|i| self.operand(inst, i)).collect::<Result<Vec<_>>>()?;
        let callee = if let Some(&id) = self.ids.get(&callee) {
            Callee::Function(id)
        } else if callee.starts_with("llvm.") {
            Callee::Intrinsic(callee)
        } else if let Some(pseudo) = abi::Pseudo::parse(&callee) {
            match pseudo {
                abi::Pseudo::CallIndirect(signature) => Callee::CallIndirect(signature),
                abi::Pseudo::Ecalli(index) => Callee::Ecalli(index),
                abi::Pseudo::HostR8 => Callee::HostR8,
                abi::Pseudo::MemoryGrow => Callee::MemoryGrow,
                abi::Pseudo::AddressCheck => Callee::AddressCheck,
                // An operation LLVM IR lacks, not a call.
                abi::Pseudo::MulUpperUU => match args[..] {
                    [a, b] => return Ok(Op::Binary(BinOp::MulUpperU, a, b)),
                    _ => return Err(unsupported(format!("{callee} with {} arguments", args.len()))),
                },
            }
        } else {
            return Err(unsupported(format!("a call to {callee:?}")));
        };
        Ok(Op::Call { callee, args })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function named `name` that calls the functions `calls` (by id).
    fn function(name: &str, calls: &[usize]) -> lir::Function {
        let call = |&callee: &usize| lir::Inst {
            op: Op::Call { callee: Callee::Function(callee), args: vec![] },
            ty: Ty::Void,
        };
        let mut insts: Vec<lir::Inst> = calls.iter().map(call).collect();
        insts.push(lir::Inst { op: Op::Ret(None), ty: Ty::Void });
        lir::Function {
            name: name.to_string(),
            params: vec![],
            result: Ty::Void,
            blocks: vec![lir::Block { insts: (0..insts.len()).collect() }],
            insts,
        }
    }

    fn calls(f: &lir::Function) -> Vec<usize> {
        f.insts
            .iter()
            .filter_map(|i| if let Op::Call { callee: Callee::Function(c), .. } = i.op { Some(c) } else { None })
            .collect()
    }

    #[test]
    fn unreachable_functions_go_and_calls_follow_the_new_numbers() {
        let mut module = lir::Module {
            functions: vec![
                function(&abi::entry_function(0), &[3]),
                function("unused", &[2]),
                function("called_by_unused", &[]),
                function("called", &[5]),
                function("in_table", &[]),
                function("called_by_called", &[]),
            ],
        };
        drop_unreachable(&mut module, |name| name == "in_table");
        let names: Vec<&str> = module.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, [abi::ENTRY, "called", "in_table", "called_by_called"]);
        assert_eq!(calls(&module.functions[0]), [1]);
        assert_eq!(calls(&module.functions[1]), [3]);
    }
}
