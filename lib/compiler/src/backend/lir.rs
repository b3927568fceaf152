//! LIR: the optimised LLVM IR as the back end reads it — SSA over integer values of 1 to
//! 64 bits and 32-bit pointers, with every constant (including addresses of globals)
//! already a number, every `getelementptr` already a base plus scaled terms, and calls
//! classified by what they reach. Instruction selection works on this, not on LLVM.

/// Index of an instruction within its function.
pub type InstId = usize;
/// Index of a block within its function.
pub type BlockId = usize;
/// Index of a function within the module.
pub type FuncId = usize;

/// A value type: an integer of 1..=64 bits (pointers are 32-bit integers), or an
/// aggregate returned by an intrinsic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// No value.
    Void,
    /// An integer of this many bits.
    Int(u32),
    /// A struct of integers (only intrinsic results).
    Struct(Vec<u32>),
}

impl Ty {
    /// Bits of an integer type (0 for others).
    pub fn bits(&self) -> u32 {
        match self {
            Ty::Int(b) => *b,
            _ => 0,
        }
    }
}

/// An operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Value {
    /// The result of an instruction.
    Inst(InstId),
    /// A function parameter.
    Arg(u32),
    /// A constant, held canonically: sign-extended from its width (a 1-bit constant is
    /// 0 or 1).
    Const(u64),
    /// `undef` or `poison`: any value.
    Undef,
}

/// Integer comparison predicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pred {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// Unsigned `<`.
    Ult,
    /// Unsigned `<=`.
    Ule,
    /// Unsigned `>`.
    Ugt,
    /// Unsigned `>=`.
    Uge,
    /// Signed `<`.
    Slt,
    /// Signed `<=`.
    Sle,
    /// Signed `>`.
    Sgt,
    /// Signed `>=`.
    Sge,
}

impl Pred {
    /// The predicate with operands swapped (`a < b` ⇔ `b > a`).
    pub fn swapped(self) -> Pred {
        use Pred::*;
        match self {
            Eq => Eq,
            Ne => Ne,
            Ult => Ugt,
            Ule => Uge,
            Ugt => Ult,
            Uge => Ule,
            Slt => Sgt,
            Sle => Sge,
            Sgt => Slt,
            Sge => Sle,
        }
    }

    /// The negated predicate.
    pub fn inverse(self) -> Pred {
        use Pred::*;
        match self {
            Eq => Ne,
            Ne => Eq,
            Ult => Uge,
            Ule => Ugt,
            Ugt => Ule,
            Uge => Ult,
            Slt => Sge,
            Sle => Sgt,
            Sgt => Sle,
            Sge => Slt,
        }
    }

    /// Whether the comparison is signed.
    pub fn is_signed(self) -> bool {
        matches!(self, Pred::Slt | Pred::Sle | Pred::Sgt | Pred::Sge)
    }
}

/// Binary integer operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// Wrapping addition.
    Add,
    /// Wrapping subtraction.
    Sub,
    /// Wrapping multiplication.
    Mul,
    /// The high 64 bits of the unsigned 128-bit product of two 64-bit values
    /// (`abi::Pseudo::MulUpperUU`).
    MulUpperU,
    /// Unsigned division.
    UDiv,
    /// Signed division.
    SDiv,
    /// Unsigned remainder.
    URem,
    /// Signed remainder.
    SRem,
    /// Bitwise and.
    And,
    /// Bitwise or.
    Or,
    /// Bitwise xor.
    Xor,
    /// Shift left.
    Shl,
    /// Logical shift right.
    LShr,
    /// Arithmetic shift right.
    AShr,
}

/// Width conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cast {
    /// Keep the low bits.
    Trunc,
    /// Zero-extend.
    ZExt,
    /// Sign-extend.
    SExt,
}

/// What a call reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callee {
    /// A function of this module.
    Function(FuncId),
    /// An LLVM intrinsic, by name (`llvm.ctlz.i32`, ...).
    Intrinsic(String),
    /// `call_indirect` through the table, with this signature id; the first argument
    /// is the table index.
    CallIndirect(usize),
    /// Host call `ecalli N`.
    Ecalli(u32),
    /// r8 of the last host call.
    HostR8,
    /// The `memory.grow` routine.
    MemoryGrow,
    /// A memory access's address check (`abi::Pseudo::AddressCheck`); `address_check`
    /// expands every one before instruction selection.
    AddressCheck,
}

/// An instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `a op b`.
    Binary(BinOp, Value, Value),
    /// Comparison yielding an i1.
    ICmp(Pred, Value, Value),
    /// `cond ? a : b`.
    Select(Value, Value, Value),
    /// Width conversion of a value of `from` bits.
    Cast(Cast, Value, u32),
    /// The value itself (bitcast, pointer casts, freeze).
    Copy(Value),
    /// `base + offset + Σ value·scale`, as 32-bit address arithmetic.
    Address { base: Value, offset: i64, terms: Vec<(Value, u64)> },
    /// Load of `bytes` bytes (1, 2, 4, 8) from a pointer.
    Load { ptr: Value, bytes: u32 },
    /// Store of the low `bytes` bytes of a value.
    Store { ptr: Value, value: Value, bytes: u32 },
    /// A call.
    Call { callee: Callee, args: Vec<Value> },
    /// Field `index` of an aggregate.
    ExtractValue(Value, u32),
    /// SSA join: one value per predecessor.
    Phi(Vec<(Value, BlockId)>),
    /// Unconditional branch.
    Br(BlockId),
    /// Conditional branch on an i1.
    CondBr(Value, BlockId, BlockId),
    /// Multi-way branch.
    Switch { value: Value, default: BlockId, cases: Vec<(u64, BlockId)> },
    /// Return.
    Ret(Option<Value>),
    /// Unreachable (after a trap).
    Unreachable,
}

