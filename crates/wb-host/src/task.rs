//! The probe's waits as resumable tasks: plain data that says what the host waits for, so a
//! run driven by the probe can be snapshotted and resumed mid-way (campaigns branch there).
//! Each `poll` does what it can at the current simulated time and either ends or asks to be
//! looked at again after some time; [`Probe`]'s blocking verbs just run the machine in between.

use wb_machine::Picos;
use wb_proto::layout::tables;
use wb_proto::tl::SysCommand;

use wb_regs::{flash, ipcc, pwr, rcc};

use crate::probe::{Probe, ProbeError, Result, MS};

const PWR_CR4: u32 = pwr::addr(pwr::reg::CR4);
const C1SCR: u32 = ipcc::addr(ipcc::reg::C1SCR);
const C1TOC2SR: u32 = ipcc::addr(ipcc::reg::C1TOC2SR);
const RCC_CR: u32 = rcc::addr(rcc::reg::CR);
const RCC_CFGR: u32 = rcc::addr(rcc::reg::CFGR);
const RCC_PLLCFGR: u32 = rcc::addr(rcc::reg::PLLCFGR);
const RCC_AHB3ENR: u32 = rcc::addr(rcc::reg::AHB3ENR);
const RCC_EXTCFGR: u32 = rcc::addr(rcc::reg::EXTCFGR);
const FLASH_ACR: u32 = flash::addr(flash::reg::ACR);
/// IPCC channel 2: system commands and events (fus-clients.md).
const CH2: u32 = ipcc::clear(2);

/// How long CPU2 may take to announce itself once started.
pub const READY_WITHIN: Picos = 50 * MS;
/// How often the host looks at a clock or a READY it waits for.
const READY_LOOK: Picos = MS / 10;
/// How often the host looks at the command channel while an answer is due.
const ANSWER_LOOK: Picos = MS / 20;

/// A system command packet: type 0x10, opcode, payload length, payload.
pub fn packet(opcode: u16, payload: &[u8]) -> Result<Vec<u8>> {
    let mut packet = vec![0u8; 8 + 4 + payload.len()];
    let n = SysCommand { opcode, payload }
        .encode_packet(&mut packet)
        .map_err(ProbeError::Command)?;
    packet.truncate(n);
    Ok(packet)
}

/// What a task asks for after a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// Look again after this much simulated time.
    Wait(Picos),
    Done(T),
}

/// Starting CPU2 as ST's applications do: the run clocks (AN5185 §1.5: the RCC is CPU1's
/// job), the shared tables, the IPCC clock, PWR_CR4.C2BOOT; then waiting for READY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Boot {
    /// HSE switched on, waiting for HSERDY.
    Hse,
    /// PLL switched on, waiting for PLLRDY.
    Pll,
    /// CPU2 started; waiting for a READY beyond the `seen` first ones until `deadline`.
    Ready { seen: usize, deadline: Picos },
}

impl Boot {
    /// Flash LATENCY 3 (for 64 MHz) and HSE on.
    pub fn start(p: &mut Probe) -> Result<Boot> {
        let acr = p.read(FLASH_ACR)?;
        p.write(FLASH_ACR, (acr & !7) | 3)?;
        let cr = p.read(RCC_CR)?;
        p.write(RCC_CR, cr | rcc::cr::HSEON)?;
        Ok(Boot::Hse)
    }

    /// Ends with the READY payload, or `None` when none came within [`READY_WITHIN`].
    pub fn poll(&mut self, p: &mut Probe) -> Result<Step<Option<u8>>> {
        match *self {
            Boot::Hse => {
                if p.read(RCC_CR)? & rcc::cr::HSERDY == 0 {
                    return Ok(Step::Wait(READY_LOOK));
                }
                // HSE 32 MHz / 4 * 8 / 2 → PLLR 64 MHz for CPU1.
                p.write(RCC_PLLCFGR, 3 | (1 << 4) | (8 << 8) | (1 << 28) | (1 << 29))?;
                let cr = p.read(RCC_CR)?;
                p.write(RCC_CR, cr | rcc::cr::PLLON)?;
                *self = Boot::Pll;
                self.poll(p)
            }
            Boot::Pll => {
                if p.read(RCC_CR)? & rcc::cr::PLLRDY == 0 {
                    return Ok(Step::Wait(READY_LOOK));
                }
                // CPU2 at HCLK2 = 32 MHz, then SYSCLK from the PLL.
                let ext = p.read(RCC_EXTCFGR)?;
                p.write(RCC_EXTCFGR, (ext & !0xF0) | (0b1000 << 4))?;
                let cfgr = p.read(RCC_CFGR)?;
                p.write(RCC_CFGR, (cfgr & !3) | 3)?;
                p.setup_tables()?;
                let en = p.read(RCC_AHB3ENR)?;
                p.write(RCC_AHB3ENR, en | rcc::enable::IPCCEN)?;
                let cr4 = p.read(PWR_CR4)?;
                p.write(PWR_CR4, cr4 | pwr::CR4_C2BOOT)?;
                *self = Boot::Ready {
                    seen: p.readies.len(),
                    deadline: p.m.now() + READY_WITHIN,
                };
                Ok(Step::Wait(READY_LOOK))
            }
            Boot::Ready { seen, deadline } => wait_ready(p, seen, deadline),
        }
    }
}

