//! ECDSA verification on the PKA, loaded the way ST's HAL does it (PKA_ECDSAVerif_Set: each
//! big-endian operand reversed into little-endian words, least significant first, followed
//! by a zero word; then PKA_Process: MODE, START, wait for PROCENDF, CLRFR).

use crate::{nvic_enable, read32, write32, NVIC_ICPR};

use wb_regs::pka::at::{CLRFR, CR, SR};
use wb_regs::pka::BASE as PKA;
use wb_regs::rcc::at::AHB3ENR as RCC_AHB3ENR;
use wb_regs::rcc::enable::PKAEN;
const EN: u32 = 1;
const START: u32 = 1 << 1;
const MODE_ECDSA_VERIFY: u32 = 0x26 << 8;
const PROCENDIE: u32 = 1 << 17;
const PROCENDF: u32 = 1 << 17;
const CPU1_PKA_IRQ: u32 = 29;

/// ECDSA-verify RAM offsets from the PKA base (RM0434 Tables 162-163).
const ORDER_NB_BITS: u32 = 0x404;
const MOD_NB_BITS: u32 = 0x4B4;
const A_SIGN: u32 = 0x45C;
const RESULT: u32 = 0x5B0;
/// Operands in the order the host lays them out (32 big-endian bytes each).
const OPERANDS: [u32; 10] = [
    0x4B8,  // p
    0x460,  // |a|
    0xD5C,  // n
    0x5E8,  // Gx
    0x63C,  // Gy
    0xF40,  // Qx
    0xF94,  // Qy
    0x1098, // r
    0xA44,  // s
    0xFE8,  // hash e
];

/// Verify the signature laid out at `input` (p, |a|, n, Gx, Gy, Qx, Qy, r, s, e as 32-byte
/// big-endian numbers, then the sign of a as a word). Returns the PKA's result word
/// (0: valid).
#[no_mangle]
pub extern "C" fn pka_verify(input: u32) -> u32 {
    write32(RCC_AHB3ENR, read32(RCC_AHB3ENR) | PKAEN);
    write32(CR, EN);
    write32(PKA + ORDER_NB_BITS, 256);
    write32(PKA + MOD_NB_BITS, 256);
    write32(PKA + A_SIGN, read32(input + 32 * OPERANDS.len() as u32));
    for (i, &off) in OPERANDS.iter().enumerate() {
        let src = input + 32 * i as u32;
        for w in 0..8 {
            // Word w holds bytes 28-4w..32-4w of the big-endian number.
            let be = read32(src + 28 - 4 * w);
            write32(PKA + off + 4 * w, be.swap_bytes());
        }
        write32(PKA + off + 32, 0);
    }
    // Sleep until the end-of-operation interrupt is pending (masked: no handler runs).
    nvic_enable(CPU1_PKA_IRQ);
    unsafe { core::arch::asm!("cpsid i") };
    write32(CR, EN | MODE_ECDSA_VERIFY | PROCENDIE | START);
    while read32(SR) & PROCENDF == 0 {
        unsafe { core::arch::asm!("wfi") };
    }
    let result = read32(PKA + RESULT);
    write32(CLRFR, PROCENDF);
    write32(NVIC_ICPR, 1 << CPU1_PKA_IRQ);
    unsafe { core::arch::asm!("cpsie i") };
    result
}
