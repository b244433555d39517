//! What `wbemu run` reports: the JSON shapes (docs/cli.md lists their fields and units) and
//! the human text.

use std::collections::BTreeMap;

use serde::Serialize;
use wb_inspect::digest::Digests;
pub use wb_inspect::flash_ops::{flash_line, outcome_text, FlashOp};
use wb_inspect::{flags, hex32};
use wb_machine::{CoreId, CoreRegisters, CutPoint, Exit, Machine, PowerCut, Uart};
use wb_periph::flash::OpRecord;

pub use wb_inspect::us;

/// Why the run ended, as data.
#[derive(Serialize)]
pub struct ExitReport {
    /// limit, cycle_limit, halted, lockup, breakpoint, bkpt, power_cut, uart_text.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The UART whose output held the `--until-uart` text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<&'static str>,
    pub text: String,
}

/// How a run ended: the machine's exit, or the `--until-uart` text seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Machine(Exit),
    /// `--max-cycles` reached.
    CycleLimit(u64),
    UartText(Uart),
}

impl ExitReport {
    pub fn of(end: End) -> ExitReport {
        let (kind, core, address, port) = match end {
            End::Machine(e) => match e {
                Exit::Limit => ("limit", None, None, None),
                Exit::Halted => ("halted", None, None, None),
                Exit::Lockup(c) => ("lockup", Some(c), None, None),
                Exit::Breakpoint(c, a) => ("breakpoint", Some(c), Some(a), None),
                Exit::Bkpt(c, a) => ("bkpt", Some(c), Some(a), None),
                Exit::PowerCut(_) => ("power_cut", None, None, None),
                Exit::ExternalReset(_) => ("external_reset", None, None, None),
            },
            End::CycleLimit(_) => ("cycle_limit", Some(CoreId::Cpu1), None, None),
            End::UartText(p) => ("uart_text", None, None, Some(p)),
        };
        let text = match end {
            End::Machine(Exit::Limit) => "time limit reached".to_string(),
            End::Machine(e) => e.to_string(),
            End::CycleLimit(n) => format!("cpu1 reached its cycle limit ({n} cycles)"),
            End::UartText(p) => format!("{} sent the --until-uart text", p.name()),
        };
        ExitReport {
            kind,
            core: core.map(CoreId::name),
            address: address.map(hex32),
            port: port.map(Uart::name),
            text,
        }
    }
}

/// A power cut that happened.
#[derive(Serialize)]
pub struct CutReport {
    pub at_us: f64,
    /// Where the cut falls: before, during, after or at.
    pub plan: &'static str,
    /// The --cut-power plan as written.
    pub spec: String,
    /// The flash operation it was aimed at (before/during/after).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub op: Option<u64>,
    /// The operation the cut tore or dropped, if one was running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hit: Option<FlashOp>,
    pub seed: u64,
    pub text: String,
}

impl CutReport {
    pub fn of(m: &Machine, plan: PowerCut, hit: Option<u64>, seed: u64) -> CutReport {
        let (name, op) = match plan {
            PowerCut::BeforeOp(n) => ("before", Some(n)),
            PowerCut::DuringOp(n) => ("during", Some(n)),
            PowerCut::AfterOp(n) => ("after", Some(n)),
            PowerCut::At(_) => ("at", None),
            PowerCut::Matching { point, .. } => match point {
                CutPoint::Before => ("before", None),
                CutPoint::During => ("during", None),
                CutPoint::After => ("after", None),
            },
        };
        let hit = hit.and_then(|n| m.flash_log().into_iter().find(|r| r.seq == n));
        let text = format!(
            "at {:.3} us{}",
            us(m.now()),
            hit.as_ref()
                .map(|r| format!(
                    ", flash operation {} ({} {:#010x} by {}) {}",
                    r.seq,
                    r.kind,
                    r.address,
                    r.core.name(),
                    outcome_text(r.outcome)
                ))
                .unwrap_or_default()
        );
        CutReport {
            at_us: us(m.now()),
            plan: name,
            spec: plan.to_string(),
            op,
            hit: hit.as_ref().map(FlashOp::of),
            seed,
            text,
        }
    }
}

/// A core that locked up while the run went on.
#[derive(Serialize)]
pub struct LockupReport {
    pub core: &'static str,
    pub at_us: f64,
    pub pc: String,
}

/// Registers as hex strings.
#[derive(Serialize)]
pub struct RegistersReport {
    /// r0..r12, sp, lr, pc, xpsr, msp, psp, primask, control, ipsr.
    #[serde(flatten)]
    pub regs: BTreeMap<&'static str, String>,
}

/// The fault status of the Cortex-M4, with the names of the bits set.
#[derive(Serialize)]
pub struct FaultsReport {
    pub cfsr: String,
    pub cfsr_flags: Vec<&'static str>,
    pub hfsr: String,
    pub hfsr_flags: Vec<&'static str>,
    pub mmfar: String,
    pub bfar: String,
    pub shcsr: String,
}

const REG_NAMES: [&str; 13] = [
    "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
];

impl RegistersReport {
    fn of(r: &CoreRegisters) -> RegistersReport {
        let mut regs: BTreeMap<&'static str, String> = REG_NAMES
            .iter()
            .zip(r.r)
            .map(|(n, v)| (*n, hex32(v)))
            .collect();
        for (n, v) in [
            ("sp", r.sp),
            ("lr", r.lr),
            ("pc", r.pc),
            ("xpsr", r.xpsr),
            ("msp", r.msp),
            ("psp", r.psp),
            ("primask", r.primask),
            ("control", r.control),
            ("ipsr", r.ipsr),
        ] {
            regs.insert(n, hex32(v));
        }
        RegistersReport { regs }
    }
}

