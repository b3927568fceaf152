//! WebAssembly lets an engine choose the NaN an arithmetic operator returns (any NaN of
//! the spec's `nan:canonical` or `nan:arithmetic` set); the compiler always chooses the
//! positive canonical NaN (docs/abi.md). [`fixed_nans`] rewrites a module so that a
//! reference engine makes the same choice: after every operator whose NaN result the
//! spec leaves open, a NaN becomes the canonical one. Everything else — moves, loads
//! and stores, `neg`, `abs`, `copysign`, reinterpretations — keeps the NaN's bits, as
//! the spec demands, and is compared bit for bit.

use std::convert::Infallible;
use wasm_encoder::reencode::{Error, Reencode, RoundtripReencoder, utils};
use wasm_encoder::{CodeSection, Function, Instruction, ValType};
use wasmparser::{FunctionBody, Operator, Payload};

/// The float format of an operator whose NaN result is the engine's choice.
fn open_nan(op: &Operator<'_>) -> Option<ValType> {
    use Operator as O;
    match op {
        O::F32Add | O::F32Sub | O::F32Mul | O::F32Div | O::F32Min | O::F32Max | O::F32Sqrt => Some(ValType::F32),
        O::F32Ceil | O::F32Floor | O::F32Trunc | O::F32Nearest | O::F32DemoteF64 => Some(ValType::F32),
        O::F64Add | O::F64Sub | O::F64Mul | O::F64Div | O::F64Min | O::F64Max | O::F64Sqrt => Some(ValType::F64),
        O::F64Ceil | O::F64Floor | O::F64Trunc | O::F64Nearest | O::F64PromoteF32 => Some(ValType::F64),
        _ => None,
    }
}

/// Rewrites function bodies; `params` holds each defined function's parameter count.
struct FixedNans {
    params: Vec<u32>,
    next: usize,
}

impl Reencode for FixedNans {
    type Error = Infallible;

    fn parse_function_body(&mut self, code: &mut CodeSection, func: FunctionBody<'_>) -> Result<(), Error> {
        let mut locals = Vec::new();
        let mut count = self.params[self.next];
        self.next += 1;
        for pair in func.get_locals_reader()? {
            let (n, ty) = pair?;
            locals.push((n, RoundtripReencoder.val_type(ty)?));
            count += n;
        }
        // Two scratch locals: the result of the operator, as f32 and as f64.
        let (t32, t64) = (count, count + 1);
        locals.push((1, ValType::F32));
        locals.push((1, ValType::F64));
        let mut f = Function::new(locals);
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            let format = open_nan(&op);
            f.instruction(&utils::instruction(self, op)?);
            // x == x ? x : NaN
            match format {
                Some(ValType::F32) => f
                    .instruction(&Instruction::LocalTee(t32))
                    .instruction(&Instruction::F32Const(f32::from_bits(0x7fc0_0000).into()))
                    .instruction(&Instruction::LocalGet(t32))
                    .instruction(&Instruction::LocalGet(t32))
                    .instruction(&Instruction::F32Eq)
                    .instruction(&Instruction::Select),
                Some(_) => f
                    .instruction(&Instruction::LocalTee(t64))
                    .instruction(&Instruction::F64Const(f64::from_bits(0x7ff8_0000_0000_0000).into()))
                    .instruction(&Instruction::LocalGet(t64))
                    .instruction(&Instruction::LocalGet(t64))
                    .instruction(&Instruction::F64Eq)
                    .instruction(&Instruction::Select),
                None => &mut f,
            };
        }
        code.function(&f);
        Ok(())
    }
}

/// `wasm` with every NaN the spec leaves to the engine made the compiler's choice.
pub fn fixed_nans(wasm: &[u8]) -> Result<Vec<u8>, String> {
    let mut types = Vec::new();
    let mut params = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| e.to_string())? {
            Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    types.push(ty.map_err(|e| e.to_string())?.params().len() as u32);
                }
            }
            Payload::FunctionSection(r) => {
                for index in r {
                    params.push(types[index.map_err(|e| e.to_string())? as usize]);
                }
            }
            _ => {}
        }
    }
    let mut module = wasm_encoder::Module::new();
    FixedNans { params, next: 0 }
        .parse_core_module(&mut module, wasmparser::Parser::new(0), wasm)
        .map_err(|e| format!("{e:?}"))?;
    Ok(module.finish())
}
