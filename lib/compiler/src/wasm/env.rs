//! The module environment: every LLVM declaration the translation of a WebAssembly module
//! needs — functions, globals, data segments, the table, the pseudo functions of
//! [`crate::abi`] and the intrinsics — made once, up front, before any body is translated.
//! The environment is immutable afterwards; [`crate::wasm::translate`] and
//! [`crate::wasm::ir`] only read it.

use crate::abi::{self, Pseudo};
use crate::error::{CompileError, Result};
use crate::options::{EntryKind, Options};
use crate::wasm::module::{DataPlacement, ExportKind, Module, Signature, ValType};
use crate::wasm::partition::{Holding, Partition};
use crate::wasm::softfloat;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::{Builder, BuilderError};
use inkwell::context::Context;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum, FunctionType, IntType};
use inkwell::values::{FunctionValue, GlobalValue, IntValue, PointerValue};
use std::collections::{BTreeSet, HashMap, HashSet};

/// The LLVM name of WebAssembly function `index` (also its label in the assembly).
pub fn function_name(index: u32) -> String {
    format!("wasm.func.{index}")
}

/// The LLVM name of mutable WebAssembly global `index`.
pub fn global_name(index: u32) -> String {
    format!("wasm.global.{index}")
}

/// Where a WebAssembly global lives.
#[derive(Debug, Clone, Copy)]
enum GlobalSlot<'c> {
    /// An immutable global: its value.
    Const(IntValue<'c>),
    /// A mutable global: its LLVM global variable.
    Var(GlobalValue<'c>),
    /// A mutable global no function writes while the program runs
    /// ([`Module::written_globals`]): its variable, and its value, which every read is.
    Fixed(GlobalValue<'c>, IntValue<'c>),
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

/// The float routines a program uses ([`crate::wasm::softfloat`]), declared as internal
/// functions of its LLVM module.
pub struct FloatRoutines<'c> {
    /// The routines as the front end reads them.
    pub module: Module<'static>,
    /// The LLVM function of each routine the program needs (directly or through
    /// another routine), by function index of [`FloatRoutines::module`]; for an import,
    /// the pseudo function it names.
    pub functions: Vec<Option<FunctionValue<'c>>>,
    /// The routine of each float operator the program uses, by text-format name.
    by_operator: HashMap<String, FunctionValue<'c>>,
}

/// Everything declared in the LLVM module for one WebAssembly module.
pub struct ModuleEnv<'c> {
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
    /// One LLVM function per WebAssembly function (imports get small bodies in
    /// [`crate::wasm::ir`]).
    pub functions: Vec<FunctionValue<'c>>,
    /// `llvm.trap`.
    pub trap: FunctionValue<'c>,
    /// `llvm.expect.i1`.
    pub expect_i1: FunctionValue<'c>,
    /// The `memory.grow` runtime routine.
    pub memory_grow: FunctionValue<'c>,
    /// The address check of every memory access ([`Pseudo::AddressCheck`]).
    pub address_check: FunctionValue<'c>,
    /// The table, when functions change it.
    pub mutable_table: Option<MutableTable<'c>>,
    globals: Vec<GlobalSlot<'c>>,
    memory: GlobalValue<'c>,
    memory_pages: GlobalValue<'c>,
    segments: Vec<SegmentSlot<'c>>,
    signature_ids: HashMap<Signature, usize>,
    call_indirect: HashMap<Signature, FunctionValue<'c>>,
    extra_results: HashMap<(usize, u32), GlobalValue<'c>>,
    /// The float routines, when the program has float arithmetic (and floats do not
    /// trap).
    pub float_routines: Option<FloatRoutines<'c>>,
    /// The part of a split module this LLVM module holds ([`crate::wasm::partition`]).
    pub part: Option<Part<'c>>,
}

/// One part of a split module.
#[derive(Debug, Clone, Copy)]
pub struct Part<'p> {
    /// The split.
    pub partition: &'p Partition,
    /// Which part.
    pub index: usize,
}

impl Part<'_> {
    /// What this part holds of function `index`.
    pub fn holding(&self, function: u32) -> Holding {
        self.partition.holding(self.index, function)
    }
}

