//! The M-profile exception model, which unicorn does not provide: priorities and masks,
//! exception entry (basic and FP-extended frames, 8-byte realignment), exception return and
//! tail-chaining, fault escalation to HardFault, and lockup.
//!
//! It is written against [`CpuContext`], what it needs of a core (registers, memory as the
//! core sees it, its SCS and run state), so that it is tested without an engine (the tests
//! at the end run it on a plain-data core). [`Exceptions`] holds the model; every
//! `CpuContext` has it. The M0+/M4 differences are here, by `CpuContext::kind`: no FP frame,
//! no BASEPRI/FAULTMASK and no fault status registers on the M0+ (ARMv6-M), where every fault
//! is a HardFault.

use tracing::debug;
use unicorn_engine::RegisterARM;
use wb_periph::CoreId;

use crate::scs::{cfsr, exc, Scs, HFSR_FORCED, HFSR_VECTTBL, SCR_SLEEPONEXIT};
use crate::timing::{CoreKind, CycleTable};

/// How the core is doing between slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// Asleep in WFI (or sleep-on-exit): wakes on an interrupt that would preempt.
    SleepWfi,
    /// Asleep in WFE: wakes on the event register or an interrupt.
    SleepWfe,
    /// Held in reset (CPU2 until C2BOOT).
    Held,
    /// Locked up after a fault it could not handle.
    Lockup,
}

/// A synchronous fault detected while running, before escalation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Instruction fetch from nothing (or a forbidden region).
    Fetch {
        addr: u32,
    },
    /// A load from nothing (precise).
    Read {
        addr: u32,
    },
    /// A store to nothing or to read-only memory (imprecise, via the write buffer).
    Write {
        addr: u32,
    },
    /// A peripheral model refused a store, or a load the protection hook did not see (an
    /// unaligned access's parts): reported after the block, imprecise.
    Peripheral {
        addr: u32,
    },
    Undefined,
    InvalidState,
    NoCoprocessor,
    Unaligned,
}

/// What the exception model needs of a core.
pub trait CpuContext {
    fn kind(&self) -> CoreKind;
    fn id(&self) -> CoreId;
    /// A register as the engine keeps it (XPSR reads as APSR | IPSR | EPSR).
    fn reg(&self, r: RegisterARM) -> u32;
    fn set_reg(&mut self, r: RegisterARM, v: u32);
    /// Write IPSR and CONTROL together, in whatever order the engine needs.
    fn write_mode(&mut self, ipsr: u32, control: u32);
    /// Re-derive the engine's cached flags after IPSR/CONTROL changed behind its back.
    fn rebuild_flags(&mut self);
    /// Read memory as the core sees it; false when something is not readable.
    fn read_mem(&self, addr: u32, buf: &mut [u8]) -> bool;
    /// Write memory as the core sees it; false when something is not writable.
    fn write_mem(&mut self, addr: u32, bytes: &[u8]) -> bool;
    fn scs(&self) -> &Scs;
    fn scs_mut(&mut self) -> &mut Scs;
    /// The core's instruction timings (exception entry, return, tail-chaining).
    fn table(&self) -> &'static CycleTable;
    /// Charge `cycles` to the core.
    fn charge(&mut self, cycles: u64);
    fn run_state(&self) -> RunState;
    fn set_run_state(&mut self, run: RunState);
    fn set_event_register(&mut self, on: bool);
    /// Stop re-checking the exception masks at every block (nothing masked is pending).
    fn clear_mask_watch(&mut self);
}

const CONTROL_NPRIV: u32 = 1 << 0;
const CONTROL_SPSEL: u32 = 1 << 1;
const CONTROL_FPCA: u32 = 1 << 2;
const XPSR_T: u32 = 1 << 24;
const XPSR_ALIGN: u32 = 1 << 9;
/// Where a locked-up core's PC points (ARMv7-M B1.5.15).
pub const LOCKUP_PC: u32 = 0xEFFF_FFFE;

/// The core cannot go on: a fault while in HardFault/NMI, or an unusable vector/stack there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lockup;

