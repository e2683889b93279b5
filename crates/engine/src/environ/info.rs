//! Decoding and validation: a wasm binary becomes a `ModuleInfo`, everything known about a
//! module except its machine code (types, imports, exports, segments, the byte ranges of
//! function bodies). Shared by the compiler, which translates the bodies, and the runtime,
//! which instantiates. No runtime state lives here.
#![forbid(unsafe_code)]

use crate::environ::error::{Error, Result};
use crate::environ::index::{DefinedFuncIndex, FuncIndex};
use crate::environ::names::ModuleNames;
use crate::environ::types::{
    AddressType, ExternType, FuncType, GlobalType, HeapType, Limits, MemoryType, TableType, ValType,
};
use cranelift_entity::EntityRef;
use std::ops::Range;
use std::sync::Arc;
use wasmparser::{Parser, Payload, TypeRef, ValidPayload, Validator, WasmFeatures};

/// The proposals heron implements completely. Anything else is rejected by validation, so
/// `validate()` is honest about what `compile()` can do.
pub(crate) fn features() -> WasmFeatures {
    WasmFeatures::WASM1
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::SIMD
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::THREADS
        | WasmFeatures::MULTI_MEMORY
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::RELAXED_SIMD
        | WasmFeatures::MEMORY64
        | WasmFeatures::FUNCTION_REFERENCES
        // The GC proposal's type system (rec groups, the `any` hierarchy and its null
        // values); its objects and instructions are refused after validation (`GcUse`).
        | WasmFeatures::GC
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::LEGACY_EXCEPTIONS
}

/// The first use of the GC proposal beyond its type system that a module makes: heron
/// validates such a module (so an invalid one gets its validation error) and then refuses it
/// with this, naming the proposal.
#[derive(Clone, Debug)]
pub(crate) struct GcUse {
    what: String,
    offset: u64,
}

impl GcUse {
    fn error(&self) -> Error {
        Error::compile(
            format!("unsupported feature: {} (the GC proposal; heron implements its type system only)", self.what),
            self.offset,
        )
    }
}

/// A constant expression as heron evaluates it at instantiation. The single-instruction forms
/// of 2.0 have their own variants; anything longer (extended constant expressions) is kept as
/// its instructions, for a stack evaluation.
#[derive(Clone, Debug)]
pub(crate) enum ConstExpr {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    RefNull,
    RefFunc(u32),
    GlobalGet(u32),
    Extended(Box<[ConstOp]>),
}

/// One instruction of an extended constant expression (integer arithmetic on constants and
/// globals), in the order the expression lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConstOp {
    I32(i32),
    I64(i64),
    GlobalGet(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

/// Where an element or data segment goes, if anywhere.
#[derive(Clone, Debug)]
pub(crate) enum SegmentMode {
    Active { index: u32, offset: ConstExpr },
    Passive,
    Declared,
}

#[derive(Debug)]
pub(crate) struct ElementSegment {
    pub mode: SegmentMode,
    pub items: Vec<ConstExpr>,
}

#[derive(Debug)]
pub(crate) struct DataSegment {
    pub mode: SegmentMode,
    /// Byte range of the contents in the module's bytes.
    pub range: Range<usize>,
}

/// What is exported: kind and index in that kind's index space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntityIndex {
    Func(u32),
    Table(u32),
    Memory(u32),
    Global(u32),
    Tag(u32),
}

/// One import of a module.
#[derive(Clone, Debug)]
pub struct ImportDesc {
    /// The module name.
    pub module: String,
    /// The field name.
    pub name: String,
    /// What must be supplied.
    pub ty: ExternType,
}

/// One export of a module.
#[derive(Clone, Debug)]
pub struct ExportDesc {
    /// The export's name.
    pub name: String,
    /// What is exported.
    pub ty: ExternType,
    pub(crate) index: EntityIndex,
}

