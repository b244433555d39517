//! Cyclic redundancy check calculation unit (CRC @ 0x4002_3000), RM0434 §17.
//!
//! Modelled: CRC_DR (word, right-aligned half-word and right-aligned byte writes feed 32, 16 or
//! 8 bits; reads return the CRC), CRC_IDR (32-bit scratch register, untouched by CR.RESET),
//! CRC_CR (self-clearing RESET, POLYSIZE 32/16/8/7, REV_IN none/byte/half-word/word, REV_OUT),
//! CRC_INIT (a write also loads CRC_DR) and CRC_POL.
//!
//! Timing: the unit needs 4/2/1 AHB cycles for 32/16/8-bit data and has an input buffer "to
//! avoid bus stall during calculation" (§17.2, §17.3.3). A read of CRC_DR can only return the
//! finished result (the AHB slave holds the bus with wait states until it is), so software can
//! never observe an unfinished CRC; at most a few cycles of bus stall are lost, which this
//! model does not charge. The computation is therefore instantaneous here.
//!
//! Choices where RM0434 is silent (each traced once under `wb::crc` when it happens):
//! - REV_IN wider than the written data (e.g. REV_IN = word with a byte write): the reversal
//!   is applied within the written data width, the behaviour ST documents for other STM32 CRC
//!   units; some newer parts reportedly differ, RM0434 does not say.
//! - Even polynomials are "not supported" (§17.3.3): the CRC is computed with the polynomial as
//!   written.
//! - Accesses other than 32-bit to the other registers, or narrow accesses to CRC_DR that are
//!   not right-aligned, are bus errors ([`BusError::Width`]); RM0434 only says they are "not
//!   allowed".

use tracing::warn;

use crate::{narrow_read, Access, BusError, BusResult, Peripheral, ResetKind, Width};

/// Register offsets (RM0434 §17.4), from the shared register map.
pub use wb_regs::crc::reg;

pub const CR_RESET: u32 = 1 << 0;
pub const CR_POLYSIZE_SHIFT: u32 = 3;
pub const CR_REV_IN_SHIFT: u32 = 5;
pub const CR_REV_OUT: u32 = 1 << 7;
/// Bits of CRC_CR that hold configuration (RESET is a trigger and reads 0).
const CR_STORED: u32 = 0b1111_1000;

/// Reset values (RM0434 §17.4).
pub const DR_RESET: u32 = 0xFFFF_FFFF;
pub const INIT_RESET: u32 = 0xFFFF_FFFF;
/// The CRC-32 (Ethernet) polynomial.
pub const POL_RESET: u32 = 0x04C1_1DB7;

const WARN_RESERVED: u8 = 1 << 0;
const WARN_EVEN_POLY: u8 = 1 << 1;
const WARN_REV_WIDER: u8 = 1 << 2;
const WARN_WIDTH: u8 = 1 << 3;

/// The CRC calculation unit.
#[derive(Clone, Debug)]
pub struct Crc {
    /// The CRC register behind CRC_DR (not yet output-reversed).
    crc: u32,
    idr: u32,
    cr: u32,
    init: u32,
    pol: u32,
    /// One-time trace notes already given.
    warned: u8,
}

impl Default for Crc {
    fn default() -> Self {
        Crc::new()
    }
}

impl Crc {
    pub fn new() -> Crc {
        Crc {
            crc: DR_RESET,
            idr: 0,
            cr: 0,
            init: INIT_RESET,
            pol: POL_RESET,
            warned: 0,
        }
    }

    /// Polynomial size in bits from CR.POLYSIZE.
    fn poly_bits(&self) -> u32 {
        match (self.cr >> CR_POLYSIZE_SHIFT) & 3 {
            0 => 32,
            1 => 16,
            2 => 8,
            _ => 7,
        }
    }

    /// Reversal unit in bits from CR.REV_IN (0 = none).
    fn rev_in_bits(&self) -> u32 {
        match (self.cr >> CR_REV_IN_SHIFT) & 3 {
            0 => 0,
            1 => 8,
            2 => 16,
            _ => 32,
        }
    }

