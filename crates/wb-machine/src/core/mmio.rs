//! Register windows: peripherals on the bus, the flash controller, the core's own SCS and
//! DWT. Mapped without read permission so that every register load is seen, with the CPU
//! synchronised, by the read-protection hook before it happens: precise bus faults.

use super::hooks::drop_it_state;
use super::*;

/// A register window, and what answers its loads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub(super) base: u32,
    pub(super) size: u32,
    pub(super) kind: WindowKind,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum WindowKind {
    Device(Target),
    /// The core's own SCS (NVIC, SCB, SysTick) or DWT, at this offset in `Scs`'s map.
    Scs {
        shift: u32,
    },
    Flash,
}

impl CoreState {
    /// A load from a register window at `addr`: `None` outside the windows, else the value
    /// or the model's refusal.
    pub(super) fn read_register(&mut self, addr: u32, size: usize) -> Option<Result<u64, ()>> {
        let hit = |w: &Window| addr.wrapping_sub(w.base) < w.size;
        if !self.windows.get(self.last_window).is_some_and(hit) {
            self.last_window = self.windows.iter().position(hit)?;
        }
        let w = self.windows[self.last_window];
        let off = addr - w.base;
        let r = match w.kind {
            WindowKind::Device(target) => {
                let access = self.access(size);
                self.bus.borrow_mut().read(target, off, access)
            }
            WindowKind::Flash => {
                let access = self.access(size);
                self.bus.borrow_mut().flash.read(off, access)
            }
            WindowKind::Scs { shift } => self
                .scs
                .read(off + shift, size as u32, self.cycles)
                .ok_or(wb_periph::BusError::Denied),
        };
        Some(r.map(u64::from).map_err(|e| {
            trace!(target: "wb::bus", ?e, addr = format_args!("{addr:#010x}"), "load refused");
        }))
    }

    /// The bus stalls this core until the running flash operation ends; the operation is then
    /// complete (its effect lands now, at the time this core has reached).
    pub(super) fn wait_for_flash(&mut self, sh: &mut Bus) {
        if let Some(t) = sh.flash.busy_until() {
            self.cycles = self.cycles.max(self.domain.cycles_at(t));
            sh.flash.complete(&mut self.flash_mem.view());
        }
    }
}

impl Core {
    pub(super) fn map_scs(&mut self) -> Result<(), EngineError> {
        // SCS (NVIC, SCB, SysTick) at 0xE000_E000 and the DWT at 0xE000_1000, both per core.
        for (base, shift) in [
            (0xE000_E000u64, 0u32),
            (0xE000_1000u64, crate::scs::reg::DWT_CTRL),
        ] {
            self.uc
                .mmio_map(
                    base,
                    0x1000,
                    Some(
                        move |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize| {
                            register_load(uc, base as u32 + off as u32, size)
                        },
                    ),
                    Some(
                        move |uc: &mut Unicorn<'_, CoreState>,
                              off: u64,
                              size: usize,
                              value: u64| {
                            let st = uc.get_data_mut();
                            let cycles = st.cycles;
                            let ok =
                                st.scs
                                    .write(off as u32 + shift, size as u32, value as u32, cycles);
                            if st.scs.attention || st.scs.reset_request {
                                st.deadline = 0;
                            }
                            if !ok {
                                st.stop = Some(Stop::Fault(Fault::Peripheral {
                                    addr: base as u32 + off as u32,
                                }));
                                let _ = uc.emu_stop();
                            }
                        },
                    ),
                )
                .map_err(uc_err("to map the system control space"))?;
            self.protect_reads(base as u32, 0x1000, WindowKind::Scs { shift })?;
        }
        Ok(())
    }

    /// Make loads from a register window precise. Its pages lose their read permission, so
    /// that unicorn calls the protection hook before each load, with the PC synchronised to
    /// the load: the hook reads the register there and lets the load go on (the MMIO read
    /// then returns that value), or reports the model's refusal as a fault that stops the
    /// engine on the load, before it writes its register. Costs a hook call per register
    /// load; RAM and flash are not concerned.
    pub(super) fn protect_reads(
        &mut self,
        base: u32,
        size: u32,
        kind: WindowKind,
    ) -> Result<(), EngineError> {
        self.uc
            .mem_protect(base as u64, size as u64, Prot::WRITE)
            .map_err(uc_err(format!("to protect the registers at {base:#010x}")))?;
        self.uc
            .get_data_mut()
            .windows
            .push(Window { base, size, kind });
        Ok(())
    }

