//! `oms-bench`: the load generator behind `make bench` (driven by `scripts/bench.sh`).
//!
//! Every subcommand is bounded in time and in count, talks to loopback addresses only, stops by
//! itself, and prints its figures as one JSON line on standard output (the script collects them
//! into `results.jsonl`; `report` turns that file into the Markdown table).
//!
//! ```text
//! oms-bench setup    --base URL --admin-email E --admin-password P --out setup.json --env-out setup.env
//! oms-bench place    --setup setup.json --label L --mode spread|hot --connections N --seconds S
//!                    [--max-requests M] [--pid PID] [--orders-out FILE] [--bases URL,URL,...]
//! oms-bench reads    --setup setup.json --route products|order --connections N --seconds S
//!                    [--orders FILE] [--max-requests M]
//! oms-bench fulfil   --setup setup.json --orders FILE --connections N --seconds S
//!                    [--max-requests M]
//! oms-bench realtime --setup setup.json --orders FILE --clients N --rate R --seconds S --pid PID
//!                    [--base URL] [--ws-base URL]
//! oms-bench export   --base URL --admin-email E --admin-password P --pid PID --max-seconds S
//! oms-bench pgbench  --label L --clients N --seconds S --script FILE --url URL [--define k=v]...
//! oms-bench signins  --setup setup.json --concurrency N --rounds R --pid PID
//! oms-bench webhooks --scenario throughput|flaky|latency --db-url URL [--events N] [--batch B]
//!                    [--rate R --seconds S] [--fail-percent P] [--max-seconds S]
//! oms-bench webhooks --scenario baseline [--events N] [--concurrency C]
//! oms-bench cluster  --setup setup.json --bases URL,URL,... --db-url URL [--writers N]
//!                    [--seconds S] [--drain-seconds S] [--bus postgres|nats]
//! oms-bench rss      --pid PID --label L
//! oms-bench report   --results results.jsonl --out FILE.md [--meta key=value]...
//! ```

mod args;
mod cluster;
mod export;
mod fulfil;
mod http;
mod load;
mod pgbench;
mod place;
mod reads;
mod realtime;
mod receiver;
mod report;
mod rss;
mod setup;
mod signins;
mod stats;
mod webhooks;

use std::process::ExitCode;

use args::Args;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!(
            "usage: oms-bench <setup|place|reads|fulfil|realtime|export|signins|webhooks|cluster|pgbench|rss|report> --key value ..."
        );
        return ExitCode::from(2);
    };
    let result = Args::parse(rest).and_then(|args| run(command, &args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("oms-bench {command}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &str, args: &Args) -> anyhow::Result<()> {
    match command {
        "pgbench" => pgbench::run(args),
        "rss" => rss::run(args),
        "report" => report::run(args),
        _ => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                match command {
                    "setup" => setup::run(args).await,
                    "place" => place::run(args).await,
                    "reads" => reads::run(args).await,
                    "fulfil" => fulfil::run(args).await,
                    "realtime" => realtime::run(args).await,
                    "export" => export::run(args).await,
                    "signins" => signins::run(args).await,
                    "webhooks" => webhooks::run(args).await,
                    "cluster" => cluster::run(args).await,
                    other => anyhow::bail!("unknown command {other:?}"),
                }
            })
        }
    }
}
