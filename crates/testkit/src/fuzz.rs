//! One configuration for every property and fuzz test in the workspace.
//!
//! The normal test run (`cargo nextest run`) runs each target briefly, with a fixed seed so that CI
//! is reproducible. The long run is the same tests with more cases and a fresh seed:
//!
//! ```text
//! SWITCHBOARD_FUZZ_CASES=1000000 cargo nextest run --release -E 'test(/fuzz|prop/)'
//! ```
//!
//! - `SWITCHBOARD_FUZZ_CASES`: cases per target (default: the budget the test asks for);
//! - `SWITCHBOARD_FUZZ_SEED`: the seed (default: fixed when the case count is the CI budget,
//!   random otherwise; a failure prints the seed-independent minimal input either way).
//!
//! Failures are not persisted to files: a counter-example found by a long run is added to the test
//! as a named regression case.

use proptest::test_runner::{Config, RngSeed};

/// The seed of the short runs; any fixed value does.
const CI_SEED: u64 = 0x5157_1c4b_0a2d_f00d;

/// The number of cases a target runs: `SWITCHBOARD_FUZZ_CASES` if set, else `ci_budget`.
pub fn cases(ci_budget: u32) -> u32 {
    std::env::var("SWITCHBOARD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci_budget)
}

/// The proptest configuration for a target whose CI budget is `ci_budget` cases.
pub fn config(ci_budget: u32) -> Config {
    let cases = cases(ci_budget);
    let seed = match std::env::var("SWITCHBOARD_FUZZ_SEED") {
        Ok(seed) => RngSeed::Fixed(seed.parse().unwrap_or(CI_SEED)),
        Err(_) if cases == ci_budget => RngSeed::Fixed(CI_SEED),
        Err(_) => RngSeed::Random,
    };
    Config {
        cases,
        failure_persistence: None,
        rng_seed: seed,
        // Shrinking a slow target (a process, a database) is bounded in time rather than steps.
        max_shrink_time: 60_000,
        ..Config::default()
    }
}

/// Markdown built from the syntax that opens, nests and closes blocks and inlines, mixed with
/// arbitrary text: blind strings would almost never form a list inside a quote inside a table.
pub fn markdown() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::{Just, any, prop, prop_oneof};
    use proptest::strategy::Strategy;
    const PIECES: &[&str] = &[
        "\n",
        "\n\n",
        "  \n",
        "\\\n",
        " ",
        "    ",
        "\t",
        "# ",
        "###### ",
        "> ",
        ">",
        "- ",
        "* ",
        "+ ",
        "1. ",
        "3) ",
        "999999999. ",
        "```",
        "```rust\n",
        "~~~",
        "**",
        "*",
        "_",
        "__",
        "~~",
        "~",
        "`",
        "``",
        "[",
        "]",
        "](",
        ")",
        "![",
        "[x]: https://ref.example\n",
        "[x]",
        "<",
        ">",
        "<https://auto.example>",
        "<a@b.example>",
        "<@U123>",
        "<#C1|gen>",
        "<!here>",
        "<!subteam^S1|@team>",
        "@here",
        "@channel",
        "https://bare.example/path",
        "www.x.io",
        "|",
        "| a | b |\n",
        "|---|---|\n",
        "| - |\n",
        "---\n",
        "***\n",
        "&amp;",
        "&lt;",
        "&gt;",
        "&#60;",
        "&",
        "\\*",
        "\\<",
        "<b>",
        "</b>",
        "<div>\n",
        "<!-- c -->",
        "[ ] ",
        "[x] ",
        "word",
        "Ünïcödé",
        "🙂",
        "\u{0}",
        "\r\n",
        "|",
        "^",
        "\"",
        "'",
    ];
    let piece = prop_oneof![
        4 => prop::sample::select(PIECES).prop_map(str::to_owned),
        1 => any::<String>().prop_map(|s| s.chars().take(8).collect::<String>()),
        1 => Just("text ".to_owned()),
    ];
    prop::collection::vec(piece, 0..64).prop_map(|pieces| pieces.concat())
}
