//! What CPU2's secure firmware shares: register access (`hw`) and flash and option-byte
//! programming through CPU2's register set (`flash`). The FUS and safeboot both run from the
//! secure area and program the same flash; each is its own image.
#![no_std]

pub mod flash;
pub mod hw;
