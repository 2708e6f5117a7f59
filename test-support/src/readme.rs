//! README.md's shell blocks, taken from the README itself so that the tests run what a
//! newcomer pastes.

/// README.md, read at run time (a test sees today's README, not the one it was built with).
fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md reads")
}

/// The `sh` blocks of README.md after `heading`, in order.
fn shell_blocks_after(heading: &str) -> Vec<String> {
    let readme = readme();
    let mut rest = &readme[readme.find(heading).expect("the heading is in README.md")..];
    let mut blocks = Vec::new();
    while let Some(start) = rest.find("```sh\n") {
        let body = &rest[start + "```sh\n".len()..];
        let end = body.find("```").expect("the block ends");
        blocks.push(body[..end].to_owned());
        rest = &body[end + "```".len()..];
    }
    blocks
}

/// The first `sh` block after `heading` in README.md.
pub fn shell_block_after(heading: &str) -> String {
    shell_blocks_after(heading)
        .into_iter()
        .next()
        .expect("a shell block follows the heading")
}

/// The first line of the `sh` blocks after `heading` in README.md that starts with `start`,
/// as it is.
pub fn line_after(heading: &str, start: &str) -> String {
    shell_blocks_after(heading)
        .iter()
        .flat_map(|block| block.lines())
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("a line starting with {start:?} follows {heading:?}"))
        .to_owned()
}

/// The first line after `heading` in README.md that runs `just loadtest --host` against a
/// deployment, made runnable here: `scripts/loadtest` (what the recipe runs once it has
/// built; `PROFILE` says which build to take) instead of `just loadtest`, the key from
/// `$TANDEM_KEY` and the address from `$API` for the README's placeholders, and
/// `-t 3s --report-file "$REPORT"` appended (a later flag wins), so that a test runs it for
/// three seconds and keeps its report in a folder of its own. Everything else, the flags
/// included, is run as the README has it.
pub fn remote_load_test_after(heading: &str) -> String {
    let line = shell_blocks_after(heading)
        .iter()
        .flat_map(|block| block.lines())
        .find(|line| line.contains("just loadtest --host"))
        .unwrap_or_else(|| panic!("a `just loadtest --host` line follows {heading:?}"))
        .to_owned();
    runnable_load_test(&line)
}

/// The quick start's `just run` line, made runnable here: `scripts/run` (what the recipe
/// runs once it has built the dashboard and the server; `PROFILE` says which build to take)
/// instead of `just run`, without its comment. Its address and store come from the
/// environment (`TANDEM_LISTEN`, `TANDEM_STORE`) the test gives it.
pub fn quick_start_run() -> String {
    let block = shell_block_after("## Quick start");
    let line = block
        .lines()
        .find(|line| line.starts_with("just run"))
        .expect("the quick start has a `just run` line");
    runnable_run(line)
}

/// The first block of "Deploy to AWS" in README.md, made runnable against an emulator:
/// `scripts/deploy` (what `just deploy` runs once it has built the dashboard, which
/// `just test` has done) instead of `just deploy`, and the bot's token from `$BOT_TOKEN` for
/// BotFather's placeholder. Everything else is run as the README has it: its region, an API
/// key made by `openssl rand`, and Terraform's question before it applies.
pub fn deploy_block() -> String {
    runnable_deploy(&shell_block_after("## Deploy to AWS"))
}

