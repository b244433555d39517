use std::path::Path;

use super::*;

const DEVICE: &str = "[device]\npreset = \"virgin\"\n";

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(Path::new("t.toml"), text, Path::new("."))
}

/// The error of `text`: (line, key, message).
fn error(text: &str) -> (usize, String, String) {
    let e = parse(text).expect_err("the scenario should be refused");
    assert_eq!(e.file, "t.toml");
    (e.line, e.key, e.message)
}

#[test]
fn a_minimal_scenario_is_a_device() {
    let sc = parse(DEVICE).unwrap();
    assert_eq!(sc.name, "t");
    assert!(sc.steps.is_empty());
    assert_eq!(sc.max_time, DEFAULT_MAX_TIME);
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let (line, key, msg) = error(&format!(
        "{DEVICE}\n[[step]]\nfus = \"FUS_GET_STATE\"\nretry = 3\n"
    ));
    assert_eq!(line, 6);
    assert_eq!(key, "retry");
    assert!(msg.contains("unknown field `retry`"), "{msg}");
}

#[test]
fn a_bad_address_is_named_with_its_line() {
    let (line, key, msg) = error(&format!(
        "{DEVICE}[[place]]\nimage = \"ws-1.0.0\"\nat = 0x07000000\n"
    ));
    assert_eq!((line, key.as_str()), (5, "place.at"));
    assert!(msg.contains("do not fit in flash"), "{msg}");
    let (line, key, _) = error(&format!("{DEVICE}[[step]]\nread = -4\n"));
    assert_eq!((line, key.as_str()), (4, "read"));
    let (line, key, msg) = error(&format!(
        "{DEVICE}[[step]]\nwait = {{ cpu1_at = 0x08000001 }}\n"
    ));
    assert_eq!((line, key.as_str()), (4, "wait.cpu1_at"));
    assert!(msg.contains("even"), "{msg}");
}

#[test]
fn a_bad_time_is_named_with_its_line() {
    let (line, key, msg) = error(&format!(
        "{DEVICE}[[step]]\nat = \"5 parsecs\"\nreset = \"nrst\"\n"
    ));
    assert_eq!((line, key.as_str()), (4, "at"));
    assert!(msg.contains("parsecs"), "{msg}");
    let (line, key, _) = error(&format!("max_time = \"10\"\n{DEVICE}"));
    assert_eq!((line, key.as_str()), (1, "max_time"));
}

#[test]
fn a_missing_image_is_named_with_its_line() {
    let (line, key, msg) = error(&format!("{DEVICE}[cpu1]\nimage = \"no/such.elf\"\n"));
    assert_eq!((line, key.as_str()), (4, "cpu1.image"));
    assert!(msg.contains("cannot read"), "{msg}");
    let (_, key, msg) = error(&format!("{DEVICE}[cpu1]\nimage = \"operatr\"\n"));
    assert_eq!(key, "cpu1.image");
    assert!(
        msg.contains("operator"),
        "the built-in names are listed: {msg}"
    );
    let (_, key, _) = error(&format!(
        "{DEVICE}[[place]]\nimage = \"ws-9.9.9\"\nat = \"download\"\n"
    ));
    assert_eq!(key, "place.image");
}

#[test]
fn a_wait_that_can_never_end_is_refused() {
    // Only a FUS_GET_STATE answer changes the state: without a poll nothing asks.
    let (line, key, msg) = error(&format!("{DEVICE}[[step]]\nwait = {{ fus_state = 0 }}\n"));
    assert_eq!((line, key.as_str()), (4, "wait"));
    assert!(msg.contains("never end"), "{msg}");
    let (_, key, _) = error(&format!(
        "{DEVICE}[[step]]\nwait = {{ uart = \"x\" }}\ntimeout = \"0s\"\n"
    ));
    assert_eq!(key, "timeout");
    let (_, key, _) = error(&format!(
        "{DEVICE}[[step]]\nwait = {{ uart = \"x\" }}\npoll = \"0ms\"\n"
    ));
    assert_eq!(key, "poll");
    let (_, key, msg) = error(&format!(
        "max_time = \"1s\"\n{DEVICE}[[step]]\nat = \"2s\"\nreset = \"nrst\"\n"
    ));
    assert_eq!(key, "at");
    assert!(msg.contains("max_time"), "{msg}");
    let (_, key, _) = error(&format!("max_time = \"1s\"\nend_at = \"2s\"\n{DEVICE}"));
    assert_eq!(key, "end_at");
}

#[test]
fn a_step_has_one_action() {
    let (line, key, msg) = error(&format!(
        "{DEVICE}[[step]]\nreset = \"nrst\"\ncut = \"now\"\n"
    ));
    assert_eq!(
        (line, key.as_str()),
        (3, "step[0]"),
        "the step's header line"
    );
    assert!(msg.contains("reset, cut"), "{msg}");
    let (_, key, _) = error(&format!("{DEVICE}[[step]]\nreset = \"nrst\"\nseed = 3\n"));
    assert_eq!(key, "seed");
    let (_, key, _) = error(&format!("{DEVICE}[[step]]\n"));
    assert_eq!(key, "step[0]");
}

