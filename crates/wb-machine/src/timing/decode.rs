//! The Thumb / Thumb-2 decoder: each instruction into the timing class its cycle cost
//! depends on (ARMv7-M ARM A5, ARMv6-M ARM A5).

use super::Class;

/// One decoded instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub class: Class,
    /// 2 or 4 bytes.
    pub len: u8,
}

fn bit(v: u32, n: u32) -> bool {
    (v >> n) & 1 != 0
}

fn bits(v: u32, hi: u32, lo: u32) -> u32 {
    (v >> lo) & ((1 << (hi - lo + 1)) - 1)
}

pub(super) fn reg_bit(r: u32) -> u16 {
    1 << (r & 15)
}

/// Whether the halfword starts a 32-bit Thumb-2 instruction.
pub fn is_wide(hw1: u16) -> bool {
    (hw1 >> 11) >= 0b11101
}

/// Decode one instruction at `pc`. `hw2` is only looked at for 32-bit encodings.
pub fn decode(pc: u32, hw1: u16, hw2: u16) -> Insn {
    if is_wide(hw1) {
        Insn {
            class: decode32(pc, hw1 as u32, hw2 as u32),
            len: 4,
        }
    } else {
        Insn {
            class: decode16(pc, hw1 as u32),
            len: 2,
        }
    }
}

fn decode16(pc: u32, h: u32) -> Class {
    let alu = |rd: u32| Class::Alu {
        dst: Some(rd as u8),
    };
    match h >> 10 {
        // Shift (immediate), add, subtract, move and compare.
        0b000000..=0b000111 => alu(bits(h, 2, 0)),
        0b001000..=0b001111 => {
            if bits(h, 12, 11) == 0b01 {
                Class::Alu { dst: None } // CMP imm
            } else {
                alu(bits(h, 10, 8))
            }
        }
        0b010000 => {
            let op = bits(h, 9, 6);
            match op {
                0b1101 => Class::Mul {
                    dst: Some(bits(h, 2, 0) as u8),
                },
                0b1000 | 0b1010 | 0b1011 => Class::Alu { dst: None }, // TST, CMP, CMN
                _ => alu(bits(h, 2, 0)),
            }
        }
        0b010001 => {
            let rd = bits(h, 2, 0) | (bits(h, 7, 7) << 3);
            match bits(h, 9, 8) {
                0b00 | 0b10 if rd == 15 => Class::AluPc,
                0b00 | 0b10 => alu(rd),
                0b01 => Class::Alu { dst: None },
                _ => Class::BranchExchange,
            }
        }
        0b010010 | 0b010011 => {
            // LDR Rt, [PC, #imm8*4]
            let addr = ((pc + 4) & !3) + bits(h, 7, 0) * 4;
            Class::Load {
                dst: bits(h, 10, 8) as u8,
                addr: reg_bit(15),
                literal: Some(addr),
            }
        }
        0b010100..=0b010111 => {
            let (rt, rn, rm) = (bits(h, 2, 0), bits(h, 5, 3), bits(h, 8, 6));
            let addr = reg_bit(rn) | reg_bit(rm);
            if bits(h, 11, 9) < 0b011 {
                Class::Store { addr }
            } else {
                Class::Load {
                    dst: rt as u8,
                    addr,
                    literal: None,
                }
            }
        }
        0b011000..=0b100011 => {
            // STR/LDR(B) imm, STRH/LDRH imm
            let (rt, rn) = (bits(h, 2, 0), bits(h, 5, 3));
            if bit(h, 11) {
                Class::Load {
                    dst: rt as u8,
                    addr: reg_bit(rn),
                    literal: None,
                }
            } else {
                Class::Store { addr: reg_bit(rn) }
            }
        }
        0b100100..=0b100111 => {
            let rt = bits(h, 10, 8);
            if bit(h, 11) {
                Class::Load {
                    dst: rt as u8,
                    addr: reg_bit(13),
                    literal: None,
                }
            } else {
                Class::Store { addr: reg_bit(13) }
            }
        }
        0b101000..=0b101011 => alu(bits(h, 10, 8)), // ADR, ADD Rd, SP, #imm
        0b101100..=0b101111 => decode16_misc(h),
        0b110000 | 0b110001 => Class::StoreMultiple {
            n: (h & 0xFF).count_ones() as u8,
        },
        0b110010 | 0b110011 => Class::LoadMultiple {
            n: (h & 0xFF).count_ones() as u8,
            pc: false,
        },
        0b110100..=0b110111 => match bits(h, 11, 8) {
            0b1110 => Class::Udf,
            0b1111 => Class::Svc,
            _ => Class::CondBranch,
        },
        0b111000 | 0b111001 => Class::Branch,
        _ => Class::Udf,
    }
}

