//! Platform specifics, one module per supported platform behind `cfg`. Only Linux on
//! x86-64 is supported today; any other target fails to compile here, naming what must be
//! ported.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod linux_x86_64;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) use linux_x86_64::*;

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!(
    "heron-engine runs on Linux x86-64 only: port runtime/sys (signal context registers, \
     mremap, thread stacks and priorities), the heron_enter assembly in runtime/entry.rs, and \
     the stack-limit and trap handling they support"
);
