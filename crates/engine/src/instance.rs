//! Instantiation: resolves imports, lays out and fills the instance's `VMContext`, creates
//! the memories, tables and globals the module defines, applies element and data segments,
//! and runs the start function. Also owns the per-instance segment state that the bulk
//! memory instructions (`memory.init`, `table.init`, `data.drop`, `elem.drop`) work on.

use crate::error::{Error, Result};
use crate::func::Func;
use crate::global::Global;
use crate::memory::Memory;
use crate::module::{ConstExpr, ElementSegment, EntityIndex, Module, SegmentMode};
use crate::table::Table;
use crate::trap::Trap;
use crate::types::{ExternType, FuncType};
use crate::values::Val;
use crate::vmctx::{VMContextHeader, VMFuncRef, VmOffsets, VMCONTEXT_MAGIC};
use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// Something an instance imports or exports.
#[derive(Clone)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A linear memory.
    Memory(Memory),
    /// A table.
    Table(Table),
    /// A global.
    Global(Global),
}

impl Extern {
    /// "function", "memory", "table" or "global".
    pub fn kind(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Memory(_) => "memory",
            Extern::Table(_) => "table",
            Extern::Global(_) => "global",
        }
    }
}

/// An instantiated module. Cheap to clone.
#[derive(Clone)]
pub struct Instance {
    inner: Arc<InstanceInner>,
}

pub(crate) struct InstanceInner {
    module: Module,
    offsets: VmOffsets,
    vmctx: *mut u8,
    memories: Vec<Memory>,
    tables: Vec<Table>,
    globals: Vec<Global>,
    /// Imported functions, kept alive because their `VMFuncRef`s are copied into `vmctx`.
    _imported_funcs: Vec<Func>,
    segments: Segments,
}

/// The segments as this instance sees them. A dropped segment behaves as an empty one, and
/// instantiation drops every active and declared segment (after applying the active ones),
/// as the spec's instantiation does.
struct Segments {
    /// Whether each data segment is dropped. Its bytes stay in the module either way.
    data_dropped: Box<[Cell<bool>]>,
    /// The references of each element segment, evaluated at instantiation; empty once
    /// dropped.
    elements: Box<[RefCell<Box<[usize]>>]>,
}

impl Segments {
    fn new(module: &Module) -> Segments {
        let info = &module.inner.info;
        Segments {
            data_dropped: info.data.iter().map(|d| Cell::new(!matches!(d.mode, SegmentMode::Passive))).collect(),
            elements: info.elements.iter().map(|_| RefCell::default()).collect(),
        }
    }
}

impl InstanceInner {
    pub(crate) fn memory(&self, index: u32) -> &Memory {
        &self.memories[index as usize]
    }

    pub(crate) fn table(&self, index: u32) -> &Table {
        &self.tables[index as usize]
    }

    fn func_ref(&self, index: u32) -> *const VMFuncRef {
        // SAFETY: the offset lies inside the vmctx allocation (VmOffsets asserts the index).
        unsafe { self.vmctx.add(self.offsets.func_ref(index) as usize).cast() }
    }

    /// The index of the function whose `VMFuncRef` is `func_ref`, if it lies in this
    /// instance's vmctx.
    pub(crate) fn func_index_of(&self, func_ref: *const VMFuncRef) -> Option<u32> {
        let offset = (func_ref as usize).checked_sub(self.func_ref(0) as usize)?;
        let index = offset / std::mem::size_of::<VMFuncRef>();
        let count = self.module.inner.info.funcs.len();
        (index < count && offset % std::mem::size_of::<VMFuncRef>() == 0).then_some(index as u32)
    }

    /// The signature of a function whose `VMFuncRef` lives in this instance's vmctx.
    pub(crate) fn func_type_of(&self, func_ref: *const VMFuncRef) -> &FuncType {
        let first = self.func_ref(0) as usize;
        let index = (func_ref as usize - first) / std::mem::size_of::<VMFuncRef>();
        self.module.inner.info.func_type(index as u32)
    }

    fn layout(&self) -> Layout {
        vmctx_layout(&self.offsets)
    }

