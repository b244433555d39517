//! Register flags by name: the Cortex-M4 fault status registers (ARMv7-M ARM B3.2.15-B3.2.18),
//! FLASH_SR (RM0434 §3.10.5) and FLASH_ECCR (§3.10.6).

use wb_periph::flash::sr;

/// SCB_CFSR bits: MMFSR (7:0), BFSR (15:8), UFSR (31:16).
const CFSR: [(u32, &str); 17] = [
    (0, "IACCVIOL"),
    (1, "DACCVIOL"),
    (3, "MUNSTKERR"),
    (4, "MSTKERR"),
    (5, "MLSPERR"),
    (7, "MMARVALID"),
    (8, "IBUSERR"),
    (9, "PRECISERR"),
    (10, "IMPRECISERR"),
    (11, "UNSTKERR"),
    (12, "STKERR"),
    (13, "LSPERR"),
    (15, "BFARVALID"),
    (16, "UNDEFINSTR"),
    (17, "INVSTATE"),
    (18, "INVPC"),
    (19, "NOCP"),
];

/// SCB_CFSR UFSR bits above NOCP.
const CFSR_HIGH: [(u32, &str); 2] = [(24, "UNALIGNED"), (25, "DIVBYZERO")];

/// SCB_HFSR bits.
const HFSR: [(u32, &str); 3] = [(1, "VECTTBL"), (30, "FORCED"), (31, "DEBUGEVT")];

/// FLASH_SR bits.
const FLASH_SR: [(u32, &str); 14] = [
    (sr::EOP, "EOP"),
    (sr::OPERR, "OPERR"),
    (sr::PROGERR, "PROGERR"),
    (sr::WRPERR, "WRPERR"),
    (sr::PGAERR, "PGAERR"),
    (sr::SIZERR, "SIZERR"),
    (sr::PGSERR, "PGSERR"),
    (sr::MISERR, "MISERR"),
    (sr::FASTERR, "FASTERR"),
    (sr::RDERR, "RDERR"),
    (sr::OPTVERR, "OPTVERR"),
    (sr::BSY, "BSY"),
    (sr::CFGBSY, "CFGBSY"),
    (sr::PESD, "PESD"),
];

fn names(value: u32, bits: impl IntoIterator<Item = (u32, &'static str)>) -> Vec<&'static str> {
    bits.into_iter()
        .filter(|(mask, _)| value & mask != 0)
        .map(|(_, name)| name)
        .collect()
}

/// The names of the SCB_CFSR bits set in `cfsr`.
pub fn cfsr(cfsr: u32) -> Vec<&'static str> {
    names(
        cfsr,
        CFSR.into_iter().chain(CFSR_HIGH).map(|(b, n)| (1 << b, n)),
    )
}

/// The names of the SCB_HFSR bits set in `hfsr`.
pub fn hfsr(hfsr: u32) -> Vec<&'static str> {
    names(hfsr, HFSR.map(|(b, n)| (1 << b, n)))
}

/// What FLASH_ECCR says: the flags set, and the double-word and core of the last error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EccStatus {
    /// ECCC (corrected), ECCD (uncorrectable), ECCCIE.
    pub flags: Vec<&'static str>,
    /// Address of the failing double-word (flash base + ADDR_ECC × 8).
    pub address: u32,
    /// The core whose access found it (CPUID: 0 CPU1, 1 CPU2).
    pub core: u32,
}

/// Decode FLASH_ECCR (RM0434 §3.10.6).
pub fn flash_eccr(value: u32) -> EccStatus {
    use wb_periph::flash::eccr;
    EccStatus {
        flags: names(
            value,
            [
                (eccr::ECCC, "ECCC"),
                (eccr::ECCD, "ECCD"),
                (eccr::ECCCIE, "ECCCIE"),
            ],
        ),
        address: 0x0800_0000 + (value & eccr::ADDR_ECC) * 8,
        core: (value >> eccr::CPUID_SHIFT) & 0x7,
    }
}

/// The names of the FLASH_SR bits set in `value`.
pub fn flash_sr(value: u32) -> Vec<&'static str> {
    names(value, FLASH_SR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_bits_are_named_as_the_architecture_names_them() {
        // A precise bus fault escalated to HardFault.
        assert_eq!(cfsr(0x0000_8200), ["PRECISERR", "BFARVALID"]);
        assert_eq!(hfsr(0x4000_0000), ["FORCED"]);
        assert_eq!(cfsr(0x0200_0001), ["IACCVIOL", "DIVBYZERO"]);
        assert!(cfsr(0).is_empty());
    }

    #[test]
    fn an_ecc_error_is_decoded_with_its_address_and_core() {
        // ECCD on the double-word at 0x080F0008, found by CPU2.
        let e = flash_eccr((1 << 31) | (1 << 26) | ((0xF_0008 / 8) as u32));
        assert_eq!(e.flags, ["ECCD"]);
        assert_eq!((e.address, e.core), (0x080F_0008, 1));
    }

    #[test]
    fn flash_status_bits_are_named() {
        assert_eq!(flash_sr(sr::WRPERR | sr::EOP), ["EOP", "WRPERR"]);
        assert_eq!(flash_sr(sr::OPTVERR), ["OPTVERR"]);
    }
}