/// Waiting for a READY beyond the `seen` first ones until `deadline`.
pub fn wait_ready(p: &mut Probe, seen: usize, deadline: Picos) -> Result<Step<Option<u8>>> {
    p.drain_events()?;
    if p.readies.len() > seen {
        return Ok(Step::Done(p.readies.last().copied()));
    }
    Ok(if p.m.now() >= deadline {
        Step::Done(None)
    } else {
        Step::Wait(READY_LOOK)
    })
}

/// A system command sent, its answer due by `deadline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub deadline: Picos,
}

impl Answer {
    /// Write `packet` (garbage included) to the command buffer and signal channel 2.
    pub fn send(p: &mut Probe, packet: &[u8], within: Picos) -> Result<Answer> {
        p.write_bytes(tables::SYS_CMD_BUFFER, packet)?;
        p.write(C1SCR, ipcc::set(2))?;
        Ok(Answer {
            deadline: p.m.now() + within,
        })
    }

    /// Ends when CPU2 releases the channel, with the response at offset 0 of the command
    /// buffer (`None` if none was written there: CPU2 reset the system instead), or with
    /// `None` at the deadline.
    pub fn poll(&self, p: &mut Probe) -> Result<Step<Option<Vec<u8>>>> {
        p.drain_events()?;
        if p.read(C1TOC2SR)? & CH2 == 0 {
            let rsp =
                p.m.peek(tables::SYS_CMD_BUFFER, 16)
                    .ok_or(ProbeError::Access(tables::SYS_CMD_BUFFER))?
                    .to_vec();
            return Ok(Step::Done((rsp[0] == 0x11).then_some(rsp)));
        }
        Ok(if p.m.now() >= self.deadline {
            Step::Done(None)
        } else {
            Step::Wait(ANSWER_LOOK)
        })
    }
}

/// A system command as a debugger sends it: CPU2 is started first when it is not (after a
/// reset or a power cut), then the packet goes out and its answer is awaited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Booting {
        boot: Boot,
        packet: Vec<u8>,
        within: Picos,
    },
    Answering(Answer),
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// The response bytes at offset 0 of the command buffer.
    Answered(Vec<u8>),
    /// The channel was released without a response, or the time ran out.
    NoAnswer,
    /// CPU2 was started and sent no READY: the command was not sent.
    NoReady,
}

impl Command {
    pub fn start(p: &mut Probe, packet: Vec<u8>, within: Picos) -> Result<Command> {
        if p.cpu2_started()? {
            return Ok(Command::Answering(Answer::send(p, &packet, within)?));
        }
        Ok(Command::Booting {
            boot: Boot::start(p)?,
            packet,
            within,
        })
    }

    pub fn poll(&mut self, p: &mut Probe) -> Result<Step<Sent>> {
        match self {
            Command::Booting {
                boot,
                packet,
                within,
            } => match boot.poll(p)? {
                Step::Wait(t) => Ok(Step::Wait(t)),
                Step::Done(None) => Ok(Step::Done(Sent::NoReady)),
                Step::Done(Some(_)) => {
                    *self = Command::Answering(Answer::send(p, packet, *within)?);
                    self.poll(p)
                }
            },
            Command::Answering(answer) => Ok(match answer.poll(p)? {
                Step::Wait(t) => Step::Wait(t),
                Step::Done(Some(rsp)) => Step::Done(Sent::Answered(rsp)),
                Step::Done(None) => Step::Done(Sent::NoAnswer),
            }),
        }
    }
}

/// Feed `h` with a task as seen from `now`: its deadlines as times left, so that two equal
/// tasks started at different times hash the same.
pub trait HashFrom {
    fn hash_from(&self, now: Picos, h: &mut dyn std::hash::Hasher);
}

fn left(deadline: Picos, now: Picos, h: &mut dyn std::hash::Hasher) {
    h.write_u64(deadline.saturating_sub(now));
}

impl HashFrom for Boot {
    fn hash_from(&self, now: Picos, h: &mut dyn std::hash::Hasher) {
        match self {
            Boot::Hse => h.write_u8(0),
            Boot::Pll => h.write_u8(1),
            Boot::Ready { seen, deadline } => {
                h.write_u8(2);
                h.write_usize(*seen);
                left(*deadline, now, h);
            }
        }
    }
}

impl HashFrom for Answer {
    fn hash_from(&self, now: Picos, h: &mut dyn std::hash::Hasher) {
        left(self.deadline, now, h);
    }
}

impl HashFrom for Command {
    fn hash_from(&self, now: Picos, h: &mut dyn std::hash::Hasher) {
        match self {
            Command::Booting {
                boot,
                packet,
                within,
            } => {
                h.write_u8(0);
                boot.hash_from(now, h);
                h.write(packet);
                h.write_u64(*within);
            }
            Command::Answering(a) => {
                h.write_u8(1);
                a.hash_from(now, h);
            }
        }
    }
}
