//! Copy-on-write images of a module's initial memories, after Wasmtime's `memory_init_cow`.
//!
//! When every active data segment of a module writes a constant range of a memory the
//! module defines, inside its initial size, the bytes the segments leave in each memory are
//! known before any instance exists. They are written once per module into a sealed
//! in-memory file (`sys::sealed_memfd`), and each instance maps that file privately over its
//! memory's first pages (`Memory::map_image`) instead of copying the segments: pages are
//! shared until written, and untouched ones cost nothing.
//!
//! Anything else (an imported memory, an offset read from a global, a segment past the
//! initial size that must trap, a very sparse image, images of a few pages only, which are
//! cheaper to copy than to map) makes the module's segments be copied
//! at instantiation as before, as does a memory that cannot take an image (one with explicit
//! bounds checks, whose mapping must stay movable).

use crate::environ::info::{ConstExpr, ModuleInfo, SegmentMode};
use crate::runtime::memory::WASM_PAGE_SIZE;
use crate::runtime::sys;
use std::os::fd::{AsFd, OwnedFd};

/// The host's page size on the supported platform: images start and end on its multiples.
const HOST_PAGE_SIZE: u64 = 4096;

/// An image at most this big is made however sparse it is (Wasmtime's default); a bigger
/// one only if data covers at least half of its extent, so a segment at a high offset does
/// not make every instance map a mostly empty file.
const SPARSE_IMAGE_LIMIT: u64 = 1 << 20;

/// Images spanning at most this many bytes (four host pages) are not made: copying their
/// segments into each instance takes no system call and one fault per page, where mapping a
/// file there takes a system call, splits the reservation's mapping (undone at the
/// instance's end) and faults twice on a page read then written.
const SMALL_IMAGE_LIMIT: u64 = 4 * HOST_PAGE_SIZE;

/// The images of a module's defined memories, by defined memory index.
pub(crate) struct MemoryImages {
    images: Box<[Option<MemoryImage>]>,
}

/// The initial contents of one memory: the file holds the bytes from `offset`, `len` of them;
/// everything outside is zero.
pub(crate) struct MemoryImage {
    file: OwnedFd,
    /// Where the image starts in the memory; a multiple of the host page size.
    offset: usize,
    /// A multiple of the host page size; `offset + len` is within the initial size.
    len: usize,
}

/// What the segments write to one defined memory.
#[derive(Default)]
struct Extent<'a> {
    start: u64,
    end: u64,
    data_bytes: u64,
    writes: Vec<(u64, &'a [u8])>,
}

impl MemoryImages {
    /// The images of `info`'s defined memories, or `None` if its data segments must be
    /// copied at instantiation (see the module comment), including when the system cannot
    /// make in-memory files.
    pub(crate) fn build(info: &ModuleInfo) -> Option<MemoryImages> {
        let imported = info.num_imported_memories as usize;
        let mut extents: Vec<Extent<'_>> = (imported..info.memories.len()).map(|_| Extent::default()).collect();
        for segment in &info.data {
            let SegmentMode::Active { index, offset } = &segment.mode else { continue };
            let defined = (*index as usize).checked_sub(imported)?;
            let start = match *offset {
                ConstExpr::I32(offset) => u64::from(offset as u32),
                ConstExpr::I64(offset) => offset as u64,
                _ => return None,
            };
            let bytes = &info.bytes[segment.range.clone()];
            let end = start.checked_add(bytes.len() as u64)?;
            // Out of bounds: instantiation must trap, as the copying path does.
            if end > info.memories[*index as usize].limits.min.checked_mul(WASM_PAGE_SIZE)? {
                return None;
            }
            if bytes.is_empty() {
                continue;
            }
            let extent = &mut extents[defined];
            if extent.writes.is_empty() {
                (extent.start, extent.end) = (start, end);
            }
            extent.start = extent.start.min(start);
            extent.end = extent.end.max(end);
            extent.data_bytes += bytes.len() as u64;
            extent.writes.push((start, bytes));
        }
        for extent in &extents {
            let size = extent.end - extent.start;
            if size > SPARSE_IMAGE_LIMIT && size >= extent.data_bytes.saturating_mul(2) {
                return None;
            }
        }
        let spans = |extent: &Extent<'_>| {
            extent.end.div_ceil(HOST_PAGE_SIZE) * HOST_PAGE_SIZE - extent.start / HOST_PAGE_SIZE * HOST_PAGE_SIZE
        };
        if extents.iter().all(|extent| extent.writes.is_empty() || spans(extent) <= SMALL_IMAGE_LIMIT) {
            return None;
        }
        let images = extents.into_iter().map(MemoryImage::new).collect::<Option<_>>()?;
        Some(MemoryImages { images })
    }

    /// The image of defined memory `defined`; `None` if the segments leave it all zero.
    pub(crate) fn get(&self, defined: usize) -> Option<&MemoryImage> {
        self.images[defined].as_ref()
    }

    /// How many defined memories the module has.
    pub(crate) fn len(&self) -> usize {
        self.images.len()
    }
}

impl MemoryImage {
    /// `Some(None)` for a memory no segment writes, `None` if the file cannot be made.
    fn new(extent: Extent<'_>) -> Option<Option<MemoryImage>> {
        if extent.writes.is_empty() {
            return Some(None);
        }
        let offset = extent.start / HOST_PAGE_SIZE * HOST_PAGE_SIZE;
        // The initial size is a multiple of 64 KiB, so rounding up stays within it.
        let len = extent.end.div_ceil(HOST_PAGE_SIZE) * HOST_PAGE_SIZE - offset;
        let (offset, len) = (usize::try_from(offset).ok()?, usize::try_from(len).ok()?);
        // In segment order, so a later segment's bytes win where segments overlap.
        let writes = extent.writes.iter().map(|&(start, bytes)| (start as usize - offset, bytes));
        let file = sys::sealed_memfd(len, writes)?;
        Some(Some(MemoryImage { file, offset, len }))
    }

    /// Where the image starts in the memory (host-page-aligned).
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// The image's length (a multiple of the host page size).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Maps the image privately over `[addr, addr + len())`; false if the system refuses.
    ///
    /// # Safety
    /// As `sys::map_file_private`: `addr` is page-aligned and the range lies inside a
    /// mapping the caller owns and holds nothing anyone still needs.
    pub(crate) unsafe fn map_at(&self, addr: *mut u8) -> bool {
        // SAFETY: per this function's contract; the file is `len` bytes long.
        unsafe { sys::map_file_private(addr, self.len, self.file.as_fd()) }
    }
}
