//! Wireless-stack install/upgrade and delete as resumable phases (docs/fus-layout.md §4).
//! Every phase boundary is a state record, so a reset or power cut anywhere resumes at the
//! phase it interrupted; each phase is idempotent. Option-byte changes follow one pattern:
//! program them, record the phase that comes after, then OBL_LAUNCH (a system reset).

use crate::crypto::{crc32, Ctr};
use crate::flash::{self, page_addr, FlashError};
use crate::hw::read32;
use crate::journal::{self, op, Record};
use crate::keys::Keys;
use crate::scan;
use wb_proto::fus::FusError;
use wb_proto::image::MemorySize;
use wb_proto::layout::{
    page_address, sbrv_for, sfr, srrvr, FLASH_BASE, FUS_FIRST_PAGE, FUS_SBRV, FUS_SRAM2A_KIB,
    FUS_SRAM2B_KIB, FUS_SRRVR, PAGE_SIZE,
};

pub use wb_proto::layout::record::phase;

/// FUS state byte during a delete.
pub const DELETE_STATE: u8 = 0x1A;

/// A FUS error code as stored in the record.
fn code(e: FusError) -> u32 {
    u8::from(e).into()
}

pub const fn state_of_install(phase: u32) -> u8 {
    0x10 + phase as u8
}

fn state_of(rec: &Record) -> u8 {
    match rec.op {
        op::INSTALL => state_of_install(rec.phase),
        op::DELETE => DELETE_STATE + rec.phase as u8 - 1,
        _ => 0,
    }
}

const SFR_MASK: u32 = 0x0000_11FF;
const SRRVR_MASK: u32 = 0xFEFF_FFFF;

/// First secure page (0x100: none).
pub fn sfsa(sfr: u32) -> u32 {
    if sfr & (1 << 8) != 0 {
        0x100
    } else {
        sfr & 0xFF
    }
}

/// Option values with the FUS as CPU2's boot target and nothing else changed.
fn boot_fus(srrvr_now: u32) -> u32 {
    (srrvr_now & !0x3_FFFF) | (1 << 31) | FUS_SBRV
}

/// SFR and SRRVR for a stack at `page` with memory-size word `memory`, booting it.
pub fn stack_options(page: u32, memory: u32) -> (u32, u32) {
    let m = MemorySize(memory);
    (
        sfr(page),
        srrvr(
            sbrv_for(page_address(page)),
            m.sram2a_kb().max(FUS_SRAM2A_KIB),
            m.sram2b_kb().max(FUS_SRAM2B_KIB),
        ),
    )
}

/// Whether the option-byte area holds something other than what was loaded: an option
/// change interrupted between OPTSTRT and OBL_LAUNCH.
pub fn options_pending(loaded: (u32, u32)) -> bool {
    let stored = flash::stored_options();
    stored.0 & SFR_MASK != loaded.0 & SFR_MASK || stored.1 & SRRVR_MASK != loaded.1 & SRRVR_MASK
}

pub struct Ctx {
    pub rec: Record,
    pub keys: Option<Keys>,
    /// SFR and SRRVR in force since this boot.
    pub loaded: (u32, u32),
}

fn publish(rec: &Record) {
    let state = state_of(rec);
    crate::shared(|sh| {
        sh.ws_installed = rec.ws_page != 0;
        if state != 0 {
            sh.state = state;
        } else if rec.error != 0 {
            sh.state = 0xFF;
            sh.error = rec.error as u8;
        } else {
            sh.state = 0;
        }
    });
}

impl Ctx {
    /// Record `rec` and make it current. A record that cannot be written ends the operation
    /// with a write error.
    fn save(&mut self, rec: Record) {
        self.rec = match journal::store(rec) {
            Ok(r) => r,
            Err(_) => Record {
                error: code(FusError::ImageWriteError),
                ..rec.idle()
            },
        };
        publish(&self.rec);
    }

    fn fail(&mut self, error: FusError) {
        let rec = Record {
            error: code(error),
            ..self.rec.idle()
        };
        self.save(rec);
    }

