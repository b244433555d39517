//! Inter-core and crypto peripherals through the cores: the IPCC mailbox exchange of ST's
//! hw_ipcc.c with interrupts on both sides, the USART1 console, AES1 secure mode and ECDSA
//! verification on the PKA driven by guest code.

use wb_machine::{Config, CoreId, Exit, RegisterARM};
use wb_tests::Bench;

use CoreId::{Cpu1, Cpu2};

use wb_machine::picos::MS;

/// CPU1 starts CPU2 as HW_IPCC_Enable does; CPU2 then serves commands from its IPCC
/// interrupt while CPU1 sends `rounds` of them, one at a time.
fn mailbox_run(rounds: u32) -> (Bench, u32) {
    let mut b = Bench::held_cpu2(Config::default());
    b.call(Cpu1, "sys_ipcc_enable", &[]);
    let main = b.sym(Cpu2, "app_main");
    assert_eq!(b.run_to(Cpu2, "app_main", MS), Exit::Breakpoint(Cpu2, main));
    let server = b.sym(Cpu2, "ipcc_server");
    b.m.core_mut(Cpu2).set_reg(RegisterARM::PC, server);
    let (answers, _) = b.call(Cpu1, "ipcc_client", &[rounds]);
    (b, answers)
}

fn log_of(b: &Bench, core: CoreId, name: &str) -> Vec<u32> {
    let at = b.sym(core, name);
    let len = b.m.read_u32(at).unwrap();
    (0..len)
        .map(|i| b.m.read_u32(at + 4 + 4 * i).unwrap())
        .collect()
}

#[test]
fn system_command_response_event_and_buffer_release_over_ipcc() {
    let (b, answers) = mailbox_run(4);
    assert_eq!(answers, 4);
    // Each round gives a response (TX free on channel 2) and an event (RX occupied on 2).
    // CPU2 raises the event a few instructions after freeing the channel, so both lines can
    // be pending when CPU1 takes the first: then IRQ 44 (the event) wins, as on the chip.
    let log = log_of(&b, Cpu1, "IPCC_LOG");
    for round in log.chunks(2) {
        assert!(round.contains(&(round[0] & 0xFF | 0x1100)), "{log:x?}");
        assert!(round.contains(&(round[0] & 0xFF | 0x1200)), "{log:x?}");
    }
    let mut sorted = log.clone();
    sorted.sort_by_key(|w| (w & 0xFF, *w));
    let expected: Vec<u32> = (1..=4).flat_map(|i| [0x1100 + i, 0x1200 + i]).collect();
    assert_eq!(sorted, expected);
    // CPU2 saw one buffer release on channel 4 per event.
    let released = b.m.read_u32(b.sym(Cpu2, "IPCC_COUNT")).unwrap();
    assert_eq!(released, 4);
    // Everything acknowledged: no flag left in either direction.
    assert_eq!(b.m.read_u32(0x2003_0100), Some(0x1104));
}

#[test]
fn the_mailbox_exchange_is_deterministic() {
    let run = || {
        let (b, _) = mailbox_run(3);
        (
            b.m.trace_hash(),
            b.m.stats(Cpu1),
            b.m.stats(Cpu2),
            b.m.now(),
        )
    };
    assert_eq!(run(), run());
}

/// USART1 at 115200 baud from the 4 MHz reset clock, with the host end in-process.
#[test]
fn usart1_console_echoes_host_bytes_at_the_line_rate() {
    use wb_machine::Uart;
    let mut b = Bench::held_cpu2(Config::default());
    let exit = b
        .call_exit(Cpu1, "uart_echo", &[4_000_000, 115_200], 2 * MS)
        .2;
    assert_eq!(exit, Exit::Limit);
    // 7 banner bytes × 10 bits × 34/4 MHz ≈ 0.6 ms: all out within the 2 ms run.
    assert_eq!(b.m.uart_take(Uart::Usart1), b"wbemu\r\n");
    b.m.uart_send(Uart::Usart1, b"HAL");
    let t0 = b.m.now();
    // Frames of 85 µs back to back: "H" arrives at 85 µs and its echo ends at 170 µs, "A" at
    // 170/255 µs, "L" at 255/340 µs. At 300 µs the third echo is still on the wire.
    b.m.run_until(t0 + 300 * MS / 1000);
    let early = b.m.uart_take(Uart::Usart1);
    assert_eq!(early, b"IB", "{early:?}");
    b.m.run_until(t0 + 2 * MS);
    assert_eq!(b.m.uart_take(Uart::Usart1), b"M");
}