    /// `memory.init`: copies `len` bytes of data segment `segment` from `src` to memory
    /// `memory` at `dst`; fails, writing nothing, unless both ranges are in bounds.
    pub(crate) fn memory_init(
        &self,
        memory: u32,
        segment: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> std::result::Result<(), Trap> {
        let info = &self.module.inner.info;
        let index = segment as usize;
        let bytes =
            if self.segments.data_dropped[index].get() { &[][..] } else { &info.bytes[info.data[index].range.clone()] };
        let (src, len) = (src as usize, len as usize);
        let bytes = src.checked_add(len).and_then(|end| bytes.get(src..end)).ok_or(Trap::MemoryOutOfBounds)?;
        self.memory(memory).write_bytes(u64::from(dst), bytes)
    }

    /// `data.drop`.
    pub(crate) fn data_drop(&self, segment: u32) {
        self.segments.data_dropped[segment as usize].set(true);
    }

    /// `table.init`: copies `len` references of element segment `segment` from `src` to
    /// table `table` at `dst`; fails, writing nothing, unless both ranges are in bounds.
    pub(crate) fn table_init(
        &self,
        table: u32,
        segment: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> std::result::Result<(), Trap> {
        let items = self.segments.elements[segment as usize].borrow();
        let (src, len) = (src as usize, len as usize);
        let items = src.checked_add(len).and_then(|end| items.get(src..end)).ok_or(Trap::TableOutOfBounds)?;
        self.table(table).write_raw(u64::from(dst), items)?;
        self.retain_stored(table, u64::from(dst), items.len() as u64);
        Ok(())
    }

    /// `elem.drop`: frees the segment's references.
    pub(crate) fn elem_drop(&self, segment: u32) {
        *self.segments.elements[segment as usize].borrow_mut() = Box::default();
    }

    /// `table.copy`: copies `len` references from table `src_table` at `src` to table
    /// `dst_table` at `dst`, ranges possibly overlapping; fails, writing nothing, unless
    /// both ranges are in bounds.
    pub(crate) fn table_copy(
        &self,
        dst_table: u32,
        src_table: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> std::result::Result<(), Trap> {
        let (dst, src, len) = (u64::from(dst), u64::from(src), u64::from(len));
        self.table(dst_table).copy_within_or_from(dst, self.table(src_table), src, len)?;
        if dst_table != src_table {
            self.retain_stored(dst_table, dst, len);
        }
        Ok(())
    }

    /// An imported table may outlive this instance: after references were stored into
    /// `len` elements of table `index` from `start`, keeps their owners alive as long as
    /// the table. Tables this instance defines are skipped, as instantiation always did
    /// (retaining the instance there would be a cycle); a defined table that is exported
    /// and outlives the instance is not covered yet.
    fn retain_stored(&self, index: u32, start: u64, len: u64) {
        if index >= self.module.inner.info.num_imported_tables {
            return;
        }
        let table = self.table(index);
        for i in start..start + len {
            if let Some(Val::FuncRef(Some(func))) = table.get(i) {
                table.retain(func);
            }
        }
    }

    /// The references of an element segment, as raw table elements.
    fn element_values(&self, segment: &ElementSegment) -> Box<[usize]> {
        let value = |item: &ConstExpr| match *item {
            ConstExpr::RefFunc(f) => self.func_ref(f) as usize,
            ConstExpr::RefNull => 0,
            other => eval_const(other, &self.globals).to_raw().get_ptr(),
        };
        segment.items.iter().map(value).collect()
    }
}

fn vmctx_layout(offsets: &VmOffsets) -> Layout {
    Layout::from_size_align(offsets.size() as usize, 16).expect("vmctx sizes are small")
}

// Instances are used from the thread that runs them; the raw vmctx is owned by the instance.
impl Drop for InstanceInner {
    fn drop(&mut self) {
        // SAFETY: allocated in `Instance::new` with this layout; no code runs with this vmctx
        // any more, since every function handle holds an Arc of this instance.
        unsafe { std::alloc::dealloc(self.vmctx, self.layout()) };
    }
}

fn link_error(import: &crate::module::ImportDesc, message: impl std::fmt::Display) -> Error {
    Error::Link(format!("incompatible import type for {}.{}: {message}", import.module, import.name))
}

impl Instance {
    /// Instantiates `module` with `imports`, given in `module.imports()` order.
    pub fn new(module: &Module, imports: &[Extern]) -> Result<Instance> {
        let engine = module.engine();
        let info = &module.inner.info;
        if imports.len() != info.imports.len() {
            return Err(Error::Link(format!("expected {} imports, got {}", info.imports.len(), imports.len())));
        }
        let mut funcs = Vec::new();
        let (mut memories, mut tables, mut globals) = (Vec::new(), Vec::new(), Vec::new());
        for (import, value) in info.imports.iter().zip(imports) {
            match (&import.ty, value) {
                (ExternType::Func(expected), Extern::Func(f)) => {
                    if f.ty() != expected {
                        return Err(link_error(import, format_args!("expected function {expected}, got {}", f.ty())));
                    }
                    funcs.push(f.clone());
                }
                (ExternType::Memory(expected), Extern::Memory(m)) => {
                    let actual = m.ty();
                    let limits = crate::types::Limits { min: m.size(), max: actual.limits.max };
                    if !limits.matches(&expected.limits) || actual.shared != expected.shared {
                        return Err(link_error(import, "memory limits do not match"));
                    }
                    memories.push(m.clone());
                }
                (ExternType::Table(expected), Extern::Table(t)) => {
                    let limits = crate::types::Limits { min: t.size(), max: t.ty().limits.max };
                    if t.element() != expected.element || !limits.matches(&expected.limits) {
                        return Err(link_error(import, "table type or limits do not match"));
                    }
                    tables.push(t.clone());
                }
                (ExternType::Global(expected), Extern::Global(g)) => {
                    if g.ty() != *expected {
                        return Err(link_error(import, "global type does not match"));
                    }
                    globals.push(g.clone());
                }
                (expected, got) => {
                    return Err(link_error(
                        import,
                        format_args!("expected a {}, got a {}", expected.kind(), got.kind()),
                    ));
                }
            }
        }

        // Defined globals first: their initialisers may read imported globals.
        for (ty, init) in info.globals[globals.len()..].iter().zip(&info.global_inits) {
            let value = match *init {
                // Function references are set once the vmctx exists.
                ConstExpr::RefFunc(_) | ConstExpr::RefNull => Val::default_for(ty.content),
                other => eval_const(other, &globals),
            };
            globals.push(Global::new(engine, *ty, value)?);
        }
        for ty in &info.memories[memories.len()..] {
            memories.push(Memory::new(engine, *ty)?);
        }
        for ty in &info.tables[tables.len()..] {
            tables.push(Table::new(engine, *ty, Val::default_for(ty.element))?);
        }

        let offsets = VmOffsets::new(info);
        let layout = vmctx_layout(&offsets);
        // SAFETY: a non-zero-size layout (the header alone is 24 bytes).
        let vmctx = unsafe { std::alloc::alloc_zeroed(layout) };
        if vmctx.is_null() {
            return Err(Error::Resource("out of memory allocating an instance".into()));
        }
        let inner = Arc::new(InstanceInner {
            module: module.clone(),
            offsets,
            vmctx,
            memories,
            tables,
            globals,
            _imported_funcs: funcs,
            segments: Segments::new(module),
        });
        // SAFETY: `vmctx` is a zeroed allocation of `offsets.size()` bytes, 16-aligned, that
        // this instance owns; each write below lands inside it at an offset VmOffsets gave.
        unsafe { fill_vmctx(&inner)? };
        let instance = Instance { inner };
        instance.initialize_globals();
        instance.apply_segments()?;
        if let Some(start) = info.start {
            Func::from_instance(instance.inner.clone(), instance.inner.func_ref(start)).call(&[])?;
        }
        Ok(instance)
    }

    fn initialize_globals(&self) {
        let info = &self.inner.module.inner.info;
        let first = info.num_imported_globals as usize;
        for (i, init) in info.global_inits.iter().enumerate() {
            if let ConstExpr::RefFunc(f) = init {
                let func = Func::from_instance(self.inner.clone(), self.inner.func_ref(*f));
                // The type was validated; storing a funcref into a funcref global cannot fail.
                let _ = self.inner.globals[first + i].set_initial(Val::FuncRef(Some(func)));
            }
        }
    }

    /// Evaluates the element segments, keeping the passive ones, and applies the active
    /// element then data segments, in order. A segment out of bounds traps, leaving the
    /// earlier segments' writes in place (the 2.0 semantics).
    fn apply_segments(&self) -> Result<()> {
        let inner = &self.inner;
        let info = &inner.module.inner.info;
        for (segment, state) in info.elements.iter().zip(&inner.segments.elements) {
            let values = inner.element_values(segment);
            match segment.mode {
                SegmentMode::Passive => *state.borrow_mut() = values,
                SegmentMode::Declared => {}
                SegmentMode::Active { index, offset } => {
                    let start = u64::from(const_u32(offset, &inner.globals));
                    inner.table(index).write_raw(start, &values)?;
                    inner.retain_stored(index, start, values.len() as u64);
                }
            }
        }
        for segment in &info.data {
            let SegmentMode::Active { index, offset } = segment.mode else {
                continue;
            };
            let start = u64::from(const_u32(offset, &inner.globals));
            inner.memory(index).write_bytes(start, &info.bytes[segment.range.clone()])?;
        }
        Ok(())
    }

    /// The export called `name`.
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        let info = &self.inner.module.inner.info;
        let export = info.exports.iter().find(|e| e.name == name)?;
        Some(self.export(export.index))
    }

    /// Every export, in the module's export order.
    pub fn exports(&self) -> Vec<(String, Extern)> {
        let info = &self.inner.module.inner.info;
        info.exports.iter().map(|e| (e.name.clone(), self.export(e.index))).collect()
    }

    fn export(&self, index: EntityIndex) -> Extern {
        let inner = &self.inner;
        match index {
            EntityIndex::Func(f) => Extern::Func(Func::from_instance(inner.clone(), inner.func_ref(f))),
            EntityIndex::Memory(m) => Extern::Memory(inner.memories[m as usize].clone()),
            EntityIndex::Table(t) => Extern::Table(inner.tables[t as usize].clone()),
            EntityIndex::Global(g) => Extern::Global(inner.globals[g as usize].clone()),
        }
    }

    /// The index of `func` in this instance's function index space, if it is one of the
    /// functions this instance defines or imports.
    pub fn func_index(&self, func: &Func) -> Option<u32> {
        self.inner.func_index_of(func.vm_func_ref())
    }

    /// The module this is an instance of.
    pub fn module(&self) -> &Module {
        &self.inner.module
    }
}

/// # Safety
/// `inner.vmctx` must be the zeroed allocation of `inner.offsets.size()` bytes made for it.
unsafe fn fill_vmctx(inner: &Arc<InstanceInner>) -> Result<()> {
    let info = &inner.module.inner.info;
    let engine = inner.module.engine();
    let vmctx = inner.vmctx;
    let offsets = &inner.offsets;
    let at = |offset: u32| -> *mut u8 {
        // SAFETY: offsets from VmOffsets are inside the allocation.
        unsafe { vmctx.add(offset as usize) }
    };
    // SAFETY: every write is inside the allocation, at a properly aligned offset.
    unsafe {
        *at(0).cast::<VMContextHeader>() = VMContextHeader {
            magic: VMCONTEXT_MAGIC,
            _pad: 0,
            stack_limit: crate::entry::thread_stack_limit(),
            owner: Arc::as_ptr(inner).cast(),
        };
        for (i, memory) in inner.memories.iter().enumerate() {
            *at(offsets.memory_pointer(i as u32)).cast::<usize>() = memory.definition() as usize;
        }
        for (i, global) in inner.globals.iter().enumerate() {
            *at(offsets.global_pointer(i as u32)).cast::<usize>() = global.storage() as usize;
        }
        for (i, table) in inner.tables.iter().enumerate() {
            *at(offsets.table_pointer(i as u32)).cast::<usize>() = table.definition() as usize;
        }
        for (i, func) in inner._imported_funcs.iter().enumerate() {
            let source = &*func.vm_func_ref();
            *at(offsets.func_ref(i as u32)).cast::<VMFuncRef>() = VMFuncRef {
                wasm_call: source.wasm_call,
                array_call: source.array_call,
                vmctx: source.vmctx,
                type_id: source.type_id,
                _pad: 0,
            };
        }
        for index in info.num_imported_funcs..info.funcs.len() as u32 {
            let type_id = info.type_ids[info.funcs[index as usize] as usize];
            let defined = (index - info.num_imported_funcs) as usize;
            *at(offsets.func_ref(index)).cast::<VMFuncRef>() = VMFuncRef {
                wasm_call: inner.module.inner.code.function(defined),
                array_call: engine.trampolines(type_id).array_call,
                vmctx: vmctx.cast(),
                type_id,
                _pad: 0,
            };
        }
    }
    Ok(())
}

fn eval_const(expr: ConstExpr, globals: &[Global]) -> Val {
    match expr {
        ConstExpr::I32(v) => Val::I32(v),
        ConstExpr::I64(v) => Val::I64(v),
        ConstExpr::F32(v) => Val::F32(v),
        ConstExpr::F64(v) => Val::F64(v),
        ConstExpr::V128(v) => Val::V128(v),
        ConstExpr::RefNull => Val::FuncRef(None),
        ConstExpr::GlobalGet(g) => globals[g as usize].get(),
        ConstExpr::RefFunc(_) => Val::FuncRef(None),
    }
}

fn const_u32(expr: ConstExpr, globals: &[Global]) -> u32 {
    match eval_const(expr, globals) {
        Val::I32(v) => v as u32,
        _ => 0,
    }
}
