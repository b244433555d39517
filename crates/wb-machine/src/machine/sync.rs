//! Keeping the cores in step with the flash controller (code changes, views, wait states,
//! OBL_LAUNCH), the RCC (core clocks) and PWR (C2BOOT), and the boot log.

use super::*;

impl Machine {
    /// Bring the machine up to date after a core stopped or time advanced: flash state, core
    /// clocks, CPU2 boot.
    pub(super) fn sync(&mut self) {
        self.sync_flash();
        self.sync_system();
    }

    /// The flash operations that have ended (done, refused, torn, or dropped by a power cut)
    /// from index `from` of the log on, in order: a reader that keeps `from +` what it got
    /// sees each operation once, as soon as it looks (one runs at a time, so they end in log
    /// order). Reading changes nothing. After a [`Machine::restore`], bring the index back to
    /// at most [`Snapshot::flash_ops_ended`]: the operations after it will end anew.
    pub fn ended_flash_ops(&self, from: usize) -> Vec<OpRecord> {
        let sh = self.bus.borrow();
        sh.flash
            .log()
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|r| r.outcome != Outcome::Pending)
            .cloned()
            .collect()
    }

    /// Core frequencies follow the RCC; C2BOOT releases CPU2 (at safeboot when its option
    /// bytes failed their check or lock the whole flash).
    pub(super) fn sync_system(&mut self) {
        let (freq_change, boot, freqs, safeboot, vector) = {
            let mut sh = self.bus.borrow_mut();
            let freq_change = sh.rcc.take_freq_change();
            let boot = sh.pwr.take_cpu2_boot();
            let vector = sh.flash.options().cpu2_boot_vector();
            (
                freq_change,
                boot,
                sh.rcc.frequencies(),
                sh.flash.cpu2_boots_safeboot(),
                vector,
            )
        };
        if freq_change {
            // The change happened where the running core that made it stopped (or, with none
            // running, now): a core that is not running idled up to that moment at the old
            // frequency, wherever the last quantum boundary was.
            let at = self
                .cores
                .iter()
                .filter(|c| c.state().run == RunState::Running)
                .map(|c| c.state().now())
                .fold(self.now, Picos::max);
            for c in &mut self.cores {
                let hz = core_hz(self.config.clocks, freqs, c.id);
                let st = c.state_mut();
                if st.domain.hz == hz {
                    continue;
                }
                // A running core changes frequency where it stopped.
                if st.run != RunState::Running {
                    let caught_up = st.domain.cycles_at(at);
                    if caught_up > st.cycles {
                        st.idle_cycles += caught_up - st.cycles;
                        st.cycles = caught_up;
                    }
                }
                let cycles = st.cycles;
                st.domain.rebase(hz, cycles);
            }
            self.bus.borrow_mut().set_bus_clocks(self.config.clocks);
        }
        if boot && self.cores[1].state().run == RunState::Held && self.boot.cpu2.is_none() {
            let vector = if safeboot {
                self.config.safeboot_vector
            } else {
                vector
            };
            debug!(target: "wb::machine", vector = format_args!("{vector:#010x}"), safeboot, "CPU2 boots");
            self.cores[1].reset(vector);
            self.record_boot(CoreId::Cpu2, vector, BootCause::C2Boot { safeboot });
        }
    }

    pub(super) fn record_boot(&mut self, core: CoreId, vector: u32, cause: BootCause) {
        self.boots.push(Boot {
            at: self.now,
            core,
            vector,
            cause,
            insns: [self.cores[0].state().insns, self.cores[1].state().insns],
        });
    }

    /// Bring the cores up to date with the flash controller: code that changed is
    /// retranslated, views follow the option bytes and the busy state, wait states follow
    /// FLASH_ACR, and OBL_LAUNCH resets the system.
    pub(super) fn sync_flash(&mut self) {
        let mut sh = self.bus.borrow_mut();
        let changed = sh.flash.take_changed();
        let obl_launch = sh.flash.take_obl_launch();
        let busy = sh.flash.busy_until().is_some();
        let options = *sh.flash.options();
        let acr = CoreId::ALL.map(|c| sh.flash.acr(c));
        let ecc = sh.flash.ecc_errors();
        // The broken double-words themselves, not just their count: an erase may clear one
        // while a torn operation leaves another between two looks.
        let fresh = self.flash_key.as_ref().is_none_or(|(b, o, a, e)| {
            (*b, *o, *a) != (busy, options, acr) || !e.iter().eq(ecc.keys())
        });
        let views = fresh.then(|| {
            let dws: Vec<u32> = ecc.keys().copied().collect();
            let mut ecc_pages: Vec<u32> = dws.iter().map(|dw| (dw * 8) >> 10).collect();
            ecc_pages.dedup();
            let views = CoreId::ALL.map(|c| View::new(c, &options, busy, ecc_pages.clone()));
            (views, dws)
        });
        drop(sh);
        for (start, end) in changed {
            for c in &mut self.cores {
                c.invalidate_code(memory::FLASH.base + start, memory::FLASH.base + end);
            }
        }
        if let Some((views, dws)) = views {
            let fetch: Vec<u32> = dws.iter().map(|dw| memory::FLASH.base + dw * 8).collect();
            for ((c, view), acr) in self.cores.iter_mut().zip(views).zip(acr) {
                c.set_view(view);
                let id = c.id;
                let st = c.state_mut();
                st.set_flash_waits(FlashWaits::from_acr(acr, id));
                st.set_ecc_dws(fetch.clone());
            }
            self.flash_key = Some((busy, options, acr, dws));
        }
        if obl_launch {
            self.reset(ResetCause::OptionLoad);
        }
    }
}
