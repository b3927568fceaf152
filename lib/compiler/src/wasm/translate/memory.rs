//! Memory instructions (loads, stores, `memory.*`, `data.drop`) and table instructions
//! (`table.*`, `elem.drop`): addresses, address checks and range checks.

use super::{BuildResult, FunctionTranslator, llvm};
use crate::abi;
use crate::error::Result;
use crate::ffi;
use crate::wasm::module::ValType;
use inkwell::IntPredicate;
use inkwell::values::{GlobalValue, IntValue, PointerValue};
use wasmparser::{MemArg, Operator};

/// The reaches address checks use, smallest first: an access whose offset plus size is at
/// most `g` is checked for `g` bytes from its address, so accesses to one address with
/// offsets in the same tier share one check (larger offsets get their own). Without wild
/// address traps the check is `address <= 2^32 - g`, where `-g` fits a one- or two-byte
/// immediate.
const CHECK_TIERS: [u64; 3] = [0x80, 0x8000, 0x1_0000];

impl<'c, 'm, 'w> FunctionTranslator<'c, 'm, 'w> {
    /// Translates a memory or table instruction; `false` if `op` is not one.
    pub(super) fn memory(&mut self, op: &Operator<'w>) -> Result<bool> {
        match *op {
            Operator::TableSize { .. } => {
                let size = self.module.table.as_ref().map_or(0, |t| t.entries.len() as u64);
                self.push(self.i32c(size));
            }
            Operator::TableCopy { .. } => {
                let length = self.pop()?;
                let source = self.pop()?;
                let dest = self.pop()?;
                let table = self.env.mutable_table.clone().ok_or_else(|| self.err("table.copy without a table"))?;
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
                let table = self.env.mutable_table.clone().ok_or_else(|| self.err("table.init without a table"))?;
                let (segment, segment_len) =
                    *table.segments.get(elem_index as usize).ok_or_else(|| self.err("unknown element segment"))?;
                let available = self.builder.build_load(segment_len.as_pointer_value(), "").map_err(llvm)?;
                let available =
                    self.builder.build_int_z_extend(available.into_int_value(), self.env.i64, "").map_err(llvm)?;
                self.check_range(source, length, available).map_err(llvm)?;
                self.check_range(dest, length, self.i64c(table.size)).map_err(llvm)?;
                let d = self.table_pointer(table.entries, dest).map_err(llvm)?;
                let s = self.table_pointer(segment, source).map_err(llvm)?;
                let bytes = self.builder.build_int_mul(length, self.i32c(4), "").map_err(llvm)?;
                self.builder.build_memcpy(d, 4, s, 4, bytes).map_err(|e| self.err(e.to_string()))?;
            }
            Operator::ElemDrop { elem_index } => {
                // Only a table that changes keeps its segments.
                if let Some(table) = &self.env.mutable_table {
                    let (_, segment_len) =
                        *table.segments.get(elem_index as usize).ok_or_else(|| self.err("unknown element segment"))?;
                    self.builder.build_store(segment_len.as_pointer_value(), self.i32c(0)).map_err(llvm)?;
                }
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
                let v = self.builder.build_load(self.env.memory_pages(), "").map_err(llvm)?.into_int_value();
                self.push(v);
            }
            Operator::MemoryGrow { .. } => {
                let delta = self.pop()?;
                let call = self.builder.build_call(self.env.memory_grow, &[delta.into()], "").map_err(llvm)?;
                self.push(call.try_as_basic_value().basic().expect("returns i32").into_int_value());
            }
            Operator::MemoryFill { .. } => {
                let length = self.pop()?;
                let value = self.pop()?;
                let dest = self.pop()?;
                let limit = self.memory_bytes().map_err(llvm)?;
                self.check_range(dest, length, limit).map_err(llvm)?;
                let ptr = self.memory_pointer(dest).map_err(llvm)?;
                let byte = self.builder.build_int_truncate(value, self.env.i8, "").map_err(llvm)?;
                self.builder.build_memset(ptr, 1, byte, length).map_err(|e| self.err(e.to_string()))?;
            }
            Operator::MemoryCopy { .. } => {
                let length = self.pop()?;
                let source = self.pop()?;
                let dest = self.pop()?;
                let limit = self.memory_bytes().map_err(llvm)?;
                if self.argument_copies.reads_arguments(self.index, self.offset) {
                    self.check_copy_source(source, length, limit).map_err(llvm)?;
                } else {
                    self.check_range(source, length, limit).map_err(llvm)?;
                }
                // The destination is a write: linear memory only.
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
                    self.env.passive_segment(data_index).ok_or_else(|| self.err("unknown data segment"))?;
                // A dropped segment has length 0.
                let flag = self.builder.build_load(dropped, "").map_err(llvm)?.into_int_value();
                let is_dropped = self
                    .builder
                    .build_int_compare(IntPredicate::NE, flag, self.env.i8.const_zero(), "")
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
                    self.env.passive_segment(data_index).ok_or_else(|| self.err("unknown data segment"))?;
                self.builder.build_store(dropped, self.env.i8.const_int(1, false)).map_err(llvm)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The pointer for an access of `size` bytes at `address + memarg.offset`, after the
    /// check that keeps it inside linear memory (docs/memory.md): by default every access
    /// is checked ([`abi::Pseudo::AddressCheck`], expanded by the back end); with
    /// `--no-wild-address-traps` only those with an offset, against wrapping past 2^32.
    fn address(&mut self, address: IntValue<'c>, memarg: &MemArg, size: u64) -> Result<PointerValue<'c>> {
        let offset = memarg.offset;
        let end = offset + size;
        let largest = if self.env.options.wild_address_traps { abi::MEMORY_LIMIT } else { 1 << 32 };
        if end > largest {
            // Past the largest memory whatever the address.
            self.trap_here().map_err(llvm)?;
            return Ok(self.env.memory_base());
        }
        let reach = CHECK_TIERS.into_iter().find(|&g| end <= g).unwrap_or(end);
        let address = if self.env.options.wild_address_traps {
            let limit = self.i32c(abi::check_limit(reach));
            let outside = self.builder.build_int_compare(IntPredicate::UGT, address, limit, "").map_err(llvm)?;
            let args = [outside.into(), address.into(), self.i32c(reach).into()];
            let call = self.builder.build_call(self.env.address_check, &args, "").map_err(llvm)?;
            call.try_as_basic_value().basic().expect("the address check returns the address").into_int_value()
        } else {
            if offset > 0 {
                let limit = (1u64 << 32) - reach;
                let wraps =
                    self.builder.build_int_compare(IntPredicate::UGT, address, self.i32c(limit), "").map_err(llvm)?;
                self.trap_if(wraps).map_err(llvm)?;
            }
            address
        };
        let base = ffi::byte_gep(&self.builder, self.env.memory_base(), address).map_err(llvm)?;
        if offset == 0 {
            return Ok(base);
        }
        ffi::byte_gep(&self.builder, base, self.i32c(offset)).map_err(llvm)
    }

    fn load(&mut self, memarg: &MemArg, bytes: u32, result: ValType, signed: bool) -> Result<()> {
        let address = self.pop()?;
        let ptr = self.address(address, memarg, u64::from(bytes))?;
        let ty = self.env.int_bits(bytes * 8);
        let typed = self.builder.build_pointer_cast(ptr, ty.ptr_type(Default::default()), "").map_err(llvm)?;
        let value = self.builder.build_load(typed, "").map_err(llvm)?.into_int_value();
        let load = value.as_instruction().expect("a load is an instruction");
        load.set_alignment(1).map_err(|e| self.err(e.to_string()))?;
        // Out-of-bounds accesses trap through the PVM's page faults, which LLVM does not
        // know about: every load is volatile, so none is deleted (even when its value is
        // unused), merged or moved past another access.
        load.set_volatile(true).map_err(|e| self.err(e.to_string()))?;
        let target = self.env.int_type(result);
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
        let ty = self.env.int_bits(bytes * 8);
        let value = if value.get_type().get_bit_width() == bytes * 8 {
            value
        } else {
            self.builder.build_int_truncate(value, ty, "").map_err(llvm)?
        };
        let typed = self.builder.build_pointer_cast(ptr, ty.ptr_type(Default::default()), "").map_err(llvm)?;
        let store = self.builder.build_store(typed, value).map_err(llvm)?;
        store.set_alignment(1).map_err(|e| self.err(e.to_string()))?;
        // Volatile like loads: LLVM's stores cannot trap, ours can, so none may be
        // deleted — not a store of the value just loaded from its address (a write to the
        // read-only arguments, which a load may read), nor the stores of a loop without
        // exits (which LICM would keep in a register to store at the exits) — nor moved
        // past a load that traps.
        store.set_volatile(true).map_err(|e| self.err(e.to_string()))?;
        Ok(())
    }

    /// Memory size in bytes as an i64.
    fn memory_bytes(&self) -> BuildResult<IntValue<'c>> {
        let pages = self.builder.build_load(self.env.memory_pages(), "")?.into_int_value();
        let pages = self.builder.build_int_z_extend(pages, self.env.i64, "")?;
        self.builder.build_left_shift(pages, self.i64c(16), "")
    }

    /// Traps unless a `memory.copy` whose source may be an argument address
    /// ([`crate::wasm::arguments`]) may read `length` bytes at `source`: inside linear
    /// memory (`limit` bytes), or inside the argument zone, where a load from such an
    /// address may read (docs/memory.md). Past the argument pages the zone is unmapped,
    /// so the copy faults there as a load does.
    fn check_copy_source(
        &mut self,
        source: IntValue<'c>,
        length: IntValue<'c>,
        limit: IntValue<'c>,
    ) -> BuildResult<()> {
        let (zone_start, zone_end) = self.env.argument_zone();
        let start = self.builder.build_int_z_extend(source, self.env.i64, "")?;
        let length = self.builder.build_int_z_extend(length, self.env.i64, "")?;
        let end = self.builder.build_int_add(start, length, "")?;
        let outside_memory = self.builder.build_int_compare(IntPredicate::UGT, end, limit, "")?;
        let below_zone = self.builder.build_int_compare(IntPredicate::ULT, start, zone_start, "")?;
        let past_zone = self.builder.build_int_compare(IntPredicate::UGT, end, zone_end, "")?;
        let outside_zone = self.builder.build_or(below_zone, past_zone, "")?;
        let out = self.builder.build_and(outside_memory, outside_zone, "")?;
        self.trap_if(out)
    }

    /// Traps unless `start + length <= limit` (all as unsigned 32-bit values, the sum in
    /// 64 bits).
    fn check_range(&mut self, start: IntValue<'c>, length: IntValue<'c>, limit: IntValue<'c>) -> BuildResult<()> {
        let start = self.builder.build_int_z_extend(start, self.env.i64, "")?;
        let length = self.builder.build_int_z_extend(length, self.env.i64, "")?;
        let end = self.builder.build_int_add(start, length, "")?;
        let out = self.builder.build_int_compare(IntPredicate::UGT, end, limit, "")?;
        self.trap_if(out)
    }

    fn memory_pointer(&self, address: IntValue<'c>) -> BuildResult<PointerValue<'c>> {
        ffi::byte_gep(&self.builder, self.env.memory_base(), address)
    }

    /// A pointer to entry `index` (in bounds) of an `[n x i32]` table or element segment.
    pub(super) fn table_pointer(&self, array: GlobalValue<'c>, index: IntValue<'c>) -> BuildResult<PointerValue<'c>> {
        let bytes = array.as_pointer_value().const_cast(self.env.i8.ptr_type(Default::default()));
        let offset = self.builder.build_int_mul(index, self.i32c(4), "")?;
        let entry = ffi::byte_gep(&self.builder, bytes, offset)?;
        self.builder.build_pointer_cast(entry, self.env.i32.ptr_type(Default::default()), "")
    }
}
