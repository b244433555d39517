//! Inter-core peripherals through both cores: the IPCC mailbox exchange of ST's hw_ipcc.c
//! with interrupts on both sides.

use wb_machine::{Config, CoreId, Exit, RegisterARM};
use wb_tests::Bench;

use CoreId::{Cpu1, Cpu2};

const MS: u64 = 1_000_000_000;

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
