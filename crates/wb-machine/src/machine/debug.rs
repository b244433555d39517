//! The debug port: the host reads and writes memory and registers as a probe would.

use super::*;

impl Machine {
    /// Write bytes straight into memory (no bus, no timing), e.g. to prepare a test.
    pub fn poke(&mut self, addr: u32, bytes: &[u8]) -> bool {
        match self.mem.slice_mut(addr, bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.code_changed(&[(addr, addr + bytes.len() as u32)]);
                true
            }
            None => false,
        }
    }

    /// The peripheral register window holding `addr`: (target, its base).
    pub(super) fn register_window(&self, addr: u32) -> Option<(Target, u32)> {
        let system = chip::SYSTEM_BLOCKS
            .into_iter()
            .find(|&(_, base)| addr >= base && addr - base < chip::SYSTEM_WINDOW);
        system.or_else(|| {
            let sh = self.bus.borrow();
            sh.periphs
                .iter()
                .position(|m| addr >= m.base && addr - m.base < m.size)
                .map(|i| (Target::Device(i), sh.periphs[i].base))
        })
    }

    /// A 32-bit read as a debug probe's access port makes it (CPU1's bus, no time passes):
    /// memories directly, peripheral and flash-controller registers through their models.
    /// `None` where nothing answers or the model refuses the access.
    pub fn debug_read32(&mut self, addr: u32) -> Option<u32> {
        if let Some(v) = self.mem.read_u32(addr) {
            return Some(v);
        }
        let access = wb_periph::Access::word(CoreId::Cpu1, self.now);
        if let Some(off) = flash_register(addr) {
            return self.bus.borrow_mut().flash.read(off, access).ok();
        }
        let (target, base) = self.register_window(addr)?;
        let access = wb_periph::Access::word(CoreId::Cpu1, self.now);
        self.bus.borrow_mut().read(target, addr - base, access).ok()
    }

    /// A 32-bit write through the debug access port: RAM directly, peripheral registers
    /// through their models, whose effects (e.g. PWR_CR4.C2BOOT starting CPU2) follow at
    /// once. Flash is written only through the flash controller, so not here. False where
    /// nothing takes the write.
    pub fn debug_write32(&mut self, addr: u32, value: u32) -> bool {
        if memory::SRAM.contains(addr) {
            return self.poke(addr, &value.to_le_bytes());
        }
        if let Some(off) = flash_register(addr) {
            let access = wb_periph::Access::word(CoreId::Cpu1, self.now);
            let ok = self
                .bus
                .borrow_mut()
                .flash
                .write(off, value, access)
                .is_ok();
            self.sync();
            return ok;
        }
        let Some((target, base)) = self.register_window(addr) else {
            return false;
        };
        let access = wb_periph::Access::word(CoreId::Cpu1, self.now);
        let ok = self
            .bus
            .borrow_mut()
            .write(target, addr - base, value, access)
            .is_ok();
        self.sync();
        ok
    }

    pub fn peek(&self, addr: u32, len: usize) -> Option<&[u8]> {
        self.mem.slice(addr, len)
    }

    pub fn read_u32(&self, addr: u32) -> Option<u32> {
        self.mem.read_u32(addr)
    }

    pub(super) fn code_changed(&mut self, ranges: &[(u32, u32)]) {
        for c in &mut self.cores {
            for (s, e) in ranges {
                c.invalidate_code(*s, *e);
            }
        }
    }

    /// Give the double-word at flash address `addr` an ECC error (as a worn or disturbed cell
    /// would); data reads and instruction fetches of it then raise ECCC or ECCD.
    pub fn inject_ecc(&mut self, addr: u32, ecc: Ecc) {
        self.bus
            .borrow_mut()
            .flash
            .inject_ecc(addr - memory::FLASH.base, ecc);
        self.sync_flash();
    }
}

/// The offset of `addr` in the flash controller's register window.
pub(super) fn flash_register(addr: u32) -> Option<u32> {
    let base = chip::FLASH_REGS;
    (addr >= base && addr - base < 0x400).then(|| addr - base)
}
