//! The LLVM module built from a WebAssembly module: the declarations of
//! [`crate::wasm::env`], every function body ([`crate::wasm::translate`]), the lowering
//! of imports, and the program entries that call the start function and `main` (or the
//! entry functions of a JAM service, [`crate::wasm::entries`]).

use crate::abi::{self, Pseudo};
use crate::error::{CompileError, Result};
use crate::options::{EntryKind, ImportAction, Options};
use crate::wasm::arguments::ArgumentCopies;
use crate::wasm::entries::{self, EntryExport};
use crate::wasm::env::{ModuleEnv, Part};
use crate::wasm::module::{Module, Signature, ValType};
use crate::wasm::translate::{Callees, FunctionTranslator};
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::module::Linkage;
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PointerValue};

/// The LLVM module of a WebAssembly module, complete.
pub struct IrModule<'c> {
    /// Its declarations (and, through them, the LLVM module itself).
    pub env: ModuleEnv<'c>,
    /// Warnings to show the user (unknown imports, ...).
    pub warnings: Vec<String>,
}

fn llvm(e: BuilderError) -> CompileError {
    CompileError::new(format!("LLVM builder: {e}"))
}

impl<'c> IrModule<'c> {
    /// Builds the LLVM module for `wasm`, or for one part of it
    /// ([`crate::wasm::partition`]): part 0 has the program's entries.
    pub fn build(context: &'c Context, wasm: &Module<'_>, options: &Options, part: Option<Part<'c>>) -> Result<Self> {
        let env = ModuleEnv::declare(context, wasm, options, part)?;
        let argument_copies = ArgumentCopies::analyse(wasm, &Self::entered_with_arguments(wasm, options))?;
        for index in (wasm.imported_functions..wasm.functions.len()).filter(|&i| env.has_body(wasm, i as u32)) {
            let callees = Callees::Program(&env.functions);
            FunctionTranslator::translate(&env, wasm, &argument_copies, callees, index as u32)?;
        }
        if let Some(routines) = &env.float_routines {
            // The routines never see an argument address.
            let none = ArgumentCopies::default();
            for (index, function) in routines.functions.iter().enumerate() {
                if function.is_some() && routines.module.functions[index].body.is_some() {
                    let callees = Callees::Routines(&routines.functions);
                    FunctionTranslator::translate(&env, &routines.module, &none, callees, index as u32)?;
                }
            }
        }
        let mut ir = IrModule { env, warnings: Vec::new() };
        ir.lower_imports(wasm)?;
        if part.is_none_or(|p| p.index == 0) {
            ir.build_entries(wasm)?;
        }
        Ok(ir)
    }

    /// The functions the program's entries call with `args_ptr` (none with the test
    /// harness; an entry that is missing or mistyped is [`Self::build_entries`]' error).
    fn entered_with_arguments(wasm: &Module<'_>, options: &Options) -> Vec<u32> {
        if options.entry == EntryKind::Harness {
            return Vec::new();
        }
        let exports = entries::entry_exports(wasm, &options.entries).unwrap_or_default();
        exports.into_iter().flatten().map(|export| export.function).collect()
    }