const AES1: u32 = 0x5006_0000;

/// Both cores at their run clocks (64 / 32 MHz), as for the AES timing.
fn aes_bench() -> Bench {
    let config = Config {
        clocks: wb_machine::Clocks::Fixed {
            cpu1_hz: 64_000_000,
            cpu2_hz: 32_000_000,
        },
        ..Config::default()
    };
    Bench::new(config, &[Cpu1, Cpu2])
}

/// AES1 secure mode: CPU2 loads a key and sets SYSCFG_SIPCR.SAES1 (as FUS does when it loads
/// a user key); CPU1 can no longer read or write the key registers but still encrypts with
/// the key through the data registers.
#[test]
fn cpu1_uses_but_cannot_recover_an_aes1_key_cpu2_loaded() {
    const SIPCR: u32 = 0x4001_0110;
    let mut b = aes_bench();
    // FIPS-197 C.1: key 00 01 .. 0f; KEYR0 holds the key's least significant word.
    let key = [0x0C0D_0E0F, 0x0809_0A0B, 0x0405_0607, 0x0001_0203];
    b.call(Cpu2, "sys_write32", &[0x5800_014C, 1 << 16]); // C2AHB2ENR.AES1EN
    for (i, w) in key.iter().enumerate() {
        b.call(Cpu2, "sys_write32", &[AES1 + 0x10 + 4 * i as u32, *w]);
    }
    b.call(Cpu2, "sys_write32", &[SIPCR, 1]); // SAES1
    assert_eq!(b.call(Cpu2, "sys_read32", &[AES1 + 0x10]).0, key[0]);
    // CPU1 tries to read KEYR0..3: each load is a precise bus fault (escalated to HardFault,
    // BusFault being disabled) on the load itself, which writes nothing to its register.
    b.call(Cpu1, "sys_write32", &[0x5800_004C, 1 << 16]); // AHB2ENR.AES1EN
    let insn = b.sym(Cpu1, "fault_insn");
    for i in 0..4 {
        let addr = AES1 + 0x10 + 4 * i;
        // `ldr r0, [r0]`: r0 still holds the address after the fault.
        let (v, _) = b.call(Cpu1, "scen_read", &[addr]);
        assert_eq!(v, addr, "the load's register is not written");
        // CFSR: PRECISERR | BFARVALID; HFSR: FORCED; BFAR; stacked PC: the load; then on.
        assert_eq!(b.log(Cpu1), [(1 << 9) | (1 << 15), 1 << 30, addr, insn, 2]);
    }
    // CPU1 cannot overwrite it either (SIPCR itself is CPU2's only).
    b.call(Cpu1, "sys_write32", &[SIPCR, 0]);
    assert_eq!(b.call(Cpu2, "sys_read32", &[SIPCR]).0, 1);
    // ... but encrypts with it: ECB, EN, four DINR words, CCF, four DOUTR words.
    b.call(Cpu1, "sys_write32", &[AES1, 1]);
    for w in [0x0011_2233, 0x4455_6677, 0x8899_AABB, 0xCCDD_EEFF] {
        b.call(Cpu1, "sys_write32", &[AES1 + 0x08, w]);
    }
    // Poll SR.CCF as the HAL does: 51 cycles at 64 MHz outlast a few of these calls.
    let polls = (1..100)
        .find(|_| b.call(Cpu1, "sys_read32", &[AES1 + 0x04]).0 & 1 != 0)
        .expect("CCF");
    assert!(polls > 1, "the block takes time");
    let out: Vec<u32> = (0..4)
        .map(|_| b.call(Cpu1, "sys_read32", &[AES1 + 0x0C]).0)
        .collect();
    assert_eq!(out, [0x69C4_E0D8, 0x6A7B_0430, 0xD8CD_B780, 0x70B4_C55A]);
}

