//! The vector table as a typed value (ARMv7-M B1.5.3, ARMv6-M B1.5.2): the initial stack
//! pointer, the reset vector, the fifteen system exception slots, then the interrupts.
//! A program places one at the start of its flash:
//!
//! ```ignore
//! #[link_section = ".vector_table"]
//! #[no_mangle]
//! pub static VECTORS: VectorTable<32> = VectorTable::new().irq(19, IpccIrq);
//! ```
//!
//! Every vector starts at [`DefaultHandler`](crate::DefaultHandler) (BKPT: the host sees an
//! unexpected exception) and the reserved words at 0; a program sets the ones it handles.

/// An exception handler.
pub type Handler = unsafe extern "C" fn();

extern "C" {
    /// Top of the stack, from the program's memory.x.
    static _stack_top: u32;
}

/// The initial stack pointer: an address the core loads at reset, never dereferenced here.
#[repr(transparent)]
pub struct StackTop(*const u32);

// SAFETY: a constant address; nothing reads or writes through it from Rust.
unsafe impl Sync for StackTop {}

/// A vector table with `IRQS` interrupt vectors (CPU1 has 63 lines, CPU2 32).
#[repr(C)]
pub struct VectorTable<const IRQS: usize> {
    pub initial_sp: StackTop,
    pub reset: unsafe extern "C" fn() -> !,
    pub nmi: Option<Handler>,
    pub hard_fault: Option<Handler>,
    /// MemManage, BusFault, UsageFault (Cortex-M4; reserved on the M0+), then 4 reserved.
    pub faults: [Option<Handler>; 7],
    pub svcall: Option<Handler>,
    pub debug_monitor: Option<Handler>,
    pub reserved: Option<Handler>,
    pub pendsv: Option<Handler>,
    pub systick: Option<Handler>,
    pub irqs: [Option<Handler>; IRQS],
}

const DEFAULT: Option<Handler> = Some(crate::DefaultHandler);

impl<const IRQS: usize> VectorTable<IRQS> {
    /// Stack top and reset from guest-rt, every exception and interrupt at the default
    /// handler, the reserved slots 0.
    pub const fn new() -> Self {
        VectorTable {
            // Only the address of the linker symbol is taken (no read: safe).
            initial_sp: StackTop(core::ptr::addr_of!(_stack_top)),
            reset: crate::Reset,
            nmi: DEFAULT,
            hard_fault: DEFAULT,
            faults: [None; 7],
            svcall: DEFAULT,
            debug_monitor: None,
            reserved: None,
            pendsv: DEFAULT,
            systick: DEFAULT,
            irqs: [DEFAULT; IRQS],
        }
    }

    /// Interrupt line `n` goes to `h`.
    pub const fn irq(mut self, n: usize, h: Handler) -> Self {
        self.irqs[n] = Some(h);
        self
    }

    pub const fn nmi(mut self, h: Handler) -> Self {
        self.nmi = Some(h);
        self
    }

    pub const fn hard_fault(mut self, h: Handler) -> Self {
        self.hard_fault = Some(h);
        self
    }

    pub const fn svcall(mut self, h: Handler) -> Self {
        self.svcall = Some(h);
        self
    }

    pub const fn pendsv(mut self, h: Handler) -> Self {
        self.pendsv = Some(h);
        self
    }

    pub const fn systick(mut self, h: Handler) -> Self {
        self.systick = Some(h);
        self
    }

    /// The seven words after HardFault (MemManage..reserved) and DebugMonitor at `h` too,
    /// for programs that want every unexpected exception to stop at the default handler.
    pub const fn catch_all(mut self, h: Handler) -> Self {
        self.faults = [Some(h); 7];
        self.debug_monitor = Some(h);
        self
    }
}

impl<const IRQS: usize> Default for VectorTable<IRQS> {
    fn default() -> Self {
        Self::new()
    }
}

/// The table of a Cortex-M0+ program (CPU2): 48 words.
pub type Cpu2Vectors = VectorTable<32>;
/// The table of a Cortex-M4 program (CPU1): 79 words.
pub type Cpu1Vectors = VectorTable<63>;

const _: () = assert!(core::mem::size_of::<Cpu2Vectors>() == 48 * 4);
const _: () = assert!(core::mem::size_of::<Cpu1Vectors>() == (16 + 63) * 4);
