//! The LLVM module built from a WebAssembly module: declarations of every function,
//! global and data segment, the pseudo functions of [`crate::abi`], the lowering of
//! imports, and the program entry that calls the start function and `main`.

use crate::abi;
use crate::error::{CompileError, Result};
use crate::options::{EntryKind, ImportAction, Options};
use crate::wasm::module::{ExportKind, Module, Signature, ValType};
use crate::wasm::translate::FunctionTranslator;
use inkwell::attributes::AttributeLoc;
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, FunctionType, IntType};
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, GlobalValue, IntValue, PointerValue};
use std::cell::RefCell;
use std::collections::HashMap;

/// The LLVM name of mutable WebAssembly global `index`.
pub fn global_name(index: u32) -> String {
    format!("wasm.global.{index}")
}

/// The LLVM name of WebAssembly function `index` (also its label in the assembly).
pub fn function_name(index: u32) -> String {
    format!("wasm.func.{index}")
}

/// Where a WebAssembly global lives.
#[derive(Debug, Clone, Copy)]
enum GlobalSlot<'c> {
    /// An immutable global: its value.
    Const(IntValue<'c>),
    /// A mutable global: its LLVM global variable.
    Var(GlobalValue<'c>),
}

/// A data segment as `memory.init` sees it.
#[derive(Debug, Clone, Copy)]
struct SegmentSlot<'c> {
    contents: GlobalValue<'c>,
    len: u64,
    dropped: GlobalValue<'c>,
}

/// A table that functions change: its entries in memory (slot numbers, see
/// [`crate::wasm::module::Table::addressable`]) and its element segments.
#[derive(Debug, Clone)]
pub struct MutableTable<'c> {
    /// `[size x i32]`: the slot number of each entry (0: null).
    pub entries: GlobalValue<'c>,
    /// Number of entries.
    pub size: u64,
    /// Per element segment: its slot numbers (`[len x i32]`, constant) and a global
    /// holding its current length (0 once dropped).
    pub segments: Vec<(GlobalValue<'c>, GlobalValue<'c>)>,
}

/// The LLVM module under construction and everything the function translator needs.
pub struct IrModule<'c> {
    /// The LLVM context.
    pub context: &'c Context,
    /// The LLVM module.
    pub module: inkwell::module::Module<'c>,
    /// Compilation options.
    pub options: Options,
    /// `i1`.
    pub bool: IntType<'c>,
    /// `i8`.
    pub i8: IntType<'c>,
    /// `i32`.
    pub i32: IntType<'c>,
    /// `i64`.
    pub i64: IntType<'c>,
    /// One LLVM function per WebAssembly function (imports become small bodies).
    pub functions: Vec<FunctionValue<'c>>,
    /// `llvm.trap`.
    pub trap: FunctionValue<'c>,
    /// `llvm.expect.i1`.
    pub expect_i1: FunctionValue<'c>,
    /// The `memory.grow` runtime routine.
    pub memory_grow: FunctionValue<'c>,
    globals: Vec<GlobalSlot<'c>>,
    memory: GlobalValue<'c>,
    memory_pages: GlobalValue<'c>,
    segments: Vec<SegmentSlot<'c>>,
    /// The table, when functions change it.
    pub mutable_table: Option<MutableTable<'c>>,
    call_indirect: RefCell<HashMap<Signature, FunctionValue<'c>>>,
    extra_results: RefCell<HashMap<(usize, ValType), GlobalValue<'c>>>,
    signature_ids: RefCell<HashMap<Signature, usize>>,
    /// Warnings to show the user (unknown imports, ...).
    pub warnings: Vec<String>,
}

fn llvm(e: BuilderError) -> CompileError {
    CompileError::new(format!("LLVM builder: {e}"))
}

