//! The exception model on a plain-data core: registers in a map, memory in a buffer, no
//! engine. Frames, EXC_RETURN values and fault bits are those of the ARMv7-M / ARMv6-M ARM
//! (B1.5.6 entry, B1.5.7 stack alignment, B1.5.8 return, B1.5.15 lockup).

use std::collections::BTreeMap;

use unicorn_engine::RegisterARM as R;
use wb_periph::CoreId;

use super::*;

/// RAM the mock core sees: the vector table at 0, the stacks below 0x2000_2000.
const RAM: u32 = 0x2000_0000;
const RAM_LEN: usize = 0x2000;
const VTOR: u32 = RAM;
/// Where each exception's handler is (vector n → HANDLERS + 0x10 n).
const HANDLERS: u32 = 0x0800_1000;
const STACK: u32 = RAM + 0x1800;

struct Mock {
    kind: CoreKind,
    regs: BTreeMap<i32, u32>,
    apsr: u32,
    ipsr: u32,
    epsr: u32,
    mem: Vec<u8>,
    scs: Scs,
    cycles: u64,
    run: RunState,
    event: bool,
}

impl Mock {
    fn new(kind: CoreKind) -> Mock {
        let n_irq = if kind == CoreKind::M4 { 63 } else { 32 };
        let mut m = Mock {
            kind,
            regs: BTreeMap::new(),
            apsr: 0,
            ipsr: 0,
            epsr: 0,
            mem: vec![0; RAM_LEN],
            scs: Scs::new(kind, n_irq, VTOR),
            cycles: 0,
            run: RunState::Running,
            event: false,
        };
        for n in 1..64u32 {
            let at = VTOR + 4 * n;
            m.poke(at, HANDLERS + 0x10 * n + 1);
        }
        m.poke(VTOR, STACK);
        m.reset(VTOR);
        m
    }

