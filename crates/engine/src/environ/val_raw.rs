//! `ValRaw`: the untyped 16-byte slot that trampolines read arguments from and write
//! results to (the "array ABI"), and the layout of a global's storage. Shared by the
//! runtime, which passes slots to compiled code, and the API, which types them (`Val`).
#![forbid(unsafe_code)]

/// One untyped value slot: 16 bytes, little-endian, the low bytes holding scalars.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct ValRaw([u8; 16]);

impl ValRaw {
    /// Slot holding an `i32`.
    pub fn i32(v: i32) -> Self {
        Self::u64(v as u32 as u64)
    }
    /// Slot holding an `i64`.
    pub fn i64(v: i64) -> Self {
        Self::u64(v as u64)
    }
    /// Slot holding 32 bits (an `f32`'s bit pattern).
    pub fn u32(v: u32) -> Self {
        Self::u64(v as u64)
    }
    /// Slot holding 64 bits (an `f64`'s bit pattern).
    pub fn u64(v: u64) -> Self {
        Self::v128(v as u128)
    }
    /// Slot holding a `v128`.
    pub fn v128(v: u128) -> Self {
        ValRaw(v.to_le_bytes())
    }
    /// Slot holding a pointer-sized reference.
    pub fn ptr(v: usize) -> Self {
        Self::u64(v as u64)
    }
    /// The `i32` in this slot.
    pub fn get_i32(&self) -> i32 {
        self.get_u32() as i32
    }
    /// The `i64` in this slot.
    pub fn get_i64(&self) -> i64 {
        self.get_u64() as i64
    }
    /// The low 32 bits.
    pub fn get_u32(&self) -> u32 {
        u32::from_le_bytes(self.0[..4].try_into().unwrap())
    }
    /// The low 64 bits.
    pub fn get_u64(&self) -> u64 {
        u64::from_le_bytes(self.0[..8].try_into().unwrap())
    }
    /// All 128 bits.
    pub fn get_v128(&self) -> u128 {
        u128::from_le_bytes(self.0)
    }
    /// The pointer-sized reference.
    pub fn get_ptr(&self) -> usize {
        self.get_u64() as usize
    }
}

impl std::fmt::Debug for ValRaw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ValRaw({:#x})", self.get_v128())
    }
}
