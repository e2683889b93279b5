//! Instantiation: resolves imports, lays out and fills the instance's `VMContext`, creates
//! the memories, tables and globals the module defines, applies element and data segments,
//! and runs the start function. Also owns the per-instance segment state that the bulk
//! memory instructions (`memory.init`, `table.init`, `data.drop`, `elem.drop`) work on.
//!
//! An instance belongs to a store (`store.rs`), which owns it; the instance keeps what it
//! uses (memories, tables, globals, imported functions) through handles without a store,
//! and every handle it gives out carries its store.

use crate::environ::config::{BoundsChecks, CodeFlavour, Controls};
use crate::environ::error::{Error, Result};
use crate::environ::index::{DefinedGlobalIndex, FuncIndex};
use crate::environ::info::{ConstExpr, ConstOp, ElementSegment, EntityIndex, SegmentMode};
use crate::environ::trap::Trap;
use crate::environ::types::{ExternType, FuncType};
use crate::environ::vmctx::{VMContextHeader, VMControls, VMFuncRef, VMTag, VmOffsets, VMCONTEXT_MAGIC};
use crate::func::Func;
use crate::module::Module;
use crate::runtime::global::Global;
use crate::runtime::interrupts::{InstanceControls, InterruptHandle};
use crate::runtime::memory::Memory;
use crate::runtime::store::{Store, StoreLink};
use crate::runtime::table::Table;
use crate::runtime::tag::Tag;
use crate::values::Val;
use cranelift_entity::EntityRef;
use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

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
    /// An exception tag.
    Tag(Tag),
}

impl Extern {
    /// "function", "memory", "table", "global" or "tag".
    pub fn kind(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Memory(_) => "memory",
            Extern::Table(_) => "table",
            Extern::Global(_) => "global",
            Extern::Tag(_) => "tag",
        }
    }
}

/// An instantiated module. Cheap to clone.
#[derive(Clone)]
pub struct Instance {
    inner: Rc<InstanceInner>,
    /// Keeps the instance, and whatever it is linked with, alive.
    store: Store,
}

pub(crate) struct InstanceInner {
    module: Module,
    offsets: VmOffsets,
    vmctx: *mut u8,
    memories: Vec<Memory>,
    tables: Vec<Table>,
    globals: Vec<Global>,
    /// Imported tags first, then one new tag per tag the module defines.
    tags: Vec<Tag>,
    /// Imported functions (handles without a store), kept alive because `vmctx` points to
    /// their canonical `VMFuncRef`s and holds copies of them.
    imported_funcs: Vec<Func>,
    segments: Segments,
    /// Which of the module's code this instance runs: code relying on guard pages runs only
    /// when every memory has them; code with interrupt checks or fuel only if asked for.
    flavour: CodeFlavour,
    /// Deadlines and interrupts (see `interrupts.rs`).
    controls: InstanceControls,
    /// The store that owns this instance.
    store: StoreLink,
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

    pub(crate) fn tag(&self, index: u32) -> &Tag {
        &self.tags[index as usize]
    }

    pub(crate) fn store_link(&self) -> &StoreLink {
        &self.store
    }

    /// The runtime side of the instance's controls.
    pub(crate) fn controls(&self) -> &InstanceControls {
        &self.controls
    }

    /// Whether calls from the host must go through `InstanceControls::enter`.
    #[inline]
    pub(crate) fn has_interrupts(&self) -> bool {
        self.controls.interrupts.is_some()
    }

    fn vm_controls(&self) -> *mut VMControls {
        // SAFETY: the controls lie inside the vmctx allocation, right after the header.
        unsafe { self.vmctx.add(VmOffsets::controls() as usize).cast() }
    }

    /// The `VMFuncRef` in this vmctx of function `index`: the canonical one of a defined
    /// function, a copy for an imported one.
    fn func_ref(&self, index: u32) -> *const VMFuncRef {
        // SAFETY: the offset lies inside the vmctx allocation (VmOffsets asserts the index).
        unsafe { self.vmctx.add(self.offsets.func_ref(index) as usize).cast() }
    }

