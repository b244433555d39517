//! `wbemu bench`: guest MIPS and emulated cycles per host second per core, for a tight loop and
//! a compiled workload (CRC-32 in guest Rust), each next to raw unicorn without hooks running
//! the same code in the same process, and the multiple of real time.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{ensure, Result};
use serde::Serialize;
use wb_machine::picos;
use wb_machine::{Clocks, Config, CoreId, Exit, Machine, RegisterARM, ResetCause};

#[derive(clap::Args)]
pub struct Args {
    /// Iterations of the tight loop.
    #[arg(long, default_value_t = 20_000_000)]
    loop_iterations: u32,
    /// Rounds of CRC-32 over 1 KiB.
    #[arg(long, default_value_t = 1000)]
    crc_rounds: u32,
    /// Lock-step quanta to compare, in nanoseconds.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "250,500,1000,2000,5000,10000,100000"
    )]
    quanta_ns: Vec<u64>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row {
    core: &'static str,
    workload: &'static str,
    instructions: u64,
    cycles: u64,
    host_us: f64,
    mips: f64,
    mcycles_per_s: f64,
    raw_unicorn_us: f64,
    ratio_to_raw: f64,
    /// Raw unicorn with an empty block hook: the ceiling of any per-block accounting.
    empty_hook_ratio_to_raw: f64,
    real_time_multiple: f64,
}

/// Erase and program 64 KiB of flash from CPU1 guest code.
#[derive(Serialize)]
struct FlashRow {
    kib: u32,
    operations: usize,
    simulated_us: f64,
    host_us: f64,
}

#[derive(Serialize)]
struct QuantumRow {
    quantum_us: f64,
    /// The SRAM2a ping-pong (cores take turns): simulated time it takes, which shows the
    /// skew the quantum allows between the cores.
    ping_pong_simulated_us: f64,
    ping_pong_host_us: f64,
    /// Both cores busy with CRC-32 at once: host time, which shows what the quantum costs.
    both_busy_host_us: f64,
}

/// Snapshot and restore of a whole machine (the virgin device with the operator, mid-install).
#[derive(Serialize)]
struct SnapshotRow {
    /// Bytes of memory a snapshot copies.
    memory_bytes: usize,
    snapshot_us: f64,
    restore_us: f64,
}

fn snapshot_bench() -> Result<SnapshotRow> {
    let mut m = Machine::new(Config::default())?;
    m.load_device(&(wb_firmware::presets::preset("virgin")
        .expect("virgin")
        .build)());
    m.load_elf_bytes("operator", wb_firmware::OPERATOR)?;
    m.set_boot(0x0800_0000, None);
    m.reset(ResetCause::PowerOn);
    m.run_until(picos::from_ms(50)); // both cores up, CPU2 in the FUS
    const N: u32 = 50;
    let t = Instant::now();
    let mut snap = m.snapshot();
    for _ in 1..N {
        snap = m.snapshot();
    }
    let snapshot_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(N);
    let t = Instant::now();
    for _ in 0..N {
        m.restore(&snap);
    }
    let restore_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(N);
    Ok(SnapshotRow {
        memory_bytes: m.memories().total_bytes(),
        snapshot_us,
        restore_us,
    })
}

fn machine() -> Result<(
    Machine,
    wb_machine::loader::LoadedImage,
    wb_machine::loader::LoadedImage,
)> {
    let config = Config {
        clocks: Clocks::Fixed {
            cpu1_hz: 64_000_000,
            cpu2_hz: 32_000_000,
        },
        ..Config::default()
    };
    let mut m = Machine::new(config)?;
    let i1 = m.load_elf_bytes("cpu1", wb_firmware::CPU1_TESTS)?;
    let i2 = m.load_elf_bytes("cpu2", wb_firmware::CPU2_TESTS)?;
    m.set_boot(
        wb_firmware::CPU1_TESTS_VECTORS,
        Some(wb_firmware::CPU2_TESTS_VECTORS),
    );
    m.reset(ResetCause::PowerOn);
    Ok((m, i1, i2))
}

fn sym(img: &wb_machine::loader::LoadedImage, name: &str) -> Result<u32> {
    img.symbol(name)
        .map(|a| a & !1)
        .ok_or_else(|| anyhow::anyhow!("test image lacks {name}"))
}