/// Everything known about a module except its machine code.
#[derive(Default, Debug)]
pub(crate) struct ModuleInfo {
    pub bytes: Vec<u8>,
    /// Every type of the type section. Module-relative (`HeapType::Concrete`) until
    /// `register_types` gives them their engine-wide ids.
    pub types: Vec<FuncType>,
    /// The recursion groups of the type section, as ranges of type indices.
    pub rec_groups: Vec<Range<u32>>,
    /// Whether each type is final (`sub final`, or no `sub`): part of its identity.
    pub final_types: Vec<bool>,
    /// The initializer of each defined table that has one (`(table 1 (ref $t) (ref.func $f))`).
    pub table_inits: Vec<Option<ConstExpr>>,
    /// Type index of every function, imported ones first.
    pub funcs: Vec<u32>,
    pub tables: Vec<TableType>,
    pub memories: Vec<MemoryType>,
    /// Every global's type, imported ones first.
    pub globals: Vec<GlobalType>,
    /// Initialiser of each defined global.
    pub global_inits: Vec<ConstExpr>,
    pub num_imported_funcs: u32,
    pub num_imported_tables: u32,
    pub num_imported_memories: u32,
    pub num_imported_globals: u32,
    /// Type index (a function type without results) of every tag, imported ones first.
    pub tags: Vec<u32>,
    pub num_imported_tags: u32,
    pub imports: Vec<ImportDesc>,
    pub exports: Vec<ExportDesc>,
    pub start: Option<u32>,
    pub elements: Vec<ElementSegment>,
    pub data: Vec<DataSegment>,
    /// Byte range of each defined function's body (locals and code).
    pub bodies: Vec<Range<usize>>,
    /// Module and function names for stack traces and the perf map; shared with the code
    /// registry (`runtime/code_memory.rs`), which reads them without the module.
    pub names: Arc<ModuleNames>,
    /// The first use of the GC proposal beyond its types, refused once the module validated.
    pub gc_use: Option<GcUse>,
}

impl ModuleInfo {
    /// Signature of function `index`.
    pub fn func_type(&self, index: u32) -> &FuncType {
        &self.types[self.funcs[index as usize] as usize]
    }

    /// The type of tag `index`: the values its exceptions carry, as parameters.
    pub fn tag_type(&self, index: u32) -> &FuncType {
        &self.types[self.tags[index as usize] as usize]
    }

    /// Whether function `index` is defined by this module (not imported).
    pub fn is_defined_func(&self, index: u32) -> bool {
        self.defined_func(FuncIndex::from_u32(index)).is_some()
    }

    /// The module's defined functions, in order.
    pub fn defined_funcs(&self) -> impl Iterator<Item = DefinedFuncIndex> {
        (0..self.bodies.len()).map(DefinedFuncIndex::new)
    }

    /// Replaces the module's type indices in every type it shows (its types, imports,
    /// exports, tables and globals) with the engine-wide ids `ids` (one per type index),
    /// which the engine's type registry gave them.
    pub fn register_types(&mut self, ids: &[u32]) {
        let map = |index: u32| HeapType::Registered(ids[index as usize]);
        for (ty, id) in self.types.iter_mut().zip(ids) {
            *ty = ty.map_concrete(map).with_registered_id(*id);
        }
        for table in &mut self.tables {
            table.element = table.element.map_concrete(map);
        }
        for global in &mut self.globals {
            global.content = global.content.map_concrete(map);
        }
        let (mut funcs, mut tables, mut globals, mut tags) = (0, 0, 0, 0);
        for import in &mut self.imports {
            match &mut import.ty {
                ExternType::Func(f) => {
                    *f = self.types[self.funcs[funcs] as usize].clone();
                    funcs += 1;
                }
                ExternType::Table(t) => {
                    *t = self.tables[tables];
                    tables += 1;
                }
                ExternType::Global(g) => {
                    *g = self.globals[globals];
                    globals += 1;
                }
                ExternType::Tag(t) => {
                    *t = self.types[self.tags[tags] as usize].clone();
                    tags += 1;
                }
                ExternType::Memory(_) => {}
            }
        }
        let mut exports = std::mem::take(&mut self.exports);
        for export in &mut exports {
            export.ty = match export.index {
                EntityIndex::Func(f) => ExternType::Func(self.func_type(f).clone()),
                EntityIndex::Table(t) => ExternType::Table(self.tables[t as usize]),
                EntityIndex::Memory(m) => ExternType::Memory(self.memories[m as usize]),
                EntityIndex::Global(g) => ExternType::Global(self.globals[g as usize]),
                EntityIndex::Tag(t) => ExternType::Tag(self.tag_type(t).clone()),
            };
        }
        self.exports = exports;
    }