impl Op {
    /// Whether the instruction ends its block.
    pub fn is_terminator(&self) -> bool {
        matches!(self, Op::Br(_) | Op::CondBr(..) | Op::Switch { .. } | Op::Ret(_) | Op::Unreachable)
    }

    /// Every value operand, in order.
    pub fn operands(&self) -> Vec<Value> {
        match self {
            Op::Binary(_, a, b) | Op::ICmp(_, a, b) => vec![*a, *b],
            Op::Select(c, a, b) => vec![*c, *a, *b],
            Op::Cast(_, v, _) | Op::Copy(v) | Op::ExtractValue(v, _) => vec![*v],
            Op::Address { base, terms, .. } => std::iter::once(*base).chain(terms.iter().map(|t| t.0)).collect(),
            Op::Load { ptr, .. } => vec![*ptr],
            Op::Store { ptr, value, .. } => vec![*ptr, *value],
            Op::Call { args, .. } => args.clone(),
            Op::Phi(incoming) => incoming.iter().map(|i| i.0).collect(),
            Op::CondBr(c, ..) => vec![*c],
            Op::Switch { value, .. } => vec![*value],
            Op::Ret(v) => v.iter().copied().collect(),
            Op::Br(_) | Op::Unreachable => vec![],
        }
    }

    /// Applies `f` to every value operand, in place.
    pub fn map_operands(&mut self, mut f: impl FnMut(Value) -> Value) {
        match self {
            Op::Binary(_, a, b) | Op::ICmp(_, a, b) => {
                *a = f(*a);
                *b = f(*b);
            }
            Op::Select(c, a, b) => {
                *c = f(*c);
                *a = f(*a);
                *b = f(*b);
            }
            Op::Cast(_, v, _) | Op::Copy(v) | Op::ExtractValue(v, _) => *v = f(*v),
            Op::Address { base, terms, .. } => {
                *base = f(*base);
                for term in terms {
                    term.0 = f(term.0);
                }
            }
            Op::Load { ptr, .. } => *ptr = f(*ptr),
            Op::Store { ptr, value, .. } => {
                *ptr = f(*ptr);
                *value = f(*value);
            }
            Op::Call { args, .. } => args.iter_mut().for_each(|a| *a = f(*a)),
            Op::Phi(incoming) => incoming.iter_mut().for_each(|i| i.0 = f(i.0)),
            Op::CondBr(c, ..) => *c = f(*c),
            Op::Switch { value, .. } => *value = f(*value),
            Op::Ret(v) => {
                if let Some(v) = v {
                    *v = f(*v);
                }
            }
            Op::Br(_) | Op::Unreachable => {}
        }
    }

    /// `(x, c)` when the instruction is `x + c` with `c` a constant.
    pub fn added_constant(&self) -> Option<(Value, u64)> {
        match *self {
            Op::Binary(BinOp::Add, x, Value::Const(c)) | Op::Binary(BinOp::Add, Value::Const(c), x) => Some((x, c)),
            _ => None,
        }
    }

    /// Successor blocks of a terminator.
    pub fn successors(&self) -> Vec<BlockId> {
        match self {
            Op::Br(b) => vec![*b],
            Op::CondBr(_, t, f) => vec![*t, *f],
            Op::Switch { default, cases, .. } => {
                let mut out = vec![*default];
                for &(_, b) in cases {
                    if !out.contains(&b) {
                        out.push(b);
                    }
                }
                out
            }
            _ => vec![],
        }
    }
}

/// An instruction with its result type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inst {
    /// What it does.
    pub op: Op,
    /// Its result type.
    pub ty: Ty,
}

impl Inst {
    /// An instruction whose result has `bits` bits, or no result for 0.
    pub fn of_width(op: Op, bits: u32) -> Inst {
        Inst { op, ty: if bits == 0 { Ty::Void } else { Ty::Int(bits) } }
    }
}

/// A basic block: instruction ids in order, phis first, terminator last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block {
    /// The instructions.
    pub insts: Vec<InstId>,
}

/// A function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its LLVM name (also its assembly label).
    pub name: String,
    /// Parameter widths in bits.
    pub params: Vec<u32>,
    /// Result type.
    pub result: Ty,
    /// Blocks; block 0 is the entry.
    pub blocks: Vec<Block>,
    /// All instructions.
    pub insts: Vec<Inst>,
}

impl Function {
    /// Number of uses of every instruction's result.
    pub fn use_counts(&self) -> Vec<u32> {
        let mut counts = vec![0; self.insts.len()];
        for inst in &self.insts {
            for v in inst.op.operands() {
                if let Value::Inst(i) = v {
                    counts[i] += 1;
                }
            }
        }
        counts
    }

    /// Predecessors of every block (in a stable order, without duplicates).
    pub fn predecessors(&self) -> Vec<Vec<BlockId>> {
        let mut preds = vec![Vec::new(); self.blocks.len()];
        for (b, block) in self.blocks.iter().enumerate() {
            if let Some(&last) = block.insts.last() {
                for s in self.insts[last].op.successors() {
                    if !preds[s].contains(&b) {
                        preds[s].push(b);
                    }
                }
            }
        }
        preds
    }
}

/// A module: its functions in layout order (the entry first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Module {
    /// Functions with bodies.
    pub functions: Vec<Function>,
}
