//! Instruction selection: LIR to MIR.
//!
//! Every integer value lives in a 64-bit register in canonical form: sign-extended from
//! its width (an i1 is 0 or 1). The PVM's 32-bit operations read the low 32 bits and
//! write sign-extended results, so i32 arithmetic needs no extra instructions, and
//! because sign extension preserves unsigned order, 64-bit compares serve every width.
//!
//! Patterns: the memory base and constant offsets fold into load/store immediates;
//! compares fold into compare-and-branch (with immediates when one side is constant);
//! selects become `cmov`; shift masks disappear (the PVM masks shift amounts itself);
//! constants become immediates wherever the PVM has an immediate form.

use crate::abi;
use crate::backend::address_check;
use crate::backend::dead_code;
use crate::backend::lir::{self, BinOp, BlockId, Callee, Cast, InstId, Op, Pred, Ty, Value};
use crate::backend::loop_carried;
use crate::backend::mir::{BlockDraft, CallTarget, MFunction, MInst, Outside, Rhs, StoreValue, SwitchKind, preg};
use crate::backend::runtime;
use crate::error::{CompileError, Result};
use crate::options::{Optimization, Optimizations};
use pvm_isa::Opcode;
use pvm_isa::codec::imm_len;
use regalloc2::{PRegSet, RegClass, VReg};
use std::collections::HashMap;

/// What the back end knows about the module beyond one function.
pub struct ModuleInfo<'a> {
    /// Labels of the module's functions by LIR id.
    pub function_names: &'a [String],
    /// Dispatch of `call_indirect` by signature id.
    pub dispatch: &'a dyn Fn(usize) -> IndirectDispatch,
    /// Reserves `entries.len()` consecutive jump-table entries for a switch (labels of
    /// the targets) and returns the dynamic-jump address of the first.
    pub reserve_switch_table: &'a mut dyn FnMut(Vec<String>) -> u64,
    /// The global that keeps r8 after host calls, if the module reads it.
    pub host_r8_slot: Option<u64>,
    /// Labels of the runtime routines.
    pub runtime: &'a mut dyn FnMut(Routine) -> String,
    /// The optimisations switched on.
    pub optimizations: Optimizations,
    /// The memory base `B`.
    pub memory_base: u64,
}

/// The runtime routines a function may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Routine {
    /// `memset(dst, byte, len)`.
    Memset,
    /// `memmove(dst, src, len)`.
    Memmove,
    /// `memory_grow(delta) -> old pages or -1`.
    MemoryGrow,
}

/// How a `call_indirect` of one signature dispatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndirectDispatch {
    /// Through the table region whose slot 0 has this dynamic-jump address; `check` is
    /// the signature id the callee's entry stub compares with `r2`, if the table mixes
    /// signatures.
    Table {
        /// Dynamic-jump address of slot 0.
        base: u64,
        /// Signature id to pass in r2, when entries check it.
        check: Option<u64>,
    },
    /// No table entry has this signature: every call traps.
    Trap,
}

/// The register that carries the expected signature id to a checking table entry.
pub const SIGNATURE_REG: u8 = 2;

struct Isel<'a, 'm> {
    f: &'a lir::Function,
    m: &'a mut ModuleInfo<'m>,
    uses: Vec<u32>,
    values: Vec<Option<VReg>>,
    aggregates: HashMap<InstId, Vec<VReg>>,
    addresses: HashMap<InstId, (Option<VReg>, i64)>,
    args: Vec<VReg>,
    blocks: Vec<BlockDraft>,
    /// For each MIR block, the block it was split from (itself for LIR blocks).
    origin: Vec<usize>,
    lir_block: Vec<usize>,
    current: usize,
    next_vreg: usize,
    consts: HashMap<(usize, u64), VReg>,
    /// Per LIR block in a small loop: the loop's preheader, if it has one.
    preheaders: Vec<Option<BlockId>>,
    preds: Vec<Vec<BlockId>>,
    outgoing_args: u32,
    /// Instructions folded into their single user.
    folded: Vec<bool>,
    /// Loads whose only user zero-extends them: they load zero-extended.
    zext_loads: Vec<bool>,
    /// A call that always traps and the instructions after it in its block: never
    /// executed.
    unreachable: Vec<bool>,
    /// The address checks that need the argument-zone rare path (`address_check::zoned`).
    zoned: Vec<bool>,
    /// Address checks of `x + base` made on `x` (`address_check::offset_zone`): `(x,
    /// base)`; the accesses fold `base` into their offsets.
    offset_checks: HashMap<InstId, (Value, u64)>,
    /// Whether the function is a program entry (its result goes to r7 and r8).
    is_entry: bool,
}

/// An entry's constant result `start | end << 32` as its two halves, when both are below
/// 2^31: each is then one `load_imm` (5 bytes), where the whole is a `load_imm_64` and a
/// shift (13 bytes), the same two instructions.
fn split_result(k: u64) -> Option<(u64, u64)> {
    let (low, high) = (k & 0xffff_ffff, k >> 32);
    (low < 1 << 31 && high < 1 << 31).then_some((low, high))
}

/// Selects instructions for one function.
pub fn select(f: &lir::Function, is_entry: bool, zoned: &[bool], m: &mut ModuleInfo<'_>) -> Result<MFunction> {
    let mut s = Isel {
        f,
        m,
        uses: f.use_counts(),
        zoned: zoned.to_vec(),
        values: vec![None; f.insts.len()],
        aggregates: HashMap::new(),
        addresses: HashMap::new(),
        args: Vec::new(),
        blocks: Vec::new(),
        origin: Vec::new(),
        lir_block: Vec::new(),
        current: 0,
        next_vreg: 0,
        consts: HashMap::new(),
        preds: f.predecessors(),
        preheaders: loop_preheaders(f),
        outgoing_args: 0,
        folded: vec![false; f.insts.len()],
        zext_loads: vec![false; f.insts.len()],
        unreachable: vec![false; f.insts.len()],
        offset_checks: HashMap::new(),
        is_entry,
    };
    s.run()?;
    let (mut blocks, origin) = reachable_blocks(std::mem::take(&mut s.blocks), std::mem::take(&mut s.origin));
    if s.on(Optimization::DeadCode) {
        dead_code::remove(&mut blocks);
    }
    if s.on(Optimization::LoopCarried) {
        loop_carried::coalesce(&mut blocks, &mut s.next_vreg);
    }
    Ok(MFunction::new(f.name.clone(), is_entry, blocks, origin, s.next_vreg, s.outgoing_args))
}

/// `(address, limit)` of an address check's compare `address > limit` (unsigned), which
/// LLVM writes `address < 0` (signed) when the limit is 2^31 - 1.
fn check_compare(op: &Op) -> Option<(Value, u64)> {
    match *op {
        Op::ICmp(Pred::Ugt, a, Value::Const(limit)) => Some((a, limit)),
        Op::ICmp(Pred::Slt, a, Value::Const(0)) => Some((a, 0x7fff_ffff)),
        _ => None,
    }
}

fn err(message: impl Into<String>) -> CompileError {
    CompileError::new(message)
}

/// Whether `v` fits a sign-extended 32-bit immediate.
fn fits_imm(v: u64) -> bool {
    imm_len(v).is_some()
}

/// The low 32 bits of `v`, sign-extended: the immediate a 32-bit operation needs.
fn imm32(v: u64) -> u64 {
    v as u32 as i32 as i64 as u64
}

fn sext(v: u64, bits: u32) -> u64 {
    if bits >= 64 { v } else { (((v << (64 - bits)) as i64) >> (64 - bits)) as u64 }
}

impl<'a, 'm> Isel<'a, 'm> {
    fn on(&self, o: Optimization) -> bool {
        self.m.optimizations.enabled(o)
    }

    /// Whether the constant operand `v` can be an immediate.
    fn imm_operand(&self, v: u64) -> bool {
        self.on(Optimization::Immediates) && fits_imm(v)
    }

    fn vreg(&mut self) -> VReg {
        let v = VReg::new(self.next_vreg, RegClass::Int);
        self.next_vreg += 1;
        v
    }

    fn emit(&mut self, inst: MInst) {
        // A constant that fits an immediate is not kept in a register across a call: it
        // would take a callee-saved register or a stack slot, where loading it again costs
        // one instruction (compiler.wasm: 128 bytes of code less, and its start function
        // no longer stores constants to the stack to load them back).
        if matches!(inst, MInst::Call { .. } | MInst::Ecalli { .. }) {
            let current = self.current;
            self.consts.retain(|&(block, c), _| block != current || !fits_imm(c));
        }
        self.blocks[self.current].insts.push(inst);
    }

    fn new_block(&mut self, label: String) -> usize {
        self.blocks.push(BlockDraft { label, ..BlockDraft::default() });
        let id = self.blocks.len() - 1;
        // Edge blocks belong to the block being selected; LIR blocks to themselves.
        self.origin.push(if self.lir_block.len() < self.f.blocks.len() { id } else { self.origin[self.current] });
        id
    }

    fn ty(&self, v: Value) -> u32 {
        match v {
            Value::Inst(i) => self.f.insts[i].ty.bits(),
            Value::Arg(a) => self.f.params[a as usize],
            Value::Const(_) | Value::Undef => 64,
        }
    }

