//! `wbemu campaign FILE`: a scenario's fault plan run case by case, with a verdict per case
//! and for the whole; `wbemu campaign merge` joins shards' JUnit files. The logic is
//! wb-campaign's; this file parses and prints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use wb_campaign::campaign::output::{junit, merge_junit, Summary};
use wb_campaign::campaign::plan::{parse_shard, sample, shard, Case};
use wb_campaign::campaign::{Campaign, Golden, Options, Outcome};
use wb_campaign::record::Failure;
use wb_campaign::Scenario;

#[derive(clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 every case passed; 1 a case failed, bricked or hung (each is \
    listed with the command that replays it); 2 the scenario cannot be run or a host error. \
    The fault plan is the scenario's [campaign] table (docs/scenarios.md)."
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The scenario file with its fault plan.
    file: Option<PathBuf>,
    /// Run only the case with this ID (e.g. op1234:during:seed3, with or without the
    /// scenario's name before it); may be given more than once.
    #[arg(long, value_name = "ID")]
    only: Vec<String>,
    /// Run shard I of N (every N-th case from the I-th): shards together are the campaign.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Threads to run cases on (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run this many cases drawn at random (seeded by --seed) instead of all.
    #[arg(long, value_name = "N")]
    sample: Option<usize>,
    /// Seed of --sample.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write a JUnit report here (one testcase per case).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the device of each case that did not pass, as it was right after its fault, to
    /// DIR/ID.wbdev.
    #[arg(long, value_name = "DIR")]
    keep_failures: Option<PathBuf>,
    /// Run every case to its end, even from a state already judged.
    #[arg(long)]
    no_early_stop: bool,
    /// List the case IDs and exit.
    #[arg(long)]
    list: bool,
    /// After the campaign, run N of its cases the naive way (each from power-on with its
    /// fault, one thread) and print both costs per case and their ratio.
    #[arg(long, value_name = "N")]
    compare_naive: Option<usize>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Join the JUnit files of a campaign's shards into one.
    Merge {
        /// The merged report.
        #[arg(long, value_name = "FILE")]
        junit: PathBuf,
        /// The shards' JUnit files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
}

#[derive(Serialize)]
struct JsonReport<'a> {
    scenario: &'a str,
    file: String,
    golden: GoldenFigures,
    summary: &'a Summary,
    host_ms: f64,
    cases: &'a [Outcome],
}

