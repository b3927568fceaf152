//! Control instructions (blocks, branches, calls, returns) and the parametric ones
//! (`drop`, `select`).

use super::{Frame, FrameKind, FunctionTranslator, llvm};
use crate::error::{CompileError, Result};
use crate::wasm::module::{Signature, ValType};
use inkwell::IntPredicate;
use inkwell::basic_block::BasicBlock;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue};
use wasmparser::{BlockType, Operator};

impl<'c, 'm, 'w> FunctionTranslator<'c, 'm, 'w> {
    /// Translates a control or parametric instruction; `false` if `op` is not one.
    pub(super) fn control(&mut self, op: &Operator<'w>) -> Result<bool> {
        match *op {
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
                let then_block = self.env.context.append_basic_block(self.function, "then");
                let else_block = self.env.context.append_basic_block(self.function, "else");
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
                let taken = self.env.context.append_basic_block(self.function, "");
                let cont = self.env.context.append_basic_block(self.function, "");
                let cond =
                    self.builder.build_int_compare(IntPredicate::NE, condition, self.i32c(0), "").map_err(llvm)?;
                self.builder.build_conditional_branch(cond, taken, cont).map_err(llvm)?;
                self.builder.position_at_end(taken);
                self.branch_to(relative_depth)?;
                self.builder.position_at_end(cont);
            }
            Operator::BrTable { ref targets } => {
                let index = self.pop()?;
                let default = targets.default();
                let depths: Vec<u32> = targets.targets().collect::<std::result::Result<_, _>>()?;
                let default_block = self.env.context.append_basic_block(self.function, "");
                let mut cases = Vec::with_capacity(depths.len());
                let mut edge_blocks: Vec<(u32, BasicBlock<'c>)> = Vec::new();
                for (i, &depth) in depths.iter().enumerate() {
                    // One edge block per distinct target depth.
                    let block = match edge_blocks.iter().find(|(d, _)| *d == depth) {
                        Some(&(_, block)) => block,
                        None => {
                            let block = self.env.context.append_basic_block(self.function, "");
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
                let callee = self.callees.get(function_index).ok_or_else(|| self.err("call to unknown function"))?;
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
                let index = match &self.env.mutable_table {
                    Some(table) => {
                        let entry = self.table_pointer(table.entries, index).map_err(llvm)?;
                        self.builder.build_load(entry, "").map_err(llvm)?.into_int_value()
                    }
                    None => index,
                };
                let signature = self.module.types[type_index as usize].clone();
                let callee = self.env.call_indirect_pseudo(&signature);
                self.call(callee, &signature, &[index])?;
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
            _ => return Ok(false),
        }
        Ok(true)
    }

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
        let following = self.env.context.append_basic_block(self.function, "");
        let result_slots = self.slots(&results).map_err(llvm)?;
        let (branch_target, branch_slots) = if target_is_header {
            let header = self.env.context.append_basic_block(self.function, "loop");
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
            self.builder.build_store(self.env.extra_result(i, self.results[i]), *value).map_err(llvm)?;
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
            let v = self.builder.build_load(self.env.extra_result(i, ty), "").map_err(llvm)?;
            self.push(v.into_int_value());
        }
        Ok(())
    }
}