fn flash_bench() -> Result<FlashRow> {
    const PAGES: u32 = 16;
    let (mut m, i1, _) = machine()?;
    m.hold(CoreId::Cpu2);
    let main = sym(&i1, "app_main")?;
    m.set_breakpoints(CoreId::Cpu1, &[main]);
    ensure!(
        m.run_until(picos::S) == Exit::Breakpoint(CoreId::Cpu1, main),
        "cpu1 did not start"
    );
    let (f, done) = (sym(&i1, "bench_flash")?, sym(&i1, "call_done")?);
    let c = m.core_mut(CoreId::Cpu1);
    c.set_reg(RegisterARM::R0, 0x080C_0000);
    c.set_reg(RegisterARM::R1, PAGES);
    c.set_reg(RegisterARM::LR, done | 1);
    c.set_reg(RegisterARM::PC, f);
    m.set_breakpoints(CoreId::Cpu1, &[done]);
    let (t0, ops0) = (m.now(), m.flash_log().len());
    let t = Instant::now();
    let exit = m.run_until(u64::MAX / 2);
    let host_s = t.elapsed().as_secs_f64();
    ensure!(
        exit == Exit::Breakpoint(CoreId::Cpu1, done),
        "flash benchmark ended with {exit:?}"
    );
    let flags = m.core(CoreId::Cpu1).reg(RegisterARM::R0);
    ensure!(flags == 0, "flash benchmark: SR flags {flags:#x}");
    Ok(FlashRow {
        kib: PAGES * 4,
        operations: m.flash_log().len() - ops0,
        simulated_us: (m.now() - t0) as f64 / 1e6,
        host_us: host_s * 1e6,
    })
}

/// Host seconds for both cores running `bench_crc(rounds)` at the same time with quantum `q_ns`.
fn both_busy(q_ns: u64, rounds: u32) -> Result<f64> {
    let (mut m, i1, i2) = machine()?;
    m.set_quantum(q_ns * 1000);
    for (id, img) in [(CoreId::Cpu1, &i1), (CoreId::Cpu2, &i2)] {
        let main = sym(img, "app_main")?;
        m.set_breakpoints(id, &[main]);
        ensure!(
            m.run_until(picos::S) == Exit::Breakpoint(id, main),
            "{id} did not start"
        );
        m.set_breakpoints(id, &[]);
        m.hold(id);
    }
    for (id, img) in [(CoreId::Cpu1, &i1), (CoreId::Cpu2, &i2)] {
        let (f, done) = (sym(img, "bench_crc")?, sym(img, "call_done")?);
        let c = m.core_mut(id);
        c.set_reg(RegisterARM::R0, rounds);
        c.set_reg(RegisterARM::LR, done | 1);
        c.set_reg(RegisterARM::PC, f);
        c.resume();
        m.set_breakpoints(id, &[done]);
    }
    let t = Instant::now();
    for _ in 0..2 {
        match m.run_until(u64::MAX / 2) {
            Exit::Breakpoint(id, _) => m.hold(id),
            other => anyhow::bail!("both-busy run ended with {other:?}"),
        }
    }
    Ok(t.elapsed().as_secs_f64())
}