    fn flash_failed(&mut self, _e: FlashError, erase: bool) {
        self.fail(if erase {
            FusError::ImageEraseError
        } else {
            FusError::ImageWriteError
        });
    }

    /// A command accepted by the handler: record it and run it.
    pub fn begin(&mut self, operation: u32) {
        let rec = Record {
            op: operation,
            phase: if operation == op::DELETE {
                phase::DEL_ERASE
            } else {
                phase::REQUESTED
            },
            progress: 0,
            error: 0,
            ..self.rec
        };
        self.save(rec);
        self.run();
    }

    /// FUS_START_WS: boot the installed stack.
    pub fn start_ws(&mut self) {
        self.commit_stack();
    }

    /// Run the recorded operation until it ends (or resets the system).
    pub fn run(&mut self) {
        let rec = self.rec;
        if rec.op == op::NONE && rec.ws_page != 0 && sfsa(self.loaded.0) != rec.ws_page {
            // An install recorded done whose option bytes never took effect (a reset or cut
            // between the record and their load): commit them, the install still in
            // progress for clients.
            publish(&Record {
                op: op::INSTALL,
                phase: phase::COMMIT,
                ..rec
            });
            return self.commit_stack();
        }
        publish(&self.rec);
        loop {
            let rec = self.rec;
            match (rec.op, rec.phase) {
                (op::INSTALL, phase::REQUESTED) => self.requested(),
                (op::INSTALL, phase::DISCARD) => {
                    let from = (rec.img_start - FLASH_BASE) / PAGE_SIZE;
                    let to = (rec.img_end - FLASH_BASE).div_ceil(PAGE_SIZE);
                    match flash::erase_pages(from, to) {
                        Ok(()) => self.fail(FusError::ImgCorrupt),
                        Err(e) => self.flash_failed(e, true),
                    }
                }
                (op::INSTALL, phase::PROTECT) => {
                    let target = (sfr(self.img_page()), boot_fus(self.loaded.1));
                    self.change_options(target, phase::ERASE_OLD);
                }
                (op::INSTALL, p)
                    if p != phase::FAIL
                        && p != phase::COMMIT
                        && sfsa(self.loaded.0) > self.img_page() =>
                {
                    // Not protected yet (cannot happen unless the option area was altered).
                    self.save(Record {
                        phase: phase::PROTECT,
                        ..rec
                    });
                }
                (op::INSTALL, phase::ERASE_OLD) => {
                    if rec.ws_page != 0 {
                        if let Err(e) = flash::erase_pages(rec.ws_page, FUS_FIRST_PAGE) {
                            return self.flash_failed(e, true);
                        }
                    }
                    self.save(Record {
                        phase: phase::DECRYPT,
                        progress: 0,
                        ws_page: 0,
                        ws_version: 0,
                        ws_memory: 0,
                        ..rec
                    });
                }
                (op::INSTALL, phase::DECRYPT) => self.decrypt(),
                (op::INSTALL, phase::CHECK) => {
                    let (crc, clean) = flash::checked(|| crc32(page_addr(rec.dest_page), rec.len));
                    if clean && crc == rec.plain_crc {
                        self.save(Record {
                            phase: phase::CLEAN,
                            ..rec
                        });
                    } else {
                        self.save(Record {
                            phase: phase::FAIL,
                            error: code(FusError::ImgCorrupt),
                            ..rec
                        });
                    }
                }
                (op::INSTALL, phase::CLEAN) => {
                    match flash::erase_pages(self.img_page(), rec.dest_page) {
                        Ok(()) => self.save(Record {
                            phase: phase::COMMIT,
                            ..rec
                        }),
                        Err(e) => self.flash_failed(e, true),
                    }
                }
                (op::INSTALL, phase::COMMIT) => {
                    // The record first, then the option bytes: once they are in force the
                    // stack runs, and this FUS sees the record again only when a stack has
                    // asked for it (two FUS_GET_STATE). It must then find the install done
                    // and stay, not commit again and hand back to the stack. Clients go on
                    // seeing the install in progress (not published) until the reset.
                    let done = Record {
                        ws_page: rec.dest_page,
                        ws_version: rec.new_version,
                        ws_memory: rec.new_memory,
                        error: 0,
                        ..rec.idle()
                    };
                    match journal::store(done) {
                        Ok(r) => self.rec = r,
                        Err(_) => return self.fail(FusError::ImageWriteError),
                    }
                    return self.commit_stack();
                }
                (op::INSTALL, phase::FAIL) => {
                    if let Err(e) = flash::erase_pages(self.img_page(), FUS_FIRST_PAGE) {
                        return self.flash_failed(e, true);
                    }
                    let error = if rec.error != 0 {
                        rec.error
                    } else {
                        code(FusError::ImgCorrupt)
                    };
                    let done = Record {
                        error,
                        ws_page: 0,
                        ws_version: 0,
                        ws_memory: 0,
                        ..rec.idle()
                    };
                    self.change_options_then((sfr(FUS_FIRST_PAGE), FUS_SRRVR), done);
                }
                (op::DELETE, phase::DEL_ERASE) => {
                    if rec.ws_page != 0 {
                        if let Err(e) = flash::erase_pages(rec.ws_page, FUS_FIRST_PAGE) {
                            return self.flash_failed(e, true);
                        }
                    }
                    self.save(Record {
                        phase: phase::DEL_COMMIT,
                        ws_page: 0,
                        ws_version: 0,
                        ws_memory: 0,
                        ..rec
                    });
                }
                (op::DELETE, phase::DEL_COMMIT) => {
                    self.change_options_then((sfr(FUS_FIRST_PAGE), FUS_SRRVR), rec.idle());
                }
                // Idle, or a record this FUS does not know: nothing to resume.
                _ => {
                    if rec.op != op::NONE {
                        self.fail(FusError::ErrUnknown);
                    }
                    return;
                }
            }
            if self.rec.op == op::NONE {
                return;
            }
        }
    }

