//! Instruction timing: a Thumb / Thumb-2 decoder into timing classes and one cycle table per
//! core, from the ARM technical reference manuals (sourced in `shared/reference/timing.md`).
//!
//! Costs are charged per translated block: [`block_cost`] decodes a block once and the result
//! is cached by address. Where the manuals give a range or nothing, the choice is made here,
//! once, in [`M0P`] / [`M4`], and says so.

/// Which Cortex-M core a table describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreKind {
    /// Cortex-M0+ (ARMv6-M), CPU2.
    M0Plus,
    /// Cortex-M4 with FPv4-SP (ARMv7E-M), CPU1.
    M4,
}

/// What an instruction is, as far as timing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Single-cycle data processing, moves, extends, bit fields, DSP, hints.
    Alu {
        dst: Option<u8>,
    },
    /// Data processing that writes the PC (`MOV PC,Rm`, `ADD PC,Rm`).
    AluPc,
    Mul {
        dst: Option<u8>,
    },
    Div,
    /// Single load. `addr` is the bit set of registers forming the address.
    Load {
        dst: u8,
        addr: u16,
        literal: Option<u32>,
    },
    Store {
        addr: u16,
    },
    LoadDual {
        addr: u16,
    },
    StoreDual,
    /// LDM/POP with `n` registers (including PC when `pc`).
    LoadMultiple {
        n: u8,
        pc: bool,
    },
    /// STM/PUSH with `n` registers.
    StoreMultiple {
        n: u8,
    },
    Exclusive,
    ClearExclusive,
    CondBranch,
    Branch,
    BranchLink,
    BranchExchange,
    TableBranch,
    It,
    Mrs,
    Msr,
    Cps,
    Isb,
    /// DMB, DSB.
    Barrier,
    Nop,
    /// YIELD: a hint that the engine turns into an exit; it executes as a NOP.
    Yield,
    Sev,
    Wfi,
    Wfe,
    Svc,
    Bkpt,
    Udf,
    /// FP arithmetic: VADD/VSUB/VMUL/VNMUL/VABS/VNEG/VCMP/VCVT/VMOV(imm/reg).
    FpSimple,
    /// VMLA/VMLS/VNMLA/VNMLS/VFMA/VFMS/VFNMA/VFNMS.
    FpMac,
    /// VDIV, VSQRT.
    FpDivSqrt,
    FpLoadStore {
        double: bool,
    },
    /// VLDM/VSTM/VPUSH/VPOP of `words` 32-bit words.
    FpMultiple {
        words: u8,
    },
    /// VMOV between one/two core registers and FP registers.
    FpMoveCore,
    /// VMRS/VMSR, VMOV of half a double.
    FpStatus,
}

/// The last instruction of a block, which decides how the block ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum BlockEnd {
    #[default]
    Plain = 0,
    /// Conditional branch: the taken penalty is charged if the next block is not the
    /// fall-through.
    CondBranch = 1,
    Wfi = 2,
    Wfe = 3,
    Yield = 4,
}

impl BlockEnd {
    /// Inverse of `as u8` (unknown values read as `Plain`).
    pub fn from_bits(bits: u8) -> BlockEnd {
        match bits {
            1 => BlockEnd::CondBranch,
            2 => BlockEnd::Wfi,
            3 => BlockEnd::Wfe,
            4 => BlockEnd::Yield,
            _ => BlockEnd::Plain,
        }
    }
}

