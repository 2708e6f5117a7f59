//! Prints what a million completed pairings (create, pair, one read) cost on AWS, as a
//! Markdown table, for `just bench` and the README.
//!
//! Usage: `cost [MEMORY_MB] [BILLED_MS]` (defaults: 256, Terraform's `api_memory_mb`, and
//! 10 ms billed per warm call).

use std::io::Write as _;

use api::cost::{Breakdown, FrontDoor, LambdaUse, Prices};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let memory_mb = args.next().map_or(Ok(256), |a| a.parse())?;
    let billed_ms = args.next().map_or(Ok(10.0), |a| a.parse())?;
    let lambda = LambdaUse {
        memory_mb,
        billed_ms,
    };
    let prices = Prices::US_EAST_1;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| front door | DynamoDB writes | DynamoDB reads | Lambda requests | Lambda duration | front door | total |"
    )?;
    writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")?;
    for (name, door) in [
        ("function URL", FrontDoor::FunctionUrl),
        ("HTTP API", FrontDoor::HttpApi),
    ] {
        let cost = Breakdown::per_million_pairings(door, lambda, prices);
        writeln!(
            out,
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | **{:.2}** |",
            cost.dynamodb_writes,
            cost.dynamodb_reads,
            cost.lambda_requests,
            cost.lambda_duration,
            cost.front_door,
            cost.total()
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "USD per million completed pairings (create, pair, one read) in us-east-1, arm64 Lambda of \
         {memory_mb} MB billed {billed_ms} ms a call."
    )?;
    Ok(())
}
