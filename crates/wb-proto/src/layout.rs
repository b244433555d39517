//! wbemu's own placements: where the FUS, its state record and its keys live in the secure
//! flash area, the option-byte values it programs, where the operator image (CPU1) puts the
//! shared tables, and the operator's script and log formats. docs/fus-layout.md explains
//! them.
//!
//! Only SFSA = 0xF4 and SBRV = 0x3D000 for a FUS-only device come from ST's documents (AN5185
//! §1.3 and FAQ; stm32wb55-registers.md §13); everything else here is ours.

use crate::image::{MemorySize, Version};

/// Main flash base.
pub const FLASH_BASE: u32 = 0x0800_0000;
/// Flash sector (page) size on the STM32WB5x (AN5185 §2.1).
pub const PAGE_SIZE: u32 = 4096;
/// Pages in the 1-MiB flash.
pub const FLASH_PAGES: u32 = 256;

/// Address of flash page `page`.
pub const fn page_address(page: u32) -> u32 {
    FLASH_BASE + page * PAGE_SIZE
}

/// AN5185 §2.1's download address for an image of `len` bytes under SFSA `sfsa`: one
/// sector below the highest sector-aligned place.
pub const fn download_address(sfsa: u32, len: usize) -> u32 {
    let top = page_address(sfsa);
    (top - len as u32 - PAGE_SIZE) & !(PAGE_SIZE - 1)
}

/// SBRV value for a CPU2 vector table in flash (C2OPT = 1): a word offset from the flash
/// base (stm32wb55-registers.md §3).
pub const fn sbrv_for(vector: u32) -> u32 {
    (vector - FLASH_BASE) >> 2
}

/// First page of the FUS, SFSA of a device without a wireless stack (FUS ≥ v1.0.2).
pub const FUS_FIRST_PAGE: u32 = 0xF4;
/// The FUS vector table: the start of its first page.
pub const FUS_VECTOR: u32 = page_address(FUS_FIRST_PAGE);
/// SBRV while the FUS runs (AN5185 §1.3: "0x3D000 (for FUSv1.x.y or FUSv2)").
pub const FUS_SBRV: u32 = sbrv_for(FUS_VECTOR);
/// FUS code and constants: pages 0xF4..0xFC.
pub const FUS_CODE_PAGES: u32 = 8;
/// The two pages of the FUS state-record journal (0xFC, 0xFD).
pub const FUS_RECORD_PAGES: [u32; 2] = [0xFC, 0xFD];
/// The key page: the device's ST keys (and, later, the customer and user keys).
pub const FUS_KEY_PAGE: u32 = 0xFE;
/// Safeboot's page (the machine's default safeboot vector is this page's start).
pub const SAFEBOOT_PAGE: u32 = 0xFF;

/// RAM the FUS runs in: the top 8 KiB of SRAM2b (always inside the secure part).
pub const FUS_RAM: (u32, u32) = (0x2003_E000, 0x2004_0000);
/// Secure SRAM2a / SRAM2b the FUS needs for itself, in KiB (a wireless stack may need more).
pub const FUS_SRAM2A_KIB: u8 = 4;
/// See [`FUS_SRAM2A_KIB`].
pub const FUS_SRAM2B_KIB: u8 = 8;

/// Version of our FUS: FUSv2 behaviour (stack relocation, AN5185 §2.1).
pub const FUS_VERSION: Version = Version(0x0200_0001);
/// Version of our safeboot (firmware/safeboot): its identity block holds it, and the FUS
/// reports what that block says (0 when the page holds no safeboot).
pub const SAFEBOOT_VERSION: Version = Version(0x0100_0001);
/// Safeboot's identity block, as the FUS's ([`identity`]): right after its vector table.
pub mod safeboot {
    /// Where the block is: the safeboot vector table plus its 48 words.
    pub const ADDR: u32 = super::page_address(super::SAFEBOOT_PAGE) + 48 * 4;
    /// Word 0: "WBSB".
    pub const MAGIC: u32 = 0x4253_4257;
    /// Word 1: the safeboot version ([`super::SAFEBOOT_VERSION`]).
    pub const WORDS: usize = 2;