/// Cycle table of one core. All figures in core clock cycles at zero wait states.
#[derive(Clone, Copy, Debug)]
pub struct CycleTable {
    pub kind: CoreKind,
    /// Pipeline refill after a taken branch (the TRM's P; 1 on the 2-stage M0+).
    pub refill: u32,
    pub alu: u32,
    pub alu_pc: u32,
    pub mul: u32,
    pub div: u32,
    pub load: u32,
    /// A load to the PC (`LDR PC,[..]`).
    pub load_pc: u32,
    pub store: u32,
    pub dual: u32,
    /// LDM/STM/PUSH/POP: `multiple_base + N`.
    pub multiple_base: u32,
    /// Extra for a POP/LDM that loads the PC (N counts the PC).
    pub multiple_pc_extra: u32,
    pub exclusive: u32,
    pub cond_branch_not_taken: u32,
    pub cond_branch_taken: u32,
    pub branch: u32,
    pub branch_link: u32,
    pub branch_exchange: u32,
    pub table_branch: u32,
    pub mrs: u32,
    pub msr: u32,
    pub cps: u32,
    pub isb: u32,
    pub barrier: u32,
    pub wfx: u32,
    pub fp_simple: u32,
    pub fp_mac: u32,
    pub fp_div_sqrt: u32,
    pub fp_load_single: u32,
    pub fp_load_double: u32,
    pub fp_move_core: u32,
    /// Exception entry (stacking + vector fetch), basic frame.
    pub exc_entry: u32,
    /// Exception entry with the FP context stacked (lazy stacking disabled).
    pub exc_entry_fp: u32,
    pub exc_return: u32,
    pub exc_return_fp: u32,
    pub tail_chain: u32,
    /// Whether a load followed by an independent load/store saves a cycle (M4 §3.3.2).
    pub pipelined_loads: bool,
    /// Whether a load/store whose address depends on the previous data-processing result
    /// stalls one cycle (M4 §3.3.2: "There is no forwarding path").
    pub agu_stall: bool,
    /// Whether IT folds onto a preceding 16-bit instruction (M4, ACTLR.DISFOLD = 0).
    pub it_folding: bool,
}

/// Cortex-M0+ (DDI 0484C Table 3.1).
pub const M0P: CycleTable = CycleTable {
    kind: CoreKind::M0Plus,
    refill: 1,
    alu: 1,
    alu_pc: 2,
    // CHOICE: "1 or 32, depends on multiplier implementation"; ST does not say which CPU2
    // has. We take the fast multiplier, as on ST's other Cortex-M0+ parts.
    mul: 1,
    div: 1, // no divider on ARMv6-M; never decoded for this core
    // No single-cycle I/O port on STM32WB: every load/store takes the AHB case (2).
    load: 2,
    load_pc: 2,
    store: 2,
    dual: 3,
    multiple_base: 1,
    // POP {.., PC} is 3+N with N the low registers only (INFERRED in timing.md); our n
    // counts the PC, so the extra is 1.
    multiple_pc_extra: 1,
    exclusive: 2,
    cond_branch_not_taken: 1,
    cond_branch_taken: 2,
    branch: 2,
    branch_link: 3,
    branch_exchange: 2,
    table_branch: 2,
    mrs: 3,
    msr: 3,
    cps: 1,
    isb: 3,
    barrier: 3,
    // CHOICE: not found in the sources; the TRM value recalled in timing.md (2, plus the wait).
    wfx: 2,
    fp_simple: 1,
    fp_mac: 1,
    fp_div_sqrt: 1,
    fp_load_single: 1,
    fp_load_double: 1,
    fp_move_core: 1,
    // §3.6.1: 15 cycles worst case entry at zero wait states.
    exc_entry: 15,
    exc_entry_fp: 15,
    // CHOICE: exit and tail-chain figures are not documented for the M0+; unstacking eight
    // words mirrors the entry, so we charge the same 15, and a tail-chain skips the
    // unstack/restack: the vector fetch and refill, charged like the M4's 6.
    exc_return: 15,
    exc_return_fp: 15,
    tail_chain: 6,
    pipelined_loads: false,
    agu_stall: false,
    it_folding: false,
};

