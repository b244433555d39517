//! AES hardware accelerator (AES1 @ 0x5006_0000 on AHB2/HCLK1, AES2 @ 0x5800_1800 on
//! AHB4/HCLK4), RM0434 §25.
//!
//! Modelled: the whole register interface; ECB, CBC, CTR, GCM/GMAC and CCM in Mode 1
//! (encryption), Mode 2 (key derivation into AES_KEYRx), Mode 3 (decryption) and Mode 4 (key
//! derivation then decryption); the GCM/CCM phases (init, header, payload, final) with NPBLB for
//! a last partial payload block; DATATYPE swapping; the per-block latency of RM0434 §25.6 in
//! cycles of the peripheral clock, with SR.BUSY while computing and SR.CCF when done; RDERR and
//! WRERR; the suspend registers, which hold the GCM/CCM internal state.
//!
//! The AES block cipher is the `aes` crate; the chaining modes, GHASH, CBC-MAC and the key
//! schedule (for the decryption key that Mode 2 leaves in AES_KEYRx) are implemented here.
//!
//! Decisions where RM0434 leaves room:
//! - Only 32-bit accesses: others are `BusError::Width` and change nothing (§25.1: "Other access
//!   types generate an AHB error, and other than 32-bit writes may corrupt the register
//!   content" — the corruption is not modelled).
//! - Mode 2 leaves the end of the expanded key in KEYRx (the last round key for AES-128, the
//!   last two for AES-256, first word in the highest register); Mode 3 with ECB/CBC uses KEYRx
//!   as such a derived key, so a saved derived key can be restored for resume (§25.4.8).
//! - GCM final phase: the tag uses J0 = IVR[127:32] with the counter at 1. CCM final phase:
//!   selecting GCMPH=11 with EN=1 starts the tag, with Ctr0 = IVR with its counter zeroed (the
//!   §25.4.12 text and ST's HAL write no data; Figure 151's "AES_DINR (CTR0)" is not followed).
//! - NPBLB zeroes the last bytes of every payload block processed while it is non-zero, before
//!   authentication (GCM: the ciphertext; CCM: the plaintext); DOUTR is not masked.
//! - DOUTR reads and DINR writes while EN=0 return 0 / are ignored without error flags.
//! - BUSY is set during every computation (RM0434 only defines it for GCM payload).
//!
//! Not modelled (traced once under `wb::aes`): DMA requests (DMAINEN/DMAOUTEN are stored), the
//! AHB wait states of DINR writes.

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use tracing::{debug, warn};

use crate::{Access, BusError, BusResult, Peripheral, Picos, ResetKind, Width};

/// Register offsets (RM0434 §23.7), from the shared register map.
pub use wb_regs::aes1::reg;

pub const CR_EN: u32 = 1 << 0;
pub const CR_DATATYPE_SHIFT: u32 = 1;
pub const CR_DATATYPE: u32 = 3 << CR_DATATYPE_SHIFT;
pub const CR_MODE_SHIFT: u32 = 3;
pub const CR_MODE: u32 = 3 << CR_MODE_SHIFT;
/// CHMOD[1:0] is at bits 6:5, CHMOD[2] at bit 16.
pub const CR_CHMOD_LO_SHIFT: u32 = 5;
pub const CR_CHMOD2: u32 = 1 << 16;
pub const CR_CHMOD: u32 = (3 << CR_CHMOD_LO_SHIFT) | CR_CHMOD2;
pub const CR_CCFC: u32 = 1 << 7;
pub const CR_ERRC: u32 = 1 << 8;
pub const CR_CCFIE: u32 = 1 << 9;
pub const CR_ERRIE: u32 = 1 << 10;
pub const CR_DMAINEN: u32 = 1 << 11;
pub const CR_DMAOUTEN: u32 = 1 << 12;
pub const CR_GCMPH_SHIFT: u32 = 13;
pub const CR_GCMPH: u32 = 3 << CR_GCMPH_SHIFT;
pub const CR_KEYSIZE: u32 = 1 << 18;
pub const CR_NPBLB_SHIFT: u32 = 20;
pub const CR_NPBLB: u32 = 0xF << CR_NPBLB_SHIFT;

/// The CR bits that hold a value (CCFC and ERRC are actions and read as 0; the rest is
/// reserved).
const CR_STORED: u32 = CR_EN
    | CR_DATATYPE
    | CR_MODE
    | CR_CHMOD
    | CR_CCFIE
    | CR_ERRIE
    | CR_DMAINEN
    | CR_DMAOUTEN
    | CR_GCMPH
    | CR_KEYSIZE
    | CR_NPBLB;
/// "Attempts to write the bitfield are ignored when the EN bit of the AES_CR register is set
/// before the write access and it is not cleared by that write access" (RM0434 §25.7.1).
const CR_LOCKED: u32 = CR_DATATYPE | CR_MODE | CR_CHMOD | CR_KEYSIZE;

pub const SR_CCF: u32 = 1 << 0;
pub const SR_RDERR: u32 = 1 << 1;
pub const SR_WRERR: u32 = 1 << 2;
pub const SR_BUSY: u32 = 1 << 3;

/// Clock of both instances until the machine calls `set_clock_hz`: MSI 4 MHz after reset.
pub const DEFAULT_CLOCK_HZ: u64 = 4_000_000;

/// Whether `offset` is one of AES_KEYR0..7 (the machine denies CPU1 access to AES1's key
/// registers in secure mode).
pub const fn is_key_register(offset: u32) -> bool {
    matches!(offset & !3, 0x10..=0x1C | 0x30..=0x3C)
}

/// Which of the two AES peripherals (same IP, RM0434 §25.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AesInstance {
    Aes1,
    Aes2,
}

impl AesInstance {
    /// The peripheral name ("aes1", "aes2"), also [`Peripheral::name`].
    pub const fn name(self) -> &'static str {
        match self {
            AesInstance::Aes1 => "aes1",
            AesInstance::Aes2 => "aes2",
        }
    }
}

/// CHMOD[2:0].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chain {
    Ecb,
    Cbc,
    Ctr,
    Gcm,
    Ccm,
    Reserved,
}

/// The operating mode in effect (MODE[1:0] after the documented defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Mode 1.
    Encrypt,
    /// Mode 2: key derivation only.
    Derive,
    /// Mode 3.
    Decrypt,
    /// Mode 4: key derivation then decryption (ECB/CBC only).
    DeriveDecrypt,
}

/// GCMPH[1:0].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Init,
    Header,
    Payload,
    Final,
}

/// A computation in flight, with everything it needs from the configuration captured when it
/// started (the rest is locked while EN=1, and clearing EN abandons it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Derive,
    Block {
        chain: Chain,
        mode: Mode,
        input: u128,
    },
    GcmInit,
    GcmHeader(u128),
    GcmPayload {
        decrypt: bool,
        input: u128,
        npblb: u32,
    },
    GcmFinal(u128),
    CcmInit,
    CcmHeader(u128),
    CcmPayload {
        decrypt: bool,
        input: u128,
        npblb: u32,
    },
    CcmFinal,
}