pub fn run(a: Args) -> Result<ExitCode> {
    let mut rows = Vec::new();
    for id in CoreId::ALL {
        for (workload, func, arg) in [
            ("tight loop", "case_bench_loop", a.loop_iterations),
            ("crc32 (compiled)", "bench_crc", a.crc_rounds),
        ] {
            let (mut m, i1, i2) = machine()?;
            let img = if id == CoreId::Cpu1 { &i1 } else { &i2 };
            m.hold(id.other());
            let main = sym(img, "app_main")?;
            m.set_breakpoints(id, &[main]);
            ensure!(
                m.run_until(picos::S) == Exit::Breakpoint(id, main),
                "{id} did not start"
            );
            let (f, done) = (sym(img, func)?, sym(img, "call_done")?);
            m.core_mut(id).set_reg(RegisterARM::R0, arg);
            m.core_mut(id).set_reg(RegisterARM::LR, done | 1);
            m.core_mut(id).set_reg(RegisterARM::PC, f);
            m.set_breakpoints(id, &[done]);
            let before = m.stats(id);
            let t = Instant::now();
            let exit = m.run_until(u64::MAX / 2);
            let host_s = t.elapsed().as_secs_f64();
            ensure!(
                exit == Exit::Breakpoint(id, done),
                "{func} on {id} ended with {exit:?}"
            );
            let after = m.stats(id);
            let t = Instant::now();
            wb_machine::raw::call(&m, id, f, &[arg], done, false)?;
            let raw_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            wb_machine::raw::call(&m, id, f, &[arg], done, true)?;
            let empty_hook_s = t.elapsed().as_secs_f64();
            let insns = after.insns - before.insns;
            let cycles = after.cycles - before.cycles;
            rows.push(Row {
                core: id.name(),
                workload,
                instructions: insns,
                cycles,
                host_us: host_s * 1e6,
                mips: insns as f64 / host_s / 1e6,
                mcycles_per_s: cycles as f64 / host_s / 1e6,
                raw_unicorn_us: raw_s * 1e6,
                ratio_to_raw: raw_s / host_s,
                empty_hook_ratio_to_raw: raw_s / empty_hook_s,
                real_time_multiple: (cycles as f64 / after.hz as f64) / host_s,
            });
        }
    }
    let flash = flash_bench()?;
    let snapshot = snapshot_bench()?;
    let mut quanta = Vec::new();
    for &q in &a.quanta_ns {
        let (mut m, _, _) = machine()?;
        m.set_quantum(q * 1000);
        let t = Instant::now();
        let exit = m.run_until(picos::S);
        ensure!(
            matches!(exit, Exit::Bkpt(CoreId::Cpu1, _)),
            "demo ended with {exit:?}"
        );
        let ping_pong_host_s = t.elapsed().as_secs_f64();
        let ping_pong_simulated_us = m.now() as f64 / 1e6;
        quanta.push(QuantumRow {
            quantum_us: q as f64 / 1e3,
            ping_pong_simulated_us,
            ping_pong_host_us: ping_pong_host_s * 1e6,
            both_busy_host_us: both_busy(q, a.crc_rounds / 4)? * 1e6,
        });
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "workloads": rows, "quanta": quanta, "snapshot": snapshot })
        );
    } else {
        println!(
            "{:<5} {:<17} {:>12} {:>8} {:>9} {:>10} {:>11} {:>12} {:>8}",
            "core",
            "workload",
            "instructions",
            "MIPS",
            "Mcyc/s",
            "raw ratio",
            "empty hook",
            "x real time",
            "host s"
        );
        for r in &rows {
            println!(
                "{:<5} {:<17} {:>12} {:>8.1} {:>9.1} {:>10.3} {:>11.3} {:>12.2} {:>8.3}",
                r.core,
                r.workload,
                r.instructions,
                r.mips,
                r.mcycles_per_s,
                r.ratio_to_raw,
                r.empty_hook_ratio_to_raw,
                r.real_time_multiple,
                r.host_us / 1e6
            );
        }
        println!("(raw ratio = time of hook-less unicorn / time of the machine, same code, same process;");
        println!(" empty hook = the same ratio for hook-less unicorn plus one empty block hook: the ceiling of per-block accounting)");
        println!(
            "flash: erase + program {} KiB from CPU1 ({} operations): {:.3} s on the chip, {:.3} s on this host",
            flash.kib,
            flash.operations,
            flash.simulated_us / 1e6,
            flash.host_us / 1e6
        );
        println!(
            "snapshot of a whole machine ({} bytes of memory): {:.1} us; restore: {:.1} us",
            snapshot.memory_bytes, snapshot.snapshot_us, snapshot.restore_us
        );
        println!("lock-step quantum: ping-pong simulated time (skew) and both-cores-busy host time (cost):");
        for q in &quanta {
            println!(
                "  quantum {:>7} ns: ping-pong {:>7.1} simulated us in {:.4} host s; both busy {:.3} host s",
                q.quantum_us * 1e3,
                q.ping_pong_simulated_us,
                q.ping_pong_host_us / 1e6,
                q.both_busy_host_us / 1e6
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
