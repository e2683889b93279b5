//! Functions: `Func`, a callable handle to a wasm or host function, and `HostFunc`, a host
//! closure dressed with a context and a `VMFuncRef` so compiled code calls it like any
//! other function.

use crate::engine::Engine;
use crate::environ::error::{Error, HostError, Result};
use crate::environ::types::{FuncType, ValType};
use crate::environ::val_raw::ValRaw;
use crate::environ::vmctx::{VMContextHeader, VMFuncRef, HOST_CONTEXT_MAGIC, VMCONTEXT_MAGIC};
use crate::runtime::entry::{self, Unwind};
use crate::runtime::instance::InstanceInner;
use crate::runtime::libcalls;
use crate::runtime::store::Store;
use crate::values::Val;
use std::rc::Rc;
use std::sync::Arc;

/// The host side of a function: reads its arguments from and writes its results to the
/// slots (sized max(params, results, 1)).
pub type HostCallback = dyn Fn(&mut [ValRaw]) -> std::result::Result<(), HostError>;

/// A function that can be called from the host or stored in a table. Cheap to clone.
#[derive(Clone)]
pub struct Func {
    /// The function's canonical `VMFuncRef` (see `vmctx.rs`): its identity.
    func_ref: *const VMFuncRef,
    owner: FuncOwner,
    /// Whether a parameter is a `funcref` (which `call_raw` must then add to the callee's
    /// store); kept here so calls need not look up the signature.
    funcref_params: bool,
}

/// What keeps a `VMFuncRef` alive.
#[derive(Clone)]
pub(crate) enum FuncOwner {
    /// A function of an instance. The store handle keeps alive everything the function can
    /// reach (see `store.rs`); it is `None` only in the handles an instance keeps of its own
    /// imports, which its store already covers.
    Instance(Rc<InstanceInner>, Option<Store>),
    Host(Arc<HostFunc>),
}

/// A host function with everything compiled code needs to call it.
pub(crate) struct HostFunc {
    /// The context compiled code passes as `vmctx`; its `owner` points to this struct.
    header: VMContextHeader,
    func_ref: VMFuncRef,
    ty: FuncType,
    /// max(params, results, 1): the slots the trampoline passes, computed once.
    slots: usize,
    /// Whether a result is a `funcref` (which must then join the caller's store), computed
    /// once so calls returning none skip the check.
    returns_funcrefs: bool,
    callback: Box<HostCallback>,
}

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Func({:p})", self.func_ref)
    }
}

impl HostFunc {
    #[inline]
    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    pub(crate) fn invoke(&self, values: &mut [ValRaw]) -> std::result::Result<(), HostError> {
        (self.callback)(values)
    }

    /// After a call from wasm: the funcrefs this function returned join the store of the wasm
    /// function that was entered, which is the store of all wasm code running in this entry
    /// (see `store.rs`), since that code may keep them.
    #[inline]
    pub(crate) fn retain_results(&self, values: &[ValRaw]) {
        if self.returns_funcrefs {
            retain_returned_funcrefs(self.ty.results(), values);
        }
    }
}

/// After a host function returned to wasm: the funcrefs among `values` (typed by `results`)
/// join the store of the wasm function that was entered, which is the store of all wasm code
/// running in this entry (see `store.rs`), since that code may keep them. The functions must
/// still be alive.
fn retain_returned_funcrefs(results: &[ValType], values: &[ValRaw]) {
    if !results.iter().any(|t| t.is_func_ref()) {
        return;
    }
    // SAFETY: the entered function is alive while the entry runs, and is canonical.
    let entered = crate::runtime::entry::entered_func().and_then(|f| unsafe { Func::from_vm_func_ref(f) });
    let Some(store) = entered.and_then(|f| f.store()) else {
        return;
    };
    for (ty, raw) in results.iter().zip(values) {
        if ty.is_func_ref() {
            // SAFETY: the caller guarantees the functions are alive; funcref values written by
            // compiled code or by `Val::to_raw` are canonical `VMFuncRef`s.
            if let Some(func) = unsafe { Func::from_vm_func_ref(raw.get_ptr() as *const VMFuncRef) } {
                store.retain(&func);
            }
        }
    }
}