    /// The code of function `index`, which this instance defines, compiling it if needed;
    /// `None` if it failed to compile.
    pub(crate) fn code_of(&self, index: u32) -> Option<usize> {
        let defined = self.module.inner.info.defined_func(FuncIndex::from_u32(index))?;
        let code = self.module.inner.code_for(self.flavour);
        crate::runtime::lazy::LazyCode::get_or_compile(&*self.module.inner, code, defined.index())
    }

    /// Whether `func_ref`, one of this instance's canonical `VMFuncRef`s, calls the
    /// function's optimized code.
    pub(crate) fn runs_optimized_code(&self, func_ref: *const VMFuncRef) -> bool {
        let Some(index) = self.func_index_of(func_ref) else { return false };
        let Some(defined) = self.module.inner.info.defined_func(FuncIndex::from_u32(index)) else { return false };
        let defined = defined.index();
        let code = self.module.inner.code_for(self.flavour);
        // SAFETY: `func_ref` is one of this live instance's.
        let wasm_call = unsafe { VMFuncRef::load_wasm_call(func_ref) };
        code.is_optimized(defined) && wasm_call as usize == code.entry(defined)
    }

    /// The canonical `VMFuncRef` of function `index`: the value of `ref.func index`.
    fn canonical_func_ref(&self, index: u32) -> *const VMFuncRef {
        match self.imported_funcs.get(index as usize) {
            Some(import) => import.vm_func_ref(),
            None => self.func_ref(index),
        }
    }

    /// A handle to function `index` (defined or imported) that keeps `store` alive.
    fn func(&self, self_arc: &Rc<InstanceInner>, index: u32, store: Option<Store>) -> Func {
        match self.imported_funcs.get(index as usize) {
            Some(import) => import.with_store(store),
            None => Func::from_instance(self_arc.clone(), self.func_ref(index), store),
        }
    }

    /// The index of the function this instance defines whose canonical `VMFuncRef` is
    /// `func_ref`, if there is one.
    pub(crate) fn func_index_of(&self, func_ref: *const VMFuncRef) -> Option<u32> {
        let offset = (func_ref as usize).checked_sub(self.func_ref(0) as usize)?;
        let index = offset / std::mem::size_of::<VMFuncRef>();
        let count = self.module.inner.info.funcs.len();
        let defined = index >= self.imported_funcs.len() && index < count;
        (defined && offset % std::mem::size_of::<VMFuncRef>() == 0).then_some(index as u32)
    }

    /// The signature of a function this instance defines, given its canonical `VMFuncRef`.
    pub(crate) fn func_type_of(&self, func_ref: *const VMFuncRef) -> &FuncType {
        let index = self.func_index_of(func_ref).expect("a function handle's VMFuncRef is its definer's");
        self.module.inner.info.func_type(index)
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
        dst: u64,
        src: u32,
        len: u32,
    ) -> std::result::Result<(), Trap> {
        let info = &self.module.inner.info;
        let index = segment as usize;
        let bytes =
            if self.segments.data_dropped[index].get() { &[][..] } else { &info.bytes[info.data[index].range.clone()] };
        let (src, len) = (src as usize, len as usize);
        let bytes = src.checked_add(len).and_then(|end| bytes.get(src..end)).ok_or(Trap::MemoryOutOfBounds)?;
        self.memory(memory).write_bytes(dst, bytes)
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
        dst: u64,
        src: u32,
        len: u32,
    ) -> std::result::Result<(), Trap> {
        let items = self.segments.elements[segment as usize].borrow();
        let (src, len) = (src as usize, len as usize);
        let items = src.checked_add(len).and_then(|end| items.get(src..end)).ok_or(Trap::TableOutOfBounds)?;
        self.table(table).write_raw(dst, items)
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
        dst: u64,
        src: u64,
        len: u64,
    ) -> std::result::Result<(), Trap> {
        self.table(dst_table).copy_within_or_from(dst, self.table(src_table), src, len)
    }

