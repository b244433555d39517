//! The M-profile exception model, which unicorn does not provide: priorities and masks,
//! exception entry (basic and FP-extended frames, 8-byte realignment), exception return and
//! tail-chaining, fault escalation to HardFault, and lockup.

use tracing::debug;
use unicorn_engine::RegisterARM;

use crate::core::{Core, Fault, RunState};
use crate::scs::{cfsr, exc, Scs, HFSR_FORCED, HFSR_VECTTBL, SCR_SLEEPONEXIT};
use crate::timing::CoreKind;

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

impl Core {
    pub fn execution_priority(&self) -> i32 {
        let primask = self.reg(RegisterARM::PRIMASK) & 1 != 0;
        let faultmask = self.reg(RegisterARM::FAULTMASK) & 1 != 0;
        let basepri = self.reg(RegisterARM::BASEPRI) as i32;
        execution_priority(&self.state().scs, primask, faultmask, basepri)
    }

    /// Execution priority ignoring PRIMASK: what decides whether WFI wakes up.
    fn wake_priority(&self) -> i32 {
        let faultmask = self.reg(RegisterARM::FAULTMASK) & 1 != 0;
        let basepri = self.reg(RegisterARM::BASEPRI) as i32;
        execution_priority(&self.state().scs, false, faultmask, basepri)
    }

    /// Whether a pending exception would preempt (`ignore_primask` for WFI wake-up).
    pub fn preempting_pending(&self, ignore_primask: bool) -> Option<u32> {
        let (n, prio) = self.state().scs.highest_pending()?;
        let exec = if ignore_primask {
            self.wake_priority()
        } else {
            self.execution_priority()
        };
        (prio < exec).then_some(n)
    }

    /// Write IPSR and CONTROL together. The engine ignores CONTROL writes from unprivileged
    /// code and SPSEL writes in handler mode, so we pass through privileged thread mode.
    pub(crate) fn set_mode(&mut self, ipsr: u32, control: u32) {
        self.set_reg(RegisterARM::IPSR, 1);
        self.set_reg(RegisterARM::CONTROL, control & CONTROL_FPCA);
        self.set_reg(RegisterARM::IPSR, 0);
        self.set_reg(
            RegisterARM::CONTROL,
            control & (CONTROL_SPSEL | CONTROL_FPCA),
        );
        if ipsr != 0 {
            self.set_reg(RegisterARM::IPSR, ipsr);
        }
        self.set_reg(RegisterARM::CONTROL, control);
        self.rebuild_flags();
        self.state_mut().scs.ipsr = ipsr;
    }

    fn read_word(&self, addr: u32) -> Option<u32> {
        let mut b = [0u8; 4];
        self.uc.mem_read(addr as u64, &mut b).ok()?;
        Some(u32::from_le_bytes(b))
    }

    fn write_words(&mut self, addr: u32, words: &[u32]) -> bool {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.uc.mem_write(addr as u64, &bytes).is_ok()
    }

    fn fp_active(&self) -> bool {
        self.kind == CoreKind::M4 && self.reg(RegisterARM::CONTROL) & CONTROL_FPCA != 0
    }

    /// Take exception `n`: stack the context, return to `ret_addr` later.
    pub fn enter_exception(&mut self, n: u32, ret_addr: u32) -> Result<(), Lockup> {
        let control = self.reg(RegisterARM::CONTROL);
        let ipsr = self.state().scs.ipsr;
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
            debug!(target: "wb::exception", core = %self.id, sp = format_args!("{frame_sp:#x}"), "stacking failed");
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
        let t = self.state().table;
        let lazy = self.state().scs.fpccr & (1 << 30) != 0;
        let cost = if fp && !lazy {
            t.exc_entry_fp
        } else {
            t.exc_entry
        };
        self.state_mut().cycles += cost as u64;
        Ok(())
    }

    /// Enter the handler of `n` with `exc_return` in LR (shared by entry and tail-chaining).
    fn vector_to(&mut self, n: u32, npriv: u32, exc_return: u32) -> Result<(), Lockup> {
        let vtor = self.state().scs.vtor;
        let Some(vector) = self.read_word(vtor.wrapping_add(4 * n)) else {
            debug!(target: "wb::exception", core = %self.id, n, "vector fetch failed");
            if n == exc::HARDFAULT || n == exc::NMI {
                return Err(self.lock_up());
            }
            self.state_mut().scs.hfsr |= HFSR_VECTTBL;
            return self.vector_to(exc::HARDFAULT, npriv, exc_return);
        };
        {
            let scs = &mut self.state_mut().scs;
            scs.set_pending(n, false);
            scs.set_active(n, true);
        }
        self.set_mode(n, npriv);
        self.set_reg(RegisterARM::LR, exc_return);
        self.set_reg(RegisterARM::EPSR, if vector & 1 != 0 { XPSR_T } else { 0 });
        self.set_reg(RegisterARM::PC, vector & !1);
        let st = self.state_mut();
        st.event_register = true;
        st.run = RunState::Running;
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
        let scs = &mut self.state_mut().scs;
        if scs.is_m4() {
            scs.cfsr |= cfsr::STKERR;
            scs.hfsr |= HFSR_FORCED;
        }
        let pc = self.pc();
        self.enter_exception(exc::HARDFAULT, pc)
    }