impl<'c> ModuleEnv<'c> {
    /// Declares everything `wasm` needs in a new LLVM module; with `part`, for that part
    /// of a split module: its functions, copies and declarations of the others, and every
    /// global with external linkage, shared with the other parts.
    pub fn declare(context: &'c Context, wasm: &Module<'_>, options: &Options, part: Option<Part<'c>>) -> Result<Self> {
        let module = context.create_module("wasm");
        let (bool, i8, i32, i64) = (context.bool_type(), context.i8_type(), context.i32_type(), context.i64_type());
        let intrinsic = |name: &str, types: &[BasicTypeEnum<'c>]| {
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
        let memory_grow = module.add_function(
            &Pseudo::MemoryGrow.symbol(),
            i32.fn_type(&[i32.into()], false),
            Some(Linkage::External),
        );
        // No memory access and no unwinding, but it may not return (it traps): LLVM
        // merges the checks of one address and keeps every one it cannot merge.
        let address_check = module.add_function(
            &Pseudo::AddressCheck.symbol(),
            i32.fn_type(&[bool.into(), i32.into(), i32.into()], false),
            Some(Linkage::External),
        );
        for name in ["readnone", "nounwind"] {
            let attribute = context.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0);
            address_check.add_attribute(AttributeLoc::Function, attribute);
        }

        let mut env = ModuleEnv {
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
            address_check,
            mutable_table: None,
            globals: Vec::new(),
            memory,
            memory_pages,
            segments: Vec::new(),
            signature_ids: HashMap::new(),
            call_indirect: HashMap::new(),
            extra_results: HashMap::new(),
            float_routines: None,
            part,
        };
        env.declare_globals(wasm);
        env.declare_segments(wasm);
        env.declare_mutable_table(wasm);
        env.declare_functions(wasm);
        env.declare_signatures(wasm);
        env.declare_extra_results(wasm);
        env.declare_float_routines(wasm)?;
        Ok(env)
    }

    /// The linkage of a variable that only this module's code uses, unless the module is
    /// a part of a split one, where every part uses it.
    fn internal(&self) -> Linkage {
        if self.part.is_some() { Linkage::External } else { Linkage::Internal }
    }

    /// The linkage of constant data, as [`ModuleEnv::internal`].
    fn private(&self) -> Linkage {
        if self.part.is_some() { Linkage::External } else { Linkage::Private }
    }

    /// Whether this LLVM module has code or a copy of function `index`: a defined
    /// function the program cannot run has neither (imports always get their small body).
    pub fn has_body(&self, wasm: &Module<'_>, index: u32) -> bool {
        !Self::dead(wasm, index) && self.part.is_none_or(|p| p.holding(index) != Holding::Declared)
    }

