//! The STM32WB55xG memory map and the host buffers behind it.
//!
//! Every memory is one host buffer shared by both engines (`mem_map_ptr`), so a store by one
//! core is seen by the other at once. Addresses and sizes: `shared/reference/stm32wb55-registers.md` §1.

/// One region of backing memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    pub base: u32,
    pub size: u32,
    /// Survives a power cut (kept in the device file).
    pub persistent: bool,
}

impl Region {
    pub const fn end(&self) -> u32 {
        self.base + self.size
    }
    pub const fn contains(&self, addr: u32) -> bool {
        addr >= self.base && addr - self.base < self.size
    }
}

pub const FLASH: Region = Region {
    name: "flash",
    base: 0x0800_0000,
    size: 1024 * 1024,
    persistent: true,
};
/// SRAM1 (192 KiB), SRAM2a and SRAM2b (32 KiB each) are contiguous: one buffer.
pub const SRAM: Region = Region {
    name: "sram",
    base: 0x2000_0000,
    size: 256 * 1024,
    persistent: false,
};
pub const SYSTEM_MEMORY: Region = Region {
    name: "system-memory",
    base: 0x1FFF_0000,
    size: 28 * 1024,
    persistent: true,
};
/// OTP (1 KiB at 0x1FFF_7000) followed by the engineering bytes (3 KiB).
pub const INFO: Region = Region {
    name: "otp+engineering",
    base: 0x1FFF_7000,
    size: 4 * 1024,
    persistent: true,
};
pub const OPTION_BYTES: Region = Region {
    name: "option-bytes",
    base: 0x1FFF_8000,
    size: 4 * 1024,
    persistent: true,
};

pub const SRAM1_BASE: u32 = 0x2000_0000;
pub const SRAM1_SIZE: u32 = 192 * 1024;
pub const SRAM2A_BASE: u32 = 0x2003_0000;
pub const SRAM2B_BASE: u32 = 0x2003_8000;
pub const SRAM2_SIZE: u32 = 32 * 1024;

pub const ALL: [Region; 5] = [FLASH, SRAM, SYSTEM_MEMORY, INFO, OPTION_BYTES];

/// Engineering-byte addresses (RM0434 / CMSIS).
pub const PACKAGE_ADDR: u32 = 0x1FFF_7500;
pub const UID64_ADDR: u32 = 0x1FFF_7580;
pub const UID96_ADDR: u32 = 0x1FFF_7590;
pub const FLASHSIZE_ADDR: u32 = 0x1FFF_75E0;

/// What a real STM32WB55xG carries in its engineering bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineeringBytes {
    /// UID64: word 0 is the unique device number, word 1 is ST's company id (0x0080E1) << 8
    /// plus the device id 0x26 — the values of a dump read from a real WB55
    /// (reference/fus-clients.md B.4: `00658473 0080E126`).
    pub uid64: u64,
    /// UID96 (wafer coordinates, wafer number, lot number).
    pub uid96: [u32; 3],
    /// Flash size in KiB (0x400 on the xG parts).
    pub flash_kib: u16,
    /// Package code, PACKAGE[4:0] (0x13: VFQFPN68, the package of the WB55RG on the Nucleo).
    pub package: u8,
}

impl Default for EngineeringBytes {
    fn default() -> Self {
        EngineeringBytes {
            uid64: 0x0080_E126_0065_8473,
            uid96: [0x0035_0027, 0x3233_5111, 0x2038_4E35],
            flash_kib: 0x400,
            package: 0x13,
        }
    }
}

impl EngineeringBytes {
    /// Write the fields into the OTP+engineering buffer (which starts at [`INFO`]`.base`).
    pub fn store(&self, info: &mut [u8]) {
        let mut put = |addr: u32, bytes: &[u8]| {
            let at = (addr - INFO.base) as usize;
            info[at..at + bytes.len()].copy_from_slice(bytes);
        };
        put(PACKAGE_ADDR, &u32::from(self.package).to_le_bytes());
        put(UID64_ADDR, &self.uid64.to_le_bytes());
        for (i, w) in self.uid96.iter().enumerate() {
            put(UID96_ADDR + 4 * i as u32, &w.to_le_bytes());
        }
        put(FLASHSIZE_ADDR, &u32::from(self.flash_kib).to_le_bytes());
    }
}

/// The backing store of every region, owned by the machine. The engines map raw pointers into
/// these buffers, so they are allocated once and never resized.
#[derive(Debug)]
pub struct Memories {
    bufs: [Box<[u8]>; 5],
}