/// Any load a peripheral model refuses is precise, on both cores: here AES1 past its last
/// register (CPU2, whose HardFault logs only the stacked PC) and a byte load from it (the
/// AES registers take word accesses only: an AHB error).
#[test]
fn a_load_a_peripheral_refuses_faults_on_the_load() {
    let mut b = aes_bench();
    b.call(Cpu2, "sys_write32", &[0x5800_014C, 1 << 16]); // C2AHB2ENR.AES1EN
    let insn = b.sym(Cpu2, "fault_insn");
    let (v, _) = b.call(Cpu2, "scen_read", &[AES1 + 0x3FC]);
    assert_eq!(v, AES1 + 0x3FC, "the load's register is not written");
    assert_eq!(b.log(Cpu2), [insn, 2]);

    b.call(Cpu1, "sys_write32", &[0x5800_004C, 1 << 16]); // AHB2ENR.AES1EN
    let insn = b.sym(Cpu1, "fault_insn_byte");
    let (v, _) = b.call(Cpu1, "scen_read_byte", &[AES1 + 0x04]);
    assert_eq!(v, AES1 + 0x04);
    assert_eq!(
        b.log(Cpu1),
        [(1 << 9) | (1 << 15), 1 << 30, AES1 + 0x04, insn, 2]
    );
    // The same register read as a word answers (SR: nothing computed).
    assert_eq!(b.call(Cpu1, "sys_read32", &[AES1 + 0x04]).0, 0);
}

/// A load unicorn synchronises the CPU for (a register load made precise, a RAM load that
/// misses the TLB) runs with its IT state put into the CPU; a conditional one must not leave
/// that state behind for the block after the IT block.
#[test]
fn a_load_in_an_it_block_leaves_no_it_state_behind() {
    const RCC_CR: u32 = 0x5800_0000;
    const RAM: u32 = 0x2002_8000;
    let mut b = Bench::held_cpu2(Config::default());
    let cr = b.call(Cpu1, "sys_read32", &[RCC_CR]).0;
    assert_ne!(cr, 0);
    assert_eq!(b.call(Cpu1, "it_load", &[RCC_CR, 1, 0]).0, cr + 5);
    assert_eq!(b.call(Cpu1, "it_load", &[RCC_CR, 0, 0]).0, 5);
    assert!(b.m.poke(RAM, &0x61u32.to_le_bytes()));
    b.m.core_mut(Cpu1).flush_all_code(); // the load misses the TLB
    assert_eq!(b.call(Cpu1, "it_load", &[RAM, 1, 0]).0, 0x61 + 5);
}

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Guest code loads P-256 ECDSA operands into PKA RAM as ST's HAL does and reads the verdict:
/// RFC 6979 A.2.5 ("sample", SHA-256) and its damaged variants.
#[test]
fn guest_ecdsa_verification_on_the_pka() {
    // FIPS 186-4 D.1.2.3 (P-256) and RFC 6979 A.2.5.
    let p = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
    let a = "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc";
    let n = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    let gx = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
    let gy = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    let qx = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
    let qy = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
    let r = "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716";
    let s = "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";
    let sha_sample = "af2bdbe1aa9b6ec1e2ade1d694f41fc71a831d0268e9891562113d8a62add1bf";
    let sha_test = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let valid = [p, a, n, gx, gy, qx, qy, r, s, sha_sample].map(hex32);

    let mut b = Bench::held_cpu2(Config::default());
    b.call(Cpu1, "sys_clock_64mhz", &[]);
    const INPUT: u32 = 0x2002_0000;
    let mut verify = |operands: &[[u8; 32]; 10]| {
        let mut bytes: Vec<u8> = operands.concat();
        bytes.extend_from_slice(&0u32.to_le_bytes()); // a is positive
        assert!(b.m.poke(INPUT, &bytes));
        let t0 = b.time(Cpu1);
        let (result, _) = b.call(Cpu1, "pka_verify", &[INPUT]);
        (result, b.time(Cpu1) - t0)
    };
    let (result, took) = verify(&valid);
    assert_eq!(result, 0, "valid signature");
    // 10 498 000 PKA cycles at HCLK4 = 64 MHz (RM0434 Table 168): 164 ms, asleep.
    assert!(took >= 164 * MS, "{} ms", took / MS);
    assert!(took < 165 * MS, "{} ms", took / MS);
    let damaged = |field: usize, with: [u8; 32]| {
        let mut v = valid;
        v[field] = with;
        v
    };
    let flipped = |field: usize| {
        let mut x = valid[field];
        x[31] ^= 1;
        damaged(field, x)
    };
    let cases = [
        ("wrong r", flipped(7)),
        ("wrong s", flipped(8)),
        ("wrong hash", damaged(9, hex32(sha_test))),
        ("public key not on the curve", flipped(6)),
    ];
    for (what, operands) in cases {
        assert_ne!(verify(&operands).0, 0, "{what}");
    }
}