    /// Whether `index` is a defined function the program cannot run.
    fn dead(wasm: &Module<'_>, index: u32) -> bool {
        index as usize >= wasm.imported_functions && !wasm.is_live(index)
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

    /// The LLVM type of a function with `signature`, after `leading` extra parameters.
    pub fn function_type(&self, signature: &Signature, leading: &[BasicMetadataTypeEnum<'c>]) -> FunctionType<'c> {
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
                g.set_linkage(if harness && exported { Linkage::External } else { self.internal() });
                if wasm.written_globals.contains(&(index as u32)) {
                    GlobalSlot::Var(g)
                } else {
                    GlobalSlot::Fixed(g, value)
                }
            } else {
                GlobalSlot::Const(value)
            };
            self.globals.push(slot);
        }
    }

    fn declare_segments(&mut self, wasm: &Module<'_>) {
        for (index, segment) in wasm.data.iter().enumerate() {
            let passive = matches!(segment.placement, DataPlacement::Passive);
            let bytes: &[u8] = if passive { &segment.bytes } else { &[] };
            let contents = self.context.const_string(bytes, false);
            let g = self.module.add_global(contents.get_type(), None, &format!("{}{index}", abi::SEGMENT_PREFIX));
            g.set_initializer(&contents);
            g.set_constant(true);
            g.set_linkage(self.private());
            let dropped = self.module.add_global(self.i8, None, &format!("{}{index}", abi::DROPPED_PREFIX));
            // Active segments count as dropped once instantiation has copied them.
            dropped.set_initializer(&self.i8.const_int(u64::from(!passive), false));
            dropped.set_linkage(self.internal());
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
        entries.set_linkage(self.internal());
        let mut segments = Vec::new();
        for (index, (items, passive)) in table.segments.iter().enumerate() {
            let contents = array(items);
            let g = self.module.add_global(contents.get_type(), None, &format!("{}{index}", abi::ELEM_PREFIX));
            g.set_initializer(&contents);
            g.set_constant(true);
            g.set_linkage(self.private());
            let len = self.module.add_global(self.i32, None, &format!("{}{index}.len", abi::ELEM_PREFIX));
            // Active and declared segments count as dropped once the module is instantiated.
            len.set_initializer(&self.i32.const_int(if *passive { items.len() as u64 } else { 0 }, false));
            len.set_linkage(self.internal());
            segments.push((g, len));
        }
        self.mutable_table = Some(MutableTable { entries, size: table.entries.len() as u64, segments });
    }

    fn declare_functions(&mut self, wasm: &Module<'_>) {
        let table_functions: HashSet<u32> = wasm.table_functions().into_iter().collect();
        for (index, function) in wasm.functions.iter().enumerate() {
            let signature = &wasm.types[function.type_index as usize];
            let ty = self.function_type(signature, &[]);
            // Functions reachable through the table (or from another part) keep their
            // signature (external linkage), all others are internal so LLVM may inline,
            // specialise or delete them.
            let linkage = match self.part.map(|p| p.holding(index as u32)) {
                _ if Self::dead(wasm, index as u32) => Linkage::External,
                None if table_functions.contains(&(index as u32)) => Linkage::External,
                None | Some(Holding::Defined { shared: false }) => Linkage::Internal,
                Some(Holding::Defined { shared: true } | Holding::Declared) => Linkage::External,
                Some(Holding::Copy) => Linkage::AvailableExternally,
            };
            let f = self.module.add_function(&function_name(index as u32), ty, Some(linkage));
            // Turning self tail calls into loops would turn runaway recursion, which must
            // exhaust the stack and trap, into an endless loop.
            f.add_attribute(AttributeLoc::Function, self.context.create_string_attribute("disable-tail-calls", "true"));
            self.functions.push(f);
        }
    }

    /// Numbers the signatures `call_indirect` uses (in order of first use), then those of
    /// the functions in the table, and declares a `call_indirect` pseudo function for each.
    fn declare_signatures(&mut self, wasm: &Module<'_>) {
        let table_functions = wasm.table_functions();
        let signatures = wasm
            .indirect_types
            .iter()
            .map(|&t| &wasm.types[t as usize])
            .chain(table_functions.iter().map(|&f| wasm.signature(f)));
        for signature in signatures {
            if self.signature_ids.contains_key(signature) {
                continue;
            }
            let id = self.signature_ids.len();
            self.signature_ids.insert(signature.clone(), id);
            let ty = self.function_type(signature, &[self.i32.into()]);
            let f = self.module.add_function(&Pseudo::CallIndirect(id).symbol(), ty, Some(Linkage::External));
            self.call_indirect.insert(signature.clone(), f);
        }
    }

    /// Declares the globals that carry results beyond the first, one per position and
    /// width any signature needs.
    fn declare_extra_results(&mut self, wasm: &Module<'_>) {
        let needed: BTreeSet<(usize, u32)> = wasm
            .types
            .iter()
            .flat_map(|s| s.results.iter().enumerate().skip(1).map(|(i, ty)| (i, ty.bits())))
            .collect();
        for (index, bits) in needed {
            let int = self.int_bits(bits);
            let g = self.module.add_global(int, None, &format!("{}{index}.{bits}", abi::EXTRA_RESULT_PREFIX));
            g.set_initializer(&int.const_zero());
            g.set_linkage(self.internal());
            self.extra_results.insert((index, bits), g);
        }
    }

    /// Declares the routines of the float operators `wasm` uses and of every routine
    /// they call.
    fn declare_float_routines(&mut self, wasm: &Module<'_>) -> Result<()> {
        if wasm.float_operators.is_empty() || self.options.trap_floats {
            return Ok(());
        }
        let module = softfloat::module()?;
        let mut needed: Vec<u32> = Vec::new();
        for name in &wasm.float_operators {
            let index = module
                .exported_function(name)
                .ok_or_else(|| CompileError::new(format!("internal error: no float routine for {name}")))?;
            needed.push(index);
        }
        let mut functions = vec![None; module.functions.len()];
        while let Some(index) = needed.pop() {
            if functions[index as usize].is_some() {
                continue;
            }
            let function = &module.functions[index as usize];
            let ty = self.function_type(module.signature(index), &[]);
            let Some(body) = function.body.as_ref() else {
                functions[index as usize] = Some(self.routine_import(function, ty)?);
                continue;
            };
            // Each part of a split module has its own copy of the routines it uses.
            let name = match self.part {
                Some(Part { index: part @ 1.., .. }) => format!("softfloat.{part}.{}", function.name),
                _ => format!("softfloat.{}", function.name),
            };
            let f = self.module.add_function(&name, ty, Some(Linkage::Internal));
            if softfloat::is_out_of_line(&function.name) {
                for kind in ["noinline", "cold"] {
                    let kind = Attribute::get_named_enum_kind_id(kind);
                    f.add_attribute(AttributeLoc::Function, self.context.create_enum_attribute(kind, 0));
                }
            }
            functions[index as usize] = Some(f);
            let mut reader = body.get_operators_reader()?;
            while !reader.eof() {
                if let wasmparser::Operator::Call { function_index } = reader.read()? {
                    needed.push(function_index);
                }
            }
        }
        let by_operator = wasm
            .float_operators
            .iter()
            .filter_map(|name| Some((name.clone(), functions[module.exported_function(name)? as usize]?)))
            .collect();
        self.float_routines = Some(FloatRoutines { module, functions, by_operator });
        Ok(())
    }

    /// What an import of the float routines names: a pure pseudo function, its module and
    /// field joined by a dot (`__pvm.mul_upper_u_u` is [`Pseudo::MulUpperUU`]), declared
    /// without side effects.
    fn routine_import(
        &self,
        function: &crate::wasm::module::Function<'_>,
        ty: FunctionType<'c>,
    ) -> Result<FunctionValue<'c>> {
        let (module, field) = function.import.as_ref().expect("a function without a body is an import");
        let symbol = format!("{module}.{field}");
        if Pseudo::parse(&symbol) != Some(Pseudo::MulUpperUU) {
            return Err(CompileError::new(format!("internal error: the float routines import {symbol}")));
        }
        let f = self.pseudo(Pseudo::MulUpperUU, ty);
        for name in ["readnone", "nounwind", "willreturn"] {
            f.add_attribute(
                AttributeLoc::Function,
                self.context.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0),
            );
        }
        Ok(f)
    }