    /// The references of an element segment, as raw table elements.
    fn element_values(&self, segment: &ElementSegment) -> Box<[usize]> {
        segment.items.iter().map(|item| self.const_reference(item)).collect()
    }

    /// The value of a constant expression of reference type, as a raw table element.
    fn const_reference(&self, expr: &ConstExpr) -> usize {
        match *expr {
            ConstExpr::RefFunc(f) => self.canonical_func_ref(f) as usize,
            ConstExpr::RefNull => 0,
            ref other => eval_const(other, &self.globals).to_raw().get_ptr(),
        }
    }
}

fn vmctx_layout(offsets: &VmOffsets) -> Layout {
    Layout::from_size_align(offsets.size() as usize, 16).expect("vmctx sizes are small")
}

impl Drop for InstanceInner {
    fn drop(&mut self) {
        self.module.inner.code_for(self.flavour).instances().detach(self.vmctx);
        // Interrupt handles and the ticker may outlive the instance: no more stores to the
        // `due` word in the vmctx.
        if let Some(state) = &self.controls.interrupts {
            state.detach();
        }
        // SAFETY: allocated in `Instance::new` with this layout; no code runs with this vmctx
        // any more: every function handle holds an Rc of this instance, and so does its
        // store, which outlives every table and global that may hold its functions.
        unsafe { std::alloc::dealloc(self.vmctx, self.layout()) };
    }
}

fn link_error(import: &crate::environ::info::ImportDesc, message: impl std::fmt::Display) -> Error {
    Error::Link(format!("incompatible import type for {}.{}: {message}", import.module, import.name))
}

impl Instance {
    /// Instantiates `module` with `imports`, given in `module.imports()` order.
    pub fn new(module: &Module, imports: &[Extern]) -> Result<Instance> {
        Instance::with_controls(module, imports, &Controls::default())
    }