    fn inst_of(&self, v: Value) -> Option<&'a lir::Inst> {
        match v {
            Value::Inst(i) => Some(&self.f.insts[i]),
            _ => None,
        }
    }

    // ---- operands ---------------------------------------------------------------------

    fn constant(&mut self, c: u64) -> VReg {
        // In a small loop, the constant is loaded once, in the preheader (selected by now:
        // blocks are selected in reverse postorder). Only 64-bit constants (`load_imm_64`,
        // 10 bytes): a short one is as cheap to load as to keep. Edge blocks load
        // constants into block parameters: a move would cost as much.
        let lir_block = self.origin[self.current] == self.current;
        let preheader = self.preheaders.get(self.current).copied().flatten();
        let hoist = preheader.filter(|_| self.on(Optimization::LoopConstants) && !fits_imm(c) && lir_block);
        let block = hoist.map_or(self.current, |p| self.lir_block[p]);
        if let Some(&v) = self.consts.get(&(block, c)) {
            return v;
        }
        let v = self.vreg();
        let load = MInst::LoadImm { dst: v, value: c };
        if hoist.is_some() {
            let insts = &mut self.blocks[block].insts;
            insts.insert(insts.len().saturating_sub(1), load);
        } else {
            self.emit(load);
        }
        self.consts.insert((block, c), v);
        v
    }

    /// The register holding `v`.
    fn reg(&mut self, v: Value) -> Result<VReg> {
        match v {
            Value::Const(c) => Ok(self.constant(c)),
            Value::Undef => Ok(self.constant(0)),
            Value::Arg(a) => Ok(self.args[a as usize]),
            Value::Inst(i) => {
                if let Some(r) = self.values[i] {
                    return Ok(r);
                }
                if let Some(&(base, offset)) = self.addresses.get(&i) {
                    // An address used as a value.
                    let r = match base {
                        None => self.constant(sext(offset as u64, 32)),
                        Some(b) if offset == 0 => b,
                        Some(b) => {
                            let d = self.vreg();
                            self.emit(MInst::AluImm {
                                op: Opcode::AddImm32,
                                dst: d,
                                src: b,
                                imm: imm32(offset as u64),
                            });
                            d
                        }
                    };
                    return Ok(r);
                }
                if self.unreachable[i] {
                    // Only code that never runs uses it: any value does.
                    return Ok(self.constant(0));
                }
                Err(err(format!("internal error: value %{i} ({:?}) used before it is defined", self.f.insts[i].op)))
            }
        }
    }

    /// A constant operand, if `v` is one.
    fn constant_of(&self, v: Value) -> Option<u64> {
        match v {
            Value::Const(c) => Some(c),
            Value::Undef => Some(0),
            _ => None,
        }
    }

    /// `(base register, constant offset)` of a pointer.
    fn address(&mut self, ptr: Value) -> Result<(Option<VReg>, i64)> {
        match ptr {
            Value::Const(c) => Ok((None, c as u32 as i64)),
            Value::Undef => Ok((None, 0)),
            Value::Inst(i) if self.addresses.contains_key(&i) => Ok(self.addresses[&i]),
            other => Ok((Some(self.reg(other)?), 0)),
        }
    }

    /// The `(base, offset)` a load or store uses: the address folded into the immediate,
    /// or (without [`Optimization::FoldAddress`]) computed into a register.
    fn access_address(&mut self, ptr: Value) -> Result<(Option<VReg>, i64)> {
        let (base, offset) = self.address(ptr)?;
        if self.on(Optimization::FoldAddress) {
            return Ok((base, offset));
        }
        let reg = match base {
            None => self.constant(sext(offset as u64, 32)),
            Some(b) if offset == 0 => b,
            Some(b) => self.alu_imm(Opcode::AddImm32, b, imm32(offset as u64)),
        };
        Ok((Some(reg), 0))
    }

    // ---- the function -----------------------------------------------------------------

    fn run(&mut self) -> Result<()> {
        let name = self.f.name.clone();
        for b in 0..self.f.blocks.len() {
            let id = self.new_block(format!("{name}.b{b}"));
            self.lir_block.push(id);
        }
        self.mark_folds();
        // Block parameters: the phis.
        for (b, block) in self.f.blocks.iter().enumerate() {
            for &i in &block.insts {
                if let Op::Phi(_) = self.f.insts[i].op {
                    let v = self.vreg();
                    self.values[i] = Some(v);
                    let mb = self.lir_block[b];
                    self.blocks[mb].params.push(v);
                }
            }
        }
        // Entry: the parameters.
        self.current = self.lir_block[0];
        let mut defs = Vec::new();
        for (i, _) in self.f.params.iter().enumerate() {
            let v = self.vreg();
            self.args.push(v);
            if i < abi::ARG_REGS.len() {
                defs.push((v, preg(abi::ARG_REGS[i])));
            }
        }
        self.emit(MInst::Args { defs });
        for i in abi::ARG_REGS.len()..self.f.params.len() {
            let dst = self.args[i];
            self.emit(MInst::LoadStackParam { dst, index: (i - abi::ARG_REGS.len()) as u32 });
        }
        // Dominators first, so every value is defined before its uses are selected.
        for b in reverse_postorder(self.f) {
            self.current = self.lir_block[b];
            let insts = &self.f.blocks[b].insts;
            for (k, &i) in insts.iter().enumerate() {
                if self.folded[i] || matches!(self.f.insts[i].op, Op::Phi(_)) {
                    continue;
                }
                let stop = self.inst(b, i)?;
                if stop {
                    // Blocks reached only through here may still use the values of the
                    // instruction that ended the block (a call that always traps) and
                    // of the ones after it.
                    for &rest in &insts[k..] {
                        self.unreachable[rest] = true;
                    }
                    break;
                }
            }
        }
        Ok(())
    }

    /// Whether an address check's `outside` is `address > constant`, used by it alone and
    /// computed in its block: the check branches on the compare itself.
    fn uses_one_compare(&self, args: &[Value], block: &[InstId]) -> bool {
        match args {
            [Value::Inst(c), address, _] => {
                self.uses[*c] == 1
                    && block.contains(c)
                    && check_compare(&self.f.insts[*c].op).is_some_and(|(a, _)| a == *address)
            }
            _ => false,
        }
    }

    /// Whether every user of `v` (all in `block`) reads it as the same unsigned number
    /// whether its register holds it sign- or zero-extended: a zero extension, or an
    /// unsigned or equality compare with a constant below the sign bit of its width.
    fn read_as_unsigned(&self, v: InstId, block: &[InstId]) -> bool {
        let width = self.f.insts[v].ty.bits();
        let small = |k: u64| k < 1 << (width - 1);
        let mut users = 0;
        for &i in block {
            let op = &self.f.insts[i].op;
            if !op.operands().contains(&Value::Inst(v)) {
                continue;
            }
            users += 1;
            let unsigned = match *op {
                Op::Cast(Cast::ZExt, _, _) => true,
                Op::ICmp(pred, Value::Inst(_), Value::Const(k)) | Op::ICmp(pred, Value::Const(k), Value::Inst(_)) => {
                    !pred.is_signed() && small(k)
                }
                _ => false,
            };
            if !unsigned {
                return false;
            }
        }
        users == self.uses[v]
    }

    /// Marks compares that fold into their only user (a branch or select in the same
    /// block), loads that load zero-extended for their only user, and additions of a
    /// constant whose only user is an address (the constant joins the address's offset).
    fn mark_folds(&mut self) {
        let (fuse, known_bits) = (self.on(Optimization::FuseCompare), self.on(Optimization::KnownBits));
        let fold_address = self.on(Optimization::FoldAddress);
        let only_address_terms = self.only_address_terms();
        for block in &self.f.blocks {
            for &i in &block.insts {
                match &self.f.insts[i].op {
                    Op::CondBr(Value::Inst(c), ..) | Op::Select(Value::Inst(c), ..)
                        if fuse
                            && self.uses[*c] == 1
                            && block.insts.contains(c)
                            && matches!(self.f.insts[*c].op, Op::ICmp(..)) =>
                    {
                        self.folded[*c] = true;
                    }
                    Op::Call { callee: Callee::AddressCheck, args } if self.uses_one_compare(args, &block.insts) => {
                        if let Value::Inst(c) = args[0] {
                            self.folded[c] = true;
                        }
                        if let Some((add, x, base)) = self.offset_check(i, args)
                            && fold_address
                            && only_address_terms[i]
                        {
                            self.folded[add] = true;
                            self.offset_checks.insert(i, (x, base));
                        }
                    }
                    Op::Cast(Cast::ZExt, Value::Inst(l), from)
                        if known_bits
                            && block.insts.contains(l)
                            && matches!(self.f.insts[*l].op, Op::Load { bytes, .. } if bytes * 8 == *from && *from < 64)
                            && self.read_as_unsigned(*l, &block.insts) =>
                    {
                        self.zext_loads[*l] = true;
                    }
                    Op::Address { terms, .. } if fold_address => {
                        for &(v, _) in terms {
                            if let Value::Inst(j) = v
                                && self.uses[j] == 1
                                && self.f.insts[j].op.added_constant().is_some()
                            {
                                self.folded[j] = true;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Per instruction, whether it is used and only as a term of addresses.
    fn only_address_terms(&self) -> Vec<bool> {
        let mut term = vec![false; self.f.insts.len()];
        let mut other = vec![false; self.f.insts.len()];
        for block in &self.f.blocks {
            for &i in &block.insts {
                let (terms, others) = match &self.f.insts[i].op {
                    Op::Address { base, terms, .. } => (terms.iter().map(|t| t.0).collect(), vec![*base]),
                    op => (Vec::new(), op.operands()),
                };
                let mark = |flags: &mut Vec<bool>, values: Vec<Value>| {
                    for v in values {
                        if let Value::Inst(j) = v {
                            flags[j] = true;
                        }
                    }
                };
                mark(&mut term, terms);
                mark(&mut other, others);
            }
        }
        term.iter().zip(&other).map(|(&t, &o)| t && !o).collect()
    }

    /// For a check of `x + base` whose compare folds into it, that needs the argument
    /// zone, and whose addition nothing else uses: `(the addition, x, base)`, if `base`
    /// is in the argument zone (`address_check::offset_zone`).
    fn offset_check(&self, i: InstId, args: &[Value]) -> Option<(InstId, Value, u64)> {
        let [_, Value::Inst(add), Value::Const(reach)] = *args else { return None };
        let (x, base) = self.f.insts[add].op.added_constant()?;
        let in_zone = address_check::in_zone(self.m.memory_base, base);
        let zoned = self.zoned[i] && reach <= address_check::ARGS_REACH;
        (zoned && in_zone && self.uses[add] == 2 && self.constant_of(x).is_none()).then_some((add, x, base))
    }

    /// Lowers one instruction; returns true when the rest of the block is unreachable.
    fn inst(&mut self, b: BlockId, i: InstId) -> Result<bool> {
        let inst = &self.f.insts[i];
        let width = inst.ty.bits();
        match &inst.op {
            Op::Binary(op, l, r) => {
                let v = self.binary(*op, *l, *r, width)?;
                self.values[i] = Some(v);
            }
            Op::ICmp(pred, l, r) => {
                let v = self.compare_value(*pred, *l, *r)?;
                self.values[i] = Some(v);
            }
            Op::Select(c, a, x) => {
                let v = self.select(*c, *a, *x)?;
                self.values[i] = Some(v);
            }
            Op::Cast(cast, v, from) => {
                let r = self.cast(*cast, *v, *from, width)?;
                self.values[i] = Some(r);
            }
            Op::Copy(v) => {
                if let Value::Inst(j) = v
                    && let Some(&a) = self.addresses.get(j)
                {
                    self.addresses.insert(i, a);
                } else {
                    let r = self.reg(*v)?;
                    self.values[i] = Some(r);
                }
            }
            Op::Address { base, offset, terms } => {
                let (mut reg, mut off) = self.address(*base)?;
                off = off.wrapping_add(*offset);
                for &(mut v, scale) in terms {
                    // Address arithmetic wraps at 32 bits, so `(x + c)·s` is `x·s + c·s`.
                    if let Value::Inst(j) = v
                        && let Some(&(x, c)) = self.offset_checks.get(&j)
                    {
                        off = off.wrapping_add((c as i64).wrapping_mul(scale as i64));
                        v = x;
                    } else if let Value::Inst(j) = v
                        && self.folded[j]
                        && let Some((x, c)) = self.f.insts[j].op.added_constant()
                    {
                        off = off.wrapping_add((c as i64).wrapping_mul(scale as i64));
                        v = x;
                    }
                    if let Some(c) = self.constant_of(v) {
                        off = off.wrapping_add((c as i64).wrapping_mul(scale as i64));
                        continue;
                    }
                    let x = self.reg(v)?;
                    let scaled = self.scale(x, scale);
                    reg = Some(match reg {
                        None => scaled,
                        Some(r) => {
                            let d = self.vreg();
                            self.emit(MInst::Alu { op: Opcode::Add32, dst: d, a: r, b: scaled });
                            d
                        }
                    });
                }
                self.addresses.insert(i, (reg, sext(off as u64, 32) as i64));
            }
            Op::Load { ptr, bytes } => {
                let (base, offset) = self.access_address(*ptr)?;
                let op = load_opcode(*bytes, width, self.zext_loads[i]);
                let dst = self.vreg();
                self.emit(MInst::Load { op, dst, base, offset: offset as u32 });
                self.values[i] = Some(dst);
            }
            Op::Store { ptr, value, bytes } => {
                let (base, offset) = self.access_address(*ptr)?;
                // A store keeps only the low bytes: a truncation feeding it is not needed.
                let value = match self.inst_of(*value) {
                    Some(lir::Inst { op: Op::Cast(Cast::Trunc, wide, _), ty }) if ty.bits() >= bytes * 8 => *wide,
                    _ => *value,
                };
                let value = &value;
                let value = match self.constant_of(*value) {
                    Some(c) if self.on(Optimization::Immediates) && (*bytes < 8 || fits_imm(c)) => {
                        StoreValue::Imm(if *bytes < 8 { imm32(c) } else { c })
                    }
                    _ => StoreValue::Reg(self.reg(*value)?),
                };
                self.emit(MInst::Store { bytes: *bytes, value, base, offset: offset as u32 });
            }
            Op::Call { callee, args } => return self.call(i, callee, args),
            Op::ExtractValue(Value::Inst(agg), index) => {
                let parts = self
                    .aggregates
                    .get(agg)
                    .ok_or_else(|| err("internal error: extractvalue of an unknown aggregate"))?;
                let v = *parts.get(*index as usize).ok_or_else(|| err("internal error: extractvalue index"))?;
                self.values[i] = Some(v);
            }
            Op::ExtractValue(..) => return Err(err("internal error: extractvalue of a non-instruction")),
            Op::Phi(_) => {}
            Op::Br(t) => {
                let (target, args) = self.edge(b, *t, false)?;
                self.emit(MInst::Jump { target, args: args.clone() });
                self.blocks[self.current].succs.push((target, args));
                return Ok(true);
            }
            Op::CondBr(c, t, f) => {
                self.cond_branch(b, *c, *t, *f)?;
                return Ok(true);
            }
            Op::Switch { value, default, cases } => {
                self.switch(b, *value, *default, cases)?;
                return Ok(true);
            }
            Op::Ret(v) => {
                let mut values = Vec::new();
                match *v {
                    Some(Value::Const(k)) if self.is_entry && split_result(k).is_some() => {
                        let (low, high) = split_result(k).unwrap_or_default();
                        values.push((self.constant(low), preg(abi::RESULT_REGS[0])));
                        values.push((self.constant(high), preg(abi::RESULT_REGS[1])));
                    }
                    Some(v) => {
                        let r = self.reg(v)?;
                        values.push((r, preg(abi::RESULT_REGS[0])));
                    }
                    None => {}
                }
                self.emit(MInst::Return { values });
                return Ok(true);
            }
            Op::Unreachable => {
                self.emit(MInst::Trap);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether `v`, a `bits`-wide value, certainly has its top bit clear (so its
    /// canonical form is also its zero extension). Looks `depth` instructions deep.
    fn known_non_negative(&self, v: Value, bits: u32, depth: u32) -> bool {
        let top = 1u64 << (bits - 1);
        match v {
            Value::Const(c) => c & top == 0 || bits == 64 && (c as i64) >= 0,
            Value::Inst(i) if depth > 0 => match &self.f.insts[i].op {
                Op::Binary(BinOp::And, a, b) => {
                    self.known_non_negative(*a, bits, depth - 1) || self.known_non_negative(*b, bits, depth - 1)
                }
                Op::Binary(BinOp::LShr, _, Value::Const(k)) => *k & u64::from(bits - 1) != 0,
                Op::Binary(BinOp::URem | BinOp::UDiv, a, b) => {
                    self.known_non_negative(*b, bits, depth - 1) || self.known_non_negative(*a, bits, depth - 1)
                }
                Op::Binary(BinOp::Or | BinOp::Xor, a, b) => {
                    self.known_non_negative(*a, bits, depth - 1) && self.known_non_negative(*b, bits, depth - 1)
                }
                Op::Cast(Cast::ZExt, _, from) => *from < bits,
                Op::ICmp(..) => true,
                Op::Load { bytes, .. } => self.zext_loads[i] && bytes * 8 < bits,
                Op::Call { callee: Callee::Intrinsic(name), .. } => {
                    name.starts_with("llvm.ctlz") || name.starts_with("llvm.cttz") || name.starts_with("llvm.ctpop")
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// `x * scale` for an address term.
    fn scale(&mut self, x: VReg, scale: u64) -> VReg {
        if scale == 1 {
            return x;
        }
        let d = self.vreg();
        if scale.is_power_of_two() {
            self.emit(MInst::AluImm { op: Opcode::ShloLImm32, dst: d, src: x, imm: u64::from(scale.trailing_zeros()) });
        } else {
            self.emit(MInst::AluImm { op: Opcode::MulImm32, dst: d, src: x, imm: imm32(scale) });
        }
        d
    }

    // ---- arithmetic ---------------------------------------------------------------------

    /// Re-establishes canonical form for a `bits`-wide value computed in 64 bits.
    fn normalize(&mut self, v: VReg, bits: u32) -> VReg {
        let d = self.vreg();
        match bits {
            64 => return v,
            1 => self.emit(MInst::AluImm { op: Opcode::AndImm, dst: d, src: v, imm: 1 }),
            8 => self.emit(MInst::Unary { op: Opcode::SignExtend8, dst: d, src: v }),
            16 => self.emit(MInst::Unary { op: Opcode::SignExtend16, dst: d, src: v }),
            32 => self.emit(MInst::AluImm { op: Opcode::AddImm32, dst: d, src: v, imm: 0 }),
            _ => {
                let t = self.vreg();
                let shift = u64::from(64 - bits);
                self.emit(MInst::AluImm { op: Opcode::ShloLImm64, dst: t, src: v, imm: shift });
                self.emit(MInst::AluImm { op: Opcode::SharRImm64, dst: d, src: t, imm: shift });
            }
        }
        d
    }

    /// The value zero-extended from `bits` (for unsigned operations on narrow values).
    fn zero_extend(&mut self, v: VReg, bits: u32) -> VReg {
        if bits >= 64 {
            return v;
        }
        let d = self.vreg();
        match bits {
            16 => self.emit(MInst::Unary { op: Opcode::ZeroExtend16, dst: d, src: v }),
            1..=31 => self.emit(MInst::AluImm { op: Opcode::AndImm, dst: d, src: v, imm: (1u64 << bits) - 1 }),
            _ => {
                let t = self.vreg();
                let shift = u64::from(64 - bits);
                self.emit(MInst::AluImm { op: Opcode::ShloLImm64, dst: t, src: v, imm: shift });
                self.emit(MInst::AluImm { op: Opcode::ShloRImm64, dst: d, src: t, imm: shift });
            }
        }
        d
    }

    fn alu(&mut self, op: Opcode, a: VReg, b: VReg) -> VReg {
        let d = self.vreg();
        self.emit(MInst::Alu { op, dst: d, a, b });
        d
    }

    fn alu_imm(&mut self, op: Opcode, src: VReg, imm: u64) -> VReg {
        let d = self.vreg();
        self.emit(MInst::AluImm { op, dst: d, src, imm });
        d
    }

    fn binary(&mut self, op: BinOp, l: Value, r: Value, width: u32) -> Result<VReg> {
        let native32 = width == 32;
        let pick = |o32: Opcode, o64: Opcode| if native32 { o32 } else { o64 };
        let lc = self.constant_of(l);
        let rc = self.constant_of(r);
        // An immediate usable by an operation of this width.
        let imms = self.on(Optimization::Immediates);
        let usable = |c: u64| imms && (native32 || fits_imm(c));
        let imm = |c: u64| if native32 { imm32(c) } else { c };
        // Whether the result needs re-canonicalising (non-native widths).
        let narrow = width != 32 && width != 64;
        let v = match op {
            BinOp::Add | BinOp::Mul | BinOp::And | BinOp::Or | BinOp::Xor => {
                let (reg_op, imm_op) = match op {
                    BinOp::Add => (pick(Opcode::Add32, Opcode::Add64), pick(Opcode::AddImm32, Opcode::AddImm64)),
                    BinOp::Mul => (pick(Opcode::Mul32, Opcode::Mul64), pick(Opcode::MulImm32, Opcode::MulImm64)),
                    BinOp::And => (Opcode::And, Opcode::AndImm),
                    BinOp::Or => (Opcode::Or, Opcode::OrImm),
                    _ => (Opcode::Xor, Opcode::XorImm),
                };
                // Bitwise operations keep sign-extended inputs sign-extended.
                let bitwise = matches!(op, BinOp::And | BinOp::Or | BinOp::Xor);
                let imm_ok = |c: u64| if bitwise { imms && fits_imm(c) } else { usable(c) };
                let v = match (lc, rc) {
                    (_, Some(c)) if imm_ok(c) => {
                        let a = self.reg(l)?;
                        self.alu_imm(imm_op, a, if bitwise { c } else { imm(c) })
                    }
                    (Some(c), _) if imm_ok(c) => {
                        let b = self.reg(r)?;
                        self.alu_imm(imm_op, b, if bitwise { c } else { imm(c) })
                    }
                    _ => {
                        let (a, b) = (self.reg(l)?, self.reg(r)?);
                        self.alu(reg_op, a, b)
                    }
                };
                return Ok(if narrow && !bitwise { self.normalize(v, width) } else { v });
            }
            BinOp::MulUpperU if width == 64 => {
                let (a, b) = (self.reg(l)?, self.reg(r)?);
                self.alu(Opcode::MulUpperUU, a, b)
            }
            BinOp::MulUpperU => {
                return Err(err(format!("internal error: the high half of a {width}-bit product")));
            }
            BinOp::Sub => match (lc, rc) {
                (_, Some(c)) if usable(c.wrapping_neg()) => {
                    let a = self.reg(l)?;
                    self.alu_imm(pick(Opcode::AddImm32, Opcode::AddImm64), a, imm(c.wrapping_neg()))
                }
                (Some(c), _) if usable(c) => {
                    let b = self.reg(r)?;
                    self.alu_imm(pick(Opcode::NegAddImm32, Opcode::NegAddImm64), b, imm(c))
                }
                _ => {
                    let (a, b) = (self.reg(l)?, self.reg(r)?);
                    self.alu(pick(Opcode::Sub32, Opcode::Sub64), a, b)
                }
            },
            BinOp::UDiv | BinOp::URem | BinOp::SDiv | BinOp::SRem => {
                let signed = matches!(op, BinOp::SDiv | BinOp::SRem);
                let o = match op {
                    BinOp::UDiv => pick(Opcode::DivU32, Opcode::DivU64),
                    BinOp::URem => pick(Opcode::RemU32, Opcode::RemU64),
                    BinOp::SDiv => pick(Opcode::DivS32, Opcode::DivS64),
                    _ => pick(Opcode::RemS32, Opcode::RemS64),
                };
                let (mut a, mut b) = (self.reg(l)?, self.reg(r)?);
                if narrow && !signed {
                    a = self.zero_extend(a, width);
                    b = self.zero_extend(b, width);
                }
                self.alu(o, a, b)
            }
            BinOp::Shl | BinOp::LShr | BinOp::AShr => {
                let (reg_op, imm_op, alt_op) = match op {
                    BinOp::Shl => (
                        pick(Opcode::ShloL32, Opcode::ShloL64),
                        pick(Opcode::ShloLImm32, Opcode::ShloLImm64),
                        pick(Opcode::ShloLImmAlt32, Opcode::ShloLImmAlt64),
                    ),
                    BinOp::LShr => (
                        pick(Opcode::ShloR32, Opcode::ShloR64),
                        pick(Opcode::ShloRImm32, Opcode::ShloRImm64),
                        pick(Opcode::ShloRImmAlt32, Opcode::ShloRImmAlt64),
                    ),
                    _ => (
                        pick(Opcode::SharR32, Opcode::SharR64),
                        pick(Opcode::SharRImm32, Opcode::SharRImm64),
                        pick(Opcode::SharRImmAlt32, Opcode::SharRImmAlt64),
                    ),
                };
                if let Some(c) = rc.filter(|_| imms) {
                    let mut a = self.reg(l)?;
                    if narrow && op == BinOp::LShr {
                        a = self.zero_extend(a, width);
                    }
                    self.alu_imm(imm_op, a, c & 63)
                } else {
                    // The PVM takes shift amounts modulo the width: drop an explicit mask.
                    let amount = self.shift_amount(r, width)?;
                    match lc {
                        Some(c) if !narrow && usable(c) && (op != BinOp::LShr || native32 || fits_imm(c)) => {
                            self.alu_imm(alt_op, amount, imm(c))
                        }
                        _ => {
                            let mut a = self.reg(l)?;
                            if narrow && op == BinOp::LShr {
                                a = self.zero_extend(a, width);
                            }
                            self.alu(reg_op, a, amount)
                        }
                    }
                }
            }
        };
        Ok(if narrow { self.normalize(v, width) } else { v })
    }

    /// The register for a shift amount, looking through `and amount, width-1`.
    fn shift_amount(&mut self, r: Value, width: u32) -> Result<VReg> {
        if (width == 32 || width == 64)
            && let Some(lir::Inst { op: Op::Binary(BinOp::And, x, Value::Const(m)), .. }) = self.inst_of(r)
            && *m == u64::from(width - 1)
        {
            return self.reg(*x);
        }
        self.reg(r)
    }

    // ---- compares and selects -------------------------------------------------------------

    /// A compare producing 0 or 1.
    fn compare_value(&mut self, pred: Pred, l: Value, r: Value) -> Result<VReg> {
        let (pred, l, r) = self.canonical_compare(pred, l, r)?;
        let a = self.compare_operand(l, pred)?;
        let rc = self.constant_of(r);
        let d = match (pred, rc) {
            (Pred::Eq, Some(0)) => self.alu_imm(Opcode::SetLtUImm, a, 1),
            (Pred::Ne, Some(0)) => self.alu_imm(Opcode::SetGtUImm, a, 0),
            (Pred::Eq | Pred::Ne, _) => {
                let x = match rc {
                    Some(c) if self.imm_operand(c) => self.alu_imm(Opcode::XorImm, a, c),
                    _ => {
                        let b = self.compare_operand(r, pred)?;
                        self.alu(Opcode::Xor, a, b)
                    }
                };
                if pred == Pred::Eq {
                    self.alu_imm(Opcode::SetLtUImm, x, 1)
                } else {
                    self.alu_imm(Opcode::SetGtUImm, x, 0)
                }
            }
            (_, Some(c)) if self.on(Optimization::Immediates) => self.compare_imm(pred, a, c, r)?,
            _ => {
                let b = self.compare_operand(r, pred)?;
                let (lt, signed) = (pred, pred.is_signed());
                let set = if signed { Opcode::SetLtS } else { Opcode::SetLtU };
                match lt {
                    Pred::Ult | Pred::Slt => self.alu(set, a, b),
                    Pred::Ugt | Pred::Sgt => self.alu(set, b, a),
                    Pred::Uge | Pred::Sge => {
                        let t = self.alu(set, a, b);
                        self.alu_imm(Opcode::XorImm, t, 1)
                    }
                    _ => {
                        let t = self.alu(set, b, a);
                        self.alu_imm(Opcode::XorImm, t, 1)
                    }
                }
            }
        };
        Ok(d)
    }

    /// `a pred c` for a constant `c` (not eq/ne).
    fn compare_imm(&mut self, pred: Pred, a: VReg, c: u64, r: Value) -> Result<VReg> {
        let signed = pred.is_signed();
        let (lt_imm, gt_imm) =
            if signed { (Opcode::SetLtSImm, Opcode::SetGtSImm) } else { (Opcode::SetLtUImm, Opcode::SetGtUImm) };
        let max = if signed { i64::MAX as u64 } else { u64::MAX };
        let min = if signed { i64::MIN as u64 } else { 0 };
        Ok(match pred {
            Pred::Ult | Pred::Slt if fits_imm(c) => self.alu_imm(lt_imm, a, c),
            Pred::Ugt | Pred::Sgt if fits_imm(c) => self.alu_imm(gt_imm, a, c),
            // a <= c  ⇔  a < c + 1
            Pred::Ule | Pred::Sle if c != max && fits_imm(c.wrapping_add(1)) => {
                self.alu_imm(lt_imm, a, c.wrapping_add(1))
            }
            // a >= c  ⇔  a > c - 1
            Pred::Uge | Pred::Sge if c != min && fits_imm(c.wrapping_sub(1)) => {
                self.alu_imm(gt_imm, a, c.wrapping_sub(1))
            }
            _ => {
                let b = self.compare_operand(r, pred)?;
                let set = if signed { Opcode::SetLtS } else { Opcode::SetLtU };
                match pred {
                    Pred::Ult | Pred::Slt => self.alu(set, a, b),
                    Pred::Ugt | Pred::Sgt => self.alu(set, b, a),
                    Pred::Uge | Pred::Sge => {
                        let t = self.alu(set, a, b);
                        self.alu_imm(Opcode::XorImm, t, 1)
                    }
                    _ => {
                        let t = self.alu(set, b, a);
                        self.alu_imm(Opcode::XorImm, t, 1)
                    }
                }
            }
        })
    }

    /// Puts a constant on the right.
    fn canonical_compare(&self, pred: Pred, l: Value, r: Value) -> Result<(Pred, Value, Value)> {
        if self.constant_of(l).is_some() && self.constant_of(r).is_none() {
            Ok((pred.swapped(), r, l))
        } else {
            Ok((pred, l, r))
        }
    }

    /// A compare operand in a register; 1-bit values in signed compares become 0/-1.
    fn compare_operand(&mut self, v: Value, pred: Pred) -> Result<VReg> {
        let r = self.reg(v)?;
        if pred.is_signed() && self.ty(v) == 1 {
            return Ok(self.alu_imm(Opcode::NegAddImm64, r, 0));
        }
        Ok(r)
    }

    /// `x & 2^k == 0` (or `!= 0`) on 64 bits with 2^k too large for an immediate, as a
    /// test of the sign of `x << (63 - k)`: one instruction and no constant instead of
    /// loading the constant and masking (the mask, now unread, is removed with the dead
    /// code).
    fn sign_bit_test(&mut self, pred: Pred, l: Value, r: Value) -> Result<Option<(Pred, VReg, Rhs)>> {
        let Some(lir::Inst { op: Op::Binary(BinOp::And, x, Value::Const(bit)), .. }) = self.inst_of(l) else {
            return Ok(None);
        };
        let (x, bit) = (*x, *bit);
        let test = match pred {
            Pred::Eq => Pred::Sge,
            Pred::Ne => Pred::Slt,
            _ => return Ok(None),
        };
        if !self.on(Optimization::Immediates)
            || self.constant_of(r) != Some(0)
            || self.ty(l) != 64
            || !bit.is_power_of_two()
            || fits_imm(bit)
        {
            return Ok(None);
        }
        let x = self.reg(x)?;
        let shift = 63 - bit.trailing_zeros();
        let shifted = if shift == 0 { x } else { self.alu_imm(Opcode::ShloLImm64, x, u64::from(shift)) };
        Ok(Some((test, shifted, Rhs::Imm(0))))
    }

    /// A compare-and-branch condition `(pred, a, b)` for an i1 value.
    fn branch_condition(&mut self, c: Value) -> Result<(Pred, VReg, Rhs)> {
        if let Value::Inst(i) = c
            && self.folded[i]
            && let Op::ICmp(pred, l, r) = self.f.insts[i].op
        {
            let (pred, l, r) = self.canonical_compare(pred, l, r)?;
            if let Some(test) = self.sign_bit_test(pred, l, r)? {
                return Ok(test);
            }
            let a = self.compare_operand(l, pred)?;
            let b = match self.constant_of(r) {
                Some(k) if self.imm_operand(k) && !(pred.is_signed() && self.ty(r) == 1) => Rhs::Imm(k),
                _ => Rhs::Reg(self.compare_operand(r, pred)?),
            };
            return Ok((pred, a, b));
        }
        if let Some(k) = self.constant_of(c) {
            let a = self.constant(k);
            return Ok((Pred::Ne, a, Rhs::Imm(0)));
        }
        Ok((Pred::Ne, self.reg(c)?, Rhs::Imm(0)))
    }

    fn select(&mut self, c: Value, a: Value, b: Value) -> Result<VReg> {
        // The condition as a register tested against zero.
        let (cond, nonzero) = match c {
            Value::Inst(i) if self.folded[i] => {
                let Op::ICmp(pred, l, r) = self.f.insts[i].op else { unreachable!("only compares fold into selects") };
                match (pred, self.constant_of(r), self.constant_of(l)) {
                    (Pred::Eq, Some(0), _) => (self.reg(l)?, false),
                    (Pred::Ne, Some(0), _) => (self.reg(l)?, true),
                    (Pred::Eq, _, Some(0)) => (self.reg(r)?, false),
                    (Pred::Ne, _, Some(0)) => (self.reg(r)?, true),
                    _ => (self.compare_value(pred, l, r)?, true),
                }
            }
            _ => (self.reg(c)?, true),
        };
        if !self.on(Optimization::Cmov) {
            // otherwise ^ ((when ^ otherwise) & mask), mask all ones when the condition holds.
            let holds = if nonzero {
                self.alu_imm(Opcode::SetGtUImm, cond, 0)
            } else {
                self.alu_imm(Opcode::SetLtUImm, cond, 1)
            };
            let mask = self.alu_imm(Opcode::NegAddImm64, holds, 0);
            let (when, otherwise) = (self.reg(a)?, self.reg(b)?);
            let differ = self.alu(Opcode::Xor, when, otherwise);
            let picked = self.alu(Opcode::And, differ, mask);
            return Ok(self.alu(Opcode::Xor, otherwise, picked));
        }
        let (nz, iz, nz_imm, iz_imm) = (Opcode::CmovNz, Opcode::CmovIz, Opcode::CmovNzImm, Opcode::CmovIzImm);
        // `when` is chosen when the condition holds (cond != 0 if `nonzero`).
        let (when, otherwise) = (a, b);
        let (hold_op, hold_imm, fail_imm) = if nonzero { (nz, nz_imm, iz_imm) } else { (iz, iz_imm, nz_imm) };
        let d = self.vreg();
        match (self.constant_of(when), self.constant_of(otherwise)) {
            (Some(k), _) if self.imm_operand(k) => {
                let old = self.reg(otherwise)?;
                self.emit(MInst::CmovImm { op: hold_imm, dst: d, old, cond, imm: k });
            }
            (None, Some(k)) if self.imm_operand(k) => {
                let old = self.reg(when)?;
                self.emit(MInst::CmovImm { op: fail_imm, dst: d, old, cond, imm: k });
            }
            _ => {
                let old = self.reg(otherwise)?;
                let value = self.reg(when)?;
                self.emit(MInst::Cmov { op: hold_op, dst: d, old, value, cond });
            }
        }
        Ok(d)
    }

    // ---- casts ----------------------------------------------------------------------------

    fn cast(&mut self, cast: Cast, v: Value, from: u32, to: u32) -> Result<VReg> {
        let r = self.reg(v)?;
        Ok(match cast {
            Cast::Trunc if to == from => r,
            Cast::Trunc => self.normalize(r, to),
            Cast::SExt if from == 1 => self.alu_imm(Opcode::NegAddImm64, r, 0),
            Cast::SExt => r,
            Cast::ZExt if from == 1 => r,
            Cast::ZExt => {
                let zero_loaded = matches!(v, Value::Inst(l) if self.zext_loads[l]);
                let known = self.on(Optimization::KnownBits) && self.known_non_negative(v, from, 4);
                if zero_loaded || known { r } else { self.zero_extend(r, from) }
            }
        })
    }

    // ---- control flow ---------------------------------------------------------------------

    /// The MIR target and arguments of the edge `from → to`; splits critical edges.
    fn edge(&mut self, from: BlockId, to: BlockId, multi_succ: bool) -> Result<(usize, Vec<VReg>)> {
        let phis: Vec<Value> = self.f.blocks[to]
            .insts
            .iter()
            .filter_map(|&i| match &self.f.insts[i].op {
                Op::Phi(incoming) => Some(incoming.iter().find(|(_, p)| *p == from).map_or(Value::Undef, |x| x.0)),
                _ => None,
            })
            .collect();
        let target = self.lir_block[to];
        if multi_succ && self.preds[to].len() > 1 {
            let label = format!("{}.e{}", self.f.name, self.blocks.len());
            let edge = self.new_block(label);
            let saved = self.current;
            self.current = edge;
            let args = phis.iter().map(|&v| self.reg(v)).collect::<Result<Vec<_>>>()?;
            self.emit(MInst::Jump { target, args: args.clone() });
            self.blocks[edge].succs.push((target, args));
            self.current = saved;
            return Ok((edge, Vec::new()));
        }
        let args = phis.iter().map(|&v| self.reg(v)).collect::<Result<Vec<_>>>()?;
        Ok((target, args))
    }

    fn cond_branch(&mut self, b: BlockId, c: Value, t: BlockId, f: BlockId) -> Result<()> {
        let only = match self.constant_of(c) {
            Some(k) => Some(if k & 1 == 1 { t } else { f }),
            None => (t == f).then_some(t),
        };
        if let Some(t) = only {
            let (target, args) = self.edge(b, t, false)?;
            self.emit(MInst::Jump { target, args: args.clone() });
            self.blocks[self.current].succs.push((target, args));
            return Ok(());
        }
        let (pred, a, rhs) = self.branch_condition(c)?;
        let (taken, taken_args) = self.edge(b, t, true)?;
        let (not_taken, not_taken_args) = self.edge(b, f, true)?;
        let cur = self.current;
        self.blocks[cur].succs.push((taken, taken_args));
        self.blocks[cur].succs.push((not_taken, not_taken_args));
        self.emit(MInst::Branch { pred, a, b: rhs, taken: 0, not_taken: 1 });
        Ok(())
    }

    fn switch(&mut self, b: BlockId, value: Value, default: BlockId, cases: &[(u64, BlockId)]) -> Result<()> {
        let v = self.reg(value)?;
        let width = self.ty(value);
        // One successor per distinct target.
        let mut targets: Vec<BlockId> = vec![default];
        for &(_, t) in cases {
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        let multi = targets.len() > 1;
        let mut succs = Vec::new();
        for &t in &targets {
            succs.push(self.edge(b, t, multi)?);
        }
        let index_of = |t: BlockId| targets.iter().position(|&x| x == t).expect("every target is listed");
        let mut sorted: Vec<(i64, usize)> = cases.iter().map(|&(c, t)| (c as i64, index_of(t))).collect();
        sorted.sort();
        let kind = match (sorted.first(), sorted.last()) {
            (Some(&(min, _)), Some(&(max, _)))
                if sorted.len() >= 4 && (max.wrapping_sub(min) as u64) <= 3 * sorted.len() as u64 + 8 =>
            {
                let len = max.wrapping_sub(min) as u64 + 1;
                let mut entries = vec![0usize; len as usize];
                for &(c, s) in &sorted {
                    entries[c.wrapping_sub(min) as usize] = s;
                }
                let index = if min == 0 {
                    v
                } else if width == 32 {
                    self.alu_imm(Opcode::AddImm32, v, imm32((min as u64).wrapping_neg()))
                } else {
                    let m = self.constant(min as u64);
                    self.alu(Opcode::Sub64, v, m)
                };
                let doubled = self.alu(Opcode::Add64, index, index);
                SwitchKind::Table { index, doubled, len, base: 0, entries }
            }
            _ => {
                let cases: Vec<(u64, usize)> = sorted.iter().map(|&(c, s)| (c as u64, s)).collect();
                let wide = cases.iter().filter(|&&(c, _)| !fits_imm(c)).map(|&(c, _)| self.constant(c)).collect();
                SwitchKind::Compare { value: v, cases, wide }
            }
        };
        let kind = match kind {
            SwitchKind::Table { index, doubled, len, entries, .. } => {
                let labels = entries.iter().map(|&s| self.blocks[succs[s].0].label.clone()).collect();
                let base = (self.m.reserve_switch_table)(labels);
                SwitchKind::Table { index, doubled, len, base, entries }
            }
            other => other,
        };
        let cur = self.current;
        for s in succs {
            self.blocks[cur].succs.push(s);
        }
        self.emit(MInst::Switch { kind, default: 0 });
        Ok(())
    }

    // ---- calls ----------------------------------------------------------------------------

    fn call_clobbers(results: &[(VReg, regalloc2::PReg)]) -> PRegSet {
        let mut set = PRegSet::empty();
        for r in abi::CALLER_SAVED {
            if !results.iter().any(|(_, p)| p.hw_enc() == r as usize) {
                set.add(preg(r));
            }
        }
        set
    }

    fn call_args(&mut self, args: &[Value]) -> Result<Vec<(VReg, regalloc2::PReg)>> {
        let mut fixed = Vec::new();
        for (k, &a) in args.iter().enumerate() {
            let r = self.reg(a)?;
            if k < abi::ARG_REGS.len() {
                fixed.push((r, preg(abi::ARG_REGS[k])));
            } else {
                let offset = 8 * (k - abi::ARG_REGS.len()) as u32;
                self.emit(MInst::StoreStackArg { value: r, offset });
                self.outgoing_args = self.outgoing_args.max(offset + 8);
            }
        }
        Ok(fixed)
    }

    fn result_regs(&mut self, i: InstId) -> Vec<(VReg, regalloc2::PReg)> {
        match &self.f.insts[i].ty {
            Ty::Void => Vec::new(),
            _ => {
                let v = self.vreg();
                self.values[i] = Some(v);
                vec![(v, preg(abi::RESULT_REGS[0]))]
            }
        }
    }

    /// Lowers a call; returns true when the rest of the block is unreachable.
    fn call(&mut self, i: InstId, callee: &Callee, args: &[Value]) -> Result<bool> {
        match callee {
            Callee::Function(id) => {
                let target = CallTarget::Label(self.m.function_names[*id].clone());
                let fixed = self.call_args(args)?;
                let results = self.result_regs(i);
                let clobbers = Self::call_clobbers(&results);
                self.emit(MInst::Call { target, args: fixed, results, clobbers });
            }
            Callee::CallIndirect(sig) => match (self.m.dispatch)(*sig) {
                IndirectDispatch::Trap => {
                    self.emit(MInst::Trap);
                    return Ok(true);
                }
                IndirectDispatch::Table { base, check } => {
                    let index = self.reg(args[0])?;
                    let doubled_index = self.alu(Opcode::Add64, index, index);
                    let mut fixed = self.call_args(&args[1..])?;
                    if let Some(id) = check {
                        let s = self.vreg();
                        self.emit(MInst::LoadImm { dst: s, value: id });
                        fixed.push((s, preg(SIGNATURE_REG)));
                    }
                    let results = self.result_regs(i);
                    let clobbers = Self::call_clobbers(&results);
                    self.emit(MInst::Call {
                        target: CallTarget::Table { doubled_index, base },
                        args: fixed,
                        results,
                        clobbers,
                    });
                }
            },
            Callee::MemoryGrow => self.runtime_call(i, Routine::MemoryGrow, args)?,
            Callee::AddressCheck => self.address_check(i, args)?,
            Callee::Ecalli(index) => {
                let fixed = self.call_args(args)?;
                let mut results = self.result_regs(i);
                let r8 = self.vreg();
                if self.m.host_r8_slot.is_some() {
                    results.push((r8, preg(abi::RESULT_REGS[1])));
                }
                let mut clobbers = PRegSet::empty();
                for r in abi::ARG_REGS {
                    if !results.iter().any(|(_, p)| p.hw_enc() == r as usize) {
                        clobbers.add(preg(r));
                    }
                }
                self.emit(MInst::Ecalli { index: *index, args: fixed, results, clobbers });
                if let Some(slot) = self.m.host_r8_slot {
                    self.emit(MInst::Store { bytes: 8, value: StoreValue::Reg(r8), base: None, offset: slot as u32 });
                }
            }
            Callee::HostR8 => {
                let slot = self.m.host_r8_slot.ok_or_else(|| err("internal error: host_r8 without its slot"))?;
                let d = self.vreg();
                self.emit(MInst::Load { op: Opcode::LoadIndU64, dst: d, base: None, offset: slot as u32 });
                self.values[i] = Some(d);
            }
            Callee::Intrinsic(name) => return self.intrinsic(i, name, args),
        }
        Ok(false)
    }

    /// An address check (`address_check`): its value is the address.
    fn address_check(&mut self, i: InstId, args: &[Value]) -> Result<()> {
        let [outside, address, reach] = args else {
            return Err(err("internal error: an address check without its three arguments"));
        };
        let outside = match (outside, self.constant_of(*reach)) {
            (Value::Inst(c), _) if self.folded[*c] => match check_compare(&self.f.insts[*c].op) {
                Some((_, limit)) => Outside::Above(limit),
                None => return Err(err("internal error: an address check folded with another compare")),
            },
            (flag, _) => Outside::Flag(self.reg(*flag)?),
        };
        let reach = self.constant_of(*reach).ok_or_else(|| err("internal error: an address check's reach varies"))?;
        if let Some(&(x, base)) = self.offset_checks.get(&i) {
            let Outside::Above(limit) = outside else {
                return Err(err("internal error: an offset check without its compare"));
            };
            let (hot, zone) = address_check::offset_zone(self.m.memory_base, base, limit)
                .ok_or_else(|| err("internal error: an offset check's base is outside the argument zone"))?;
            let x = self.reg(x)?;
            // Its users are addresses, which fold `base` and use `x`.
            self.emit(MInst::AddressCheck { address: x, outside: Outside::Above(hot), zone: Some(zone) });
            return Ok(());
        }
        let a = self.reg(*address)?;
        let zoned = self.zoned[i] && reach <= address_check::ARGS_REACH;
        let zone = zoned.then(|| address_check::address_zone(self.m.memory_base));
        self.emit(MInst::AddressCheck { address: a, outside, zone });
        self.values[i] = Some(a);
        Ok(())
    }

    /// The registers a call of a runtime routine clobbers: those it writes, but for its
    /// results.
    fn routine_clobbers(routine: Routine, results: &[(VReg, regalloc2::PReg)]) -> PRegSet {
        let mut set = PRegSet::empty();
        for &r in runtime::clobbers(routine) {
            if !results.iter().any(|(_, p)| p.hw_enc() == r as usize) {
                set.add(preg(r));
            }
        }
        set
    }

    fn runtime_call(&mut self, i: InstId, routine: Routine, args: &[Value]) -> Result<()> {
        let label = (self.m.runtime)(routine);
        let fixed = self.call_args(args)?;
        let results = self.result_regs(i);
        let clobbers = Self::routine_clobbers(routine, &results);
        self.emit(MInst::Call { target: CallTarget::Label(label), args: fixed, results, clobbers });
        Ok(())
    }

    fn unary(&mut self, op: Opcode, v: Value) -> Result<VReg> {
        let src = self.reg(v)?;
        let d = self.vreg();
        self.emit(MInst::Unary { op, dst: d, src });
        Ok(d)
    }

    /// Lowers an LLVM intrinsic call.
    fn intrinsic(&mut self, i: InstId, name: &str, args: &[Value]) -> Result<bool> {
        let base = name.split('.').take(2).collect::<Vec<_>>().join(".");
        let width = self.f.insts[i].ty.bits();
        let w32 = width == 32;
        let v = match base.as_str() {
            "llvm.trap" => {
                self.emit(MInst::Trap);
                return Ok(true);
            }
            "llvm.assume" | "llvm.lifetime" | "llvm.dbg" | "llvm.experimental" | "llvm.donothing" => return Ok(false),
            "llvm.expect" => self.reg(args[0])?,
            "llvm.ctlz" | "llvm.cttz" | "llvm.ctpop" => {
                let (o32, o64) = match base.as_str() {
                    "llvm.ctlz" => (Opcode::LeadingZeroBits32, Opcode::LeadingZeroBits64),
                    "llvm.cttz" => (Opcode::TrailingZeroBits32, Opcode::TrailingZeroBits64),
                    _ => (Opcode::CountSetBits32, Opcode::CountSetBits64),
                };
                match width {
                    32 => self.unary(o32, args[0])?,
                    64 => self.unary(o64, args[0])?,
                    w => {
                        // Narrow widths: count in 64 bits on the zero-extended value.
                        let x = self.reg(args[0])?;
                        let z = self.zero_extend(x, w);
                        let d = self.vreg();
                        match base.as_str() {
                            "llvm.ctlz" => {
                                self.emit(MInst::Unary { op: Opcode::LeadingZeroBits64, dst: d, src: z });
                                let r = self.alu_imm(Opcode::AddImm64, d, (-(64 - i64::from(w))) as u64);
                                return self.done(i, r);
                            }
                            "llvm.cttz" => {
                                let bit = self.alu_imm(Opcode::OrImm, z, 1u64 << w);
                                self.emit(MInst::Unary { op: Opcode::TrailingZeroBits64, dst: d, src: bit });
                            }
                            _ => self.emit(MInst::Unary { op: Opcode::CountSetBits64, dst: d, src: z }),
                        }
                        d
                    }
                }
            }
            "llvm.fshl" | "llvm.fshr" if args[0] == args[1] && (w32 || width == 64) => {
                let left = base == "llvm.fshl";
                let x = self.reg(args[0])?;
                match self.constant_of(args[2]) {
                    Some(c) => {
                        let amount = c & u64::from(width - 1);
                        let right = if left { (u64::from(width) - amount) % u64::from(width) } else { amount };
                        self.alu_imm(if w32 { Opcode::RotR32Imm } else { Opcode::RotR64Imm }, x, right)
                    }
                    None => {
                        let amount = self.shift_amount(args[2], width)?;
                        let op = match (left, w32) {
                            (true, true) => Opcode::RotL32,
                            (true, false) => Opcode::RotL64,
                            (false, true) => Opcode::RotR32,
                            (false, false) => Opcode::RotR64,
                        };
                        self.alu(op, x, amount)
                    }
                }
            }
            "llvm.fshl" | "llvm.fshr" => self.funnel_shift(base == "llvm.fshl", args, width)?,
            "llvm.smin" | "llvm.smax" | "llvm.umin" | "llvm.umax" => {
                let op = match base.as_str() {
                    "llvm.smin" => Opcode::Min,
                    "llvm.smax" => Opcode::Max,
                    "llvm.umin" => Opcode::MinU,
                    _ => Opcode::MaxU,
                };
                let (a, b) = (self.reg(args[0])?, self.reg(args[1])?);
                self.alu(op, a, b)
            }
            "llvm.abs" => {
                let x = self.reg(args[0])?;
                let negated = self.alu_imm(if w32 { Opcode::NegAddImm32 } else { Opcode::NegAddImm64 }, x, 0);
                let m = self.alu(Opcode::Max, x, negated);
                if width == 64 || w32 { m } else { self.normalize(m, width) }
            }
            "llvm.bswap" => {
                let x = self.reg(args[0])?;
                let r = self.vreg();
                self.emit(MInst::Unary { op: Opcode::ReverseBytes, dst: r, src: x });
                if width == 64 { r } else { self.alu_imm(Opcode::SharRImm64, r, u64::from(64 - width)) }
            }
            "llvm.bitreverse" if width == 1 => self.reg(args[0])?,
            "llvm.bitreverse" => {
                // The bytes reversed, then the bits of each byte: nibbles, pairs, bits.
                let x = self.reg(args[0])?;
                let mut r = self.vreg();
                self.emit(MInst::Unary { op: Opcode::ReverseBytes, dst: r, src: x });
                for (shift, mask) in
                    [(4, 0x0f0f_0f0f_0f0f_0f0f), (2, 0x3333_3333_3333_3333), (1, 0x5555_5555_5555_5555)]
                {
                    let mask = self.constant(mask);
                    let high = self.alu_imm(Opcode::ShloRImm64, r, shift);
                    let high = self.alu(Opcode::And, high, mask);
                    let low = self.alu(Opcode::And, r, mask);
                    let low = self.alu_imm(Opcode::ShloLImm64, low, shift);
                    r = self.alu(Opcode::Or, high, low);
                }
                if width == 64 { r } else { self.alu_imm(Opcode::SharRImm64, r, u64::from(64 - width)) }
            }
            "llvm.memset" => {
                self.memory_routine(Routine::Memset, args)?;
                return Ok(false);
            }
            "llvm.memcpy" | "llvm.memmove" => {
                self.memory_routine(Routine::Memmove, args)?;
                return Ok(false);
            }
            "llvm.uadd" | "llvm.usub" | "llvm.sadd" | "llvm.ssub" if name.contains(".sat.") => {
                self.saturating(&base, args, width)?
            }
            "llvm.uadd" | "llvm.usub" | "llvm.sadd" | "llvm.ssub" | "llvm.umul" | "llvm.smul" => {
                return self.overflow_intrinsic(i, name, args);
            }
            _ => return Err(err(format!("internal error: the back end does not support the intrinsic {name}"))),
        };
        self.done(i, v)
    }

    fn done(&mut self, i: InstId, v: VReg) -> Result<bool> {
        self.values[i] = Some(v);
        Ok(false)
    }

    /// `fshl(a, b, s)` / `fshr(a, b, s)` with different inputs.
    fn funnel_shift(&mut self, left: bool, args: &[Value], width: u32) -> Result<VReg> {
        if width < 32 {
            return self.narrow_funnel_shift(left, args, width);
        }
        if width != 64 && width != 32 {
            return Err(err(format!("internal error: {width}-bit funnel shifts are not supported")));
        }
        let (a, b) = (self.reg(args[0])?, self.reg(args[1])?);
        let w = u64::from(width);
        let s = self.reg(args[2])?;
        let amount = self.alu_imm(Opcode::AndImm, s, w - 1);
        let w32 = width == 32;
        let (shl, shr) = if w32 { (Opcode::ShloL32, Opcode::ShloR32) } else { (Opcode::ShloL64, Opcode::ShloR64) };
        // fshl: (a << s) | (b >> (w - s)), with s = 0 giving a. fshr: (a << (w - s)) | (b >> s), s = 0 giving b.
        let inverse = self.alu_imm(if w32 { Opcode::NegAddImm32 } else { Opcode::NegAddImm64 }, amount, w);
        let (hi, lo) = if left {
            (self.alu(shl, a, amount), self.alu(shr, b, inverse))
        } else {
            (self.alu(shl, a, inverse), self.alu(shr, b, amount))
        };
        let combined = self.alu(Opcode::Or, hi, lo);
        let keep = if left { a } else { b };
        let d = self.vreg();
        self.emit(MInst::Cmov { op: Opcode::CmovIz, dst: d, old: combined, value: keep, cond: amount });
        Ok(d)
    }

    /// A funnel shift narrower than 32 bits: `a:b` side by side in one register, shifted
    /// by the amount modulo the width, and the half that the intrinsic returns.
    fn narrow_funnel_shift(&mut self, left: bool, args: &[Value], width: u32) -> Result<VReg> {
        let w = u64::from(width);
        let (a, b) = (self.reg(args[0])?, self.reg(args[1])?);
        let (a, b) = (self.zero_extend(a, width), self.zero_extend(b, width));
        let high = self.alu_imm(Opcode::ShloLImm64, a, w);
        let both = self.alu(Opcode::Or, high, b);
        let s = self.reg(args[2])?;
        let s = self.zero_extend(s, width);
        let amount = if width.is_power_of_two() {
            self.alu_imm(Opcode::AndImm, s, w - 1)
        } else {
            let w = self.constant(w);
            self.alu(Opcode::RemU64, s, w)
        };
        let r = if left {
            let shifted = self.alu(Opcode::ShloL64, both, amount);
            self.alu_imm(Opcode::ShloRImm64, shifted, w)
        } else {
            self.alu(Opcode::ShloR64, both, amount)
        };
        Ok(self.normalize(r, width))
    }

    /// Saturating add and subtract on canonical values.
    fn saturating(&mut self, base: &str, args: &[Value], width: u32) -> Result<VReg> {
        let (a, b) = (self.reg(args[0])?, self.reg(args[1])?);
        let max_u = if width == 64 { u64::MAX } else { sext((1u64 << width) - 1, width) };
        let max_s = (1u64 << (width - 1)) - 1;
        let min_s = sext(1u64 << (width - 1), width);
        let w64 = width == 64;
        Ok(match base {
            "llvm.uadd" => {
                // Wrapped sum below an operand means overflow: all ones.
                let sum = self.alu(Opcode::Add64, a, b);
                let sum = if w64 { sum } else { self.normalize(sum, width) };
                let overflow = self.alu(Opcode::SetLtU, sum, a);
                let d = self.vreg();
                self.emit(MInst::CmovImm { op: Opcode::CmovNzImm, dst: d, old: sum, cond: overflow, imm: max_u });
                d
            }
            "llvm.usub" => {
                let diff = self.alu(Opcode::Sub64, a, b);
                let diff = if w64 { diff } else { self.normalize(diff, width) };
                let underflow = self.alu(Opcode::SetLtU, a, b);
                let d = self.vreg();
                self.emit(MInst::CmovImm { op: Opcode::CmovNzImm, dst: d, old: diff, cond: underflow, imm: 0 });
                d
            }
            _ if !w64 => {
                // Exact in 64 bits, then clamped.
                let op = if base == "llvm.sadd" { Opcode::Add64 } else { Opcode::Sub64 };
                let full = self.alu(op, a, b);
                let hi = self.constant(max_s);
                let lo = self.constant(min_s);
                let clamped = self.alu(Opcode::Min, full, hi);
                self.alu(Opcode::Max, clamped, lo)
            }
            _ => {
                // Overflow iff the operands' signs agree (add) or differ (sub) and the
                // result's sign differs from the first operand's.
                let add = base == "llvm.sadd";
                let r = self.alu(if add { Opcode::Add64 } else { Opcode::Sub64 }, a, b);
                let x1 = self.alu(Opcode::Xor, a, r);
                let x2 = if add { self.alu(Opcode::Xor, b, r) } else { self.alu(Opcode::Xor, a, b) };
                let both = self.alu(Opcode::And, x1, x2);
                let overflow = self.alu_imm(Opcode::SetLtSImm, both, 0);
                // Saturate toward the sign of the first operand: MAX, or MIN when negative.
                let negative = self.alu_imm(Opcode::SetLtSImm, a, 0);
                let max = self.constant(max_s);
                let min = self.constant(min_s);
                let limit = self.vreg();
                self.emit(MInst::Cmov { op: Opcode::CmovNz, dst: limit, old: max, value: min, cond: negative });
                let d = self.vreg();
                self.emit(MInst::Cmov { op: Opcode::CmovNz, dst: d, old: r, value: limit, cond: overflow });
                d
            }
        })
    }

    /// `{result, overflow}` intrinsics.
    fn overflow_intrinsic(&mut self, i: InstId, name: &str, args: &[Value]) -> Result<bool> {
        let Ty::Struct(fields) = &self.f.insts[i].ty else {
            return Err(err(format!("internal error: {name} without an aggregate result")));
        };
        let width = fields[0];
        let (a, b) = (self.reg(args[0])?, self.reg(args[1])?);
        let w32 = width == 32;
        let (result, overflow) = if name.starts_with("llvm.uadd") && (w32 || width == 64) {
            let sum = self.alu(if w32 { Opcode::Add32 } else { Opcode::Add64 }, a, b);
            let o = self.alu(Opcode::SetLtU, sum, a);
            (sum, o)
        } else if name.starts_with("llvm.usub") && (w32 || width == 64) {
            let diff = self.alu(if w32 { Opcode::Sub32 } else { Opcode::Sub64 }, a, b);
            let o = self.alu(Opcode::SetLtU, a, b);
            (diff, o)
        } else if name.starts_with("llvm.umul") && w32 {
            let za = self.zero_extend(a, 32);
            let zb = self.zero_extend(b, 32);
            let full = self.alu(Opcode::Mul64, za, zb);
            let high = self.alu_imm(Opcode::ShloRImm64, full, 32);
            let o = self.alu_imm(Opcode::SetGtUImm, high, 0);
            let r = self.normalize(full, 32);
            (r, o)
        } else if name.starts_with("llvm.umul") && width == 64 {
            let high = self.alu(Opcode::MulUpperUU, a, b);
            let o = self.alu_imm(Opcode::SetGtUImm, high, 0);
            (self.alu(Opcode::Mul64, a, b), o)
        } else if (name.starts_with("llvm.sadd") || name.starts_with("llvm.ssub")) && w32 {
            // Exact in 64 bits: overflow iff the 64-bit result differs from its 32-bit form.
            let full = self.alu(if name.starts_with("llvm.sadd") { Opcode::Add64 } else { Opcode::Sub64 }, a, b);
            let r = self.normalize(full, 32);
            let x = self.alu(Opcode::Xor, full, r);
            let o = self.alu_imm(Opcode::SetGtUImm, x, 0);
            (r, o)
        } else if name.starts_with("llvm.smul") && w32 {
            let full = self.alu(Opcode::Mul64, a, b);
            let r = self.normalize(full, 32);
            let x = self.alu(Opcode::Xor, full, r);
            let o = self.alu_imm(Opcode::SetGtUImm, x, 0);
            (r, o)
        } else if width < 32 {
            // Exact in 64 bits on the operands extended as the operation reads them:
            // overflow iff the result differs from its narrow form.
            let unsigned = name.starts_with("llvm.u");
            let (a, b) = if unsigned { (self.zero_extend(a, width), self.zero_extend(b, width)) } else { (a, b) };
            let op = match &name[..9] {
                "llvm.uadd" | "llvm.sadd" => Opcode::Add64,
                "llvm.usub" | "llvm.ssub" => Opcode::Sub64,
                _ => Opcode::Mul64,
            };
            let full = self.alu(op, a, b);
            let narrow = if unsigned { self.zero_extend(full, width) } else { self.normalize(full, width) };
            let x = self.alu(Opcode::Xor, full, narrow);
            let o = self.alu_imm(Opcode::SetGtUImm, x, 0);
            (self.normalize(full, width), o)
        } else {
            return Err(err(format!("internal error: the back end does not support the intrinsic {name}")));
        };
        self.aggregates.insert(i, vec![result, overflow]);
        Ok(false)
    }

    /// memset / memcpy / memmove: small constant sizes inline, others through the runtime.
    fn memory_routine(&mut self, routine: Routine, args: &[Value]) -> Result<()> {
        if let Some(len) = self.constant_of(args[2])
            && len <= 32
            && self.on(Optimization::InlineMemory)
        {
            return self.inline_memory(routine, args, len);
        }
        let label = (self.m.runtime)(routine);
        let fixed = self.call_args(&args[..3])?;
        let clobbers = Self::routine_clobbers(routine, &[]);
        self.emit(MInst::Call { target: CallTarget::Label(label), args: fixed, results: Vec::new(), clobbers });
        Ok(())
    }

    fn inline_memory(&mut self, routine: Routine, args: &[Value], len: u64) -> Result<()> {
        let (dst, dst_off) = self.access_address(args[0])?;
        let chunks = chunk_sizes(len);
        match routine {
            Routine::Memset => {
                let byte = self.constant_of(args[1]).map(|c| c & 0xff);
                let widest = chunks.iter().copied().max().unwrap_or(0);
                let pattern = match byte.filter(|_| self.on(Optimization::Immediates)) {
                    Some(b) => StoreValue::Imm(b * 0x0101_0101_0101_0101),
                    None => {
                        // The byte repeated as wide as the widest store needs; a byte
                        // store takes the low byte of any register.
                        let x = self.reg(args[1])?;
                        StoreValue::Reg(match widest {
                            0 | 1 => x,
                            2 | 4 => {
                                let low = self.zero_extend(x, 8);
                                self.alu_imm(Opcode::MulImm64, low, if widest == 2 { 0x0101 } else { 0x0101_0101 })
                            }
                            _ => {
                                let low = self.zero_extend(x, 8);
                                let p = self.alu_imm(Opcode::MulImm64, low, 0x0101_0101);
                                let hi = self.alu_imm(Opcode::ShloLImm64, p, 32);
                                self.alu(Opcode::Or, p, hi)
                            }
                        })
                    }
                };
                let mut at = 0u64;
                for size in chunks {
                    let value = match pattern {
                        StoreValue::Imm(p) if size == 8 && !fits_imm(p) => StoreValue::Reg(self.constant(p)),
                        StoreValue::Imm(p) => StoreValue::Imm(if size < 8 { imm32(p) } else { p }),
                        reg => reg,
                    };
                    let offset = (dst_off as u64).wrapping_add(at) as u32;
                    self.emit(MInst::Store { bytes: size as u32, value, base: dst, offset });
                    at += size;
                }
            }
            _ => {
                // Load everything first: the ranges may overlap.
                let (src, src_off) = self.access_address(args[1])?;
                let mut loaded = Vec::new();
                let mut at = 0u64;
                for size in chunks {
                    let d = self.vreg();
                    let offset = (src_off as u64).wrapping_add(at) as u32;
                    self.emit(MInst::Load { op: load_opcode(size as u32, 64, true), dst: d, base: src, offset });
                    loaded.push((d, size, at));
                    at += size;
                }
                for (d, size, at) in loaded {
                    let offset = (dst_off as u64).wrapping_add(at) as u32;
                    self.emit(MInst::Store { bytes: size as u32, value: StoreValue::Reg(d), base: dst, offset });
                }
            }
        }
        Ok(())
    }
}

/// Drops blocks that no path from the entry reaches (branches on constants leave some)
/// and renumbers the rest.
fn reachable_blocks(blocks: Vec<BlockDraft>, origin: Vec<usize>) -> (Vec<BlockDraft>, Vec<usize>) {
    let mut reached = vec![false; blocks.len()];
    let mut work = vec![0];
    reached[0] = true;
    while let Some(b) = work.pop() {
        for &(s, _) in &blocks[b].succs {
            if !reached[s] {
                reached[s] = true;
                work.push(s);
            }
        }
    }
    let mut new_index = vec![usize::MAX; blocks.len()];
    let mut next = 0;
    for (b, &r) in reached.iter().enumerate() {
        if r {
            new_index[b] = next;
            next += 1;
        }
    }
    let mut kept = Vec::with_capacity(next);
    let mut kept_origin = Vec::with_capacity(next);
    for (b, mut block) in blocks.into_iter().enumerate() {
        if reached[b] {
            for succ in &mut block.succs {
                succ.0 = new_index[succ.0];
            }
            for inst in &mut block.insts {
                if let MInst::Jump { target, .. } = inst {
                    *target = new_index[*target];
                }
            }
            kept.push(block);
            // An edge block's origin is always reached before it.
            kept_origin.push(new_index[origin[b]]);
        }
    }
    (kept, kept_origin)
}

/// LLVM instructions a loop may have and still get its 64-bit constants loaded before
/// it: in larger loops the registers are better spent on values (a constant that is
/// spilled costs a load in the loop all the same, and a store before it).
const SMALL_LOOP: usize = 24;

/// For every block on a cycle of the control-flow graph (a strongly connected component,
/// by Kosaraju, of more than one block, or a block that branches to itself) of at most
/// [`SMALL_LOOP`] instructions: the loop's preheader, when it has one — the only block
/// outside the loop that branches into it, into its only entry block. It dominates the
/// loop.
fn loop_preheaders(f: &lir::Function) -> Vec<Option<BlockId>> {
    let n = f.blocks.len();
    let succs: Vec<Vec<BlockId>> =
        f.blocks.iter().map(|b| b.insts.last().map(|&i| f.insts[i].op.successors()).unwrap_or_default()).collect();
    let preds = f.predecessors();
    let mut visited = vec![false; n];
    let mut finished = Vec::with_capacity(n);
    for root in 0..n {
        postorder_from(root, |b| succs[b].clone(), &mut visited, &mut finished);
    }
    let mut component = vec![usize::MAX; n];
    let mut members: Vec<Vec<BlockId>> = Vec::new();
    for &root in finished.iter().rev() {
        if component[root] != usize::MAX {
            continue;
        }
        let c = members.len();
        members.push(Vec::new());
        component[root] = c;
        let mut stack = vec![root];
        while let Some(b) = stack.pop() {
            members[c].push(b);
            for &p in &preds[b] {
                if component[p] == usize::MAX {
                    component[p] = c;
                    stack.push(p);
                }
            }
        }
    }
    let mut out = vec![None; n];
    for blocks in &members {
        let c = component[blocks[0]];
        let cyclic = blocks.len() > 1 || succs[blocks[0]].contains(&blocks[0]);
        if !cyclic || blocks.iter().map(|&b| f.blocks[b].insts.len()).sum::<usize>() > SMALL_LOOP {
            continue;
        }
        let outside = |b: BlockId| preds[b].iter().copied().filter(|&p| component[p] != c).collect::<Vec<_>>();
        let entries: Vec<BlockId> = blocks.iter().copied().filter(|&b| !outside(b).is_empty()).collect();
        if let [entry] = entries[..]
            && let [preheader] = outside(entry)[..]
        {
            for &b in blocks {
                out[b] = Some(preheader);
            }
        }
    }
    out
}

/// The blocks reachable from the entry in reverse postorder (a block after its
/// dominators).
fn reverse_postorder(f: &lir::Function) -> Vec<BlockId> {
    let n = f.blocks.len();
    let successors = |b: BlockId| match f.blocks[b].insts.last().map(|&i| &f.insts[i].op) {
        Some(Op::CondBr(Value::Const(k), t, e)) => vec![if k & 1 == 1 { *t } else { *e }],
        Some(op) => op.successors(),
        None => Vec::new(),
    };
    let mut visited = vec![false; n];
    let mut order = Vec::with_capacity(n);
    postorder_from(0, successors, &mut visited, &mut order);
    order.reverse();
    order
}

/// Appends to `order`, in postorder, the blocks reachable from `root` that are not yet
/// `visited` (marking them), following `successors`; iterative, so deep graphs cannot
/// overflow the stack.
fn postorder_from(
    root: BlockId,
    successors: impl Fn(BlockId) -> Vec<BlockId>,
    visited: &mut [bool],
    order: &mut Vec<BlockId>,
) {
    if visited[root] {
        return;
    }
    visited[root] = true;
    let mut stack = vec![(root, 0usize)];
    while let Some(&mut (b, ref mut next)) = stack.last_mut() {
        if let Some(&s) = successors(b).get(*next) {
            *next += 1;
            if !visited[s] {
                visited[s] = true;
                stack.push((s, 0));
            }
        } else {
            order.push(b);
            stack.pop();
        }
    }
}

/// Splits `len` bytes into 8, 4, 2 and 1-byte accesses.
fn chunk_sizes(len: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut left = len;
    for size in [8, 4, 2, 1] {
        while left >= size {
            out.push(size);
            left -= size;
        }
    }
    out
}

/// The indirect load opcode for `bytes` bytes yielding a `width`-bit value; `zero`
/// forces a zero-extending load.
fn load_opcode(bytes: u32, width: u32, zero: bool) -> Opcode {
    match (bytes, zero || width == 1) {
        (1, true) => Opcode::LoadIndU8,
        (1, false) => Opcode::LoadIndI8,
        (2, true) => Opcode::LoadIndU16,
        (2, false) => Opcode::LoadIndI16,
        (4, true) => Opcode::LoadIndU32,
        (4, false) => Opcode::LoadIndI32,
        _ => Opcode::LoadIndU64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(imm32(0xffff_ffff), u64::MAX);
        assert_eq!(imm32(0x1_0000_0005), 5);
        assert_eq!(chunk_sizes(15), vec![8, 4, 2, 1]);
        assert_eq!(chunk_sizes(16), vec![8, 8]);
        assert_eq!(load_opcode(4, 32, false), Opcode::LoadIndI32);
        assert_eq!(load_opcode(4, 64, true), Opcode::LoadIndU32);
        assert_eq!(load_opcode(1, 1, false), Opcode::LoadIndU8);
    }
}