    /// The value CRC_DR reads: the CRC in the low POLYSIZE bits, bit-reversed within them
    /// when REV_OUT is set.
    pub fn value(&self) -> u32 {
        let w = self.poly_bits();
        let crc = self.crc & mask(w);
        if self.cr & CR_REV_OUT != 0 {
            crc.reverse_bits() >> (32 - w)
        } else {
            crc
        }
    }

    fn warn_once(&mut self, bit: u8, f: impl FnOnce()) {
        if self.warned & bit == 0 {
            self.warned |= bit;
            f();
        }
    }

    /// Feed `bits` (8, 16 or 32) bits of `data` to the calculator, most significant first.
    fn feed(&mut self, data: u32, bits: u32) {
        let rev = self.rev_in_bits();
        if rev > bits {
            self.warn_once(WARN_REV_WIDER, || {
                warn!(target: "wb::crc", rev_in_bits = rev, data_bits = bits,
                    "REV_IN wider than the written data: reversed within the data width \
                     (RM0434 does not specify this case)");
            });
        }
        let data = reverse_in(data & mask(bits), rev.min(bits));
        let w = self.poly_bits();
        let m = mask(w);
        let pol = self.pol & m;
        if pol & 1 == 0 {
            self.warn_once(WARN_EVEN_POLY, || {
                warn!(target: "wb::crc", pol = format_args!("{pol:#x}"),
                    "even polynomial (not supported by the CRC unit): computed as written");
            });
        }
        let top = 1u32 << (w - 1);
        let mut crc = self.crc & m;
        for i in (0..bits).rev() {
            let feedback = (crc & top != 0) ^ ((data >> i) & 1 != 0);
            crc = (crc << 1) & m;
            if feedback {
                crc ^= pol;
            }
        }
        self.crc = crc;
    }

    fn width_error(&mut self, offset: u32, width: Width) -> BusError {
        self.warn_once(WARN_WIDTH, || {
            warn!(target: "wb::crc", offset = format_args!("{offset:#x}"), ?width,
                "access width not supported by this register: bus error");
        });
        BusError::Width
    }
}

/// The low `bits` bits set.
fn mask(bits: u32) -> u32 {
    if bits >= 32 {
        u32::MAX
    } else {
        (1 << bits) - 1
    }
}

/// Bit-reverse `data` in units of `unit` bits (0 = unchanged), as REV_IN does.
pub fn reverse_in(data: u32, unit: u32) -> u32 {
    match unit {
        8 => {
            let b = data.to_le_bytes().map(u8::reverse_bits);
            u32::from_le_bytes(b)
        }
        16 => {
            let lo = (data as u16).reverse_bits() as u32;
            let hi = ((data >> 16) as u16).reverse_bits() as u32;
            (hi << 16) | lo
        }
        32 => data.reverse_bits(),
        _ => data,
    }
}