    /// Instantiates `module` with `imports` under `controls`: limits on the memories and
    /// tables it defines, and code with interrupt checks or fuel counting if asked for.
    pub fn with_controls(module: &Module, imports: &[Extern], controls: &Controls) -> Result<Instance> {
        let engine = module.engine();
        let info = &module.inner.info;
        if imports.len() != info.imports.len() {
            return Err(Error::Link(format!("expected {} imports, got {}", info.imports.len(), imports.len())));
        }
        let mut funcs = Vec::new();
        let (mut memories, mut tables, mut globals) = (Vec::new(), Vec::new(), Vec::new());
        let mut tags = Vec::new();
        for (import, value) in info.imports.iter().zip(imports) {
            match (&import.ty, value) {
                (ExternType::Func(expected), Extern::Func(f)) => {
                    if expected.registered_id() != Some(f.type_id()) {
                        return Err(link_error(import, format_args!("expected function {expected}, got {}", f.ty())));
                    }
                    funcs.push(f.with_store(None));
                }
                (ExternType::Memory(expected), Extern::Memory(m)) => {
                    let actual = m.ty();
                    let limits = crate::environ::types::Limits { min: m.size(), max: actual.limits.max };
                    if !limits.matches(&expected.limits) || actual.shared != expected.shared {
                        return Err(link_error(import, "memory limits do not match"));
                    }
                    if actual.address != expected.address {
                        let (expected, actual) = (expected.address, actual.address);
                        return Err(link_error(
                            import,
                            format_args!("expected an {expected} memory, got an {actual} one"),
                        ));
                    }
                    memories.push(m.clone());
                }
                (ExternType::Table(expected), Extern::Table(t)) => {
                    let limits = crate::environ::types::Limits { min: t.size(), max: t.ty().limits.max };
                    if t.element() != expected.element || !limits.matches(&expected.limits) {
                        return Err(link_error(import, "table type or limits do not match"));
                    }
                    if t.ty().address != expected.address {
                        let (expected, actual) = (expected.address, t.ty().address);
                        return Err(link_error(
                            import,
                            format_args!("expected an {expected} table, got an {actual} one"),
                        ));
                    }
                    tables.push(t.with_store(None));
                }
                (ExternType::Global(expected), Extern::Global(g)) => {
                    let actual = g.ty();
                    let content_matches = if expected.mutable {
                        actual.content == expected.content
                    } else {
                        actual.content.is_subtype_of(expected.content)
                    };
                    if actual.mutable != expected.mutable || !content_matches {
                        return Err(link_error(import, "global type does not match"));
                    }
                    globals.push(g.with_store(None));
                }
                (ExternType::Tag(expected), Extern::Tag(tag)) => {
                    // Types of wasm modules match by their engine-wide ids (which tell apart
                    // equal types of different rec groups); a tag made by the host has none.
                    let matches = match (tag.ty().registered_id(), expected.registered_id()) {
                        (Some(actual), Some(expected)) => actual == expected,
                        _ => tag.ty() == expected,
                    };
                    if !matches {
                        return Err(link_error(import, format_args!("expected tag {expected}, got {}", tag.ty())));
                    }
                    tags.push(tag.clone());
                }
                (expected, got) => {
                    return Err(link_error(
                        import,
                        format_args!("expected a {}, got a {}", expected.kind(), got.kind()),
                    ));
                }
            }
        }

        // The store: the union of the stores of everything imported that can carry
        // funcrefs, which this instance's code may read from or write its functions into.
        let store = Store::new();
        let import_stores = imports.iter().filter_map(|import| match import {
            Extern::Func(f) => f.store(),
            Extern::Table(t) => t.store().cloned(),
            Extern::Global(g) => g.store().cloned(),
            Extern::Memory(_) | Extern::Tag(_) => None,
        });
        for other in import_stores {
            store.merge(&other);
        }

        // Defined globals first: their initialisers may read imported globals.
        for (ty, init) in info.globals[globals.len()..].iter().zip(&info.global_inits) {
            // Zero storage is null; function references are set once the vmctx exists.
            let global = Global::new_in(*ty, None);
            if !matches!(init, ConstExpr::RefFunc(_) | ConstExpr::RefNull) {
                global.set_initial(eval_const(init, &globals))?;
            }
            globals.push(global);
        }
        for &type_index in &info.tags[tags.len()..] {
            tags.push(Tag::new(info.types[type_index as usize].clone()));
        }
        for ty in &info.memories[memories.len()..] {
            memories.push(Memory::with_limit(engine, *ty, controls.memory_limit)?);
        }
        for ty in &info.tables[tables.len()..] {
            let table = Table::new_limited(*ty, None, controls.table_limit)?;
            table.grow_raw(ty.limits.min, 0)?;
            tables.push(table);
        }

        let bounds_checks = if memories.iter().any(|m| m.bounds_checks() == BoundsChecks::Explicit) {
            BoundsChecks::Explicit
        } else {
            module.inner.code.flavour().bounds_checks
        };
        let flavour = CodeFlavour {
            bounds_checks,
            interruptible: controls.needs_interrupt_checks(),
            fuel: controls.fuel.is_some(),
        };

        let offsets = VmOffsets::new(info);
        let layout = vmctx_layout(&offsets);
        // SAFETY: a non-zero-size layout (the header alone is 24 bytes).
        let vmctx = unsafe { std::alloc::alloc_zeroed(layout) };
        if vmctx.is_null() {
            return Err(Error::Resource("out of memory allocating an instance".into()));
        }
        let inner = Rc::new(InstanceInner {
            module: module.clone(),
            offsets,
            vmctx,
            memories,
            tables,
            globals,
            tags,
            imported_funcs: funcs,
            segments: Segments::new(module),
            flavour,
            controls: InstanceControls::new(controls),
            store: StoreLink::default(),
        });
        // Filled and registered together, so optimized code published meanwhile reaches it.
        let mut filled = Ok(());
        let fill = || {
            // SAFETY: `vmctx` is a zeroed allocation of `offsets.size()` bytes, 16-aligned,
            // that this instance owns; each write lands inside it at an offset VmOffsets gave.
            let outcome = unsafe { fill_vmctx(&inner, controls) };
            filled = outcome;
        };
        module.inner.code_for(flavour).instances().attach(vmctx, fill);
        filled?;
        // From here on the store owns the instance: its functions may end up in imported
        // tables even if instantiation fails later (the spec keeps such writes).
        store.add_instance(inner.clone());
        let instance = Instance { inner, store };
        instance.initialize_globals();
        instance.initialize_tables();
        instance.apply_segments()?;
        if let Some(start) = info.start {
            instance.inner.func(&instance.inner, start, Some(instance.store.clone())).call(&[])?;
        }
        Ok(instance)
    }

