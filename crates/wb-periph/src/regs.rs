//! A table-driven register bank, for peripherals whose registers are mostly plain storage
//! (RCC, PWR, EXTI): each register has a name, an offset, a reset value and the bits software
//! may write. The peripheral adds the behaviour (ready flags, write-1-to-clear, side effects).

use crate::{merge_write, narrow_read, BusError, BusResult, Width};

/// One register of a bank.
#[derive(Clone, Copy, Debug)]
pub struct RegDef {
    pub name: &'static str,
    pub offset: u32,
    pub reset: u32,
    /// Bits a write changes; the others are read-only (or handled by the peripheral).
    pub writable: u32,
}

impl RegDef {
    pub const fn new(name: &'static str, offset: u32, reset: u32, writable: u32) -> RegDef {
        RegDef {
            name,
            offset,
            reset,
            writable,
        }
    }
}

/// The values of a bank of registers described by a `RegDef` table.
#[derive(Clone, Debug)]
pub struct Bank {
    defs: &'static [RegDef],
    values: Vec<u32>,
    /// Registers (by index, up to 64) already reported as stored without modelled effect.
    noted: u64,
}

impl Bank {
    pub fn new(defs: &'static [RegDef]) -> Bank {
        Bank {
            defs,
            values: defs.iter().map(|d| d.reset).collect(),
            noted: 0,
        }
    }

    /// The name of register `index` the first time it is reported as storage only (the
    /// peripheral traces it under its own target), `None` afterwards.
    pub fn first_note(&mut self, index: usize) -> Option<&'static str> {
        let bit = 1u64 << (index % 64);
        let first = self.noted & bit == 0;
        self.noted |= bit;
        first.then_some(self.defs[index].name)
    }

    /// Index of the register at `offset` (any byte of it).
    pub fn index(&self, offset: u32) -> BusResult<usize> {
        self.defs
            .iter()
            .position(|d| d.offset == offset & !3)
            .ok_or(BusError::Unmapped)
    }

    pub fn def(&self, index: usize) -> &'static RegDef {
        &self.defs[index]
    }

    /// The register at `offset`, which must be in the table.
    pub fn get(&self, offset: u32) -> u32 {
        self.values[self.index(offset).expect("register in the table")]
    }

    /// Set the register at `offset`, all bits (no write mask): for the peripheral's own use.
    pub fn set(&mut self, offset: u32, value: u32) {
        let i = self.index(offset).expect("register in the table");
        self.values[i] = value;
    }

    pub fn set_bits(&mut self, offset: u32, bits: u32, on: bool) {
        let v = self.get(offset);
        self.set(offset, if on { v | bits } else { v & !bits });
    }

    /// A bus read of any width.
    pub fn read(&self, offset: u32, width: Width) -> BusResult<u32> {
        let i = self.index(offset)?;
        Ok(narrow_read(self.values[i], offset, width))
    }

    /// What a bus write of any width would make the whole register, through its write mask.
    /// Returns (index, old value, new value); nothing is stored yet.
    pub fn merged(&self, offset: u32, value: u32, width: Width) -> BusResult<(usize, u32, u32)> {
        let i = self.index(offset)?;
        let old = self.values[i];
        let written = merge_write(old, offset, value, width);
        let mask = self.defs[i].writable;
        Ok((i, old, (old & !mask) | (written & mask)))
    }

    pub fn store(&mut self, index: usize, value: u32) {
        self.values[index] = value;
    }

    /// Every register back to its reset value, except those `keep` selects.
    pub fn reset_except(&mut self, keep: impl Fn(&RegDef) -> bool) {
        for (v, d) in self.values.iter_mut().zip(self.defs) {
            if !keep(d) {
                *v = d.reset;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DEFS: [RegDef; 2] = [
        RegDef::new("A", 0, 0x11, 0xFF00),
        RegDef::new("B", 8, 0, !0),
    ];

    #[test]
    fn writes_go_through_the_mask_and_lanes() {
        let mut b = Bank::new(&DEFS);
        let (i, old, new) = b.merged(1, 0xAB, Width::Byte).unwrap();
        assert_eq!((i, old, new), (0, 0x11, 0xAB11));
        b.store(i, new);
        assert_eq!(b.read(1, Width::Byte).unwrap(), 0xAB);
        assert_eq!(b.read(4, Width::Word), Err(BusError::Unmapped));
        b.set(8, 5);
        b.reset_except(|d| d.name == "B");
        assert_eq!((b.get(0), b.get(8)), (0x11, 5));
        assert_eq!((b.first_note(1), b.first_note(1)), (Some("B"), None));
    }
}
