//! Configuration facts shared by the compiler and the runtime: when functions compile
//! (`Compilation`), with which compiler (`Tier`), and how compiled code keeps memory
//! accesses in bounds (`BoundsChecks`). Plain data, read from the environment at most.
#![forbid(unsafe_code)]

/// How `Module::new` turns function bodies into code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compilation {
    /// Compile every function before `Module::new` returns.
    Eager,
    /// Return after validation; compile in the background, and on first call any function
    /// the background has not reached yet. The default.
    Lazy,
    /// Return after validation; compile each function on its first call only, optimized.
    OnDemand,
    /// Return after validation; compile each function on its first call only, with the
    /// baseline compiler, and optimize only in `Module::wait_for_compilation`, which
    /// installs the optimized code in live instances: about twice as fast to the first
    /// result, using no other thread, but with much bigger stack frames (see `runtime/lazy.rs`).
    Baseline,
}

impl Compilation {
    /// Whether first calls get baseline code.
    pub(crate) fn tiered(self) -> bool {
        self == Compilation::Baseline
    }

    /// The mode named by `HERON_COMPILATION` (`eager`, `lazy`, `on-demand`, `baseline`), else
    /// `Lazy`.
    pub fn from_env() -> Compilation {
        match std::env::var("HERON_COMPILATION").as_deref() {
            Ok("eager") => Compilation::Eager,
            Ok("on-demand") => Compilation::OnDemand,
            Ok("baseline") => Compilation::Baseline,
            _ => Compilation::Lazy,
        }
    }
}

/// Which of the engine's two compilers to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tier {
    /// Fast to compile, slower to run: for a function's first calls while the optimized
    /// code is not ready (see `lazy.rs`).
    Baseline,
    /// Cranelift's optimizer and best register allocator.
    Optimized,
}

/// How compiled code keeps a memory's accesses in bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoundsChecks {
    /// None in the code: the memory's reservation covers every address an access can form,
    /// and the pages past its length fault. The base never moves.
    GuardPages,
    /// Each access compares its end with the memory's length. The memory maps only what it
    /// holds, and its base may move when it grows.
    Explicit,
}