    fn initialize_globals(&self) {
        let info = &self.inner.module.inner.info;
        for (i, init) in info.global_inits.iter().enumerate() {
            let global = info.global_index(DefinedGlobalIndex::new(i)).index();
            if let ConstExpr::RefFunc(f) = init {
                let func = self.inner.func(&self.inner, *f, None);
                // The type was validated; storing a funcref into a funcref global cannot fail.
                let _ = self.inner.globals[global].set_initial(Val::FuncRef(Some(func)));
            }
        }
    }

    /// Fills the defined tables that have an initializer expression with its value.
    fn initialize_tables(&self) {
        let info = &self.inner.module.inner.info;
        let defined = &self.inner.tables[info.num_imported_tables as usize..];
        for (table, init) in defined.iter().zip(&info.table_inits) {
            if let Some(init) = init {
                let value = self.inner.const_reference(init);
                table.fill_raw(0, value, table.size()).expect("the whole table is in bounds");
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
            match &segment.mode {
                SegmentMode::Passive => *state.borrow_mut() = values,
                SegmentMode::Declared => {}
                SegmentMode::Active { index, offset } => {
                    let start = const_address(offset, &inner.globals);
                    inner.table(*index).write_raw(start, &values)?;
                }
            }
        }
        match inner.module.inner.memory_images() {
            // Every active segment is in bounds of a defined memory: none can trap, so each
            // memory is initialized on its own, from its image or by copying.
            Some(images) => {
                let imported = info.num_imported_memories;
                for defined in 0..images.len() {
                    let Some(image) = images.get(defined) else { continue };
                    let index = imported + defined as u32;
                    if !inner.memory(index).map_image(image)? {
                        self.copy_data_segments(Some(index))?;
                    }
                }
            }
            None => self.copy_data_segments(None)?,
        }
        Ok(())
    }

    /// Copies the active data segments (those of memory `only`, if given) in order.
    fn copy_data_segments(&self, only: Option<u32>) -> Result<()> {
        let inner = &self.inner;
        let info = &inner.module.inner.info;
        for segment in &info.data {
            let SegmentMode::Active { index, offset } = &segment.mode else {
                continue;
            };
            if only.is_some_and(|only| only != *index) {
                continue;
            }
            let start = const_address(offset, &inner.globals);
            inner.memory(*index).write_bytes(start, &info.bytes[segment.range.clone()])?;
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

    /// The value of every export, in the module's export order (`exports` without the
    /// names, which a caller that has them need not copy).
    pub fn export_values(&self) -> impl ExactSizeIterator<Item = Extern> + '_ {
        self.inner.module.inner.info.exports.iter().map(|e| self.export(e.index))
    }

    fn export(&self, index: EntityIndex) -> Extern {
        let inner = &self.inner;
        let store = Some(self.store.clone());
        match index {
            EntityIndex::Func(f) => Extern::Func(inner.func(inner, f, store)),
            EntityIndex::Memory(m) => Extern::Memory(inner.memories[m as usize].clone()),
            EntityIndex::Table(t) => Extern::Table(inner.tables[t as usize].with_store(store)),
            EntityIndex::Global(g) => Extern::Global(inner.globals[g as usize].with_store(store)),
            EntityIndex::Tag(t) => Extern::Tag(inner.tags[t as usize].clone()),
        }
    }

    /// The index of `func` in this instance's function index space, if it is one of the
    /// functions this instance defines or imports.
    pub fn func_index(&self, func: &Func) -> Option<u32> {
        let imports = &self.inner.imported_funcs;
        match imports.iter().position(|import| import.same(func)) {
            Some(index) => Some(index as u32),
            None => self.inner.func_index_of(func.vm_func_ref()),
        }
    }

    /// The module this is an instance of.
    pub fn module(&self) -> &Module {
        &self.inner.module
    }

    /// Which variant of its module's code the instance runs: without checks unless its
    /// controls ask for interrupts or fuel (memory and table limits need none).
    pub fn code_flavour(&self) -> CodeFlavour {
        self.inner.flavour
    }

    /// The fuel left, if the instance was created with some (0 once it ran out).
    pub fn remaining_fuel(&self) -> Option<u64> {
        self.inner.flavour.fuel.then(|| {
            // SAFETY: the instance's own controls; compiled code of this instance runs on
            // this thread only, so nothing writes the field concurrently.
            let fuel = unsafe { (*self.inner.vm_controls()).fuel };
            u64::try_from(fuel).unwrap_or(0)
        })
    }

    /// Adds `fuel` to the instance's budget (a deficit from running out is forgiven first).
    /// Fails if the instance was created without fuel.
    pub fn add_fuel(&self, fuel: u64) -> Result<()> {
        if !self.inner.flavour.fuel {
            return Err(Error::Resource("the instance was created without fuel".into()));
        }
        // SAFETY: as in `remaining_fuel`. Compiled code reloads the field at every use, so a
        // host function may add fuel while wasm is on the stack.
        unsafe {
            let controls = self.inner.vm_controls();
            (*controls).fuel = (*controls).fuel.max(0).saturating_add(i64::try_from(fuel).unwrap_or(i64::MAX));
        }
        Ok(())
    }

    /// A handle that interrupts this instance's running call from any thread; `None` unless
    /// the instance was created interruptible (`Controls::interruptible`, `timeout` or
    /// `break_on_sigint`).
    pub fn interrupt_handle(&self) -> Option<InterruptHandle> {
        self.inner.controls.handle()
    }
}

/// # Safety
/// `inner.vmctx` must be the zeroed allocation of `inner.offsets.size()` bytes made for it.
unsafe fn fill_vmctx(inner: &Rc<InstanceInner>, controls: &Controls) -> Result<()> {
    let info = &inner.module.inner.info;
    let code = inner.module.inner.code_for(inner.flavour);
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
            stack_limit: crate::runtime::entry::thread_stack_limit(),
            owner: Rc::as_ptr(inner).cast(),
            builtins: crate::runtime::libcalls::builtins_table(),
        };
        *inner.vm_controls() = VMControls {
            interrupt_due: std::sync::atomic::AtomicU64::new(0),
            fuel: controls.fuel.map_or(0, |fuel| i64::try_from(fuel).unwrap_or(i64::MAX)),
        };
        if let Some(state) = &inner.controls.interrupts {
            // SAFETY (attach): the word lives as long as the vmctx, and `InstanceInner::drop`
            // detaches it before freeing the vmctx.
            state.attach(&(*inner.vm_controls()).interrupt_due);
        }
        for (index, id) in inner.module.inner.type_ids.iter().enumerate() {
            *at(offsets.type_id(index as u32)).cast::<u32>() = *id;
        }
        for (i, memory) in inner.memories.iter().enumerate() {
            *at(offsets.memory_pointer(i as u32)).cast::<usize>() = memory.definition() as usize;
        }
        for (i, global) in inner.globals.iter().enumerate() {
            *at(offsets.global_pointer(i as u32)).cast::<usize>() = global.storage() as usize;
        }
        for (i, table) in inner.tables.iter().enumerate() {
            *at(offsets.table_pointer(i as u32)).cast::<usize>() = table.definition() as usize;
        }
        for (i, tag) in inner.tags.iter().enumerate() {
            *at(offsets.tag_pointer(i as u32)).cast::<*const VMTag>() = tag.vm_tag();
        }
        for (i, func) in inner.imported_funcs.iter().enumerate() {
            *at(offsets.imported_func_ref_pointer(i as u32)).cast::<*const VMFuncRef>() = func.vm_func_ref();
            let source = &*func.vm_func_ref();
            *at(offsets.func_ref(i as u32)).cast::<VMFuncRef>() = VMFuncRef {
                wasm_call: VMFuncRef::load_wasm_call(source),
                array_call: source.array_call,
                vmctx: source.vmctx,
                type_id: source.type_id,
                func_index: source.func_index,
            };
        }
        for defined in info.defined_funcs() {
            let index = info.func_index(defined).as_u32();
            let type_index = info.funcs[index as usize] as usize;
            let type_id = inner.module.inner.type_ids[type_index];
            let defined = defined.index();
            *at(offsets.func_ref(index)).cast::<VMFuncRef>() = VMFuncRef {
                wasm_call: code.entry(defined) as *const u8,
                array_call: inner.module.inner.trampolines[type_index].array_call,
                vmctx: vmctx.cast(),
                type_id,
                func_index: index,
            };
        }
    }
    Ok(())
}

