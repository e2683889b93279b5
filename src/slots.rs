//! The call slots: the memory through which an exported function on the numeric fast path
//! (see `export.rs`) passes its arguments, its results and its index in the thread's export
//! table, with no N-API call. This file is the one place that knows their layout: `index.js`
//! gets it from `setExportSupport` (`layout_object`) and builds its typed-array views and
//! wrapper source from that.
//!
//! Layout: `SLOT_COUNT` value slots of `SLOT_BYTES` bytes, slot `i` holding parameter or
//! result `i` in its low bytes (little-endian, as `Int32Array`, `BigInt64Array`,
//! `Float32Array` and `Float64Array` store them), then the function index as a `u32`.
//!
//! JavaScript can write any bytes here at any time (even from another thread, had it
//! transferred the buffer), so Rust reads and writes the slots only with atomic accesses,
//! and treats what it reads as untrusted: numbers of any bit pattern, and an index it
//! checks against the export table. The memory is never freed, so no JS action on the
//! ArrayBuffer (transfer, detach) can leave Rust or JS pointing at freed memory.

use crate::error::Pending;
use crate::external::external_buffer;
use crate::napi_raw::{Env, Value};
use heron_engine::{ValRaw, ValType};
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Signatures of numbers with at most this many parameters and results take the fast path.
pub(crate) const SLOT_COUNT: usize = 16;
/// Bytes per value slot: the 64 bits of an i32, i64, f32 or f64.
const SLOT_BYTES: usize = size_of::<AtomicU64>();

/// One thread's call slots.
#[repr(C, align(8))]
pub(crate) struct CallSlots {
    values: [AtomicU64; SLOT_COUNT],
    /// The calling function's index in the export table (and 4 unused bytes, so the size
    /// stays a multiple of 8 with no padding: `Float64Array` views need that).
    index: [AtomicU32; 2],
}

/// Where the function index goes, in bytes from the start.
const INDEX_OFFSET: usize = offset_of!(CallSlots, index);
const BUFFER_BYTES: usize = size_of::<CallSlots>();
const _: () = assert!(INDEX_OFFSET == SLOT_COUNT * SLOT_BYTES && BUFFER_BYTES.is_multiple_of(8));

/// Whether values of numeric type `ty` take 4 bytes of their slot (i32, f32) rather than 8.
#[inline(always)]
fn is_narrow(ty: ValType) -> bool {
    matches!(ty, ValType::I32 | ValType::F32)
}

/// The low 4 bytes of a value slot (the little-endian low half of its 64 bits).
#[inline(always)]
fn low_half(slot: &AtomicU64) -> &AtomicU32 {
    // SAFETY: the pointer is to the slot's first 4 bytes, 8-aligned, valid as long as the
    // borrowed slot; both views are atomics of this thread, whose accesses are sequenced
    // one after another (the slots are touched only by the thread that registered them,
    // and by JS code, which Rust treats as untrusted bits either way).
    unsafe { AtomicU32::from_ptr(slot.as_ptr().cast::<u32>()) }
}

impl CallSlots {
    /// New slots that live as long as the process (one set per thread that registers).
    pub(crate) fn leak() -> &'static CallSlots {
        Box::leak(Box::new(CallSlots {
            values: std::array::from_fn(|_| AtomicU64::new(0)),
            index: [AtomicU32::new(0), AtomicU32::new(0)],
        }))
    }

    /// The function index the caller wrote (untrusted).
    #[inline(always)]
    pub(crate) fn function_index(&self) -> u32 {
        self.index[0].load(Relaxed)
    }

    /// Copies the first `types.len()` slots out as values of those numeric types (any bits
    /// are a valid number).
    ///
    /// Each value is read with its own width, as JS wrote it (`Int32Array` and
    /// `Float32Array` stores are 4 bytes): an 8-byte load of 4 freshly stored bytes cannot
    /// be forwarded from the store and waits for it to reach the cache, every call.
    #[inline(always)]
    pub(crate) fn read_values(&self, values: &mut [ValRaw], types: &[ValType]) {
        for ((value, slot), ty) in values.iter_mut().zip(&self.values).zip(types) {
            *value = if is_narrow(*ty) {
                ValRaw::u32(low_half(slot).load(Relaxed))
            } else {
                ValRaw::u64(slot.load(Relaxed))
            };
        }
    }

    /// Writes `values`, of the numeric `types`, to the first slots, each with its own width
    /// (as compiled code stored it in `values`, and as JS reads it back).
    #[inline(always)]
    pub(crate) fn write_values(&self, values: &[ValRaw], types: &[ValType]) {
        for ((value, slot), ty) in values.iter().zip(&self.values).zip(types) {
            if is_narrow(*ty) {
                low_half(slot).store(value.get_u32(), Relaxed);
            } else {
                slot.store(value.get_u64(), Relaxed);
            }
        }
    }

    /// `{ buffer, slotCount, slotBytes, indexOffset }`: an ArrayBuffer over these slots and
    /// their layout, for `index.js`.
    pub(crate) fn layout_object(&'static self, env: Env) -> Result<Value, Pending> {
        let data = (self as *const CallSlots).cast_mut().cast::<u8>();
        // SAFETY: the bytes are leaked, so valid for ever; all of them sit in atomics (no
        // padding), whose interior mutability allows the writes JS makes through the buffer.
        let buffer = unsafe { external_buffer(env.raw(), data, BUFFER_BYTES, ()) }.map_err(|_| Pending)?;
        let object = env.object().ok_or(Pending)?;
        env.set_named(object, c"buffer", Value(buffer))?;
        env.set_named(object, c"slotCount", env.uint32(SLOT_COUNT as u32))?;
        env.set_named(object, c"slotBytes", env.uint32(SLOT_BYTES as u32))?;
        env.set_named(object, c"indexOffset", env.uint32(INDEX_OFFSET as u32))?;
        Ok(object)
    }
}