impl Memories {
    /// Fresh memories: flash, OTP and system memory erased (0xFF), SRAM zeroed, engineering
    /// bytes set.
    pub fn new(engi: &EngineeringBytes) -> Memories {
        let bufs = ALL.map(|r| {
            let fill = if r.persistent { 0xFF } else { 0x00 };
            vec![fill; r.size as usize].into_boxed_slice()
        });
        let mut m = Memories { bufs };
        engi.store(m.region_mut(INFO));
        m
    }

    fn index(region: Region) -> usize {
        ALL.iter()
            .position(|r| *r == region)
            .expect("a region of the memory map")
    }

    pub fn region(&self, region: Region) -> &[u8] {
        &self.bufs[Self::index(region)]
    }

    pub fn region_mut(&mut self, region: Region) -> &mut [u8] {
        &mut self.bufs[Self::index(region)]
    }

    /// The region holding `addr` and the offset of `addr` inside it.
    pub fn locate(addr: u32) -> Option<(Region, usize)> {
        ALL.iter()
            .find(|r| r.contains(addr))
            .map(|r| (*r, (addr - r.base) as usize))
    }

    /// Bytes at `addr..addr+len` if they lie inside one region.
    pub fn slice(&self, addr: u32, len: usize) -> Option<&[u8]> {
        let (r, off) = Self::locate(addr)?;
        self.region(r).get(off..off.checked_add(len)?)
    }

    pub fn slice_mut(&mut self, addr: u32, len: usize) -> Option<&mut [u8]> {
        let (r, off) = Self::locate(addr)?;
        self.region_mut(r).get_mut(off..off.checked_add(len)?)
    }

    pub fn read_u32(&self, addr: u32) -> Option<u32> {
        self.slice(addr, 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    }

    /// Flash and the option-byte area, lent to the flash controller.
    pub fn flash_mem(&mut self) -> wb_periph::flash::FlashMem<'_> {
        let [main, ob] = self
            .bufs
            .get_disjoint_mut([Self::index(FLASH), Self::index(OPTION_BYTES)])
            .expect("flash and option bytes are two regions");
        wb_periph::flash::FlashMem {
            main: &mut main[..],
            ob: &mut ob[..],
        }
    }

    pub(crate) fn raw_ptr(&mut self, region: Region) -> *mut u8 {
        self.region_mut(region).as_mut_ptr()
    }

    /// Bytes in all the buffers (what a snapshot copies).
    pub fn total_bytes(&self) -> usize {
        self.bufs.iter().map(|b| b.len()).sum()
    }

    /// Copy every buffer (for snapshots).
    pub fn copy_all(&self) -> Vec<Vec<u8>> {
        self.bufs.iter().map(|b| b.to_vec()).collect()
    }

    /// Every buffer, in region order.
    pub fn buffers(&self) -> Vec<&[u8]> {
        self.bufs.iter().map(|b| &b[..]).collect()
    }

    /// Feed every buffer to `h`.
    pub fn hash_all(&self, h: &mut impl std::hash::Hasher) {
        for b in &self.bufs {
            h.write(b);
        }
    }

    /// Restore every buffer from [`Memories::copy_all`] output, in place (pointers stay valid).
    pub fn restore_all(&mut self, data: &[Vec<u8>]) {
        for (buf, src) in self.bufs.iter_mut().zip(data) {
            buf.copy_from_slice(src);
        }
    }

    /// Lose the volatile contents (power cut).
    pub fn clear_volatile(&mut self) {
        for (r, buf) in ALL.iter().zip(self.bufs.iter_mut()) {
            if !r.persistent {
                buf.fill(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engineering_bytes_read_back_like_the_chip() {
        let m = Memories::new(&EngineeringBytes::default());
        assert_eq!(m.read_u32(FLASHSIZE_ADDR).unwrap() & 0xFFFF, 1024);
        assert_eq!(m.read_u32(PACKAGE_ADDR).unwrap() & 0x1F, 0x13);
        assert_eq!(m.read_u32(UID64_ADDR + 4).unwrap(), 0x0080_E126);
        assert_eq!(m.read_u32(0x0800_0000).unwrap(), 0xFFFF_FFFF);
        assert_eq!(m.read_u32(0x2003_FFFC).unwrap(), 0);
        assert!(
            m.slice(0x2003_FFFE, 4).is_none(),
            "an access may not straddle the end"
        );
        assert!(Memories::locate(0x3000_0000).is_none());
    }
}