fn eval_const(expr: &ConstExpr, globals: &[Global]) -> Val {
    match *expr {
        ConstExpr::I32(v) => Val::I32(v),
        ConstExpr::I64(v) => Val::I64(v),
        ConstExpr::F32(v) => Val::F32(v),
        ConstExpr::F64(v) => Val::F64(v),
        ConstExpr::V128(v) => Val::V128(v),
        ConstExpr::RefNull => Val::FuncRef(None),
        ConstExpr::GlobalGet(g) => globals[g as usize].get(),
        ConstExpr::RefFunc(_) => Val::FuncRef(None),
        ConstExpr::Extended(ref ops) => eval_extended(ops, globals),
    }
}

/// Evaluates an extended constant expression on a stack. Validation guarantees the operand
/// types and that one value is left; the arithmetic wraps, as the instructions do.
fn eval_extended(ops: &[ConstOp], globals: &[Global]) -> Val {
    let mut stack: Vec<Val> = Vec::with_capacity(ops.len());
    for op in ops {
        let value = match *op {
            ConstOp::I32(v) => Val::I32(v),
            ConstOp::I64(v) => Val::I64(v),
            ConstOp::GlobalGet(g) => globals[g as usize].get(),
            arithmetic => {
                let rhs = stack.pop().expect("validated");
                let lhs = stack.pop().expect("validated");
                match (arithmetic, lhs, rhs) {
                    (ConstOp::I32Add, Val::I32(a), Val::I32(b)) => Val::I32(a.wrapping_add(b)),
                    (ConstOp::I32Sub, Val::I32(a), Val::I32(b)) => Val::I32(a.wrapping_sub(b)),
                    (ConstOp::I32Mul, Val::I32(a), Val::I32(b)) => Val::I32(a.wrapping_mul(b)),
                    (ConstOp::I64Add, Val::I64(a), Val::I64(b)) => Val::I64(a.wrapping_add(b)),
                    (ConstOp::I64Sub, Val::I64(a), Val::I64(b)) => Val::I64(a.wrapping_sub(b)),
                    (ConstOp::I64Mul, Val::I64(a), Val::I64(b)) => Val::I64(a.wrapping_mul(b)),
                    _ => unreachable!("validated constant expression"),
                }
            }
        };
        stack.push(value);
    }
    stack.pop().expect("validated")
}

/// A segment's offset: an `i32` (zero-extended) for 32-bit memories and tables, an `i64` for
/// 64-bit ones.
fn const_address(expr: &ConstExpr, globals: &[Global]) -> u64 {
    match eval_const(expr, globals) {
        Val::I32(v) => u64::from(v as u32),
        Val::I64(v) => v as u64,
        _ => unreachable!("validated offset expression"),
    }
}
