//! True random number generator (RNG @ 0x5800_1000), RM0434 §24.
//!
//! The entropy source is replaced by a seeded deterministic generator (xoshiro256**, seeded
//! through SplitMix64), so a machine built with the same seed and driven the same way reads
//! the same numbers. The generator keeps running across resets, as a real noise source would
//! not repeat itself after a reset.
//!
//! Modelled (RM0434 §24.3-24.7):
//! - the 4-word output FIFO behind RNG_DR and the 128-bit conditioning output register: up to
//!   eight words can be read per refill; DRDY stays high while either holds data; RNG_DR reads
//!   0 when DRDY = 0;
//! - first data after enabling: 128 RNG clock cycles + 426 AHB cycles if f_AHB < f_threshold,
//!   192 RNG + 213 AHB cycles otherwise, f_threshold = 213·f_RNG/64 (§24.5);
//! - a conditioning round after the FIFO takes the conditioning register's words:
//!   max(16·f_AHB/f_RNG, 213) AHB cycles (§24.5);
//! - RNGEN = 0: the FIFO and conditioning register stay readable and a round in progress
//!   completes (DRDY can rise), but no new round starts (it needs fresh noise bits);
//!   disabling during initialisation pauses it and re-enabling resumes it; after
//!   initialisation, re-enabling needs 16 RNG + 216 AHB cycles for a round (§24.3.8);
//! - clock error detection (CED = 0): CECS while f_RNG < f_AHB/32, CEIS on its rising edge,
//!   cleared by writing 0; the CED bit cannot change while RNGEN = 1 (§24.7.1, traced);
//! - seed errors: SECS and SEIS set, generation stops; buffered words stay readable but "should
//!   not be used". The health test drops samples and checks again (Figure 127), modelled as
//!   16 RNG + 216 AHB cycles, after which SECS clears and generation resumes (initialisation
//!   restarts from the beginning if the error came during it). Software then clears SEIS and
//!   discards 12 words (§24.3.7); here they are the words buffered before the error (up to 4
//!   in the FIFO and 4 in the conditioning register) and then fresh ones, all from the same
//!   deterministic stream;
//! - interrupt line (bit 0): RNGEN & IE & (DRDY | SEIS | CEIS) ("interrupts are generated only
//!   when RNG is enabled", §24.4).
//!
//! Timing uses the AHB clock from [`Peripheral::set_clock_hz`] (HCLK4, 4 MHz until called) and
//! the RNG kernel clock from [`Rng::set_rng_clock_hz`] (48 MHz CLK48 by default: RCC's RNGSEL
//! clock selection is not modelled here). A step's duration is fixed when the step starts.
//!
//! Test hooks [`Rng::inject_seed_error`] and [`Rng::inject_clock_error`] raise the health-check
//! failures a real noise source can produce. An injected clock error is a glitch: CECS stays
//! set until software clears CEIS (it has then checked the clock, and the clock is fine).
//!
//! Only 32-bit accesses are accepted; others are bus errors and writes are ignored (§24.2).
//! Writes to RNG_DR (read-only) and to reserved RNG_CR bits are ignored and traced once.

use std::collections::VecDeque;

use tracing::{debug, warn};

use crate::{Access, BusError, BusResult, Peripheral, Picos, ResetKind, Width};

/// Register offsets (RM0434 §24.7).
pub mod reg {
    pub const CR: u32 = 0x000;
    pub const SR: u32 = 0x004;
    pub const DR: u32 = 0x008;
}

pub const CR_RNGEN: u32 = 1 << 2;
pub const CR_IE: u32 = 1 << 3;
pub const CR_CED: u32 = 1 << 5;
const CR_STORED: u32 = CR_RNGEN | CR_IE | CR_CED;

pub const SR_DRDY: u32 = 1 << 0;
pub const SR_CECS: u32 = 1 << 1;
pub const SR_SECS: u32 = 1 << 2;
pub const SR_CEIS: u32 = 1 << 5;
pub const SR_SEIS: u32 = 1 << 6;

/// The AHB clock (HCLK4) before [`Peripheral::set_clock_hz`] is called: MSI 4 MHz.
pub const DEFAULT_AHB_HZ: u64 = 4_000_000;
/// The RNG kernel clock unless [`Rng::set_rng_clock_hz`] says otherwise (CLK48).
pub const DEFAULT_RNG_HZ: u64 = 48_000_000;

