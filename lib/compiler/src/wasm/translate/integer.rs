//! Integer numeric instructions: constants, comparisons, arithmetic, bit counts,
//! shifts, rotations, division with its traps, and width conversions.

use super::{FunctionTranslator, llvm};
use crate::error::Result;
use inkwell::IntPredicate;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue};
use wasmparser::Operator;

impl<'c, 'm, 'w> FunctionTranslator<'c, 'm, 'w> {
    /// Translates an integer numeric instruction; `false` if `op` is not one.
    pub(super) fn integer(&mut self, op: &Operator<'w>) -> Result<bool> {
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
                let v = self.builder.build_int_z_extend(c, self.env.i32, "").map_err(llvm)?;
                self.push(v);
            }};
        }
        match *op {
            Operator::I32Const { value } => self.push(self.i32c(value as u32 as u64)),
            Operator::I64Const { value } => self.push(self.i64c(value as u64)),
            Operator::I32Eqz | Operator::I64Eqz => {
                let v = self.pop()?;
                let c =
                    self.builder.build_int_compare(IntPredicate::EQ, v, v.get_type().const_zero(), "").map_err(llvm)?;
                let v = self.builder.build_int_z_extend(c, self.env.i32, "").map_err(llvm)?;
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

            Operator::I32Clz | Operator::I64Clz => {
                self.bit_count(self.env.int_intrinsic("llvm.ctlz", self.top_width()?), true)?
            }
            Operator::I32Ctz | Operator::I64Ctz => {
                self.bit_count(self.env.int_intrinsic("llvm.cttz", self.top_width()?), true)?
            }
            Operator::I32Popcnt | Operator::I64Popcnt => {
                self.bit_count(self.env.int_intrinsic("llvm.ctpop", self.top_width()?), false)?
            }

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
                let v = self.builder.build_int_truncate(v, self.env.i32, "").map_err(llvm)?;
                self.push(v);
            }
            Operator::I64ExtendI32S => {
                let v = self.pop()?;
                let v = self.builder.build_int_s_extend(v, self.env.i64, "").map_err(llvm)?;
                self.push(v);
            }
            Operator::I64ExtendI32U => {
                let v = self.pop()?;
                let v = self.builder.build_int_z_extend(v, self.env.i64, "").map_err(llvm)?;
                self.push(v);
            }
            Operator::I32Extend8S | Operator::I64Extend8S => self.sign_extend(8)?,
            Operator::I32Extend16S | Operator::I64Extend16S => self.sign_extend(16)?,
            Operator::I64Extend32S => self.sign_extend(32)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn top_width(&self) -> Result<u32> {
        self.stack.last().map(|v| v.get_type().get_bit_width()).ok_or_else(|| self.err("operand stack underflow"))
    }

    fn bit_count(&mut self, intrinsic: FunctionValue<'c>, has_zero_flag: bool) -> Result<()> {
        let v = self.pop()?;
        let mut args: Vec<BasicMetadataValueEnum<'c>> = vec![v.into()];
        if has_zero_flag {
            args.push(self.env.bool.const_zero().into());
        }
        let call = self.builder.build_call(intrinsic, &args, "").map_err(llvm)?;
        self.push(call.try_as_basic_value().basic().expect("intrinsic returns a value").into_int_value());
        Ok(())
    }

    fn sign_extend(&mut self, from_bits: u32) -> Result<()> {
        let v = self.pop()?;
        let narrow = self.builder.build_int_truncate(v, self.env.int_bits(from_bits), "").map_err(llvm)?;
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
        let intrinsic = self.env.int_intrinsic(if left { "llvm.fshl" } else { "llvm.fshr" }, width);
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
                let compute = self.env.context.append_basic_block(self.function, "");
                let join = self.env.context.append_basic_block(self.function, "");
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