    fn img_page(&self) -> u32 {
        (self.rec.img_start - FLASH_BASE) / PAGE_SIZE
    }

    /// Program `target`, record `next_phase`, reset to apply.
    fn change_options(&mut self, target: (u32, u32), next_phase: u32) {
        let next = Record {
            phase: next_phase,
            ..self.rec
        };
        self.change_options_then(target, next);
    }

    /// Program the installed stack's option bytes (its SFSA, SBRV and secure SRAM2) and
    /// reset to apply them: CPU2 boots the stack.
    fn commit_stack(&mut self) {
        let (s, r) = stack_options(self.rec.ws_page, self.rec.ws_memory);
        if flash::program_options(s, r).is_ok() {
            flash::launch();
        }
        self.fail(FusError::ImageWriteError);
    }

    fn change_options_then(&mut self, target: (u32, u32), next: Record) {
        if let Err(e) = flash::program_options(target.0, target.1) {
            return self.flash_failed(e, false);
        }
        self.save(next);
        flash::launch();
    }

    fn requested(&mut self) {
        let rec = self.rec;
        let top = page_address(sfsa(self.loaded.0).min(if rec.ws_page != 0 {
            rec.ws_page
        } else {
            FUS_FIRST_PAGE
        }));
        let s = scan::scan(FLASH_BASE, top);
        let Some(keys) = self.keys.as_ref() else {
            return self.fail(FusError::ImgNotAuthentic);
        };
        // A double-word of the image with a broken ECC (a torn download) makes it corrupted.
        let (checked, clean) = flash::checked(|| scan::check(&s, keys));
        let checked = if clean {
            checked
        } else {
            Err((FusError::ImgCorrupt, true))
        };
        let (img, start) = match checked {
            Ok(found) => found,
            Err((error, erase)) => {
                if erase {
                    let (from, to) = scan::extent(&s, FLASH_BASE);
                    // Only whole pages of the image: its start is page-aligned when placed
                    // as documented; otherwise the page it shares is kept.
                    let first = from.next_multiple_of(PAGE_SIZE);
                    return self.save(Record {
                        phase: phase::DISCARD,
                        img_start: first,
                        img_end: to.max(first),
                        error: code(error),
                        ..rec
                    });
                }
                return self.fail(error);
            }
        };
        let (_, end) = scan::extent(&s, FLASH_BASE);
        // AN5185 §2.2: the image must start on a sector.
        if start % PAGE_SIZE != 0 {
            return self.fail(FusError::ImgNotFound);
        }
        let pages = img.len.div_ceil(PAGE_SIZE) + img.footer.nvm_section_bytes() / PAGE_SIZE;
        let first = (start - FLASH_BASE) / PAGE_SIZE;
        // As high as possible below the FUS; an image loaded above that place, or a stack
        // that needs more secure SRAM than there is, does not fit.
        let fits = pages < FUS_FIRST_PAGE
            && FUS_FIRST_PAGE - pages >= first
            && img.footer.sram2a_kb <= 28
            && img.footer.sram2b_kb <= 32;
        if !fits {
            return self.fail(FusError::ImgNotEnoughSpace);
        }
        self.save(Record {
            phase: phase::PROTECT,
            img_start: start,
            img_end: end,
            len: img.len,
            cipher: img.cipher,
            nonce: img.nonce,
            plain_crc: img.plain_crc,
            new_version: img.footer.version.0,
            new_memory: img.footer.memory_word(),
            dest_page: FUS_FIRST_PAGE - pages,
            ..rec
        });
    }