    fn poke(&mut self, addr: u32, v: u32) {
        let at = (addr - RAM) as usize;
        self.mem[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn peek(&self, addr: u32) -> u32 {
        let at = (addr - RAM) as usize;
        u32::from_le_bytes(self.mem[at..at + 4].try_into().unwrap())
    }

    /// Enable external interrupt `irq` with priority byte `prio`.
    fn irq(&mut self, irq: u32, prio: u8) {
        self.scs.irq_enabled |= 1 << irq;
        self.scs.irq_prio[irq as usize] = prio & self.scs.prio_mask();
    }

    fn pend(&mut self, irq: u32) {
        self.scs.pend_irq(irq);
    }
}

impl CpuContext for Mock {
    fn kind(&self) -> CoreKind {
        self.kind
    }

    fn id(&self) -> CoreId {
        CoreId::Cpu1
    }

    fn reg(&self, r: R) -> u32 {
        match r {
            R::XPSR => self.apsr | self.ipsr | self.epsr,
            R::IPSR => self.ipsr,
            R::APSR => self.apsr,
            R::SP => {
                let psp = self.ipsr == 0 && self.reg(R::CONTROL) & 2 != 0;
                self.reg(if psp { R::PSP } else { R::MSP })
            }
            r => self.regs.get(&(r as i32)).copied().unwrap_or(0),
        }
    }

    fn set_reg(&mut self, r: R, v: u32) {
        match r {
            R::XPSR_NZCVQG | R::XPSR_NZCVQ | R::APSR_NZCV => self.apsr = v & 0xF80F_0000,
            R::EPSR => self.epsr = v & 0x0700_FC00,
            R::IPSR => self.ipsr = v & 0x1FF,
            r => {
                self.regs.insert(r as i32, v);
            }
        }
    }

    fn write_mode(&mut self, ipsr: u32, control: u32) {
        self.ipsr = ipsr;
        self.regs.insert(R::CONTROL as i32, control);
    }

    fn rebuild_flags(&mut self) {}

    fn read_mem(&self, addr: u32, buf: &mut [u8]) -> bool {
        let Some(at) = addr.checked_sub(RAM).map(|a| a as usize) else {
            return false;
        };
        match self.mem.get(at..at + buf.len()) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }

    fn write_mem(&mut self, addr: u32, bytes: &[u8]) -> bool {
        let Some(at) = addr.checked_sub(RAM).map(|a| a as usize) else {
            return false;
        };
        match self.mem.get_mut(at..at + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    fn scs(&self) -> &Scs {
        &self.scs
    }

    fn scs_mut(&mut self) -> &mut Scs {
        &mut self.scs
    }

    fn table(&self) -> &'static CycleTable {
        CycleTable::for_kind(self.kind)
    }

    fn charge(&mut self, cycles: u64) {
        self.cycles += cycles;
    }

    fn run_state(&self) -> RunState {
        self.run
    }

    fn set_run_state(&mut self, run: RunState) {
        self.run = run;
    }

    fn set_event_register(&mut self, on: bool) {
        self.event = on;
    }

    fn clear_mask_watch(&mut self) {}
}

const THREAD_MSP: u32 = 0xFFFF_FFF9;
const THREAD_PSP: u32 = 0xFFFF_FFFD;
const HANDLER: u32 = 0xFFFF_FFF1;
const THREAD_MSP_FP: u32 = 0xFFFF_FFE9;

fn handler(n: u32) -> u32 {
    HANDLERS + 0x10 * n
}

/// Thread-mode registers with recognisable values.
fn thread_context(c: &mut Mock) {
    for (i, r) in [R::R0, R::R1, R::R2, R::R3, R::R12, R::LR]
        .into_iter()
        .enumerate()
    {
        c.set_reg(r, 0x1000 + i as u32);
    }
    c.set_reg(R::PC, 0x0800_0200);
    c.set_reg(R::XPSR_NZCVQG, 0x8000_0000); // N set
}

#[test]
fn reset_loads_sp_and_pc_from_the_vector_table() {
    let c = Mock::new(CoreKind::M4);
    assert_eq!(c.reg(R::MSP), STACK);
    assert_eq!(c.reg(R::PC), handler(1));
    assert_eq!(
        c.reg(R::XPSR) & XPSR_T,
        XPSR_T,
        "Thumb from bit 0 of the vector"
    );
    assert_eq!((c.ipsr, c.run), (0, RunState::Running));
}

#[test]
fn the_most_urgent_enabled_interrupt_preempts_unless_masked() {
    let mut c = Mock::new(CoreKind::M4);
    c.irq(3, 0x40);
    c.irq(5, 0x20);
    c.irq(7, 0x00);
    c.pend(3);
    c.pend(5);
    c.pend(9); // not enabled: never a candidate
    assert_eq!(c.preempting_pending(false), Some(exc::IRQ0 + 5));
    // PRIMASK masks everything configurable, but WFI still wakes.
    c.set_reg(R::PRIMASK, 1);
    assert_eq!(c.preempting_pending(false), None);
    assert_eq!(c.preempting_pending(true), Some(exc::IRQ0 + 5));
    c.set_reg(R::PRIMASK, 0);
    // BASEPRI 0x30 masks priorities 0x30 and below in urgency: 0x40 and 0x30, not 0x20.
    c.set_reg(R::BASEPRI, 0x30);
    assert_eq!(c.preempting_pending(false), Some(exc::IRQ0 + 5));
    c.set_reg(R::BASEPRI, 0x20);
    assert_eq!(
        c.preempting_pending(false),
        None,
        "0x20 is not more urgent than 0x20"
    );
    // Equal priorities: the lower number first.
    c.set_reg(R::BASEPRI, 0);
    c.irq(2, 0x20);
    c.pend(2);
    assert_eq!(c.preempting_pending(false), Some(exc::IRQ0 + 2));
}

#[test]
fn entry_stacks_the_basic_frame_and_return_unstacks_it() {
    let mut c = Mock::new(CoreKind::M4);
    thread_context(&mut c);
    c.irq(5, 0x20);
    c.pend(5);
    let n = exc::IRQ0 + 5;
    c.enter_exception(n, 0x0800_0204).unwrap();
    let sp = STACK - 32;
    assert_eq!(c.reg(R::MSP), sp);
    let frame: Vec<u32> = (0..8).map(|i| c.peek(sp + 4 * i)).collect();
    assert_eq!(
        frame,
        [
            0x1000,
            0x1001,
            0x1002,
            0x1003,
            0x1004,
            0x1005,
            0x0800_0204,
            0x8100_0000
        ]
    );
    assert_eq!(c.reg(R::LR), THREAD_MSP);
    assert_eq!(c.reg(R::PC), handler(n));
    assert_eq!(c.ipsr, n);
    assert!(c.scs.is_active(n) && c.scs.irq_pending == 0);
    assert_eq!(c.cycles, u64::from(c.table().exc_entry));
    assert!(c.preempting_pending(false).is_none(), "nothing more urgent");

    // The handler clobbers registers, then returns with EXC_RETURN in the PC.
    c.set_reg(R::R0, 0xDEAD);
    c.set_reg(R::PC, THREAD_MSP & !1);
    c.exception_return().unwrap();
    assert_eq!(c.reg(R::R0), 0x1000);
    assert_eq!(c.reg(R::LR), 0x1005);
    assert_eq!(c.reg(R::PC), 0x0800_0204);
    assert_eq!(c.reg(R::MSP), STACK);
    assert_eq!(
        (c.ipsr, c.reg(R::XPSR) >> 28),
        (0, 0b1000),
        "thread mode, N restored"
    );
    assert!(!c.scs.is_active(n));
}

#[test]
fn a_misaligned_stack_is_realigned_and_restored() {
    let mut c = Mock::new(CoreKind::M0Plus);
    thread_context(&mut c);
    c.set_reg(R::MSP, STACK - 4);
    c.enter_exception(exc::IRQ0, 0x0800_0300).unwrap();
    // 8-byte alignment: the frame starts 4 bytes lower, xPSR bit 9 records it.
    let sp = STACK - 4 - 32 - 4;
    assert_eq!(c.reg(R::MSP), sp);
    assert_ne!(c.peek(sp + 28) & XPSR_ALIGN, 0);
    c.set_reg(R::PC, THREAD_MSP & !1);
    c.exception_return().unwrap();
    assert_eq!(c.reg(R::MSP), STACK - 4);
}

#[test]
fn thread_mode_on_the_process_stack_stacks_there() {
    let mut c = Mock::new(CoreKind::M4);
    thread_context(&mut c);
    c.set_reg(R::PSP, STACK - 0x400);
    c.write_mode(0, CONTROL_SPSEL);
    c.enter_exception(exc::PENDSV, 0x0800_0400).unwrap();
    assert_eq!(c.reg(R::PSP), STACK - 0x400 - 32);
    assert_eq!(c.reg(R::MSP), STACK, "the main stack untouched");
    assert_eq!(c.reg(R::LR), THREAD_PSP);
    assert_eq!(c.reg(R::CONTROL) & CONTROL_SPSEL, 0, "handlers run on MSP");
    c.set_reg(R::PC, THREAD_PSP & !1);
    c.exception_return().unwrap();
    assert_eq!(c.reg(R::PSP), STACK - 0x400);
    assert_ne!(c.reg(R::CONTROL) & CONTROL_SPSEL, 0);
}

#[test]
fn an_active_fp_context_gets_the_extended_frame_on_the_m4() {
    let mut c = Mock::new(CoreKind::M4);
    thread_context(&mut c);
    for i in 0..16 {
        c.set_reg(fp_reg(i), 0x3F80_0000 + i as u32);
    }
    c.set_reg(R::FPSCR, 0x0300_0000);
    c.write_mode(0, CONTROL_FPCA);
    c.enter_exception(exc::SVCALL, 0x0800_0500).unwrap();
    let sp = STACK - 26 * 4;
    assert_eq!(c.reg(R::MSP), sp);
    assert_eq!(c.reg(R::LR), THREAD_MSP_FP);
    assert_eq!(c.peek(sp + 8 * 4), 0x3F80_0000, "S0");
    assert_eq!(c.peek(sp + 23 * 4), 0x3F80_000F, "S15");
    assert_eq!(c.peek(sp + 24 * 4), 0x0300_0000, "FPSCR");
    // FPCCR.LSPEN is set out of reset: lazy stacking costs no more than a basic entry.
    assert_eq!(c.cycles, u64::from(c.table().exc_entry));
    for i in 0..16 {
        c.set_reg(fp_reg(i), 0);
    }
    c.set_reg(R::PC, THREAD_MSP_FP & !1);
    c.exception_return().unwrap();
    assert_eq!(c.reg(fp_reg(15)), 0x3F80_000F);
    assert_eq!(c.reg(R::FPSCR), 0x0300_0000);
    assert_eq!(c.reg(R::MSP), STACK);
    assert_ne!(c.reg(R::CONTROL) & CONTROL_FPCA, 0, "FPCA back on");
    // Without lazy stacking, the sixteen FP registers are paid for.
    c.scs.fpccr &= !(1 << 30);
    let before = c.cycles;
    c.enter_exception(exc::SVCALL, 0x0800_0500).unwrap();
    assert_eq!(c.cycles - before, u64::from(c.table().exc_entry_fp));

    // The M0+ has no FPU: an EXC_RETURN asking for an FP frame is invalid there.
    let mut m0 = Mock::new(CoreKind::M0Plus);
    m0.enter_exception(exc::SVCALL, 0x0800_0500).unwrap();
    m0.set_reg(R::PC, THREAD_MSP_FP & !1);
    m0.exception_return().unwrap();
    assert_eq!(
        m0.ipsr,
        exc::HARDFAULT,
        "INVPC escalates to HardFault on the M0+"
    );
}

#[test]
fn a_more_urgent_interrupt_nests_and_a_pending_one_is_tail_chained() {
    let mut c = Mock::new(CoreKind::M4);
    thread_context(&mut c);
    c.irq(3, 0x40);
    c.irq(5, 0x20);
    c.pend(3);
    let first = exc::IRQ0 + 3;
    c.enter_exception(first, 0x0800_0600).unwrap();
    // IRQ 5 arrives: more urgent, it preempts the handler (a nested frame on MSP).
    c.pend(5);
    let n = c.preempting_pending(false).unwrap();
    assert_eq!(n, exc::IRQ0 + 5);
    let handler_sp = c.reg(R::MSP);
    c.enter_exception(n, handler(first) + 8).unwrap();
    assert_eq!(c.reg(R::LR), HANDLER, "returns to handler mode");
    assert_eq!(c.reg(R::MSP), handler_sp - 32);
    // Meanwhile IRQ 3 pends again; IRQ 5 returns to IRQ 3's handler, which masks it.
    c.pend(3);
    c.set_reg(R::PC, HANDLER & !1);
    c.exception_return().unwrap();
    assert_eq!(c.ipsr, first);
    assert_eq!(c.reg(R::PC), handler(first) + 8);
    // IRQ 3's handler returns to thread mode with IRQ 3 pending: tail-chained, no
    // unstacking, the same EXC_RETURN and stack.
    let before = c.cycles;
    c.set_reg(R::PC, THREAD_MSP & !1);
    c.exception_return().unwrap();
    assert_eq!(c.ipsr, first);
    assert_eq!(c.reg(R::PC), handler(first));
    assert_eq!(c.reg(R::LR), THREAD_MSP);
    assert_eq!(c.reg(R::MSP), STACK - 32, "the thread frame stays stacked");
    assert_eq!(c.cycles - before, u64::from(c.table().tail_chain));
}

#[test]
fn a_disabled_fault_escalates_to_hardfault_and_a_fault_there_locks_up() {
    let mut c = Mock::new(CoreKind::M4);
    thread_context(&mut c);
    c.raise_fault(Fault::Undefined, 0x0800_0700).unwrap();
    assert_eq!(c.ipsr, exc::HARDFAULT);
    assert_eq!(c.scs.cfsr, cfsr::UNDEFINSTR);
    assert_eq!(c.scs.hfsr, HFSR_FORCED);
    // Enabled, a UsageFault is taken as itself.
    let mut u = Mock::new(CoreKind::M4);
    u.scs.shcsr |= 1 << 18;
    u.raise_fault(Fault::Undefined, 0x0800_0700).unwrap();
    assert_eq!(u.ipsr, exc::USAGEFAULT);
    assert_eq!(u.scs.hfsr, 0);
    // A precise bus fault records BFAR.
    let mut b = Mock::new(CoreKind::M4);
    b.raise_fault(Fault::Read { addr: 0x4000_1234 }, 0x0800_0710)
        .unwrap();
    assert_eq!(b.scs.cfsr, cfsr::PRECISERR | cfsr::BFARVALID);
    assert_eq!(b.scs.bfar, 0x4000_1234);

    // A fault inside HardFault: lockup.
    assert_eq!(c.raise_fault(Fault::Undefined, handler(3)), Err(Lockup));
    assert_eq!(c.run, RunState::Lockup);
    assert_eq!(c.reg(R::PC), LOCKUP_PC);

    // The M0+ has no fault status registers: every fault is a HardFault, recorded nowhere.
    let mut m0 = Mock::new(CoreKind::M0Plus);
    m0.raise_fault(Fault::Undefined, 0x0800_0700).unwrap();
    assert_eq!((m0.ipsr, m0.scs.cfsr, m0.scs.hfsr), (exc::HARDFAULT, 0, 0));
}

#[test]
fn stacking_into_nothing_is_a_hardfault_and_then_a_lockup() {
    let mut c = Mock::new(CoreKind::M4);
    thread_context(&mut c);
    // A stack pointer outside memory: the frame cannot be written.
    c.set_reg(R::MSP, 0x1000_0000);
    assert_eq!(c.enter_exception(exc::SVCALL, 0x0800_0800), Err(Lockup));
    assert_eq!(
        c.run,
        RunState::Lockup,
        "the HardFault frame cannot be stacked either"
    );
    assert_eq!(c.scs.cfsr & cfsr::STKERR, cfsr::STKERR);
}

#[test]
fn a_missing_vector_escalates_with_vecttbl() {
    let mut c = Mock::new(CoreKind::M4);
    c.scs.vtor = RAM + RAM_LEN as u32 - 0x40; // IRQ vectors run past the end of memory
    let hardfault = c.scs.vtor + 4 * exc::HARDFAULT;
    c.poke(hardfault, handler(exc::HARDFAULT) + 1);
    c.irq(40, 0x10);
    c.pend(40);
    c.enter_exception(exc::IRQ0 + 40, 0x0800_0900).unwrap();
    assert_eq!(c.scs.hfsr & HFSR_VECTTBL, HFSR_VECTTBL);
    assert!(c.scs.is_active(exc::HARDFAULT));
    assert_eq!(c.reg(R::PC), handler(exc::HARDFAULT));
}

#[test]
fn an_invalid_exc_return_is_an_invpc_usage_fault() {
    let mut c = Mock::new(CoreKind::M4);
    thread_context(&mut c);
    c.enter_exception(exc::SVCALL, 0x0800_0A00).unwrap();
    c.set_reg(R::PC, 0xFFFF_FFF4); // reserved EXC_RETURN encoding
    c.exception_return().unwrap();
    assert_eq!(c.scs.cfsr & cfsr::INVPC, cfsr::INVPC);
    assert_eq!(c.ipsr, exc::HARDFAULT, "UsageFault disabled: escalated");
}

#[test]
fn sleep_on_exit_sleeps_when_the_last_handler_returns() {
    let mut c = Mock::new(CoreKind::M0Plus);
    thread_context(&mut c);
    c.scs.scr |= SCR_SLEEPONEXIT;
    c.enter_exception(exc::PENDSV, 0x0800_0B00).unwrap();
    c.set_reg(R::PC, THREAD_MSP & !1);
    c.exception_return().unwrap();
    assert_eq!(c.run, RunState::SleepWfi);
}

#[test]
fn the_m0plus_implements_two_priority_bits_and_no_basepri() {
    let mut c = Mock::new(CoreKind::M0Plus);
    c.irq(1, 0x7F); // stored as 0x40
    c.irq(2, 0x80);
    assert_eq!(c.scs.irq_prio[1], 0x40);
    c.pend(1);
    c.pend(2);
    c.set_reg(R::BASEPRI, 0x40); // no such register on ARMv6-M: ignored
    assert_eq!(c.preempting_pending(false), Some(exc::IRQ0 + 1));
}