    /// The flash controller's registers, and the ports the view sends flash stores and
    /// ECC-checked reads to.
    pub(super) fn map_flash(&mut self) -> Result<(), EngineError> {
        self.uc
            .mmio_map(
                FLASH_REGS as u64,
                0x400,
                Some(|uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize| {
                    register_load(uc, FLASH_REGS + off as u32, size)
                }),
                Some(
                    |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize, value: u64| {
                        let st = uc.get_data_mut();
                        let bus = st.bus.clone();
                        let mut sh = bus.borrow_mut();
                        if sh.flash.register_stall(off as u32, true).is_some() {
                            st.wait_for_flash(&mut sh);
                        }
                        let r = sh.flash.write(off as u32, value as u32, st.access(size));
                        drop(sh);
                        st.request_attention();
                        let _ = bus_result(uc, FLASH_REGS + off as u32, r);
                    },
                ),
            )
            .map_err(uc_err("to map the flash registers"))?;
        self.protect_reads(FLASH_REGS, 0x400, WindowKind::Flash)?;
        self.uc
            .mmio_map(
                WRITE_PORT as u64,
                PORT_SIZE as u64,
                None::<fn(&mut Unicorn<'_, CoreState>, u64, usize) -> u64>,
                Some(
                    |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize, value: u64| {
                        let st = uc.get_data_mut();
                        let bus = st.bus.clone();
                        let mut sh = bus.borrow_mut();
                        st.wait_for_flash(&mut sh);
                        let access = st.access(size);
                        let mut mem = st.flash_mem.view();
                        sh.flash
                            .program_write(off as u32, value as u32, access, &mut mem);
                        drop(sh);
                        st.request_attention();
                    },
                ),
            )
            .map_err(uc_err("to map the flash write port"))?;
        self.uc
            .mmio_map(
                READ_PORT as u64,
                PORT_SIZE as u64,
                Some(|uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize| {
                    let st = uc.get_data_mut();
                    let (off, core) = (off as u32, st.id);
                    let bus = st.bus.clone();
                    let mut sh = bus.borrow_mut();
                    let mut uncorrectable = false;
                    let mut bytes = [0u8; 8];
                    if sh.flash.pcrop_read(off, core) {
                        // PCROP: RDERR, the read gives 0.
                    } else {
                        for dw in [off & !7, (off + size as u32 - 1) & !7] {
                            uncorrectable |=
                                sh.flash.ecc_read(dw, core) == Some(Ecc::Uncorrectable);
                        }
                        let mem = st.flash_mem.view();
                        bytes[..size].copy_from_slice(&mem.main[off as usize..off as usize + size]);
                    }
                    drop(sh);
                    if uncorrectable {
                        // ECCD: NMI on the reading core.
                        st.scs.set_pending(crate::scs::exc::NMI, true);
                    }
                    st.request_attention();
                    u64::from_le_bytes(bytes)
                }),
                None::<fn(&mut Unicorn<'_, CoreState>, u64, usize, u64)>,
            )
            .map_err(uc_err("to map the flash read port"))
    }

    /// Map a peripheral window (already on the shared bus as `target`).
    pub(crate) fn map_peripheral(
        &mut self,
        target: Target,
        base: u32,
        size: u32,
    ) -> Result<(), EngineError> {
        let page = 0x400;
        let mapped = size.div_ceil(page) * page;
        self.uc
            .mmio_map(
                base as u64,
                mapped as u64,
                Some(
                    move |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize| {
                        register_load(uc, base + off as u32, size)
                    },
                ),
                Some(
                    move |uc: &mut Unicorn<'_, CoreState>, off: u64, size: usize, value: u64| {
                        let st = uc.get_data_mut();
                        let r = st.bus.borrow_mut().write(
                            target,
                            off as u32,
                            value as u32,
                            st.access(size),
                        );
                        // A write may raise an interrupt or arm timed work: let the machine look.
                        st.request_attention();
                        let _ = bus_result(uc, base + off as u32, r);
                    },
                ),
            )
            .map_err(uc_err(format!("to map a peripheral at {base:#010x}")))?;
        self.protect_reads(base, mapped, WindowKind::Device(target))
    }
}

/// A refused register access becomes a bus fault of the core that made it.
pub(super) fn bus_result<T>(
    uc: &mut Unicorn<'_, CoreState>,
    addr: u32,
    r: Result<T, wb_periph::BusError>,
) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            trace!(target: "wb::bus", ?e, addr = format_args!("{addr:#010x}"), "access refused");
            uc.get_data_mut().stop = Some(Stop::Fault(Fault::Peripheral { addr }));
            let _ = uc.emu_stop();
            None
        }
    }
}

/// Unicorn's protection hook for loads, called directly (it runs before every load from a
/// register window, see `Core::protect_reads`): read the register and let the load go on with
/// that value staged, or stop the engine on the load when the model refuses it.
pub(super) unsafe extern "C" fn read_prot_hook(
    uc: *mut uc_engine,
    _ty: i32,
    addr: u64,
    size: u32,
    _value: i64,
    user: *mut c_void,
) -> bool {
    // SAFETY: as in `block_hook`: `user` is the engine's own `CoreState`.
    let st = unsafe { &mut *(user as *mut CoreState) };
    let addr = addr as u32;
    match st.read_register(addr, size as usize) {
        Some(Ok(v)) => {
            st.staged = Some((addr, v));
            drop_it_state(uc);
            true
        }
        _ => {
            st.fault_addr = Some((MemType::READ_PROT, addr));
            false
        }
    }
}

/// The MMIO read of a register window: the value the protection hook staged for it, or (for
/// a load the hook did not see) the register read now, a refusal then being imprecise.
pub(super) fn register_load(uc: &mut Unicorn<'_, CoreState>, addr: u32, size: usize) -> u64 {
    let st = uc.get_data_mut();
    if let Some((at, v)) = st.staged.take() {
        if at == addr {
            return v;
        }
    }
    match st.read_register(addr, size) {
        Some(Ok(v)) => v,
        _ => {
            st.stop = Some(Stop::Fault(Fault::Peripheral { addr }));
            let _ = uc.emu_stop();
            0
        }
    }
}