#[derive(Serialize)]
struct GoldenFigures {
    flash_ops: usize,
    simulated_us: f64,
    checkpoints: usize,
    failures: Vec<Failure>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    if let Some(Command::Merge { junit, inputs }) = a.command {
        let files = inputs
            .iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .with_context(|| format!("{}: cannot read", p.display()))
                    .map(|t| (p.display().to_string(), t))
            })
            .collect::<Result<Vec<_>>>()?;
        let merged = merge_junit(&files).map_err(anyhow::Error::msg)?;
        crate::files::write(&junit, merged.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(file) = a.file.clone() else {
        bail!("give the campaign's scenario file (wbemu campaign FILE), or merge");
    };
    let started = std::time::Instant::now();
    let sc = Scenario::load(&file)?;
    // Keeping devices costs a copy per case: only when they are asked for.
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let golden = Golden::run(&sc, 32)?;
    if !golden.failures.is_empty() {
        for f in &golden.failures {
            eprintln!(
                "wbemu: {}:{}: {}: {}",
                file.display(),
                f.line,
                f.key,
                f.message
            );
        }
        bail!(
            "{}: the scenario fails without any fault: fix it before a campaign",
            file.display()
        );
    }
    let campaign = Campaign::new(&sc, golden);
    let all = campaign.cases();
    let mut cases = select(&campaign, &all, &a)?;
    if let Some(n) = a.sample {
        cases = sample(&cases, n, a.seed);
    }
    if let Some(s) = a.shard {
        cases = shard(&cases, s);
    }
    if a.list {
        for c in &cases {
            println!("{}", campaign.id(c));
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "wbemu: {}: golden run {:.3} ms, {} flash operations, {} checkpoints; {} of {} cases on {jobs} threads",
        sc.name,
        campaign.golden.end as f64 / 1e9,
        campaign.golden.ops.len(),
        campaign.golden.checkpoint_count(),
        cases.len(),
        all.len()
    );
    let bar = ProgressBar::new(cases.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} cases, {per_sec}, {eta} left {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let options = Options {
        jobs,
        early_stop: !a.no_early_stop,
        keep_devices: a.keep_failures.is_some(),
    };
    let outcomes = campaign.run(&cases, options, &|o: &Outcome| {
        bar.inc(1);
        if !o.verdict.is_ok() {
            bar.set_message(format!("last {}: {}", o.verdict.name(), o.id));
        }
    })?;
    bar.finish_and_clear();
    let summary = Summary::of(&outcomes);
    let replay = |id: &str| format!("wbemu campaign {} --only {id}", file.display());
    if let Some(dir) = &a.keep_failures {
        keep(dir, &outcomes)?;
    }
    if let Some(path) = &a.junit {
        crate::files::write(path, junit(&sc.name, &outcomes, &replay).as_bytes())?;
    }
    let host_ms = started.elapsed().as_secs_f64() * 1e3;
    if let Some(path) = &a.json {
        let report = JsonReport {
            scenario: &sc.name,
            file: file.display().to_string(),
            golden: GoldenFigures {
                flash_ops: campaign.golden.ops.len(),
                simulated_us: campaign.golden.end as f64 / 1e6,
                checkpoints: campaign.golden.checkpoint_count(),
                failures: campaign.golden.failures.clone(),
            },
            summary: &summary,
            host_ms,
            cases: &outcomes,
        };
        crate::files::write(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    print!("{}", summary.table());
    let bad: Vec<&Outcome> = outcomes.iter().filter(|o| !o.verdict.is_ok()).collect();
    for o in bad.iter().take(20) {
        let why = o.failures.first().map_or(String::new(), |f| {
            format!(" (line {}: {}: {})", f.line, f.key, f.message)
        });
        println!(
            "{} {}{why}\n    replay: {}",
            o.verdict.name().to_uppercase(),
            o.id,
            replay(&o.id)
        );
    }
    if bad.len() > 20 {
        println!("... and {} more (see --json or --junit)", bad.len() - 20);
    }
    println!(
        "{} cases in {:.1} s ({:.1} ms per case), {} stopped early at a state already judged",
        summary.cases,
        host_ms / 1e3,
        host_ms / summary.cases.max(1) as f64,
        summary.stopped_early
    );
    if let Some(n) = a.compare_naive {
        compare_naive(&campaign, &outcomes, n)?;
    }
    println!(
        "verdict: {}",
        if summary.passed() { "pass" } else { "fail" }
    );
    Ok(if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The cases `--only` names (all without it).
fn select(campaign: &Campaign, all: &[Case], a: &Args) -> Result<Vec<Case>> {
    if a.only.is_empty() {
        return Ok(all.to_vec());
    }
    let prefix = format!("{}:", campaign.sc.name);
    a.only
        .iter()
        .map(|id| {
            let bare = id.strip_prefix(&prefix).unwrap_or(id);
            let case = Case::parse(bare).with_context(|| {
                format!(
                    "--only {id}: not a case ID (op1234:during:seed3, op7:reset-after, t1500us...)"
                )
            })?;
            if !all.contains(&case) {
                bail!("--only {id}: no such case in this campaign (see --list)");
            }
            Ok(case)
        })
        .collect()
}

fn keep(dir: &Path, outcomes: &[Outcome]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    for o in outcomes.iter().filter(|o| !o.verdict.is_ok()) {
        if let Some(dev) = &o.device_at_fault {
            let mut dev = dev.clone();
            dev.note = format!("wbemu campaign: {} right after its fault", o.id);
            let path = dir.join(format!("{}.wbdev", o.id.replace(':', "_")));
            super::device::save(&dev, &path)?;
        }
    }
    Ok(())
}

/// The benchmark figures: the same sample of cases from power-on, against the campaign's.
fn compare_naive(campaign: &Campaign, outcomes: &[Outcome], n: usize) -> Result<()> {
    let picked = sample(outcomes, n, 0);
    let started = std::time::Instant::now();
    for o in &picked {
        let naive = campaign.run_case_from_boot(&o.case)?;
        if naive.verdict != o.verdict {
            bail!(
                "{}: {} from power-on but {} branched",
                o.id,
                naive.verdict.name(),
                o.verdict.name()
            );
        }
    }
    let naive_ms = started.elapsed().as_secs_f64() * 1e3 / picked.len().max(1) as f64;
    let branched_ms =
        outcomes.iter().map(|o| o.host_ms).sum::<f64>() / outcomes.len().max(1) as f64;
    println!(
        "naive: {} cases from power-on, {naive_ms:.1} ms per case (one thread, same verdicts); \
         campaign: {branched_ms:.1} ms per case per thread; ratio {:.1}",
        picked.len(),
        naive_ms / branched_ms.max(1e-9)
    );
    Ok(())
}