/// See [`deploy_block`].
fn runnable_deploy(block: &str) -> String {
    let mut deploys = 0;
    let mut tokens = 0;
    let lines: Vec<String> = block
        .lines()
        .map(|line| {
            if line.starts_with("export TELOXIDE_TOKEN=") {
                tokens += 1;
                replace_argument(line, "TELOXIDE_TOKEN=", "TELOXIDE_TOKEN=\"$BOT_TOKEN\"")
            } else if line.starts_with("just deploy") {
                deploys += 1;
                line.replacen("just deploy", "scripts/deploy", 1)
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert_eq!(deploys, 1, "one `just deploy` line in {block:?}");
    assert_eq!(tokens, 1, "one `export TELOXIDE_TOKEN=` line in {block:?}");
    lines.join("\n") + "\n"
}

/// See [`quick_start_run`].
fn runnable_run(line: &str) -> String {
    let command = line.split('#').next().unwrap_or(line).trim_end();
    command.replacen("just run", "scripts/run", 1)
}

/// See [`remote_load_test_after`].
fn runnable_load_test(line: &str) -> String {
    let line = replace_argument(line, "TANDEM_API_KEY=", "TANDEM_API_KEY=\"$TANDEM_KEY\"");
    let line = replace_argument(&line, "--host ", "--host \"$API\"");
    let line = line.replacen("just loadtest", "scripts/loadtest", 1);
    format!("{} -t 3s --report-file \"$REPORT\"", line.trim_end())
}

/// `line` with the word that starts with `prefix` replaced by `with`; a `<placeholder>`
/// in it may hold spaces.
fn replace_argument(line: &str, prefix: &str, with: &str) -> String {
    let start = line
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} is in {line:?}"));
    let mut in_placeholder = false;
    let mut end = line.len();
    for (i, c) in line[start + prefix.len()..].char_indices() {
        match c {
            '<' => in_placeholder = true,
            '>' => in_placeholder = false,
            c if c.is_whitespace() && !in_placeholder => {
                end = start + prefix.len() + i;
                break;
            }
            _ => {}
        }
    }
    format!("{}{with}{}", &line[..start], &line[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_test_line_gets_the_key_the_address_and_a_short_run() {
        let line =
            "TANDEM_API_KEY=<a key from X> just loadtest --host https://<your API URL> -u 20";

        assert_eq!(
            runnable_load_test(line),
            "TANDEM_API_KEY=\"$TANDEM_KEY\" scripts/loadtest --host \"$API\" -u 20 -t 3s \
             --report-file \"$REPORT\""
        );
    }

    #[test]
    fn a_plain_address_is_replaced_up_to_the_next_flag() {
        let line = "TANDEM_API_KEY=k just loadtest --host https://id.example.com -t 60s";

        assert_eq!(
            runnable_load_test(line),
            "TANDEM_API_KEY=\"$TANDEM_KEY\" scripts/loadtest --host \"$API\" -t 60s -t 3s \
             --report-file \"$REPORT\""
        );
    }

    #[test]
    fn the_run_line_loses_its_comment_and_keeps_its_arguments() {
        assert_eq!(
            runnable_run("just run    # the API on http://127.0.0.1:3000"),
            "scripts/run"
        );
        assert_eq!(
            runnable_run("just run --log debug  # more"),
            "scripts/run --log debug"
        );
        assert_eq!(quick_start_run(), "scripts/run");
    }

    #[test]
    fn the_deploy_block_deploys_with_the_emulators_bot_and_keeps_the_rest() {
        let block = "export AWS_REGION=eu-west-1\n\
                     export TANDEM_API_KEYS=\"acme:$(openssl rand -hex 24)\"   # keep a copy\n\
                     export TELOXIDE_TOKEN=123456789:AA...   # optional\n\
                     just deploy   # asks before applying\n";

        assert_eq!(
            runnable_deploy(block),
            "export AWS_REGION=eu-west-1\n\
             export TANDEM_API_KEYS=\"acme:$(openssl rand -hex 24)\"   # keep a copy\n\
             export TELOXIDE_TOKEN=\"$BOT_TOKEN\"   # optional\n\
             scripts/deploy   # asks before applying\n"
        );
        assert!(deploy_block().contains("\nscripts/deploy "));
    }

    #[test]
    #[should_panic(expected = "one `just deploy` line")]
    fn a_deploy_block_without_its_deploy_is_refused() {
        runnable_deploy("export TELOXIDE_TOKEN=x\n");
    }

    #[test]
    fn the_readme_has_both_remote_load_tests() {
        for heading in ["## Load test and benchmarks", "## Deploy to AWS"] {
            let line = remote_load_test_after(heading);
            assert!(
                line.starts_with("TANDEM_API_KEY=\"$TANDEM_KEY\" scripts/loadtest --host \"$API\""),
                "{line}"
            );
        }
    }
}