/// Execution priority from the active exceptions and the masks (lower is more urgent).
pub fn execution_priority(scs: &Scs, primask: bool, faultmask: bool, basepri: i32) -> i32 {
    let mut p = scs.active_priority();
    let basepri = basepri & scs.prio_mask() as i32;
    if basepri != 0 && scs.is_m4() {
        p = p.min(scs.group(basepri as u8));
    }
    if primask {
        p = p.min(0);
    }
    if faultmask {
        p = p.min(-1);
    }
    p
}

const FRAME_REGS: [RegisterARM; 6] = [
    RegisterARM::R0,
    RegisterARM::R1,
    RegisterARM::R2,
    RegisterARM::R3,
    RegisterARM::R12,
    RegisterARM::LR,
];

/// FP register S`i` (0..32).
pub(crate) fn fp_reg(i: usize) -> RegisterARM {
    const S: [RegisterARM; 32] = [
        RegisterARM::S0,
        RegisterARM::S1,
        RegisterARM::S2,
        RegisterARM::S3,
        RegisterARM::S4,
        RegisterARM::S5,
        RegisterARM::S6,
        RegisterARM::S7,
        RegisterARM::S8,
        RegisterARM::S9,
        RegisterARM::S10,
        RegisterARM::S11,
        RegisterARM::S12,
        RegisterARM::S13,
        RegisterARM::S14,
        RegisterARM::S15,
        RegisterARM::S16,
        RegisterARM::S17,
        RegisterARM::S18,
        RegisterARM::S19,
        RegisterARM::S20,
        RegisterARM::S21,
        RegisterARM::S22,
        RegisterARM::S23,
        RegisterARM::S24,
        RegisterARM::S25,
        RegisterARM::S26,
        RegisterARM::S27,
        RegisterARM::S28,
        RegisterARM::S29,
        RegisterARM::S30,
        RegisterARM::S31,
    ];
    S[i]
}

/// The exception model, for every core.
impl<T: CpuContext + ?Sized> Exceptions for T {}

/// The exception model on a [`CpuContext`].
pub trait Exceptions: CpuContext {
    fn execution_priority(&self) -> i32 {
        let primask = self.reg(RegisterARM::PRIMASK) & 1 != 0;
        let faultmask = self.reg(RegisterARM::FAULTMASK) & 1 != 0;
        let basepri = self.reg(RegisterARM::BASEPRI) as i32;
        execution_priority(self.scs(), primask, faultmask, basepri)
    }

    /// Execution priority ignoring PRIMASK: what decides whether WFI wakes up.
    fn wake_priority(&self) -> i32 {
        let faultmask = self.reg(RegisterARM::FAULTMASK) & 1 != 0;
        let basepri = self.reg(RegisterARM::BASEPRI) as i32;
        execution_priority(self.scs(), false, faultmask, basepri)
    }

    /// Whether a pending exception would preempt (`ignore_primask` for WFI wake-up).
    fn preempting_pending(&self, ignore_primask: bool) -> Option<u32> {
        let (n, prio) = self.scs().highest_pending()?;
        let exec = if ignore_primask {
            self.wake_priority()
        } else {
            self.execution_priority()
        };
        (prio < exec).then_some(n)
    }

    /// Enter mode `ipsr` with `control` (the SCS's IPSR mirror follows).
    fn set_mode(&mut self, ipsr: u32, control: u32) {
        self.write_mode(ipsr, control);
        self.scs_mut().ipsr = ipsr;
    }

