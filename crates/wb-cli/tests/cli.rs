//! The `wbemu` binary end to end: device files, and runs that persist to them and cut power.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{counter_device, ok, scratch, wbemu};

fn fails(args: &[&str]) -> String {
    let out = wbemu(args);
    assert_eq!(out.status.code(), Some(2), "wbemu {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn device_files_are_made_inspected_and_edited() {
    let dev = scratch("edit.wbdev");
    let d = dev.to_str().unwrap();
    ok(&["device", "new", d]);
    assert!(fails(&["device", "new", d]).contains("exists"));
    assert!(fails(&["device", "new", d, "--force", "--preset", "nope"]).contains("blank"));
    let info: serde_json::Value =
        serde_json::from_str(&ok(&["device", "info", d, "--json"])).unwrap();
    assert_eq!(info["cpu2_boot_vector"], "0x08080000");
    assert_eq!(info["erased_pages"], 256);
    assert_eq!(info["rdp_level"], 0);

    ok(&["device", "write", d, "0x08001000", "--hex", "de ad be ef"]);
    let dump = ok(&["device", "read", d, "0x08001000", "8"]);
    assert_eq!(dump.trim(), "08001000: de ad be ef ff ff ff ff");
    let info: serde_json::Value =
        serde_json::from_str(&ok(&["device", "info", d, "--json"])).unwrap();
    assert_eq!(info["used_pages"], serde_json::json!([[1, 1]]));

    // Break SRRVR's complement: info says so.
    ok(&["device", "write", d, "0x1fff807c", "--hex", "00"]);
    let text = ok(&["device", "info", d]);
    assert!(
        text.contains("SRRVR") && text.contains("COMPLEMENT MISMATCH"),
        "{text}"
    );

    assert!(fails(&["device", "read", d, "0x20000000", "4"]).contains("persistent memory"));
    // A damaged file is refused and named.
    let mut bytes = std::fs::read(&dev).unwrap();
    bytes[100] ^= 0xFF;
    std::fs::write(&dev, &bytes).unwrap();
    let err = fails(&["device", "info", d]);
    assert!(
        err.contains("edit.wbdev") && err.contains("CRC-32"),
        "{err}"
    );
    std::fs::write(&dev, &bytes[..1000]).unwrap();
    assert!(fails(&["device", "info", d]).contains("edit.wbdev"));
}

#[test]
fn runs_persist_to_the_device_and_power_cuts_tear_operations() {
    let dev = scratch("counter.wbdev");
    let elf = scratch("boot-counter.elf");
    std::fs::write(&elf, wb_firmware::BOOT_COUNTER).unwrap();
    let (d, e) = (dev.to_str().unwrap(), elf.to_str().unwrap());
    ok(&["device", "new", d]);
    let run = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "run",
            "--device",
            d,
            "--max-cycles",
            "400000",
            "--save",
            "--json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(&ok(&args)).unwrap()
    };
    // First run programs the counter image, then each boot appends a record.
    run(&["--cpu1", e]);
    run(&[]);
    let r = run(&["--trace-flash"]);
    assert_eq!(r["flash_ops"][0]["kind"], "program");
    assert_eq!(r["flash_ops"][0]["address"], "0x080c0010");
    assert_eq!(r["flash_ops"][0]["outcome"], "Done");
    let dump = ok(&["device", "read", d, "0x080c0000", "24"]);
    assert!(
        dump.contains("01 00 00 00 fe ff ff ff 02 00 00 00 fd ff ff ff"),
        "{dump}"
    );
    assert!(dump.contains("080c0010: 03 00 00 00 fc ff ff ff"), "{dump}");

    // Cut the power half-way through the next record: it is torn, the chip powers on again
    // and the counter programs again.
    let r = run(&["--trace-flash", "--cut-power", "during:1", "--seed", "1"]);
    assert_eq!(r["power_cuts"].as_array().unwrap().len(), 1);
    assert_eq!(r["flash_ops"][0]["outcome"], "Torn");
    assert_eq!(r["flash_ops"][0]["address"], "0x080c0018");

    assert!(fails(&["run", "--cut-power", "sideways:1"]).contains("sideways"));
    assert!(fails(&["run", "--save"]).contains("--device"));
}

