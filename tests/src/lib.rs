//! Helpers for the end-to-end tests: build a machine with the guest test programs, call guest
//! functions the way a debugger would, and a small timer peripheral for interrupt tests.

pub mod probe;

use wb_machine::{Config, CoreId, Exit, Machine, RegisterARM, ResetCause, RunState};
use wb_periph::{Access, BusResult, Peripheral, Picos, ResetKind};

pub use wb_firmware::{CPU1_TESTS, CPU1_TESTS_VECTORS, CPU2_TESTS, CPU2_TESTS_VECTORS};

/// Where the test peripheral sits (an unused window of the APB1 space).
pub const TEST_PERIPH: u32 = 0x4000_F000;
/// Its interrupt goes to IRQ 10 on both cores.
pub const TEST_IRQ: u32 = 10;

/// A machine with both test programs loaded, both cores released, stopped at `app_main` of
/// each (their start-up code has run).
pub struct Bench {
    pub m: Machine,
    pub cpu1: wb_machine::loader::LoadedImage,
    pub cpu2: wb_machine::loader::LoadedImage,
}

impl Bench {
    /// Build with `cores` released (the others are held) and run each to `app_main`.
    pub fn new(config: Config, cores: &[CoreId]) -> Bench {
        Bench::build(config, cores, Some(CPU2_TESTS_VECTORS))
    }

    /// CPU1 at `app_main`; CPU2 held as on the chip until PWR_CR4.C2BOOT, then booting at
    /// SBRV (the blank device's SBRV is the CPU2 test program's vector table).
    pub fn held_cpu2(config: Config) -> Bench {
        Bench::build(config, &[CoreId::Cpu1], None)
    }

    fn build(config: Config, cores: &[CoreId], cpu2_boot: Option<u32>) -> Bench {
        let mut m = Machine::new(config).expect("machine");
        let cpu1 = m
            .load_elf_bytes("cpu1-tests", CPU1_TESTS)
            .expect("cpu1 image");
        let cpu2 = m
            .load_elf_bytes("cpu2-tests", CPU2_TESTS)
            .expect("cpu2 image");
        m.attach(
            TEST_PERIPH,
            Box::new(TestTimer::default()),
            &[wb_machine::IrqRoute {
                line: 0,
                cpu1: Some(TEST_IRQ),
                cpu2: Some(TEST_IRQ),
            }],
        )
        .expect("test peripheral");
        m.set_boot(CPU1_TESTS_VECTORS, cpu2_boot);
        m.reset(ResetCause::PowerOn);
        let mut b = Bench { m, cpu1, cpu2 };
        for id in CoreId::ALL {
            if !cores.contains(&id) && (id == CoreId::Cpu1 || cpu2_boot.is_some()) {
                b.m.hold(id);
            }
        }
        for &id in cores {
            let main = b.sym(id, "app_main");
            b.m.set_breakpoints(id, &[main]);
            let exit = b.m.run_until(b.m.now() + 1_000_000_000);
            assert_eq!(exit, Exit::Breakpoint(id, main), "{id} reaches app_main");
            b.m.set_breakpoints(id, &[]);
        }
        b
    }

    pub fn image(&self, id: CoreId) -> &wb_machine::loader::LoadedImage {
        match id {
            CoreId::Cpu1 => &self.cpu1,
            CoreId::Cpu2 => &self.cpu2,
        }
    }

    /// Address of a symbol of the core's program (Thumb bit cleared).
    pub fn sym(&self, id: CoreId, name: &str) -> u32 {
        self.image(id)
            .symbol(name)
            .unwrap_or_else(|| panic!("{id} program has no symbol {name}"))
            & !1
    }

    /// Call `func(args)` on core `id` and run until it returns. Returns (r0, cycles taken).
    pub fn call(&mut self, id: CoreId, func: &str, args: &[u32]) -> (u32, u64) {
        let (r0, cycles, exit) = self.call_exit(id, func, args, 2_000_000_000_000);
        let done = self.sym(id, "call_done");
        assert_eq!(exit, Exit::Breakpoint(id, done), "{func} on {id} returns");
        (r0, cycles)
    }