    /// Type of global `index` (imported or defined).
    pub fn global_type(&self, index: u32) -> GlobalType {
        self.globals[index as usize]
    }

    /// Decodes and validates `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<ModuleInfo> {
        super::limits::check_module_size(bytes.len())?;
        let mut info = ModuleInfo { bytes: bytes.to_vec(), ..Default::default() };
        let mut validator = Validator::new_with_features(features());
        let mut parser = Parser::new(0);
        parser.set_features(features());
        // Function bodies are validated after the walk over the sections, in parallel: on
        // large modules body validation is most of the time `new Module` takes.
        let mut bodies = Vec::new();
        let walked: Result<()> = (|| {
            for payload in parser.parse_all(bytes) {
                let payload = payload?;
                super::limits::check_payload(&payload)?;
                if let ValidPayload::Func(to_validate, body) = validator.payload(&payload)? {
                    let range = body.range();
                    info.bodies.push(range.start as usize..range.end as usize);
                    bodies.push((to_validate, body));
                    continue;
                }
                info.read_payload(payload)?;
            }
            Ok(())
        })();
        // A bad body comes before anything the walk found wrong after the code section.
        let body_gc_use = validate_bodies(bodies)?;
        walked?;
        if let Some(gc_use) = info.gc_use.take().or(body_gc_use) {
            return Err(gc_use.error());
        }
        info.names = Arc::new(ModuleNames::parse(bytes));
        Ok(info)
    }

    /// Decodes `bytes` without validating them: only for bytes known to be valid, those
    /// whose SHA-256 a code-cache entry records (entries are written only for modules that
    /// `parse` accepted). Skips the body validation that dominates `parse`.
    pub fn parse_trusted(bytes: &[u8]) -> Result<ModuleInfo> {
        let mut info = ModuleInfo { bytes: bytes.to_vec(), ..Default::default() };
        let mut parser = Parser::new(0);
        parser.set_features(features());
        for payload in parser.parse_all(bytes) {
            match payload? {
                Payload::CodeSectionEntry(body) => {
                    let range = body.range();
                    info.bodies.push(range.start as usize..range.end as usize);
                }
                payload => info.read_payload(payload)?,
            }
        }
        info.names = Arc::new(ModuleNames::parse(bytes));
        Ok(info)
    }

    fn read_payload(&mut self, payload: Payload<'_>) -> Result<()> {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader.into_iter_with_offsets() {
                    let (offset, group) = group?;
                    let start = self.types.len() as u32;
                    for sub in group.into_types() {
                        if let Some(what) = gc_type_use(&sub) {
                            self.gc_use.get_or_insert(GcUse { what: what.into(), offset });
                        }
                        let ty = match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => FuncType::from_wasm(f, offset)?,
                            // Refused above; a placeholder keeps the type indices right.
                            _ => FuncType::new([], []),
                        };
                        self.types.push(ty);
                        self.final_types.push(sub.is_final);
                    }
                    self.rec_groups.push(start..self.types.len() as u32);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports_with_offsets() {
                    let (offset, import) = import?;
                    let ty = match import.ty {
                        TypeRef::Func(type_index) | TypeRef::FuncExact(type_index) => {
                            self.funcs.push(type_index);
                            self.num_imported_funcs += 1;
                            ExternType::Func(self.types[type_index as usize].clone())
                        }
                        TypeRef::Table(t) => {
                            let t = table_type(t, offset)?;
                            self.tables.push(t);
                            self.num_imported_tables += 1;
                            ExternType::Table(t)
                        }
                        TypeRef::Memory(m) => {
                            let m = memory_type(m);
                            self.memories.push(m);
                            self.num_imported_memories += 1;
                            ExternType::Memory(m)
                        }
                        TypeRef::Global(g) => {
                            let g = global_type(g, offset)?;
                            self.globals.push(g);
                            self.num_imported_globals += 1;
                            ExternType::Global(g)
                        }
                        TypeRef::Tag(tag) => {
                            self.tags.push(tag.func_type_idx);
                            self.num_imported_tags += 1;
                            ExternType::Tag(self.types[tag.func_type_idx as usize].clone())
                        }
                    };
                    self.imports.push(ImportDesc { module: import.module.into(), name: import.name.into(), ty });
                }
            }
            Payload::FunctionSection(reader) => {
                for type_index in reader {
                    self.funcs.push(type_index?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader.into_iter_with_offsets() {
                    let (offset, table) = table?;
                    self.table_inits.push(match table.init {
                        wasmparser::TableInit::Expr(expr) => Some(const_expr(&expr)?),
                        wasmparser::TableInit::RefNull => None,
                    });
                    self.tables.push(table_type(table.ty, offset)?);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    self.memories.push(memory_type(memory?));
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader.into_iter_with_offsets() {
                    let (offset, global) = global?;
                    self.globals.push(global_type(global.ty, offset)?);
                    self.global_inits.push(const_expr(&global.init_expr)?);
                }
            }
            Payload::TagSection(reader) => {
                for tag in reader {
                    self.tags.push(tag?.func_type_idx);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    let (index, ty) = self.entity(export.kind, export.index);
                    self.exports.push(ExportDesc { name: export.name.into(), ty, index });
                }
            }
            Payload::StartSection { func, .. } => self.start = Some(func),
            Payload::ElementSection(reader) => {
                for element in reader {
                    self.elements.push(element_segment(element?)?);
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data?;
                    let mode = match data.kind {
                        wasmparser::DataKind::Passive => SegmentMode::Passive,
                        wasmparser::DataKind::Active { memory_index, offset_expr } => {
                            SegmentMode::Active { index: memory_index, offset: const_expr(&offset_expr)? }
                        }
                    };
                    let end = data.range.end as usize;
                    self.data.push(DataSegment { mode, range: end - data.data.len()..end });
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn entity(&self, kind: wasmparser::ExternalKind, index: u32) -> (EntityIndex, ExternType) {
        use wasmparser::ExternalKind as K;
        match kind {
            K::Func | K::FuncExact => (EntityIndex::Func(index), ExternType::Func(self.func_type(index).clone())),
            K::Table => (EntityIndex::Table(index), ExternType::Table(self.tables[index as usize])),
            K::Memory => (EntityIndex::Memory(index), ExternType::Memory(self.memories[index as usize])),
            K::Global => (EntityIndex::Global(index), ExternType::Global(self.globals[index as usize])),
            K::Tag => (EntityIndex::Tag(index), ExternType::Tag(self.tag_type(index).clone())),
        }
    }
}

/// What in a type definition belongs to the GC proposal beyond its type system: struct and
/// array types, and declared supertypes (which would make `call_indirect` check subtyping).
fn gc_type_use(sub: &wasmparser::SubType) -> Option<&'static str> {
    match sub.composite_type.inner {
        wasmparser::CompositeInnerType::Func(_) if !sub.supertype_idxs.is_empty() => Some("declared supertypes"),
        wasmparser::CompositeInnerType::Func(_) => None,
        wasmparser::CompositeInnerType::Struct(_) => Some("struct types"),
        wasmparser::CompositeInnerType::Array(_) => Some("array types"),
        _ => Some("this composite type"),
    }
}

/// The GC proposal's instructions, which need GC objects; heron refuses modules that use them.
fn gc_instruction(op: &wasmparser::Operator<'_>) -> Option<&'static str> {
    use wasmparser::Operator as O;
    Some(match op {
        O::RefEq => "ref.eq",
        O::StructNew { .. }
        | O::StructNewDefault { .. }
        | O::StructGet { .. }
        | O::StructGetS { .. }
        | O::StructGetU { .. }
        | O::StructSet { .. } => "struct instructions",
        O::ArrayNew { .. }
        | O::ArrayNewDefault { .. }
        | O::ArrayNewFixed { .. }
        | O::ArrayNewData { .. }
        | O::ArrayNewElem { .. }
        | O::ArrayGet { .. }
        | O::ArrayGetS { .. }
        | O::ArrayGetU { .. }
        | O::ArraySet { .. }
        | O::ArrayLen
        | O::ArrayFill { .. }
        | O::ArrayCopy { .. }
        | O::ArrayInitData { .. }
        | O::ArrayInitElem { .. } => "array instructions",
        O::RefTestNonNull { .. } | O::RefTestNullable { .. } => "ref.test",
        O::RefCastNonNull { .. } | O::RefCastNullable { .. } => "ref.cast",
        O::BrOnCast { .. } | O::BrOnCastFail { .. } => "br_on_cast",
        O::AnyConvertExtern => "any.convert_extern",
        O::ExternConvertAny => "extern.convert_any",
        O::RefI31 | O::I31GetS | O::I31GetU => "i31 references",
        _ => return None,
    })
}

fn limits(min: u64, max: Option<u64>) -> Limits {
    Limits { min, max }
}

fn table_type(t: wasmparser::TableType, offset: u64) -> Result<TableType> {
    let element = ValType::from_wasm(wasmparser::ValType::Ref(t.element_type), offset)?;
    Ok(TableType { element, limits: limits(t.initial, t.maximum), address: AddressType::from_flag(t.table64) })
}

fn memory_type(m: wasmparser::MemoryType) -> MemoryType {
    MemoryType { limits: limits(m.initial, m.maximum), shared: m.shared, address: AddressType::from_flag(m.memory64) }
}

fn global_type(g: wasmparser::GlobalType, offset: u64) -> Result<GlobalType> {
    Ok(GlobalType { content: ValType::from_wasm(g.content_type, offset)?, mutable: g.mutable })
}

/// Reads a constant expression: one constant, `ref.null`, `ref.func` or `global.get`, or an
/// extended constant expression (integer `add`/`sub`/`mul` of constants and globals).
fn const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr> {
    use wasmparser::Operator as O;
    let mut reader = expr.get_operators_reader();
    let offset = reader.original_position();
    let first = match reader.read()? {
        O::I32Const { value } => ConstExpr::I32(value),
        O::I64Const { value } => ConstExpr::I64(value),
        O::F32Const { value } => ConstExpr::F32(value.bits()),
        O::F64Const { value } => ConstExpr::F64(value.bits()),
        O::V128Const { value } => ConstExpr::V128(u128::from_le_bytes(*value.bytes())),
        O::RefNull { .. } => ConstExpr::RefNull,
        O::RefFunc { function_index } => ConstExpr::RefFunc(function_index),
        O::GlobalGet { global_index } => ConstExpr::GlobalGet(global_index),
        other => return Err(Error::compile(format!("unsupported constant expression {other:?}"), offset)),
    };
    let mut ops = match first {
        ConstExpr::I32(v) => vec![ConstOp::I32(v)],
        ConstExpr::I64(v) => vec![ConstOp::I64(v)],
        ConstExpr::GlobalGet(g) => vec![ConstOp::GlobalGet(g)],
        _ => Vec::new(),
    };
    loop {
        let op = match reader.read()? {
            O::End if ops.len() <= 1 => return Ok(first),
            O::End => return Ok(ConstExpr::Extended(ops.into())),
            O::I32Const { value } => ConstOp::I32(value),
            O::I64Const { value } => ConstOp::I64(value),
            O::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            O::I32Add => ConstOp::I32Add,
            O::I32Sub => ConstOp::I32Sub,
            O::I32Mul => ConstOp::I32Mul,
            O::I64Add => ConstOp::I64Add,
            O::I64Sub => ConstOp::I64Sub,
            O::I64Mul => ConstOp::I64Mul,
            other => return Err(Error::compile(format!("unsupported constant expression {other:?}"), offset)),
        };
        ops.push(op);
    }
}

fn element_segment(element: wasmparser::Element<'_>) -> Result<ElementSegment> {
    let mode = match element.kind {
        wasmparser::ElementKind::Passive => SegmentMode::Passive,
        wasmparser::ElementKind::Declared => SegmentMode::Declared,
        wasmparser::ElementKind::Active { table_index, offset_expr } => {
            SegmentMode::Active { index: table_index.unwrap_or(0), offset: const_expr(&offset_expr)? }
        }
    };
    let items = match element.items {
        wasmparser::ElementItems::Functions(reader) => {
            reader.into_iter().map(|f| Ok(ConstExpr::RefFunc(f?))).collect::<Result<_>>()?
        }
        wasmparser::ElementItems::Expressions(_, reader) => {
            reader.into_iter().map(|e| const_expr(&e?)).collect::<Result<_>>()?
        }
    };
    Ok(ElementSegment { mode, items })
}

/// Validates function bodies on all cores, reporting the error of the first bad body in
/// module order (as a sequential validation would); if all are valid, returns the first use
/// of a GC instruction, if any.
fn validate_bodies(
    bodies: Vec<(wasmparser::FuncToValidate<wasmparser::ValidatorResources>, wasmparser::FunctionBody<'_>)>,
) -> Result<Option<GcUse>> {
    use rayon::prelude::*;
    type Outcome = std::result::Result<Option<GcUse>, wasmparser::BinaryReaderError>;
    let outcomes: Vec<Outcome> = bodies
        .into_par_iter()
        .map_init(wasmparser::FuncValidatorAllocations::default, |allocations, (to_validate, body)| {
            let mut func_validator = to_validate.into_validator(std::mem::take(allocations));
            let outcome = validate_body(&mut func_validator, &body);
            *allocations = func_validator.into_allocations();
            outcome
        })
        .collect();
    let mut first_gc_use = None;
    for outcome in outcomes {
        if let Some(gc_use) = outcome? {
            first_gc_use.get_or_insert(gc_use);
        }
    }
    Ok(first_gc_use)
}

/// `FuncValidator::validate`, noting the first GC instruction on the way.
fn validate_body(
    validator: &mut wasmparser::FuncValidator<wasmparser::ValidatorResources>,
    body: &wasmparser::FunctionBody<'_>,
) -> std::result::Result<Option<GcUse>, wasmparser::BinaryReaderError> {
    let mut reader = body.get_binary_reader();
    validator.read_locals(&mut reader)?;
    reader.set_features(features());
    let mut ops = wasmparser::OperatorsReader::new(reader);
    let mut gc_use = None;
    while !ops.eof() {
        let offset = ops.original_position();
        let op = ops.read()?;
        validator.op(offset, &op)?;
        if gc_use.is_none() {
            gc_use = gc_instruction(&op).map(|what| GcUse { what: what.into(), offset });
        }
    }
    ops.finish()?;
    Ok(gc_use)
}
