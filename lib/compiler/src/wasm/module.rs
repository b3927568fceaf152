//! The WebAssembly front end's view of a module: validation against the supported
//! feature set, and the module's declarations (types, functions, globals, memory, table
//! and its static contents, data segments, exports, start function, names).

use crate::error::{CompileError, Result};
use crate::wasm::translate::{float_operator_shape, operator_name};
use std::collections::{BTreeSet, HashMap};
use wasmparser::{
    CompositeInnerType, ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, FunctionBody, Name, Operator,
    Parser, Payload, TypeRef, Validator, WasmFeatures,
};

/// The WebAssembly features the compiler accepts.
pub fn supported_features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::FLOATS
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::GC_TYPES
}

/// A value type of the supported subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32` (carried as its bit pattern in an i32).
    F32,
    /// `f64` (carried as its bit pattern in an i64).
    F64,
}

impl ValType {
    fn from_wasm(ty: wasmparser::ValType) -> Result<Self> {
        Ok(match ty {
            wasmparser::ValType::I32 => ValType::I32,
            wasmparser::ValType::I64 => ValType::I64,
            wasmparser::ValType::F32 => ValType::F32,
            wasmparser::ValType::F64 => ValType::F64,
            other => return Err(CompileError::new(format!("unsupported value type {other}"))),
        })
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, ValType::F32 | ValType::F64)
    }

    /// Bits of the integer that carries this type (floats travel as their bit patterns).
    pub fn bits(self) -> u32 {
        match self {
            ValType::I32 | ValType::F32 => 32,
            ValType::I64 | ValType::F64 => 64,
        }
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    /// Parameter types.
    pub params: Vec<ValType>,
    /// Result types.
    pub results: Vec<ValType>,
}

impl Signature {
    /// Whether a float appears in the signature.
    pub fn has_float(&self) -> bool {
        self.params.iter().chain(&self.results).any(|t| t.is_float())
    }
}

/// A function: imported or defined.
#[derive(Debug, Clone)]
pub struct Function<'a> {
    /// Index into [`Module::types`].
    pub type_index: u32,
    /// Readable name: from the name section, else an export name, else `func[N]`.
    pub name: String,
    /// `(module, field)` for an import.
    pub import: Option<(String, String)>,
    /// The body of a defined function.
    pub body: Option<FunctionBody<'a>>,
}

/// The initial value of a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalInit {
    /// A constant (the bit pattern of the value).
    Const(u64),
    /// The value of global N (an imported global).
    Global(u32),
}

/// A global variable.
#[derive(Debug, Clone)]
pub struct Global {
    /// Its type.
    pub ty: ValType,
    /// Whether it is mutable.
    pub mutable: bool,
    /// Its initial value.
    pub init: GlobalInit,
    /// `(module, field)` for an import.
    pub import: Option<(String, String)>,
}

/// The linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Initial size in 64 KiB pages.
    pub initial: u64,
    /// Maximum size in pages, if declared.
    pub maximum: Option<u64>,
}

/// The function table, with its contents after the active element segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// One entry per slot: the function index, or `None` for a null entry.
    pub entries: Vec<Option<u32>>,
    /// Whether a function changes the table (`table.copy`, `table.init`): then the
    /// entries live in memory and `call_indirect` reads them there.
    pub mutable: bool,
    /// Every element segment in order: its items, and whether it is passive (active
    /// and declared segments count as dropped once the module is instantiated).
    pub segments: Vec<(Vec<Option<u32>>, bool)>,
}

impl Table {
    /// The functions a mutable table can hold, in a fixed order (slot `k + 1` is
    /// function `addressable()[k]`; slot 0 is the null entry).
    pub fn addressable(&self) -> Vec<u32> {
        let mut out: Vec<u32> =
            self.entries.iter().chain(self.segments.iter().flat_map(|(items, _)| items)).flatten().copied().collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Where a data segment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataPlacement {
    /// Active: copied to this offset at instantiation.
    Active(u64),
    /// Passive: used by `memory.init`.
    Passive,
}

/// A data segment.
#[derive(Debug, Clone)]
pub struct DataSegment<'a> {
    /// Placement.
    pub placement: DataPlacement,
    /// The bytes.
    pub bytes: std::borrow::Cow<'a, [u8]>,
}

/// An export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// What is exported.
    pub kind: ExportKind,
}

/// What an export refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Function N.
    Func(u32),
    /// Global N.
    Global(u32),
    /// The memory, the table or anything else.
    Other,
}