/// Cycle counts from RM0434 §24.3.8 and §24.5.
pub mod timing {
    /// First data when f_AHB < f_threshold: RNG clock cycles, AHB cycles.
    pub const INIT_SLOW_AHB: (u64, u64) = (128, 426);
    /// First data when f_AHB ≥ f_threshold: RNG clock cycles, AHB cycles.
    pub const INIT_FAST_AHB: (u64, u64) = (192, 213);
    /// A conditioning round takes at least this many AHB cycles ...
    pub const ROUND_MIN_AHB: u64 = 213;
    /// ... and 16·f_AHB/f_RNG when that is more.
    pub const ROUND_RNG_FACTOR: u64 = 16;
    /// Sampling new bits and one round after a low-power disable: RNG cycles, AHB cycles.
    pub const RESTART: (u64, u64) = (16, 216);
    /// Words to read and discard after a seed error (§24.3.7).
    pub const SEED_ERROR_DISCARD: usize = 12;
}

/// SplitMix64 (Steele, Lea, Flood), used to expand the seed.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman, Vigna), the stream the RNG delivers: each 64-bit output gives two
/// words, low half first.
#[derive(Clone, Debug)]
pub struct Xoshiro256 {
    s: [u64; 4],
    spare: Option<u32>,
}

impl Xoshiro256 {
    /// State from four SplitMix64 outputs of `seed` (the authors' recommended seeding).
    pub fn from_seed(seed: u64) -> Xoshiro256 {
        let mut sm = SplitMix64::new(seed);
        Xoshiro256::from_state([sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()])
    }

    pub fn from_state(s: [u64; 4]) -> Xoshiro256 {
        Xoshiro256 { s, spare: None }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    pub fn next_u32(&mut self) -> u32 {
        if let Some(w) = self.spare.take() {
            return w;
        }
        let v = self.next_u64();
        self.spare = Some((v >> 32) as u32);
        v as u32
    }
}

/// Timed work in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Initialisation after the first enable; ends with the first four words in the FIFO.
    Init,
    /// A conditioning round; ends with four words for the FIFO or the conditioning register.
    Round,
    /// The health test re-checks the noise source after a seed error.
    Recheck,
}

const WARN_RESERVED: u8 = 1 << 0;
const WARN_DR_WRITE: u8 = 1 << 1;
const WARN_CED: u8 = 1 << 2;
const WARN_WIDTH: u8 = 1 << 3;
const WARN_CLOCK: u8 = 1 << 4;

const PICOS_PER_SECOND: u128 = 1_000_000_000_000;

fn cycles_to_picos(cycles: u64, hz: u64) -> Picos {
    let ps = (cycles as u128 * PICOS_PER_SECOND).div_ceil(hz.max(1) as u128);
    Picos::try_from(ps).unwrap_or(Picos::MAX)
}

/// The random number generator.
#[derive(Clone, Debug)]
pub struct Rng {
    cr: u32,
    seis: bool,
    ceis: bool,
    secs: bool,
    /// An injected clock error not yet acknowledged.
    clock_glitch: bool,
    fifo: VecDeque<u32>,
    /// The 128-bit conditioning output register.
    cond: Option<[u32; 4]>,
    /// The step in progress and when it ends.
    step: Option<(Step, Picos)>,
    /// The first data has been produced since reset.
    init_done: bool,
    /// Initialisation time still needed after a disable interrupted it.
    init_left: Option<Picos>,
    gen: Xoshiro256,
    ahb_hz: u64,
    rng_hz: u64,
    now: Picos,
    warned: u8,
}