impl Func {
    /// A host function of type `ty`. `callback` receives the arguments and fills the
    /// results slice (pre-sized to the result count).
    pub fn new(
        engine: &Engine,
        ty: FuncType,
        callback: impl Fn(&[Val], &mut [Val]) -> std::result::Result<(), HostError> + 'static,
    ) -> Func {
        let signature = ty.clone();
        Func::new_raw(engine, ty, move |slots| {
            let args: Vec<Val> = signature
                .params()
                .iter()
                .zip(slots.iter())
                .map(|(t, raw)| {
                    // SAFETY: wasm passed arguments of the signature's types; its funcrefs are
                    // canonical and alive (the caller's store holds them) during the call.
                    unsafe { Val::from_raw(*raw, *t) }
                })
                .collect();
            let mut results: Vec<Val> = signature.results().iter().map(|t| Val::default_for(*t)).collect();
            callback(&args, &mut results)?;
            for ((slot, value), ty) in slots.iter_mut().zip(&results).zip(signature.results()) {
                if !value.matches(*ty) {
                    return Err(HostError::new(format!("host function returned a {} for a {ty} result", value.ty())));
                }
                *slot = value.to_raw();
            }
            // While `results` still holds the functions: once it is dropped, a function whose
            // last handle it was (say, of an instance the callback made) would be freed before
            // `host_call` could add it to the caller's store.
            retain_returned_funcrefs(signature.results(), slots);
            Ok(())
        })
    }

    /// A host function working on raw slots: the fast path for embedders that convert
    /// values themselves. Functions whose funcrefs the callback writes to the result slots
    /// must stay alive until it has returned (wasm's store then keeps them).
    pub fn new_raw(
        engine: &Engine,
        ty: FuncType,
        callback: impl Fn(&mut [ValRaw]) -> std::result::Result<(), HostError> + 'static,
    ) -> Func {
        let type_id = engine.register_signature(&ty).expect("signature registration only fails on absurd counts");
        let trampolines = engine.trampolines(type_id);
        let ty = engine.registered_type(type_id);
        let host = Arc::new_cyclic(|weak: &std::sync::Weak<HostFunc>| {
            let this = weak.as_ptr();
            // SAFETY: only the address is taken; new_cyclic places the value there.
            let header_address = unsafe { std::ptr::addr_of!((*this).header) };
            HostFunc {
                header: VMContextHeader {
                    magic: HOST_CONTEXT_MAGIC,
                    _pad: 0,
                    stack_limit: 0,
                    owner: this.cast(),
                    builtins: libcalls::builtins_table(),
                },
                func_ref: VMFuncRef {
                    wasm_call: trampolines.host_call,
                    array_call: trampolines.array_call,
                    vmctx: header_address.cast_mut(),
                    type_id,
                    func_index: 0,
                },
                slots: ty.params().len().max(ty.results().len()).max(1),
                returns_funcrefs: ty.results().iter().any(|t| t.is_func_ref()),
                ty,
                callback: Box::new(callback),
            }
        });
        Func { func_ref: &host.func_ref, owner: FuncOwner::Host(host), funcref_params: false }
    }

    /// A handle to function `func_ref` (canonical) of an instance, keeping `store` alive.
    pub(crate) fn from_instance(instance: Rc<InstanceInner>, func_ref: *const VMFuncRef, store: Option<Store>) -> Func {
        let funcref_params = instance.func_type_of(func_ref).params().iter().any(|t| t.is_func_ref());
        Func { func_ref, owner: FuncOwner::Instance(instance, store), funcref_params }
    }

    /// This handle with its store handle replaced by `store` (`None`: for an instance's own
    /// record of its imports, which must not keep its store alive).
    pub(crate) fn with_store(&self, store: Option<Store>) -> Func {
        match &self.owner {
            FuncOwner::Instance(instance, _) => Func {
                func_ref: self.func_ref,
                owner: FuncOwner::Instance(instance.clone(), store),
                funcref_params: self.funcref_params,
            },
            FuncOwner::Host(_) => self.clone(),
        }
    }

    /// The store of a wasm function; `None` for a host function.
    pub(crate) fn store(&self) -> Option<Store> {
        match &self.owner {
            FuncOwner::Instance(_, Some(store)) => Some(store.clone()),
            FuncOwner::Instance(instance, None) => Some(instance.store_link().get()),
            FuncOwner::Host(_) => None,
        }
    }

    /// The host function behind this handle, if it is one.
    pub(crate) fn host(&self) -> Option<&Arc<HostFunc>> {
        match &self.owner {
            FuncOwner::Host(host) => Some(host),
            FuncOwner::Instance(..) => None,
        }
    }

    /// Recovers a handle from a funcref value (null gives `None`).
    ///
    /// # Safety
    /// `func_ref` must be null or the canonical `VMFuncRef` of a live function of this engine
    /// (an instance's or a host function's): the owner is found through its context.
    pub(crate) unsafe fn from_vm_func_ref(func_ref: *const VMFuncRef) -> Option<Func> {
        if func_ref.is_null() {
            return None;
        }
        // SAFETY: per this function's contract, a VMFuncRef of a live instance or host
        // function (whoever holds the value keeps it alive); its context header says which,
        // and its owner field is the address inside that owner's Rc (an instance) or Arc (a
        // host function).
        unsafe {
            let header = &*(*func_ref).vmctx;
            let owner = match header.magic {
                VMCONTEXT_MAGIC => {
                    let instance = header.owner.cast::<InstanceInner>();
                    Rc::increment_strong_count(instance);
                    let instance = Rc::from_raw(instance);
                    let store = instance.store_link().get();
                    FuncOwner::Instance(instance, Some(store))
                }
                HOST_CONTEXT_MAGIC => {
                    let host = header.owner.cast::<HostFunc>();
                    Arc::increment_strong_count(host);
                    FuncOwner::Host(Arc::from_raw(host))
                }
                _ => return None,
            };
            let funcref_params = match &owner {
                FuncOwner::Instance(instance, _) => {
                    instance.func_type_of(func_ref).params().iter().any(|t| t.is_func_ref())
                }
                FuncOwner::Host(_) => false,
            };
            Some(Func { func_ref, owner, funcref_params })
        }
    }