    /// The version the block in flash gives (`read32` reads a word), 0 when the page holds
    /// no safeboot: what CPU2's firmware reports as SafeBootVersion.
    pub fn version(read32: impl Fn(u32) -> u32) -> crate::image::Version {
        match read32(ADDR) {
            MAGIC => crate::image::Version(read32(ADDR + 4)),
            _ => crate::image::Version(0),
        }
    }
}
/// FUS memory-size word: secure SRAM2b / SRAM2a it needs, and its 12 flash sectors.
pub const FUS_MEMORY_SIZE: MemorySize = MemorySize::new(FUS_SRAM2B_KIB, FUS_SRAM2A_KIB, 0, 12);
/// The FUS identity block (docs/fus-layout.md §1): three words right after the FUS's vector
/// table (48 words on the Cortex-M0+), so that host tools read the FUS version from flash
/// (a device file) without running it.
pub mod identity {
    /// Where the block is: the FUS vector table plus its 48 words.
    pub const ADDR: u32 = super::FUS_VECTOR + 48 * 4;
    /// Word 0: "WBFI".
    pub const MAGIC: u32 = 0x4946_4257;
    /// Word 1: the FUS version ([`super::FUS_VERSION`]); word 2: its memory-size word.
    pub const WORDS: usize = 3;
}

/// Device id written in the FUS device information table (the observed STM32WB5x value).
pub const DEVICE_ID: u16 = 0x0496;

/// FLASH_SFR value with the flash secure from `sfsa` (FSD = 0, DDS = 0).
pub const fn sfr(sfsa: u32) -> u32 {
    sfsa & 0xFF
}

/// FLASH_SRRVR value: CPU2 boots from flash at `sbrv` (C2OPT = 1), the top `sram2a_kib` of
/// SRAM2a and `sram2b_kib` of SRAM2b secure (a zero size leaves that SRAM public).
pub const fn srrvr(sbrv: u32, sram2a_kib: u8, sram2b_kib: u8) -> u32 {
    let mut v = (1 << 31) | (sbrv & 0x3_FFFF);
    if sram2a_kib == 0 || sram2a_kib > 32 {
        v |= 1 << 23; // BRSD
    } else {
        v |= ((32 - sram2a_kib as u32) & 0x1F) << 18;
    }
    if sram2b_kib == 0 || sram2b_kib > 32 {
        v |= 1 << 30; // NBRSD
    } else {
        v |= ((32 - sram2b_kib as u32) & 0x1F) << 25;
    }
    v
}

/// SRRVR of a device running the FUS with no wireless stack ("virgin", as shipped).
pub const FUS_SRRVR: u32 = srrvr(FUS_SBRV, FUS_SRAM2A_KIB, FUS_SRAM2B_KIB);

/// The FUS state record (docs/fus-layout.md §2): 32 words appended to the journal pages; the
/// valid one (magic and CRC-32 of the first 31 words match) with the highest sequence wins.
pub mod record {
    /// "WBFR".
    pub const MAGIC: u32 = 0x5246_4257;
    /// Words per record, the CRC last.
    pub const WORDS: usize = 32;
    /// Bytes per record.
    pub const SIZE: u32 = (WORDS * 4) as u32;
    /// Word index of the sequence number (the FUS's `Record` has every field; these are
    /// the ones a host reads).
    pub const SEQ: usize = 1;
    /// Word index of the operation in progress ([`op`]).
    pub const OP: usize = 2;
    /// Word index of its [`phase`].
    pub const PHASE: usize = 3;
    /// Word index of the progress inside the phase (pages done).
    pub const PROGRESS: usize = 4;
    /// Word index of the error the next FUS_GET_STATE reports (0: none).
    pub const ERROR: usize = 5;
    /// Word index of the installed stack's first page (0: none).
    pub const WS_PAGE: usize = 6;
    /// Word index of the installed stack's version (its footer's version word).
    pub const WS_VERSION: usize = 7;
    /// Word index of the installed stack's memory-size word.
    pub const WS_MEMORY: usize = 8;
    /// Word index of the payload length of the image being installed.
    pub const LEN: usize = 11;

    /// Operation in progress.
    pub mod op {
        /// Nothing in progress.
        pub const NONE: u32 = 0;
        /// FUS_FW_UPGRADE.
        pub const INSTALL: u32 = 1;
        /// FUS_FW_DELETE.
        pub const DELETE: u32 = 2;
    }