/// A validated module.
#[derive(Debug, Clone)]
pub struct Module<'a> {
    /// Function signatures by type index (non-function types hold an empty signature).
    pub types: Vec<Signature>,
    /// All functions, imports first.
    pub functions: Vec<Function<'a>>,
    /// Number of imported functions.
    pub imported_functions: usize,
    /// All globals, imports first.
    pub globals: Vec<Global>,
    /// The memory, if any (imported or defined).
    pub memory: Option<Memory>,
    /// The table, if any.
    pub table: Option<Table>,
    /// Data segments in order.
    pub data: Vec<DataSegment<'a>>,
    /// Exports.
    pub exports: Vec<Export>,
    /// The start function.
    pub start: Option<u32>,
    /// The mutable globals a start function evaluated at compile time changed and other
    /// functions write, with the values it left in them, which each entry stores
    /// ([`crate::wasm::start_eval`]).
    pub evaluated_globals: Vec<(u32, u64)>,
    /// Per function, whether the program can run it ([`Module::find_live`]); the others
    /// are not compiled.
    pub live: Vec<bool>,
    /// The globals a function the program can run writes; the others keep their initial
    /// value, and every read of them is that constant.
    pub written_globals: BTreeSet<u32>,
    /// Why instantiation traps, if it does (an element or data segment out of bounds).
    pub instantiation_trap: Option<String>,
    /// The type indices `call_indirect` uses, in order of first appearance.
    pub indirect_types: Vec<u32>,
    /// The float operators the bodies use that are not bit moves (by text-format name),
    /// each a routine of [`crate::wasm::softfloat`].
    pub float_operators: BTreeSet<String>,
}

/// What the function bodies use that must be declared before any is translated.
struct BodyUses {
    /// Whether a body changes the table (`table.copy`, `table.init`).
    mutates_table: bool,
    /// The type indices of `call_indirect`, in order of first appearance.
    indirect_types: Vec<u32>,
    /// Float operators that are routines.
    float_operators: BTreeSet<String>,
    /// The globals a body writes.
    written_globals: BTreeSet<u32>,
}

