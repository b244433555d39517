//! Public key accelerator (PKA @ 0x5800_2000, 0x2000 window), RM0434 §26.
//!
//! Registers PKA_CR, PKA_SR, PKA_CLRFR and the PKA RAM (894 words at offset 0x400). The
//! operations ST's HAL uses for NIST P-256 are computed with the `p256` crate from operands the
//! guest placed in PKA RAM (RM0434 Tables 156-163; little-endian 32-bit words, least
//! significant word first, each operand followed by one zero word; bit counts are plain words):
//! point check (MODE 0x28), ECC scalar multiplication (0x20, fast mode 0x22), ECDSA sign (0x24,
//! with the extended kG output) and ECDSA verification (0x26, OUT_RESULT 0 = valid).
//!
//! Timing: BUSY from START for the computation time of RM0434 Tables 166-169 (256-bit column)
//! in cycles of the PKA clock (HCLK4, [`Peripheral::set_clock_hz`], 4 MHz until called), then
//! PROCENDF ("set when the BUSY bit is deasserted"; START clears it, its 0 meaning "operation
//! in progress"). A clock change during an operation counts the cycles already run at the old
//! frequency, up to the latest time the PKA has seen. Operands are read at START: while BUSY every PKA RAM access is ignored (reads
//! return 0) and sets RAMERRF (§26.3.6, §26.3.7), so the guest cannot change them meanwhile.
//! Results are written to RAM when the operation ends.
//!
//! Errors and refusals. The real PKA "does not provide an error output when a wrong parameter
//! is written" and "assumes that all input parameters are valid" (§26.4.1); it computes
//! whatever the parameters give. This model can only compute on P-256, so it refuses, never
//! returning a silent success:
//! - reserved MODE codes: as the chip does, BUSY for "a couple of cycles" ([`cycles::ABORT`]:
//!   two cycles of the PKA core, which runs at half the AHB clock, §26.3.3), then abort and
//!   PROCENDF; RAM is not written;
//! - valid MODE codes this model does not implement (RSA/modular arithmetic 0x00-0x10),
//!   curve parameters other than P-256 (p, |a| with its sign, b for point check, n), bit counts
//!   other than 256 (scalar length for 0x20/0x22: 1..=640), a missing terminating zero word
//!   after an operand (§26.4.1 "an additional word with all bits equal to zero must be
//!   added"), or a base point not on the curve: the same abort, and the operation's own failure
//!   output where RM0434 defines one is set to [`REFUSED`] (ECDSA verify OUT_RESULT, point check
//!   result, ECDSA sign OUT_ERROR).
//!
//!   In every refusal ADDRERRF is also raised (an interrupt if ADDRERRIE). On the chip
//!   ADDRERRF only reports accesses to unmapped addresses; it is used here because ST's HAL
//!   (`PKA_CheckError`) turns it into `HAL_ERROR` after every operation. Each kind of refusal is
//!   traced once with `warn!` under `wb::pka`.
//!
//! Verdicts that are results, not refusals: ECDSA verify writes OUT_RESULT = 1 for an invalid
//! signature (r or s outside [1, n-1], public key not on the curve, equation false); point
//! check writes 1 for a point not on the curve; ECDSA sign writes OUT_ERROR = 1 when r = 0
//! (e.g. k ≡ 0 mod n) and 2 when s = 0 (Table 160).
//!
//! Other register behaviour (RM0434 §26.3.6, §26.7): EN = 0 holds the PKA in reset (RAM stays
//! accessible, START is ignored and traced); clearing EN during an operation aborts it without
//! PROCENDF and without writing results. START is ignored while BUSY and always reads 0.
//! Unmapped offsets of the window (0x00C-0x3FF, 0x11F8-0x1FFF) read 0, ignore writes and set
//! ADDRERRF. Only 32-bit writes are accepted ("otherwise, for writes, an AHB bus error is
//! generated, and write accesses are ignored", §26.2): narrower writes are
//! [`BusError::Width`]; narrower reads return their byte lanes. The interrupt line (bit 0) is
//! PROCENDF&PROCENDIE | RAMERRF&RAMERRIE | ADDRERRF&ADDRERRIE. A power-on reset clears PKA
//! RAM; other resets keep it.

use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::elliptic_curve::{Field, PrimeField};
use p256::{AffinePoint, EncodedPoint, FieldBytes, ProjectivePoint, Scalar, U256};
use tracing::{debug, warn};

use crate::{narrow_read, Access, BusError, BusResult, Peripheral, Picos, ResetKind, Width};

/// Register offsets (RM0434 §26.7), from the shared register map, and the end of PKA RAM.
pub mod reg {
    pub use wb_regs::pka::reg::*;
    /// One past the last word of PKA RAM (894 words; last word at 0x11F4).
    pub const RAM_END: u32 = RAM + 4 * super::RAM_WORDS as u32;
}

pub use wb_regs::pka::{
    CLRFR_ADDRERRFC, CLRFR_PROCENDFC, CLRFR_RAMERRFC, CR_ADDRERRIE, CR_EN, CR_MODE_MASK,
    CR_MODE_SHIFT, CR_PROCENDIE, CR_RAMERRIE, CR_START, SR_ADDRERRF, SR_BUSY, SR_PROCENDF,
    SR_RAMERRF,
};

/// Size of PKA RAM in 32-bit words.
pub const RAM_WORDS: usize = 894;

/// Bits of PKA_CR that are stored (START is a trigger).
const CR_STORED: u32 = CR_EN | CR_MODE_MASK | CR_PROCENDIE | CR_RAMERRIE | CR_ADDRERRIE;

const CLRFR_ALL: u32 = CLRFR_PROCENDFC | CLRFR_RAMERRFC | CLRFR_ADDRERRFC;

/// What this model writes to an operation's failure output when it refuses the operation.
pub const REFUSED: u32 = 0xFFFF_FFFF;

/// PKA_CR.MODE codes (RM0434 Tables 141-142).
pub mod mode {
    pub const MODULAR_EXP: u32 = 0x00;
    pub const MONTGOMERY_PARAM: u32 = 0x01;
    pub const MODULAR_EXP_FAST: u32 = 0x02;
    pub const RSA_CRT_EXP: u32 = 0x07;
    pub const MODULAR_INV: u32 = 0x08;
    pub const ARITHMETIC_ADD: u32 = 0x09;
    pub const ARITHMETIC_SUB: u32 = 0x0A;
    pub const ARITHMETIC_MUL: u32 = 0x0B;
    pub const COMPARISON: u32 = 0x0C;
    pub const MODULAR_RED: u32 = 0x0D;
    pub const MODULAR_ADD: u32 = 0x0E;
    pub const MODULAR_SUB: u32 = 0x0F;
    pub const MONTGOMERY_MUL: u32 = 0x10;
    pub const ECC_MUL: u32 = 0x20;
    pub const ECC_MUL_FAST: u32 = 0x22;
    pub const ECDSA_SIGN: u32 = 0x24;
    pub const ECDSA_VERIFY: u32 = 0x26;
    pub const POINT_CHECK: u32 = 0x28;
}

/// Computation times for a 256-bit modulus, in PKA clock cycles (RM0434 Tables 166-169).
pub mod cycles {
    pub const ECC_MUL: u64 = 4_924_000;
    pub const ECC_MUL_FAST: u64 = 4_916_000;
    pub const ECDSA_SIGN: u64 = 5_249_000;
    pub const ECDSA_VERIFY: u64 = 10_498_000;
    pub const POINT_CHECK: u64 = 20_400;
    /// A wrong opcode keeps the PKA "busy for a couple of cycles": two core cycles, the core
    /// running at half the AHB clock.
    pub const ABORT: u64 = 4;
}

