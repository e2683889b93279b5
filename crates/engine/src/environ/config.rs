//! Configuration facts shared by the compiler and the runtime: when functions compile
//! (`Compilation`), with which compiler (`Tier`), and how compiled code keeps memory
//! accesses in bounds (`BoundsChecks`). Plain data, read from the environment at most.
#![forbid(unsafe_code)]

/// How `Module::new` turns function bodies into code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// Which variant of a module's code an instance runs. Each flavour is a table of its own in
/// the module (`module.rs`), compiled on first use: instances that ask for no controls run
/// code without any checks, and pay nothing for the controls others use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CodeFlavour {
    /// How memory accesses stay in bounds.
    pub bounds_checks: BoundsChecks,
    /// Whether function entries and loop headers compare the epoch with the instance's
    /// deadline (timeouts, interrupt handles, Ctrl-C).
    pub interruptible: bool,
    /// Whether the code counts the instructions it runs against the instance's fuel.
    pub fuel: bool,
}

impl CodeFlavour {
    /// Number of distinct flavours, the size of a module's table of code tables.
    pub(crate) const COUNT: usize = 8;

    /// The plain code for memories checked as `bounds_checks` says.
    pub fn plain(bounds_checks: BoundsChecks) -> CodeFlavour {
        CodeFlavour { bounds_checks, interruptible: false, fuel: false }
    }

    /// A dense index below `COUNT`.
    pub(crate) fn index(self) -> usize {
        usize::from(self.bounds_checks == BoundsChecks::Explicit)
            | usize::from(self.interruptible) << 1
            | usize::from(self.fuel) << 2
    }
}

/// The execution controls of one instance (see README "Controls"). The default asks for
/// none, and the instance then runs code without checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Controls {
    /// Each call from the host into the instance that runs longer traps with
    /// `Trap::Timeout`. Nested entries keep the outermost call's deadline.
    pub timeout: Option<std::time::Duration>,
    /// Whether the instance's code checks for interrupts (implied by `timeout`); needed for
    /// `Instance::interrupt_handle` to have an effect.
    pub interruptible: bool,
    /// Whether Ctrl-C (SIGINT) while this instance runs traps with `Trap::Interrupted`
    /// instead of reaching the process's own handling (implies `interruptible`).
    pub break_on_sigint: bool,
    /// Budget of instructions for the instance's lifetime: running out traps with
    /// `Trap::OutOfFuel`.
    pub fuel: Option<u64>,
    /// The most bytes each memory the instance defines may hold.
    pub memory_limit: Option<u64>,
    /// The most elements each table the instance defines may hold.
    pub table_limit: Option<u64>,
}

impl Controls {
    /// Whether the instance's code must check for interrupts.
    pub fn needs_interrupt_checks(&self) -> bool {
        self.interruptible || self.timeout.is_some() || self.break_on_sigint
    }
}