impl Peripheral for Crc {
    fn name(&self) -> &'static str {
        "crc"
    }

    fn size(&self) -> u32 {
        0x400
    }

    fn read(&mut self, offset: u32, access: Access) -> BusResult<u32> {
        let reg = offset & !3;
        let narrow = access.width != Width::Word;
        let value = match reg {
            // Right-aligned narrow reads return the low bits of the CRC.
            reg::DR if offset & 3 == 0 => self.value(),
            reg::DR | reg::IDR | reg::CR | reg::INIT | reg::POL if narrow || offset & 3 != 0 => {
                return Err(self.width_error(offset, access.width));
            }
            reg::IDR => self.idr,
            // RESET is self-clearing and always reads 0.
            reg::CR => self.cr,
            reg::INIT => self.init,
            reg::POL => self.pol,
            _ => return Err(BusError::Unmapped),
        };
        Ok(narrow_read(value, offset, access.width))
    }

    fn write(&mut self, offset: u32, value: u32, access: Access) -> BusResult<()> {
        let reg = offset & !3;
        match reg {
            reg::DR if offset & 3 == 0 => {
                self.feed(value, access.width.bytes() * 8);
                return Ok(());
            }
            reg::DR | reg::IDR | reg::CR | reg::INIT | reg::POL
                if access.width != Width::Word || offset & 3 != 0 =>
            {
                return Err(self.width_error(offset, access.width));
            }
            _ => {}
        }
        match reg {
            reg::IDR => self.idr = value,
            reg::CR => {
                let reserved = value & !(CR_STORED | CR_RESET);
                if reserved != 0 {
                    self.warn_once(WARN_RESERVED, || {
                        warn!(target: "wb::crc", bits = format_args!("{reserved:#x}"),
                            "reserved CRC_CR bits written: ignored");
                    });
                }
                self.cr = value & CR_STORED;
                if value & CR_RESET != 0 {
                    self.crc = self.init;
                }
            }
            // "CRC_DR is automatically initialized upon CRC_INIT register write access."
            reg::INIT => {
                self.init = value;
                self.crc = value;
            }
            reg::POL => self.pol = value,
            _ => return Err(BusError::Unmapped),
        }
        Ok(())
    }

    fn reset(&mut self, _kind: ResetKind) {
        *self = Crc {
            warned: self.warned,
            ..Crc::new()
        };
    }

    fn clone_box(&self) -> Box<dyn Peripheral> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoreId;
    use crc::{Algorithm, Crc as Catalog};
    use proptest::prelude::*;

    fn acc(width: Width) -> Access {
        Access {
            core: CoreId::Cpu1,
            width,
            now: 0,
        }
    }

    fn wr(c: &mut Crc, offset: u32, value: u32) {
        c.write(offset, value, acc(Width::Word)).unwrap();
    }

    fn rd(c: &mut Crc, offset: u32) -> u32 {
        c.read(offset, acc(Width::Word)).unwrap()
    }

    /// POLYSIZE field value for a polynomial width.
    fn polysize(bits: u8) -> u32 {
        match bits {
            32 => 0,
            16 => 1,
            8 => 2,
            _ => 3,
        }
    }

    /// Configure the unit for a catalogue algorithm whose input reflection (if any) is done
    /// with REV_IN = `rev_in`; returns the value to XOR the DR result with (done by software).
    fn setup<W: crc::Width + Copy + Into<u64>>(
        c: &mut Crc,
        alg: &Algorithm<W>,
        rev_in: u32,
    ) -> u64 {
        let poly: u64 = alg.poly.into();
        let init: u64 = alg.init.into();
        assert_eq!(
            alg.refin, alg.refout,
            "the unit reflects input and output together"
        );
        let mut cr = polysize(alg.width) << CR_POLYSIZE_SHIFT;
        if alg.refin {
            cr |= (rev_in << CR_REV_IN_SHIFT) | CR_REV_OUT;
        }
        // The catalogue's init is the value of the (unreflected) shift register, which is
        // what CRC_INIT holds.
        wr(c, reg::POL, poly as u32);
        wr(c, reg::INIT, init as u32);
        wr(c, reg::CR, cr | CR_RESET);
        alg.xorout.into()
    }

    /// Feed `data` in chunks of the given byte widths (cycled), packing each chunk the way a
    /// little-endian CPU loads it from memory (`le`) or most significant byte first.
    fn feed(c: &mut Crc, data: &[u8], widths: &[usize], le: bool) {
        let mut i = 0;
        let mut k = 0;
        while i < data.len() {
            let mut w = widths[k % widths.len()];
            k += 1;
            while i + w > data.len() {
                w /= 2;
            }
            let chunk = &data[i..i + w];
            let v = chunk.iter().enumerate().fold(0u32, |v, (j, &b)| {
                if le {
                    v | (b as u32) << (8 * j)
                } else {
                    (v << 8) | b as u32
                }
            });
            let width = Width::from_bytes(w).unwrap();
            c.write(reg::DR, v, acc(width)).unwrap();
            i += w;
        }
    }

    const CHECK: &[u8] = b"123456789";

    #[test]
    fn reset_values_match_rm0434() {
        let mut c = Crc::new();
        assert_eq!(rd(&mut c, reg::DR), 0xFFFF_FFFF);
        assert_eq!(rd(&mut c, reg::IDR), 0);
        assert_eq!(rd(&mut c, reg::CR), 0);
        assert_eq!(rd(&mut c, reg::INIT), 0xFFFF_FFFF);
        assert_eq!(rd(&mut c, reg::POL), 0x04C1_1DB7);
        wr(&mut c, reg::IDR, 7);
        wr(&mut c, reg::DR, 0x1234_5678);
        c.reset(ResetKind::System);
        assert_eq!(
            (rd(&mut c, reg::DR), rd(&mut c, reg::IDR)),
            (0xFFFF_FFFF, 0)
        );
        assert_eq!(c.name(), "crc");
    }

    #[test]
    fn default_configuration_is_crc32_mpeg2() {
        let alg = Catalog::<u32>::new(&crc::CRC_32_MPEG_2);
        let mut c = Crc::new();
        feed(&mut c, CHECK, &[4], false);
        assert_eq!(rd(&mut c, reg::DR), alg.checksum(CHECK));
        assert_eq!(rd(&mut c, reg::DR), 0x0376_E6E7);
        // RESET returns to INIT and reads back as 0.
        wr(&mut c, reg::CR, CR_RESET);
        assert_eq!(rd(&mut c, reg::CR), 0);
        assert_eq!(rd(&mut c, reg::DR), 0xFFFF_FFFF);
        // One word 0x12345678 from the reset state.
        wr(&mut c, reg::DR, 0x1234_5678);
        assert_eq!(rd(&mut c, reg::DR), alg.checksum(&[0x12, 0x34, 0x56, 0x78]));
    }

    #[test]
    fn mixed_width_writes_feed_that_many_bytes() {
        let alg = Catalog::<u32>::new(&crc::CRC_32_MPEG_2);
        let data: Vec<u8> = (0u8..=40).map(|i| i.wrapping_mul(37) ^ 0x5A).collect();
        for widths in [&[1][..], &[2], &[4], &[4, 1], &[1, 2, 4], &[2, 4, 1, 1]] {
            let mut c = Crc::new();
            feed(&mut c, &data, widths, false);
            assert_eq!(rd(&mut c, reg::DR), alg.checksum(&data), "{widths:?}");
        }
        // The RM's 5-byte example: a word write followed by a byte write.
        let mut c = Crc::new();
        wr(&mut c, reg::DR, 0x0102_0304);
        c.write(reg::DR, 0x05, acc(Width::Byte)).unwrap();
        assert_eq!(rd(&mut c, reg::DR), alg.checksum(&[1, 2, 3, 4, 5]));
    }

    #[test]
    fn crc32_iso_hdlc_with_rev_in_word_and_rev_out() {
        let alg = Catalog::<u32>::new(&crc::CRC_32_ISO_HDLC);
        let data: Vec<u8> = (0u8..23)
            .map(|i| i.wrapping_mul(91).wrapping_add(3))
            .collect();
        let mut c = Crc::new();
        let xorout = setup(&mut c, &crc::CRC_32_ISO_HDLC, 3);
        assert_eq!(xorout, 0xFFFF_FFFF);
        // Little-endian words, then the tail with REV_IN = byte (what ST's HAL does).
        feed(&mut c, &data[..20], &[4], true);
        wr(
            &mut c,
            reg::CR,
            (1 << CR_REV_IN_SHIFT) | CR_REV_OUT, // no RESET: keep the running CRC
        );
        feed(&mut c, &data[20..], &[1], true);
        assert_eq!(rd(&mut c, reg::DR) ^ xorout as u32, alg.checksum(&data));
        // REV_IN = word throughout: the narrower tail writes are reversed within their width.
        let mut c = Crc::new();
        setup(&mut c, &crc::CRC_32_ISO_HDLC, 3);
        feed(&mut c, &data, &[4, 4, 4, 4, 4, 2, 1], true);
        assert_eq!(rd(&mut c, reg::DR) ^ 0xFFFF_FFFF, alg.checksum(&data));
        assert_eq!(alg.checksum(CHECK), 0xCBF4_3926);
    }

    /// A catalogue width: computes the reference checksum.
    trait Sum: crc::Width + Copy + Into<u64> + 'static {
        fn sum(alg: &'static Algorithm<Self>, data: &[u8]) -> u64;
    }
    impl Sum for u8 {
        fn sum(alg: &'static Algorithm<u8>, data: &[u8]) -> u64 {
            Catalog::<u8>::new(alg).checksum(data).into()
        }
    }
    impl Sum for u16 {
        fn sum(alg: &'static Algorithm<u16>, data: &[u8]) -> u64 {
            Catalog::<u16>::new(alg).checksum(data).into()
        }
    }
    impl Sum for u32 {
        fn sum(alg: &'static Algorithm<u32>, data: &[u8]) -> u64 {
            Catalog::<u32>::new(alg).checksum(data).into()
        }
    }

    /// Check a catalogue algorithm against the unit. Non-reflected algorithms are fed with
    /// mixed widths (most significant byte first); reflected ones bytewise with REV_IN = byte
    /// (wider writes need the matching REV_IN unit, tested for CRC-32 above).
    fn check_alg<W: Sum>(alg: &'static Algorithm<W>) {
        let long: Vec<u8> = (0u8..33).map(|i| i.wrapping_mul(29) ^ 0xA5).collect();
        assert_eq!(
            W::sum(alg, CHECK),
            alg.check.into(),
            "catalogue check value"
        );
        let keep = |v: u32| v as u64 & ((1u64 << alg.width) - 1);
        let widths: [&[usize]; 3] = [&[1], &[2, 1], &[4, 2, 1]];
        for (i, widths) in widths.into_iter().enumerate() {
            let widths = if alg.refin { &[1][..] } else { widths };
            for data in [CHECK, &long[..]] {
                let mut c = Crc::new();
                let xorout = setup(&mut c, alg, 1) as u32;
                feed(&mut c, data, widths, false);
                let got = keep(rd(&mut c, reg::DR) ^ xorout);
                assert_eq!(got, W::sum(alg, data), "width {} case {i}", alg.width);
            }
        }
    }

    #[test]
    fn crc16_variants() {
        check_alg(&crc::CRC_16_IBM_3740); // "CCITT-FALSE"
        check_alg(&crc::CRC_16_XMODEM);
        check_alg(&crc::CRC_16_ARC); // reflected, poly 0x8005
        check_alg(&crc::CRC_16_KERMIT); // reflected, poly 0x1021
        check_alg(&crc::CRC_16_MODBUS); // reflected, init 0xFFFF
        check_alg(&crc::CRC_16_GENIBUS); // xorout 0xFFFF
        check_alg(&crc::CRC_16_RIELLO); // reflected, asymmetric init 0xB2AA
    }

    #[test]
    fn crc8_and_crc7() {
        check_alg(&crc::CRC_8_SMBUS);
        check_alg(&crc::CRC_8_MAXIM_DOW); // reflected, poly 0x31
        check_alg(&crc::CRC_8_AUTOSAR); // init and xorout 0xFF
        check_alg(&crc::CRC_7_MMC);
        check_alg(&crc::CRC_32_BZIP2);
        check_alg(&crc::CRC_32_ISCSI); // reflected, poly 0x1EDC6F41
    }

    #[test]
    fn reversal_examples_from_rm0434() {
        // §17.3.3: 0x1A2B3C4D used as ...
        assert_eq!(reverse_in(0x1A2B_3C4D, 8), 0x58D4_3CB2);
        assert_eq!(reverse_in(0x1A2B_3C4D, 16), 0xD458_B23C);
        assert_eq!(reverse_in(0x1A2B_3C4D, 32), 0xB23C_D458);
        // ... and output 0x11223344 reads as 0x22CC4488 with REV_OUT.
        let mut c = Crc::new();
        wr(&mut c, reg::INIT, 0x1122_3344);
        wr(&mut c, reg::CR, CR_REV_OUT);
        assert_eq!(rd(&mut c, reg::DR), 0x22CC_4488);
        assert_eq!(rd(&mut c, reg::CR), CR_REV_OUT);
    }

    #[test]
    fn init_write_loads_dr_and_idr_survives_reset_bit() {
        let mut c = Crc::new();
        wr(&mut c, reg::IDR, 0xCAFE_F00D);
        wr(&mut c, reg::INIT, 0x1234_5678);
        assert_eq!(rd(&mut c, reg::DR), 0x1234_5678);
        wr(&mut c, reg::DR, 0);
        assert_ne!(rd(&mut c, reg::DR), 0x1234_5678);
        wr(&mut c, reg::CR, CR_RESET);
        assert_eq!(rd(&mut c, reg::DR), 0x1234_5678);
        assert_eq!(rd(&mut c, reg::IDR), 0xCAFE_F00D);
        // 16-bit polynomial: the CRC reads in the low half.
        wr(&mut c, reg::CR, (1 << CR_POLYSIZE_SHIFT) | CR_RESET);
        assert_eq!(rd(&mut c, reg::DR), 0x5678);
        // Reserved CR bits are dropped.
        wr(&mut c, reg::CR, 0xFFFF_FF06);
        assert_eq!(rd(&mut c, reg::CR), 0);
    }

    #[test]
    fn access_widths() {
        let mut c = Crc::new();
        // CRC_DR: right-aligned narrow accesses only.
        assert_eq!(c.read(reg::DR, acc(Width::Half)), Ok(0xFFFF));
        assert_eq!(c.read(reg::DR, acc(Width::Byte)), Ok(0xFF));
        assert_eq!(c.write(1, 0, acc(Width::Byte)), Err(BusError::Width));
        assert_eq!(c.write(2, 0, acc(Width::Half)), Err(BusError::Width));
        assert_eq!(c.read(3, acc(Width::Byte)), Err(BusError::Width));
        assert_eq!(
            rd(&mut c, reg::DR),
            0xFFFF_FFFF,
            "refused writes feed nothing"
        );
        // Other registers: words only.
        for r in [reg::IDR, reg::CR, reg::INIT, reg::POL] {
            assert_eq!(c.write(r, 0, acc(Width::Byte)), Err(BusError::Width));
            assert_eq!(c.read(r, acc(Width::Half)), Err(BusError::Width));
        }
        assert_eq!(rd(&mut c, reg::POL), POL_RESET);
        assert_eq!(c.read(0x0C, acc(Width::Word)), Err(BusError::Unmapped));
        assert_eq!(c.write(0x18, 0, acc(Width::Word)), Err(BusError::Unmapped));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn random_data_matches_the_catalogue(
            data in prop::collection::vec(any::<u8>(), 0..200),
            widths in prop::collection::vec(prop::sample::select(vec![1usize, 2, 4]), 1..8),
        ) {
            let mpeg2 = Catalog::<u32>::new(&crc::CRC_32_MPEG_2);
            let mut c = Crc::new();
            feed(&mut c, &data, &widths, false);
            prop_assert_eq!(rd(&mut c, reg::DR), mpeg2.checksum(&data));

            let hdlc = Catalog::<u32>::new(&crc::CRC_32_ISO_HDLC);
            let mut c = Crc::new();
            setup(&mut c, &crc::CRC_32_ISO_HDLC, 3);
            feed(&mut c, &data, &widths, true);
            prop_assert_eq!(rd(&mut c, reg::DR) ^ 0xFFFF_FFFF, hdlc.checksum(&data));

            let ccitt = Catalog::<u16>::new(&crc::CRC_16_IBM_3740);
            let mut c = Crc::new();
            setup(&mut c, &crc::CRC_16_IBM_3740, 0);
            feed(&mut c, &data, &widths, false);
            prop_assert_eq!(c.read(reg::DR, acc(Width::Half)).unwrap() as u16, ccitt.checksum(&data));
        }
    }
}
