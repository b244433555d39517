//! Snapshots: the whole machine state as plain, owned, `Send` data.

use super::*;

impl Machine {
    /// Snapshot the whole machine (memories, peripherals, cores, clock).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            now: self.now,
            trace: self.trace,
            mem: self.mem.copy_all(),
            bus: self.bus.borrow().clone(),
            cores: [
                CoreSnapshot::take(&self.cores[0]),
                CoreSnapshot::take(&self.cores[1]),
            ],
            boot: self.boot,
            quantum: self.quantum,
            boots: self.boots.clone(),
        }
    }

    /// Restore a snapshot taken from this machine. Translated code is flushed.
    pub fn restore(&mut self, snap: &Snapshot) {
        self.now = snap.now;
        self.trace = snap.trace;
        self.mem.restore_all(&snap.mem);
        *self.bus.borrow_mut() = snap.bus.clone();
        self.boot = snap.boot;
        self.quantum = snap.quantum;
        self.boots.clone_from(&snap.boots);
        for (c, s) in self.cores.iter_mut().zip(&snap.cores) {
            s.apply(c, &mut self.mem);
        }
        self.flash_key = None;
        self.sync_flash();
    }
}

impl Machine {
    /// A digest of everything that decides what the machine does from now on: the time, the
    /// configuration, the memories, every peripheral's state, the cores' registers and model state, the boot
    /// vectors, what is armed. What only records the past is left out (the flash log, the
    /// boots, the tallies of cycles, instructions and blocks, the trace hash), and cycle
    /// numbers are taken relative to each core's count. Two machines with equal digests run
    /// the same from here: campaigns stop a case that reaches a state already judged.
    pub fn state_digest(&self) -> u64 {
        use std::hash::Hasher;
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for (_, d) in self.state_parts() {
            h.write_u64(d);
        }
        h.finish()
    }

    /// [`Machine::state_digest`] part by part, named: where two states differ.
    pub fn state_parts(&self) -> Vec<(String, u64)> {
        use std::hash::{Hash, Hasher};
        fn part(
            name: impl Into<String>,
            f: impl FnOnce(&mut xxhash_rust::xxh3::Xxh3),
        ) -> (String, u64) {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            f(&mut h);
            (name.into(), h.finish())
        }
        let mut parts = vec![part("machine", |h| {
            (self.now, self.quantum, self.boot).hash(h);
            let limit = self
                .cycle_limit
                .map(|(i, n)| (i, n.wrapping_sub(self.cores[i].state().cycles)));
            h.write(format!("{:?}{limit:?}{:?}", self.power_cut, self.config).as_bytes());
        })];
        for (i, b) in self.mem.buffers().iter().enumerate() {
            parts.push(part(format!("memory {i}"), |h| h.write(b)));
        }
        let bus = self.bus.borrow();
        parts.push(part("flash", |h| bus.flash.digest_state(h)));
        let system = (&bus.sev_to, &bus.rcc, &bus.pwr, &bus.exti, &bus.syscfg);
        parts.push(part("system", |h| {
            h.write(format!("{system:?}").as_bytes())
        }));
        for p in &bus.periphs {
            parts.push(part(p.dev.name(), |h| {
                h.write(format!("{:?}{}", p.dev, p.gate_traced).as_bytes())
            }));
        }
        for c in &self.cores {
            let r = CoreSnapshot::take(c);
            let regs = (&r.regs, &r.fp, r.msp, r.psp, r.control, r.xpsr);
            parts.push(part(format!("{} registers", c.id), |h| {
                h.write(format!("{regs:?}{:?}", c.breakpoints()).as_bytes())
            }));
            parts.push(part(format!("{} state", c.id), |h| c.state().digest(h)));
        }
        parts
    }
}

/// The core registers a snapshot keeps besides the FP bank and the stack pointers.
pub(super) fn core_regs() -> impl Iterator<Item = RegisterARM> {
    use RegisterARM::{BASEPRI, FAULTMASK, LR, PC, PRIMASK};
    crate::core::GPRS
        .into_iter()
        .chain([LR, PC, PRIMASK, BASEPRI, FAULTMASK])
}