impl Op {
    /// Processing latency in clock cycles, RM0434 §25.6 Tables 137-138.
    fn cycles(self, key256: bool) -> u64 {
        let (k128, k256) = match self {
            Op::Derive => (59, 82),
            Op::Block {
                mode: Mode::DeriveDecrypt,
                ..
            } => (106, 145),
            Op::Block { .. } => (51, 75),
            Op::GcmInit => (64, 88),
            Op::GcmHeader(_) => (35, 35),
            Op::GcmPayload { .. } => (51, 75),
            Op::GcmFinal(_) => (59, 75),
            Op::CcmInit => (63, 87),
            Op::CcmHeader(_) => (55, 79),
            Op::CcmPayload { .. } => (114, 162),
            Op::CcmFinal => (58, 82),
        };
        if key256 {
            k256
        } else {
            k128
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    done_at: Picos,
    op: Op,
}

/// Things traced once per peripheral (a bit each).
#[derive(Clone, Copy)]
enum Note {
    KeyWhileEnabled = 0,
    IvWhileEnabled,
    SuspWhileEnabled,
    DinrWhileDisabled,
    DoutrWhileDisabled,
    DinrRead,
    Dma,
    ReservedChmod,
    ForbiddenMode,
    Mode4Repeat,
    CcmFinalDinr,
    PhaseWhileBusy,
}

/// One AES peripheral. GCM/CCM internal state (GHASH accumulator and hash subkey H, or the
/// CBC-MAC) lives in the suspend registers, which is what software saves and restores.
#[derive(Clone, Debug)]
pub struct Aes {
    instance: AesInstance,
    cr: u32,
    sr: u32,
    /// KEYR0..KEYR7; KEYR0 is KEY[31:0].
    keyr: [u32; 8],
    /// IVR0..IVR3; IVR3 is IVI[127:96].
    ivr: [u32; 4],
    susp: [u32; 8],
    /// Input block being assembled from DINR writes (already swapped), and how many words.
    in_block: u128,
    in_words: u8,
    /// Output block waiting in DOUTR (unswapped core output), and how many words were read.
    out_block: Option<u128>,
    out_words: u8,
    pending: Option<Pending>,
    /// Blocks started since EN was set in Mode 4 ("only one decryption can be done").
    mode4_blocks: u32,
    clock_hz: u64,
    now: Picos,
    noted: u32,
}

impl Aes {
    /// A peripheral in its reset state, clocked at [`DEFAULT_CLOCK_HZ`] until
    /// [`Peripheral::set_clock_hz`] says otherwise.
    pub fn new(instance: AesInstance) -> Aes {
        Aes {
            instance,
            cr: 0,
            sr: 0,
            keyr: [0; 8],
            ivr: [0; 4],
            susp: [0; 8],
            in_block: 0,
            in_words: 0,
            out_block: None,
            out_words: 0,
            pending: None,
            mode4_blocks: 0,
            clock_hz: DEFAULT_CLOCK_HZ,
            now: 0,
            noted: 0,
        }
    }

    /// Which of AES1/AES2 this is.
    pub fn instance(&self) -> AesInstance {
        self.instance
    }

    fn enabled(&self) -> bool {
        self.cr & CR_EN != 0
    }

    fn key256(&self) -> bool {
        self.cr & CR_KEYSIZE != 0
    }

    fn datatype(&self) -> u32 {
        (self.cr & CR_DATATYPE) >> CR_DATATYPE_SHIFT
    }

    fn chain(&self) -> Chain {
        let code = (self.cr >> CR_CHMOD_LO_SHIFT) & 3 | u32::from(self.cr & CR_CHMOD2 != 0) << 2;
        match code {
            0 => Chain::Ecb,
            1 => Chain::Cbc,
            2 => Chain::Ctr,
            3 => Chain::Gcm,
            4 => Chain::Ccm,
            _ => Chain::Reserved,
        }
    }

    /// MODE[1:0] as it takes effect: "Any attempt to selecting Mode 4 while either ECB or CBC
    /// chaining mode is not selected, defaults to effective selection of Mode 3".
    fn mode(&self) -> Mode {
        match (self.cr & CR_MODE) >> CR_MODE_SHIFT {
            0 => Mode::Encrypt,
            1 => Mode::Derive,
            2 => Mode::Decrypt,
            _ if matches!(self.chain(), Chain::Ecb | Chain::Cbc) => Mode::DeriveDecrypt,
            _ => Mode::Decrypt,
        }
    }

    fn phase(&self) -> Phase {
        match (self.cr & CR_GCMPH) >> CR_GCMPH_SHIFT {
            0 => Phase::Init,
            1 => Phase::Header,
            2 => Phase::Payload,
            _ => Phase::Final,
        }
    }

    fn npblb(&self) -> u32 {
        (self.cr & CR_NPBLB) >> CR_NPBLB_SHIFT
    }

    fn ivr(&self) -> u128 {
        words_to_u128(&self.ivr)
    }

    fn set_ivr(&mut self, v: u128) {
        self.ivr = u128_to_words(v);
    }

    /// SUSP0R..3R: GHASH accumulator (GCM) or CBC-MAC (CCM).
    fn acc(&self) -> u128 {
        words_to_u128(&self.susp[..4])
    }

    fn set_acc(&mut self, v: u128) {
        self.susp[..4].copy_from_slice(&u128_to_words(v));
    }

    /// SUSP4R..7R: GCM hash subkey H.
    fn hash_key(&self) -> u128 {
        words_to_u128(&self.susp[4..])
    }

    fn set_hash_key(&mut self, v: u128) {
        self.susp[4..].copy_from_slice(&u128_to_words(v));
    }

    /// The key registers as the encryption key, per KEYSIZE.
    fn cipher(&self) -> BlockCipher {
        BlockCipher::new(&self.keyr, self.key256())
    }

    /// Mode 3 ECB/CBC: the key registers hold the derived (last-round) key that Mode 2 left
    /// there; run the schedule back to the encryption key for the `aes` crate.
    fn decryption_cipher(&self) -> BlockCipher {
        let nk = self.nk();
        let original = keyr_from_schedule(
            &invert_schedule(&schedule_from_keyr(&self.keyr, nk), nk),
            nk,
        );
        let mut keyr = self.keyr;
        keyr[..nk].copy_from_slice(&original[..nk]);
        BlockCipher::new(&keyr, self.key256())
    }

    fn nk(&self) -> usize {
        if self.key256() {
            8
        } else {
            4
        }
    }

    fn note(&mut self, note: Note, message: &str) {
        let bit = 1u32 << note as u32;
        if self.noted & bit == 0 {
            self.noted |= bit;
            warn!(target: "wb::aes", aes = self.instance.name(), "{message}");
        }
    }

    fn cycles_to_picos(&self, cycles: u64) -> Picos {
        let hz = u128::from(self.clock_hz.max(1));
        // Rounded up: CCF never rises before the documented cycle count has elapsed.
        let ps = (u128::from(cycles) * 1_000_000_000_000).div_ceil(hz);
        Picos::try_from(ps).unwrap_or(Picos::MAX)
    }

    fn start(&mut self, op: Op) {
        let done_at = self
            .now
            .saturating_add(self.cycles_to_picos(op.cycles(self.key256())));
        self.pending = Some(Pending { done_at, op });
    }

    /// "At any moment, clearing then setting the bit re-initializes the AES peripheral": the
    /// data path forgets partial input, unread output and any computation in flight. Internal
    /// GCM/CCM state (the suspend registers) stays.
    fn reset_data_path(&mut self) {
        self.in_block = 0;
        self.in_words = 0;
        self.out_block = None;
        self.out_words = 0;
        self.pending = None;
        self.mode4_blocks = 0;
    }

    fn write_cr(&mut self, value: u32) {
        let old = self.cr;
        let mut new = value & CR_STORED;
        let was_enabled = old & CR_EN != 0;
        let stays_enabled = was_enabled && new & CR_EN != 0;
        if stays_enabled && (new ^ old) & CR_LOCKED != 0 {
            // Documented: ignored. ST's HAL does this on purpose (MODE in the final phase).
            debug!(target: "wb::aes", aes = self.instance.name(),
                old = format_args!("{old:#x}"), new = format_args!("{new:#x}"),
                "CR: DATATYPE/MODE/CHMOD/KEYSIZE write ignored while EN=1");
            new = (new & !CR_LOCKED) | (old & CR_LOCKED);
        }
        if value & CR_CCFC != 0 {
            self.sr &= !SR_CCF;
        }
        if value & CR_ERRC != 0 {
            self.sr &= !(SR_RDERR | SR_WRERR);
        }
        if new & (CR_DMAINEN | CR_DMAOUTEN) != 0 {
            self.note(
                Note::Dma,
                "DMAINEN/DMAOUTEN set: stored, but DMA requests are not modelled",
            );
        }
        self.cr = new;
        let enabled = new & CR_EN != 0;
        if was_enabled && !enabled {
            self.reset_data_path();
        } else if !was_enabled && enabled {
            self.reset_data_path();
            self.on_enable();
        } else if enabled {
            let old_phase = (old & CR_GCMPH) >> CR_GCMPH_SHIFT;
            if self.chain() == Chain::Ccm && self.phase() == Phase::Final && old_phase != 3 {
                // CCM final phase: the tag computation starts when the phase is selected
                // (RM0434 §25.4.12 "CCM final phase"; no data is written).
                self.start_ccm_final();
            }
        }
    }

    /// EN went from 0 to 1: the computations that need no input data start now.
    fn on_enable(&mut self) {
        let chain = self.chain();
        if chain == Chain::Reserved {
            self.note(
                Note::ReservedChmod,
                "CHMOD reserved value: blocks are processed as ECB",
            );
        }
        match self.mode() {
            Mode::Derive => {
                if matches!(chain, Chain::Ctr | Chain::Gcm | Chain::Ccm) {
                    self.note(
                        Note::ForbiddenMode,
                        "MODE=01 (key derivation) is forbidden with CTR/GCM/CCM: key derivation done",
                    );
                }
                self.start(Op::Derive);
            }
            _ => match (chain, self.phase()) {
                (Chain::Gcm, Phase::Init) => self.start(Op::GcmInit),
                (Chain::Ccm, Phase::Init) => self.start(Op::CcmInit),
                (Chain::Ccm, Phase::Final) => self.start_ccm_final(),
                _ => {}
            },
        }
        if matches!(chain, Chain::Gcm | Chain::Ccm) && (self.cr & CR_MODE) >> CR_MODE_SHIFT == 3 {
            self.note(
                Note::ForbiddenMode,
                "MODE=11 is forbidden with GCM/CCM: processed as Mode 3 (decryption)",
            );
        }
    }

    fn start_ccm_final(&mut self) {
        if self.pending.is_some() {
            self.note(
                Note::PhaseWhileBusy,
                "CCM final phase selected while a block computes: ignored",
            );
            return;
        }
        self.in_block = 0;
        self.in_words = 0;
        self.out_block = None;
        self.out_words = 0;
        self.start(Op::CcmFinal);
    }

    fn write_dinr(&mut self, value: u32) {
        if !self.enabled() {
            self.note(Note::DinrWhileDisabled, "DINR written while EN=0: ignored");
            return;
        }
        // "Unexpected write attempt of the AES_DINR register sets the WRERR flag ... and has no
        // effect on the AES_DINR register. The WRERR is triggered during the computation phase
        // or during the output phase."
        if self.pending.is_some() || self.out_block.is_some() {
            self.sr |= SR_WRERR;
            return;
        }
        let chain = self.chain();
        let phase = self.phase();
        if matches!(chain, Chain::Gcm | Chain::Ccm) && phase == Phase::Init {
            // The init phase computes on EN, without data (and clears EN when done).
            self.sr |= SR_WRERR;
            return;
        }
        if chain == Chain::Ccm && phase == Phase::Final {
            self.note(
                Note::CcmFinalDinr,
                "DINR written in the CCM final phase (the tag needs no input): ignored",
            );
            return;
        }
        // "In the final phase, data is written to AES_DINR normally (no swapping)".
        let word = if chain == Chain::Gcm && phase == Phase::Final {
            value
        } else {
            swap(value, self.datatype())
        };
        self.in_block = (self.in_block << 32) | u128::from(word);
        self.in_words += 1;
        if self.in_words < 4 {
            return;
        }
        let input = self.in_block;
        self.in_block = 0;
        self.in_words = 0;
        let decrypt = self.mode() != Mode::Encrypt;
        let npblb = self.npblb();
        let op = match (chain, phase) {
            (Chain::Gcm, Phase::Header) => Op::GcmHeader(input),
            (Chain::Gcm, Phase::Payload) => Op::GcmPayload {
                decrypt,
                input,
                npblb,
            },
            (Chain::Gcm, _) => Op::GcmFinal(input),
            (Chain::Ccm, Phase::Header) => Op::CcmHeader(input),
            (Chain::Ccm, _) => Op::CcmPayload {
                decrypt,
                input,
                npblb,
            },
            _ => {
                let mode = self.mode();
                if mode == Mode::DeriveDecrypt {
                    self.mode4_blocks = self.mode4_blocks.saturating_add(1);
                    if self.mode4_blocks > 1 {
                        self.note(
                            Note::Mode4Repeat,
                            "Mode 4: RM0434 allows one decryption per enable; later blocks are \
                             processed as further Mode 4 decryptions",
                        );
                    }
                }
                Op::Block { chain, mode, input }
            }
        };
        self.start(op);
    }

    fn read_doutr(&mut self) -> u32 {
        if !self.enabled() {
            self.note(Note::DoutrWhileDisabled, "DOUTR read while EN=0: returns 0");
            return 0;
        }
        match self.out_block {
            Some(block) if self.pending.is_none() => {
                let word = (block >> (32 * (3 - u32::from(self.out_words)))) as u32;
                self.out_words += 1;
                if self.out_words == 4 {
                    self.out_block = None;
                    self.out_words = 0;
                }
                swap(word, self.datatype())
            }
            // "Unexpected read attempt of the AES_DOUTR register sets the RDERR flag ... and
            // returns zero. RDERR is triggered during the computation phase or during the input
            // phase."
            _ => {
                self.sr |= SR_RDERR;
                0
            }
        }
    }

    /// The computation finished: results become visible, CCF rises.
    fn complete(&mut self, op: Op) {
        self.pending = None;
        self.sr |= SR_CCF;
        match op {
            Op::Derive => {
                let nk = self.nk();
                let derived = keyr_from_schedule(
                    &derive_schedule(&schedule_from_keyr(&self.keyr, nk), nk),
                    nk,
                );
                self.keyr[..nk].copy_from_slice(&derived[..nk]);
                // "The AES is disabled by hardware when the derivation key is available."
                self.cr &= !CR_EN;
            }
            Op::Block { chain, mode, input } => {
                let out = self.chain_block(chain, mode, input);
                self.out_block = Some(out);
            }
            Op::GcmInit => {
                let h = self.cipher().encrypt(0);
                self.set_hash_key(h);
                self.set_acc(0);
                self.cr &= !CR_EN;
            }
            Op::GcmHeader(aad) => {
                let x = gf128_mul(self.acc() ^ aad, self.hash_key());
                self.set_acc(x);
            }
            Op::GcmPayload {
                decrypt,
                input,
                npblb,
            } => {
                let ctr = self.ivr();
                let out = input ^ self.cipher().encrypt(ctr);
                self.set_ivr(inc32(ctr));
                let ciphertext = if decrypt { input } else { out };
                let x = gf128_mul(
                    self.acc() ^ mask_padding(ciphertext, npblb),
                    self.hash_key(),
                );
                self.set_acc(x);
                self.out_block = Some(out);
            }
            Op::GcmFinal(lengths) => {
                let s = gf128_mul(self.acc() ^ lengths, self.hash_key());
                self.set_acc(s);
                // The pre-counter block J0 is the IV with the 32-bit counter at 1 (software
                // loaded it at 2 for the first payload block).
                let j0 = (self.ivr() & !0xFFFF_FFFF) | 1;
                self.out_block = Some(s ^ self.cipher().encrypt(j0));
            }
            Op::CcmInit => {
                // IVR holds B0: the MAC starts as E(B0), and IVR becomes the first counter
                // block Ctr1 (flags reduced to q-1, counter = 1).
                let b0 = self.ivr();
                self.set_acc(self.cipher().encrypt(b0));
                let flags = (b0 >> 120) & 7;
                let mask = ccm_counter_mask(b0);
                let ctr1 = (b0 & !(0xFF << 120) & !mask) | (flags << 120) | 1;
                self.set_ivr(ctr1);
                self.cr &= !CR_EN;
            }
            Op::CcmHeader(block) => {
                let mac = self.cipher().encrypt(self.acc() ^ block);
                self.set_acc(mac);
            }
            Op::CcmPayload {
                decrypt,
                input,
                npblb,
            } => {
                let ctr = self.ivr();
                let out = input ^ self.cipher().encrypt(ctr);
                let mask = ccm_counter_mask(ctr);
                self.set_ivr((ctr & !mask) | (ctr.wrapping_add(1) & mask));
                let plaintext = if decrypt { out } else { input };
                let mac = self
                    .cipher()
                    .encrypt(self.acc() ^ mask_padding(plaintext, npblb));
                self.set_acc(mac);
                self.out_block = Some(out);
            }
            Op::CcmFinal => {
                let ctr0 = self.ivr() & !ccm_counter_mask(self.ivr());
                self.out_block = Some(self.acc() ^ self.cipher().encrypt(ctr0));
            }
        }
    }

    /// One ECB/CBC/CTR block (reserved CHMOD values behave as ECB).
    fn chain_block(&mut self, chain: Chain, mode: Mode, input: u128) -> u128 {
        match (chain, mode) {
            (Chain::Ctr, _) => {
                // The core always encrypts the counter block; only the 32-bit counter moves.
                let ctr = self.ivr();
                self.set_ivr(inc32(ctr));
                input ^ self.cipher().encrypt(ctr)
            }
            (Chain::Cbc, Mode::Encrypt) => {
                let out = self.cipher().encrypt(input ^ self.ivr());
                self.set_ivr(out);
                out
            }
            (Chain::Cbc, _) => {
                let out = self.block_decrypt(mode, input) ^ self.ivr();
                self.set_ivr(input);
                out
            }
            (_, Mode::Encrypt) => self.cipher().encrypt(input),
            _ => self.block_decrypt(mode, input),
        }
    }

    fn block_decrypt(&self, mode: Mode, input: u128) -> u128 {
        match mode {
            // Mode 4 derives internally; KEYRx keep the encryption key.
            Mode::DeriveDecrypt => self.cipher().decrypt(input),
            _ => self.decryption_cipher().decrypt(input),
        }
    }
}

impl Peripheral for Aes {
    fn name(&self) -> &'static str {
        self.instance.name()
    }

    fn size(&self) -> u32 {
        0x400
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        let offset = offset & !3;
        if offset > reg::SUSP7R {
            return Err(BusError::Unmapped);
        }
        // "AES is an AMBA AHB slave peripheral accessible through 32-bit single accesses only.
        // Other access types generate an AHB error" (RM0434 §25.1).
        if access.width != Width::Word {
            return Err(BusError::Width);
        }
        self.advance(access.now);
        let value = match offset {
            reg::CR => self.cr,
            reg::SR => self.sr | if self.pending.is_some() { SR_BUSY } else { 0 },
            reg::DINR => {
                self.note(Note::DinrRead, "DINR read: returns 0");
                0
            }
            reg::DOUTR => self.read_doutr(),
            reg::KEYR0..=reg::KEYR3 => self.keyr[key_index(offset)],
            reg::KEYR4..=reg::KEYR7 => self.keyr[key_index(offset)],
            reg::IVR0..=reg::IVR3 => self.ivr[((offset - reg::IVR0) / 4) as usize],
            // "These registers can be read only when AES is enabled. Reading these registers
            // while AES is disabled returns 0x0000 0000."
            _ if self.enabled() => self.susp[((offset - reg::SUSP0R) / 4) as usize],
            _ => 0,
        };
        Ok(value)
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        let offset = offset & !3;
        if offset > reg::SUSP7R {
            return Err(BusError::Unmapped);
        }
        if access.width != Width::Word {
            return Err(BusError::Width);
        }
        self.advance(access.now);
        match offset {
            reg::CR => self.write_cr(value),
            // Read-only.
            reg::SR | reg::DOUTR => {}
            reg::DINR => self.write_dinr(value),
            reg::KEYR0..=reg::KEYR3 | reg::KEYR4..=reg::KEYR7 => {
                // "may be written only when ... the AES peripheral is disabled".
                if self.enabled() {
                    self.note(Note::KeyWhileEnabled, "KEYRx written while EN=1: ignored");
                } else {
                    self.keyr[key_index(offset)] = value;
                }
            }
            reg::IVR0..=reg::IVR3 => {
                // "Write operations to the AES_IVRx registers when the AES peripheral is
                // enabled have no effect to the register contents."
                if self.enabled() {
                    self.note(Note::IvWhileEnabled, "IVRx written while EN=1: ignored");
                } else {
                    self.ivr[((offset - reg::IVR0) / 4) as usize] = value;
                }
            }
            _ => {
                // Software restores them with EN=0 (RM0434 §25.4.10 resume sequence).
                if self.enabled() {
                    self.note(Note::SuspWhileEnabled, "SUSPxR written while EN=1: ignored");
                } else {
                    self.susp[((offset - reg::SUSP0R) / 4) as usize] = value;
                }
            }
        }
        Ok(())
    }

    fn reset(&mut self, _kind: ResetKind) {
        // Every AES register resets to 0 (RM0434 §25.7); the clock and time come from outside.
        *self = Aes {
            clock_hz: self.clock_hz,
            now: self.now,
            noted: self.noted,
            ..Aes::new(self.instance)
        };
    }

    fn next_event(&self) -> Option<Picos> {
        self.pending.map(|p| p.done_at)
    }

    fn advance(&mut self, now: Picos) {
        self.now = self.now.max(now);
        if let Some(p) = self.pending {
            if p.done_at <= self.now {
                self.complete(p.op);
            }
        }
    }

    fn set_clock_hz(&mut self, hz: u64) {
        // A computation in flight keeps the completion time it started with.
        self.clock_hz = hz;
    }

    fn irq_lines(&self) -> u32 {
        let ccf = self.sr & SR_CCF != 0 && self.cr & CR_CCFIE != 0;
        let err = self.sr & (SR_RDERR | SR_WRERR) != 0 && self.cr & CR_ERRIE != 0;
        u32::from(ccf || err)
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

/// Index in `keyr` of KEYR0..7 (offset already checked to be a key register).
fn key_index(offset: u32) -> usize {
    if offset >= reg::KEYR4 {
        4 + ((offset - reg::KEYR4) / 4) as usize
    } else {
        ((offset - reg::KEYR0) / 4) as usize
    }
}

/// DATATYPE swapping of one 32-bit word (RM0434 Figure 152); each is its own inverse.
fn swap(word: u32, datatype: u32) -> u32 {
    match datatype {
        0 => word,
        1 => word.rotate_left(16),
        2 => word.swap_bytes(),
        _ => word.reverse_bits(),
    }
}

/// Words 0..n (word 0 least significant) as a 128-bit value.
fn words_to_u128(words: &[u32]) -> u128 {
    words
        .iter()
        .rev()
        .fold(0u128, |acc, &w| (acc << 32) | u128::from(w))
}

fn u128_to_words(v: u128) -> [u32; 4] {
    [
        v as u32,
        (v >> 32) as u32,
        (v >> 64) as u32,
        (v >> 96) as u32,
    ]
}

/// GCM's inc32: the low 32 bits count, modulo 2^32.
fn inc32(block: u128) -> u128 {
    (block & !0xFFFF_FFFF) | u128::from((block as u32).wrapping_add(1))
}

/// The counter field of a CCM counter block: the low q bytes, q = (flags & 7) + 1, at most 8
/// ("The AES peripheral in CCM mode supports counters up to 64 bits").
fn ccm_counter_mask(block: u128) -> u128 {
    let q = (((block >> 120) as u32) & 7) + 1;
    (1u128 << (8 * q.min(8))) - 1
}

/// Zero the NPBLB least significant (last) bytes of a block before authentication.
fn mask_padding(block: u128, npblb: u32) -> u128 {
    if npblb == 0 {
        block
    } else {
        block & !((1u128 << (8 * npblb)) - 1)
    }
}

/// Multiplication in GF(2^128) as GCM defines it (SP 800-38D Algorithm 1); bit 0 of a block
/// is the most significant bit of the u128.
fn gf128_mul(x: u128, y: u128) -> u128 {
    const R: u128 = 0xE1 << 120;
    let mut z = 0;
    let mut v = y;
    for i in (0..128).rev() {
        if (x >> i) & 1 == 1 {
            z ^= v;
        }
        v = if v & 1 == 0 { v >> 1 } else { (v >> 1) ^ R };
    }
    z
}

/// The `aes` crate cipher for the current key size.
enum BlockCipher {
    A128(Box<Aes128>),
    A256(Box<Aes256>),
}

impl BlockCipher {
    /// Key bytes in FIPS-197 order: the most significant register (KEYR3 or KEYR7) first.
    fn new(keyr: &[u32; 8], key256: bool) -> BlockCipher {
        let mut bytes = [0u8; 32];
        let n = if key256 { 8 } else { 4 };
        for (i, chunk) in bytes.chunks_exact_mut(4).take(n).enumerate() {
            chunk.copy_from_slice(&keyr[n - 1 - i].to_be_bytes());
        }
        if key256 {
            BlockCipher::A256(Box::new(Aes256::new(&bytes.into())))
        } else {
            let mut k = [0u8; 16];
            k.copy_from_slice(&bytes[..16]);
            BlockCipher::A128(Box::new(Aes128::new(&k.into())))
        }
    }

    fn encrypt(&self, block: u128) -> u128 {
        let mut b = aes::Block::from(block.to_be_bytes());
        match self {
            BlockCipher::A128(c) => c.encrypt_block(&mut b),
            BlockCipher::A256(c) => c.encrypt_block(&mut b),
        }
        u128::from_be_bytes(b.into())
    }

    fn decrypt(&self, block: u128) -> u128 {
        let mut b = aes::Block::from(block.to_be_bytes());
        match self {
            BlockCipher::A128(c) => c.decrypt_block(&mut b),
            BlockCipher::A256(c) => c.decrypt_block(&mut b),
        }
        u128::from_be_bytes(b.into())
    }
}

// ---- Key schedule (FIPS-197 §5.2), for the derived decryption key of Mode 2. ----
//
// The derived key is the end of the expanded key: the last round key (words w[40..44]) for
// AES-128, the last two round keys (w[52..60]) for AES-256, from which the schedule can be run
// backwards. It is laid out in KEYRx like the key itself: the first word in the highest
// register (KEYR3 or KEYR7), RM0434 Figure 135 (DK3 = MSB).

/// The AES S-box, computed: multiplicative inverse in GF(2^8) then the affine map.
const SBOX: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut x = 0;
    while x < 256 {
        // x^254 is the inverse (and 0 maps to 0).
        let mut inv = 1u8;
        let mut i = 0;
        while i < 254 {
            inv = gf8_mul(inv, x as u8);
            i += 1;
        }
        if x == 0 {
            inv = 0;
        }
        table[x] = inv
            ^ inv.rotate_left(1)
            ^ inv.rotate_left(2)
            ^ inv.rotate_left(3)
            ^ inv.rotate_left(4)
            ^ 0x63;
        x += 1;
    }
    table
};

const fn gf8_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        a = if a & 0x80 != 0 {
            (a << 1) ^ 0x1B
        } else {
            a << 1
        };
        b >>= 1;
    }
    p
}