    /// The function's signature.
    pub fn ty(&self) -> &FuncType {
        match &self.owner {
            FuncOwner::Host(host) => &host.ty,
            FuncOwner::Instance(instance, _) => instance.func_type_of(self.func_ref),
        }
    }

    /// The engine-wide id of the function's type (see [`FuncType::registered_id`]).
    pub fn type_id(&self) -> u32 {
        // SAFETY: `self` keeps its `VMFuncRef` alive; `type_id` never changes once made.
        unsafe { (*self.func_ref).type_id }
    }

    pub(crate) fn vm_func_ref(&self) -> *const VMFuncRef {
        self.func_ref
    }

    /// A number identifying this function among the live ones (stable while any handle lives).
    pub fn id(&self) -> usize {
        self.func_ref as usize
    }

    /// The function's index in the function index space of the instance that defines it;
    /// `None` for host functions.
    pub fn index(&self) -> Option<u32> {
        match &self.owner {
            FuncOwner::Instance(instance, _) => instance.func_index_of(self.func_ref),
            FuncOwner::Host(_) => None,
        }
    }

    /// Whether two handles name the same function.
    pub fn same(&self, other: &Func) -> bool {
        std::ptr::eq(self.func_ref, other.func_ref)
    }

    /// Calls the function with type-checked arguments.
    pub fn call(&self, args: &[Val]) -> Result<Vec<Val>> {
        let ty = self.ty().clone();
        if args.len() != ty.params().len() || args.iter().zip(ty.params()).any(|(a, t)| !a.matches(*t)) {
            return Err(Error::Link(format!("arguments do not match the signature {ty}")));
        }
        let mut slots: Vec<ValRaw> = args.iter().map(Val::to_raw).collect();
        slots.resize(ty.params().len().max(ty.results().len()).max(1), ValRaw::default());
        // SAFETY: the slots were checked against the signature and sized for the results.
        unsafe { self.call_raw(&mut slots)? };
        // SAFETY: the callee wrote results of its signature's types; its funcrefs are alive,
        // held by the callee's store, which `self` keeps alive.
        Ok(ty.results().iter().zip(slots).map(|(t, raw)| unsafe { Val::from_raw(raw, *t) }).collect())
    }

    /// Whether calls of this function run optimized code now: false while it runs code of
    /// the baseline compiler or is not compiled yet (see [`crate::Compilation`]). True for
    /// host functions.
    pub fn runs_optimized_code(&self) -> bool {
        match &self.owner {
            FuncOwner::Instance(instance, _) => instance.runs_optimized_code(self.func_ref),
            FuncOwner::Host(_) => true,
        }
    }

    /// Calls the function on raw slots: the arguments in, the results out.
    ///
    /// # Safety
    /// `slots` must hold at least max(params, results) slots and begin with the arguments,
    /// each of its parameter's type (funcrefs pointing to live functions).
    #[inline]
    pub unsafe fn call_raw(&self, slots: &mut [ValRaw]) -> Result<()> {
        if let (true, FuncOwner::Instance(instance, _)) = (self.funcref_params, &self.owner) {
            let params = self.ty().params();
            {
                // The callee may store its funcref arguments: they join its store.
                let store = instance.store_link().get();
                for (ty, raw) in params.iter().zip(slots.iter()) {
                    if ty.is_func_ref() {
                        // SAFETY: this function's contract: funcref arguments point to live
                        // functions.
                        if let Some(func) = unsafe { Func::from_vm_func_ref(raw.get_ptr() as *const VMFuncRef) } {
                            store.retain(&func);
                        }
                    }
                }
            }
        }
        // Deadlines and interrupts: one predictable branch for instances without them.
        let _controls = match &self.owner {
            FuncOwner::Instance(instance, _) if instance.has_interrupts() => Some(instance.controls().enter()),
            _ => None,
        };
        // SAFETY: `self` keeps the function alive; the slots are as the caller guarantees.
        match unsafe { entry::call(self.func_ref, slots.as_mut_ptr()) } {
            Ok(()) => Ok(()),
            Err(Unwind::Trap(trap)) => Err(Error::Trap(trap)),
            Err(Unwind::Host(error)) => Err(Error::Host(error)),
            Err(Unwind::Exception(exception)) => Err(Error::Exception(exception)),
        }
    }
}