    /// The routine of the float operator named `name` (`f32.add`, ...).
    pub fn float_routine(&self, name: &str) -> Option<FunctionValue<'c>> {
        self.float_routines.as_ref()?.by_operator.get(name).copied()
    }

    /// The pseudo function `pseudo` with type `ty`, declared on first use (LLVM's symbol
    /// table is the only record of it).
    pub fn pseudo(&self, pseudo: Pseudo, ty: FunctionType<'c>) -> FunctionValue<'c> {
        let symbol = pseudo.symbol();
        self.module
            .get_function(&symbol)
            .unwrap_or_else(|| self.module.add_function(&symbol, ty, Some(Linkage::External)))
    }

    /// The `call_indirect` pseudo function for `signature`.
    pub fn call_indirect_pseudo(&self, signature: &Signature) -> FunctionValue<'c> {
        self.call_indirect[signature]
    }

    /// The number identifying a signature structurally.
    pub fn signature_id(&self, signature: &Signature) -> usize {
        self.signature_ids[signature]
    }

    /// The global that carries result `index` (>= 1) of type `ty`.
    pub fn extra_result(&self, index: usize, ty: ValType) -> PointerValue<'c> {
        self.extra_results[&(index, ty.bits())].as_pointer_value()
    }

    /// The memory base pointer.
    pub fn memory_base(&self) -> PointerValue<'c> {
        self.memory.as_pointer_value().const_cast(self.i8.ptr_type(Default::default()))
    }

    /// `args_ptr`, the WebAssembly address of the arguments: the standard program
    /// initialisation puts them at `ARGS_START`, above linear memory.
    pub fn args_pointer(&self, builder: &Builder<'c>) -> std::result::Result<IntValue<'c>, BuilderError> {
        let args_address = self.i32.const_int(u64::from(pvm_isa::spi::ARGS_START), false);
        builder.build_int_sub(args_address, self.memory_base().const_to_int(self.i32), "args_ptr")
    }

    /// The argument zone as 64-bit WebAssembly addresses `[start, end)`: the PVM
    /// addresses from `ARGS_START` (so `start` is `args_ptr`) up to 2^32, where a load
    /// from an argument address may read (docs/memory.md).
    pub fn argument_zone(&self) -> (IntValue<'c>, IntValue<'c>) {
        let base = self.memory_base().const_to_int(self.i64);
        let start = self.i64.const_int(u64::from(pvm_isa::spi::ARGS_START), false).const_sub(base);
        let end = self.i64.const_int(1 << 32, false).const_sub(base);
        (start, end)
    }

    /// The global holding the memory size in pages.
    pub fn memory_pages(&self) -> PointerValue<'c> {
        self.memory_pages.as_pointer_value()
    }

    /// Reads global `index`.
    pub fn global_get(&self, builder: &Builder<'c>, index: u32) -> std::result::Result<IntValue<'c>, BuilderError> {
        match self.globals[index as usize] {
            GlobalSlot::Const(v) | GlobalSlot::Fixed(_, v) => Ok(v),
            GlobalSlot::Var(g) => Ok(builder.build_load(g.as_pointer_value(), "")?.into_int_value()),
        }
    }

    /// The storage of a mutable global.
    pub fn global_slot(&self, index: u32) -> Option<PointerValue<'c>> {
        match self.globals.get(index as usize)? {
            GlobalSlot::Var(g) | GlobalSlot::Fixed(g, _) => Some(g.as_pointer_value()),
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

    /// The overloaded intrinsic `name` for `bits`-bit integers (LLVM declares it once).
    pub fn int_intrinsic(&self, name: &str, bits: u32) -> FunctionValue<'c> {
        let ty = self.int_bits(bits);
        Intrinsic::find(name)
            .and_then(|i| i.get_declaration(&self.module, &[ty.into()]))
            .expect("bit-manipulation intrinsics exist in every supported LLVM")
    }
}