fn sub_word(w: u32) -> u32 {
    u32::from_be_bytes(w.to_be_bytes().map(|b| SBOX[usize::from(b)]))
}

/// The word that w[i - nk] is XORed with to give w[i].
fn schedule_temp(prev: u32, i: usize, nk: usize) -> u32 {
    if i.is_multiple_of(nk) {
        let mut rcon = 1u8;
        for _ in 1..i / nk {
            rcon = gf8_mul(rcon, 2);
        }
        sub_word(prev.rotate_left(8)) ^ (u32::from(rcon) << 24)
    } else if nk > 6 && i % nk == 4 {
        sub_word(prev)
    } else {
        prev
    }
}

/// Total schedule words: 44 (AES-128) or 60 (AES-256).
fn schedule_len(nk: usize) -> usize {
    4 * (nk + 7)
}

/// The key (schedule words w[0..nk]) → the last nk words of its expansion.
fn derive_schedule(key: &[u32; 8], nk: usize) -> [u32; 8] {
    let n = schedule_len(nk);
    let mut w = [0u32; 60];
    w[..nk].copy_from_slice(&key[..nk]);
    for i in nk..n {
        w[i] = w[i - nk] ^ schedule_temp(w[i - 1], i, nk);
    }
    let mut out = [0u32; 8];
    out[..nk].copy_from_slice(&w[n - nk..n]);
    out
}