impl<'c> IrModule<'c> {
    /// Builds the LLVM module for `wasm`.
    pub fn build(context: &'c Context, wasm: &Module<'_>, options: &Options) -> Result<Self> {
        let module = context.create_module("wasm");
        let (bool, i8, i32, i64) = (context.bool_type(), context.i8_type(), context.i32_type(), context.i64_type());
        let intrinsic = |name: &str, types: &[inkwell::types::BasicTypeEnum<'c>]| {
            Intrinsic::find(name)
                .and_then(|i| i.get_declaration(&module, types))
                .ok_or_else(|| CompileError::new(format!("LLVM lacks the intrinsic {name}")))
        };
        let trap = intrinsic("llvm.trap", &[])?;
        let expect_i1 = intrinsic("llvm.expect", &[bool.into()])?;

        // A zero-length array: LLVM may assume no address of it dereferenceable, so it
        // never moves a load to where WebAssembly would not execute it.
        let memory = module.add_global(i8.array_type(0), None, abi::MEMORY);
        memory.set_linkage(Linkage::External);
        let memory_pages = module.add_global(i32, None, abi::MEMORY_PAGES);
        let initial_pages = wasm.memory.map_or(0, |m| m.initial);
        memory_pages.set_initializer(&i32.const_int(initial_pages, false));
        memory_pages.set_linkage(Linkage::External);
        let memory_grow =
            module.add_function(abi::MEMORY_GROW, i32.fn_type(&[i32.into()], false), Some(Linkage::External));

        let mut ir = IrModule {
            context,
            module,
            options: options.clone(),
            bool,
            i8,
            i32,
            i64,
            functions: Vec::new(),
            trap,
            expect_i1,
            memory_grow,
            globals: Vec::new(),
            memory,
            memory_pages,
            segments: Vec::new(),
            mutable_table: None,
            call_indirect: RefCell::new(HashMap::new()),
            extra_results: RefCell::new(HashMap::new()),
            signature_ids: RefCell::new(HashMap::new()),
            warnings: Vec::new(),
        };
        ir.declare_globals(wasm);
        ir.declare_segments(wasm);
        ir.declare_mutable_table(wasm);
        ir.declare_functions(wasm)?;
        for index in wasm.imported_functions..wasm.functions.len() {
            FunctionTranslator::translate(&ir, wasm, index as u32)?;
        }
        ir.lower_imports(wasm)?;
        ir.build_entry(wasm)?;
        Ok(ir)
    }