    /// Decrypt page by page from the top: page j of the body goes to page dest + j. The
    /// destination is at or above the source, so going down never overwrites a source page
    /// still to be read (in place, the page is read into RAM before it is erased).
    fn decrypt(&mut self) {
        let rec = self.rec;
        let Some(keys) = self.keys else {
            return self.save(Record {
                phase: phase::FAIL,
                error: code(FusError::ImgNotAuthentic),
                ..rec
            });
        };
        let padded = rec.len.next_multiple_of(4);
        let total = padded.div_ceil(PAGE_SIZE);
        let mut done = rec.progress;
        // The test-only bug of `broken-resume`: the interrupted page is taken as done.
        #[cfg(feature = "broken-resume")]
        if done > 0 {
            done += 1;
        }
        while done < total {
            let j = total - 1 - done;
            let src = rec.img_start + j * PAGE_SIZE;
            let dst = page_addr(rec.dest_page + j);
            let n = (padded - j * PAGE_SIZE).min(PAGE_SIZE);
            if let Err(e) = decrypt_page(&keys, &rec, j, src, dst, n) {
                return self.flash_failed(e, false);
            }
            done += 1;
            let next = if done == total {
                Record {
                    phase: phase::CHECK,
                    progress: 0,
                    ..rec
                }
            } else {
                Record {
                    progress: done,
                    ..rec
                }
            };
            self.save(next);
        }
    }
}

static mut PAGE_BUF: [u32; 1024] = [0; 1024];

fn decrypt_page(
    keys: &Keys,
    rec: &Record,
    j: u32,
    src: u32,
    dst: u32,
    n: u32,
) -> Result<(), FlashError> {
    let mut nonce = [0u8; 12];
    for (i, w) in rec.nonce.iter().enumerate() {
        nonce[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    let words = (n / 4) as usize;
    let buf = unsafe { &mut *core::ptr::addr_of_mut!(PAGE_BUF) };
    for (i, w) in buf[..words].iter_mut().enumerate() {
        *w = read32(src + 4 * i as u32);
    }
    flash::erase_page((dst - FLASH_BASE) / PAGE_SIZE)?;
    let mut ctr = Ctr::start(keys.body_key(), &nonce, j * (PAGE_SIZE / 16));
    let mut i = 0;
    while i < words {
        let mut block = [0u32; 4];
        for (k, b) in block.iter_mut().enumerate() {
            *b = buf
                .get(i + k)
                .copied()
                .filter(|_| i + k < words)
                .unwrap_or(0);
        }
        let out = ctr.block(block);
        for pair in 0..2 {
            let at = i + 2 * pair;
            if at < words {
                let hi = if at + 1 < words {
                    out[2 * pair + 1]
                } else {
                    0xFFFF_FFFF
                };
                flash::program(dst + 4 * at as u32, out[2 * pair], hi)?;
            }
        }
        i += 4;
    }
    Ok(())
}