fn decode16_misc(h: u32) -> Class {
    match bits(h, 11, 8) {
        0b0000 => Class::Alu { dst: Some(13) }, // ADD/SUB SP, SP, #imm
        0b0001 | 0b0011 | 0b1001 | 0b1011 => Class::CondBranch, // CBZ, CBNZ
        0b0010 | 0b1010 => Class::Alu {
            dst: Some(bits(h, 2, 0) as u8),
        }, // extend, REV
        0b0100 | 0b0101 => Class::StoreMultiple {
            n: ((h & 0xFF).count_ones() + bits(h, 8, 8)) as u8,
        },
        0b0110 if bits(h, 7, 5) == 0b011 => Class::Cps,
        0b1100 | 0b1101 => Class::LoadMultiple {
            n: ((h & 0xFF).count_ones() + bits(h, 8, 8)) as u8,
            pc: bit(h, 8),
        },
        0b1110 => Class::Bkpt,
        0b1111 if bits(h, 3, 0) != 0 => Class::It,
        0b1111 => match bits(h, 7, 4) {
            0b0010 => Class::Wfe,
            0b0011 => Class::Wfi,
            0b0100 => Class::Sev,
            0b0001 => Class::Yield,
            _ => Class::Nop, // NOP and reserved hints
        },
        _ => Class::Udf,
    }
}

fn decode32(pc: u32, h1: u32, h2: u32) -> Class {
    let op1 = bits(h1, 12, 11);
    let op2 = bits(h1, 10, 4);
    let rd = bits(h2, 11, 8) as u8;
    match op1 {
        0b01 => {
            if op2 & 0b110_0100 == 0 {
                // Load/store multiple
                let n = (h2 & 0xFFFF).count_ones() as u8;
                if bit(h1, 4) {
                    Class::LoadMultiple { n, pc: bit(h2, 15) }
                } else {
                    Class::StoreMultiple { n }
                }
            } else if op2 & 0b110_0100 == 0b000_0100 {
                decode32_dual_exclusive(h1, h2)
            } else if op2 & 0b110_0000 == 0b010_0000 {
                // Data processing (shifted register)
                let s = bit(h1, 4);
                if s && rd == 15 {
                    Class::Alu { dst: None } // TST, TEQ, CMP, CMN
                } else {
                    Class::Alu { dst: Some(rd) }
                }
            } else {
                decode32_coproc(h1, h2)
            }
        }
        0b10 => {
            if !bit(h2, 15) {
                Class::Alu { dst: Some(rd) } // data processing (immediate)
            } else {
                decode32_branch_misc(h1, h2)
            }
        }
        _ => {
            if op2 & 0b100_0000 != 0 {
                return decode32_coproc(h1, h2);
            }
            let rn = bits(h1, 3, 0);
            let rt = bits(h2, 15, 12);
            let reg_offset = !bit(h1, 7) && bits(h2, 11, 6) == 0;
            let mut addr = reg_bit(rn);
            if reg_offset {
                addr |= reg_bit(bits(h2, 3, 0));
            }
            match op2 {
                _ if op2 & 0b111_0001 == 0b000_0000 => Class::Store { addr },
                _ if op2 & 0b110_0111 == 0b000_0001
                    || op2 & 0b110_0111 == 0b000_0011
                    || op2 & 0b110_0111 == 0b000_0101 =>
                {
                    if rt == 15 && op2 & 0b110_0111 != 0b000_0101 {
                        return Class::Nop; // PLD, PLI: memory hints
                    }
                    let literal = if rn == 15 {
                        let base = (pc + 4) & !3;
                        let imm = bits(h2, 11, 0);
                        Some(if bit(h1, 7) {
                            base.wrapping_add(imm)
                        } else {
                            base.wrapping_sub(imm)
                        })
                    } else {
                        None
                    };
                    Class::Load {
                        dst: rt as u8,
                        addr,
                        literal,
                    }
                }
                _ if op2 & 0b111_0000 == 0b010_0000 => Class::Alu { dst: Some(rd) },
                _ if op2 & 0b111_1000 == 0b011_0000 => Class::Mul { dst: Some(rd) },
                _ if op2 & 0b111_1000 == 0b011_1000 => {
                    if matches!(bits(h1, 6, 4), 0b001 | 0b011) && bits(h2, 7, 4) == 0b1111 {
                        Class::Div
                    } else {
                        Class::Mul { dst: None } // long multiply: two destinations
                    }
                }
                _ => Class::Udf,
            }
        }
    }
}