/// Cortex-M4 (DDI 0439D Tables 3-1, 3-2, 7-1, §3.3.2, §3.9.1).
pub const M4: CycleTable = CycleTable {
    kind: CoreKind::M4,
    // CHOICE: P ranges from 1 to 3 with the target's alignment/width and branch
    // speculation, which we do not model; we charge the middle value, 2.
    refill: 2,
    alu: 1,
    alu_pc: 1 + 2,
    mul: 1,
    // CHOICE: "2 to 12" depending on the operands, with no published rule. We charge the
    // documented worst case so that timing budgets are never optimistic.
    div: 12,
    load: 2,
    // §3.3.2: "LDR PC,[any] is always a blocking operation ... at least five cycles".
    load_pc: 5,
    store: 2,
    dual: 3,
    multiple_base: 1,
    multiple_pc_extra: 2, // 1+N+P with N counting the PC
    exclusive: 2,
    cond_branch_not_taken: 1,
    cond_branch_taken: 1 + 2,
    branch: 1 + 2,
    branch_link: 1 + 2,
    branch_exchange: 1 + 2,
    // §3.3.2: "TBB and TBH are also blocking operations ... at least six cycles".
    table_branch: 6,
    // CHOICE: "1 or 2": reads 1, writes (which may change the execution priority) 2.
    mrs: 1,
    msr: 2,
    cps: 1,
    isb: 1 + 2, // 1+B, B = a pipeline refill
    barrier: 1, // 1+B, B minimum 0 with an empty write buffer
    wfx: 1,
    fp_simple: 1,
    fp_mac: 3,
    fp_div_sqrt: 14,
    fp_load_single: 2,
    fp_load_double: 3,
    fp_move_core: 2,
    exc_entry: 12,
    exc_entry_fp: 29,
    exc_return: 10,
    exc_return_fp: 27,
    tail_chain: 6,
    pipelined_loads: true,
    agu_stall: true,
    it_folding: true,
};

impl CycleTable {
    pub fn for_kind(kind: CoreKind) -> &'static CycleTable {
        match kind {
            CoreKind::M0Plus => &M0P,
            CoreKind::M4 => &M4,
        }
    }

    /// Cycles of one instruction, conditional branches counted as not taken.
    pub fn cycles(&self, class: Class) -> u32 {
        match class {
            Class::Alu { .. } | Class::Nop | Class::Yield | Class::Sev | Class::It => self.alu,
            Class::AluPc => self.alu_pc,
            Class::Mul { .. } => self.mul,
            Class::Div => self.div,
            Class::Load { dst: 15, .. } => self.load_pc,
            Class::Load { .. } => self.load,
            Class::Store { .. } => self.store,
            Class::LoadDual { .. } | Class::StoreDual => self.dual,
            Class::LoadMultiple { n, pc } => {
                self.multiple_base + n as u32 + if pc { self.multiple_pc_extra } else { 0 }
            }
            Class::StoreMultiple { n } => self.multiple_base + n as u32,
            Class::Exclusive => self.exclusive,
            Class::ClearExclusive => self.alu,
            Class::CondBranch => self.cond_branch_not_taken,
            Class::Branch => self.branch,
            Class::BranchLink => self.branch_link,
            Class::BranchExchange => self.branch_exchange,
            Class::TableBranch => self.table_branch,
            Class::Mrs => self.mrs,
            Class::Msr => self.msr,
            Class::Cps => self.cps,
            Class::Isb => self.isb,
            Class::Barrier => self.barrier,
            Class::Wfi | Class::Wfe => self.wfx,
            // Exception entry is charged by the exception model, not here.
            Class::Svc | Class::Bkpt | Class::Udf => 0,
            Class::FpSimple | Class::FpStatus => self.fp_simple,
            Class::FpMac => self.fp_mac,
            Class::FpDivSqrt => self.fp_div_sqrt,
            Class::FpLoadStore { double } => {
                if double {
                    self.fp_load_double
                } else {
                    self.fp_load_single
                }
            }
            Class::FpMultiple { words } => 1 + words as u32,
            Class::FpMoveCore => self.fp_move_core,
        }
    }
}

mod decode;

use decode::reg_bit;
pub use decode::{decode, is_wide, Insn};
/// The decoded cost of one translated block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BlockCost {
    /// Block size in bytes; 0 marks an empty cache slot.
    pub size: u32,
    pub insns: u32,
    /// Cycles at zero wait states with a final conditional branch not taken.
    pub cycles: u32,
    /// Extra cycles when the final conditional branch is taken.
    pub taken_extra: u32,
    /// 64-bit flash lines the block's code spans (0 when it does not run from flash).
    pub flash_lines: u32,
    /// Literal-pool loads from flash.
    pub flash_literals: u32,
    /// SEV instructions in the block.
    pub sevs: u32,
    pub end: BlockEnd,
}

