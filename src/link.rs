//! Link ids: how `instantiate` finds the engine object behind a `Memory`, `Table` or
//! `Global` import. `index.js` passes the id of the native object instead of the object,
//! because napi-rs cannot unwrap class instances that arrive inside an array.

use crate::id_hash::IdMap;
use heron_engine::Extern;
use std::cell::{Cell, RefCell};

thread_local! {
    static BY_LINK_ID: RefCell<IdMap<u32, Extern>> = RefCell::new(IdMap::default());
    static NEXT_LINK_ID: Cell<u32> = const { Cell::new(1) };
}

/// Registers `value` on this thread and returns its new id.
pub(crate) fn register(value: Extern) -> u32 {
    let id = NEXT_LINK_ID.with(|next| {
        let id = next.get();
        next.set(id.wrapping_add(1).max(1));
        id
    });
    BY_LINK_ID.with(|map| map.borrow_mut().insert(id, value));
    id
}

/// The object registered under `id`, if its native wrapper is still alive.
pub(crate) fn lookup(id: u32) -> Option<Extern> {
    BY_LINK_ID.with(|map| map.borrow().get(&id).cloned())
}

/// Forgets `id`; called when its native wrapper is finalized.
pub(crate) fn unregister(id: u32) {
    BY_LINK_ID.with(|map| map.borrow_mut().remove(&id));
}