/// PKA RAM parameter offsets from the PKA base (RM0434 Tables 156-163).
pub mod ram {
    /// Point on elliptic curve Fp check (MODE 0x28).
    pub mod point_check {
        pub const MOD_NB_BITS: u32 = 0x404;
        pub const A_COEFF_SIGN: u32 = 0x408;
        pub const A_COEFF: u32 = 0x40C;
        pub const B_COEFF: u32 = 0x7FC;
        pub const MOD_GF: u32 = 0x460;
        pub const POINT_X: u32 = 0x55C;
        pub const POINT_Y: u32 = 0x5B0;
        /// 0 = on the curve.
        pub const OUT_ERROR: u32 = 0x400;
    }
    /// ECC Fp scalar multiplication (MODE 0x20 and fast mode 0x22).
    pub mod ecc_mul {
        pub const EXP_NB_BITS: u32 = 0x400;
        pub const OP_NB_BITS: u32 = 0x404;
        pub const A_COEFF_SIGN: u32 = 0x408;
        pub const A_COEFF: u32 = 0x40C;
        pub const MOD_GF: u32 = 0x460;
        /// R² mod p, fast mode only (not needed by this model).
        pub const MONTGOMERY_PARAM: u32 = 0x4B4;
        pub const K: u32 = 0x508;
        pub const POINT_X: u32 = 0x55C;
        pub const POINT_Y: u32 = 0x5B0;
        pub const OUT_RESULT_X: u32 = 0x55C;
        pub const OUT_RESULT_Y: u32 = 0x5B0;
    }
    /// ECDSA sign (MODE 0x24).
    pub mod ecdsa_sign {
        pub const ORDER_NB_BITS: u32 = 0x400;
        pub const MOD_NB_BITS: u32 = 0x404;
        pub const A_COEFF_SIGN: u32 = 0x408;
        pub const A_COEFF: u32 = 0x40C;
        pub const MOD_GF: u32 = 0x460;
        pub const K: u32 = 0x508;
        pub const POINT_X: u32 = 0x55C;
        pub const POINT_Y: u32 = 0x5B0;
        pub const HASH_E: u32 = 0xDE8;
        pub const PRIVATE_KEY_D: u32 = 0xE3C;
        pub const ORDER_N: u32 = 0xE94;
        /// 0 = no error, 1 = r is 0, 2 = s is 0.
        pub const OUT_ERROR: u32 = 0xEE8;
        pub const OUT_SIGNATURE_R: u32 = 0x700;
        pub const OUT_SIGNATURE_S: u32 = 0x754;
        pub const OUT_FINAL_POINT_X: u32 = 0x103C;
        pub const OUT_FINAL_POINT_Y: u32 = 0x1090;
    }
    /// ECDSA verification (MODE 0x26).
    pub mod ecdsa_verify {
        pub const ORDER_NB_BITS: u32 = 0x404;
        pub const MOD_NB_BITS: u32 = 0x4B4;
        pub const A_COEFF_SIGN: u32 = 0x45C;
        pub const A_COEFF: u32 = 0x460;
        pub const MOD_GF: u32 = 0x4B8;
        pub const POINT_X: u32 = 0x5E8;
        pub const POINT_Y: u32 = 0x63C;
        pub const PUBLIC_KEY_X: u32 = 0xF40;
        pub const PUBLIC_KEY_Y: u32 = 0xF94;
        pub const SIGNATURE_R: u32 = 0x1098;
        pub const SIGNATURE_S: u32 = 0xA44;
        pub const HASH_E: u32 = 0xFE8;
        pub const ORDER_N: u32 = 0xD5C;
        /// 0 = valid signature.
        pub const OUT_RESULT: u32 = 0x5B0;
    }
}

/// A 256-bit number as PKA RAM holds it: least significant word first.
type Words = [u32; 8];

/// P-256 prime p.
const P256_P: Words = [
    0xFFFF_FFFF,
    0xFFFF_FFFF,
    0xFFFF_FFFF,
    0,
    0,
    0,
    1,
    0xFFFF_FFFF,
];
/// P-256 coefficient a = -3 written as p - 3 (with sign 0).
const P256_A_POSITIVE: Words = [
    0xFFFF_FFFC,
    0xFFFF_FFFF,
    0xFFFF_FFFF,
    0,
    0,
    0,
    1,
    0xFFFF_FFFF,
];
/// P-256 coefficient |a| = 3 (with sign 1).
const P256_A_NEGATIVE: Words = [3, 0, 0, 0, 0, 0, 0, 0];
/// P-256 coefficient b.
const P256_B: Words = [
    0x27D2_604B,
    0x3BCE_3C3E,
    0xCC53_B0F6,
    0x651D_06B0,
    0x7698_86BC,
    0xB3EB_BD55,
    0xAA3A_93E7,
    0x5AC6_35D8,
];
/// P-256 group order n.
const P256_N: Words = [
    0xFC63_2551,
    0xF3B9_CAC2,
    0xA717_9E84,
    0xBCE6_FAAD,
    0xFFFF_FFFF,
    0xFFFF_FFFF,
    0,
    0xFFFF_FFFF,
];

/// Operand size for a 256-bit modulus: EOS = 256/32 + 1 words (§26.4.1).
const EOS: usize = 9;
/// Largest ECC operand the PKA takes, in bits (§26.2).
const ECC_MAX_BITS: u32 = 640;