/// The architectural state of one core plus its model state.
#[derive(Clone, Debug)]
pub struct CoreSnapshot {
    regs: Vec<u32>,
    fp: Vec<u32>,
    msp: u32,
    psp: u32,
    control: u32,
    xpsr: u32,
    state: CoreStateSnapshot,
}

#[derive(Clone, Debug)]
struct CoreStateSnapshot {
    scs: Scs,
    cycles: u64,
    insns: u64,
    idle_cycles: u64,
    blocks: u64,
    domain: crate::clock::CycleDomain,
    run: RunState,
    event_register: bool,
    waits: crate::core::FlashWaits,
    boot_alias: BootAlias,
    watch_masks: bool,
}

impl CoreSnapshot {
    pub(super) fn take(c: &Core) -> CoreSnapshot {
        let st: &CoreState = c.state();
        let fp = if st.scs.is_m4() {
            let mut v: Vec<u32> = (0..32).map(|i| c.reg(fp_reg(i))).collect();
            v.push(c.reg(RegisterARM::FPSCR));
            v
        } else {
            vec![]
        };
        CoreSnapshot {
            regs: core_regs().map(|r| c.reg(r)).collect(),
            fp,
            msp: c.reg(RegisterARM::MSP),
            psp: c.reg(RegisterARM::PSP),
            control: c.reg(RegisterARM::CONTROL),
            xpsr: c.reg(RegisterARM::XPSR),
            state: CoreStateSnapshot {
                scs: st.scs.clone(),
                cycles: st.cycles,
                insns: st.insns,
                idle_cycles: st.idle_cycles,
                blocks: st.blocks,
                domain: st.domain,
                run: st.run,
                event_register: st.event_register,
                waits: st.flash_waits(),
                boot_alias: st.boot_alias,
                watch_masks: st.watch_masks,
            },
        }
    }

    pub(super) fn apply(&self, c: &mut Core, mem: &mut Memories) {
        let s = &self.state;
        let remap = c.state().boot_alias != s.boot_alias;
        {
            let st = c.state_mut();
            st.scs = s.scs.clone();
            st.cycles = s.cycles;
            st.insns = s.insns;
            st.idle_cycles = s.idle_cycles;
            st.blocks = s.blocks;
            st.domain = s.domain;
            st.run = s.run;
            st.event_register = s.event_register;
            st.set_flash_waits(s.waits);
            st.boot_alias = s.boot_alias;
            st.watch_masks = s.watch_masks;
        }
        if remap {
            let _ = c.map_boot_alias(mem);
        }
        let ipsr = self.xpsr & 0x1FF;
        c.set_mode(ipsr, self.control);
        c.set_reg(RegisterARM::MSP, self.msp);
        c.set_reg(RegisterARM::PSP, self.psp);
        for (r, v) in core_regs().zip(&self.regs) {
            if c.kind == crate::timing::CoreKind::M0Plus
                && matches!(r, RegisterARM::BASEPRI | RegisterARM::FAULTMASK)
            {
                continue;
            }
            c.set_reg(r, *v);
        }
        for (i, v) in self.fp.iter().enumerate() {
            c.set_reg(
                if i < 32 {
                    fp_reg(i)
                } else {
                    RegisterARM::FPSCR
                },
                *v,
            );
        }
        let flags = if c.kind == crate::timing::CoreKind::M4 {
            RegisterARM::XPSR_NZCVQG
        } else {
            RegisterARM::XPSR_NZCVQ
        };
        c.set_reg(flags, self.xpsr);
        c.set_reg(RegisterARM::EPSR, self.xpsr);
        c.rebuild_flags();
        c.flush_all_code();
    }
}

impl Snapshot {
    /// How many flash operations had ended when it was taken (see
    /// [`Machine::ended_flash_ops`]).
    pub fn flash_ops_ended(&self) -> usize {
        let log = self.bus.flash.log();
        log.iter()
            .position(|r| r.outcome == Outcome::Pending)
            .unwrap_or(log.len())
    }
}

/// A copy of the whole machine state; cheap to clone, restorable any number of times.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub now: Picos,
    trace: u64,
    mem: Vec<Vec<u8>>,
    bus: Bus,
    cores: [CoreSnapshot; 2],
    boot: BootVectors,
    quantum: Picos,
    boots: Vec<Boot>,
}