    fn read_word(&self, addr: u32) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read_mem(addr, &mut b).then(|| u32::from_le_bytes(b))
    }

    fn write_words(&mut self, addr: u32, words: &[u32]) -> bool {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.write_mem(addr, &bytes)
    }

    fn fp_active(&self) -> bool {
        self.kind() == CoreKind::M4 && self.reg(RegisterARM::CONTROL) & CONTROL_FPCA != 0
    }

    /// Take exception `n`: stack the context, return to `ret_addr` later.
    fn enter_exception(&mut self, n: u32, ret_addr: u32) -> Result<(), Lockup> {
        let control = self.reg(RegisterARM::CONTROL);
        let ipsr = self.scs().ipsr;
        let thread = ipsr == 0;
        let use_psp = thread && control & CONTROL_SPSEL != 0;
        let fp = self.fp_active();
        let sp = if use_psp {
            self.reg(RegisterARM::PSP)
        } else {
            self.reg(RegisterARM::MSP)
        };
        let words = if fp { 26 } else { 8 };
        let mut frame_sp = sp.wrapping_sub(words * 4);
        let realign = frame_sp & 4 != 0;
        frame_sp &= !7;
        let mut xpsr = self.reg(RegisterARM::XPSR);
        if realign {
            xpsr |= XPSR_ALIGN;
        }
        let mut frame: Vec<u32> = FRAME_REGS.iter().map(|r| self.reg(*r)).collect();
        frame.push(ret_addr & !1);
        frame.push(xpsr);
        if fp {
            frame.extend((0..16).map(|i| self.reg(fp_reg(i))));
            frame.push(self.reg(RegisterARM::FPSCR));
            frame.push(0);
        }
        if !self.write_words(frame_sp, &frame) {
            debug!(target: "wb::exception", core = %self.id(), sp = format_args!("{frame_sp:#x}"), "stacking failed");
            return self.stacking_fault(n);
        }
        let exc_return = 0xFFFF_FFE1
            | if fp { 0 } else { 0x10 }
            | if thread { 0x8 } else { 0 }
            | if use_psp { 0x4 } else { 0 };
        self.vector_to(n, control & CONTROL_NPRIV, exc_return)?;
        if use_psp {
            self.set_reg(RegisterARM::PSP, frame_sp);
        } else {
            self.set_reg(RegisterARM::MSP, frame_sp);
        }
        let t = self.table();
        let lazy = self.scs().fpccr & (1 << 30) != 0;
        let cost = if fp && !lazy {
            t.exc_entry_fp
        } else {
            t.exc_entry
        };
        self.charge(cost as u64);
        Ok(())
    }

    /// Enter the handler of `n` with `exc_return` in LR (shared by entry and tail-chaining).
    fn vector_to(&mut self, n: u32, npriv: u32, exc_return: u32) -> Result<(), Lockup> {
        let vtor = self.scs().vtor;
        let Some(vector) = self.read_word(vtor.wrapping_add(4 * n)) else {
            debug!(target: "wb::exception", core = %self.id(), n, "vector fetch failed");
            if n == exc::HARDFAULT || n == exc::NMI {
                return Err(self.lock_up());
            }
            self.scs_mut().hfsr |= HFSR_VECTTBL;
            return self.vector_to(exc::HARDFAULT, npriv, exc_return);
        };
        {
            let scs = self.scs_mut();
            scs.set_pending(n, false);
            scs.set_active(n, true);
        }
        self.set_mode(n, npriv);
        self.set_reg(RegisterARM::LR, exc_return);
        self.set_reg(RegisterARM::EPSR, if vector & 1 != 0 { XPSR_T } else { 0 });
        self.set_reg(RegisterARM::PC, vector & !1);
        self.set_event_register(true);
        self.set_run_state(RunState::Running);
        if vector & 1 == 0 {
            // Handler without the Thumb bit: INVSTATE on its first instruction.
            return self.raise_fault(Fault::InvalidState, vector & !1);
        }
        Ok(())
    }

    fn stacking_fault(&mut self, n: u32) -> Result<(), Lockup> {
        let exec = self.execution_priority();
        if n == exc::HARDFAULT || n == exc::NMI || exec < 0 {
            return Err(self.lock_up());
        }
        let scs = self.scs_mut();
        if scs.is_m4() {
            scs.cfsr |= cfsr::STKERR;
            scs.hfsr |= HFSR_FORCED;
        }
        let pc = self.reg(RegisterARM::PC);
        self.enter_exception(exc::HARDFAULT, pc)
    }

    fn lock_up(&mut self) -> Lockup {
        debug!(target: "wb::exception", core = %self.id(), "lockup");
        self.set_reg(RegisterARM::PC, LOCKUP_PC);
        self.set_run_state(RunState::Lockup);
        Lockup
    }

    /// Take a synchronous exception (SVC) or escalate it to HardFault when it cannot preempt.
    fn take_sync(&mut self, n: u32, ret_addr: u32) -> Result<(), Lockup> {
        self.escalate(n, true, ret_addr)
    }

    /// Take exception `n` if it is enabled and may preempt; otherwise escalate to HardFault
    /// (HFSR.FORCED), or lock up when already at HardFault/NMI priority.
    fn escalate(&mut self, n: u32, enabled: bool, ret_addr: u32) -> Result<(), Lockup> {
        let exec = self.execution_priority();
        if enabled && self.scs().priority(n) < exec {
            return self.enter_exception(n, ret_addr);
        }
        if exec <= -1 {
            return Err(self.lock_up());
        }
        let scs = self.scs_mut();
        if scs.is_m4() {
            scs.hfsr |= HFSR_FORCED;
        }
        self.enter_exception(exc::HARDFAULT, ret_addr)
    }

    /// Record a fault in the status registers and take the handler it escalates to.
    fn raise_fault(&mut self, fault: Fault, ret_addr: u32) -> Result<(), Lockup> {
        let (target, bits, bfar) = match fault {
            // Execute from the system region (0xE000_0000 and up) is an XN violation.
            Fault::Fetch { addr } if addr >= 0xE000_0000 => (exc::MEMMANAGE, cfsr::IACCVIOL, None),
            Fault::Fetch { .. } => (exc::BUSFAULT, cfsr::IBUSERR, None),
            Fault::Read { addr } => (exc::BUSFAULT, cfsr::PRECISERR | cfsr::BFARVALID, Some(addr)),
            Fault::Write { .. } | Fault::Peripheral { .. } => {
                (exc::BUSFAULT, cfsr::IMPRECISERR, None)
            }
            Fault::Undefined => (exc::USAGEFAULT, cfsr::UNDEFINSTR, None),
            Fault::InvalidState => (exc::USAGEFAULT, cfsr::INVSTATE, None),
            Fault::NoCoprocessor => (exc::USAGEFAULT, cfsr::NOCP, None),
            Fault::Unaligned => (exc::USAGEFAULT, cfsr::UNALIGNED, None),
        };
        debug!(target: "wb::exception", core = %self.id(), ?fault, ret = format_args!("{ret_addr:#x}"), "fault");
        let scs = self.scs_mut();
        if scs.is_m4() {
            scs.cfsr |= bits;
            if let Some(a) = bfar {
                scs.bfar = a;
            }
        }
        let enabled = scs.fault_enabled(target);
        self.escalate(target, enabled, ret_addr)
    }

    /// Return from the current exception; the PC holds the EXC_RETURN value (bit 0 cleared).
    fn exception_return(&mut self) -> Result<(), Lockup> {
        let exc_return = self.reg(RegisterARM::PC) | 1;
        let returning = self.scs().ipsr;
        let valid = exc_return & 0xFFFF_FFE0 == 0xFFFF_FFE0
            && matches!(exc_return & 0xF, 0x1 | 0x9 | 0xD)
            && (self.kind() == CoreKind::M4 || exc_return & 0x10 != 0)
            && returning != 0
            && self.scs().is_active(returning);
        if !valid {
            // INVPC: the return address stays the EXC_RETURN value (ARMv7-M B1.5.8).
            let scs = self.scs_mut();
            if scs.is_m4() {
                scs.cfsr |= cfsr::INVPC;
            }
            let enabled = self.scs().fault_enabled(exc::USAGEFAULT);
            return self.escalate(exc::USAGEFAULT, enabled, exc_return);
        }
        self.scs_mut().set_active(returning, false);
        if returning != exc::NMI {
            self.set_reg(RegisterARM::FAULTMASK, 0);
        }
        let to_thread = exc_return & 0x8 != 0;
        let use_psp = exc_return & 0x4 != 0;
        let fp = exc_return & 0x10 == 0;

        // Tail-chain: a pending exception that can preempt the context we return to is taken
        // straight away, without unstacking and restacking.
        if let Some(n) = self.preempting_pending(false) {
            let npriv = self.reg(RegisterARM::CONTROL) & CONTROL_NPRIV;
            self.vector_to(n, npriv, exc_return)?;
            let c = self.table().tail_chain;
            self.charge(c as u64);
            return Ok(());
        }

        let sp = if use_psp {
            self.reg(RegisterARM::PSP)
        } else {
            self.reg(RegisterARM::MSP)
        };
        let words = if fp { 26 } else { 8 };
        let mut frame = vec![0u8; words * 4];
        if !self.read_mem(sp, &mut frame) {
            let scs = self.scs_mut();
            if scs.is_m4() {
                scs.cfsr |= cfsr::UNSTKERR;
            }
            let enabled = self.scs().fault_enabled(exc::BUSFAULT);
            return self.escalate(exc::BUSFAULT, enabled, exc_return);
        }
        let w = |i: usize| u32::from_le_bytes(frame[i * 4..i * 4 + 4].try_into().unwrap());
        let xpsr = w(7);
        let new_ipsr = if to_thread { 0 } else { xpsr & 0x1FF };
        let mut control = self.reg(RegisterARM::CONTROL) & CONTROL_NPRIV;
        if to_thread && use_psp {
            control |= CONTROL_SPSEL;
        }
        if fp {
            control |= CONTROL_FPCA;
        }
        self.set_mode(new_ipsr, control);
        let mut new_sp = sp.wrapping_add(words as u32 * 4);
        if xpsr & XPSR_ALIGN != 0 {
            new_sp |= 4;
        }
        if use_psp {
            self.set_reg(RegisterARM::PSP, new_sp);
        } else {
            self.set_reg(RegisterARM::MSP, new_sp);
        }
        for (i, r) in FRAME_REGS.iter().enumerate() {
            self.set_reg(*r, w(i));
        }
        if fp {
            for i in 0..16 {
                self.set_reg(fp_reg(i), w(8 + i));
            }
            self.set_reg(RegisterARM::FPSCR, w(24));
        }
        let flags = if self.kind() == CoreKind::M4 {
            RegisterARM::XPSR_NZCVQG
        } else {
            RegisterARM::XPSR_NZCVQ
        };
        self.set_reg(flags, (xpsr & !0x1FF & !XPSR_ALIGN) | new_ipsr);
        self.set_reg(RegisterARM::EPSR, xpsr & 0x0600_FC00 | XPSR_T);
        self.set_reg(RegisterARM::PC, w(6) & !1);
        self.rebuild_flags();
        let t = self.table();
        let lazy = self.scs().fpccr & (1 << 30) != 0;
        let cost = if fp && !lazy {
            t.exc_return_fp
        } else {
            t.exc_return
        };
        let sleep = to_thread && self.scs().scr & SCR_SLEEPONEXIT != 0;
        self.charge(cost as u64);
        self.set_event_register(true);
        if sleep {
            self.set_run_state(RunState::SleepWfi);
        }
        Ok(())
    }

    /// Reset the core: registers, SCS, then SP and PC from the vector table at `vtor`.
    fn reset(&mut self, vtor: u32) {
        let kind = self.kind();
        let n_irq = self.scs().n_irq;
        *self.scs_mut() = Scs::new(kind, n_irq, vtor);
        self.set_mode(0, 0);
        for r in GPRS {
            self.set_reg(r, 0);
        }
        self.set_reg(RegisterARM::PRIMASK, 0);
        if kind == CoreKind::M4 {
            self.set_reg(RegisterARM::FAULTMASK, 0);
            self.set_reg(RegisterARM::BASEPRI, 0);
            self.set_reg(RegisterARM::FPSCR, 0);
        }
        self.set_reg(RegisterARM::LR, 0xFFFF_FFFF);
        let sp = self.read_word(vtor).unwrap_or(0);
        let pc = self.read_word(vtor.wrapping_add(4)).unwrap_or(0);
        self.set_reg(RegisterARM::MSP, sp & !3);
        self.set_reg(RegisterARM::PSP, 0);
        self.set_reg(RegisterARM::EPSR, if pc & 1 != 0 { XPSR_T } else { 0 });
        self.set_reg(RegisterARM::APSR_NZCV, 0);
        self.set_reg(RegisterARM::PC, pc & !1);
        self.set_run_state(RunState::Running);
        self.set_event_register(false);
        self.clear_mask_watch();
    }
}

/// R0–R12, the general-purpose registers (reset clears them; snapshots keep them).
pub(crate) const GPRS: [RegisterARM; 13] = [
    RegisterARM::R0,
    RegisterARM::R1,
    RegisterARM::R2,
    RegisterARM::R3,
    RegisterARM::R4,
    RegisterARM::R5,
    RegisterARM::R6,
    RegisterARM::R7,
    RegisterARM::R8,
    RegisterARM::R9,
    RegisterARM::R10,
    RegisterARM::R11,
    RegisterARM::R12,
];

#[cfg(test)]
mod tests;