    pub fn lock_up(&mut self) -> Lockup {
        debug!(target: "wb::exception", core = %self.id, "lockup");
        self.set_reg(RegisterARM::PC, LOCKUP_PC);
        self.state_mut().run = RunState::Lockup;
        Lockup
    }

    /// Take a synchronous exception (SVC) or escalate it to HardFault when it cannot preempt.
    pub fn take_sync(&mut self, n: u32, ret_addr: u32) -> Result<(), Lockup> {
        self.escalate(n, true, ret_addr)
    }

    /// Take exception `n` if it is enabled and may preempt; otherwise escalate to HardFault
    /// (HFSR.FORCED), or lock up when already at HardFault/NMI priority.
    fn escalate(&mut self, n: u32, enabled: bool, ret_addr: u32) -> Result<(), Lockup> {
        let exec = self.execution_priority();
        if enabled && self.state().scs.priority(n) < exec {
            return self.enter_exception(n, ret_addr);
        }
        if exec <= -1 {
            return Err(self.lock_up());
        }
        let scs = &mut self.state_mut().scs;
        if scs.is_m4() {
            scs.hfsr |= HFSR_FORCED;
        }
        self.enter_exception(exc::HARDFAULT, ret_addr)
    }

    /// Record a fault in the status registers and take the handler it escalates to.
    pub fn raise_fault(&mut self, fault: Fault, ret_addr: u32) -> Result<(), Lockup> {
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
        debug!(target: "wb::exception", core = %self.id, ?fault, ret = format_args!("{ret_addr:#x}"), "fault");
        let scs = &mut self.state_mut().scs;
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
    pub fn exception_return(&mut self) -> Result<(), Lockup> {
        let exc_return = self.pc() | 1;
        let returning = self.state().scs.ipsr;
        let valid = exc_return & 0xFFFF_FFE0 == 0xFFFF_FFE0
            && matches!(exc_return & 0xF, 0x1 | 0x9 | 0xD)
            && (self.kind == CoreKind::M4 || exc_return & 0x10 != 0)
            && returning != 0
            && self.state().scs.is_active(returning);
        if !valid {
            // INVPC: the return address stays the EXC_RETURN value (ARMv7-M B1.5.8).
            let scs = &mut self.state_mut().scs;
            if scs.is_m4() {
                scs.cfsr |= cfsr::INVPC;
            }
            let enabled = self.state().scs.fault_enabled(exc::USAGEFAULT);
            return self.escalate(exc::USAGEFAULT, enabled, exc_return);
        }
        self.state_mut().scs.set_active(returning, false);
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
            let c = self.state().table.tail_chain;
            self.state_mut().cycles += c as u64;
            return Ok(());
        }

        let sp = if use_psp {
            self.reg(RegisterARM::PSP)
        } else {
            self.reg(RegisterARM::MSP)
        };
        let words = if fp { 26 } else { 8 };
        let mut frame = vec![0u8; words * 4];
        if self.uc.mem_read(sp as u64, &mut frame).is_err() {
            let scs = &mut self.state_mut().scs;
            if scs.is_m4() {
                scs.cfsr |= cfsr::UNSTKERR;
            }
            let enabled = self.state().scs.fault_enabled(exc::BUSFAULT);
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
        let flags = if self.kind == CoreKind::M4 {
            RegisterARM::XPSR_NZCVQG
        } else {
            RegisterARM::XPSR_NZCVQ
        };
        self.set_reg(flags, (xpsr & !0x1FF & !XPSR_ALIGN) | new_ipsr);
        self.set_reg(RegisterARM::EPSR, xpsr & 0x0600_FC00 | XPSR_T);
        self.set_reg(RegisterARM::PC, w(6) & !1);
        self.rebuild_flags();
        let t = self.state().table;
        let lazy = self.state().scs.fpccr & (1 << 30) != 0;
        let cost = if fp && !lazy {
            t.exc_return_fp
        } else {
            t.exc_return
        };
        let sleep = to_thread && self.state().scs.scr & SCR_SLEEPONEXIT != 0;
        let st = self.state_mut();
        st.cycles += cost as u64;
        st.event_register = true;
        if sleep {
            st.run = RunState::SleepWfi;
        }
        Ok(())
    }

    /// Reset the core: registers, SCS, then SP and PC from the vector table at `vtor`.
    pub fn reset(&mut self, vtor: u32) {
        let kind = self.kind;
        let n_irq = self.state().scs.n_irq;
        self.state_mut().scs = Scs::new(kind, n_irq, vtor);
        self.set_mode(0, 0);
        for r in crate::core::GPRS {
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
        let st = self.state_mut();
        st.run = RunState::Running;
        st.event_register = false;
        st.watch_masks = false;
    }
}
