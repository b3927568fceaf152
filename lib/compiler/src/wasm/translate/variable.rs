//! Variable instructions: locals and globals.

use super::{FunctionTranslator, llvm};
use crate::error::Result;
use wasmparser::Operator;

impl<'c, 'm, 'w> FunctionTranslator<'c, 'm, 'w> {
    /// Translates a variable instruction; `false` if `op` is not one.
    pub(super) fn variable(&mut self, op: &Operator<'w>) -> Result<bool> {
        match *op {
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
                let v = self.env.global_get(&self.builder, global_index).map_err(llvm)?;
                self.push(v);
            }
            Operator::GlobalSet { global_index } => {
                let v = self.pop()?;
                let slot =
                    self.env.global_slot(global_index).ok_or_else(|| self.err("global.set of an immutable global"))?;
                self.builder.build_store(slot, v).map_err(llvm)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}