    /// The LLVM module.
    pub fn module(&self) -> &inkwell::module::Module<'c> {
        &self.env.module
    }

    /// Gives each import the body its action calls for (part 0 of a split module holds
    /// every import, [`crate::wasm::partition`]).
    fn lower_imports(&mut self, wasm: &Module<'_>) -> Result<()> {
        let builder = self.env.context.create_builder();
        for index in 0..wasm.imported_functions {
            let function = &wasm.functions[index];
            let (module, field) = function.import.clone().expect("imports come first");
            let signature = wasm.types[function.type_index as usize].clone();
            let action = match self.env.options.import_action(&module, &field) {
                Some(action) => action,
                None if module == "jam" => {
                    return Err(CompileError::new(format!(
                        "import jam.{field}: no JAM host call has this name (docs/abi.md lists them)"
                    )));
                }
                None if self.env.options.strict_imports => {
                    return Err(CompileError::new(format!(
                        "unknown import {module}.{field} (--strict-imports); map it with --imports"
                    )));
                }
                None => {
                    self.warnings.push(format!(
                        "unknown import {module}.{field} compiled as a call that does nothing and returns zero"
                    ));
                    ImportAction::Nop
                }
            };
            if !self.env.has_body(wasm, index as u32) {
                continue;
            }
            let f = self.env.functions[index];
            let entry = self.env.context.append_basic_block(f, "entry");
            builder.position_at_end(entry);
            match action {
                ImportAction::Trap => {
                    builder.build_call(self.env.trap, &[], "").map_err(llvm)?;
                    builder.build_unreachable().map_err(llvm)?;
                }
                ImportAction::Nop => self.return_value(&builder, &signature, None)?,
                ImportAction::HostR8 => {
                    let r8 = self.host_r8(&builder)?;
                    self.return_value(&builder, &signature, Some(r8))?;
                }
                ImportAction::Ecalli(n) | ImportAction::JamHostCall(n) => {
                    if signature.params.len() > abi::ARG_REGS.len() || signature.results.len() > abi::RESULT_REGS.len()
                    {
                        return Err(CompileError::new(format!(
                            "import {module}.{field}: a host call takes at most {} arguments and gives at most {} results",
                            abi::ARG_REGS.len(),
                            abi::RESULT_REGS.len()
                        )));
                    }
                    let jam_call = match action {
                        ImportAction::JamHostCall(_) => pvm_isa::host_call::by_index(n.into()),
                        _ => None,
                    };
                    let params: Vec<BasicMetadataTypeEnum<'c>> =
                        signature.params.iter().map(|_| self.env.i64.into()).collect();
                    let pseudo = self.env.pseudo(Pseudo::Ecalli(n), self.env.i64.fn_type(&params, false));
                    let base = self.env.memory_base().const_to_int(self.env.i32);
                    let args: Vec<BasicMetadataValueEnum<'c>> = signature
                        .params
                        .iter()
                        .enumerate()
                        .map(|(i, &ty)| {
                            let p = f.get_nth_param(i as u32).expect("declared").into_int_value();
                            if jam_call.is_some_and(|c| c.is_pointer(i)) && ty == ValType::I32 {
                                // A WebAssembly address: the PVM address it maps to.
                                let address = builder.build_int_add(p, base, "")?;
                                builder.build_int_z_extend(address, self.env.i64, "").map(Into::into)
                            } else {
                                builder.build_int_s_extend_or_bit_cast(p, self.env.i64, "").map(Into::into)
                            }
                        })
                        .collect::<std::result::Result<_, _>>()
                        .map_err(llvm)?;
                    let r7 = builder.build_call(pseudo, &args, "").map_err(llvm)?;
                    let r7 = r7.try_as_basic_value().basic().expect("returns i64").into_int_value();
                    // The second result: r8, as the host call left it.
                    let r8 = if signature.results.len() == 2 { Some(self.host_r8(&builder)?) } else { None };
                    self.return_values(&builder, &signature, Some(r7), r8)?;
                }
            }
        }
        Ok(())
    }

    /// r8 as the most recent host call left it; the back end keeps it in the global
    /// [`abi::HOST_R8_SLOT`] after every host call once the module has that global.
    fn host_r8(&self, builder: &Builder<'c>) -> Result<IntValue<'c>> {
        let env = &self.env;
        if env.module.get_global(abi::HOST_R8_SLOT).is_none() {
            let slot = env.module.add_global(env.i64, None, abi::HOST_R8_SLOT);
            slot.set_initializer(&env.i64.const_zero());
            slot.set_linkage(Linkage::External);
        }
        let pseudo = env.pseudo(Pseudo::HostR8, env.i64.fn_type(&[], false));
        let r8 = builder.build_call(pseudo, &[], "").map_err(llvm)?;
        Ok(r8.try_as_basic_value().basic().expect("returns i64").into_int_value())
    }

    /// Returns `value` (converted to the first result type) and zeros for the others.
    fn return_value(&self, builder: &Builder<'c>, signature: &Signature, value: Option<IntValue<'c>>) -> Result<()> {
        self.return_values(builder, signature, value, None)
    }

    /// Returns `first` and `second` (converted to the result types; zero when absent) and
    /// zeros for any further results.
    fn return_values(
        &self,
        builder: &Builder<'c>,
        signature: &Signature,
        first: Option<IntValue<'c>>,
        second: Option<IntValue<'c>>,
    ) -> Result<()> {
        let env = &self.env;
        for (i, &ty) in signature.results.iter().enumerate().skip(1) {
            let value = match second.filter(|_| i == 1) {
                Some(v) => builder.build_int_truncate_or_bit_cast(v, env.int_type(ty), "").map_err(llvm)?,
                None => env.int_type(ty).const_zero(),
            };
            builder.build_store(env.extra_result(i, ty), value).map_err(llvm)?;
        }
        match (signature.results.first(), first) {
            (Some(&ty), Some(v)) => {
                let v = builder.build_int_truncate_or_bit_cast(v, env.int_type(ty), "").map_err(llvm)?;
                builder.build_return(Some(&v)).map_err(llvm)?;
            }
            (Some(&ty), None) => {
                builder.build_return(Some(&env.int_type(ty).const_zero())).map_err(llvm)?;
            }
            (None, _) => {
                builder.build_return(None).map_err(llvm)?;
            }
        }
        Ok(())
    }

    /// The program's entry functions, one per entry slot (see [`crate::wasm::entries`]);
    /// the test harness has one.
    fn build_entries(&mut self, wasm: &Module<'_>) -> Result<()> {
        if self.env.options.entry == EntryKind::Harness {
            return self.build_entry(wasm, 0, None);
        }
        for (slot, export) in entries::entry_exports(wasm, &self.env.options.entries)?.iter().enumerate() {
            self.build_entry(wasm, slot, export.as_ref())?;
        }
        Ok(())
    }

    /// The entry function of `slot`: instantiation checks, the start function, the
    /// exported function (or the harness loop; a trap for a slot without one), and the
    /// conversion of its result into PVM addresses.
    fn build_entry(&mut self, wasm: &Module<'_>, slot: usize, export: Option<&EntryExport>) -> Result<()> {
        let ty = self.env.i64.fn_type(&[self.env.i64.into(), self.env.i64.into()], false);
        let entry = self.env.module.add_function(&abi::entry_function(slot), ty, Some(Linkage::External));
        let builder = self.env.context.create_builder();
        builder.position_at_end(self.env.context.append_basic_block(entry, "entry"));
        let harness = self.env.options.entry == EntryKind::Harness;
        if wasm.instantiation_trap.is_some() || (export.is_none() && !harness) {
            builder.build_call(self.env.trap, &[], "").map_err(llvm)?;
            builder.build_unreachable().map_err(llvm)?;
            return Ok(());
        }
        self.store_evaluated_globals(wasm, &builder)?;
        if let Some(start) = wasm.start {
            builder.build_call(self.env.functions[start as usize], &[], "").map_err(llvm)?;
        }
        let Some(EntryExport { name, function: main }) = export.filter(|_| !harness) else {
            return self.build_harness_loop(wasm, entry, &builder);
        };
        let main = *main;
        let mistyped =
            || CompileError::new(format!("{name} must take (args_ptr: i32, args_len: i32) and return i64 or nothing"));
        let signature = wasm.signature(main).clone();
        if signature.params != [ValType::I32, ValType::I32] {
            return Err(mistyped());
        }
        let base = self.env.memory_base().const_to_int(self.env.i32);
        let args_len = entry.get_nth_param(1).expect("declared").into_int_value();
        let args_pointer = self.env.args_pointer(&builder).map_err(llvm)?;
        let args_len = builder.build_int_truncate(args_len, self.env.i32, "args_len").map_err(llvm)?;
        let call = builder
            .build_call(self.env.functions[main as usize], &[args_pointer.into(), args_len.into()], "")
            .map_err(llvm)?;
        let (pointer, length) = match signature.results.as_slice() {
            [ValType::I64] => {
                let packed = call.try_as_basic_value().basic().expect("returns i64").into_int_value();
                let pointer = builder.build_int_truncate(packed, self.env.i32, "").map_err(llvm)?;
                let high =
                    builder.build_right_shift(packed, self.env.i64.const_int(32, false), false, "").map_err(llvm)?;
                let length = builder.build_int_truncate(high, self.env.i32, "").map_err(llvm)?;
                (pointer, length)
            }
            [] => {
                let read = |name: &str| -> Result<IntValue<'c>> {
                    match wasm.exported_global(name) {
                        Some(g) if wasm.globals[g as usize].ty == ValType::I32 => {
                            self.env.global_get(&builder, g).map_err(llvm)
                        }
                        _ => Ok(self.env.i32.const_zero()),
                    }
                };
                (read("result_ptr")?, read("result_len")?)
            }
            _ => return Err(mistyped()),
        };
        // r7 = the result's start address; r8 = its end (the reference's reading) or its
        // length (the Gray Paper's).
        let start = builder.build_int_add(pointer, base, "").map_err(llvm)?;
        let second = if self.env.options.gray_paper_result {
            length
        } else {
            builder.build_int_add(start, length, "").map_err(llvm)?
        };
        let start = builder.build_int_z_extend(start, self.env.i64, "").map_err(llvm)?;
        let second = builder.build_int_z_extend(second, self.env.i64, "").map_err(llvm)?;
        let second = builder.build_left_shift(second, self.env.i64.const_int(32, false), "").map_err(llvm)?;
        let packed = builder.build_or(start, second, "").map_err(llvm)?;
        builder.build_return(Some(&packed)).map_err(llvm)?;
        Ok(())
    }

    /// Stores the values the start function left in globals (evaluated at compile time,
    /// [`crate::wasm::start_eval`]) where an entry begins, as the start function did: the
    /// stores let LLVM fold what the program computes from them (the first address an
    /// AssemblyScript program allocates), and it drops those a later store makes dead.
    fn store_evaluated_globals(&self, wasm: &Module<'_>, builder: &Builder<'c>) -> Result<()> {
        for &(index, value) in &wasm.evaluated_globals {
            let Some(slot) = self.env.global_slot(index) else { continue };
            let ty = self.env.int_type(wasm.globals[index as usize].ty);
            builder.build_store(slot, ty.const_int(value, false)).map_err(llvm)?;
        }
        Ok(())
    }

    /// The harness loop: ask the host for a call, make it, store the results, repeat.
    fn build_harness_loop(&self, wasm: &Module<'_>, entry: FunctionValue<'c>, builder: &Builder<'c>) -> Result<()> {
        let slots = self.env.i64.array_type(abi::HARNESS_SLOTS);
        let mailbox = self.env.module.add_global(slots, None, abi::HARNESS_MAILBOX);
        mailbox.set_initializer(&slots.const_zero());
        mailbox.set_linkage(Linkage::External);
        let slot = |i: u32| -> PointerValue<'c> {
            let base = mailbox.as_pointer_value().const_cast(self.env.i64.ptr_type(Default::default()));
            crate::ffi::constant_element(base, self.env.i32.const_int(u64::from(i), false))
        };
        let ask = self.env.pseudo(Pseudo::Ecalli(abi::HARNESS_ECALLI), self.env.i64.fn_type(&[], false));
        let head = self.env.context.append_basic_block(entry, "loop");
        builder.build_unconditional_branch(head).map_err(llvm)?;
        builder.position_at_end(head);
        builder.build_call(ask, &[], "").map_err(llvm)?;
        let command = builder.build_load(slot(0), "").map_err(llvm)?.into_int_value();
        let exports: Vec<u32> = wasm
            .exports
            .iter()
            .filter_map(|e| match e.kind {
                crate::wasm::module::ExportKind::Func(f) => Some(f),
                _ => None,
            })
            .collect();
        let mut cases = Vec::new();
        for (k, &function) in exports.iter().enumerate() {
            let signature = wasm.signature(function).clone();
            if signature.params.len() + 1 > abi::HARNESS_SLOTS as usize
                || signature.results.len() + 1 > abi::HARNESS_SLOTS as usize
            {
                continue;
            }
            let block = self.env.context.append_basic_block(entry, "call");
            builder.position_at_end(block);
            let mut args: Vec<BasicMetadataValueEnum<'c>> = Vec::new();
            for (i, &ty) in signature.params.iter().enumerate() {
                let raw = builder.build_load(slot(i as u32 + 1), "").map_err(llvm)?.into_int_value();
                args.push(builder.build_int_truncate_or_bit_cast(raw, self.env.int_type(ty), "").map_err(llvm)?.into());
            }
            let call = builder.build_call(self.env.functions[function as usize], &args, "").map_err(llvm)?;
            for (i, &ty) in signature.results.iter().enumerate() {
                let value = match i {
                    0 => call.try_as_basic_value().basic().expect("has a result").into_int_value(),
                    _ => builder.build_load(self.env.extra_result(i, ty), "").map_err(llvm)?.into_int_value(),
                };
                let wide = builder.build_int_z_extend_or_bit_cast(value, self.env.i64, "").map_err(llvm)?;
                builder.build_store(slot(i as u32 + 1), wide).map_err(llvm)?;
            }
            builder.build_unconditional_branch(head).map_err(llvm)?;
            cases.push((self.env.i64.const_int(k as u64, false), block));
        }
        builder.position_at_end(head);
        builder.build_switch(command, head, &cases).map_err(llvm)?;
        Ok(())
    }
}