#[derive(Serialize)]
pub struct CoreReport {
    pub core: &'static str,
    pub hz: u64,
    pub instructions: u64,
    pub cycles: u64,
    pub idle_cycles: u64,
    pub simulated_us: f64,
    pub pc: String,
    pub state: String,
    pub registers: RegistersReport,
    /// The Cortex-M4's fault status; none on the Cortex-M0+ (ARMv6-M has no such registers).
    pub faults: Option<FaultsReport>,
}

impl CoreReport {
    pub fn of(m: &Machine, id: CoreId) -> CoreReport {
        let s = m.stats(id);
        let regs = m.registers(id);
        CoreReport {
            core: id.name(),
            hz: s.hz,
            instructions: s.insns,
            cycles: s.cycles,
            idle_cycles: s.idle_cycles,
            simulated_us: s.cycles as f64 * 1e6 / s.hz as f64,
            pc: hex32(s.pc),
            state: format!("{:?}", s.run),
            registers: RegistersReport::of(&regs),
            faults: regs.faults.map(|f| FaultsReport {
                cfsr: hex32(f.cfsr),
                cfsr_flags: flags::cfsr(f.cfsr),
                hfsr: hex32(f.hfsr),
                hfsr_flags: flags::hfsr(f.hfsr),
                mmfar: hex32(f.mmfar),
                bfar: hex32(f.bfar),
                shcsr: hex32(f.shcsr),
            }),
        }
    }
}

/// What one UART sent.
#[derive(Serialize)]
pub struct UartReport {
    pub bytes: usize,
    /// As text (invalid UTF-8 replaced by U+FFFD).
    pub text: String,
    pub hex: String,
}

impl UartReport {
    pub fn of(out: &[u8]) -> UartReport {
        UartReport {
            bytes: out.len(),
            text: String::from_utf8_lossy(out).into_owned(),
            hex: out.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

#[derive(Serialize)]
pub struct Report {
    pub exit: ExitReport,
    pub simulated_us: f64,
    /// Power cuts that happened, with the operation each tore or dropped.
    pub power_cuts: Vec<CutReport>,
    /// CPU2 lockups the run went on after (without --stop-on-lockup).
    pub lockups: Vec<LockupReport>,
    pub cores: Vec<CoreReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flash_ops: Option<Vec<FlashOp>>,
    /// What each UART transmitted during the run, for the UARTs that sent anything.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub uart_output: BTreeMap<&'static str, UartReport>,
    /// FNV-1a (64 bits) of flash and the option-byte area at the end of the run.
    pub flash_digest: String,
    /// The same by region (user flash below SFSA, secure flash, option bytes).
    pub flash_digests: Digests,
}

impl Report {
    /// The human text (flash operations were printed as they ended).
    pub fn print(&self, trace_flash: bool, still_running: &[OpRecord], total_ops: usize) {
        println!(
            "exit: {}   simulated time: {:.3} us",
            self.exit.text, self.simulated_us
        );
        println!(
            "{:<5} {:>7} {:>14} {:>14} {:>14} {:>12}  state",
            "core", "MHz", "instructions", "cycles", "idle cycles", "pc"
        );
        for c in &self.cores {
            println!(
                "{:<5} {:>7.1} {:>14} {:>14} {:>14} {:>12}  {}",
                c.core,
                c.hz as f64 / 1e6,
                c.instructions,
                c.cycles,
                c.idle_cycles,
                c.pc,
                c.state
            );
        }
        for c in &self.cores {
            let r = &c.registers.regs;
            let line = |names: &[&str]| {
                names
                    .iter()
                    .map(|n| format!("{n}={}", &r[n][2..]))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            println!(
                "{:<5} {}",
                c.core,
                line(&["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"])
            );
            println!(
                "      {}",
                line(&["r8", "r9", "r10", "r11", "r12", "sp", "lr", "pc"])
            );
            println!(
                "      {}",
                line(&["xpsr", "msp", "psp", "primask", "control", "ipsr"])
            );
            if let Some(f) = &c.faults {
                let named = |v: &str, names: &[&str]| {
                    if names.is_empty() {
                        v.to_string()
                    } else {
                        format!("{v} ({})", names.join(" "))
                    }
                };
                println!(
                    "      CFSR={} HFSR={} MMFAR={} BFAR={}",
                    named(&f.cfsr, &f.cfsr_flags),
                    named(&f.hfsr, &f.hfsr_flags),
                    f.mmfar,
                    f.bfar
                );
            }
        }
        for l in &self.lockups {
            println!(
                "{} locked up at {:.3} us (pc {}); the run went on",
                l.core, l.at_us, l.pc
            );
        }
        for cut in &self.power_cuts {
            println!("power cut {}; powered on again", cut.text);
        }
        for (port, out) in &self.uart_output {
            println!(
                "{port} sent {} bytes: \"{}\"",
                out.bytes,
                out.text.escape_debug()
            );
        }
        if trace_flash {
            // Each ended operation was printed as it ended; say which were still running.
            println!("flash operations: {total_ops}");
            for r in still_running {
                println!("{}", flash_line(r));
            }
        }
    }
}