impl Rng {
    /// A generator whose numbers are determined by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng {
            cr: 0,
            seis: false,
            ceis: false,
            secs: false,
            clock_glitch: false,
            fifo: VecDeque::with_capacity(4),
            cond: None,
            step: None,
            init_done: false,
            init_left: None,
            gen: Xoshiro256::from_seed(seed),
            ahb_hz: DEFAULT_AHB_HZ,
            rng_hz: DEFAULT_RNG_HZ,
            now: 0,
            warned: 0,
        }
    }

    /// Set the RNG kernel clock (rng_clk).
    pub fn set_rng_clock_hz(&mut self, hz: u64) {
        if hz == 0 {
            self.warn_once(
                WARN_CLOCK,
                || warn!(target: "wb::rng", "clock of 0 Hz ignored"),
            );
            return;
        }
        self.clock_change(|r| r.rng_hz = hz);
    }

    /// Test hook: the noise source fails its health test now (no effect while RNGEN = 0, when
    /// the noise sources are off).
    pub fn inject_seed_error(&mut self) {
        if !self.enabled() {
            debug!(target: "wb::rng", "seed error injected while disabled: no effect");
            return;
        }
        debug!(target: "wb::rng", "seed error");
        self.secs = true;
        self.seis = true;
        // Generation stops; an interrupted initialisation starts over after the re-check.
        self.step = None;
        self.init_left = None;
        self.schedule(Step::Recheck, self.now, self.restart_time());
    }

    /// Test hook: the clock checker sees a too slow RNG clock now (only with CED = 0 and
    /// RNGEN = 1, when the checker runs).
    pub fn inject_clock_error(&mut self) {
        if !self.enabled() || self.cr & CR_CED != 0 {
            debug!(target: "wb::rng", "clock error injected while not checked: no effect");
            return;
        }
        debug!(target: "wb::rng", "clock error");
        self.clock_change(|r| r.clock_glitch = true);
    }

    /// The status register value.
    pub fn sr(&self) -> u32 {
        let mut sr = 0;
        for (on, bit) in [
            (!self.fifo.is_empty(), SR_DRDY),
            (self.cecs(), SR_CECS),
            (self.secs, SR_SECS),
            (self.ceis, SR_CEIS),
            (self.seis, SR_SEIS),
        ] {
            if on {
                sr |= bit;
            }
        }
        sr
    }

    fn enabled(&self) -> bool {
        self.cr & CR_RNGEN != 0
    }

    fn cecs(&self) -> bool {
        self.enabled()
            && self.cr & CR_CED == 0
            && (self.clock_glitch || (self.rng_hz as u128) * 32 < self.ahb_hz as u128)
    }

    /// Apply a change that may move CECS, setting CEIS on its rising edge.
    fn clock_change(&mut self, f: impl FnOnce(&mut Rng)) {
        let was = self.cecs();
        f(self);
        if !was && self.cecs() {
            debug!(target: "wb::rng", rng_hz = self.rng_hz, ahb_hz = self.ahb_hz, "clock error");
            self.ceis = true;
        }
    }

    fn warn_once(&mut self, bit: u8, f: impl FnOnce()) {
        if self.warned & bit == 0 {
            self.warned |= bit;
            f();
        }
    }

    fn duration(&self, (rng_cycles, ahb_cycles): (u64, u64)) -> Picos {
        cycles_to_picos(rng_cycles, self.rng_hz) + cycles_to_picos(ahb_cycles, self.ahb_hz)
    }

    fn init_time(&self) -> Picos {
        // f_AHB < 213·f_RNG/64
        if (self.ahb_hz as u128) * 64 < 213 * self.rng_hz as u128 {
            self.duration(timing::INIT_SLOW_AHB)
        } else {
            self.duration(timing::INIT_FAST_AHB)
        }
    }

    fn round_time(&self) -> Picos {
        let ratio = (timing::ROUND_RNG_FACTOR as u128 * self.ahb_hz as u128)
            .div_ceil(self.rng_hz.max(1) as u128);
        let cycles = u64::try_from(ratio)
            .unwrap_or(u64::MAX)
            .max(timing::ROUND_MIN_AHB);
        cycles_to_picos(cycles, self.ahb_hz)
    }

    fn restart_time(&self) -> Picos {
        self.duration(timing::RESTART)
    }

    fn schedule(&mut self, step: Step, from: Picos, dur: Picos) {
        self.step = Some((step, from.saturating_add(dur)));
    }

    /// Start a conditioning round if one is needed and possible.
    fn kick(&mut self, from: Picos, dur: Picos) {
        if self.enabled()
            && self.init_done
            && !self.secs
            && self.step.is_none()
            && self.cond.is_none()
        {
            self.schedule(Step::Round, from, dur);
        }
    }

    fn words(&mut self) -> [u32; 4] {
        [(); 4].map(|_| self.gen.next_u32())
    }

    /// Finish the step that ends at `at`.
    fn finish(&mut self, step: Step, at: Picos) {
        match step {
            Step::Init => {
                self.init_done = true;
                let w = self.words();
                self.fifo.extend(w);
                debug!(target: "wb::rng", "initialised: DRDY");
            }
            Step::Round => {
                let w = self.words();
                if self.fifo.is_empty() {
                    self.fifo.extend(w);
                } else {
                    self.cond = Some(w);
                }
            }
            Step::Recheck => {
                self.secs = false;
                debug!(target: "wb::rng", "noise source re-checked: SECS cleared");
                if !self.init_done {
                    let t = self.init_time();
                    self.schedule(Step::Init, at, t);
                    return;
                }
            }
        }
        let t = self.round_time();
        self.kick(at, t);
    }

    fn read_dr(&mut self) -> u32 {
        let Some(v) = self.fifo.pop_front() else {
            return 0;
        };
        if self.fifo.is_empty() {
            // The conditioning register refills the FIFO and a new round starts.
            if let Some(w) = self.cond.take() {
                self.fifo.extend(w);
            }
            let t = self.round_time();
            self.kick(self.now, t);
        }
        v
    }

    fn write_cr(&mut self, value: u32) {
        let reserved = value & !CR_STORED;
        if reserved != 0 {
            self.warn_once(WARN_RESERVED, || {
                warn!(target: "wb::rng", bits = format_args!("{reserved:#x}"),
                    "reserved RNG_CR bits written: ignored");
            });
        }
        let mut new = value & CR_STORED;
        let was_on = self.enabled();
        if was_on && new & CR_RNGEN != 0 && (new ^ self.cr) & CR_CED != 0 {
            // "CED cannot be enabled nor disabled on-the-fly when the RNG is enabled."
            self.warn_once(WARN_CED, || {
                warn!(target: "wb::rng", "CED changed while RNGEN = 1: ignored");
            });
            new = (new & !CR_CED) | (self.cr & CR_CED);
        }
        self.clock_change(|r| r.cr = new);
        let on = self.enabled();
        if was_on && !on {
            match self.step {
                // Initialisation resumes where it stopped (§24.3.8).
                Some((Step::Init, at)) => {
                    self.init_left = Some(at.saturating_sub(self.now));
                    self.step = None;
                }
                // The re-check needs the noise source: it runs again on the next enable.
                Some((Step::Recheck, _)) => self.step = None,
                // A round has its input bits and completes (the conditioning logic runs on the
                // AHB clock): "the DRDY bit can rise when the peripheral is disabled".
                Some((Step::Round, _)) | None => {}
            }
        } else if !was_on && on {
            if self.secs {
                let t = self.restart_time();
                self.schedule(Step::Recheck, self.now, t);
            } else if !self.init_done {
                let t = self.init_left.take().unwrap_or_else(|| self.init_time());
                self.schedule(Step::Init, self.now, t);
            } else {
                let t = self.restart_time();
                self.kick(self.now, t);
            }
        }
    }

    fn width_error(&mut self, offset: u32, width: Width) -> BusError {
        self.warn_once(WARN_WIDTH, || {
            warn!(target: "wb::rng", offset = format_args!("{offset:#x}"), ?width,
                "non-word access: AHB bus error");
        });
        BusError::Width
    }
}