#[test]
fn flash_operations_stream_as_they_end_and_match_the_report() {
    let (dev, elf, jsonl) = (
        scratch("stream.wbdev"),
        scratch("stream-counter.elf"),
        scratch("stream.jsonl"),
    );
    std::fs::write(&elf, wb_firmware::BOOT_COUNTER).unwrap();
    let (d, e, j) = (
        dev.to_str().unwrap(),
        elf.to_str().unwrap(),
        jsonl.to_str().unwrap(),
    );
    ok(&["device", "new", d]);
    // The counter programs a record, the power is cut after it, the chip boots again and
    // programs the next one, which is still running when the run ends (175 us at 4 MHz).
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--device",
            d,
            "--cpu1",
            e,
            "--cut-power",
            "after:1",
            "--max-cycles",
            "700",
            "--trace-flash",
            "--trace-flash-jsonl",
            j,
        ];
        args.extend_from_slice(extra);
        ok(&args)
    };
    let read_jsonl = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let report: serde_json::Value = serde_json::from_str(&run(&["--json"])).unwrap();
    let ops = report["flash_ops"].as_array().unwrap();
    let outcomes: Vec<_> = ops.iter().map(|o| (&o["seq"], &o["outcome"])).collect();
    assert_eq!(
        outcomes,
        [(&1.into(), &"Done".into()), (&2.into(), &"Pending".into())]
    );
    assert_eq!(
        &read_jsonl(),
        ops,
        "the JSON lines are the report's entries"
    );

    // Text: the ended operation is printed during the run, before the summary; the one still
    // running after it.
    let text = run(&[]);
    let at = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("{s:?} missing from:\n{text}"))
    };
    assert!(at("flash #1 ") < at("exit: "), "{text}");
    assert!(at("flash operations: 2") < at("flash #2 "), "{text}");
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("flash #")).collect();
    assert_eq!(lines.len(), ops.len(), "{text}");
    for (line, op) in lines.iter().zip(ops) {
        let start_ms = op["start_us"].as_f64().unwrap() / 1000.0;
        let head = format!(
            "flash #{} t={start_ms:.6} ms {} {} {}",
            op["seq"],
            op["core"].as_str().unwrap(),
            op["kind"].as_str().unwrap(),
            op["address"].as_str().unwrap()
        );
        assert!(line.starts_with(&head), "{line:?} vs {head:?}");
    }
    let took = ops[0]["end_us"].as_f64().unwrap() - ops[0]["start_us"].as_f64().unwrap();
    assert!(
        lines[0].ends_with(&format!(" ok ({took:.3} us)")),
        "{}",
        lines[0]
    );
    assert!(lines[1].ends_with(" running"), "{}", lines[1]);
    assert_eq!(&read_jsonl(), ops, "the same run again");
}

