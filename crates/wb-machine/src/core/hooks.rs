//! The engine's hooks: the block hook on the hot path (cycles, budget, attention, ECC on
//! fetch), and the ones for interrupts (SVC, BKPT, exception return, undefined), faults and
//! TLB fills.

use super::mmio::read_prot_hook;
use super::*;

impl CoreState {
    /// The block hook's slow path, taken once `cycles >= deadline`: whether the engine must
    /// stop before the next block, and why.
    #[cold]
    pub(super) fn must_stop(&mut self, uc: *mut uc_engine, addr: u32) -> bool {
        let stop = if self.cycles >= self.budget {
            Some(Stop::Budget)
        } else if self.view.flash_busy && memory::FLASH.contains(self.physical(addr)) {
            // Fetching from flash while it is programmed or erased stalls the core.
            Some(Stop::FlashStall)
        } else if self.scs.attention
            || self.scs.reset_request
            || (self.watch_masks && masks_open(&self.scs, uc))
        {
            Some(Stop::Attention)
        } else {
            None
        };
        self.stop = stop;
        stop.is_some()
    }

    /// The block at `addr` is about to be fetched: the flash interface reads whole
    /// double-words and checks their ECC as for a data read (ECCR latches the first error,
    /// with its address and the fetching CPU). A correctable error only sets ECCC (and may
    /// interrupt, ECCCIE); an uncorrectable one raises NMI on this core. Returns whether the
    /// engine must stop before the block so the NMI is taken first.
    ///
    /// Precision: the whole block is checked before it runs, so the NMI's return address is
    /// the first instruction of the block that fetches the broken double-word. That may be a
    /// few instructions earlier than on the chip (whose prefetch reads ahead of execution
    /// anyway), never later: no instruction made of the corrupted bytes retires. Every run of
    /// the block is a fetch (the I-cache is not modelled here), as every load is a data read.
    #[cold]
    #[inline(never)]
    pub(super) fn fetch_meets_ecc(&mut self, addr: u32, size: u32) -> bool {
        let start = self.physical(addr);
        let end = start.saturating_add(size);
        let first = self.ecc_dws.partition_point(|&dw| dw + 8 <= start);
        let hit = self.ecc_dws[first..]
            .iter()
            .take_while(|&&dw| dw < end)
            .count();
        if hit == 0 {
            return false;
        }
        let mut uncorrectable = false;
        let bus = self.bus.clone();
        let mut sh = bus.borrow_mut();
        let before = sh.flash.eccr();
        for &dw in &self.ecc_dws[first..first + hit] {
            uncorrectable |=
                sh.flash.ecc_read(dw - memory::FLASH.base, self.id) == Some(Ecc::Uncorrectable);
        }
        let eccr_changed = sh.flash.eccr() != before;
        drop(sh);
        if uncorrectable {
            self.scs.set_pending(crate::scs::exc::NMI, true);
            // Inside the NMI handler the new NMI waits for its return: the block runs.
            if !self.scs.is_active(crate::scs::exc::NMI) {
                self.request_attention();
                self.stop = Some(Stop::Attention);
                return true;
            }
        }
        if eccr_changed {
            // ECCC with ECCCIE raises the flash interrupt: let the machine look.
            self.request_attention();
        }
        false
    }

    /// The block hook: settle the previous block's final branch (its target is `addr`), stop
    /// if the slice is over or the machine must look, else charge the block about to run.
    #[inline(always)]
    pub(super) fn on_block(&mut self, uc: *mut uc_engine, addr: u32, size: u32) -> bool {
        // One load and one store of `cycles` per block: split read-modify-writes of it stall
        // the store buffer on this path.
        let mut cycles = self.cycles;
        if addr != self.fallthrough {
            cycles += self.taken_extra as u64;
        }
        if cycles >= self.deadline {
            self.cycles = cycles;
            self.taken_extra = 0;
            if self.must_stop(uc, addr) {
                return false;
            }
        }
        if !self.ecc_dws.is_empty() && self.fetch_meets_ecc(addr, size) {
            self.cycles = cycles;
            self.taken_extra = 0;
            return false;
        }
        let c = self.charge_of(addr, size);
        self.cycles = cycles + c.cycles as u64;
        self.insns += c.insns as u64;
        self.blocks += 1;
        self.fallthrough = addr + size;
        self.taken_extra = c.taken_extra as u32;
        self.last_block = (addr, c);
        if c.flags & Charge::SEV != 0 {
            // The other core may be waiting for this event: let the machine look after the block.
            self.bus.borrow_mut().sev_to = [true, true];
            self.request_attention();
        }
        true
    }
}