impl Peripheral for Rng {
    fn name(&self) -> &'static str {
        "rng"
    }

    fn size(&self) -> u32 {
        0x400
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        self.advance(access.now);
        if !matches!(offset, reg::CR | reg::SR | reg::DR) {
            return Err(match offset & !3 {
                reg::CR | reg::SR | reg::DR => self.width_error(offset, access.width),
                _ => BusError::Unmapped,
            });
        }
        if access.width != Width::Word {
            return Err(self.width_error(offset, access.width));
        }
        Ok(match offset {
            reg::CR => self.cr,
            reg::SR => self.sr(),
            _ => self.read_dr(),
        })
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        self.advance(access.now);
        if !matches!(offset & !3, reg::CR | reg::SR | reg::DR) {
            return Err(BusError::Unmapped);
        }
        if access.width != Width::Word || offset & 3 != 0 {
            return Err(self.width_error(offset, access.width));
        }
        match offset {
            reg::CR => self.write_cr(value),
            reg::SR => {
                // SEIS and CEIS are cleared by writing 0; writing 1 has no effect. The other
                // bits are read-only (ST's HAL writes ~flag, so no trace for them).
                if value & SR_SEIS == 0 {
                    self.seis = false;
                }
                if value & SR_CEIS == 0 {
                    self.ceis = false;
                    // Software has checked the clock: an injected glitch is over.
                    self.clock_glitch = false;
                }
            }
            _ => self.warn_once(WARN_DR_WRITE, || {
                warn!(target: "wb::rng", "RNG_DR is read-only: write ignored");
            }),
        }
        Ok(())
    }

    fn carried_over(&self, h: &mut dyn std::hash::Hasher) {
        for w in self.gen.s {
            h.write_u64(w);
        }
        h.write_u64(self.gen.spare.map_or(u64::MAX, u64::from));
    }

    fn reset(&mut self, _kind: ResetKind) {
        // The generator keeps its state: a noise source does not repeat after a reset.
        let gen = self.gen.clone();
        *self = Rng {
            gen,
            ahb_hz: self.ahb_hz,
            rng_hz: self.rng_hz,
            now: self.now,
            warned: self.warned,
            ..Rng::new(0)
        };
    }

    fn next_event(&self) -> Option<Picos> {
        self.step.map(|(_, at)| at)
    }

    fn advance(&mut self, now: Picos) {
        self.now = self.now.max(now);
        while let Some((step, at)) = self.step {
            if at > self.now {
                break;
            }
            self.step = None;
            self.finish(step, at);
        }
    }

    fn set_clock_hz(&mut self, hz: u64) {
        if hz == 0 {
            self.warn_once(
                WARN_CLOCK,
                || warn!(target: "wb::rng", "clock of 0 Hz ignored"),
            );
            return;
        }
        self.clock_change(|r| r.ahb_hz = hz);
    }

    fn irq_lines(&self) -> u32 {
        let sources = !self.fifo.is_empty() || self.seis || self.ceis;
        (self.enabled() && self.cr & CR_IE != 0 && sources) as u32
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoreId;

    /// First data at the default clocks (AHB 4 MHz < f_threshold = 159.75 MHz):
    /// 128 cycles of 48 MHz + 426 cycles of 4 MHz.
    const INIT: Picos = 2_666_667 + 106_500_000;
    /// A round: max(16·4/48, 213) = 213 AHB cycles.
    const ROUND: Picos = 53_250_000;
    /// Re-enable: 16 cycles of 48 MHz + 216 AHB cycles.
    const RESTART: Picos = 333_334 + 54_000_000;

    fn acc(now: Picos, width: Width) -> Access {
        Access {
            core: CoreId::Cpu1,
            width,
            now,
        }
    }

    fn wr(r: &mut Rng, off: u32, v: u32) {
        let now = r.now;
        r.write(off, v, acc(now, Width::Word)).unwrap();
    }

    fn rd(r: &mut Rng, off: u32) -> u32 {
        let now = r.now;
        r.read(off, acc(now, Width::Word)).unwrap()
    }

    /// Enabled at t = 0 and run to the first data.
    fn ready(seed: u64) -> Rng {
        let mut r = Rng::new(seed);
        wr(&mut r, reg::CR, CR_RNGEN);
        r.advance(INIT);
        r
    }

    /// HAL-style polling read: wait for DRDY (advancing to the next event), check errors,
    /// read DR.
    fn poll(r: &mut Rng) -> u32 {
        while rd(r, reg::SR) & SR_DRDY == 0 {
            let t = r.next_event().expect("data is coming");
            r.advance(t);
        }
        rd(r, reg::DR)
    }

    #[test]
    fn reset_values_match_rm0434() {
        let mut r = Rng::new(1);
        assert_eq!(r.name(), "rng");
        assert_eq!(rd(&mut r, reg::CR), 0);
        assert_eq!(rd(&mut r, reg::SR), 0);
        assert_eq!(rd(&mut r, reg::DR), 0);
        assert_eq!((r.irq_lines(), r.next_event()), (0, None));
        let mut r = ready(1);
        wr(&mut r, reg::CR, CR_RNGEN | CR_IE);
        r.reset(ResetKind::System);
        assert_eq!(
            (
                rd(&mut r, reg::CR),
                rd(&mut r, reg::SR),
                rd(&mut r, reg::DR)
            ),
            (0, 0, 0)
        );
        assert_eq!(r.next_event(), None);
    }

    #[test]
    fn generators_match_their_reference_outputs() {
        // SplitMix64 reference (seed 1234567).
        let mut sm = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..5).map(|_| sm.next_u64()).collect();
        assert_eq!(
            got,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423,
                4_593_380_528_125_082_431,
                16_408_922_859_458_223_821,
            ]
        );
        // xoshiro256** from state [1, 2, 3, 4].
        let mut x = Xoshiro256::from_state([1, 2, 3, 4]);
        let got: Vec<u64> = (0..6).map(|_| x.next_u64()).collect();
        assert_eq!(
            got,
            [
                11_520,
                0,
                1_509_978_240,
                1_215_971_899_390_074_240,
                1_216_172_134_540_287_360,
                607_988_272_756_665_600,
            ]
        );
    }

    #[test]
    fn same_seed_same_numbers() {
        let read = |seed: u64| {
            let mut r = ready(seed);
            (0..40).map(|_| poll(&mut r)).collect::<Vec<u32>>()
        };
        let a = read(0xC0FFEE);
        assert_eq!(a, read(0xC0FFEE));
        assert_ne!(a, read(0xC0FFEF));
        // The words are the generator's, in order.
        let mut g = Xoshiro256::from_seed(0xC0FFEE);
        let expect: Vec<u32> = (0..40).map(|_| g.next_u32()).collect();
        assert_eq!(a, expect);
        assert!(a.iter().all(|&w| w != 0));
    }

    #[test]
    fn first_data_and_refill_timing() {
        let mut r = Rng::new(7);
        wr(&mut r, reg::CR, CR_RNGEN);
        assert_eq!(r.next_event(), Some(INIT));
        r.advance(INIT - 1);
        assert_eq!(rd(&mut r, reg::SR), 0);
        assert_eq!(rd(&mut r, reg::DR), 0, "DR reads 0 while DRDY = 0");
        r.advance(INIT);
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY);
        // The conditioning register fills one round later: then eight words can be read.
        assert_eq!(r.next_event(), Some(INIT + ROUND));
        r.advance(INIT + ROUND);
        assert_eq!(r.next_event(), None);
        let t = r.now;
        for i in 0..8 {
            assert_eq!(rd(&mut r, reg::SR) & SR_DRDY, SR_DRDY, "word {i}");
            assert_ne!(rd(&mut r, reg::DR), 0);
        }
        // The FIFO took the conditioning words after the 4th read and a round started then.
        assert_eq!(rd(&mut r, reg::SR), 0);
        assert_eq!(rd(&mut r, reg::DR), 0);
        assert_eq!(r.next_event(), Some(t + ROUND));
        r.advance(t + ROUND);
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY);
    }

    #[test]
    fn timing_follows_both_clocks() {
        // Fast AHB: 64 MHz with a 48 MHz RNG clock is below f_threshold (159.75 MHz) still.
        let mut r = Rng::new(1);
        r.set_clock_hz(64_000_000);
        wr(&mut r, reg::CR, CR_RNGEN);
        assert_eq!(r.next_event(), Some(2_666_667 + 6_656_250));
        // f_AHB ≥ f_threshold: RNG clock 1 MHz (threshold 3.328 MHz) at AHB 4 MHz: 192 RNG
        // cycles + 213 AHB cycles.
        let mut r = Rng::new(1);
        r.set_rng_clock_hz(1_000_000);
        wr(&mut r, reg::CR, CR_RNGEN);
        assert_eq!(r.next_event(), Some(192_000_000 + 53_250_000));
        assert_eq!(rd(&mut r, reg::SR) & SR_CECS, 0, "1 MHz > 4 MHz / 32");
        // Rounds: 16·f_AHB/f_RNG = 64 cycles < 213, so still 213 cycles.
        r.advance(245_250_000);
        assert_eq!(r.next_event(), Some(245_250_000 + ROUND));
        // Slow RNG clock relative to AHB: 16 · 4 MHz / 200 kHz = 320 cycles > 213.
        let mut r = Rng::new(1);
        r.set_rng_clock_hz(200_000);
        wr(&mut r, reg::CR, CR_RNGEN);
        let init = r.next_event().unwrap();
        r.advance(init);
        assert_eq!(r.next_event(), Some(init + 320 * 250_000));
    }

    #[test]
    fn interrupt_line() {
        let mut r = Rng::new(3);
        wr(&mut r, reg::CR, CR_RNGEN | CR_IE);
        assert_eq!(r.irq_lines(), 0);
        r.advance(INIT);
        assert_eq!(r.irq_lines(), 1, "IE & DRDY");
        wr(&mut r, reg::CR, CR_RNGEN);
        assert_eq!(r.irq_lines(), 0);
        for _ in 0..8 {
            poll(&mut r);
        }
        wr(&mut r, reg::CR, CR_RNGEN | CR_IE);
        assert_eq!(rd(&mut r, reg::SR) & SR_DRDY, 0);
        assert_eq!(r.irq_lines(), 0);
        r.inject_seed_error();
        assert_eq!(r.irq_lines(), 1, "IE & SEIS");
        wr(&mut r, reg::SR, !SR_SEIS);
        assert_eq!(r.irq_lines(), 0);
        r.inject_clock_error();
        assert_eq!(r.irq_lines(), 1, "IE & CEIS");
        // Only while enabled.
        wr(&mut r, reg::CR, CR_IE);
        assert_eq!(r.irq_lines(), 0);
    }

    #[test]
    fn seed_error_and_documented_recovery() {
        let seed = 0x5EED;
        let mut r = ready(seed);
        r.advance(INIT + ROUND);
        let mut reference = Xoshiro256::from_seed(seed);
        let mut expect = || reference.next_u32();
        // Two words read normally.
        for _ in 0..2 {
            assert_eq!(poll(&mut r), expect());
        }
        r.inject_seed_error();
        let t = r.now;
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY | SR_SECS | SR_SEIS);
        // Generation stops; the health test re-checks the noise source and SECS clears.
        assert_eq!(r.next_event(), Some(t + RESTART));
        r.advance(t + RESTART);
        assert_eq!(
            rd(&mut r, reg::SR),
            SR_DRDY | SR_SEIS,
            "SEIS stays until cleared"
        );
        // Recovery (§24.3.7): clear SEIS, read and discard 12 words, SEIS is still clear.
        wr(&mut r, reg::SR, !SR_SEIS);
        assert_eq!(rd(&mut r, reg::SR) & SR_SEIS, 0);
        for _ in 0..timing::SEED_ERROR_DISCARD {
            assert_eq!(poll(&mut r), expect(), "pipeline words come out in order");
        }
        assert_eq!(rd(&mut r, reg::SR) & (SR_SEIS | SR_SECS), 0);
        for _ in 0..20 {
            assert_eq!(poll(&mut r), expect());
        }
        // Writing 1 to SEIS has no effect.
        r.inject_seed_error();
        wr(&mut r, reg::SR, u32::MAX);
        assert_ne!(rd(&mut r, reg::SR) & SR_SEIS, 0);
    }

    #[test]
    fn seed_error_during_initialisation_restarts_it() {
        let mut r = Rng::new(9);
        wr(&mut r, reg::CR, CR_RNGEN);
        r.advance(INIT / 2);
        r.inject_seed_error();
        let t = r.now;
        assert_eq!(r.next_event(), Some(t + RESTART));
        r.advance(t + RESTART);
        assert_eq!(
            r.next_event(),
            Some(t + RESTART + INIT),
            "whole initialisation again"
        );
        r.advance(t + RESTART + INIT);
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY | SR_SEIS);
    }

    #[test]
    fn clock_errors() {
        // Injected: CECS and CEIS; data is unaffected; clearing CEIS ends the glitch.
        let mut r = ready(5);
        r.inject_clock_error();
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY | SR_CECS | SR_CEIS);
        assert_ne!(rd(&mut r, reg::DR), 0);
        wr(&mut r, reg::SR, !SR_CEIS);
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY);
        // A real slow clock (f_RNG < f_AHB / 32): CECS while it lasts, CEIS on the edge.
        r.set_rng_clock_hz(100_000);
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY | SR_CECS | SR_CEIS);
        wr(&mut r, reg::SR, !SR_CEIS);
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY | SR_CECS);
        r.set_rng_clock_hz(48_000_000);
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY);
        // Raising the AHB clock can cause it too: 48 MHz · 32 < 2 GHz.
        r.set_clock_hz(2_000_000_000);
        assert_eq!(rd(&mut r, reg::SR) & (SR_CECS | SR_CEIS), SR_CECS | SR_CEIS);
        r.set_clock_hz(4_000_000);
        wr(&mut r, reg::SR, !SR_CEIS);
        // CED = 1 (set while disabled) turns the checker off; CED cannot change while enabled.
        wr(&mut r, reg::CR, 0);
        wr(&mut r, reg::CR, CR_CED);
        wr(&mut r, reg::CR, CR_CED | CR_RNGEN);
        r.inject_clock_error();
        r.set_rng_clock_hz(100_000);
        assert_eq!(rd(&mut r, reg::SR) & (SR_CECS | SR_CEIS), 0);
        wr(&mut r, reg::CR, CR_RNGEN);
        assert_eq!(rd(&mut r, reg::CR), CR_CED | CR_RNGEN, "CED change ignored");
    }

    #[test]
    fn disable_and_reenable() {
        // Disabling during initialisation pauses it.
        let mut r = Rng::new(11);
        wr(&mut r, reg::CR, CR_RNGEN);
        r.advance(INIT - 1_000);
        wr(&mut r, reg::CR, 0);
        assert_eq!(r.next_event(), None);
        r.advance(10 * INIT);
        assert_eq!(rd(&mut r, reg::SR), 0);
        wr(&mut r, reg::CR, CR_RNGEN);
        assert_eq!(r.next_event(), Some(10 * INIT + 1_000));

        // After initialisation: buffered words stay readable while disabled, and a round in
        // progress completes (DRDY can rise with RNGEN = 0); no new round starts.
        let mut r = ready(11);
        r.advance(INIT + ROUND);
        for _ in 0..4 {
            poll(&mut r);
        }
        wr(&mut r, reg::CR, 0);
        let round_end = r.next_event().expect("round in progress continues");
        for _ in 0..4 {
            assert_ne!(rd(&mut r, reg::DR), 0);
        }
        assert_eq!(rd(&mut r, reg::SR), 0);
        r.advance(round_end);
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY, "DRDY rose while disabled");
        for _ in 0..4 {
            assert_ne!(rd(&mut r, reg::DR), 0);
        }
        assert_eq!((rd(&mut r, reg::SR), r.next_event()), (0, None));
        // Re-enabling: 16 RNG cycles to sample and 216 AHB cycles for a round.
        let t = r.now;
        wr(&mut r, reg::CR, CR_RNGEN);
        assert_eq!(r.next_event(), Some(t + RESTART));
    }

    #[test]
    fn access_widths_and_read_only_registers() {
        let mut r = ready(2);
        assert_eq!(
            r.read(reg::DR, acc(INIT, Width::Byte)),
            Err(BusError::Width)
        );
        assert_eq!(
            r.read(reg::SR + 2, acc(INIT, Width::Half)),
            Err(BusError::Width)
        );
        assert_eq!(
            r.write(reg::CR, CR_IE, acc(INIT, Width::Half)),
            Err(BusError::Width)
        );
        assert_eq!(
            r.write(reg::CR + 1, 0, acc(INIT, Width::Byte)),
            Err(BusError::Width)
        );
        assert_eq!(rd(&mut r, reg::CR), CR_RNGEN, "refused write ignored");
        assert_eq!(
            r.read(0x00C, acc(INIT, Width::Word)),
            Err(BusError::Unmapped)
        );
        assert_eq!(
            r.write(0x100, 0, acc(INIT, Width::Word)),
            Err(BusError::Unmapped)
        );
        // DR is read-only; reserved CR bits are dropped; SR's status bits are read-only.
        let mut g = Xoshiro256::from_seed(2);
        wr(&mut r, reg::DR, 0x1234);
        assert_eq!(rd(&mut r, reg::DR), g.next_u32());
        wr(&mut r, reg::CR, 0xFFFF_FFD7);
        assert_eq!(rd(&mut r, reg::CR), CR_RNGEN);
        wr(&mut r, reg::SR, 0);
        assert_eq!(rd(&mut r, reg::SR), SR_DRDY);
    }

    #[test]
    fn reset_does_not_repeat_the_stream() {
        let mut r = ready(4);
        let before: Vec<u32> = (0..4).map(|_| poll(&mut r)).collect();
        r.reset(ResetKind::PowerOn);
        wr(&mut r, reg::CR, CR_RNGEN);
        let after: Vec<u32> = (0..4).map(|_| poll(&mut r)).collect();
        assert_ne!(before, after);
        // Still deterministic: a clone continues identically.
        let mut c = r.clone();
        assert_eq!(poll(&mut r), poll(&mut c));
    }
}