#[test]
fn values_are_checked() {
    let cases = [
        ("[[step]]\nfus = \"FUS_GET_STAT\"\n", "fus"),
        (
            "[[step]]\nfus = \"FUS_GET_STATE\"\npayload = \"abc\"\n",
            "payload",
        ),
        ("[[step]]\ncut = \"during:0\"\n", "cut"),
        ("[[step]]\ncut = \"sometime\"\n", "cut"),
        ("[[step]]\nreset = \"power\"\n", "reset"),
        ("[[step]]\nuart = \"x\"\nport = \"usart9\"\n", "port"),
        (
            "[[step]]\nwait = { ws_running = \"1.0\" }\n",
            "wait.ws_running",
        ),
        ("[[step]]\nwait = { uart = \"\" }\n", "wait.uart"),
        ("[[step]]\nwrite = 0x20000000\n", "write"),
        ("[expect]\nfus_error = \"NOPE\"\n", "expect.fus_error"),
        ("[expect]\nunchanged = [[8, 4]]\n", "expect.unchanged"),
        (
            "[cpu1]\nimage = \"operator\"\nscript = [\"JUMP\"]\n",
            "cpu1.script",
        ),
        ("[device.options]\nOPTX = 1\n", "device.options.OPTX"),
        ("[device.options]\nsfsa = 0x100\n", "device.options.sfsa"),
    ];
    for (text, want) in cases {
        let (_, key, msg) = error(&format!("{DEVICE}{text}"));
        assert_eq!(key, want, "{text}: {msg}");
    }
    let (_, key, _) = error("[device]\n");
    assert_eq!(key, "device");
    let (_, key, _) = error("[device]\npreset = \"sold\"\n");
    assert_eq!(key, "device.preset");
}

#[test]
fn device_edits_and_actions_are_what_the_file_says() {
    let sc = parse(&format!(
        "seed = 7\n{DEVICE}\
         [device.options]\nsfsa = 0xF0\n\
         [[device.write]]\naddress = 0x08000000\nhex = \"de ad be ef\"\n\
         [[device.write]]\naddress = 0x08001000\nfill = 0x00\nlen = 8\n\
         [[step]]\nat = \"1.5ms\"\ncut = \"during:page-erase#2\"\n\
         [[step]]\nfus = \"0xFC5D\"\npayload = \"0102\"\nretries = 2\n\
         [[step]]\nwait = {{ fus_idle = true, cpu2_boots = 2 }}\npoll = \"20ms\"\ntimeout = \"3s\"\n\
         [[step]]\nwrite = 0x5800040C\nvalue = 0x00008000\n"
    ))
    .unwrap();
    assert_eq!(
        sc.device.read(0x0800_0000, 4).unwrap(),
        [0xDE, 0xAD, 0xBE, 0xEF]
    );
    assert_eq!(sc.device.read(0x0800_1000, 8).unwrap(), [0; 8]);
    assert_eq!(sc.device.options().0.secure_flash_page(), Some(0xF0));
    assert_eq!(sc.steps[0].at, Some(1_500_000_000));
    assert!(matches!(sc.steps[0].action, Action::Arm { seed: 7, .. }));
    let Action::Command {
        opcode,
        packet,
        retries,
        ..
    } = &sc.steps[1].action
    else {
        panic!("a command")
    };
    assert_eq!((*opcode, *retries), (0xFC5D, 2));
    assert_eq!(&packet[8..], [0x10, 0x5D, 0xFC, 0x02, 0x01, 0x02]);
    let w = sc.steps[2].wait.as_ref().unwrap();
    assert_eq!((w.timeout, w.poll), (3 * picos::S, Some(20 * picos::MS)));
    assert_eq!(w.until.cpu2_boots, Some(2));
    assert!(matches!(
        sc.steps[3].action,
        Action::Write {
            address: 0x5800_040C,
            value: 0x8000
        }
    ));
}

#[test]
fn a_campaign_table_is_a_plan() {
    let sc = parse(&format!(
        "{DEVICE}[campaign]\nfaults = [\"reset\", \"power-cut\"]\npoints = [\"during\"]\nseeds = 2\n\
         ops = [5, 9]\nkinds = [\"page-erase\", \"option-program\"]\nevery = \"2ms\"\nat_ops = false\n"
    ))
    .unwrap();
    let plan = sc.campaign.unwrap();
    assert_eq!(plan.faults, [FaultKind::Reset, FaultKind::PowerCut]);
    assert_eq!(plan.points, [CutPoint::During]);
    assert_eq!(
        (plan.seeds, plan.ops, plan.every, plan.at_ops),
        (2, Some((5, 9)), Some(2 * picos::MS), false)
    );
    assert_eq!(
        plan.kinds,
        [FlashOpKind::PageErase, FlashOpKind::OptionProgram]
    );
    for (text, key) in [
        ("faults = [\"flood\"]", "campaign.faults"),
        ("ops = [9, 5]", "campaign.ops"),
        ("kinds = [\"scrub\"]", "campaign.kinds"),
        ("seeds = 0", "campaign.seeds"),
        ("every = \"0s\"", "campaign.every"),
    ] {
        let (_, k, _) = error(&format!("{DEVICE}[campaign]\n{text}\n"));
        assert_eq!(k, key, "{text}");
    }
}