impl BodyUses {
    fn scan(bodies: &[FunctionBody<'_>]) -> Result<Self> {
        let mut uses = BodyUses {
            mutates_table: false,
            indirect_types: Vec::new(),
            float_operators: BTreeSet::new(),
            written_globals: BTreeSet::new(),
        };
        for body in bodies {
            let mut reader = body.get_operators_reader()?;
            while !reader.eof() {
                match reader.read()? {
                    op if float_operator_shape(&op).is_some() => {
                        uses.float_operators.insert(operator_name(&op));
                    }
                    Operator::TableCopy { .. } | Operator::TableInit { .. } => uses.mutates_table = true,
                    Operator::GlobalSet { global_index } => {
                        uses.written_globals.insert(global_index);
                    }
                    Operator::CallIndirect { type_index, .. } if !uses.indirect_types.contains(&type_index) => {
                        uses.indirect_types.push(type_index);
                    }
                    _ => {}
                }
            }
        }
        Ok(uses)
    }
}

impl<'a> Module<'a> {
    /// Validates and reads a module. `options` supplies what imports provide: values of
    /// imported globals, and the actual sizes of an imported memory or table.
    pub fn parse(bytes: &'a [u8], options: &crate::options::Options) -> Result<Self> {
        let imported_globals = &options.imported_globals;
        validate(bytes)?;
        let mut types = Vec::new();
        let mut functions: Vec<Function<'a>> = Vec::new();
        let mut globals = Vec::new();
        let mut memory = None;
        let mut table_size: Option<u64> = None;
        let mut element_segments = Vec::new();
        let mut all_segments = Vec::new();
        let mut data = Vec::new();
        let mut exports = Vec::new();
        let mut start = None;
        let mut names: HashMap<u32, String> = HashMap::new();
        let mut imported_functions = 0;
        let mut bodies = Vec::new();

        for payload in Parser::new(0).parse_all(bytes) {
            match payload? {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        for sub in group?.into_types() {
                            types.push(match &sub.composite_type.inner {
                                CompositeInnerType::Func(f) => Signature {
                                    params: f.params().iter().map(|&t| ValType::from_wasm(t)).collect::<Result<_>>()?,
                                    results: f
                                        .results()
                                        .iter()
                                        .map(|&t| ValType::from_wasm(t))
                                        .collect::<Result<_>>()?,
                                },
                                _ => Signature { params: vec![], results: vec![] },
                            });
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import?;
                        let key = Some((import.module.to_string(), import.name.to_string()));
                        match import.ty {
                            TypeRef::Func(type_index) | TypeRef::FuncExact(type_index) => {
                                imported_functions += 1;
                                functions.push(Function {
                                    type_index,
                                    name: format!("{}.{}", import.module, import.name),
                                    import: key,
                                    body: None,
                                });
                            }
                            TypeRef::Global(g) => {
                                let full = format!("{}.{}", import.module, import.name);
                                let value = imported_globals.get(&full).copied().ok_or_else(|| {
                                    CompileError::new(format!(
                                        "imported global {full} has no value (PVM programs cannot import globals)"
                                    ))
                                })?;
                                globals.push(Global {
                                    ty: ValType::from_wasm(g.content_type)?,
                                    mutable: g.mutable,
                                    init: GlobalInit::Const(value),
                                    import: key,
                                });
                            }
                            TypeRef::Memory(m) => {
                                let (initial, maximum) = options.imported_memory.unwrap_or((m.initial, m.maximum));
                                memory = Some(Memory { initial, maximum });
                            }
                            TypeRef::Table(t) => table_size = Some(options.imported_table_size.unwrap_or(t.initial)),
                            TypeRef::Tag(_) => return Err(CompileError::new("tags are not supported")),
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    for type_index in reader {
                        let index = functions.len();
                        functions.push(Function {
                            type_index: type_index?,
                            name: format!("func[{index}]"),
                            import: None,
                            body: None,
                        });
                    }
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        table_size = Some(table?.ty.initial);
                    }
                }
                Payload::MemorySection(reader) => {
                    for m in reader {
                        let m = m?;
                        memory = Some(Memory { initial: m.initial, maximum: m.maximum });
                    }
                }
                Payload::GlobalSection(reader) => {
                    for global in reader {
                        let global = global?;
                        let ty = ValType::from_wasm(global.ty.content_type)?;
                        let init = const_expr(&global.init_expr, &globals)?;
                        globals.push(Global { ty, mutable: global.ty.mutable, init, import: None });
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export?;
                        let kind = match export.kind {
                            ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func(export.index),
                            ExternalKind::Global => ExportKind::Global(export.index),
                            _ => ExportKind::Other,
                        };
                        exports.push(Export { name: export.name.to_string(), kind });
                    }
                }
                Payload::StartSection { func, .. } => start = Some(func),
                Payload::ElementSection(reader) => {
                    for element in reader {
                        let element = element?;
                        let passive = matches!(element.kind, ElementKind::Passive);
                        let offset = match element.kind {
                            ElementKind::Active { offset_expr, .. } => Some(const_expr(&offset_expr, &globals)?),
                            ElementKind::Passive | ElementKind::Declared => None,
                        };
                        let items = match element.items {
                            ElementItems::Functions(reader) => {
                                reader.into_iter().map(|f| f.map(Some)).collect::<std::result::Result<Vec<_>, _>>()?
                            }
                            ElementItems::Expressions(_, reader) => {
                                let mut items = Vec::new();
                                for expr in reader {
                                    items.push(ref_expr(&expr?)?);
                                }
                                items
                            }
                        };
                        all_segments.push((items.clone(), passive));
                        if let Some(offset) = offset {
                            element_segments.push((offset, items));
                        }
                    }
                }
                Payload::DataSection(reader) => {
                    for segment in reader {
                        let segment = segment?;
                        let placement = match segment.kind {
                            DataKind::Passive => DataPlacement::Passive,
                            DataKind::Active { offset_expr, .. } => {
                                DataPlacement::Active(resolve(const_expr(&offset_expr, &globals)?, &globals, 32))
                            }
                        };
                        data.push(DataSegment { placement, bytes: segment.data.into() });
                    }
                }
                Payload::CodeSectionEntry(body) => bodies.push(body),
                Payload::CustomSection(section) => {
                    if let wasmparser::KnownCustom::Name(reader) = section.as_known() {
                        // A malformed name section is ignored, as engines do.
                        for name in reader.into_iter().flatten() {
                            if let Name::Function(map) = name {
                                for naming in map.into_iter().flatten() {
                                    names.insert(naming.index, naming.name.to_string());
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }

        let uses = BodyUses::scan(&bodies)?;
        for (slot, body) in functions[imported_functions..].iter_mut().zip(bodies) {
            slot.body = Some(body);
        }
        for export in &exports {
            if let ExportKind::Func(index) = export.kind
                && let Some(f) = functions.get_mut(index as usize)
                && f.import.is_none()
                && f.name.starts_with("func[")
            {
                f.name = export.name.clone();
            }
        }
        for (index, name) in names {
            if let Some(f) = functions.get_mut(index as usize) {
                f.name = name;
            }
        }

        let mut instantiation_trap = None;
        let table = table_size.map(|size| {
            let mut entries = vec![None; usize::try_from(size).unwrap_or(usize::MAX).min(1 << 24)];
            for (offset, items) in &element_segments {
                let start = resolve(*offset, &globals, 32);
                let end = start + items.len() as u64;
                if end > entries.len() as u64 {
                    instantiation_trap
                        .get_or_insert_with(|| "an element segment is out of the table's bounds".to_string());
                    break;
                }
                entries[start as usize..end as usize].copy_from_slice(items);
            }
            Table { entries, mutable: false, segments: all_segments }
        });
        let table = table.map(|t| Table { mutable: uses.mutates_table, ..t });
        if table.is_none() && !element_segments.is_empty() {
            return Err(CompileError::new("element segments without a table"));
        }
        if instantiation_trap.is_none() {
            let memory_bytes = memory.map_or(0, |m| m.initial * 65536);
            for segment in &data {
                if let DataPlacement::Active(offset) = segment.placement
                    && offset + segment.bytes.len() as u64 > memory_bytes
                {
                    instantiation_trap = Some("a data segment is out of the memory's bounds".to_string());
                    break;
                }
            }
        }

        Ok(Module {
            types,
            functions,
            imported_functions,
            globals,
            memory,
            table,
            data,
            exports,
            start,
            evaluated_globals: Vec::new(),
            instantiation_trap,
            indirect_types: uses.indirect_types,
            float_operators: uses.float_operators,
            written_globals: uses.written_globals,
            live: Vec::new(),
        })
    }

    /// The signature of function `index`.
    pub fn signature(&self, index: u32) -> &Signature {
        &self.types[self.functions[index as usize].type_index as usize]
    }

    /// The function exported under `name`.
    pub fn exported_function(&self, name: &str) -> Option<u32> {
        self.exports.iter().find_map(|e| match e.kind {
            ExportKind::Func(i) if e.name == name => Some(i),
            _ => None,
        })
    }

    /// The global exported under `name`.
    pub fn exported_global(&self, name: &str) -> Option<u32> {
        self.exports.iter().find_map(|e| match e.kind {
            ExportKind::Global(i) if e.name == name => Some(i),
            _ => None,
        })
    }

    /// Finds the functions the program can run, from its entries (the start function and
    /// the entry exports, every export for a test harness) and its table through calls and
    /// function references, and the globals they write. Run after the start function's
    /// evaluation, which makes that function dead unless something else calls it.
    pub fn find_live(&mut self, options: &crate::options::Options) -> Result<()> {
        let mut work = self.entered_functions(options);
        work.extend(self.table_functions());
        let mut live = vec![false; self.functions.len()];
        let mut written = BTreeSet::new();
        while let Some(f) = work.pop() {
            if std::mem::replace(&mut live[f as usize], true) {
                continue;
            }
            let Some(body) = &self.functions[f as usize].body else { continue };
            let mut reader = body.get_operators_reader()?;
            while !reader.eof() {
                match reader.read()? {
                    Operator::Call { function_index }
                    | Operator::ReturnCall { function_index }
                    | Operator::RefFunc { function_index } => work.push(function_index),
                    Operator::GlobalSet { global_index } => {
                        written.insert(global_index);
                    }
                    _ => {}
                }
            }
        }
        self.live = live;
        self.written_globals = written;
        Ok(())
    }

    /// The functions the program's entries call: the start function and the entry
    /// exports, or every exported function for a test harness (an entry that is missing is
    /// the error of [`crate::wasm::ir`] to report).
    pub fn entered_functions(&self, options: &crate::options::Options) -> Vec<u32> {
        let mut functions: Vec<u32> = self.start.into_iter().collect();
        if options.entry == crate::options::EntryKind::Harness {
            functions.extend(self.exports.iter().filter_map(|e| match e.kind {
                ExportKind::Func(f) => Some(f),
                _ => None,
            }));
        } else {
            let entries = crate::wasm::entries::entry_exports(self, &options.entries).unwrap_or_default();
            functions.extend(entries.into_iter().flatten().map(|e| e.function));
        }
        functions
    }

    /// The functions the table may hold: its entries, and for a table that functions
    /// change, every function of its element segments ([`Table::addressable`]).
    pub fn table_functions(&self) -> Vec<u32> {
        match &self.table {
            Some(t) if t.mutable => t.addressable(),
            Some(t) => t.entries.iter().flatten().copied().collect(),
            None => Vec::new(),
        }
    }

    /// Whether the program can run function `index` (every function before
    /// [`Module::find_live`]).
    pub fn is_live(&self, index: u32) -> bool {
        self.live.get(index as usize).copied().unwrap_or(true)
    }

    /// The constant initial bit pattern of global `index`.
    pub fn global_initial_value(&self, index: u32) -> u64 {
        let global = &self.globals[index as usize];
        resolve(global.init, &self.globals, global.ty.bits())
    }
}

/// Evaluates a constant initialiser to a constant or a global reference.
fn const_expr(expr: &ConstExpr<'_>, globals: &[Global]) -> Result<GlobalInit> {
    let mut reader = expr.get_operators_reader();
    let first = reader.read()?;
    let init = match first {
        Operator::I32Const { value } => GlobalInit::Const(value as u32 as u64),
        Operator::I64Const { value } => GlobalInit::Const(value as u64),
        Operator::F32Const { value } => GlobalInit::Const(u64::from(value.bits())),
        Operator::F64Const { value } => GlobalInit::Const(value.bits()),
        Operator::GlobalGet { global_index } => {
            if global_index as usize >= globals.len() {
                return Err(CompileError::new(format!("constant expression reads unknown global {global_index}")));
            }
            GlobalInit::Global(global_index)
        }
        other => return Err(CompileError::new(format!("unsupported constant expression {other:?}"))),
    };
    match reader.read()? {
        Operator::End => Ok(init),
        other => Err(CompileError::new(format!("unsupported constant expression operator {other:?}"))),
    }
}

/// An element of an element segment given as an expression.
fn ref_expr(expr: &ConstExpr<'_>) -> Result<Option<u32>> {
    let mut reader = expr.get_operators_reader();
    let item = match reader.read()? {
        Operator::RefFunc { function_index } => Some(function_index),
        Operator::RefNull { .. } => None,
        other => return Err(CompileError::new(format!("unsupported element expression {other:?}"))),
    };
    Ok(item)
}

/// The value of an initialiser, following global references, truncated to `bits`.
fn resolve(init: GlobalInit, globals: &[Global], bits: u32) -> u64 {
    let value = match init {
        GlobalInit::Const(v) => v,
        GlobalInit::Global(g) => match globals[g as usize].init {
            GlobalInit::Const(v) => v,
            GlobalInit::Global(_) => 0,
        },
    };
    if bits == 32 { value & 0xffff_ffff } else { value }
}

/// Validates against the supported features; a module that is valid WebAssembly but
/// needs an unsupported proposal gets an error saying so.
fn validate(bytes: &[u8]) -> Result<()> {
    if let Err(e) = Validator::new_with_features(supported_features()).validate_all(bytes) {
        let kind = if Validator::new_with_features(WasmFeatures::all()).validate_all(bytes).is_ok() {
            "unsupported WebAssembly feature"
        } else {
            "invalid WebAssembly"
        };
        return Err(CompileError::at(e.offset() as usize, format!("{kind}: {}", e.message())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{EntryKind, Options};

    const PROGRAM: &str = r#"(module
        (global $g1 (mut i32) (i32.const 1))
        (global $g2 (mut i32) (i32.const 2))
        (table 1 funcref)
        (elem (i32.const 0) $in_table)
        (func $main (export "main") (param i32 i32) (result i64) (call $called) (i64.const 0))
        (func $called (global.set $g1 (i32.const 3)))
        (func $exported (export "other") (call $called_by_exported))
        (func $called_by_exported (global.set $g2 (i32.const 4)))
        (func $in_table)
        (func $unused))"#;

    fn live(options: &Options) -> (Vec<bool>, Vec<u32>) {
        let wasm = wat::parse_str(PROGRAM).unwrap();
        let mut module = Module::parse(&wasm, options).unwrap();
        module.find_live(options).unwrap();
        (module.live.clone(), module.written_globals.iter().copied().collect())
    }

    #[test]
    fn only_what_the_entries_and_the_table_reach_is_live() {
        // main, called, exported, called_by_exported, in_table, unused
        let (live_functions, written) = live(&Options::default());
        assert_eq!(live_functions, [true, true, false, false, true, false]);
        assert_eq!(written, [0]);
        // A test harness calls every export.
        let (live_functions, written) = live(&Options { entry: EntryKind::Harness, ..Options::default() });
        assert_eq!(live_functions, [true, true, true, true, true, false]);
        assert_eq!(written, [0, 1]);
    }
}