    /// Phases of an install (1..=9) and of a delete (1..=2); the FUS state byte is 0x10 +
    /// install phase, 0x19 + delete phase (AN5185 Table 13: 0x10-0x1F).
    pub mod phase {
        /// Accepted: scan and check the image.
        pub const REQUESTED: u32 = 1;
        /// The body is damaged: erase the image, then report IMG_CORRUPTED.
        pub const DISCARD: u32 = 2;
        /// Make everything from the image up secure (SFSA) and the FUS the boot target.
        pub const PROTECT: u32 = 3;
        /// Erase the installed stack.
        pub const ERASE_OLD: u32 = 4;
        /// Decrypt the body into its final place, top page first.
        pub const DECRYPT: u32 = 5;
        /// Check the decrypted payload against the plaintext CRC.
        pub const CHECK: u32 = 6;
        /// Erase what is left of the image below the stack (the shadow copy).
        pub const CLEAN: u32 = 7;
        /// SFSA, SBRV and the secure SRAM for the new stack; then it runs.
        pub const COMMIT: u32 = 8;
        /// The install failed after protection: erase it all and give the flash back.
        pub const FAIL: u32 = 9;
        /// Delete: erase the stack.
        pub const DEL_ERASE: u32 = 1;
        /// Delete: SFSA and SBRV back to the FUS.
        pub const DEL_COMMIT: u32 = 2;
    }

    /// A short name for an operation's phase.
    pub fn phase_name(operation: u32, p: u32) -> &'static str {
        match (operation, p) {
            (op::NONE, _) => "idle",
            (op::INSTALL, phase::REQUESTED) => "checking the image",
            (op::INSTALL, phase::DISCARD) => "erasing a corrupted image",
            (op::INSTALL, phase::PROTECT) => "protecting the image (SFSA down)",
            (op::INSTALL, phase::ERASE_OLD) => "erasing the old stack",
            (op::INSTALL, phase::DECRYPT) => "decrypting into place",
            (op::INSTALL, phase::CHECK) => "checking the plaintext CRC",
            (op::INSTALL, phase::CLEAN) => "erasing the shadow copy",
            (op::INSTALL, phase::COMMIT) => "committing option bytes",
            (op::INSTALL, phase::FAIL) => "undoing a failed install",
            (op::DELETE, phase::DEL_ERASE) => "erasing the stack",
            (op::DELETE, phase::DEL_COMMIT) => "giving the flash back (SFSA up)",
            _ => "unknown phase",
        }
    }
}

/// The key page (docs/fus-layout.md §3): the device-resident ST keys.
pub mod keys {
    /// Word 0: "WBK1".
    pub const MAGIC: u32 = 0x314B_4257;
    /// +0x04: length of the ST body key (16 or 32).
    pub const OFF_AES_LEN: usize = 0x04;
    /// +0x08: the ST body key (32 bytes reserved).
    pub const OFF_AES_KEY: usize = 0x08;
    /// +0x28: the ST public key Qx, 32 bytes big-endian.
    pub const OFF_PUB_X: usize = 0x28;
    /// +0x48: the ST public key Qy, 32 bytes big-endian.
    pub const OFF_PUB_Y: usize = 0x48;
    /// +0x68: CRC-32 (ISO-HDLC) of bytes [0, 0x68).
    pub const OFF_CRC: usize = 0x68;
    /// Bytes in the key block.
    pub const LEN: usize = 0x6C;
}

/// Shared tables as the operator image lays them out in SRAM2a with IPCCDBA = 0 (like ST's
/// `tl_mbox.c`, with the device information table where CubeProgrammer reads it).
pub mod tables {
    /// Reference table (IPCCDBA = 0).
    pub const REF_TABLE: u32 = 0x2003_0000;
    /// Device information table (FUS version word at 0x20030030).
    pub const DEVICE_INFO: u32 = 0x2003_0024;
    /// Room reserved for the device information table.
    pub const DEVICE_INFO_LEN: u32 = 0x3C;
    /// System table: command buffer pointer, event queue pointer.
    pub const SYS_TABLE: u32 = 0x2003_0060;
    /// Head of the system event queue.
    pub const SYS_QUEUE: u32 = 0x2003_0068;
    /// Memory-manager table.
    pub const MEM_MANAGER_TABLE: u32 = 0x2003_0070;
    /// Head of the free-buffer queue.
    pub const FREE_BUF_QUEUE: u32 = 0x2003_0090;
    /// System command buffer (`TL_CmdPacket_t`, 267 bytes).
    pub const SYS_CMD_BUFFER: u32 = 0x2003_0100;
    /// Spare system event buffer: where CPU2 builds its system events.
    pub const SYS_SPARE_EVT_BUFFER: u32 = 0x2003_0210;
    /// End of the public tables (the rest of SRAM2a up to its secure part is free).
    pub const END: u32 = 0x2003_0320;
}

/// Vendor command of the sample wireless stack: echoes its payload (at most 4 bytes) after
/// the status byte. OGF 0x3F, OCF 0x3F0, outside the SHCI range.
pub const WS_ECHO_OPCODE: u16 = 0xFFF0;

