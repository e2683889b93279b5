//! Canonical function types: the engine-wide ids that `call_indirect`, `call_ref`'s callers,
//! linking and the host compare, following the iso-recursive rules of the GC proposal's type
//! system (as Wasmtime's `type_registry.rs`). Two types get the same id exactly when they
//! are at the same position of structurally equal recursion groups, where a reference to a
//! type of the same group is compared by its position in the group and a reference to an
//! earlier group by that type's id. So `(rec (type $t (func (param (ref $t)))))` of one
//! module and of another share an id, while `(type (func (param (ref $u))))` does not share
//! one with the recursive `$u` even though both read `func (param (ref id))` once registered.
//!
//! Ids are dense and never reused: the registry lives as long as its engine. The engine
//! (`engine.rs`) keeps it behind its lock and makes trampolines for each new id.
#![forbid(unsafe_code)]

use crate::environ::info::ModuleInfo;
use crate::environ::types::{FuncType, HeapType};
use std::collections::HashMap;

/// A recursion group as the registry compares it: each type's finality and signature, with
/// references inside the group as `HeapType::Concrete(position in the group)` and
/// references to earlier groups as `HeapType::Registered(id)`.
type GroupKey = Vec<(bool, FuncType)>;

/// The engine-wide function types.
#[derive(Default)]
pub(crate) struct TypeRegistry {
    /// The first id of each registered group (its types have consecutive ids).
    groups: HashMap<GroupKey, u32>,
    /// Every registered type by id, in its registered form (`HeapType::Registered` only,
    /// with its own id).
    types: Vec<FuncType>,
}

impl TypeRegistry {
    /// The ids of `module`'s types, by type index, registering the groups not seen before.
    /// Returns the ids and the range of ids that are new (for which trampolines are needed).
    pub fn register_module(&mut self, module: &ModuleInfo) -> (Vec<u32>, std::ops::Range<u32>) {
        let first_new = self.types.len() as u32;
        let mut ids: Vec<u32> = Vec::with_capacity(module.types.len());
        for group in &module.rec_groups {
            let start = group.start;
            let key: GroupKey = (group.start..group.end)
                .map(|index| {
                    let ty = module.types[index as usize].map_concrete(|referenced| {
                        if referenced >= start {
                            HeapType::Concrete(referenced - start)
                        } else {
                            HeapType::Registered(ids[referenced as usize])
                        }
                    });
                    (module.final_types[index as usize], ty)
                })
                .collect();
            let first = self.register_group(key);
            ids.extend((0..group.len() as u32).map(|i| first + i));
        }
        (ids, first_new..self.types.len() as u32)
    }

    /// The id of a type that is not a module's: its own singleton group, final. (A type the
    /// registry handed out carries its id, which is used instead.)
    pub fn register_single(&mut self, ty: &FuncType) -> (u32, std::ops::Range<u32>) {
        if let Some(id) = ty.registered_id() {
            return (id, id..id);
        }
        let first_new = self.types.len() as u32;
        let id = self.register_group(vec![(true, ty.clone())]);
        (id, first_new..self.types.len() as u32)
    }

    fn register_group(&mut self, key: GroupKey) -> u32 {
        if let Some(first) = self.groups.get(&key) {
            return *first;
        }
        let first = self.types.len() as u32;
        for (position, (_, ty)) in key.iter().enumerate() {
            let registered =
                ty.map_concrete(|i| HeapType::Registered(first + i)).with_registered_id(first + position as u32);
            self.types.push(registered);
        }
        self.groups.insert(key, first);
        first
    }

    /// The registered form of type `id`.
    pub fn get(&self, id: u32) -> &FuncType {
        &self.types[id as usize]
    }
}