fn decode32_dual_exclusive(h1: u32, h2: u32) -> Class {
    let op1 = bits(h1, 8, 7);
    let op2 = bits(h1, 5, 4);
    let rn = bits(h1, 3, 0);
    match (op1, op2) {
        (0b00, 0b00) | (0b00, 0b01) => Class::Exclusive,
        (0b01, 0b00) => Class::Exclusive,
        (0b01, 0b01) => match bits(h2, 7, 4) {
            0b0000 | 0b0001 => Class::TableBranch,
            _ => Class::Exclusive,
        },
        _ if op2 & 1 == 1 => Class::LoadDual { addr: reg_bit(rn) },
        _ => Class::StoreDual,
    }
}

fn decode32_branch_misc(h1: u32, h2: u32) -> Class {
    let op = bits(h1, 10, 4);
    match bits(h2, 14, 12) {
        0b000 | 0b010 => {
            if op & 0b011_1000 != 0b011_1000 {
                Class::CondBranch
            } else if op & 0b111_1110 == 0b011_1000 {
                Class::Msr
            } else if op == 0b011_1010 {
                match bits(h2, 7, 0) {
                    2 => Class::Wfe,
                    3 => Class::Wfi,
                    4 => Class::Sev,
                    1 => Class::Yield,
                    _ => Class::Nop,
                }
            } else if op == 0b011_1011 {
                match bits(h2, 7, 4) {
                    0b0010 => Class::ClearExclusive,
                    0b0110 => Class::Isb,
                    _ => Class::Barrier,
                }
            } else if op & 0b111_1110 == 0b011_1110 {
                Class::Mrs
            } else {
                Class::Udf
            }
        }
        0b001 | 0b011 => Class::Branch,
        0b101 | 0b111 => Class::BranchLink,
        _ => Class::Udf,
    }
}

