//! Loading images: good ELF files boot, bad ones are refused with the file and segment named
//! and nothing written.

use wb_machine::{Config, Machine, MachineError};
use wb_tests::CPU1_TESTS;

fn err(bytes: &[u8]) -> String {
    let mut m = Machine::new(Config::default()).unwrap();
    let before = m.peek(0x0800_0000, 64).unwrap().to_vec();
    let e = m.load_elf_bytes("bad.elf", bytes).unwrap_err();
    assert!(matches!(e, MachineError::Load(_)));
    assert_eq!(
        m.peek(0x0800_0000, 64).unwrap(),
        &before[..],
        "nothing written"
    );
    e.to_string()
}

#[test]
fn boots_sp_and_pc_from_the_vector_table() {
    let mut m = Machine::new(Config::default()).unwrap();
    m.load_elf_bytes("cpu1", CPU1_TESTS).unwrap();
    m.reset(wb_machine::ResetCause::PowerOn);
    let c = m.core(wb_machine::CoreId::Cpu1);
    assert_eq!(
        c.reg(wb_machine::RegisterARM::SP),
        m.read_u32(0x0800_0000).unwrap()
    );
    assert_eq!(c.pc() | 1, m.read_u32(0x0800_0004).unwrap());
}

#[test]
fn rejects_garbage_truncation_and_foreign_machines() {
    assert!(err(b"not an elf at all").contains("bad.elf: not a valid ELF"));
    let truncated = &CPU1_TESTS[..CPU1_TESTS.len() / 3];
    let e = err(truncated);
    assert!(e.contains("bad.elf"), "{e}");
    let mut x86 = CPU1_TESTS.to_vec();
    x86[18] = 62; // EM_X86_64
    assert!(
        err(&x86).contains("expected a 32-bit little-endian ARM"),
        "{}",
        err(&x86)
    );
}

#[test]
fn rejects_a_segment_outside_memory() {
    let mut bytes = CPU1_TESTS.to_vec();
    // Move the first program header's physical address to 0x3000_0000.
    let phoff = u32::from_le_bytes(bytes[28..32].try_into().unwrap()) as usize;
    bytes[phoff + 12..phoff + 16].copy_from_slice(&0x3000_0000u32.to_le_bytes());
    let e = err(&bytes);
    assert!(e.contains("segment 0") && e.contains("0x30000000"), "{e}");
}
