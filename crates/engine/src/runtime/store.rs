//! Stores: the unit of lifetime of instances and of the funcref tables and globals they
//! share. heron has no user-visible store (the JS API has none); instances join one
//! implicitly when they are linked together.
//!
//! # Why
//!
//! A funcref is a raw `*const VMFuncRef` in a table slot, a global or a register; calling it
//! needs the defining instance's vmctx and code to be alive. Plain reference counting cannot
//! express that: an instance must keep its tables alive (its code indexes them) and a table
//! must keep alive the instances whose functions it holds, including its own defining
//! instance once the table is exported and outlives the instance handle. That is a cycle.
//!
//! # Design
//!
//! - A *store* owns (strongly) every instance that joined it, and every host function that the
//!   host stored into one of its tables or globals. Nothing a store owns holds a store handle:
//!   instances keep their tables, globals, memories and imported functions through the plain
//!   inner `Rc`s (handles with no store), and find their store through a weak link.
//! - Every handle the embedder gets that can reach funcrefs holds a [`Store`] handle:
//!   `Instance`, a wasm `Func`, and `Table` / `Global` handles of funcref type. The store, and
//!   everything in it, is freed when the last such handle goes. Memories and host functions
//!   hold no funcrefs and need no store.
//! - Linking merges stores (union-find: the smaller root points to the larger, its members
//!   move over). An instance joins the merge of the stores of everything it imports that can
//!   carry funcrefs (functions of other instances, funcref tables, funcref globals), or a new
//!   store. The host storing a function into a table or global merges the function's store
//!   into the container's (a host function is kept in the container's store instead).
//!   Calling a wasm function with funcref arguments merges their stores into the callee's,
//!   and funcrefs that a host function returns to wasm go into the store of the wasm
//!   function that was entered (see `libcalls::host_call`).
//! - Hence the invariant: *every funcref that compiled code of an instance can see belongs to
//!   that instance's store* (its own functions, its imports, values read from its tables and
//!   globals, arguments and host results are all merged in). So compiled code and libcalls
//!   store funcrefs into tables and globals (`table.set`, `global.set`, `table.fill`,
//!   `table.grow`, `table.copy`, `table.init`, element segments) without any bookkeeping, and
//!   retaining is O(1) (amortised) on the host paths.
//! - Parent links point from merged stores to their root only, and members never point to a
//!   store strongly, so there are no reference cycles: a loop that creates and drops
//!   instances frees each one, with its vmctx, memories (unmapped), tables and code.
//!
//! The cost of the scheme is coarseness: everything linked together lives as long as the
//! longest-lived handle into any of it (as with Wasmtime's `Store`). For example, instances
//! importing functions from one long-lived instance stay alive with it.
//!
//! Stores are single-threaded (`Rc`), like the handles that hold them.

use crate::func::{Func, HostFunc};
use crate::runtime::instance::InstanceInner;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;

/// A handle that keeps a store, and everything it owns, alive.
#[derive(Clone)]
pub(crate) struct Store(Rc<StoreNode>);

struct StoreNode {
    /// The store this one was merged into; `None` for a root. Only roots own members.
    parent: RefCell<Option<Rc<StoreNode>>>,
    /// Number of stores merged into this root, itself included (union by size).
    size: Cell<usize>,
    members: RefCell<Members>,
}

#[derive(Default)]
struct Members {
    instances: Vec<Rc<InstanceInner>>,
    /// Host functions stored by the host into this store's tables and globals, by address.
    host_funcs: HashMap<usize, Arc<HostFunc>>,
}

/// An instance's link to its store: weak, since the store owns the instance. Always points
/// to the root (merges update it).
#[derive(Default)]
pub(crate) struct StoreLink(RefCell<Weak<StoreNode>>);

impl StoreLink {
    /// The store of a live instance.
    pub(crate) fn get(&self) -> Store {
        // A live instance is owned by its store's root, so the root is alive too.
        Store(self.0.borrow().upgrade().expect("a live instance's store is alive"))
    }
}

impl Store {
    /// A new, empty store.
    pub(crate) fn new() -> Store {
        Store(Rc::new(StoreNode { parent: RefCell::new(None), size: Cell::new(1), members: RefCell::default() }))
    }

    fn root(&self) -> Rc<StoreNode> {
        let mut node = self.0.clone();
        loop {
            let parent = node.parent.borrow().clone();
            match parent {
                Some(parent) => node = parent,
                None => return node,
            }
        }
    }

    /// Whether the two handles lead to the same store.
    #[cfg(test)]
    pub(crate) fn same(&self, other: &Store) -> bool {
        Rc::ptr_eq(&self.root(), &other.root())
    }

    /// Makes `instance` a member, owned by this store until it is freed.
    pub(crate) fn add_instance(&self, instance: Rc<InstanceInner>) {
        let root = self.root();
        *instance.store_link().0.borrow_mut() = Rc::downgrade(&root);
        root.members.borrow_mut().instances.push(instance);
    }

    /// Merges `other` into this store: afterwards both handles keep the union alive.
    pub(crate) fn merge(&self, other: &Store) {
        let (a, b) = (self.root(), other.root());
        if Rc::ptr_eq(&a, &b) {
            return;
        }
        let (root, child) = if a.size.get() >= b.size.get() { (a, b) } else { (b, a) };
        let moved = std::mem::take(&mut *child.members.borrow_mut());
        let mut members = root.members.borrow_mut();
        for instance in &moved.instances {
            *instance.store_link().0.borrow_mut() = Rc::downgrade(&root);
        }
        members.instances.extend(moved.instances);
        members.host_funcs.extend(moved.host_funcs);
        drop(members);
        root.size.set(root.size.get() + child.size.get());
        *child.parent.borrow_mut() = Some(root);
    }

    /// Keeps `func` alive as long as this store: merges its store in, or owns the host
    /// function.
    pub(crate) fn retain(&self, func: &Func) {
        if let Some(store) = func.store() {
            self.merge(&store);
        } else if let Some(host) = func.host() {
            let root = self.root();
            let mut members = root.members.borrow_mut();
            members.host_funcs.entry(Arc::as_ptr(host) as usize).or_insert_with(|| host.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_stores_share_one_root_and_stay_alive_through_any_handle() {
        let stores: Vec<Store> = (0..5).map(|_| Store::new()).collect();
        stores[0].merge(&stores[1]);
        stores[2].merge(&stores[3]);
        stores[3].merge(&stores[1]);
        assert!(stores[0].same(&stores[2]));
        assert!(!stores[0].same(&stores[4]));
        let root = stores[0].root();
        assert_eq!(root.size.get(), 4);
        let weak = Rc::downgrade(&root);
        drop(root);
        let mut stores = stores;
        let last = stores.remove(3);
        drop(stores);
        assert!(weak.upgrade().is_some(), "a handle to a merged store keeps the root alive");
        drop(last);
        assert!(weak.upgrade().is_none(), "no handle left, no store left");
    }
}
