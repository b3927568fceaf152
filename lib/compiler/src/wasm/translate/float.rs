//! Float instructions. Floats travel as integer bit patterns; constants, moves,
//! `abs`/`neg`/`copysign` and reinterpretations are exact bit operations, every other
//! float operator is a call of its routine ([`crate::wasm::softfloat`]) or, with
//! `trap_floats`, a trap.

use super::{FunctionTranslator, llvm, operator_name};
use crate::error::Result;
use crate::wasm::module::ValType;
use inkwell::values::{BasicMetadataValueEnum, IntValue};
use wasmparser::Operator;

impl<'c, 'm, 'w> FunctionTranslator<'c, 'm, 'w> {
    /// Translates a float instruction; `false` if `op` is not one.
    pub(super) fn float(&mut self, op: &Operator<'w>) -> Result<bool> {
        match *op {
            Operator::F32Const { value } => self.push(self.i32c(u64::from(value.bits()))),
            Operator::F64Const { value } => self.push(self.i64c(value.bits())),
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
            _ => match float_operator_shape(op) {
                Some((pops, push)) if self.env.options.trap_floats => self.float_trap(pops, push)?,
                Some(_) => self.float_routine(op)?,
                None => return Ok(false),
            },
        }
        Ok(true)
    }

    fn sign_mask(&self, v: IntValue<'c>) -> IntValue<'c> {
        let bits = v.get_type().get_bit_width();
        v.get_type().const_int(1u64 << (bits - 1), false)
    }

    /// Calls the routine of float operator `op` on the operands.
    fn float_routine(&mut self, op: &Operator<'_>) -> Result<()> {
        let name = operator_name(op);
        let routine = self
            .env
            .float_routine(&name)
            .ok_or_else(|| self.err(format!("internal error: no routine declared for {name}")))?;
        let args = self.pop_n(routine.count_params() as usize)?;
        let args: Vec<BasicMetadataValueEnum<'c>> = args.into_iter().map(Into::into).collect();
        let call = self.builder.build_call(routine, &args, "").map_err(llvm)?;
        self.push(call.try_as_basic_value().basic().expect("float routines return a value").into_int_value());
        Ok(())
    }

    /// A float operator compiled to a trap (`--trap-floats`), keeping the operand stack
    /// shape (`pops` operands, a result of type `push`).
    fn float_trap(&mut self, pops: usize, push: Option<ValType>) -> Result<()> {
        self.pop_n(pops)?;
        if let Some(ty) = push {
            self.push(self.env.int_type(ty).get_undef());
        }
        self.trap_here().map_err(llvm)
    }
}

/// Operands popped and result pushed by a float operator that needs real floating point,
/// or `None` if `op` is not one.
pub(crate) fn float_operator_shape(op: &Operator<'_>) -> Option<(usize, Option<ValType>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_shapes() {
        assert_eq!(float_operator_shape(&Operator::F32Add), Some((2, Some(ValType::F32))));
        assert_eq!(float_operator_shape(&Operator::I32Add), None);
    }
}