/// The block hook as unicorn calls it: straight into `CoreState`, with no closure trampoline
/// (this runs once per executed block, the hottest path of the emulator).
pub(super) unsafe extern "C" fn block_hook(
    uc: *mut uc_engine,
    addr: u64,
    size: u32,
    user: *mut c_void,
) {
    // SAFETY: `user` is the engine's own `CoreState` (installed in `install_hooks`), which lives
    // in the engine's heap cell for the engine's lifetime; hooks never run concurrently and no
    // other reference to the state is live while the engine executes guest code.
    let st = unsafe { &mut *(user as *mut CoreState) };
    if !st.on_block(uc, addr as u32, size) {
        // SAFETY: `uc` is the live engine calling us.
        unsafe { uc_emu_stop(uc) };
    }
}

impl Core {
    pub(super) fn install_hooks(&mut self) -> Result<(), EngineError> {
        let user = (self.uc.get_data_mut() as *mut CoreState).cast::<c_void>();
        // SAFETY: `user` is this engine's user data, which outlives its hooks (both are dropped
        // with the engine); `block_hook` reads it as a `CoreState`.
        unsafe { add_raw_hook(&self.uc, HookType::BLOCK, block_hook as *mut c_void, user) }?;
        // SAFETY: as above; `read_prot_hook` has unicorn's signature of a memory event hook.
        unsafe {
            add_raw_hook(
                &self.uc,
                HookType::MEM_READ_PROT,
                read_prot_hook as *mut c_void,
                user,
            )
        }?;
        self.uc
            .add_intr_hook(|uc, intno| {
                let stop = match intno {
                    excp::SWI => Stop::Svc,
                    excp::BKPT => Stop::Bkpt,
                    excp::EXCEPTION_EXIT => Stop::ExceptionReturn,
                    excp::NOCP => Stop::Fault(Fault::NoCoprocessor),
                    excp::INVSTATE => Stop::Fault(Fault::InvalidState),
                    excp::UNALIGNED => Stop::Fault(Fault::Unaligned),
                    excp::UDEF => Stop::Fault(Fault::Undefined),
                    other => {
                        warn!(target: "wb::core", intno = other, "unexpected engine exception, treated as undefined");
                        Stop::Fault(Fault::Undefined)
                    }
                };
                uc.get_data_mut().stop = Some(stop);
                let _ = uc.emu_stop();
            })
            .map_err(uc_err("the interrupt hook"))?;
        // UDF and YIELD/WFE both arrive here; `classify_invalid` tells them apart.
        self.uc
            .add_insn_invalid_hook(|uc| {
                let stop = classify_invalid(uc);
                uc.get_data_mut().stop = Some(stop);
                let _ = uc.emu_stop();
                true
            })
            .map_err(uc_err("the invalid-instruction hook"))?;
        // Loads refused for protection come to `read_prot_hook`.
        let fault_types =
            HookType::MEM_UNMAPPED | HookType::MEM_WRITE_PROT | HookType::MEM_FETCH_PROT;
        self.uc
            .add_mem_hook(fault_types, 1, 0, |uc, ty, addr, _size, _value| {
                let st = uc.get_data_mut();
                match view::decode_hole(addr as u32) {
                    Some(Hole::Stall) => st.stop = Some(Stop::FlashStall),
                    Some(Hole::Denied(a)) => st.fault_addr = Some((ty, a)),
                    None => st.fault_addr = Some((ty, addr as u32)),
                }
                false
            })
            .map_err(uc_err("the fault hook"))?;
        // The per-core view decides where each page goes (see `view`).
        self.uc
            .add_tlb_hook(1, 0, |uc, addr, ty| {
                if ty != MemType::FETCH {
                    drop_it_state(uc.get_handle());
                }
                let st = uc.get_data();
                let (paddr, perms) = st.tlb_view.translate(st.physical(addr as u32), ty);
                Some(TlbEntry {
                    paddr: paddr as u64,
                    perms,
                })
            })
            .map_err(uc_err("the TLB hook"))?;
        self.map_scs()?;
        self.map_flash()?;
        Ok(())
    }
}

