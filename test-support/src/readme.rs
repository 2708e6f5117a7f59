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