/// Decode the block `code` (starting at `pc`) and add up its cycles.
///
/// `in_flash` says whether an address is backed by flash (for wait states).
pub fn block_cost(
    table: &CycleTable,
    pc: u32,
    code: &[u8],
    in_flash: impl Fn(u32) -> bool,
) -> BlockCost {
    let hw = |i: usize| -> u16 {
        code.get(i..i + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    };
    let mut cost = BlockCost {
        size: code.len() as u32,
        ..Default::default()
    };
    let mut off = 0usize;
    let mut prev: Option<Insn> = None;
    let mut last_class = Class::Nop;
    while off + 2 <= code.len() {
        let h1 = hw(off);
        let insn = decode(pc + off as u32, h1, hw(off + 2));
        let mut c = table.cycles(insn.class);
        if let Some(p) = prev {
            c = adjust_for_previous(table, p, insn, c);
        }
        if let Class::Load {
            literal: Some(addr),
            ..
        } = insn.class
        {
            if in_flash(addr) {
                cost.flash_literals += 1;
            }
        }
        cost.cycles += c;
        cost.insns += 1;
        cost.sevs += (insn.class == Class::Sev) as u32;
        last_class = insn.class;
        prev = Some(insn);
        off += insn.len as usize;
    }
    cost.end = match last_class {
        Class::CondBranch => {
            cost.taken_extra = table.cond_branch_taken - table.cond_branch_not_taken;
            BlockEnd::CondBranch
        }
        Class::Wfi => BlockEnd::Wfi,
        Class::Wfe => BlockEnd::Wfe,
        Class::Yield => BlockEnd::Yield,
        _ => BlockEnd::Plain,
    };
    if !code.is_empty() && in_flash(pc) {
        let first = pc / 8;
        let last = (pc + code.len() as u32 - 1) / 8;
        cost.flash_lines = last - first + 1;
    }
    cost
}

/// M4 pairing rules (§3.3.2): pipelined loads, address-generation stalls, IT folding.
fn adjust_for_previous(table: &CycleTable, prev: Insn, cur: Insn, c: u32) -> u32 {
    let cur_addr = match cur.class {
        Class::Load { addr, .. } | Class::Store { addr } => Some(addr),
        _ => None,
    };
    if let (Some(addr), true) = (cur_addr, table.pipelined_loads) {
        if let Class::Load { dst, .. } = prev.class {
            if dst != 15 && addr & reg_bit(dst as u32) == 0 && c > 1 {
                return c - 1;
            }
        }
    }
    if let (Some(addr), true) = (cur_addr, table.agu_stall) {
        if let Class::Alu { dst: Some(d) } | Class::Mul { dst: Some(d) } = prev.class {
            if addr & reg_bit(d as u32) != 0 {
                return c + 1;
            }
        }
    }
    if cur.class == Class::It && table.it_folding && prev.len == 2 {
        return 0;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m4_pairs_loads_and_folds_it() {
        // ldr r0,[r1]; ldr r1,[r2]  = 3 cycles (TRM example)
        let code = [0x08, 0x68, 0x11, 0x68];
        assert_eq!(block_cost(&M4, 0x2000_0000, &code, |_| false).cycles, 3);
        // ldr r0,[r1]; ldr r1,[r0]  : dependent, no pipelining = 4
        let code = [0x08, 0x68, 0x01, 0x68];
        assert_eq!(block_cost(&M4, 0x2000_0000, &code, |_| false).cycles, 4);
        // the M0+ never pipelines
        let code = [0x08, 0x68, 0x11, 0x68];
        assert_eq!(block_cost(&M0P, 0x2000_0000, &code, |_| false).cycles, 4);
        // cmp r0,#0 ; it eq ; moveq r0,#1 : IT folds
        let code = [0x00, 0x28, 0x08, 0xBF, 0x01, 0x20];
        assert_eq!(block_cost(&M4, 0x2000_0000, &code, |_| false).cycles, 2);
    }

    #[test]
    fn flash_lines_and_branch_ends() {
        // movs r0,#1 ; bne . at 0x08000006: spans lines 0x08000000 and 0x08000008
        let code = [0x01, 0x20, 0xFE, 0xD1];
        let c = block_cost(&M0P, 0x0800_0006, &code, |a| a >> 24 == 0x08);
        assert_eq!(c.flash_lines, 2);
        assert_eq!(c.end, BlockEnd::CondBranch);
        assert_eq!((c.cycles, c.taken_extra), (2, 1));
    }
}