/// FPv4-SP instructions (coprocessors 10 and 11); anything else is undefined on the M4.
fn decode32_coproc(h1: u32, h2: u32) -> Class {
    let coproc = bits(h2, 11, 9);
    if coproc != 0b101 {
        return Class::Udf;
    }
    let double = bit(h2, 8);
    match bits(h1, 11, 8) {
        0b1110 if !bit(h2, 4) => {
            // VFP data processing: opc1 = h1[7,5,4]
            let opc1 = (bits(h1, 7, 7) << 2) | bits(h1, 5, 4);
            match opc1 {
                0b000 | 0b001 | 0b101 | 0b110 => Class::FpMac,
                0b010 | 0b011 => Class::FpSimple,
                0b100 => Class::FpDivSqrt,
                _ => {
                    // opc2 = h1[3:0], opc3 = h2[7:6]: VSQRT is opc2 0001, opc3 11
                    if bits(h1, 3, 0) == 0b0001 && bits(h2, 7, 6) == 0b11 {
                        Class::FpDivSqrt
                    } else {
                        Class::FpSimple
                    }
                }
            }
        }
        0b1110 => {
            // 8/16/32-bit transfers between core and extension registers
            if bits(h1, 7, 5) == 0b111 {
                Class::FpStatus // VMRS / VMSR
            } else if bits(h1, 7, 5) == 0b000 && !double {
                Class::FpMoveCore // VMOV Rt <-> Sn
            } else {
                Class::FpStatus // VMOV scalar
            }
        }
        _ => {
            // Extension register load/store and 64-bit transfers (h1[11:9] = 110).
            let opcode = bits(h1, 8, 4);
            if opcode & 0b11110 == 0b00100 {
                return Class::FpMoveCore; // VMOV two core registers
            }
            if opcode & 0b10010 == 0b10000 {
                return Class::FpLoadStore { double }; // VLDR/VSTR
            }
            let imm8 = bits(h2, 7, 0);
            Class::FpMultiple { words: imm8 as u8 }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::{M0P, M4};

    fn class(hw1: u16, hw2: u16) -> Class {
        decode(0x0800_0100, hw1, hw2).class
    }

    #[test]
    fn decodes_common_16_bit_encodings() {
        assert_eq!(class(0x2001, 0), Class::Alu { dst: Some(0) }); // movs r0,#1
        assert_eq!(class(0x4348, 0), Class::Mul { dst: Some(0) }); // muls r0,r1,r0
        assert_eq!(
            class(0x6808, 0),
            Class::Load {
                dst: 0,
                addr: 1 << 1,
                literal: None
            }
        ); // ldr r0,[r1]
        assert_eq!(class(0x6008, 0), Class::Store { addr: 1 << 1 }); // str r0,[r1]
        assert_eq!(class(0xB510, 0), Class::StoreMultiple { n: 2 }); // push {r4,lr}
        assert_eq!(class(0xBD10, 0), Class::LoadMultiple { n: 2, pc: true }); // pop {r4,pc}
        assert_eq!(M0P.cycles(class(0xBD10, 0)), 4); // 3+N, N = one low register
        assert_eq!(M4.cycles(class(0xBD10, 0)), 5); // 1+N+P
        assert_eq!(class(0xD1FE, 0), Class::CondBranch); // bne .
        assert_eq!(class(0xE7FE, 0), Class::Branch); // b .
        assert_eq!(class(0x4770, 0), Class::BranchExchange); // bx lr
        assert_eq!(class(0xBF30, 0), Class::Wfi);
        assert_eq!(class(0xBF20, 0), Class::Wfe);
        assert_eq!(class(0xBF40, 0), Class::Sev);
        assert_eq!(class(0xBF00, 0), Class::Nop);
        assert_eq!(class(0xBF08, 0), Class::It); // it eq
        assert_eq!(class(0xDF00, 0), Class::Svc);
        assert_eq!(class(0xB672, 0), Class::Cps); // cpsid i
        assert_eq!(class(0x4687, 0), Class::AluPc); // mov pc, r0
        assert_eq!(class(0xB108, 0), Class::CondBranch); // cbz r0, ...
    }

    #[test]
    fn decodes_common_32_bit_encodings() {
        assert_eq!(class(0xF000, 0xF800), Class::BranchLink); // bl
        assert_eq!(class(0xFBB0, 0xF0F1), Class::Div); // udiv r0,r0,r1
        assert_eq!(class(0xFB00, 0xF001), Class::Mul { dst: Some(0) }); // mul.w r0,r0,r1
        assert_eq!(
            class(0xE8BD, 0x8010),
            Class::LoadMultiple { n: 2, pc: true }
        ); // pop.w {r4,pc}
        assert_eq!(class(0xE92D, 0x41F0), Class::StoreMultiple { n: 6 }); // push.w {r4-r8,lr}
        assert_eq!(class(0xEE30, 0x0A20), Class::FpSimple); // vadd.f32 s0,s0,s1
        assert_eq!(class(0xEE80, 0x0A20), Class::FpDivSqrt); // vdiv.f32 s0,s0,s1
        assert_eq!(class(0xEEB1, 0x0AC0), Class::FpDivSqrt); // vsqrt.f32 s0,s0
        assert_eq!(class(0xEE00, 0x0A20), Class::FpMac); // vmla.f32
        assert_eq!(class(0xEE00, 0x0A10), Class::FpMoveCore); // vmov s0, r0
        assert_eq!(class(0xEEF1, 0x0A10), Class::FpStatus); // vmrs r0, fpscr
        assert_eq!(class(0xED90, 0x0A00), Class::FpLoadStore { double: false }); // vldr s0,[r0]
        assert_eq!(class(0xECBD, 0x8A10), Class::FpMultiple { words: 16 }); // vpop {s16-s31}
        assert_eq!(class(0xF3BF, 0x8F4F), Class::Barrier); // dsb sy
        assert_eq!(class(0xF3BF, 0x8F6F), Class::Isb);
        assert_eq!(class(0xF3EF, 0x8010), Class::Mrs); // mrs r0, primask
        assert_eq!(class(0xF380, 0x8810), Class::Msr); // msr primask, r0
        assert_eq!(class(0xE8D0, 0xF001), Class::TableBranch); // tbb [r0, r1]
        assert_eq!(class(0xE9D0, 0x2300), Class::LoadDual { addr: 1 }); // ldrd r2,r3,[r0]
        assert_eq!(
            class(0xF8D0, 0x1004),
            Class::Load {
                dst: 1,
                addr: 1,
                literal: None
            }
        ); // ldr.w r1,[r0,#4]
        assert_eq!(class(0xF000, 0xB800), Class::Branch); // b.w
        assert_eq!(class(0xF040, 0x8000), Class::CondBranch); // bne.w
    }

    #[test]
    fn literal_addresses_are_word_aligned_from_pc_plus_4() {
        // ldr r0, [pc, #4] at 0x...102: base = (0x106 & !3) = 0x104, + 4
        let i = decode(0x0800_0102, 0x4801, 0);
        assert_eq!(
            i.class,
            Class::Load {
                dst: 0,
                addr: 1 << 15,
                literal: Some(0x0800_0108)
            }
        );
    }
}
