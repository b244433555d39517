//! `wbemu run`: its limits and stop conditions mean what they say, its exit codes tell the
//! outcomes apart, and its report gives every figure as data.

use std::path::PathBuf;

mod common;

use common::{counter_device, ok, scratch, wbemu};
use serde_json::Value;

/// A run's JSON report and exit code.
fn report(args: &[&str]) -> (Value, Option<i32>) {
    let out = wbemu(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "wbemu {args:?}: {e}\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code())
}

/// A raw Thumb program for a core: a vector table (SP, then every vector at the code at
/// +0x40) and `code` at +0x40.
fn raw_program(name: &str, base: u32, code: &[u16]) -> PathBuf {
    let mut words = vec![0x2000_8000u32];
    words.extend([base + 0x41; 15]);
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes.extend(code.iter().flat_map(|h| h.to_le_bytes()));
    let path = scratch(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `movs r0, #0; 1: adds r0, #1; b 1b`: counts in r0 for ever.
const COUNT: [u16; 3] = [0x2000, 0x3001, 0xE7FD];
/// `udf #0`: the reset handler and HardFault both fault, so the core locks up.
const UDF: [u16; 1] = [0xDE00];

#[test]
fn max_cycles_counts_cpu1_cycles_across_its_clock_change() {
    // The operator switches CPU1 from the 4 MHz reset clock to 64 MHz at once; the limit was
    // once turned into a time at 4 MHz, which gave 16 times the cycles asked for.
    let dir = scratch("fw-cycles");
    ok(&["firmware", "export", dir.to_str().unwrap()]);
    let dev = scratch("cycles.wbdev");
    ok(&["device", "new", dev.to_str().unwrap(), "--preset", "virgin"]);
    let operator = dir.join("operator.elf");
    let (r, code) = report(&[
        "run",
        "--device",
        dev.to_str().unwrap(),
        "--cpu1",
        operator.to_str().unwrap(),
        "--max-cycles",
        "20000000",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(r["exit"]["kind"], "cycle_limit", "{}", r["exit"]);
    let cpu1 = &r["cores"][0];
    assert_eq!(cpu1["hz"], 64_000_000);
    let cycles = cpu1["cycles"].as_u64().unwrap();
    assert!(
        (20_000_000..20_000_100).contains(&cycles),
        "CPU1 ran {cycles} cycles"
    );
}

#[test]
fn max_time_is_simulated_time_and_until_uart_stops_at_the_text() {
    let dev = scratch("until.wbdev");
    ok(&["demo", "--export-device", dev.to_str().unwrap(), "--json"]);
    let d = dev.to_str().unwrap();
    let (r, code) = report(&["run", "--device", d, "--max-time", "2.5ms", "--json"]);
    assert_eq!((code, &r["exit"]["kind"]), (Some(0), &"limit".into()));
    assert_eq!(r["simulated_us"], 2500.0);

    // The operator's console says "script done" once the stack runs and has echoed.
    let (r, code) = report(&[
        "run",
        "--device",
        d,
        "--until-uart",
        "script done",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{}", r["exit"]);
    assert_eq!(r["exit"]["kind"], "uart_text");
    assert_eq!(r["exit"]["port"], "usart1");
    let console = r["uart_output"]["usart1"]["text"].as_str().unwrap();
    assert!(console.contains("ready ws (ws table) 1.0.0"), "{console}");
    assert!(console.ends_with("script done\r\n"), "{console}");
    // Looked at every millisecond: the run stops within one of the text.
    let t = r["simulated_us"].as_f64().unwrap();
    assert!(t > 1_000_000.0 && t < 2_000_000.0, "{t}");

    // A limit first: exit code 4, and still the report.
    let (r, code) = report(&[
        "run",
        "--device",
        d,
        "--until-uart",
        "script done",
        "--max-time",
        "100ms",
        "--json",
    ]);
    assert_eq!(code, Some(4));
    assert_eq!(r["exit"]["kind"], "limit");
}

#[test]
fn a_cpu2_lockup_does_not_end_the_run_unless_asked() {
    let cpu1 = raw_program("count-cpu1.bin", 0x0800_0000, &COUNT);
    let cpu2 = raw_program("lockup-cpu2.bin", 0x0808_0000, &UDF);
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "run",
            "--cpu1",
            cpu1.to_str().unwrap(),
            "--cpu1-base",
            "0x08000000",
            "--cpu2",
            cpu2.to_str().unwrap(),
            "--cpu2-base",
            "0x08080000",
            "--max-time",
            "1ms",
            "--json",
        ]
        .map(String::from)
        .to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        report(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (r, code) = run(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(r["exit"]["kind"], "limit");
    assert_eq!(r["lockups"][0]["core"], "cpu2");
    assert_eq!(r["cores"][1]["state"], "Lockup");
    // CPU1 went on counting to the end of the run: 1 ms at 4 MHz.
    let (cpu1, cpu2) = (&r["cores"][0], &r["cores"][1]);
    assert_eq!(cpu1["state"], "Running");
    assert!(cpu1["cycles"].as_u64().unwrap() >= 4_000);
    let count = u32::from_str_radix(&cpu1["registers"]["r0"].as_str().unwrap()[2..], 16).unwrap();
    assert!(count >= 900, "r0 = {count}"); // 4 cycles a round
                                           // The report carries both cores' registers; fault status only where the core has it.
                                           // A locked-up core's PC reads 0xEFFFFFFE (ARMv7-M B1.5.15; ARMv6-M alike).
    assert_eq!(cpu2["registers"]["pc"], "0xeffffffe");
    assert!(cpu2["faults"].is_null());
    assert_eq!(cpu1["faults"]["cfsr"], "0x00000000");

    let (r, code) = run(&["--stop-on-lockup"]);
    assert_eq!(code, Some(3));
    assert_eq!(r["exit"]["kind"], "lockup");
    assert_eq!(r["exit"]["core"], "cpu2");
    assert!(r["simulated_us"].as_f64().unwrap() < 100.0);
}

#[test]
fn a_cpu1_lockup_ends_the_run_with_its_fault_status() {
    let cpu1 = raw_program("lockup-cpu1.bin", 0x0800_0000, &UDF);
    let (r, code) = report(&[
        "run",
        "--cpu1",
        cpu1.to_str().unwrap(),
        "--cpu1-base",
        "0x08000000",
        "--json",
    ]);
    assert_eq!(code, Some(3));
    assert_eq!(r["exit"]["kind"], "lockup");
    assert_eq!(r["exit"]["core"], "cpu1");
    let faults = &r["cores"][0]["faults"];
    // UDF with UsageFault disabled: escalated to HardFault (FORCED), where it faulted again.
    assert_eq!(faults["cfsr_flags"], serde_json::json!(["UNDEFINSTR"]));
    assert_eq!(faults["hfsr_flags"], serde_json::json!(["FORCED"]));
    // The text report shows them too.
    let out = wbemu(&[
        "run",
        "--cpu1",
        cpu1.to_str().unwrap(),
        "--cpu1-base",
        "0x08000000",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CFSR=0x00010000 (UNDEFINSTR) HFSR=0x40000000 (FORCED)"),
        "{text}"
    );
}

#[test]
fn power_cuts_are_reported_as_data_and_one_that_never_happens_fails_the_run() {
    let (dev, elf) = counter_device("cuts", "blank");
    let (d, e) = (dev.to_str().unwrap(), elf.to_str().unwrap());
    let base = [
        "run",
        "--device",
        d,
        "--cpu1",
        e,
        "--max-time",
        "1ms",
        "--json",
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        report(&a)
    };
    let (r, code) = with(&["--cut-power", "during:1", "--seed", "7"]);
    assert_eq!(code, Some(0));
    let cut = &r["power_cuts"][0];
    assert_eq!(cut["plan"], "during");
    assert_eq!(cut["op"], 1);
    assert_eq!(cut["seed"], 7);
    assert_eq!(cut["hit"]["seq"], 1);
    assert_eq!(cut["hit"]["kind"], "program");
    assert_eq!(cut["hit"]["core"], "cpu1");
    assert_eq!(cut["hit"]["outcome"], "Torn");
    assert!(cut["at_us"].as_f64().unwrap() > 0.0);
    assert!(cut["text"].as_str().unwrap().contains("flash operation 1"));

    // Operation 999 never comes: exit code 5, said on stderr.
    let out = wbemu(&[&base[..], &["--cut-power", "before:999"]].concat());
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--cut-power before:999: the run ended first"),
        "{err}"
    );
}

#[test]
fn flash_digests_are_given_per_region() {
    let (dev, elf) = counter_device("digests", "virgin");
    let (d, e) = (dev.to_str().unwrap(), elf.to_str().unwrap());
    let info =
        |d: &str| -> Value { serde_json::from_str(&ok(&["device", "info", d, "--json"])).unwrap() };
    let before = info(d);
    let (r, _) = report(&[
        "run",
        "--device",
        d,
        "--cpu1",
        e,
        "--max-time",
        "1ms",
        "--save",
        "--json",
    ]);
    let after = info(d);
    let (b, a, run) = (&before["digests"], &after["digests"], &r["flash_digests"]);
    // The counter wrote user flash only: the FUS's secure area and the option bytes are
    // unchanged, and the run's digests are the saved file's.
    assert_ne!(b["user_flash"], a["user_flash"]);
    assert_eq!(b["secure_flash"], a["secure_flash"]);
    assert_eq!(b["option_bytes"], a["option_bytes"]);
    assert_eq!(a["user_flash_end"], "0x080f4000");
    assert_eq!(run, a);
    assert_eq!(r["flash_digest"], a["all"]);
    // --save keeps what the file says it is.
    assert_eq!(after["note"], "preset virgin");
}

#[test]
fn log_lines_carry_the_simulated_time_and_no_colour_codes_in_a_file() {
    let dev = scratch("logs.wbdev");
    ok(&["demo", "--export-device", dev.to_str().unwrap(), "--json"]);
    let log = scratch("logs.txt");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_wbemu"))
        .args([
            "run",
            "--device",
            dev.to_str().unwrap(),
            "--max-time",
            "20ms",
        ])
        .env("WBEMU_LOG", "wb::ipcc=debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\x1b'), "colour codes in a file:\n{text}");
    // The FUS's READY event, sent on channel 2 a few milliseconds after CPU2 starts.
    let sent = text
        .lines()
        .find(|l| l.contains("wb::ipcc") && l.contains("sent (CHnS)") && l.contains("core=cpu2"))
        .unwrap_or_else(|| panic!("no IPCC trace:\n{text}"));
    assert!(sent.contains("channels=2"), "{sent}");
    let sim_ms: f64 = sent
        .split("sim ")
        .nth(1)
        .and_then(|s| s.split("ms").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no simulated time in {sent:?}"));
    assert!(sim_ms > 1.0 && sim_ms < 20.0, "{sent}");
}

#[test]
fn hsem_locks_are_traced_with_the_core() {
    // Enable HSEM's clock (RCC_AHB3ENR.HSEMEN), then take semaphore 0 with a 1-step lock
    // (a read of HSEM_RLR0), and stop.
    let mut code = vec![
        0x4802u16, // ldr r0, =RCC_AHB3ENR
        0x4903,    // ldr r1, =HSEMEN
        0x6001,    // str r1, [r0]
        0x4803,    // ldr r0, =HSEM_RLR0
        0x6801,    // ldr r1, [r0]
        0xE7FE,    // b .
    ];
    for w in [0x5800_0050u32, 1 << 19, 0x5800_1480] {
        code.extend([w as u16, (w >> 16) as u16]);
    }
    let cpu1 = raw_program("hsem-cpu1.bin", 0x0800_0000, &code);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wbemu"))
        .args([
            "run",
            "--cpu1",
            cpu1.to_str().unwrap(),
            "--cpu1-base",
            "0x08000000",
        ])
        .args(["--max-time", "100us"])
        .env("WBEMU_LOG", "wb::hsem=debug")
        .output()
        .unwrap();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.lines().any(|l| l.contains("wb::hsem")
            && l.contains("locked (1-step read)")
            && l.contains("core=cpu1")
            && l.contains("semaphore=0")),
        "{log}"
    );
}

#[test]
fn streaming_the_flash_log_or_watching_the_uart_does_not_change_the_run() {
    let dev = scratch("stream-same.wbdev");
    ok(&["demo", "--export-device", dev.to_str().unwrap(), "--json"]);
    let d = dev.to_str().unwrap();
    let figures = |extra: &[&str]| {
        let mut args = vec!["run", "--device", d, "--max-time", "1500ms", "--json"];
        args.extend_from_slice(extra);
        let (r, code) = report(&args);
        let cores: Vec<_> = r["cores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["instructions"].clone(),
                    c["cycles"].clone(),
                    c["registers"].clone(),
                )
            })
            .collect();
        (
            code,
            cores,
            r["flash_digest"].clone(),
            r["simulated_us"].clone(),
        )
    };
    let plain = figures(&[]);
    let jsonl = scratch("stream-same.jsonl");
    let traced = figures(&[
        "--trace-flash",
        "--trace-flash-jsonl",
        jsonl.to_str().unwrap(),
    ]);
    let watched = figures(&["--until-uart", "never printed"]);
    assert_eq!(plain, traced);
    assert_eq!(
        (plain.1, plain.2, plain.3),
        (watched.1, watched.2, watched.3)
    );
    let lines = std::fs::read_to_string(&jsonl).unwrap().lines().count();
    assert!(lines > 500, "{lines} flash operations streamed");
}
