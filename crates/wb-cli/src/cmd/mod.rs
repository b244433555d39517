pub mod bench;
pub mod demo;
pub mod device;
pub mod firmware;
pub mod fus;
pub mod image;
pub mod keys;
pub mod run;

/// An address or length on the command line: decimal, or hex with 0x (underscores allowed).
pub fn parse_addr(s: &str) -> Result<u32, String> {
    let t = s.trim_start_matches("0x").trim_start_matches("0X");
    u32::from_str_radix(
        &t.replace('_', ""),
        if t.len() != s.len() { 16 } else { 10 },
    )
    .map_err(|e| format!("{s}: not an address ({e})"))
}

/// A span of simulated time on the command line: a number (decimals allowed) and a unit, s,
/// ms, us, ns or ps ("10s", "2.5ms"); exact to the picosecond.
pub fn parse_duration(s: &str) -> Result<wb_machine::Picos, String> {
    use wb_machine::picos;
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .ok_or_else(|| format!("{s}: give a unit: s, ms, us, ns or ps (e.g. 10s, 2.5ms)"))?;
    let (number, unit) = s.split_at(split);
    let scale: u64 = match unit.trim() {
        "s" => picos::S,
        "ms" => picos::MS,
        "us" | "µs" => picos::US,
        "ns" => picos::NS,
        "ps" => 1,
        u => return Err(format!("{s}: {u:?} is not a unit (s, ms, us, ns, ps)")),
    };
    let number = number.replace('_', "");
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    let bad = || format!("{s}: {number:?} is not a number");
    let whole: u64 = if whole.is_empty() && !fraction.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut ps = whole
        .checked_mul(scale)
        .ok_or_else(|| format!("{s}: too long"))?;
    let mut digit_scale = scale;
    for c in fraction.chars() {
        let d = c.to_digit(10).ok_or_else(bad)? as u64;
        digit_scale /= 10;
        if digit_scale == 0 && d != 0 {
            return Err(format!("{s}: finer than a picosecond"));
        }
        ps += d * digit_scale;
    }
    Ok(ps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_exact_to_the_picosecond() {
        assert_eq!(parse_duration("10s"), Ok(10_000_000_000_000));
        assert_eq!(parse_duration("2.5ms"), Ok(2_500_000_000));
        assert_eq!(parse_duration("0.000001us"), Ok(1));
        assert_eq!(parse_duration("15625ps"), Ok(15_625));
        assert_eq!(parse_duration(".5us"), Ok(500_000));
        assert!(parse_duration("10").unwrap_err().contains("unit"));
        assert!(parse_duration("10 parsecs")
            .unwrap_err()
            .contains("parsecs"));
        assert!(parse_duration("1.5ps").unwrap_err().contains("picosecond"));
        assert!(parse_duration("1.2.3s").is_err());
    }
}