/// Install `callback` (a raw hook of type `ty`, with unicorn's signature for it) over all
/// addresses, with `user` as its user data: no closure trampoline on hot paths.
///
/// # Safety
/// `callback` must have the signature unicorn gives hooks of type `ty`, and `user` must be
/// valid for whatever it does with it for as long as the engine lives.
pub(crate) unsafe fn add_raw_hook<D>(
    uc: &Unicorn<'_, D>,
    ty: HookType,
    callback: *mut c_void,
    user: *mut c_void,
) -> Result<(), EngineError> {
    let mut handle: uc_hook = 0;
    // SAFETY: the caller vouches for `callback` and `user`.
    let err = unsafe {
        uc_hook_add(
            uc.get_handle(),
            &mut handle,
            ty.0 as i32,
            callback,
            user,
            1u64,
            0u64,
        )
    };
    if err == uc_error::OK {
        Ok(())
    } else {
        Err(uc_err("a hook")(err))
    }
}

/// The IT bits of the CPSR as unicorn reads it, and the EPSR Thumb bit.
pub(crate) const CPSR_IT: u32 = 0x0600_FC00;

pub(crate) const XPSR_T: u32 = 1 << 24;

/// Before a data TLB fill or a protection hook, unicorn synchronises the CPU to the access,
/// Thumb IT state included. Inside a translated block that state is kept zero (qemu clears it
/// at the start of a block and stores it only when a block ends inside an IT block): left
/// set, it leaks into the next block, whose first instructions then run as if conditional.
/// The access goes on afterwards (a fault exit synchronises again), so clear it.
pub(super) fn drop_it_state(uc: *mut uc_engine) {
    if raw_reg(uc, RegisterARM::CPSR) & CPSR_IT != 0 {
        let epsr = XPSR_T as u64;
        // SAFETY: `uc` is the live engine calling a hook; EPSR takes a 32-bit value.
        unsafe { uc_reg_write(uc, RegisterARM::EPSR as i32, (&epsr as *const u64).cast()) };
    }
}

/// Whether the masks (PRIMASK, FAULTMASK, BASEPRI) now let the pending exception in.
pub(super) fn masks_open(scs: &Scs, uc: *mut uc_engine) -> bool {
    let Some((_, prio)) = scs.highest_pending() else {
        return false;
    };
    let primask = raw_reg(uc, RegisterARM::PRIMASK) & 1 != 0;
    let faultmask = raw_reg(uc, RegisterARM::FAULTMASK) & 1 != 0;
    let basepri = raw_reg(uc, RegisterARM::BASEPRI) as i32;
    let exec = crate::exception::execution_priority(scs, primask, faultmask, basepri);
    prio < exec
}

/// Read a register of the engine that is calling a hook.
pub(super) fn raw_reg(uc: *mut uc_engine, r: RegisterARM) -> u32 {
    let mut v = 0u64;
    // SAFETY: `uc` is a live engine (we are inside its hook) and ARM registers are at most
    // 64 bits wide.
    unsafe { uc_reg_read(uc, r as i32, (&mut v as *mut u64).cast()) };
    v as u32
}

/// UDF and the YIELD-like hints (WFE, YIELD) reach the invalid-instruction hook alike.
/// A hint leaves the PC after itself, at the end of the block that just ran; UDF leaves it on
/// the faulting instruction.
pub(super) fn classify_invalid(uc: &Unicorn<'_, CoreState>) -> Stop {
    let pc = uc.reg_read(RegisterARM::PC).unwrap_or(0) as u32;
    let (addr, c) = uc.get_data().last_block;
    if pc == addr + c.size as u32 {
        match c.end() {
            BlockEnd::Wfe => return Stop::Wfe,
            BlockEnd::Yield => return Stop::Yield,
            _ => {}
        }
    }
    Stop::Fault(Fault::Undefined)
}