/// The operator image's script (docs/fus-layout.md §5): a block in user flash.
pub mod operator {
    /// Where the script is read from (a page of user flash above the operator's code).
    pub const SCRIPT_ADDR: u32 = 0x0801_0000;
    /// Word 0 of a script: "OPS1".
    pub const SCRIPT_MAGIC: u32 = 0x3153_504F;
    /// Most steps in a script.
    pub const MAX_STEPS: u32 = 64;
    /// Words per step: op, arg0, arg1, arg2.
    pub const STEP_WORDS: u32 = 4;

    /// Step opcodes.
    pub mod op {
        /// FUS_GET_STATE once; logs the answer.
        pub const GET_STATE: u32 = 1;
        /// FUS_FW_UPGRADE; arg0 = payload length (0, 4, 8), arg1 = source, arg2 = destination.
        pub const FW_UPGRADE: u32 = 2;
        /// FUS_FW_DELETE.
        pub const FW_DELETE: u32 = 3;
        /// FUS_START_WS.
        pub const START_WS: u32 = 4;
        /// Poll FUS_GET_STATE every arg1 ms (at most arg0 polls) until the state is no longer
        /// an upgrade in progress, or a wireless stack announces itself (READY 0x00).
        pub const POLL: u32 = 5;
        /// Send a raw command: arg0 = opcode | packet type << 16 (0: 0x10), arg1 = payload
        /// length (may lie: up to 255), arg2 = payload fill byte.
        pub const RAW: u32 = 6;
        /// Vendor echo to the wireless stack with the 4 bytes of arg0.
        pub const ECHO: u32 = 7;
        /// Wait arg0 ms.
        pub const DELAY: u32 = 8;
        /// Wait (at most arg0 ms) for a READY event; logs it.
        pub const WAIT_READY: u32 = 9;
        /// Reset the system (NVIC_SystemReset); the script goes on after the reboot.
        pub const RESET: u32 = 10;
    }

    /// The operator's log in SRAM1 (kept across system resets, cleared at power-on): a
    /// header then entries of 4 words.
    pub const LOG_ADDR: u32 = 0x2002_F000;
    /// Header word 0: "OPLG" while the log is valid.
    pub const LOG_MAGIC: u32 = 0x474C_504F;
    /// Header: +4 next step, +8 boots, +12 number of entries; entries from +16.
    pub const LOG_HEADER_WORDS: u32 = 4;
    /// Most entries.
    pub const LOG_MAX_ENTRIES: u32 = 250;

    /// Entry kinds (word 0 bits 7:0; bits 15:8 the step index, 0xFF outside steps).
    pub mod entry {
        /// CPU1 booted: a = boot count, b = RCC_CSR.
        pub const BOOT: u32 = 1;
        /// READY event: a = payload byte, b = device-info word 0, c = the FUS version word
        /// (FUS layout) or the wireless-stack version word (stack layout).
        pub const READY: u32 = 2;
        /// Command answered: a = opcode, b = status byte, c = first payload byte or
        /// 0xFFFF_FFFF when none.
        pub const RESPONSE: u32 = 3;
        /// Step finished: a = step index.
        pub const STEP_DONE: u32 = 4;
        /// A wait ran out: a = step index.
        pub const TIMEOUT: u32 = 5;
        /// The script ended: a = steps run.
        pub const END: u32 = 6;
        /// Echo answered: a = status, b = the echoed word.
        pub const ECHO: u32 = 7;
        /// The script block is missing or malformed: a = word 0 found.
        pub const BAD_SCRIPT: u32 = 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fus_placement_matches_the_documents() {
        assert_eq!(FUS_VECTOR, 0x080F_4000);
        assert_eq!(FUS_SBRV, 0x3D000);
        assert_eq!(page_address(SAFEBOOT_PAGE), 0x080F_F000);
        assert_eq!(FUS_FIRST_PAGE + FUS_CODE_PAGES, FUS_RECORD_PAGES[0]);
        assert_eq!(FUS_RECORD_PAGES[1] + 1, FUS_KEY_PAGE);
        assert_eq!(FUS_KEY_PAGE + 1, SAFEBOOT_PAGE);
        assert_eq!(tables::DEVICE_INFO + 0x0C, 0x2003_0030);
    }

    #[test]
    fn srrvr_fields() {
        // C2OPT=1, SBRV=0x3D000, SBRSA=28 (0x20037000), SNBRSA=24 (0x2003E000), both secure.
        assert_eq!(FUS_SRRVR, 0x8000_0000 | 0x3D000 | (28 << 18) | (24 << 25));
        assert_eq!(
            srrvr(0x3D000, 0, 0) & (1 << 23 | 1 << 30),
            1 << 23 | 1 << 30
        );
    }
}