/// Why the model refuses an operation (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// A bit-count word the model cannot work with.
    BitCount { what: &'static str, value: u32 },
    /// An operand is not followed by its zero word.
    NoEndWord(&'static str),
    /// A curve parameter differs from P-256.
    ForeignCurve(&'static str),
    /// A point the operation needs on the curve is not.
    NotOnCurve(&'static str),
    /// A valid MODE code that this model does not implement.
    Unimplemented(u32),
    /// A MODE code RM0434 lists as reserved.
    Reserved(u32),
}

impl Refusal {
    /// One-time warning slot of this kind of refusal.
    fn kind(self) -> u32 {
        match self {
            Refusal::BitCount { .. } => 0,
            Refusal::NoEndWord(_) => 1,
            Refusal::ForeignCurve(_) => 2,
            Refusal::NotOnCurve(_) => 3,
            Refusal::Unimplemented(_) => 4,
            Refusal::Reserved(_) => 5,
        }
    }
}

/// RAM writes an operation makes when it completes: (word index, value).
type Writes = Vec<(usize, u32)>;

/// An operation in progress.
#[derive(Clone, Debug)]
struct Op {
    mode: u32,
    /// Cycles still to run from `seg_start` (re-based when the clock changes).
    cycles_left: u64,
    seg_start: Picos,
    done_at: Picos,
    writes: Writes,
    refused: bool,
}

const WARN_RESERVED_BITS: u32 = 1 << 0;
const WARN_SR_WRITE: u32 = 1 << 1;
const WARN_UNMAPPED: u32 = 1 << 2;
const WARN_RAM_BUSY: u32 = 1 << 3;
const WARN_START_DISABLED: u32 = 1 << 4;
const WARN_WIDTH: u32 = 1 << 5;
const WARN_CLOCK: u32 = 1 << 6;
/// Refusal kinds use bits 8 and up.
const WARN_REFUSAL: u32 = 8;

/// The public key accelerator.
#[derive(Clone, Debug)]
pub struct Pka {
    cr: u32,
    /// PROCENDF, RAMERRF, ADDRERRF (BUSY comes from `op`).
    flags: u32,
    ram: Box<[u32]>,
    op: Option<Op>,
    hz: u64,
    now: Picos,
    warned: u32,
}

impl Default for Pka {
    fn default() -> Self {
        Pka::new()
    }
}

/// The PKA clock before [`Peripheral::set_clock_hz`] is called: HCLK4 after reset (MSI 4 MHz).
pub const DEFAULT_CLOCK_HZ: u64 = 4_000_000;

const PICOS_PER_SECOND: u128 = 1_000_000_000_000;

/// Duration of `cycles` at `hz`, rounded up.
fn cycles_to_picos(cycles: u64, hz: u64) -> Picos {
    let ps = (cycles as u128 * PICOS_PER_SECOND).div_ceil(hz.max(1) as u128);
    Picos::try_from(ps).unwrap_or(Picos::MAX)
}

/// Word index in PKA RAM of byte offset `off` (from the PKA base).
fn index(off: u32) -> usize {
    (off.wrapping_sub(reg::RAM) / 4) as usize
}

fn to_bytes(w: &Words) -> FieldBytes {
    let mut b = FieldBytes::default();
    for (i, word) in w.iter().enumerate() {
        b[28 - 4 * i..32 - 4 * i].copy_from_slice(&word.to_be_bytes());
    }
    b
}

fn to_words(b: &[u8]) -> Words {
    let mut w = [0u32; 8];
    for (i, word) in w.iter_mut().enumerate() {
        let mut be = [0u8; 4];
        be.copy_from_slice(&b[28 - 4 * i..32 - 4 * i]);
        *word = u32::from_be_bytes(be);
    }
    w
}

fn reduce(w: &Words) -> Scalar {
    <Scalar as Reduce<U256>>::reduce_bytes(&to_bytes(w))
}

/// The affine point (x, y) if both coordinates are below p and it is on P-256.
fn point(x: &Words, y: &Words) -> Option<AffinePoint> {
    let ep = EncodedPoint::from_affine_coordinates(&to_bytes(x), &to_bytes(y), false);
    Option::from(AffinePoint::from_encoded_point(&ep))
}

/// Affine coordinates of `p`, or (0, 0) for the point at infinity (the PKA's representation of
/// infinity for a curve with b ≠ 0, §26.4.15).
fn coordinates(p: &ProjectivePoint) -> (Words, Words) {
    let ep = p.to_affine().to_encoded_point(false);
    match (ep.x(), ep.y()) {
        (Some(x), Some(y)) => (to_words(x), to_words(y)),
        _ => ([0; 8], [0; 8]),
    }
}

/// Collects the RAM writes of an operation.
#[derive(Default)]
struct Out(Writes);

impl Out {
    fn word(&mut self, off: u32, v: u32) {
        self.0.push((index(off), v));
    }

    /// An EOS operand: eight words and the zero word.
    fn operand(&mut self, off: u32, w: &Words) {
        for (i, &v) in w.iter().enumerate() {
            self.word(off + 4 * i as u32, v);
        }
        self.word(off + 32, 0);
    }
}

impl Pka {
    pub fn new() -> Pka {
        Pka {
            cr: 0,
            flags: 0,
            ram: vec![0; RAM_WORDS].into_boxed_slice(),
            op: None,
            hz: DEFAULT_CLOCK_HZ,
            now: 0,
            warned: 0,
        }
    }

    /// Whether an operation is in progress (SR.BUSY).
    pub fn busy(&self) -> bool {
        self.op.is_some()
    }

    /// The PKA RAM word at byte offset `off` from the PKA base, for inspection.
    pub fn ram_word(&self, off: u32) -> Option<u32> {
        (reg::RAM..reg::RAM_END)
            .contains(&off)
            .then(|| self.ram[index(off)])
    }

    fn sr(&self) -> u32 {
        self.flags | if self.busy() { SR_BUSY } else { 0 }
    }

    fn warn_once(&mut self, bit: u32, f: impl FnOnce()) {
        if self.warned & bit == 0 {
            self.warned |= bit;
            f();
        }
    }

    fn word(&self, off: u32) -> u32 {
        self.ram.get(index(off)).copied().unwrap_or(0)
    }

    /// An EOS operand for a 256-bit modulus: eight words, then the zero word RM0434 requires.
    fn operand(&self, off: u32, what: &'static str) -> Result<Words, Refusal> {
        let mut w = [0u32; 8];
        for (i, v) in w.iter_mut().enumerate() {
            *v = self.word(off + 4 * i as u32);
        }
        if self.word(off + 4 * (EOS as u32 - 1)) != 0 {
            return Err(Refusal::NoEndWord(what));
        }
        Ok(w)
    }

    fn bits_256(&self, off: u32, what: &'static str) -> Result<(), Refusal> {
        match self.word(off) {
            256 => Ok(()),
            value => Err(Refusal::BitCount { what, value }),
        }
    }

    /// The field GF(p) and coefficient a must be P-256's; a may be written as p - 3 with sign
    /// 0 or as 3 with sign 1 (§26.5.1).
    fn p256_field(&self, sign: u32, a: u32, p: u32) -> Result<(), Refusal> {
        if self.operand(p, "modulus p")? != P256_P {
            return Err(Refusal::ForeignCurve("modulus p"));
        }
        let a = self.operand(a, "coefficient |a|")?;
        let ok = match self.word(sign) {
            0 => a == P256_A_POSITIVE,
            1 => a == P256_A_NEGATIVE,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Refusal::ForeignCurve("coefficient a"))
        }
    }

    fn p256_order(&self, off: u32) -> Result<(), Refusal> {
        if self.operand(off, "order n")? == P256_N {
            Ok(())
        } else {
            Err(Refusal::ForeignCurve("order n"))
        }
    }

    fn base_point(&self, x: u32, y: u32) -> Result<AffinePoint, Refusal> {
        let x = self.operand(x, "point x")?;
        let y = self.operand(y, "point y")?;
        point(&x, &y).ok_or(Refusal::NotOnCurve("input point"))
    }

    fn point_check(&self) -> Result<Writes, Refusal> {
        use ram::point_check as r;
        self.bits_256(r::MOD_NB_BITS, "modulus length")?;
        self.p256_field(r::A_COEFF_SIGN, r::A_COEFF, r::MOD_GF)?;
        if self.operand(r::B_COEFF, "coefficient b")? != P256_B {
            return Err(Refusal::ForeignCurve("coefficient b"));
        }
        let x = self.operand(r::POINT_X, "point x")?;
        let y = self.operand(r::POINT_Y, "point y")?;
        let mut out = Out::default();
        out.word(r::OUT_ERROR, if point(&x, &y).is_some() { 0 } else { 1 });
        Ok(out.0)
    }

    fn ecc_mul(&self) -> Result<Writes, Refusal> {
        use ram::ecc_mul as r;
        let k_bits = self.word(r::EXP_NB_BITS);
        if k_bits == 0 || k_bits > ECC_MAX_BITS {
            return Err(Refusal::BitCount {
                what: "scalar length",
                value: k_bits,
            });
        }
        self.bits_256(r::OP_NB_BITS, "modulus length")?;
        self.p256_field(r::A_COEFF_SIGN, r::A_COEFF, r::MOD_GF)?;
        let p = self.base_point(r::POINT_X, r::POINT_Y)?;
        // k has k_bits bits: reduce it mod n word by word, most significant first.
        let words = k_bits.div_ceil(32);
        let two32 = Scalar::from(1u64 << 32);
        let mut k = Scalar::ZERO;
        for i in (0..words).rev() {
            let mut w = self.word(r::K + 4 * i);
            let top = k_bits - 32 * i;
            if top < 32 {
                // Bits above the scalar length are not part of k.
                w &= (1 << top) - 1;
            }
            k = k * two32 + Scalar::from(w as u64);
        }
        let (x, y) = coordinates(&(ProjectivePoint::from(p) * k));
        let mut out = Out::default();
        out.operand(r::OUT_RESULT_X, &x);
        out.operand(r::OUT_RESULT_Y, &y);
        Ok(out.0)
    }

    fn ecdsa_sign(&self) -> Result<Writes, Refusal> {
        use ram::ecdsa_sign as r;
        self.bits_256(r::ORDER_NB_BITS, "order length")?;
        self.bits_256(r::MOD_NB_BITS, "modulus length")?;
        self.p256_field(r::A_COEFF_SIGN, r::A_COEFF, r::MOD_GF)?;
        self.p256_order(r::ORDER_N)?;
        let g = ProjectivePoint::from(self.base_point(r::POINT_X, r::POINT_Y)?);
        let k = reduce(&self.operand(r::K, "k")?);
        let z = reduce(&self.operand(r::HASH_E, "hash z")?);
        let d = reduce(&self.operand(r::PRIVATE_KEY_D, "private key d")?);
        let (x1, y1) = coordinates(&(g * k));
        let rr = reduce(&x1);
        let s = Option::<Scalar>::from(k.invert()).map(|ki| ki * (z + rr * d));
        let mut out = Out::default();
        let (error, rr, s) = match s {
            _ if bool::from(rr.is_zero()) => (1, Scalar::ZERO, Scalar::ZERO),
            Some(s) if !bool::from(s.is_zero()) => (0, rr, s),
            _ => (2, rr, Scalar::ZERO),
        };
        out.word(r::OUT_ERROR, error);
        out.operand(r::OUT_SIGNATURE_R, &to_words(&rr.to_repr()));
        out.operand(r::OUT_SIGNATURE_S, &to_words(&s.to_repr()));
        out.operand(r::OUT_FINAL_POINT_X, &x1);
        out.operand(r::OUT_FINAL_POINT_Y, &y1);
        Ok(out.0)
    }

    fn ecdsa_verify(&self) -> Result<Writes, Refusal> {
        use ram::ecdsa_verify as r;
        self.bits_256(r::ORDER_NB_BITS, "order length")?;
        self.bits_256(r::MOD_NB_BITS, "modulus length")?;
        self.p256_field(r::A_COEFF_SIGN, r::A_COEFF, r::MOD_GF)?;
        self.p256_order(r::ORDER_N)?;
        let g = ProjectivePoint::from(self.base_point(r::POINT_X, r::POINT_Y)?);
        let qx = self.operand(r::PUBLIC_KEY_X, "public key x")?;
        let qy = self.operand(r::PUBLIC_KEY_Y, "public key y")?;
        let rr = self.operand(r::SIGNATURE_R, "signature r")?;
        let s = self.operand(r::SIGNATURE_S, "signature s")?;
        let z = reduce(&self.operand(r::HASH_E, "hash z")?);
        let valid = (|| {
            let q = ProjectivePoint::from(point(&qx, &qy)?);
            // r and s must be in [1, n-1]; from_repr rejects values ≥ n, invert rejects 0.
            let rr = Option::<Scalar>::from(Scalar::from_repr(to_bytes(&rr)))?;
            let s = Option::<Scalar>::from(Scalar::from_repr(to_bytes(&s)))?;
            let w = Option::<Scalar>::from(s.invert())?;
            // u1·G + u2·Q; at infinity x1 reads 0, which never equals r ≠ 0.
            let (x1, _) = coordinates(&(g * (z * w) + q * (rr * w)));
            (!bool::from(rr.is_zero()) && reduce(&x1) == rr).then_some(())
        })()
        .is_some();
        let mut out = Out::default();
        out.word(r::OUT_RESULT, if valid { 0 } else { 1 });
        Ok(out.0)
    }

    /// START with EN = 1 and not BUSY: read the operands and schedule the end.
    fn start(&mut self) {
        let mode = (self.cr & CR_MODE_MASK) >> CR_MODE_SHIFT;
        let run = match mode {
            mode::POINT_CHECK => Some((cycles::POINT_CHECK, self.point_check())),
            mode::ECC_MUL => Some((cycles::ECC_MUL, self.ecc_mul())),
            mode::ECC_MUL_FAST => Some((cycles::ECC_MUL_FAST, self.ecc_mul())),
            mode::ECDSA_SIGN => Some((cycles::ECDSA_SIGN, self.ecdsa_sign())),
            mode::ECDSA_VERIFY => Some((cycles::ECDSA_VERIFY, self.ecdsa_verify())),
            _ => None,
        };
        let (cycles, writes, refused) = match run {
            Some((cycles, Ok(writes))) => (cycles, writes, false),
            Some((_, Err(why))) => (cycles::ABORT, self.refuse(mode, why), true),
            None => {
                let why = match mode {
                    mode::MODULAR_EXP..=mode::MODULAR_EXP_FAST
                    | mode::RSA_CRT_EXP..=mode::MONTGOMERY_MUL => Refusal::Unimplemented(mode),
                    _ => Refusal::Reserved(mode),
                };
                (cycles::ABORT, self.refuse(mode, why), true)
            }
        };
        debug!(target: "wb::pka", mode = format_args!("{mode:#04x}"), cycles, refused, "start");
        self.flags &= !SR_PROCENDF;
        self.op = Some(Op {
            mode,
            cycles_left: cycles,
            seg_start: self.now,
            done_at: self.now + cycles_to_picos(cycles, self.hz),
            writes,
            refused,
        });
    }

    /// Trace a refusal and return the failure output to write, if the operation has one.
    fn refuse(&mut self, mode: u32, why: Refusal) -> Writes {
        self.warn_once(1 << (WARN_REFUSAL + why.kind()), || {
            warn!(target: "wb::pka", mode = format_args!("{mode:#04x}"), reason = ?why,
                "operation refused (only NIST P-256 ECC operations are modelled): \
                 aborted with ADDRERRF");
        });
        debug!(target: "wb::pka", mode = format_args!("{mode:#04x}"), reason = ?why, "refused");
        let mut out = Out::default();
        match (mode, why) {
            (_, Refusal::Reserved(_) | Refusal::Unimplemented(_)) => {}
            (mode::ECDSA_VERIFY, _) => out.word(ram::ecdsa_verify::OUT_RESULT, REFUSED),
            (mode::POINT_CHECK, _) => out.word(ram::point_check::OUT_ERROR, REFUSED),
            (mode::ECDSA_SIGN, _) => out.word(ram::ecdsa_sign::OUT_ERROR, REFUSED),
            _ => {}
        }
        out.0
    }

    fn write_cr(&mut self, value: u32) {
        let reserved = value & !(CR_STORED | CR_START);
        if reserved != 0 {
            self.warn_once(WARN_RESERVED_BITS, || {
                warn!(target: "wb::pka", bits = format_args!("{reserved:#x}"),
                    "reserved PKA_CR bits written: ignored");
            });
        }
        self.cr = value & CR_STORED;
        if self.cr & CR_EN == 0 {
            // EN = 0 keeps the PKA in reset and aborts an operation in progress.
            if let Some(op) = self.op.take() {
                debug!(target: "wb::pka", mode = format_args!("{:#04x}", op.mode),
                    "EN cleared: operation aborted");
            }
            if value & CR_START != 0 {
                self.warn_once(WARN_START_DISABLED, || {
                    warn!(target: "wb::pka", "START with EN = 0: ignored (PKA held in reset)");
                });
            }
        } else if value & CR_START != 0 && !self.busy() {
            self.start();
        }
    }

    fn ram_access(&mut self, off: u32) -> Option<usize> {
        if self.busy() {
            // §26.3.7: reads return 0, writes are ignored, RAMERRF is set.
            self.flags |= SR_RAMERRF;
            self.warn_once(WARN_RAM_BUSY, || {
                warn!(target: "wb::pka", offset = format_args!("{off:#x}"),
                    "PKA RAM accessed while BUSY: RAMERRF");
            });
            None
        } else {
            Some(index(off))
        }
    }

    fn unmapped(&mut self, off: u32) {
        self.flags |= SR_ADDRERRF;
        self.warn_once(WARN_UNMAPPED, || {
            warn!(target: "wb::pka", offset = format_args!("{off:#x}"),
                "unmapped PKA address accessed: ADDRERRF");
        });
    }
}

impl Peripheral for Pka {
    fn name(&self) -> &'static str {
        "pka"
    }

    fn size(&self) -> u32 {
        0x2000
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        self.advance(access.now);
        let off = offset & !3;
        let value = match off {
            reg::CR => self.cr,
            reg::SR => self.sr(),
            // "Reading PKA_CLRFR returns all 0s."
            reg::CLRFR => 0,
            _ if (reg::RAM..reg::RAM_END).contains(&off) => match self.ram_access(off) {
                Some(i) => self.ram[i],
                None => 0,
            },
            _ if off < self.size() => {
                self.unmapped(off);
                0
            }
            _ => return Err(BusError::Unmapped),
        };
        Ok(narrow_read(value, offset, access.width))
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        self.advance(access.now);
        if offset >= self.size() {
            return Err(BusError::Unmapped);
        }
        if access.width != Width::Word {
            self.warn_once(WARN_WIDTH, || {
                warn!(target: "wb::pka", offset = format_args!("{offset:#x}"),
                    width = ?access.width, "non-word write: AHB bus error, write ignored");
            });
            return Err(BusError::Width);
        }
        match offset {
            reg::CR => self.write_cr(value),
            reg::SR => self.warn_once(WARN_SR_WRITE, || {
                warn!(target: "wb::pka", "PKA_SR is read-only: write ignored");
            }),
            reg::CLRFR => {
                let reserved = value & !CLRFR_ALL;
                if reserved != 0 {
                    self.warn_once(WARN_RESERVED_BITS, || {
                        warn!(target: "wb::pka", bits = format_args!("{reserved:#x}"),
                            "reserved PKA_CLRFR bits written: ignored");
                    });
                }
                // The clear bits sit at the positions of the flags they clear.
                self.flags &= !(value & CLRFR_ALL);
            }
            _ if (reg::RAM..reg::RAM_END).contains(&offset) => {
                if let Some(i) = self.ram_access(offset) {
                    self.ram[i] = value;
                }
            }
            _ => self.unmapped(offset),
        }
        Ok(())
    }

    fn reset(&mut self, kind: ResetKind) {
        let ram = match kind {
            ResetKind::PowerOn => vec![0; RAM_WORDS].into_boxed_slice(),
            ResetKind::System | ResetKind::OptionLoad => std::mem::take(&mut self.ram),
        };
        *self = Pka {
            ram,
            hz: self.hz,
            now: self.now,
            warned: self.warned,
            ..Pka::new()
        };
    }

    fn next_event(&self) -> Option<Picos> {
        self.op.as_ref().map(|op| op.done_at)
    }

    fn advance(&mut self, now: Picos) {
        self.now = self.now.max(now);
        if self.op.as_ref().is_some_and(|op| op.done_at <= self.now) {
            if let Some(op) = self.op.take() {
                for (i, v) in op.writes {
                    if let Some(w) = self.ram.get_mut(i) {
                        *w = v;
                    }
                }
                self.flags |= SR_PROCENDF;
                if op.refused {
                    self.flags |= SR_ADDRERRF;
                }
                debug!(target: "wb::pka", mode = format_args!("{:#04x}", op.mode), "end");
            }
        }
    }

    fn set_clock_hz(&mut self, hz: u64) {
        if hz == 0 {
            self.warn_once(WARN_CLOCK, || {
                warn!(target: "wb::pka", "clock of 0 Hz ignored");
            });
            return;
        }
        let (old, now) = (self.hz, self.now);
        self.hz = hz;
        if let Some(op) = self.op.as_mut() {
            // Count the cycles run at the old frequency, the rest at the new one.
            let elapsed = now.saturating_sub(op.seg_start) as u128 * old as u128;
            let done = u64::try_from(elapsed / PICOS_PER_SECOND).unwrap_or(u64::MAX);
            op.cycles_left = op.cycles_left.saturating_sub(done);
            op.seg_start = now;
            op.done_at = now + cycles_to_picos(op.cycles_left, hz);
        }
    }

    fn irq_lines(&self) -> u32 {
        let sources = [
            (SR_PROCENDF, CR_PROCENDIE),
            (SR_RAMERRF, CR_RAMERRIE),
            (SR_ADDRERRF, CR_ADDRERRIE),
        ];
        let pending = sources
            .iter()
            .any(|&(flag, enable)| self.flags & flag != 0 && self.cr & enable != 0);
        pending as u32
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoreId;
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    use sha2::{Digest, Sha256};

    fn at(now: Picos, width: Width) -> Access {
        Access {
            core: CoreId::Cpu1,
            width,
            now,
        }
    }

    fn wr(p: &mut Pka, off: u32, v: u32) {
        let now = p.now;
        p.write(off, v, at(now, Width::Word)).unwrap();
    }

    fn rd(p: &mut Pka, off: u32) -> u32 {
        let now = p.now;
        p.read(off, at(now, Width::Word)).unwrap()
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // NIST P-256 domain parameters (FIPS 186-4 D.1.2.3), big-endian.
    const P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
    const A_ABS_POSITIVE: &str = "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc";
    const B: &str = "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b";
    const N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const GX: &str = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
    const GY: &str = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    // secp256k1's prime, a curve the model cannot compute on.
    const P_K1: &str = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f";

    // RFC 6979 A.2.5 (P-256, SHA-256).
    const RFC_D: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
    const RFC_UX: &str = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
    const RFC_UY: &str = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
    /// (message, k, r, s)
    const RFC_SIGS: [(&str, &str, &str, &str); 2] = [
        (
            "sample",
            "a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60",
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
            "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
        ),
        (
            "test",
            "d16b6ae827f17175e040871a1c7ec3500192c4c92677336ec2537acaee0008e0",
            "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367",
            "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083",
        ),
    ];

    /// NIST CAVP 186-4 SigGen.txt, [P-256,SHA-256], first vector (hash of Msg given).
    struct Nist {
        d: &'static str,
        qx: &'static str,
        qy: &'static str,
        k: &'static str,
        e: &'static str,
        r: &'static str,
        s: &'static str,
    }
    const NIST: Nist = Nist {
        d: "519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464",
        qx: "1ccbe91c075fc7f4f033bfa248db8fccd3565de94bbfb12f3c59ff46c271bf83",
        qy: "ce4014c68811f9a21a1fdb2c0e6113e06db7ca93b7404e78dc7ccd5ca89a4ca9",
        k: "94a1bbb14b906a61a280f245f9e93c7f3b4a6247824f5d33b9670787642a68de",
        e: "44acf6b7e36c1342c2c5897204fe09504e1e2efb1a900377dbc4e7a6a133ec56",
        r: "f3ac8061b514795b8843e3d6629527ed2afd6b1f6a555a7acabb5e6f79c8c2ac",
        s: "8bf77819ca05a6b2786c76262bf7371cef97b218e96f175a3ccdda2acc058903",
    };

    fn sha256(msg: &str) -> Vec<u8> {
        Sha256::digest(msg.as_bytes()).to_vec()
    }

    /// HAL PKA_Memcpy_u8_to_u32 (bytes reversed into words, least significant word first)
    /// followed by __PKA_RAM_PARAM_END (one zero word).
    fn hal_operand(p: &mut Pka, off: u32, be: &[u8]) {
        let n = be.len();
        assert_eq!(n % 4, 0);
        for i in 0..n / 4 {
            let w = u32::from_be_bytes(be[n - 4 * i - 4..n - 4 * i].try_into().unwrap());
            wr(p, off + 4 * i as u32, w);
        }
        wr(p, off + n as u32, 0);
    }

    /// HAL PKA_GetOptBitSize_u8: bit length from the byte count and the leading byte.
    fn opt_bits(be: &[u8]) -> u32 {
        (be.len() as u32 - 1) * 8 + (8 - be[0].leading_zeros())
    }

    /// HAL PKA_ECDSAVerif_Set with the P-256 domain parameters (a as p - 3, sign 0).
    fn hal_verify_set(p: &mut Pka, qx: &[u8], qy: &[u8], r: &[u8], s: &[u8], hash: &[u8]) {
        use ram::ecdsa_verify as v;
        let (n, m) = (hex(N), hex(P));
        wr(p, v::ORDER_NB_BITS, opt_bits(&n));
        wr(p, v::MOD_NB_BITS, opt_bits(&m));
        wr(p, v::A_COEFF_SIGN, 0);
        hal_operand(p, v::A_COEFF, &hex(A_ABS_POSITIVE));
        hal_operand(p, v::MOD_GF, &m);
        hal_operand(p, v::POINT_X, &hex(GX));
        hal_operand(p, v::POINT_Y, &hex(GY));
        hal_operand(p, v::PUBLIC_KEY_X, qx);
        hal_operand(p, v::PUBLIC_KEY_Y, qy);
        hal_operand(p, v::SIGNATURE_R, r);
        hal_operand(p, v::SIGNATURE_S, s);
        hal_operand(p, v::HASH_E, hash);
        hal_operand(p, v::ORDER_N, &n);
    }

    /// HAL PKA_ECDSASign_Set.
    fn hal_sign_set(p: &mut Pka, k: &[u8], hash: &[u8], d: &[u8]) {
        use ram::ecdsa_sign as g;
        let (n, m) = (hex(N), hex(P));
        wr(p, g::ORDER_NB_BITS, opt_bits(&n));
        wr(p, g::MOD_NB_BITS, opt_bits(&m));
        wr(p, g::A_COEFF_SIGN, 0);
        hal_operand(p, g::A_COEFF, &hex(A_ABS_POSITIVE));
        hal_operand(p, g::MOD_GF, &m);
        hal_operand(p, g::K, k);
        hal_operand(p, g::POINT_X, &hex(GX));
        hal_operand(p, g::POINT_Y, &hex(GY));
        hal_operand(p, g::HASH_E, hash);
        hal_operand(p, g::PRIVATE_KEY_D, d);
        hal_operand(p, g::ORDER_N, &n);
    }

    /// HAL PKA_PointCheck_Set with a = -3 as sign 1, |a| = 3.
    fn hal_point_check_set(p: &mut Pka, x: &[u8], y: &[u8]) {
        use ram::point_check as c;
        let m = hex(P);
        let mut a = vec![0u8; 32];
        a[31] = 3;
        wr(p, c::MOD_NB_BITS, opt_bits(&m));
        wr(p, c::A_COEFF_SIGN, 1);
        hal_operand(p, c::A_COEFF, &a);
        hal_operand(p, c::B_COEFF, &hex(B));
        hal_operand(p, c::MOD_GF, &m);
        hal_operand(p, c::POINT_X, x);
        hal_operand(p, c::POINT_Y, y);
    }

    /// HAL PKA_ECCMul_Set (k given with its optimal bit length).
    fn hal_ecc_mul_set(p: &mut Pka, k: &[u8], x: &[u8], y: &[u8]) {
        use ram::ecc_mul as e;
        let m = hex(P);
        wr(p, e::EXP_NB_BITS, opt_bits(k));
        wr(p, e::OP_NB_BITS, opt_bits(&m));
        wr(p, e::A_COEFF_SIGN, 0);
        hal_operand(p, e::A_COEFF, &hex(A_ABS_POSITIVE));
        hal_operand(p, e::MOD_GF, &m);
        let mut kk = k.to_vec();
        while !kk.len().is_multiple_of(4) {
            kk.insert(0, 0);
        }
        hal_operand(p, e::K, &kk);
        hal_operand(p, e::POINT_X, x);
        hal_operand(p, e::POINT_Y, y);
    }

    /// A PKA enabled the way HAL_PKA_Init does it.
    fn enabled() -> Pka {
        let mut p = Pka::new();
        wr(&mut p, reg::CR, CR_EN);
        wr(&mut p, reg::CLRFR, CLRFR_ALL);
        p
    }

    /// HAL PKA_Process: MODIFY_REG(CR, MODE | IEs, mode), CR |= START, poll PROCENDF. Returns
    /// the computation time.
    fn process(p: &mut Pka, mode: u32) -> Picos {
        let cr = rd(p, reg::CR);
        let keep = cr & !(CR_MODE_MASK | CR_PROCENDIE | CR_RAMERRIE | CR_ADDRERRIE);
        wr(p, reg::CR, keep | (mode << CR_MODE_SHIFT));
        let cr = rd(p, reg::CR);
        let t0 = p.now;
        wr(p, reg::CR, cr | CR_START);
        assert_ne!(rd(p, reg::SR) & SR_BUSY, 0);
        let end = p.next_event().expect("operation scheduled");
        p.advance(end);
        assert_eq!(rd(p, reg::SR) & (SR_BUSY | SR_PROCENDF), SR_PROCENDF);
        end - t0
    }

    /// HAL_PKA_ECDSAVerif + HAL_PKA_ECDSAVerif_IsValidSignature. Also returns ADDRERRF.
    fn verify(p: &mut Pka, qx: &[u8], qy: &[u8], r: &[u8], s: &[u8], e: &[u8]) -> (u32, bool) {
        hal_verify_set(p, qx, qy, r, s, e);
        process(p, mode::ECDSA_VERIFY);
        let result = rd(p, ram::ecdsa_verify::OUT_RESULT);
        let addrerr = rd(p, reg::SR) & SR_ADDRERRF != 0;
        wr(p, reg::CLRFR, CLRFR_ALL);
        (result, addrerr)
    }

    /// Read an EOS operand back as big-endian bytes (HAL PKA_Memcpy_u32_to_u8).
    fn read_operand(p: &mut Pka, off: u32) -> Vec<u8> {
        let mut be = vec![0u8; 32];
        for i in 0..8 {
            let w = rd(p, off + 4 * i as u32);
            be[28 - 4 * i..32 - 4 * i].copy_from_slice(&w.to_be_bytes());
        }
        assert_eq!(rd(p, off + 32), 0, "zero word after the operand");
        be
    }

    #[test]
    fn reset_values_match_rm0434() {
        let mut p = Pka::new();
        assert_eq!(p.name(), "pka");
        assert_eq!(p.size(), 0x2000);
        assert_eq!(rd(&mut p, reg::CR), 0);
        assert_eq!(rd(&mut p, reg::SR), 0);
        assert_eq!(rd(&mut p, reg::CLRFR), 0);
        assert_eq!(rd(&mut p, reg::RAM), 0);
        assert_eq!(rd(&mut p, reg::RAM_END - 4), 0);
        assert_eq!(reg::RAM_END, 0x11F8, "894 words, last at 0x11F4");
        assert_eq!((p.irq_lines(), p.next_event()), (0, None));
    }

    #[test]
    fn curve_constants_are_p256() {
        use p256::elliptic_curve::bigint::Encoding;
        use p256::elliptic_curve::Curve;
        let n = p256::NistP256::ORDER.to_be_bytes();
        assert_eq!(to_words(&n), P256_N);
        assert_eq!(to_words(&hex(N)), P256_N);
        assert_eq!(to_words(&hex(P)), P256_P);
        assert_eq!(to_words(&hex(A_ABS_POSITIVE)), P256_A_POSITIVE);
        assert_eq!(to_words(&hex(B)), P256_B);
        let g = AffinePoint::GENERATOR.to_encoded_point(false);
        assert_eq!(
            (g.x().unwrap().to_vec(), g.y().unwrap().to_vec()),
            (hex(GX), hex(GY))
        );
        // The crate's G satisfies y² = x³ + (p - 3)·x + b mod p with our p, a and b.
        let u = |w: &Words| U256::from_be_slice(&to_bytes(w));
        let (p, a, b) = (u(&P256_P), u(&P256_A_POSITIVE), u(&P256_B));
        let mul = |x: &U256, y: &U256| U256::const_rem_wide(x.mul_wide(y), &p).0;
        let (x, y) = (U256::from_be_slice(&hex(GX)), U256::from_be_slice(&hex(GY)));
        let rhs = mul(&mul(&x, &x), &x)
            .add_mod(&mul(&a, &x), &p)
            .add_mod(&b, &p);
        assert_eq!(mul(&y, &y), rhs);
    }

    #[test]
    fn ecdsa_verify_accepts_valid_signatures() {
        let mut p = enabled();
        for (msg, _k, r, s) in RFC_SIGS {
            let e = sha256(msg);
            // The vectors are valid for the p256 crate too.
            let key = VerifyingKey::from_encoded_point(&EncodedPoint::from_affine_coordinates(
                hex(RFC_UX).as_slice().into(),
                hex(RFC_UY).as_slice().into(),
                false,
            ))
            .unwrap();
            let sig = Signature::from_scalars(
                *FieldBytes::from_slice(&hex(r)),
                *FieldBytes::from_slice(&hex(s)),
            )
            .unwrap();
            key.verify_prehash(&e, &sig).unwrap();
            let got = verify(&mut p, &hex(RFC_UX), &hex(RFC_UY), &hex(r), &hex(s), &e);
            assert_eq!(got, (0, false), "{msg}");
        }
        let got = verify(
            &mut p,
            &hex(NIST.qx),
            &hex(NIST.qy),
            &hex(NIST.r),
            &hex(NIST.s),
            &hex(NIST.e),
        );
        assert_eq!(got, (0, false));
    }

    #[test]
    fn ecdsa_verify_rejects_bad_signatures() {
        let mut p = enabled();
        let (_, _, r, s) = RFC_SIGS[0];
        let (qx, qy, r, s, e) = (hex(RFC_UX), hex(RFC_UY), hex(r), hex(s), sha256("sample"));
        let flip = |v: &[u8]| {
            let mut v = v.to_vec();
            v[31] ^= 1;
            v
        };
        // Wrong r, wrong s, wrong hash.
        assert_eq!(verify(&mut p, &qx, &qy, &flip(&r), &s, &e), (1, false));
        assert_eq!(verify(&mut p, &qx, &qy, &r, &flip(&s), &e), (1, false));
        assert_eq!(
            verify(&mut p, &qx, &qy, &r, &s, &sha256("Sample")),
            (1, false)
        );
        // Another key's valid signature.
        let (nr, ns, ne) = (hex(NIST.r), hex(NIST.s), hex(NIST.e));
        assert_eq!(verify(&mut p, &qx, &qy, &nr, &ns, &ne), (1, false));
        // Public key not on the curve.
        assert_eq!(verify(&mut p, &qx, &flip(&qy), &r, &s, &e), (1, false));
        // r = 0, s = n, r = n + small: outside [1, n-1].
        let zero = vec![0u8; 32];
        assert_eq!(verify(&mut p, &qx, &qy, &zero, &s, &e), (1, false));
        assert_eq!(verify(&mut p, &qx, &qy, &r, &hex(N), &e), (1, false));
        assert_eq!(verify(&mut p, &qx, &qy, &r, &zero, &e), (1, false));
        // And the valid one still passes on the same PKA.
        assert_eq!(verify(&mut p, &qx, &qy, &r, &s, &e), (0, false));
    }

    #[test]
    fn ecdsa_sign_with_known_k_gives_the_rfc6979_signature() {
        let mut p = enabled();
        for (msg, k, r, s) in RFC_SIGS {
            hal_sign_set(&mut p, &hex(k), &sha256(msg), &hex(RFC_D));
            let t = process(&mut p, mode::ECDSA_SIGN);
            assert_eq!(t, cycles_to_picos(cycles::ECDSA_SIGN, DEFAULT_CLOCK_HZ));
            assert_eq!(rd(&mut p, ram::ecdsa_sign::OUT_ERROR), 0, "{msg}");
            assert_eq!(
                read_operand(&mut p, ram::ecdsa_sign::OUT_SIGNATURE_R),
                hex(r)
            );
            assert_eq!(
                read_operand(&mut p, ram::ecdsa_sign::OUT_SIGNATURE_S),
                hex(s)
            );
            // Extended output: kG.
            let kg = (ProjectivePoint::GENERATOR * reduce(&to_words(&hex(k))))
                .to_affine()
                .to_encoded_point(false);
            assert_eq!(
                read_operand(&mut p, ram::ecdsa_sign::OUT_FINAL_POINT_X),
                kg.x().unwrap().to_vec()
            );
            assert_eq!(
                read_operand(&mut p, ram::ecdsa_sign::OUT_FINAL_POINT_Y),
                kg.y().unwrap().to_vec()
            );
            assert_eq!(rd(&mut p, reg::SR) & SR_ADDRERRF, 0);
            wr(&mut p, reg::CLRFR, CLRFR_PROCENDFC);
        }
        hal_sign_set(&mut p, &hex(NIST.k), &hex(NIST.e), &hex(NIST.d));
        process(&mut p, mode::ECDSA_SIGN);
        assert_eq!(
            read_operand(&mut p, ram::ecdsa_sign::OUT_SIGNATURE_R),
            hex(NIST.r)
        );
        assert_eq!(
            read_operand(&mut p, ram::ecdsa_sign::OUT_SIGNATURE_S),
            hex(NIST.s)
        );
    }

    #[test]
    fn ecdsa_sign_reports_r_zero() {
        let mut p = enabled();
        // k = 0 and k = n: kG is the point at infinity, so r = 0 (Table 160 error 1).
        for k in [vec![0u8; 32], hex(N)] {
            hal_sign_set(&mut p, &k, &sha256("sample"), &hex(RFC_D));
            process(&mut p, mode::ECDSA_SIGN);
            assert_eq!(rd(&mut p, ram::ecdsa_sign::OUT_ERROR), 1);
            assert_eq!(
                rd(&mut p, reg::SR) & SR_ADDRERRF,
                0,
                "a result, not a refusal"
            );
        }
    }

    #[test]
    fn point_check_true_and_false() {
        let mut p = enabled();
        let check = |p: &mut Pka, x: &[u8], y: &[u8]| {
            hal_point_check_set(p, x, y);
            let t = process(p, mode::POINT_CHECK);
            assert_eq!(t, cycles_to_picos(cycles::POINT_CHECK, DEFAULT_CLOCK_HZ));
            rd(p, ram::point_check::OUT_ERROR)
        };
        assert_eq!(check(&mut p, &hex(GX), &hex(GY)), 0);
        assert_eq!(check(&mut p, &hex(RFC_UX), &hex(RFC_UY)), 0);
        assert_eq!(check(&mut p, &hex(NIST.qx), &hex(NIST.qy)), 0);
        let mut y = hex(GY);
        y[0] ^= 0x80;
        assert_eq!(check(&mut p, &hex(GX), &y), 1);
        assert_eq!(check(&mut p, &[0; 32], &[0; 32]), 1);
        // Coordinates ≥ p are not on the curve.
        assert_eq!(check(&mut p, &hex(P), &hex(GY)), 1);
        assert_eq!(rd(&mut p, reg::SR) & SR_ADDRERRF, 0);
    }

    #[test]
    fn ecc_scalar_multiplication() {
        let mut p = enabled();
        // d·G is the RFC 6979 public key, in normal and fast mode.
        for (m, c) in [
            (mode::ECC_MUL, cycles::ECC_MUL),
            (mode::ECC_MUL_FAST, cycles::ECC_MUL_FAST),
        ] {
            hal_ecc_mul_set(&mut p, &hex(RFC_D), &hex(GX), &hex(GY));
            let t = process(&mut p, m);
            assert_eq!(t, cycles_to_picos(c, DEFAULT_CLOCK_HZ));
            assert_eq!(
                read_operand(&mut p, ram::ecc_mul::OUT_RESULT_X),
                hex(RFC_UX)
            );
            assert_eq!(
                read_operand(&mut p, ram::ecc_mul::OUT_RESULT_Y),
                hex(RFC_UY)
            );
        }
        // A short scalar (k = 2, two bits): 2·Q. Stale RAM above the scalar is ignored.
        wr(&mut p, ram::ecc_mul::K + 8, 0xDEAD_BEEF);
        hal_ecc_mul_set(&mut p, &[2], &hex(RFC_UX), &hex(RFC_UY));
        wr(&mut p, ram::ecc_mul::K + 8, 0xDEAD_BEEF);
        process(&mut p, mode::ECC_MUL);
        let q = point(&to_words(&hex(RFC_UX)), &to_words(&hex(RFC_UY))).unwrap();
        let two_q = (ProjectivePoint::from(q) + ProjectivePoint::from(q))
            .to_affine()
            .to_encoded_point(false);
        assert_eq!(
            read_operand(&mut p, ram::ecc_mul::OUT_RESULT_X),
            two_q.x().unwrap().to_vec()
        );
        // k = n: the point at infinity, (0, 0) for a curve with b ≠ 0 (§26.4.15).
        hal_ecc_mul_set(&mut p, &hex(N), &hex(GX), &hex(GY));
        process(&mut p, mode::ECC_MUL);
        assert_eq!(
            read_operand(&mut p, ram::ecc_mul::OUT_RESULT_X),
            vec![0; 32]
        );
        assert_eq!(
            read_operand(&mut p, ram::ecc_mul::OUT_RESULT_Y),
            vec![0; 32]
        );
        assert_eq!(rd(&mut p, reg::SR) & SR_ADDRERRF, 0);
    }

    #[test]
    fn timing_follows_the_pka_clock() {
        let (qx, qy) = (hex(RFC_UX), hex(RFC_UY));
        let (_, _, r, s) = RFC_SIGS[0];
        let mut p = enabled();
        p.advance(1_000);
        hal_verify_set(&mut p, &qx, &qy, &hex(r), &hex(s), &sha256("sample"));
        wr(
            &mut p,
            reg::CR,
            CR_EN | (mode::ECDSA_VERIFY << CR_MODE_SHIFT) | CR_PROCENDIE,
        );
        wr(
            &mut p,
            reg::CR,
            CR_EN | (mode::ECDSA_VERIFY << CR_MODE_SHIFT) | CR_PROCENDIE | CR_START,
        );
        // 10 498 000 cycles at 4 MHz = 2.6245 s.
        let end = 1_000 + 10_498_000 * 250_000;
        assert_eq!(p.next_event(), Some(end));
        assert_eq!(rd(&mut p, reg::CR) & CR_START, 0, "START reads 0");
        p.advance(end - 1);
        assert_eq!(rd(&mut p, reg::SR), SR_BUSY);
        assert_eq!(p.irq_lines(), 0);
        p.advance(end);
        assert_eq!(rd(&mut p, reg::SR), SR_PROCENDF);
        assert_eq!(p.irq_lines(), 1);
        assert_eq!(rd(&mut p, ram::ecdsa_verify::OUT_RESULT), 0);
        wr(&mut p, reg::CLRFR, CLRFR_PROCENDFC);
        assert_eq!((rd(&mut p, reg::SR), p.irq_lines()), (0, 0));

        // At 64 MHz: 164.03125 ms. A clock change mid-way counts the cycles already run.
        p.set_clock_hz(64_000_000);
        hal_point_check_set(&mut p, &hex(GX), &hex(GY));
        assert_eq!(process(&mut p, mode::POINT_CHECK), 20_400 * 15_625);
        let t0 = p.now;
        hal_verify_set(&mut p, &qx, &qy, &hex(r), &hex(s), &sha256("sample"));
        let t0 = t0.max(p.now);
        wr(
            &mut p,
            reg::CR,
            CR_EN | (mode::ECDSA_VERIFY << CR_MODE_SHIFT) | CR_START,
        );
        assert_eq!(p.next_event(), Some(t0 + 10_498_000 * 15_625));
        let half = t0 + 5_249_000 * 15_625;
        p.advance(half);
        p.set_clock_hz(32_000_000);
        assert_eq!(p.next_event(), Some(half + 5_249_000 * 31_250));
    }

    #[test]
    fn ram_access_while_busy_sets_ramerrf() {
        let mut p = enabled();
        hal_point_check_set(&mut p, &hex(GX), &hex(GY));
        wr(&mut p, ram::point_check::OUT_ERROR, 0x5555);
        wr(
            &mut p,
            reg::CR,
            CR_EN | (mode::POINT_CHECK << CR_MODE_SHIFT) | CR_RAMERRIE | CR_START,
        );
        assert_eq!(rd(&mut p, ram::point_check::POINT_X), 0, "reads return 0");
        assert_eq!(rd(&mut p, reg::SR), SR_BUSY | SR_RAMERRF);
        assert_eq!(p.irq_lines(), 1);
        wr(&mut p, ram::point_check::POINT_X, 0x1234);
        // START while busy is ignored.
        wr(
            &mut p,
            reg::CR,
            CR_EN | (mode::ECDSA_VERIFY << CR_MODE_SHIFT) | CR_START,
        );
        let end = p.next_event().unwrap();
        p.advance(end);
        assert_eq!(rd(&mut p, reg::SR), SR_PROCENDF | SR_RAMERRF);
        assert_eq!(rd(&mut p, ram::point_check::OUT_ERROR), 0, "on the curve");
        assert_eq!(
            rd(&mut p, ram::point_check::POINT_X),
            to_words(&hex(GX))[0],
            "write ignored"
        );
        assert_eq!(
            p.irq_lines(),
            0,
            "RAMERRIE was cleared by the last CR write"
        );
        wr(&mut p, reg::CLRFR, CLRFR_RAMERRFC);
        assert_eq!(rd(&mut p, reg::SR), SR_PROCENDF);
    }

    #[test]
    fn unsupported_modes_abort_with_the_error_flag() {
        for m in [
            mode::ARITHMETIC_MUL,
            mode::MONTGOMERY_PARAM,
            0x03,
            0x27,
            0x3F,
        ] {
            let mut p = enabled();
            wr(&mut p, ram::ecdsa_verify::OUT_RESULT, 0x77);
            wr(
                &mut p,
                reg::CR,
                CR_EN | (m << CR_MODE_SHIFT) | CR_ADDRERRIE | CR_START,
            );
            // Busy for a couple of cycles (4 AHB cycles at 4 MHz = 1 us), then aborted.
            assert_eq!(p.next_event(), Some(1_000_000));
            assert_eq!(rd(&mut p, reg::SR), SR_BUSY);
            p.advance(1_000_000);
            assert_eq!(
                rd(&mut p, reg::SR),
                SR_PROCENDF | SR_ADDRERRF,
                "mode {m:#x}"
            );
            assert_eq!(p.irq_lines(), 1);
            assert_eq!(
                rd(&mut p, ram::ecdsa_verify::OUT_RESULT),
                0x77,
                "RAM not written"
            );
        }
    }

    #[test]
    fn foreign_curves_and_malformed_operands_are_refused() {
        let (_, _, r, s) = RFC_SIGS[0];
        let (qx, qy, r, s, e) = (hex(RFC_UX), hex(RFC_UY), hex(r), hex(s), sha256("sample"));
        type Spoil = fn(&mut Pka);
        let cases: [(&str, Spoil); 8] = [
            ("secp256k1 prime", |p| {
                hal_operand(p, ram::ecdsa_verify::MOD_GF, &hex(P_K1))
            }),
            ("order bits 255", |p| {
                wr(p, ram::ecdsa_verify::ORDER_NB_BITS, 255)
            }),
            ("modulus bits huge", |p| {
                wr(p, ram::ecdsa_verify::MOD_NB_BITS, u32::MAX)
            }),
            ("a sign 2", |p| wr(p, ram::ecdsa_verify::A_COEFF_SIGN, 2)),
            ("a = -3 given as +3", |p| {
                let mut a = vec![0; 32];
                a[31] = 3;
                hal_operand(p, ram::ecdsa_verify::A_COEFF, &a);
            }),
            ("other order", |p| {
                let mut n = hex(N);
                n[31] ^= 2;
                hal_operand(p, ram::ecdsa_verify::ORDER_N, &n);
            }),
            ("no zero word after r", |p| {
                wr(p, ram::ecdsa_verify::SIGNATURE_R + 32, 1)
            }),
            ("G not on the curve", |p| {
                hal_operand(p, ram::ecdsa_verify::POINT_Y, &hex(RFC_UY))
            }),
        ];
        for (what, spoil) in cases {
            let mut p = enabled();
            hal_verify_set(&mut p, &qx, &qy, &r, &s, &e);
            spoil(&mut p);
            let t = process(&mut p, mode::ECDSA_VERIFY);
            assert_eq!(
                t,
                cycles_to_picos(cycles::ABORT, DEFAULT_CLOCK_HZ),
                "{what}"
            );
            assert_eq!(rd(&mut p, ram::ecdsa_verify::OUT_RESULT), REFUSED, "{what}");
            assert_ne!(rd(&mut p, reg::SR) & SR_ADDRERRF, 0, "{what}");
        }
        // The negative representation of a (sign 1, |a| = 3) is P-256 too.
        let mut p = enabled();
        hal_verify_set(&mut p, &qx, &qy, &r, &s, &e);
        wr(&mut p, ram::ecdsa_verify::A_COEFF_SIGN, 1);
        let mut a = vec![0; 32];
        a[31] = 3;
        hal_operand(&mut p, ram::ecdsa_verify::A_COEFF, &a);
        process(&mut p, mode::ECDSA_VERIFY);
        assert_eq!(rd(&mut p, ram::ecdsa_verify::OUT_RESULT), 0);

        // Point check with another b; sign and scalar multiplication on another prime.
        let mut p = enabled();
        hal_point_check_set(&mut p, &hex(GX), &hex(GY));
        hal_operand(&mut p, ram::point_check::B_COEFF, &[7; 32]);
        process(&mut p, mode::POINT_CHECK);
        assert_eq!(rd(&mut p, ram::point_check::OUT_ERROR), REFUSED);
        assert_ne!(rd(&mut p, reg::SR) & SR_ADDRERRF, 0);
        let mut p = enabled();
        hal_sign_set(&mut p, &hex(RFC_SIGS[0].1), &e, &hex(RFC_D));
        hal_operand(&mut p, ram::ecdsa_sign::MOD_GF, &hex(P_K1));
        process(&mut p, mode::ECDSA_SIGN);
        assert_eq!(rd(&mut p, ram::ecdsa_sign::OUT_ERROR), REFUSED);
        assert_ne!(rd(&mut p, reg::SR) & SR_ADDRERRF, 0);
        let mut p = enabled();
        hal_ecc_mul_set(&mut p, &hex(RFC_D), &hex(GX), &hex(GY));
        wr(&mut p, ram::ecc_mul::EXP_NB_BITS, 641);
        process(&mut p, mode::ECC_MUL);
        assert_ne!(rd(&mut p, reg::SR) & SR_ADDRERRF, 0);
        assert_eq!(
            rd(&mut p, ram::ecc_mul::OUT_RESULT_X),
            to_words(&hex(GX))[0]
        );
    }

    #[test]
    fn en_low_holds_the_pka_in_reset() {
        let mut p = Pka::new();
        // RAM is accessible with EN = 0; START is ignored.
        hal_point_check_set(&mut p, &hex(GX), &hex(GY));
        wr(
            &mut p,
            reg::CR,
            (mode::POINT_CHECK << CR_MODE_SHIFT) | CR_START,
        );
        assert_eq!((rd(&mut p, reg::SR), p.next_event()), (0, None));
        assert_eq!(rd(&mut p, reg::CR), mode::POINT_CHECK << CR_MODE_SHIFT);
        // Clearing EN mid-operation aborts it: no PROCENDF, no result.
        wr(&mut p, ram::point_check::OUT_ERROR, 0x99);
        wr(
            &mut p,
            reg::CR,
            CR_EN | (mode::POINT_CHECK << CR_MODE_SHIFT) | CR_START,
        );
        assert_eq!(rd(&mut p, reg::SR), SR_BUSY);
        wr(&mut p, reg::CR, mode::POINT_CHECK << CR_MODE_SHIFT);
        assert_eq!((rd(&mut p, reg::SR), p.next_event()), (0, None));
        p.advance(1_000_000_000_000);
        assert_eq!(rd(&mut p, reg::SR), 0);
        assert_eq!(rd(&mut p, ram::point_check::OUT_ERROR), 0x99);
    }

    #[test]
    fn access_widths_and_unmapped_addresses() {
        let mut p = enabled();
        wr(&mut p, reg::RAM + 8, 0x1122_3344);
        // Narrow writes: bus error, ignored. Narrow reads: byte lanes.
        assert_eq!(
            p.write(reg::RAM + 8, 0xFF, at(0, Width::Byte)),
            Err(BusError::Width)
        );
        assert_eq!(
            p.write(reg::CR, 0, at(0, Width::Half)),
            Err(BusError::Width)
        );
        assert_eq!(rd(&mut p, reg::CR), CR_EN);
        assert_eq!(p.read(reg::RAM + 9, at(0, Width::Byte)), Ok(0x33));
        assert_eq!(p.read(reg::RAM + 10, at(0, Width::Half)), Ok(0x1122));
        // Unmapped offsets inside the window: ADDRERRF, read 0, no bus fault.
        wr(&mut p, reg::CR, CR_EN | CR_ADDRERRIE);
        assert_eq!(rd(&mut p, 0x00C), 0);
        assert_eq!(rd(&mut p, reg::SR), SR_ADDRERRF);
        assert_eq!(p.irq_lines(), 1);
        wr(&mut p, reg::CLRFR, CLRFR_ADDRERRFC);
        wr(&mut p, reg::RAM_END, 5);
        assert_eq!(rd(&mut p, reg::SR), SR_ADDRERRF);
        assert_eq!(rd(&mut p, reg::RAM_END), 0);
        wr(&mut p, reg::CLRFR, CLRFR_ADDRERRFC | 0x8000_0000);
        // SR is read-only.
        wr(&mut p, reg::SR, u32::MAX);
        assert_eq!(rd(&mut p, reg::SR), 0);
        assert_eq!(p.read(0x2000, at(0, Width::Word)), Err(BusError::Unmapped));
        // Reserved CR bits are dropped.
        wr(&mut p, reg::CR, !CR_START);
        assert_eq!(rd(&mut p, reg::CR), CR_STORED);
    }

    #[test]
    fn hostile_operands_do_not_panic() {
        for m in [
            mode::ECC_MUL,
            mode::ECC_MUL_FAST,
            mode::ECDSA_SIGN,
            mode::ECDSA_VERIFY,
            mode::POINT_CHECK,
        ] {
            for fill in [0u32, u32::MAX, 0x8000_0000, 256, 640] {
                let mut p = enabled();
                for off in (reg::RAM..reg::RAM_END).step_by(4) {
                    wr(&mut p, off, fill);
                }
                process(&mut p, m);
            }
        }
    }

    #[test]
    fn resets() {
        let mut p = enabled();
        wr(&mut p, reg::RAM, 42);
        wr(
            &mut p,
            reg::CR,
            CR_EN | (mode::POINT_CHECK << CR_MODE_SHIFT) | CR_START,
        );
        p.reset(ResetKind::System);
        assert_eq!((rd(&mut p, reg::CR), rd(&mut p, reg::SR)), (0, 0));
        assert_eq!(p.next_event(), None);
        assert_eq!(rd(&mut p, reg::RAM), 42, "system reset keeps PKA RAM");
        p.reset(ResetKind::PowerOn);
        assert_eq!(rd(&mut p, reg::RAM), 0);
    }
}
