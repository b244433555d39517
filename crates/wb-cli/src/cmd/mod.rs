pub mod bench;
pub mod campaign;
pub mod demo;
pub mod device;
pub mod firmware;
pub mod fus;
pub mod image;
pub mod keys;
pub mod run;
pub mod scenario;

/// An address or length on the command line: decimal, or hex with 0x (underscores allowed).
pub fn parse_addr(s: &str) -> Result<u32, String> {
    let t = s.trim_start_matches("0x").trim_start_matches("0X");
    u32::from_str_radix(
        &t.replace('_', ""),
        if t.len() != s.len() { 16 } else { 10 },
    )
    .map_err(|e| format!("{s}: not an address ({e})"))
}

/// A span of simulated time on the command line ("10s", "2.5ms"; `wb_machine::picos::parse`).
pub fn parse_duration(s: &str) -> Result<wb_machine::Picos, String> {
    wb_machine::picos::parse(s)
}