#[test]
fn uart_host_ends_open_and_say_where_to_connect() {
    for (arg, shown) in [
        ("tcp:127.0.0.1:0", "usart1 on tcp:127.0.0.1:"),
        ("pty", "usart1 on /dev/pts/"),
    ] {
        let out = wbemu(&[
            "run",
            "--uart1",
            arg,
            "--mhz",
            "64,32",
            "--max-cycles",
            "64000",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "--uart1 {arg}: {err}");
        assert!(err.contains(shown), "--uart1 {arg}: {err}");
    }
    let err = fails(&["run", "--uart1", "serial0"]);
    assert!(
        err.contains("expected pty, stdio or tcp:HOST:PORT"),
        "{err}"
    );
    let err = fails(&["run", "--uart1", "stdio", "--lpuart1", "stdio"]);
    assert!(err.contains("only one UART can use stdio"), "{err}");
}

#[test]
fn demo_installs_the_sample_stack_on_a_virgin_device() {
    let out = ok(&["demo"]);
    let mut at = 0;
    // The story, in this order.
    for line in [
        "CPU1 boots user flash at 0x08000000 (power-on reset)",
        "CPU2 boots the FUS at 0x080f4000 (released by PWR_CR4.C2BOOT)",
        "cpu1 | ready fus (fus table) 2.0.0",
        "fus | phase 1: checking the image",
        "fus | phase 3: protecting the image (SFSA down)",
        "(system reset by OBL_LAUNCH)",
        "option bytes loaded: SFSA 0xf4 -> 0xee",
        "fus | phase 5: decrypting into place",
        "fus | phase 7: erasing the shadow copy",
        // COMMIT records the install done, then programs the option bytes.
        "fus | idle",
        "option bytes loaded: SFSA 0xee -> 0xf0",
        "CPU2 boots the wireless stack at 0x080f0000",
        "cpu1 | ready ws (ws table) 1.0.0",
        "echo 0x5742454d -> status 0x00 echo 0x5742454d",
        "stack 1.0.0 installed and running",
    ] {
        match out[at..].find(line) {
            Some(i) => at += i + line.len(),
            None => panic!("{line:?} missing after byte {at} of:\n{out}"),
        }
    }
    let json = ok(&["demo", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["completed"], true);
    assert_eq!(v["sfr"], "0xf0");
    assert_eq!(v["system_resets"], 2);
    assert_eq!(v["cpu2_boots"], 3);
    let events = v["events"].as_array().unwrap();
    assert!(events
        .iter()
        .any(|e| e["source"] == "fus" && e["text"] == "phase 6: checking the plaintext CRC"));
    // Events carry typed fields beside their text.
    let check = events
        .iter()
        .find(|e| e["kind"] == "fus_phase" && e["phase"] == 6)
        .expect("phase 6 event");
    assert_eq!(check["operation"], "install");
    assert_eq!(check["phase_name"], "checking the plaintext CRC");
    assert!(events.iter().any(|e| e["kind"] == "boot"
        && e["core"] == "cpu2"
        && e["firmware"] == "the wireless stack"
        && e["vector"] == "0x080f0000"));
    assert!(events
        .iter()
        .any(|e| e["kind"] == "option_load" && e["sfsa"] == "0xf0"));
    assert_eq!(v["running"], "wireless stack 1.0.0");
    assert!(v["failure"].is_null());
    // The temp-dir device is gone unless --keep.
    let device = std::path::PathBuf::from(v["device"].as_str().unwrap());
    assert!(!device.exists(), "{} left behind", device.display());

    // --device FILE --save: the installed stack is in the file afterwards.
    let dev = scratch("demo.wbdev");
    ok(&["device", "new", dev.to_str().unwrap(), "--preset", "virgin"]);
    ok(&["demo", "--device", dev.to_str().unwrap(), "--save"]);
    let info = ok(&["device", "info", dev.to_str().unwrap(), "--json"]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["cpu2_boot_vector"], "0x080f0000", "{info}");

    assert!(fails(&["demo", "--stack", "9.9.9"]).contains("1.0.0 or 1.1.0"));
    assert!(fails(&["demo", "--keep", "--device", "x"]).contains("--keep"));
}

/// Where the echo program's vector table goes (free flash above the CPU1 test program).
const ECHO_VECTORS: &str = "0x08070000";

/// A device holding the CPU1 test program and, at `ECHO_VECTORS`, a vector table whose reset
/// handler calls the program's USART1 console, `uart_echo(4 MHz, 115200)`: a banner, then
/// every byte it receives back plus one.
fn echo_device(name: &str) -> PathBuf {
    let dev = scratch(name);
    let elf = scratch(&format!("{name}.elf"));
    std::fs::write(&elf, wb_firmware::CPU1_TESTS).unwrap();
    let d = dev.to_str().unwrap();
    ok(&["device", "new", d]);
    ok(&[
        "run",
        "--device",
        d,
        "--cpu1",
        elf.to_str().unwrap(),
        "--max-cycles",
        "1000",
        "--save",
    ]);
    let image = goblin::elf::Elf::parse(wb_firmware::CPU1_TESTS).unwrap();
    let echo = image
        .syms
        .iter()
        .find(|s| image.strtab.get_at(s.st_name) == Some("uart_echo"))
        .expect("uart_echo")
        .st_value as u32;
    let mut stub: Vec<u8> = [0x2001_0000u32, 0x0807_0009]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    // ldr r0, =4000000; ldr r1, =115200; ldr r2, =uart_echo; bx r2
    for h in [0x4801u16, 0x4902, 0x4a02, 0x4710] {
        stub.extend(h.to_le_bytes());
    }
    for w in [4_000_000u32, 115_200, echo | 1] {
        stub.extend(w.to_le_bytes());
    }
    let hex: String = stub.iter().map(|b| format!("{b:02x}")).collect();
    ok(&["device", "write", d, ECHO_VECTORS, "--hex", &hex]);
    dev
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn serial_input_from_tcp_is_recorded_and_replays_cycle_exactly() {
    let dev = echo_device("echo.wbdev");
    let record = scratch("echo-input.jsonl");
    // 1.5 s of simulated time at the 4 MHz reset clock: as long in real time.
    let common = [
        "run",
        "--device",
        dev.to_str().unwrap(),
        "--cpu1-vector",
        ECHO_VECTORS,
        "--max-cycles",
        "6000000",
        "--json",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_wbemu"))
        .args(common)
        .args(["--uart1", "tcp:127.0.0.1:0", "--record-input"])
        .arg(&record)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("wbemu: usart1 on tcp:")
        .unwrap_or_else(|| panic!("{line}"));
    let mut conn = TcpStream::connect(addr).unwrap();
    // Bytes at whatever moments the host scheduler gives, as someone typing would.
    for (pause_ms, text) in [(30, "HAL"), (170, "x"), (90, "9000")] {
        std::thread::sleep(Duration::from_millis(pause_ms));
        conn.write_all(text.as_bytes()).unwrap();
    }
    let echoed = b"wbemu\r\nIBMy:111";
    let mut got = Vec::new();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    while got.len() < echoed.len() {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed after {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, echoed);
    let out = child.wait_with_output().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(out.status.success(), "{rest}");
    let recorded: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(recorded["uart_output"]["usart1"]["hex"], hex(echoed));
    assert_eq!(
        recorded["uart_output"]["usart1"]["text"],
        "wbemu\r\nIBMy:111"
    );
    assert_eq!(recorded["exit"]["kind"], "cycle_limit");

    // Every batch is in the record, in order, with its simulated time.
    let text = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 3, "{text}");
    assert!(lines.iter().all(|l| l["port"] == "usart1"), "{text}");
    let sent: String = lines.iter().map(|l| l["hex"].as_str().unwrap()).collect();
    assert_eq!(sent, hex(b"HALx9000"));
    let times: Vec<u64> = lines.iter().map(|l| l["t_ps"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");

    // Replayed without a host end, twice: the very same run.
    let replay = || -> serde_json::Value {
        let mut args = common.to_vec();
        args.extend(["--replay-input", record.to_str().unwrap()]);
        serde_json::from_str(&ok(&args)).unwrap()
    };
    let (first, second) = (replay(), replay());
    assert_eq!(first, recorded);
    assert_eq!(second, recorded);

    // Written down as a scenario, it is the same run again.
    let out = scratch("echo.toml");
    let mut args = common.to_vec();
    args.extend([
        "--replay-input",
        record.to_str().unwrap(),
        "--record-scenario",
        out.to_str().unwrap(),
    ]);
    ok(&args);
    let scenario = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        scenario.matches("uart_hex").count(),
        lines.len(),
        "{scenario}"
    );
    assert!(
        scenario.contains("file = \"echo.start.wbdev\""),
        "{scenario}"
    );
    let again: serde_json::Value =
        serde_json::from_str(&ok(&["scenario", "run", out.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(again["verdict"], "pass", "{again:#}");
    assert_eq!(run_figures(&again), run_figures(&recorded));
}

/// The figures of a run that a scenario of it must repeat.
fn run_figures(v: &serde_json::Value) -> serde_json::Value {
    let cores: Vec<_> = v["cores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["core"].clone(),
                c["cycles"].clone(),
                c["instructions"].clone(),
            )
        })
        .collect();
    let uart = &v["uart_output"]["usart1"];
    let text = if uart.is_object() {
        uart["text"].clone()
    } else {
        uart.clone()
    };
    serde_json::json!([cores, v["flash_digests"]["all"], v["simulated_us"], text])
}

#[test]
fn a_run_with_a_power_cut_recorded_as_a_scenario_is_the_same_run_again() {
    // A power cut, and the run stopped by a BKPT.
    let (d, counter) = counter_device("counter-scenario", "virgin");
    let out = scratch("counter.toml");
    let ran: serde_json::Value = serde_json::from_str(&ok(&[
        "run",
        "--device",
        d.to_str().unwrap(),
        "--cpu1",
        counter.to_str().unwrap(),
        "--cut-power",
        "during:1",
        "--seed",
        "2",
        "--max-time",
        "30ms",
        "--record-scenario",
        out.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(ran["exit"]["kind"], "bkpt");
    let again = wbemu(&["scenario", "run", out.to_str().unwrap(), "--json"]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "the BKPT ends the scenario too"
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(run_figures(&again), run_figures(&ran));
    assert_eq!(again["failures"][0]["key"], "bkpt");
}

#[test]
fn malformed_input_records_are_refused_with_file_line_and_field() {
    let record = scratch("bad-input.jsonl");
    let r = record.to_str().unwrap();
    let good = r#"{"t_ps":1000000,"port":"usart1","hex":"41"}"#;
    for (bad, field) in [
        (
            r#"{"t_ps":2000000,"port":"usart1","hex":"414"}"#,
            "\"hex\": odd number",
        ),
        (
            r#"{"t_ps":2000000,"port":"uart7","hex":"41"}"#,
            "\"port\": unknown port",
        ),
        (
            r#"{"t_ps":999,"port":"usart1","hex":"41"}"#,
            "\"t_ps\": 999 is earlier",
        ),
        (
            r#"{"t_ps":2000000,"port":"usart1","hex":"41""#,
            "not valid JSON",
        ),
    ] {
        std::fs::write(&record, format!("{good}\n{bad}\n")).unwrap();
        let err = fails(&["run", "--replay-input", r]);
        assert!(err.contains(&format!("{r}:2: ")), "{err}");
        assert!(err.contains(field), "{err}");
    }
    let err = fails(&["run", "--replay-input", "/nonexistent/input.jsonl"]);
    assert!(err.contains("/nonexistent/input.jsonl"), "{err}");
    let err = fails(&["run", "--replay-input", r, "--uart1", "pty"]);
    assert!(err.contains("cannot be used with"), "{err}");
    let err = fails(&["run", "--record-input", r]);
    assert!(err.contains("no UART is attached"), "{err}");
}