    /// The integer type of `bits` bits (1..=64).
    pub fn int_bits(&self, bits: u32) -> IntType<'c> {
        match bits {
            1 => self.bool,
            8 => self.i8,
            32 => self.i32,
            64 => self.i64,
            _ => self
                .context
                .custom_width_int_type(std::num::NonZeroU32::new(bits).expect("widths are positive"))
                .expect("widths up to 64 are valid"),
        }
    }

    /// The integer type that carries values of `ty`.
    pub fn int_type(&self, ty: ValType) -> IntType<'c> {
        if ty.bits() == 32 { self.i32 } else { self.i64 }
    }

    fn function_type(&self, signature: &Signature, leading: &[BasicMetadataTypeEnum<'c>]) -> FunctionType<'c> {
        let mut params: Vec<BasicMetadataTypeEnum<'c>> = leading.to_vec();
        params.extend(signature.params.iter().map(|&t| BasicMetadataTypeEnum::from(self.int_type(t))));
        match signature.results.first() {
            Some(&t) => self.int_type(t).fn_type(&params, false),
            None => self.context.void_type().fn_type(&params, false),
        }
    }

    fn declare_globals(&mut self, wasm: &Module<'_>) {
        for (index, global) in wasm.globals.iter().enumerate() {
            let ty = self.int_type(global.ty);
            let value = ty.const_int(wasm.global_initial_value(index as u32), false);
            let slot = if global.mutable {
                let g = self.module.add_global(ty, None, &global_name(index as u32));
                g.set_initializer(&value);
                // A test harness reads exported mutable globals from memory: keep them.
                let exported = wasm.exports.iter().any(|e| e.kind == ExportKind::Global(index as u32));
                let harness = self.options.entry == EntryKind::Harness;
                g.set_linkage(if harness && exported { Linkage::External } else { Linkage::Internal });
                GlobalSlot::Var(g)
            } else {
                GlobalSlot::Const(value)
            };
            self.globals.push(slot);
        }
    }

    fn declare_segments(&mut self, wasm: &Module<'_>) {
        for (index, segment) in wasm.data.iter().enumerate() {
            let passive = matches!(segment.placement, crate::wasm::module::DataPlacement::Passive);
            let bytes: &[u8] = if passive { segment.bytes } else { &[] };
            let contents = self.context.const_string(bytes, false);
            let g = self.module.add_global(contents.get_type(), None, &format!("{}{index}", abi::SEGMENT_PREFIX));
            g.set_initializer(&contents);
            g.set_constant(true);
            g.set_linkage(Linkage::Private);
            let dropped = self.module.add_global(self.i8, None, &format!("{}{index}", abi::DROPPED_PREFIX));
            // Active segments count as dropped once instantiation has copied them.
            dropped.set_initializer(&self.i8.const_int(u64::from(!passive), false));
            dropped.set_linkage(Linkage::Internal);
            self.segments.push(SegmentSlot { contents: g, len: bytes.len() as u64, dropped });
        }
    }

    fn declare_mutable_table(&mut self, wasm: &Module<'_>) {
        let Some(table) = wasm.table.as_ref().filter(|t| t.mutable) else { return };
        let addressable = table.addressable();
        let slot = |f: &Option<u32>| f.map_or(0, |f| addressable.binary_search(&f).map_or(0, |k| k as u64 + 1));
        let array = |items: &[Option<u32>]| {
            let values: Vec<_> = items.iter().map(|f| self.i32.const_int(slot(f), false)).collect();
            self.i32.const_array(&values)
        };
        let contents = array(&table.entries);
        let entries = self.module.add_global(contents.get_type(), None, abi::TABLE);
        entries.set_initializer(&contents);
        entries.set_linkage(Linkage::Internal);
        let mut segments = Vec::new();
        for (index, (items, passive)) in table.segments.iter().enumerate() {
            let contents = array(items);
            let g = self.module.add_global(contents.get_type(), None, &format!("{}{index}", abi::ELEM_PREFIX));
            g.set_initializer(&contents);
            g.set_constant(true);
            g.set_linkage(Linkage::Private);
            let len = self.module.add_global(self.i32, None, &format!("{}{index}.len", abi::ELEM_PREFIX));
            // Active and declared segments count as dropped once the module is instantiated.
            len.set_initializer(&self.i32.const_int(if *passive { items.len() as u64 } else { 0 }, false));
            len.set_linkage(Linkage::Internal);
            segments.push((g, len));
        }
        self.mutable_table = Some(MutableTable { entries, size: table.entries.len() as u64, segments });
    }

    fn declare_functions(&mut self, wasm: &Module<'_>) -> Result<()> {
        let table_functions: std::collections::HashSet<u32> = match &wasm.table {
            Some(t) if t.mutable => t.addressable().into_iter().collect(),
            _ => wasm.table.iter().flat_map(|t| t.entries.iter().flatten().copied()).collect(),
        };
        for (index, function) in wasm.functions.iter().enumerate() {
            let signature = &wasm.types[function.type_index as usize];
            let ty = self.function_type(signature, &[]);
            // Functions reachable through the table keep their signature (external
            // linkage), all others are internal so LLVM may inline, specialise or delete them.
            let linkage = if table_functions.contains(&(index as u32)) { Linkage::External } else { Linkage::Internal };
            let f = self.module.add_function(&function_name(index as u32), ty, Some(linkage));
            // Turning self tail calls into loops would turn runaway recursion, which must
            // exhaust the stack and trap, into an endless loop.
            f.add_attribute(AttributeLoc::Function, self.context.create_string_attribute("disable-tail-calls", "true"));
            self.functions.push(f);
        }
        Ok(())
    }

    fn lower_imports(&mut self, wasm: &Module<'_>) -> Result<()> {
        let builder = self.context.create_builder();
        for index in 0..wasm.imported_functions {
            let function = &wasm.functions[index];
            let (module, field) = function.import.clone().expect("imports come first");
            let signature = wasm.types[function.type_index as usize].clone();
            let action = match self.options.import_action(&module, &field) {
                Some(action) => action,
                None if self.options.strict_imports => {
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
            let f = self.functions[index];
            let entry = self.context.append_basic_block(f, "entry");
            builder.position_at_end(entry);
            match action {
                ImportAction::Trap => {
                    builder.build_call(self.trap, &[], "").map_err(llvm)?;
                    builder.build_unreachable().map_err(llvm)?;
                }
                ImportAction::Nop => self.return_zeros(&builder, &signature)?,
                ImportAction::HostR8 => {
                    let pseudo = self.pseudo(abi::HOST_R8, self.i64.fn_type(&[], false));
                    let r8 = builder.build_call(pseudo, &[], "").map_err(llvm)?;
                    let r8 = r8.try_as_basic_value().basic().expect("returns i64").into_int_value();
                    self.return_value(&builder, &signature, Some(r8))?;
                }
                ImportAction::Ecalli(n) => {
                    if signature.params.len() > abi::ARG_REGS.len() {
                        return Err(CompileError::new(format!(
                            "import {module}.{field}: a host call takes at most {} arguments",
                            abi::ARG_REGS.len()
                        )));
                    }
                    let params: Vec<BasicMetadataTypeEnum<'c>> =
                        signature.params.iter().map(|_| self.i64.into()).collect();
                    let pseudo = self.pseudo(&format!("{}{n}", abi::ECALLI_PREFIX), self.i64.fn_type(&params, false));
                    let args: Vec<BasicMetadataValueEnum<'c>> = (0..signature.params.len() as u32)
                        .map(|i| {
                            let p = f.get_nth_param(i).expect("declared").into_int_value();
                            builder.build_int_s_extend_or_bit_cast(p, self.i64, "").map(Into::into)
                        })
                        .collect::<std::result::Result<_, _>>()
                        .map_err(llvm)?;
                    let r7 = builder.build_call(pseudo, &args, "").map_err(llvm)?;
                    let r7 = r7.try_as_basic_value().basic().expect("returns i64").into_int_value();
                    self.return_value(&builder, &signature, Some(r7))?;
                }
            }
        }
        Ok(())
    }

    /// Returns `value` (converted to the first result type) and zeros for the others.
    fn return_value(&self, builder: &Builder<'c>, signature: &Signature, value: Option<IntValue<'c>>) -> Result<()> {
        for (i, &ty) in signature.results.iter().enumerate().skip(1) {
            builder.build_store(self.extra_result(i, ty), self.int_type(ty).const_zero()).map_err(llvm)?;
        }
        match (signature.results.first(), value) {
            (Some(&ty), Some(v)) => {
                let v = builder.build_int_truncate_or_bit_cast(v, self.int_type(ty), "").map_err(llvm)?;
                builder.build_return(Some(&v)).map_err(llvm)?;
            }
            (Some(&ty), None) => {
                builder.build_return(Some(&self.int_type(ty).const_zero())).map_err(llvm)?;
            }
            (None, _) => {
                builder.build_return(None).map_err(llvm)?;
            }
        }
        Ok(())
    }

    fn return_zeros(&self, builder: &Builder<'c>, signature: &Signature) -> Result<()> {
        self.return_value(builder, signature, None)
    }

    /// Declares (once) an external pseudo function for the back end to lower.
    pub fn pseudo(&self, name: &str, ty: FunctionType<'c>) -> FunctionValue<'c> {
        self.module.get_function(name).unwrap_or_else(|| self.module.add_function(name, ty, Some(Linkage::External)))
    }

    /// The `call_indirect` pseudo function for `signature`.
    pub fn call_indirect_pseudo(&self, signature: &Signature) -> FunctionValue<'c> {
        if let Some(&f) = self.call_indirect.borrow().get(signature) {
            return f;
        }
        let id = self.signature_id(signature);
        let ty = self.function_type(signature, &[self.i32.into()]);
        let f = self.pseudo(&format!("{}{id}", abi::CALL_INDIRECT_PREFIX), ty);
        self.call_indirect.borrow_mut().insert(signature.clone(), f);
        f
    }

    /// A small number identifying a signature structurally.
    pub fn signature_id(&self, signature: &Signature) -> usize {
        let mut ids = self.signature_ids.borrow_mut();
        let next = ids.len();
        *ids.entry(signature.clone()).or_insert(next)
    }

    /// The global that carries result `index` (>= 1) of type `ty`.
    pub fn extra_result(&self, index: usize, ty: ValType) -> PointerValue<'c> {
        let key = (index, if ty.bits() == 32 { ValType::I32 } else { ValType::I64 });
        if let Some(g) = self.extra_results.borrow().get(&key) {
            return g.as_pointer_value();
        }
        let int = self.int_type(ty);
        let g = self.module.add_global(int, None, &format!("{}{index}.{}", abi::EXTRA_RESULT_PREFIX, ty.bits()));
        g.set_initializer(&int.const_zero());
        g.set_linkage(Linkage::Internal);
        self.extra_results.borrow_mut().insert(key, g);
        g.as_pointer_value()
    }

    /// The memory base pointer.
    pub fn memory_base(&self) -> PointerValue<'c> {
        self.memory.as_pointer_value().const_cast(self.i8.ptr_type(Default::default()))
    }

    /// The global holding the memory size in pages.
    pub fn memory_pages(&self) -> PointerValue<'c> {
        self.memory_pages.as_pointer_value()
    }

    /// Reads global `index`.
    pub fn global_get(&self, builder: &Builder<'c>, index: u32) -> std::result::Result<IntValue<'c>, BuilderError> {
        match self.globals[index as usize] {
            GlobalSlot::Const(v) => Ok(v),
            GlobalSlot::Var(g) => Ok(builder.build_load(g.as_pointer_value(), "")?.into_int_value()),
        }
    }

    /// The storage of a mutable global.
    pub fn global_slot(&self, index: u32) -> Option<PointerValue<'c>> {
        match self.globals.get(index as usize)? {
            GlobalSlot::Var(g) => Some(g.as_pointer_value()),
            GlobalSlot::Const(_) => None,
        }
    }

    /// A data segment: its contents, length and "dropped" flag.
    pub fn passive_segment(&self, index: u32) -> Option<(PointerValue<'c>, u64, PointerValue<'c>)> {
        let s = self.segments.get(index as usize)?;
        let base = s.contents.as_pointer_value();
        let bytes = self.context.i8_type().ptr_type(Default::default());
        Some((base.const_cast(bytes), s.len, s.dropped.as_pointer_value()))
    }

    fn overloaded(&self, name: &str, bits: u32) -> FunctionValue<'c> {
        let ty = self.int_bits(bits);
        Intrinsic::find(name)
            .and_then(|i| i.get_declaration(&self.module, &[ty.into()]))
            .expect("bit-manipulation intrinsics exist in every supported LLVM")
    }

    /// `llvm.ctlz` for `bits`-bit integers.
    pub fn ctlz(&self, bits: u32) -> FunctionValue<'c> {
        self.overloaded("llvm.ctlz", bits)
    }

    /// `llvm.cttz`.
    pub fn cttz(&self, bits: u32) -> FunctionValue<'c> {
        self.overloaded("llvm.cttz", bits)
    }

    /// `llvm.ctpop`.
    pub fn ctpop(&self, bits: u32) -> FunctionValue<'c> {
        self.overloaded("llvm.ctpop", bits)
    }

    /// `llvm.fshl` (rotate left when both inputs are the same value).
    pub fn fshl(&self, bits: u32) -> FunctionValue<'c> {
        self.overloaded("llvm.fshl", bits)
    }

    /// `llvm.fshr`.
    pub fn fshr(&self, bits: u32) -> FunctionValue<'c> {
        self.overloaded("llvm.fshr", bits)
    }

    /// The program entry: instantiation checks, the start function, `main`, and the
    /// conversion of its result into PVM addresses.
    fn build_entry(&mut self, wasm: &Module<'_>) -> Result<()> {
        let ty = self.i64.fn_type(&[self.i64.into(), self.i64.into()], false);
        let entry = self.module.add_function(abi::ENTRY, ty, Some(Linkage::External));
        let builder = self.context.create_builder();
        builder.position_at_end(self.context.append_basic_block(entry, "entry"));
        if wasm.instantiation_trap.is_some() {
            builder.build_call(self.trap, &[], "").map_err(llvm)?;
            builder.build_unreachable().map_err(llvm)?;
            return Ok(());
        }
        if let Some(start) = wasm.start {
            builder.build_call(self.functions[start as usize], &[], "").map_err(llvm)?;
        }
        if self.options.entry == EntryKind::Harness {
            return self.build_harness_loop(wasm, entry, &builder);
        }
        let main = wasm
            .exported_function("main")
            .ok_or_else(|| CompileError::new("the module exports no function named main"))?;
        let signature = wasm.signature(main).clone();
        if signature.params != [ValType::I32, ValType::I32] {
            return Err(CompileError::new("main must take (args_ptr: i32, args_len: i32) and return i64 or nothing"));
        }
        let base = self.memory_base().const_to_int(self.i32);
        // The standard program initialisation always puts the arguments at ARGS_START.
        let args_address = self.i32.const_int(u64::from(pvm_isa::spi::ARGS_START), false);
        let args_len = entry.get_nth_param(1).expect("declared").into_int_value();
        let args_pointer = builder.build_int_sub(args_address, base, "args_ptr").map_err(llvm)?;
        let args_len = builder.build_int_truncate(args_len, self.i32, "args_len").map_err(llvm)?;
        let call = builder
            .build_call(self.functions[main as usize], &[args_pointer.into(), args_len.into()], "")
            .map_err(llvm)?;
        let (pointer, length) = match signature.results.as_slice() {
            [ValType::I64] => {
                let packed = call.try_as_basic_value().basic().expect("returns i64").into_int_value();
                let pointer = builder.build_int_truncate(packed, self.i32, "").map_err(llvm)?;
                let high = builder.build_right_shift(packed, self.i64.const_int(32, false), false, "").map_err(llvm)?;
                let length = builder.build_int_truncate(high, self.i32, "").map_err(llvm)?;
                (pointer, length)
            }
            [] => {
                let read = |name: &str| -> Result<IntValue<'c>> {
                    match wasm.exported_global(name) {
                        Some(g) if wasm.globals[g as usize].ty == ValType::I32 => {
                            self.global_get(&builder, g).map_err(llvm)
                        }
                        _ => Ok(self.i32.const_zero()),
                    }
                };
                (read("result_ptr")?, read("result_len")?)
            }
            _ => {
                return Err(CompileError::new(
                    "main must take (args_ptr: i32, args_len: i32) and return i64 or nothing",
                ));
            }
        };
        let start = builder.build_int_add(pointer, base, "").map_err(llvm)?;
        let end = builder.build_int_add(start, length, "").map_err(llvm)?;
        let start = builder.build_int_z_extend(start, self.i64, "").map_err(llvm)?;
        let end = builder.build_int_z_extend(end, self.i64, "").map_err(llvm)?;
        let end = builder.build_left_shift(end, self.i64.const_int(32, false), "").map_err(llvm)?;
        let packed = builder.build_or(start, end, "").map_err(llvm)?;
        builder.build_return(Some(&packed)).map_err(llvm)?;
        Ok(())
    }

    /// The harness loop: ask the host for a call, make it, store the results, repeat.
    fn build_harness_loop(&self, wasm: &Module<'_>, entry: FunctionValue<'c>, builder: &Builder<'c>) -> Result<()> {
        let slots = self.i64.array_type(abi::HARNESS_SLOTS);
        let mailbox = self.module.add_global(slots, None, abi::HARNESS_MAILBOX);
        mailbox.set_initializer(&slots.const_zero());
        mailbox.set_linkage(Linkage::External);
        let slot = |i: u32| -> PointerValue<'c> {
            let base = mailbox.as_pointer_value().const_cast(self.i64.ptr_type(Default::default()));
            crate::ffi::constant_element(base, self.i32.const_int(u64::from(i), false))
        };
        let ask = self.pseudo(&format!("{}{}", abi::ECALLI_PREFIX, abi::HARNESS_ECALLI), self.i64.fn_type(&[], false));
        let head = self.context.append_basic_block(entry, "loop");
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
            let block = self.context.append_basic_block(entry, "call");
            builder.position_at_end(block);
            let mut args: Vec<BasicMetadataValueEnum<'c>> = Vec::new();
            for (i, &ty) in signature.params.iter().enumerate() {
                let raw = builder.build_load(slot(i as u32 + 1), "").map_err(llvm)?.into_int_value();
                args.push(builder.build_int_truncate_or_bit_cast(raw, self.int_type(ty), "").map_err(llvm)?.into());
            }
            let call = builder.build_call(self.functions[function as usize], &args, "").map_err(llvm)?;
            for (i, &ty) in signature.results.iter().enumerate() {
                let value = match i {
                    0 => call.try_as_basic_value().basic().expect("has a result").into_int_value(),
                    _ => builder.build_load(self.extra_result(i, ty), "").map_err(llvm)?.into_int_value(),
                };
                let wide = builder.build_int_z_extend_or_bit_cast(value, self.i64, "").map_err(llvm)?;
                builder.build_store(slot(i as u32 + 1), wide).map_err(llvm)?;
            }
            builder.build_unconditional_branch(head).map_err(llvm)?;
            cases.push((self.i64.const_int(k as u64, false), block));
        }
        builder.position_at_end(head);
        builder.build_switch(command, head, &cases).map_err(llvm)?;
        Ok(())
    }
}
