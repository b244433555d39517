//! A bare unicorn engine with no hooks at all: the baseline that benchmarks compare the
//! machine against, running the same code from the same memory contents. Optionally with an
//! empty block hook, to measure what the call into a block hook costs by itself (the floor of
//! any per-block cycle accounting).

use std::ffi::c_void;

use unicorn_engine::unicorn_const::{Arch, HookType, Mode, Prot, TlbType};
use unicorn_engine::{uc_engine, RegisterARM, Unicorn};
use wb_periph::CoreId;

use crate::core::{add_raw_hook, uc_err, EngineError};
use crate::machine::Machine;
use crate::memory;

/// Copy the machine's flash and SRAM into a fresh engine of `core`'s model, without hooks (or
/// with only an empty block hook), and call `func(args)` there until it returns to `done`.
pub fn call(
    m: &Machine,
    core: CoreId,
    func: u32,
    args: &[u32],
    done: u32,
    empty_block_hook: bool,
) -> Result<(), EngineError> {
    let model = match core {
        CoreId::Cpu1 => unicorn_engine::ArmCpuModel::CORTEX_M4,
        CoreId::Cpu2 => unicorn_engine::ArmCpuModel::CORTEX_M0,
    };
    let mut uc = Unicorn::new(Arch::ARM, Mode::THUMB | Mode::LITTLE_ENDIAN)
        .map_err(uc_err("to open an engine"))?;
    uc.ctl_set_cpu_model(model as i32)
        .map_err(uc_err("the cpu model"))?;
    uc.ctl_set_tlb_type(TlbType::VIRTUAL)
        .map_err(uc_err("the virtual TLB"))?;
    for (r, perms) in [
        (memory::FLASH, Prot::READ | Prot::EXEC),
        (memory::SRAM, Prot::ALL),
    ] {
        uc.mem_map(r.base as u64, r.size as u64, perms)
            .map_err(uc_err("to map memory"))?;
        uc.mem_write(r.base as u64, m.memories().region(r))
            .map_err(uc_err("to copy memory"))?;
    }
    let regs = [
        RegisterARM::R0,
        RegisterARM::R1,
        RegisterARM::R2,
        RegisterARM::R3,
    ];
    for (r, v) in regs.iter().zip(args) {
        uc.reg_write(*r, *v as u64).map_err(uc_err("a register"))?;
    }
    let sp = m.core(core).reg(RegisterARM::SP);
    uc.reg_write(RegisterARM::SP, sp as u64)
        .map_err(uc_err("SP"))?;
    uc.reg_write(RegisterARM::LR, (done | 1) as u64)
        .map_err(uc_err("LR"))?;
    if empty_block_hook {
        // SAFETY: the empty hook ignores its user data.
        unsafe {
            add_raw_hook(
                &uc,
                HookType::BLOCK,
                empty_hook as *mut c_void,
                std::ptr::null_mut(),
            )
        }?;
    }
    uc.emu_start((func | 1) as u64, done as u64, 0, 0)
        .map_err(uc_err("to run"))
}

unsafe extern "C" fn empty_hook(_uc: *mut uc_engine, _addr: u64, _size: u32, _user: *mut c_void) {}