/// The last nk words of an expansion → the key (w[0..nk]).
fn invert_schedule(last: &[u32; 8], nk: usize) -> [u32; 8] {
    let n = schedule_len(nk);
    let mut w = [0u32; 60];
    w[n - nk..n].copy_from_slice(&last[..nk]);
    for i in (nk..n).rev() {
        w[i - nk] = w[i] ^ schedule_temp(w[i - 1], i, nk);
    }
    let mut out = [0u32; 8];
    out[..nk].copy_from_slice(&w[..nk]);
    out
}

/// KEYR0..KEYR(nk-1) → schedule order (w[0] = most significant = KEYR(nk-1)).
fn schedule_from_keyr(keyr: &[u32; 8], nk: usize) -> [u32; 8] {
    let mut w = [0u32; 8];
    for i in 0..nk {
        w[i] = keyr[nk - 1 - i];
    }
    w
}

/// The inverse of `schedule_from_keyr`.
fn keyr_from_schedule(w: &[u32; 8], nk: usize) -> [u32; 8] {
    schedule_from_keyr(w, nk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoreId;
    use proptest::prelude::*;

    const CHMOD_ECB: u32 = 0;
    const CHMOD_CBC: u32 = 1;
    const CHMOD_CTR: u32 = 2;
    const CHMOD_GCM: u32 = 3;
    const CHMOD_CCM: u32 = 4;

    const MODE_ENCRYPT: u32 = 0 << CR_MODE_SHIFT;
    const MODE_KEYDERIVATION: u32 = 1 << CR_MODE_SHIFT;
    const MODE_DECRYPT: u32 = 2 << CR_MODE_SHIFT;
    const MODE_KEYDERIVATION_DECRYPT: u32 = 3 << CR_MODE_SHIFT;

    const PHASE_INIT: u32 = 0;
    const PHASE_HEADER: u32 = 1 << CR_GCMPH_SHIFT;
    const PHASE_PAYLOAD: u32 = 2 << CR_GCMPH_SHIFT;
    const PHASE_FINAL: u32 = 3 << CR_GCMPH_SHIFT;

    const fn chmod(c: u32) -> u32 {
        ((c & 3) << CR_CHMOD_LO_SHIFT) | if c & 4 != 0 { CR_CHMOD2 } else { 0 }
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn block_words(bytes: &[u8]) -> [u32; 4] {
        let mut b = [0u8; 16];
        b[..bytes.len()].copy_from_slice(bytes);
        [0, 1, 2, 3]
            .map(|i| u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]))
    }

    /// Drives the peripheral through its registers the way ST's HAL_CRYP / HAL_CRYPEx do for
    /// the AES IP (stm32wbxx_hal_cryp.c, stm32wbxx_hal_cryp_ex.c), polling SR.CCF. Data words
    /// are given as big-endian words of the message (DATATYPE = none).
    struct Hal {
        aes: Aes,
        now: Picos,
    }

    impl Hal {
        fn new() -> Hal {
            Hal {
                aes: Aes::new(AesInstance::Aes1),
                now: 0,
            }
        }

        fn access(&self) -> Access {
            Access {
                core: CoreId::Cpu1,
                width: Width::Word,
                now: self.now,
            }
        }

        fn wr(&mut self, offset: u32, value: u32) {
            let a = self.access();
            self.aes.write(offset, value, a).unwrap();
        }

        fn rd(&mut self, offset: u32) -> u32 {
            let a = self.access();
            self.aes.read(offset, a).unwrap()
        }

        /// MODIFY_REG(CR, mask, value).
        fn modify_cr(&mut self, mask: u32, value: u32) {
            let cr = self.rd(reg::CR);
            self.wr(reg::CR, (cr & !mask) | value);
        }

        fn enable(&mut self) {
            self.modify_cr(0, CR_EN);
        }

        fn disable(&mut self) {
            self.modify_cr(CR_EN, 0);
        }

        fn sr(&mut self) -> u32 {
            self.rd(reg::SR)
        }

        /// CRYP_WaitOnCCFlag: poll SR until CCF, the simulated clock moving to the next event.
        fn wait_ccf(&mut self) {
            while self.sr() & SR_CCF == 0 {
                self.now = self
                    .aes
                    .next_event()
                    .expect("CCF awaited but nothing computes");
                self.aes.advance(self.now);
            }
        }

        /// __HAL_CRYP_CLEAR_FLAG(hcryp, CRYP_CCF_CLEAR).
        fn clear_ccf(&mut self) {
            self.modify_cr(0, CR_CCFC);
        }

        /// HAL_CRYP_Init / SetConfig: DATATYPE, KEYSIZE, CHMOD with EN cleared.
        fn config(&mut self, chain: u32, key_len: usize) {
            let keysize = if key_len == 32 { CR_KEYSIZE } else { 0 };
            self.modify_cr(
                CR_EN | CR_DATATYPE | CR_KEYSIZE | CR_CHMOD,
                keysize | chmod(chain),
            );
        }

        /// CRYP_SetKey: KEYR3 (or KEYR7) takes the first key word.
        fn set_key(&mut self, key: &[u8]) {
            let regs: &[u32] = if key.len() == 32 {
                &[
                    reg::KEYR7,
                    reg::KEYR6,
                    reg::KEYR5,
                    reg::KEYR4,
                    reg::KEYR3,
                    reg::KEYR2,
                    reg::KEYR1,
                    reg::KEYR0,
                ]
            } else {
                &[reg::KEYR3, reg::KEYR2, reg::KEYR1, reg::KEYR0]
            };
            for (r, chunk) in regs.iter().zip(key.chunks(4)) {
                self.wr(*r, u32::from_be_bytes(chunk.try_into().unwrap()));
            }
        }

        /// IVR3 takes the first IV word.
        fn set_iv(&mut self, iv: &[u8]) {
            let w = block_words(iv);
            self.wr(reg::IVR3, w[0]);
            self.wr(reg::IVR2, w[1]);
            self.wr(reg::IVR1, w[2]);
            self.wr(reg::IVR0, w[3]);
        }

        fn iv(&mut self) -> [u32; 4] {
            [reg::IVR3, reg::IVR2, reg::IVR1, reg::IVR0].map(|r| self.rd(r))
        }

        fn write_block(&mut self, words: [u32; 4]) {
            for w in words {
                self.wr(reg::DINR, w);
            }
        }

        fn read_block(&mut self) -> [u32; 4] {
            [0; 4].map(|_| self.rd(reg::DOUTR))
        }

        /// Write a (zero-padded) block, wait, optionally read the result, clear CCF.
        fn process(&mut self, data: &[u8], read: bool) -> Vec<u8> {
            self.write_block(block_words(data));
            self.wait_ccf();
            let out = if read {
                self.read_block()
                    .iter()
                    .flat_map(|w| w.to_be_bytes())
                    .take(data.len())
                    .collect()
            } else {
                Vec::new()
            };
            self.clear_ccf();
            out
        }

        /// Key derivation (Mode 2) as CRYP_AES_Decrypt does before ECB/CBC Mode 3.
        fn derive_key(&mut self) {
            self.modify_cr(CR_MODE, MODE_KEYDERIVATION);
            self.enable();
            self.wait_ccf();
            self.clear_ccf();
            assert_eq!(
                self.rd(reg::CR) & CR_EN,
                0,
                "EN self-clears after derivation"
            );
        }

        /// HAL_CRYP_Encrypt for ECB/CBC/CTR.
        fn encrypt(&mut self, chain: u32, key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
            self.config(chain, key.len());
            self.set_key(key);
            self.modify_cr(CR_MODE, MODE_ENCRYPT);
            if chain != CHMOD_ECB {
                self.set_iv(iv);
            }
            self.enable();
            let out = data
                .chunks(16)
                .flat_map(|b| self.process(b, true))
                .collect();
            self.disable();
            out
        }

        /// HAL_CRYP_Decrypt for ECB/CBC/CTR: key derivation then Mode 3, or Mode 4.
        fn decrypt(
            &mut self,
            chain: u32,
            key: &[u8],
            iv: &[u8],
            data: &[u8],
            mode4: bool,
        ) -> Vec<u8> {
            self.config(chain, key.len());
            self.set_key(key);
            if chain == CHMOD_CTR {
                self.modify_cr(CR_MODE, MODE_DECRYPT);
            } else if mode4 {
                self.modify_cr(CR_MODE, MODE_KEYDERIVATION_DECRYPT);
            } else {
                self.derive_key();
                self.modify_cr(CR_MODE, MODE_DECRYPT);
            }
            if chain != CHMOD_ECB {
                self.set_iv(iv);
            }
            let mut out = Vec::new();
            for block in data.chunks(16) {
                // Mode 4 does a single decryption per enable.
                if mode4 || out.is_empty() {
                    self.enable();
                }
                out.extend(self.process(block, true));
                if mode4 {
                    self.disable();
                }
            }
            self.disable();
            out
        }

        /// Set NPBLB before the last block when it is partial.
        fn set_npblb(&mut self, last_len: usize) {
            let npblb = (16 - last_len as u32) % 16;
            self.modify_cr(CR_NPBLB, npblb << CR_NPBLB_SHIFT);
        }

        /// HAL_CRYP_Encrypt/Decrypt (AES GCM) + HAL_CRYPEx_AESGCM_GenerateAuthTAG. `iv` is the
        /// 96-bit IV; the HAL user supplies it with the counter at 2.
        fn gcm(
            &mut self,
            key: &[u8],
            iv: &[u8],
            aad: &[u8],
            data: &[u8],
            decrypt: bool,
        ) -> (Vec<u8>, Vec<u8>) {
            self.config(CHMOD_GCM, key.len());
            // Init phase.
            self.modify_cr(
                CR_GCMPH | CR_MODE,
                PHASE_INIT | if decrypt { MODE_DECRYPT } else { MODE_ENCRYPT },
            );
            self.set_key(key);
            let mut icb = iv.to_vec();
            icb.extend_from_slice(&[0, 0, 0, 2]);
            self.set_iv(&icb);
            self.enable();
            self.wait_ccf();
            self.clear_ccf();
            assert_eq!(self.rd(reg::CR) & CR_EN, 0, "EN self-clears after GCM init");
            // Header phase (skipped without AAD).
            if !aad.is_empty() {
                self.modify_cr(CR_GCMPH, PHASE_HEADER);
                self.enable();
                for block in aad.chunks(16) {
                    self.process(block, false);
                }
            }
            // Payload phase (skipped without payload).
            let mut out = Vec::new();
            if !data.is_empty() {
                // The HAL zeroes NPBLB when it selects the payload phase.
                self.modify_cr(CR_GCMPH | CR_NPBLB, PHASE_PAYLOAD);
                if aad.is_empty() {
                    self.enable();
                }
                let blocks: Vec<&[u8]> = data.chunks(16).collect();
                for (i, block) in blocks.iter().enumerate() {
                    if i == blocks.len() - 1 && !decrypt {
                        self.set_npblb(block.len());
                    }
                    out.extend(self.process(block, true));
                }
            }
            // Final phase: lengths in bits, not swapped.
            self.modify_cr(CR_GCMPH, PHASE_FINAL);
            if aad.is_empty() && data.is_empty() {
                self.enable();
            }
            // The HAL also selects encryption here; with EN=1 the write is ignored.
            self.modify_cr(CR_MODE, MODE_ENCRYPT);
            self.write_block([0, (aad.len() * 8) as u32, 0, (data.len() * 8) as u32]);
            self.wait_ccf();
            let tag = self
                .read_block()
                .iter()
                .flat_map(|w| w.to_be_bytes())
                .collect();
            self.clear_ccf();
            self.disable();
            (out, tag)
        }

        /// HAL_CRYP_Encrypt/Decrypt (AES CCM) + HAL_CRYPEx_AESCCM_GenerateAuthTAG. Software
        /// formats B0 and the associated-data blocks (SP 800-38C §A.2).
        fn ccm(
            &mut self,
            key: &[u8],
            nonce: &[u8],
            aad: &[u8],
            data: &[u8],
            tag_len: usize,
            decrypt: bool,
        ) -> (Vec<u8>, Vec<u8>) {
            let q = 15 - nonce.len();
            let mut b0 = vec![
                (u8::from(!aad.is_empty()) << 6) | (((tag_len as u8 - 2) / 2) << 3) | (q as u8 - 1),
            ];
            b0.extend_from_slice(nonce);
            b0.extend_from_slice(&(data.len() as u64).to_be_bytes()[8 - q..]);
            let mut header = Vec::new();
            if !aad.is_empty() {
                header.extend_from_slice(&(aad.len() as u16).to_be_bytes());
                header.extend_from_slice(aad);
            }

            self.config(CHMOD_CCM, key.len());
            self.modify_cr(
                CR_GCMPH | CR_MODE,
                PHASE_INIT | if decrypt { MODE_DECRYPT } else { MODE_ENCRYPT },
            );
            self.set_key(key);
            self.set_iv(&b0);
            self.enable();
            self.wait_ccf();
            self.clear_ccf();
            assert_eq!(self.rd(reg::CR) & CR_EN, 0, "EN self-clears after CCM init");
            if !header.is_empty() {
                self.modify_cr(CR_GCMPH, PHASE_HEADER);
                self.enable();
                for block in header.chunks(16) {
                    self.process(block, false);
                }
            }
            let mut out = Vec::new();
            if !data.is_empty() {
                self.modify_cr(CR_GCMPH | CR_NPBLB, PHASE_PAYLOAD);
                if header.is_empty() {
                    self.enable();
                }
                let blocks: Vec<&[u8]> = data.chunks(16).collect();
                for (i, block) in blocks.iter().enumerate() {
                    if i == blocks.len() - 1 && decrypt {
                        self.set_npblb(block.len());
                    }
                    out.extend(self.process(block, true));
                }
            }
            // Final phase: selecting it starts the tag computation.
            if header.is_empty() && data.is_empty() {
                self.modify_cr(CR_GCMPH, PHASE_FINAL);
                self.enable();
            } else {
                self.modify_cr(CR_GCMPH, PHASE_FINAL);
            }
            self.modify_cr(CR_MODE, MODE_ENCRYPT);
            self.wait_ccf();
            let tag: Vec<u8> = self
                .read_block()
                .iter()
                .flat_map(|w| w.to_be_bytes())
                .collect();
            self.clear_ccf();
            self.disable();
            (out, tag[..tag_len].to_vec())
        }
    }

    // ---- Known-answer tests ----

    #[test]
    fn sbox_and_key_schedule_match_fips197() {
        assert_eq!(
            (SBOX[0x00], SBOX[0x01], SBOX[0x53], SBOX[0xFF]),
            (0x63, 0x7C, 0xED, 0x16)
        );
        // FIPS-197 Appendix A.1: the last round key of 2b7e1516 28aed2a6 abf71588 09cf4f3c.
        let mut key = [0u32; 8];
        key[..4].copy_from_slice(&[0x2b7e1516, 0x28aed2a6, 0xabf71588, 0x09cf4f3c]);
        let last = derive_schedule(&key, 4);
        assert_eq!(last[..4], [0xd014f9a8, 0xc9ee2589, 0xe13f0cc8, 0xb6630ca6]);
        assert_eq!(invert_schedule(&last, 4), key);
        // FIPS-197 Appendix A.3 (256-bit key): w[52..60].
        let key256 = [
            0x603deb10, 0x15ca71be, 0x2b73aef0, 0x857d7781, 0x1f352c07, 0x3b6108d7, 0x2d9810a3,
            0x0914dff4,
        ];
        let last = derive_schedule(&key256, 8);
        assert_eq!(
            last,
            [
                0xcafaaae3, 0xe4d59b34, 0x9adf6ace, 0xbd10190d, 0xfe4890d1, 0xe6188d0b, 0x046df344,
                0x706c631e
            ]
        );
        assert_eq!(invert_schedule(&last, 8), key256);
    }

    const K128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const K256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    const SP800_38A_PLAIN: &str =
        "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
        30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
    const IV_CBC: &str = "000102030405060708090a0b0c0d0e0f";
    const IV_CTR: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

    /// SP 800-38A Appendix F: (chaining, key, iv, ciphertext).
    fn sp800_38a_vectors() -> Vec<(u32, &'static str, &'static str, &'static str)> {
        vec![
            // F.1.1 / F.1.2 ECB-AES128.
            (
                CHMOD_ECB,
                K128,
                IV_CBC,
                "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf
                43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4",
            ),
            // F.1.5 / F.1.6 ECB-AES256.
            (
                CHMOD_ECB,
                K256,
                IV_CBC,
                "f3eed1bdb5d2a03c064b5a7e3db181f8 591ccb10d410ed26dc5ba74a31362870
                b6ed21b99ca6f4f9f153e7b1beafed1d 23304b7a39f9f3ff067d8d8f9e24ecc7",
            ),
            // F.2.1 / F.2.2 CBC-AES128.
            (
                CHMOD_CBC,
                K128,
                IV_CBC,
                "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
                73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
            ),
            // F.2.5 / F.2.6 CBC-AES256.
            (
                CHMOD_CBC,
                K256,
                IV_CBC,
                "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d
                39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
            ),
            // F.5.1 / F.5.2 CTR-AES128.
            (
                CHMOD_CTR,
                K128,
                IV_CTR,
                "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff
                5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee",
            ),
            // F.5.5 / F.5.6 CTR-AES256.
            (
                CHMOD_CTR,
                K256,
                IV_CTR,
                "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5
                2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6",
            ),
        ]
    }

    #[test]
    fn sp800_38a_encryption() {
        for (chain, key, iv, ct) in sp800_38a_vectors() {
            let mut hal = Hal::new();
            let out = hal.encrypt(chain, &hex(key), &hex(iv), &hex(SP800_38A_PLAIN));
            assert_eq!(out, hex(ct), "chain {chain} key {key}");
        }
    }

    #[test]
    fn sp800_38a_decryption_with_key_derivation_and_with_mode4() {
        for (chain, key, iv, ct) in sp800_38a_vectors() {
            for mode4 in [false, true] {
                if chain == CHMOD_CTR && mode4 {
                    continue;
                }
                let mut hal = Hal::new();
                let out = hal.decrypt(chain, &hex(key), &hex(iv), &hex(ct), mode4);
                assert_eq!(
                    out,
                    hex(SP800_38A_PLAIN),
                    "chain {chain} key {key} mode4 {mode4}"
                );
            }
        }
    }

    #[test]
    fn key_derivation_leaves_the_last_round_key_in_keyr() {
        let mut hal = Hal::new();
        hal.config(CHMOD_ECB, 16);
        hal.set_key(&hex(K128));
        hal.derive_key();
        let keyr = [reg::KEYR3, reg::KEYR2, reg::KEYR1, reg::KEYR0].map(|r| hal.rd(r));
        assert_eq!(keyr, [0xd014f9a8, 0xc9ee2589, 0xe13f0cc8, 0xb6630ca6]);
        // Resume with the saved derived key: Mode 3 directly, no new derivation.
        let mut hal2 = Hal::new();
        hal2.config(CHMOD_ECB, 16);
        for (r, v) in [reg::KEYR3, reg::KEYR2, reg::KEYR1, reg::KEYR0]
            .into_iter()
            .zip(keyr)
        {
            hal2.wr(r, v);
        }
        hal2.modify_cr(CR_MODE, MODE_DECRYPT);
        hal2.enable();
        let pt = hal2.process(&hex("3ad77bb40d7a3660a89ecaf32466ef97"), true);
        assert_eq!(pt, hex("6bc1bee22e409f96e93d7e117393172a"));
        // Mode 4 leaves the encryption key in KEYRx.
        let mut hal3 = Hal::new();
        hal3.decrypt(
            CHMOD_ECB,
            &hex(K128),
            &[],
            &hex("3ad77bb40d7a3660a89ecaf32466ef97"),
            true,
        );
        assert_eq!(hal3.rd(reg::KEYR3), 0x2b7e1516);
    }

    #[test]
    fn cbc_and_ctr_update_the_iv_registers() {
        let mut hal = Hal::new();
        hal.config(CHMOD_CBC, 16);
        hal.set_key(&hex(K128));
        hal.set_iv(&hex(IV_CBC));
        hal.enable();
        hal.process(&hex("6bc1bee22e409f96e93d7e117393172a"), true);
        // CBC: IVR holds the last ciphertext block (what software saves to suspend).
        assert_eq!(
            hal.iv(),
            block_words(&hex("7649abac8119b246cee98e9b12e9197d"))
        );
        let mut hal = Hal::new();
        hal.encrypt(CHMOD_CTR, &hex(K128), &hex(IV_CTR), &hex(SP800_38A_PLAIN));
        assert_eq!(hal.iv(), [0xf0f1f2f3, 0xf4f5f6f7, 0xf8f9fafb, 0xfcfdff03]);
    }

    /// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 1-4, 13-16:
    /// (key, iv, aad, plaintext, ciphertext, tag).
    fn gcm_vectors() -> Vec<[&'static str; 6]> {
        const K3: &str = "feffe9928665731c6d6a8f9467308308";
        const IV3: &str = "cafebabefacedbaddecaf888";
        const P3: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
            1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
        const P4: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
            1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
        const A4: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
        const Z16: &str = "00000000000000000000000000000000";
        const Z12: &str = "000000000000000000000000";
        const K15: &str = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
        const Z32: &str = "0000000000000000000000000000000000000000000000000000000000000000";
        vec![
            [Z16, Z12, "", "", "", "58e2fccefa7e3061367f1d57a4e7455a"],
            [
                Z16,
                Z12,
                "",
                Z16,
                "0388dace60b6a392f328c2b971b2fe78",
                "ab6e47d42cec13bdf53a67b21257bddf",
            ],
            [
                K3,
                IV3,
                "",
                P3,
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
                21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
                "4d5c2af327cd64a62cf35abd2ba6fab4",
            ],
            // 60-byte payload: the last block is partial (NPBLB = 4).
            [
                K3,
                IV3,
                A4,
                P4,
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
                21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                "5bc94fbc3221a5db94fae95ae7121a47",
            ],
            [Z32, Z12, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"],
            [
                Z32,
                Z12,
                "",
                Z16,
                "cea7403d4d606b6e074ec5d3baf39d18",
                "d0d1c8a799996bf0265b98b5d48ab919",
            ],
            [
                K15,
                IV3,
                "",
                P3,
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
                8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
                "b094dac5d93471bdec1a502270e3cc6c",
            ],
            [
                K15,
                IV3,
                A4,
                P4,
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
                8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                "76fc6ece0f4e1768cddf8853bb2d551b",
            ],
            // GMAC (header only): NIST CAVS gcmEncryptExtIV128, Keylen 128 IVlen 96 PTlen 0
            // AADlen 128, Count 0.
            [
                "77be63708971c4e240d1cb79e8d77feb",
                "e0e00f19fed7ba0136a797f3",
                "7a43ec1d9c0a5a78a0b16533a6213cab",
                "",
                "",
                "209fcc8d3675ed938e9c7166709dd946",
            ],
        ]
    }

    #[test]
    fn gcm_test_vectors_encrypt_and_decrypt() {
        for [key, iv, aad, pt, ct, tag] in gcm_vectors() {
            let mut hal = Hal::new();
            let (out, t) = hal.gcm(&hex(key), &hex(iv), &hex(aad), &hex(pt), false);
            assert_eq!((out, t), (hex(ct), hex(tag)), "encrypt key {key} aad {aad}");
            let (out, t) = hal.gcm(&hex(key), &hex(iv), &hex(aad), &hex(ct), true);
            assert_eq!((out, t), (hex(pt), hex(tag)), "decrypt key {key} aad {aad}");
        }
    }

    /// SP 800-38C Appendix C.1-C.3: (key, nonce, aad, plaintext, ciphertext, tag).
    fn ccm_vectors() -> Vec<[&'static str; 6]> {
        const K: &str = "404142434445464748494a4b4c4d4e4f";
        vec![
            // 4-byte payload: one partial block.
            [
                K,
                "10111213141516",
                "0001020304050607",
                "20212223",
                "7162015b",
                "4dac255d",
            ],
            [
                K,
                "1011121314151617",
                "000102030405060708090a0b0c0d0e0f",
                "202122232425262728292a2b2c2d2e2f",
                "d2a1f0e051ea5f62081a7792073d593d",
                "1fc64fbfaccd",
            ],
            // 24-byte payload: the second block is partial.
            [
                K,
                "101112131415161718191a1b",
                "000102030405060708090a0b0c0d0e0f10111213",
                "202122232425262728292a2b2c2d2e2f3031323334353637",
                "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5",
                "484392fbc1b09951",
            ],
        ]
    }

    #[test]
    fn ccm_test_vectors_encrypt_and_decrypt() {
        for [key, nonce, aad, pt, ct, tag] in ccm_vectors() {
            let tag_len = tag.len() / 2;
            let mut hal = Hal::new();
            let (out, t) = hal.ccm(&hex(key), &hex(nonce), &hex(aad), &hex(pt), tag_len, false);
            assert_eq!((out, t), (hex(ct), hex(tag)), "encrypt nonce {nonce}");
            let (out, t) = hal.ccm(&hex(key), &hex(nonce), &hex(aad), &hex(ct), tag_len, true);
            assert_eq!((out, t), (hex(pt), hex(tag)), "decrypt nonce {nonce}");
        }
    }

    #[test]
    fn ccm_init_turns_b0_into_the_first_counter_block() {
        // SP 800-38C C.1 (RM0434 §25.4.12 quotes it): B0 4F101112 13141516 00000000 00000004
        // gives CTR1 07101112 13141516 00000000 00000001.
        let mut hal = Hal::new();
        hal.config(CHMOD_CCM, 16);
        hal.set_key(&hex("404142434445464748494a4b4c4d4e4f"));
        hal.set_iv(&hex("4F101112131415160000000000000004"));
        hal.enable();
        hal.wait_ccf();
        assert_eq!(hal.iv(), [0x07101112, 0x13141516, 0, 1]);
    }

    // ---- Register behaviour ----

    fn at(now: Picos) -> Access {
        Access {
            core: CoreId::Cpu1,
            width: Width::Word,
            now,
        }
    }

    /// An enabled ECB encryption ready for data.
    fn ecb_ready(key256: bool) -> Hal {
        let mut hal = Hal::new();
        let key = if key256 { hex(K256) } else { hex(K128) };
        hal.config(CHMOD_ECB, key.len());
        hal.set_key(&key);
        hal.enable();
        hal
    }

    #[test]
    fn datatype_swaps_input_and_output_words() {
        let pt = hex("6bc1bee22e409f96e93d7e117393172a");
        let ct = hex("3ad77bb40d7a3660a89ecaf32466ef97");
        // Byte swapping: the message bytes as they lie in memory, loaded as little-endian
        // words by the Cortex-M (an ASCII stream, RM0434 §25.4.13).
        let mut hal = ecb_ready(false);
        hal.disable();
        hal.modify_cr(CR_DATATYPE, 2 << CR_DATATYPE_SHIFT);
        hal.enable();
        for c in pt.chunks(4) {
            hal.wr(reg::DINR, u32::from_le_bytes(c.try_into().unwrap()));
        }
        hal.wait_ccf();
        let out: Vec<u8> = hal
            .read_block()
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        assert_eq!(out, ct);
        // Half-word and bit swapping, per Figure 152.
        assert_eq!(swap(0x1122_3344, 1), 0x3344_1122);
        assert_eq!(swap(0x1122_3344, 2), 0x4433_2211);
        assert_eq!(swap(0x0000_0001, 3), 0x8000_0000);
        for datatype in 0..4 {
            let mut hal = ecb_ready(false);
            hal.disable();
            hal.modify_cr(CR_DATATYPE, datatype << CR_DATATYPE_SHIFT);
            hal.enable();
            hal.write_block(block_words(&pt).map(|w| swap(w, datatype)));
            hal.wait_ccf();
            assert_eq!(
                hal.read_block().map(|w| swap(w, datatype)),
                block_words(&ct)
            );
        }
        // Key and IV registers are not swapped.
        let mut hal = Hal::new();
        hal.modify_cr(CR_DATATYPE, 2 << CR_DATATYPE_SHIFT);
        let out = hal.encrypt(CHMOD_ECB, &hex(K128), &[], &[]);
        assert!(out.is_empty());
        assert_eq!(hal.rd(reg::KEYR3), 0x2b7e1516);
    }

    #[test]
    fn gcm_final_phase_input_is_not_swapped_but_the_tag_is() {
        // Test case 2 with DATATYPE = byte.
        let mut hal = Hal::new();
        hal.config(CHMOD_GCM, 16);
        hal.modify_cr(CR_DATATYPE, 2 << CR_DATATYPE_SHIFT);
        hal.set_key(&[0; 16]);
        hal.set_iv(&hex("00000000000000000000000000000002"));
        hal.enable();
        hal.wait_ccf();
        hal.clear_ccf();
        hal.modify_cr(CR_GCMPH, PHASE_PAYLOAD);
        hal.enable();
        hal.write_block([0; 4]);
        hal.wait_ccf();
        let ct = hal.read_block().map(u32::swap_bytes);
        assert_eq!(ct, block_words(&hex("0388dace60b6a392f328c2b971b2fe78")));
        hal.clear_ccf();
        hal.modify_cr(CR_GCMPH, PHASE_FINAL);
        hal.write_block([0, 0, 0, 128]);
        hal.wait_ccf();
        let tag = hal.read_block().map(u32::swap_bytes);
        assert_eq!(tag, block_words(&hex("ab6e47d42cec13bdf53a67b21257bddf")));
    }

    #[test]
    fn ccf_rises_exactly_after_the_latency_with_busy_meanwhile() {
        for (hz, key256, cycles) in [
            (None, false, 51u64),
            (Some(64_000_000), true, 75),
            (Some(48_000_000), false, 51),
        ] {
            let mut hal = ecb_ready(key256);
            if let Some(hz) = hz {
                hal.aes.set_clock_hz(hz);
            }
            let hz = hz.unwrap_or(DEFAULT_CLOCK_HZ);
            let t0 = 1_000_000;
            for w in block_words(&hex("6bc1bee22e409f96e93d7e117393172a")) {
                hal.aes.write(reg::DINR, w, at(t0)).unwrap();
            }
            let done =
                t0 + (u128::from(cycles) * 1_000_000_000_000).div_ceil(u128::from(hz)) as u64;
            assert_eq!(hal.aes.next_event(), Some(done));
            let sr = hal.aes.read(reg::SR, at(done - 1)).unwrap();
            assert_eq!(sr & (SR_CCF | SR_BUSY), SR_BUSY, "{hz} Hz, one ps early");
            let sr = hal.aes.read(reg::SR, at(done)).unwrap();
            assert_eq!(sr & (SR_CCF | SR_BUSY), SR_CCF, "{hz} Hz, on time");
            assert_eq!(hal.aes.next_event(), None);
        }
    }

    /// Start an operation at t=0 with EN or a block, return the cycles it took.
    fn measure(hal: &mut Hal, start: impl FnOnce(&mut Hal)) -> u64 {
        hal.now = 0;
        hal.aes.now = 0;
        start(hal);
        let t = hal.aes.next_event().expect("computation started");
        hal.now = t;
        hal.wait_ccf();
        // 4 MHz: 250 000 ps per cycle.
        t / 250_000
    }

    #[test]
    fn latency_of_every_mode_and_phase_follows_rm0434_tables_137_138() {
        for (key, k256) in [(hex(K128), false), (hex(K256), true)] {
            let pick = |a: u64, b: u64| if k256 { b } else { a };
            let mut hal = Hal::new();
            hal.config(CHMOD_ECB, key.len());
            hal.set_key(&key);
            hal.modify_cr(CR_MODE, MODE_KEYDERIVATION);
            assert_eq!(measure(&mut hal, Hal::enable), pick(59, 82));
            hal.clear_ccf();
            hal.set_key(&key);
            hal.modify_cr(CR_MODE, MODE_KEYDERIVATION_DECRYPT);
            hal.enable();
            assert_eq!(
                measure(&mut hal, |h| h.write_block([1, 2, 3, 4])),
                pick(106, 145)
            );
            hal.disable();
            hal.clear_ccf();
            hal.modify_cr(CR_MODE | CR_CHMOD, MODE_DECRYPT | chmod(CHMOD_CTR));
            hal.enable();
            assert_eq!(
                measure(&mut hal, |h| h.write_block([1, 2, 3, 4])),
                pick(51, 75)
            );
            hal.disable();
            hal.clear_ccf();
            // GCM phases.
            hal.modify_cr(
                CR_MODE | CR_CHMOD | CR_GCMPH,
                MODE_ENCRYPT | chmod(CHMOD_GCM),
            );
            assert_eq!(measure(&mut hal, Hal::enable), pick(64, 88));
            hal.clear_ccf();
            hal.modify_cr(CR_GCMPH, PHASE_HEADER);
            hal.enable();
            assert_eq!(measure(&mut hal, |h| h.write_block([1, 2, 3, 4])), 35);
            hal.clear_ccf();
            hal.modify_cr(CR_GCMPH, PHASE_PAYLOAD);
            assert_eq!(
                measure(&mut hal, |h| h.write_block([1, 2, 3, 4])),
                pick(51, 75)
            );
            hal.read_block();
            hal.clear_ccf();
            hal.modify_cr(CR_GCMPH, PHASE_FINAL);
            assert_eq!(
                measure(&mut hal, |h| h.write_block([0, 128, 0, 128])),
                pick(59, 75)
            );
            hal.read_block();
            hal.clear_ccf();
            hal.disable();
            // CCM phases.
            hal.set_iv(&hex("4F101112131415160000000000000004"));
            hal.modify_cr(CR_CHMOD | CR_GCMPH, chmod(CHMOD_CCM));
            assert_eq!(measure(&mut hal, Hal::enable), pick(63, 87));
            hal.clear_ccf();
            hal.modify_cr(CR_GCMPH, PHASE_HEADER);
            hal.enable();
            assert_eq!(
                measure(&mut hal, |h| h.write_block([1, 2, 3, 4])),
                pick(55, 79)
            );
            hal.clear_ccf();
            hal.modify_cr(CR_GCMPH, PHASE_PAYLOAD);
            assert_eq!(
                measure(&mut hal, |h| h.write_block([1, 2, 3, 4])),
                pick(114, 162)
            );
            hal.read_block();
            hal.clear_ccf();
            assert_eq!(
                measure(&mut hal, |h| h.modify_cr(CR_GCMPH, PHASE_FINAL)),
                pick(58, 82)
            );
        }
    }

    #[test]
    fn read_error_in_input_and_computation_phases() {
        let mut hal = ecb_ready(false);
        // Input phase (nothing written yet).
        assert_eq!(hal.rd(reg::DOUTR), 0);
        assert_eq!(hal.sr() & SR_RDERR, SR_RDERR);
        hal.modify_cr(0, CR_ERRC);
        assert_eq!(hal.sr() & SR_RDERR, 0);
        // Input phase, part of a block written.
        hal.wr(reg::DINR, 0x6bc1bee2);
        assert_eq!(hal.rd(reg::DOUTR), 0);
        assert_eq!(hal.sr() & SR_RDERR, SR_RDERR);
        hal.modify_cr(0, CR_ERRC);
        // Computation phase: RDERR, and the block still completes normally.
        for w in [0x2e409f96, 0xe93d7e11, 0x7393172a] {
            hal.wr(reg::DINR, w);
        }
        assert_eq!(hal.rd(reg::DOUTR), 0);
        assert_eq!(hal.sr() & (SR_RDERR | SR_BUSY), SR_RDERR | SR_BUSY);
        hal.wait_ccf();
        assert_eq!(
            hal.read_block(),
            block_words(&hex("3ad77bb40d7a3660a89ecaf32466ef97"))
        );
        // Output fully read: back in the input phase.
        hal.modify_cr(0, CR_ERRC);
        assert_eq!(hal.rd(reg::DOUTR), 0);
        assert_eq!(hal.sr() & SR_RDERR, SR_RDERR);
    }

    #[test]
    fn write_error_in_computation_and_output_phases_is_ignored() {
        let mut hal = ecb_ready(false);
        let pt = block_words(&hex("6bc1bee22e409f96e93d7e117393172a"));
        hal.write_block(pt);
        // Computation phase.
        hal.wr(reg::DINR, 0xDEAD_BEEF);
        assert_eq!(hal.sr() & SR_WRERR, SR_WRERR);
        hal.wait_ccf();
        hal.modify_cr(0, CR_ERRC);
        // Output phase: the result is not (fully) read yet.
        let first = hal.rd(reg::DOUTR);
        hal.wr(reg::DINR, 0xDEAD_BEEF);
        assert_eq!(hal.sr() & SR_WRERR, SR_WRERR);
        let rest = [0; 3].map(|_| hal.rd(reg::DOUTR));
        assert_eq!(
            [first, rest[0], rest[1], rest[2]],
            block_words(&hex("3ad77bb40d7a3660a89ecaf32466ef97"))
        );
        // The ignored writes did not enter the next block.
        hal.clear_ccf();
        hal.write_block(pt);
        hal.wait_ccf();
        assert_eq!(
            hal.read_block(),
            block_words(&hex("3ad77bb40d7a3660a89ecaf32466ef97"))
        );
        // Both flags clear with ERRC; CCFC and ERRC read as 0.
        hal.modify_cr(0, CR_ERRC | CR_CCFC);
        assert_eq!(hal.sr(), 0);
        assert_eq!(hal.rd(reg::CR) & (CR_ERRC | CR_CCFC), 0);
    }

    #[test]
    fn irq_line_follows_ccf_and_errors_under_their_enables() {
        let mut hal = ecb_ready(false);
        hal.write_block([1, 2, 3, 4]);
        hal.wait_ccf();
        assert_eq!(hal.aes.irq_lines(), 0);
        hal.modify_cr(0, CR_CCFIE);
        assert_eq!(hal.aes.irq_lines(), 1);
        hal.clear_ccf();
        assert_eq!(hal.aes.irq_lines(), 0);
        hal.wr(reg::DINR, 0); // output not read: WRERR
        assert_eq!(hal.aes.irq_lines(), 0);
        hal.modify_cr(0, CR_ERRIE);
        assert_eq!(hal.aes.irq_lines(), 1);
        hal.modify_cr(0, CR_ERRC);
        assert_eq!(hal.aes.irq_lines(), 0);
        // The CCF interrupt fires when the block completes, not before.
        hal.read_block();
        hal.write_block([1, 2, 3, 4]);
        assert_eq!(hal.aes.irq_lines(), 0);
        let t = hal.aes.next_event().unwrap();
        hal.aes.advance(t);
        assert_eq!(hal.aes.irq_lines(), 1);
    }

    #[test]
    fn configuration_keys_and_iv_are_locked_while_enabled() {
        let mut hal = ecb_ready(false);
        let cr = hal.rd(reg::CR);
        // DATATYPE, MODE, CHMOD, KEYSIZE keep their values; other fields change.
        hal.wr(
            reg::CR,
            cr | CR_DATATYPE | CR_MODE | CR_CHMOD | CR_KEYSIZE | CR_CCFIE | CR_NPBLB,
        );
        assert_eq!(hal.rd(reg::CR), cr | CR_CCFIE | CR_NPBLB);
        // A write that clears EN changes them.
        hal.wr(reg::CR, CR_KEYSIZE | chmod(CHMOD_CBC));
        assert_eq!(hal.rd(reg::CR), CR_KEYSIZE | chmod(CHMOD_CBC));
        // A write that sets EN changes them too.
        hal.wr(reg::CR, CR_EN | chmod(CHMOD_ECB));
        assert_eq!(hal.rd(reg::CR), CR_EN);
        hal.wr(reg::KEYR0, 0x1234_5678);
        hal.wr(reg::IVR0, 0x1234_5678);
        assert_eq!((hal.rd(reg::KEYR0), hal.rd(reg::IVR0)), (0x09cf4f3c, 0));
        hal.disable();
        hal.wr(reg::KEYR0, 0x1234_5678);
        hal.wr(reg::IVR0, 0x1234_5678);
        assert_eq!(
            (hal.rd(reg::KEYR0), hal.rd(reg::IVR0)),
            (0x1234_5678, 0x1234_5678)
        );
        // Reserved CR bits stay 0.
        hal.wr(reg::CR, !(CR_EN | CR_CCFC | CR_ERRC));
        assert_eq!(hal.rd(reg::CR), CR_STORED & !CR_EN);
    }

    #[test]
    fn clearing_en_abandons_the_block_in_flight() {
        let mut hal = ecb_ready(false);
        hal.write_block([1, 2, 3, 4]);
        hal.disable();
        assert_eq!(hal.aes.next_event(), None);
        assert_eq!(hal.sr(), 0);
        // Partial input is forgotten too.
        hal.enable();
        hal.wr(reg::DINR, 0xFFFF_FFFF);
        hal.disable();
        hal.enable();
        hal.write_block(block_words(&hex("6bc1bee22e409f96e93d7e117393172a")));
        hal.wait_ccf();
        assert_eq!(
            hal.read_block(),
            block_words(&hex("3ad77bb40d7a3660a89ecaf32466ef97"))
        );
    }

    #[test]
    fn narrow_accesses_are_bus_errors_without_effect() {
        let mut aes = Aes::new(AesInstance::Aes2);
        assert_eq!(aes.name(), "aes2");
        for width in [Width::Byte, Width::Half] {
            let a = Access {
                core: CoreId::Cpu2,
                width,
                now: 0,
            };
            assert_eq!(aes.write(reg::KEYR0, 0xFF, a), Err(BusError::Width));
            assert_eq!(aes.write(reg::CR, 1, a), Err(BusError::Width));
            assert_eq!(aes.read(reg::SR, a), Err(BusError::Width));
        }
        assert_eq!(aes.read(reg::KEYR0, at(0)), Ok(0));
        assert_eq!(aes.read(reg::CR, at(0)), Ok(0));
        assert_eq!(aes.read(0x60, at(0)), Err(BusError::Unmapped));
        assert_eq!(aes.write(0x3FC, 0, at(0)), Err(BusError::Unmapped));
    }

    #[test]
    fn key_registers_are_identified() {
        let keys: Vec<u32> = (0..0x400)
            .step_by(4)
            .filter(|&o| is_key_register(o))
            .collect();
        assert_eq!(
            keys,
            [
                reg::KEYR0,
                reg::KEYR1,
                reg::KEYR2,
                reg::KEYR3,
                reg::KEYR4,
                reg::KEYR5,
                reg::KEYR6,
                reg::KEYR7
            ]
        );
        assert!(is_key_register(reg::KEYR5 + 2));
        assert!(!is_key_register(reg::IVR0));
    }

    #[test]
    fn reset_returns_every_register_to_zero() {
        let mut hal = Hal::new();
        hal.aes.set_clock_hz(32_000_000);
        hal.config(CHMOD_GCM, 32);
        hal.set_key(&[0xAA; 32]);
        hal.set_iv(&[0x55; 16]);
        hal.modify_cr(0, CR_CCFIE | CR_ERRIE | (5 << CR_NPBLB_SHIFT));
        hal.enable();
        hal.rd(reg::DOUTR); // RDERR
        assert_ne!(hal.aes.next_event(), None);
        for kind in [ResetKind::PowerOn, ResetKind::System, ResetKind::OptionLoad] {
            let mut aes = hal.aes.clone();
            aes.reset(kind);
            for offset in (0..=reg::SUSP7R).step_by(4) {
                assert_eq!(aes.read(offset, at(hal.now)), Ok(0), "offset {offset:#x}");
            }
            assert_eq!((aes.next_event(), aes.irq_lines()), (None, 0));
            // The clock survives: it belongs to the RCC.
            assert_eq!(aes.clock_hz, 32_000_000);
        }
    }

    #[test]
    fn suspend_registers_read_zero_while_disabled() {
        let mut hal = Hal::new();
        hal.config(CHMOD_GCM, 16);
        hal.set_key(&[0; 16]);
        hal.enable();
        hal.wait_ccf();
        hal.clear_ccf();
        // EN self-cleared: the state is kept but reads as 0.
        assert_eq!(hal.rd(reg::SUSP0R + 16), 0);
        hal.modify_cr(CR_GCMPH, PHASE_HEADER);
        hal.enable();
        // H = E(0^128, 0^128) = 66e94bd4ef8a2c3b884cfa59ca342b2e, in SUSP4R..SUSP7R.
        let h = [
            reg::SUSP0R + 28,
            reg::SUSP0R + 24,
            reg::SUSP0R + 20,
            reg::SUSP0R + 16,
        ]
        .map(|r| hal.rd(r));
        assert_eq!(h, block_words(&hex("66e94bd4ef8a2c3b884cfa59ca342b2e")));
    }

    #[test]
    fn gcm_suspend_and_resume_around_another_message() {
        // Test case 4, suspended after the first two payload blocks.
        let [key, iv, aad, pt, ct, tag] = gcm_vectors()[3];
        let (key, iv, aad, pt) = (hex(key), hex(iv), hex(aad), hex(pt));
        let mut hal = Hal::new();
        hal.config(CHMOD_GCM, 16);
        hal.set_key(&key);
        let mut icb = iv.clone();
        icb.extend_from_slice(&[0, 0, 0, 2]);
        hal.set_iv(&icb);
        hal.enable();
        hal.wait_ccf();
        hal.clear_ccf();
        hal.modify_cr(CR_GCMPH, PHASE_HEADER);
        hal.enable();
        for b in aad.chunks(16) {
            hal.process(b, false);
        }
        hal.modify_cr(CR_GCMPH, PHASE_PAYLOAD);
        let mut out: Vec<u8> = pt[..32]
            .chunks(16)
            .flat_map(|b| hal.process(b, true))
            .collect();
        // Suspend (RM0434 §25.4.10): save SUSPxR, IVRx, CR; disable.
        let susp: Vec<u32> = (0..8).map(|i| hal.rd(reg::SUSP0R + 4 * i)).collect();
        let ivr: Vec<u32> = (0..4).map(|i| hal.rd(reg::IVR0 + 4 * i)).collect();
        let cr = hal.rd(reg::CR);
        hal.disable();
        // A higher-priority message: CBC with another key.
        let other = hal.encrypt(CHMOD_CBC, &hex(K128), &hex(IV_CBC), &hex(SP800_38A_PLAIN));
        assert_eq!(other, hex(sp800_38a_vectors()[2].3));
        // Resume: SUSPxR, IVRx, CR and KEYRx back with EN=0, then EN.
        for (i, v) in susp.iter().enumerate() {
            hal.wr(reg::SUSP0R + 4 * i as u32, *v);
        }
        for (i, v) in ivr.iter().enumerate() {
            hal.wr(reg::IVR0 + 4 * i as u32, *v);
        }
        hal.wr(reg::CR, cr & !CR_EN);
        hal.set_key(&key);
        hal.enable();
        let last = &pt[32..];
        for (i, b) in last.chunks(16).enumerate() {
            if i == 1 {
                hal.set_npblb(b.len());
            }
            out.extend(hal.process(b, true));
        }
        hal.modify_cr(CR_GCMPH, PHASE_FINAL);
        hal.write_block([0, (aad.len() * 8) as u32, 0, (pt.len() * 8) as u32]);
        hal.wait_ccf();
        let t: Vec<u8> = hal
            .read_block()
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!((out, t), (hex(ct), hex(tag)));
    }

    #[test]
    fn mode4_with_a_counter_mode_is_mode3() {
        // CTR "decryption" with MODE = 11 defaults to Mode 3 (= the CTR keystream).
        let mut hal = Hal::new();
        hal.config(CHMOD_CTR, 16);
        hal.set_key(&hex(K128));
        hal.set_iv(&hex(IV_CTR));
        hal.modify_cr(CR_MODE, MODE_KEYDERIVATION_DECRYPT);
        hal.enable();
        let out = hal.process(&hex("874d6191b620e3261bef6864990db6ce"), true);
        assert_eq!(out, hex("6bc1bee22e409f96e93d7e117393172a"));
    }

    #[test]
    fn data_registers_while_disabled_and_read_only_registers() {
        let mut hal = Hal::new();
        hal.set_key(&hex(K128));
        hal.write_block([1, 2, 3, 4]);
        assert_eq!(hal.aes.next_event(), None);
        assert_eq!(hal.rd(reg::DOUTR), 0);
        assert_eq!(hal.sr(), 0);
        hal.wr(reg::SR, 0xF);
        hal.wr(reg::DOUTR, 0xF);
        assert_eq!(hal.sr(), 0);
        // Nothing was buffered while disabled: the next block is whole.
        hal.enable();
        hal.write_block(block_words(&hex("6bc1bee22e409f96e93d7e117393172a")));
        hal.wait_ccf();
        assert_eq!(
            hal.read_block(),
            block_words(&hex("3ad77bb40d7a3660a89ecaf32466ef97"))
        );
        // Suspend registers only take writes while disabled.
        hal.wr(reg::SUSP0R, 0x1234);
        assert_eq!(hal.rd(reg::SUSP0R), 0);
        hal.disable();
        hal.wr(reg::SUSP0R, 0x1234);
        hal.enable();
        assert_eq!(hal.rd(reg::SUSP0R), 0x1234);
    }

    #[test]
    fn ccm_suspend_after_the_header_and_resume() {
        // SP 800-38C C.3, suspended between header and payload.
        let [key, nonce, aad, pt, ct, tag] = ccm_vectors()[2];
        let (key, nonce, aad, pt) = (hex(key), hex(nonce), hex(aad), hex(pt));
        let mut b0 = vec![0x40 | (3 << 3) | 2];
        b0.extend_from_slice(&nonce);
        b0.extend_from_slice(&[0, 0, pt.len() as u8]);
        let mut header = (aad.len() as u16).to_be_bytes().to_vec();
        header.extend_from_slice(&aad);
        let mut hal = Hal::new();
        hal.config(CHMOD_CCM, 16);
        hal.set_key(&key);
        hal.set_iv(&b0);
        hal.enable();
        hal.wait_ccf();
        hal.clear_ccf();
        hal.modify_cr(CR_GCMPH, PHASE_HEADER);
        hal.enable();
        for b in header.chunks(16) {
            hal.process(b, false);
        }
        let susp: Vec<u32> = (0..8).map(|i| hal.rd(reg::SUSP0R + 4 * i)).collect();
        let ivr: Vec<u32> = (0..4).map(|i| hal.rd(reg::IVR0 + 4 * i)).collect();
        let cr = hal.rd(reg::CR);
        hal.disable();
        // Another CCM message in between (C.1).
        let [k1, n1, a1, p1, c1, t1] = ccm_vectors()[0];
        let other = hal.ccm(&hex(k1), &hex(n1), &hex(a1), &hex(p1), 4, false);
        assert_eq!(other, (hex(c1), hex(t1)));
        for (i, v) in susp.iter().enumerate() {
            hal.wr(reg::SUSP0R + 4 * i as u32, *v);
        }
        for (i, v) in ivr.iter().enumerate() {
            hal.wr(reg::IVR0 + 4 * i as u32, *v);
        }
        hal.wr(reg::CR, cr & !CR_EN);
        hal.set_key(&key);
        hal.enable();
        hal.modify_cr(CR_GCMPH | CR_NPBLB, PHASE_PAYLOAD);
        let out: Vec<u8> = pt.chunks(16).flat_map(|b| hal.process(b, true)).collect();
        hal.modify_cr(CR_GCMPH, PHASE_FINAL);
        hal.wait_ccf();
        let t: Vec<u8> = hal
            .read_block()
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!((out, t[..8].to_vec()), (hex(ct), hex(tag)));
    }

    // ---- Cross-checks against RustCrypto on random inputs ----

    fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 16),
            prop::collection::vec(any::<u8>(), 32)
        ]
    }

    fn blocks_strategy() -> impl Strategy<Value = Vec<u8>> {
        (1usize..5).prop_flat_map(|n| prop::collection::vec(any::<u8>(), 16 * n))
    }

    fn cbc_reference(key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
        use cbc::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit};
        if key.len() == 32 {
            cbc::Encryptor::<Aes256>::new_from_slices(key, iv)
                .unwrap()
                .encrypt_padded_vec_mut::<NoPadding>(data)
        } else {
            cbc::Encryptor::<Aes128>::new_from_slices(key, iv)
                .unwrap()
                .encrypt_padded_vec_mut::<NoPadding>(data)
        }
    }

    fn ctr_reference(key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
        use ctr::cipher::{KeyIvInit, StreamCipher};
        let mut buf = data.to_vec();
        if key.len() == 32 {
            ctr::Ctr32BE::<Aes256>::new_from_slices(key, iv)
                .unwrap()
                .apply_keystream(&mut buf);
        } else {
            ctr::Ctr32BE::<Aes128>::new_from_slices(key, iv)
                .unwrap()
                .apply_keystream(&mut buf);
        }
        buf
    }

    fn ecb_reference(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut keyr = [0u32; 8];
        let n = key.len() / 4;
        for (i, c) in key.chunks(4).enumerate() {
            keyr[n - 1 - i] = u32::from_be_bytes(c.try_into().unwrap());
        }
        // Only the `aes` crate here (BlockCipher wraps it without chaining).
        let c = BlockCipher::new(&keyr, key.len() == 32);
        data.chunks(16)
            .flat_map(|b| {
                c.encrypt(u128::from_be_bytes(b.try_into().unwrap()))
                    .to_be_bytes()
            })
            .collect()
    }

    fn gcm_reference(key: &[u8], iv: &[u8], aad: &[u8], data: &[u8]) -> (Vec<u8>, Vec<u8>) {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
        let payload = Payload { msg: data, aad };
        let mut out = if key.len() == 32 {
            Aes256Gcm::new_from_slice(key)
                .unwrap()
                .encrypt(Nonce::from_slice(iv), payload)
        } else {
            Aes128Gcm::new_from_slice(key)
                .unwrap()
                .encrypt(Nonce::from_slice(iv), payload)
        }
        .unwrap();
        let tag = out.split_off(data.len());
        (out, tag)
    }

    fn ccm_reference(
        key: &[u8],
        nonce_len: usize,
        nonce: &[u8],
        aad: &[u8],
        data: &[u8],
    ) -> (Vec<u8>, Vec<u8>) {
        use ccm::aead::{generic_array::GenericArray, Aead, KeyInit, Payload};
        use ccm::consts::{U10, U13, U16, U4, U7, U8};
        let payload = Payload { msg: data, aad };
        let mut out = match (key.len(), nonce_len) {
            (16, 13) => ccm::Ccm::<Aes128, U16, U13>::new_from_slice(key)
                .unwrap()
                .encrypt(GenericArray::from_slice(nonce), payload),
            (16, _) => ccm::Ccm::<Aes128, U8, U7>::new_from_slice(key)
                .unwrap()
                .encrypt(GenericArray::from_slice(nonce), payload),
            (_, 13) => ccm::Ccm::<Aes256, U4, U13>::new_from_slice(key)
                .unwrap()
                .encrypt(GenericArray::from_slice(nonce), payload),
            _ => ccm::Ccm::<Aes256, U10, U7>::new_from_slice(key)
                .unwrap()
                .encrypt(GenericArray::from_slice(nonce), payload),
        }
        .unwrap();
        let tag = out.split_off(data.len());
        (out, tag)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn ecb_and_cbc_match_rustcrypto(key in key_strategy(), iv in prop::collection::vec(any::<u8>(), 16),
                                        data in blocks_strategy(), mode4 in any::<bool>()) {
            let mut hal = Hal::new();
            let ecb = hal.encrypt(CHMOD_ECB, &key, &iv, &data);
            prop_assert_eq!(&ecb, &ecb_reference(&key, &data));
            prop_assert_eq!(hal.decrypt(CHMOD_ECB, &key, &iv, &ecb, mode4), data.clone());
            let cbc = hal.encrypt(CHMOD_CBC, &key, &iv, &data);
            prop_assert_eq!(&cbc, &cbc_reference(&key, &iv, &data));
            prop_assert_eq!(hal.decrypt(CHMOD_CBC, &key, &iv, &cbc, mode4), data);
        }

        #[test]
        fn ctr_matches_rustcrypto(key in key_strategy(), iv in prop::collection::vec(any::<u8>(), 16),
                                  data in prop::collection::vec(any::<u8>(), 1..70)) {
            let mut hal = Hal::new();
            let ct = hal.encrypt(CHMOD_CTR, &key, &iv, &data);
            prop_assert_eq!(&ct, &ctr_reference(&key, &iv, &data));
            prop_assert_eq!(hal.decrypt(CHMOD_CTR, &key, &iv, &ct, false), data);
        }

        #[test]
        fn gcm_matches_rustcrypto(key in key_strategy(), iv in prop::collection::vec(any::<u8>(), 12),
                                  aad in prop::collection::vec(any::<u8>(), 0..40),
                                  data in prop::collection::vec(any::<u8>(), 0..70)) {
            let mut hal = Hal::new();
            let (ct, tag) = hal.gcm(&key, &iv, &aad, &data, false);
            prop_assert_eq!((&ct, &tag), (&gcm_reference(&key, &iv, &aad, &data).0, &gcm_reference(&key, &iv, &aad, &data).1));
            let (pt, tag2) = hal.gcm(&key, &iv, &aad, &ct, true);
            prop_assert_eq!((pt, tag2), (data, tag));
        }

        #[test]
        fn ccm_matches_rustcrypto(key in key_strategy(), long_nonce in any::<bool>(),
                                  nonce in prop::collection::vec(any::<u8>(), 13),
                                  aad in prop::collection::vec(any::<u8>(), 0..40),
                                  data in prop::collection::vec(any::<u8>(), 0..70)) {
            let nonce_len = if long_nonce { 13 } else { 7 };
            let nonce = &nonce[..nonce_len];
            let (ref_ct, ref_tag) = ccm_reference(&key, nonce_len, nonce, &aad, &data);
            let mut hal = Hal::new();
            let (ct, tag) = hal.ccm(&key, nonce, &aad, &data, ref_tag.len(), false);
            prop_assert_eq!((&ct, &tag), (&ref_ct, &ref_tag));
            let (pt, tag2) = hal.ccm(&key, nonce, &aad, &ct, ref_tag.len(), true);
            prop_assert_eq!((pt, tag2), (data, tag));
        }
    }
}