    /// Like [`Bench::call`] but returns how the run ended.
    pub fn call_exit(
        &mut self,
        id: CoreId,
        func: &str,
        args: &[u32],
        limit: Picos,
    ) -> (u32, u64, Exit) {
        let before = self.m.stats(id).cycles;
        let exit = self.call_to(id, func, args, "call_done", limit);
        let cycles = self.m.stats(id).cycles - before;
        (self.m.core(id).reg(RegisterARM::R0), cycles, exit)
    }

    /// Start `func(args)` on core `id` and run until the core reaches symbol `until` (e.g.
    /// `app_main` after a function that resets the chip) or `limit` passes.
    pub fn call_to(
        &mut self,
        id: CoreId,
        func: &str,
        args: &[u32],
        until: &str,
        limit: Picos,
    ) -> Exit {
        let f = self.sym(id, func);
        let done = self.sym(id, "call_done");
        let regs = [
            RegisterARM::R0,
            RegisterARM::R1,
            RegisterARM::R2,
            RegisterARM::R3,
        ];
        {
            let c = self.m.core_mut(id);
            for (r, v) in regs.iter().zip(args) {
                c.set_reg(*r, *v);
            }
            c.set_reg(RegisterARM::LR, done | 1);
            c.set_reg(RegisterARM::PC, f);
            // A core the other one left asleep (e.g. in the demo's WFE) runs the call at once.
            if matches!(c.run_state(), RunState::SleepWfi | RunState::SleepWfe) {
                c.resume();
            }
        }
        self.run_to(id, until, limit)
    }

    /// Run until core `id` reaches symbol `until` or `limit` passes.
    pub fn run_to(&mut self, id: CoreId, until: &str, limit: Picos) -> Exit {
        let at = self.sym(id, until);
        self.m.set_breakpoints(id, &[at]);
        let exit = self.m.run_until(self.time(id) + limit);
        self.m.set_breakpoints(id, &[]);
        exit
    }

    /// Where core `id` stands in time. After a breakpoint the machine's `now` (the last
    /// quantum boundary) can be behind the core that stopped.
    pub fn time(&self, id: CoreId) -> Picos {
        self.m.now().max(self.m.core(id).state().now())
    }

    /// The guest's event log (`LOG` of guest-rt).
    pub fn log(&self, id: CoreId) -> Vec<u32> {
        let at = self.sym(id, "LOG");
        let len = self.m.read_u32(at).unwrap() as usize;
        (0..len.min(31))
            .map(|i| self.m.read_u32(at + 4 + 4 * i as u32).unwrap())
            .collect()
    }

    pub fn is_running(&self, id: CoreId) -> bool {
        self.m.stats(id).run == RunState::Running
    }
}

/// A one-shot timer: writing N to offset 0 raises line 0 N nanoseconds later; writing 1 to
/// offset 4 lowers it. Enough to test interrupts that a peripheral raises on its own time.
#[derive(Clone, Debug, Default)]
pub struct TestTimer {
    deadline: Option<Picos>,
    line: bool,
}

impl Peripheral for TestTimer {
    fn name(&self) -> &'static str {
        "test-timer"
    }
    fn size(&self) -> u32 {
        0x400
    }
    fn read(&mut self, offset: u32, _a: Access) -> BusResult<u32> {
        match offset {
            0 => Ok(self.deadline.is_some() as u32),
            4 => Ok(self.line as u32),
            _ => Err(wb_periph::BusError::Unmapped),
        }
    }
    fn write(&mut self, offset: u32, value: u32, a: Access) -> BusResult<()> {
        match offset {
            0 => self.deadline = Some(a.now + value as u64 * 1000),
            4 => self.line = false,
            _ => return Err(wb_periph::BusError::Unmapped),
        }
        Ok(())
    }
    fn reset(&mut self, _kind: ResetKind) {
        *self = TestTimer::default();
    }
    fn next_event(&self) -> Option<Picos> {
        self.deadline
    }
    fn advance(&mut self, now: Picos) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.deadline = None;
            self.line = true;
        }
    }
    fn irq_lines(&self) -> u32 {
        self.line as u32
    }
    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}
