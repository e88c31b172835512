//! A statement's shape read without PostgreSQL's parser, for the texts where a byte scan is
//! enough: plain integers and plain strings as the only constants, no comments, no dollar signs,
//! no backslashes, ASCII outside strings and quoted identifiers. Everything else gets no sketch,
//! and the guard asks libpg_query for the shape as before.
//!
//! A sketch is the text with each constant replaced by `$n`, numbered in order, as libpg_query's
//! `normalize` writes it, and the kind of each constant replaced. It is only trusted against a
//! shape it was seen to equal: [`super::verdicts`] remembers a sketch beside a shape when, for the
//! statement that passed, the sketch's text was exactly the normalised text. Then a statement
//! with the same sketch (the same text outside its constants, constants of the same kinds) has
//! the same shape too: PostgreSQL's scanner splits both into the same tokens of the same kinds —
//! a run of at most nine digits between characters that cannot continue a number or a name is
//! always one integer token (it fits in `int4`), a quoted string without backslashes is always
//! one string token whatever its content — its grammar turns the same kinds of tokens into the
//! same tree, and `normalize` replaces the constants of that tree, at the same places, by the
//! same `$n`. A constant `normalize` keeps (a type modifier such as `varchar(10)`) or writes
//! differently (a negative number, strings continued across a newline) makes the first
//! statement's sketch differ from its shape, so that sketch is never remembered.

use std::fmt::Write as _;

/// The kind of a constant replaced in a sketch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Constant {
    /// A run of at most nine digits.
    Integer,
    /// `'…'`, with `''` for a quote inside.
    String,
}

/// A statement's text with its constants replaced by `$n`, and their kinds in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Sketch {
    pub(super) text: String,
    pub(super) constants: Vec<Constant>,
}

/// The longest run of digits taken as a constant: nine digits always fit in `int4`, so the
/// scanner makes every such run an integer token.
const MAX_DIGITS: usize = 9;

/// The sketch of `sql`, `None` when a byte scan cannot be sure of its tokens.
pub(super) fn sketch(sql: &str) -> Option<Sketch> {
    let (text, constants) = scan(sql)?;
    Some(Sketch { text, constants })
}

fn scan(sql: &str) -> Option<(String, Vec<Constant>)> {
    let bytes = sql.as_bytes();
    let mut text = String::with_capacity(sql.len() + 8);
    let mut constants = Vec::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let start = at;
        let kind = match byte {
            b'0'..=b'9' => {
                let end = start
                    + bytes[start..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                let before = start.checked_sub(1).map(|i| bytes[i]);
                if end - start > MAX_DIGITS
                    || before.is_some_and(|b| continues_a_word(b) || b == b'.')
                    || bytes
                        .get(end)
                        .is_some_and(|&b| continues_a_word(b) || b == b'.')
                {
                    return None;
                }
                at = end;
                Constant::Integer
            }
            b'\'' => {
                // A prefix (`E'`, `B'`, `X'`, `N'`, `U&'`) changes what the string means.
                if start
                    .checked_sub(1)
                    .is_some_and(|i| continues_a_word(bytes[i]) || bytes[i] == b'&')
                {
                    return None;
                }
                at = quoted_end(bytes, start)?;
                if continues_across_a_newline(&bytes[at..]) {
                    return None;
                }
                Constant::String
            }
            b'"' => {
                at = quoted_end(bytes, start)?;
                continue;
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                // A name or keyword, digits in it included.
                at += bytes[start..]
                    .iter()
                    .take_while(|&&b| continues_a_word(b))
                    .count();
                continue;
            }
            b'-' if bytes.get(at + 1) == Some(&b'-') => return None,
            b'/' if bytes.get(at + 1) == Some(&b'*') => return None,
            b'$' | b'\\' | 0 => return None,
            _ if !byte.is_ascii() => return None,
            _ => {
                at += 1;
                continue;
            }
        };
        text.push_str(&sql[copied..start]);
        constants.push(kind);
        let _ = write!(text, "${}", constants.len());
        copied = at;
    }
    text.push_str(&sql[copied..]);
    Some((text, constants))
}

/// Whether `byte` may continue a name or a number (so a digit or quote after it is not the start
/// of a constant of its own).
fn continues_a_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The end of the string (`'`) or quoted name (`"`) whose opening `quote` is at `start`, past its
/// closing quote (a doubled quote is one inside it); `None` for an unterminated one, a NUL, or a
/// backslash in a string (an escape when `standard_conforming_strings` is off).
fn quoted_end(bytes: &[u8], start: usize) -> Option<usize> {
    let quote = bytes[start];
    let mut at = start + 1;
    loop {
        match *bytes.get(at)? {
            b if b == quote && bytes.get(at + 1) == Some(&quote) => at += 2,
            b if b == quote => return Some(at + 1),
            b'\\' if quote == b'\'' => return None,
            0 => return None,
            _ => at += 1,
        }
    }
}

/// Whether a string continues into the next one: whitespace holding a newline, then a quote.
/// PostgreSQL's whitespace includes the vertical tab, which Rust's ASCII whitespace does not.
fn continues_across_a_newline(rest: &[u8]) -> bool {
    let space = rest
        .iter()
        .take_while(|&&b| b.is_ascii_whitespace() || b == 0x0b)
        .count();
    rest[..space].iter().any(|&b| b == b'\n' || b == b'\r') && rest.get(space) == Some(&b'\'')
}

#[cfg(test)]
mod tests {
    use super::super::Guard;
    use super::*;

    fn text(sql: &str) -> Option<String> {
        sketch(sql).map(|s| s.text)
    }

    #[test]
    fn integers_and_strings_become_numbered_parameters() {
        let point =
            sketch("SELECT id, status FROM orders WHERE id = 4242 AND status = 'it''s';").unwrap();
        assert_eq!(
            point.text,
            "SELECT id, status FROM orders WHERE id = $1 AND status = $2;"
        );
        assert_eq!(point.constants, [Constant::Integer, Constant::String]);
        assert_eq!(
            text(r#"SELECT "a""1'b", t1.c2 FROM t1 WHERE x IN (1,2) AND y<>''"#).unwrap(),
            r#"SELECT "a""1'b", t1.c2 FROM t1 WHERE x IN ($1,$2) AND y<>$3"#,
            "names and quoted names are kept, digits in them too"
        );
        assert_eq!(
            text("SELECT 'é'").unwrap(),
            "SELECT $1",
            "any text in a string"
        );
    }

    #[test]
    fn anything_a_byte_scan_could_misread_has_no_sketch() {
        for sql in [
            "SELECT 1.5",
            "SELECT .5",
            "SELECT 1e3",
            "SELECT 0x1F",
            "SELECT 1_000",
            "SELECT 123abc",
            "SELECT 1234567890",
            "SELECT E'\\n'",
            "SELECT 'a\\'",
            "SELECT B'101'",
            "SELECT X'1F'",
            "SELECT N'x'",
            "SELECT U&'\\0041'",
            "SELECT 'a'\n'b'",
            "SELECT 'a' \r\n 'b'",
            "SELECT 'a'\x0b\n'b'",
            "SELECT $$x$$",
            "SELECT $1",
            "SELECT 1 -- two",
            "SELECT /* 2 */ 1",
            "SELECT 'unterminated",
            "SELECT \"unterminated",
            "SELECT é",
            "SELECT 1\0",
        ] {
            assert_eq!(sketch(sql), None, "{sql:?}");
        }
        assert_eq!(
            text("SELECT 'a' 'b'").unwrap(),
            "SELECT $1 $2",
            "no newline: two tokens"
        );
        assert_eq!(text("SELECT 1-2").unwrap(), "SELECT $1-$2");
    }

    /// The sketch is remembered only when it equals libpg_query's shape; these differ, so their
    /// sketches never stand for a shape.
    #[test]
    fn constants_normalize_keeps_or_writes_otherwise_make_the_sketch_differ() {
        for sql in [
            "SELECT id FROM orders WHERE id = 7 ORDER BY 1",
            "SELECT CAST(x AS varchar(10)) FROM t",
            "SELECT x::float(24) FROM t",
            "SELECT id FROM orders WHERE id = -7",
            "SELECT interval '1' second(3)",
        ] {
            let shape = pg_query::normalize(sql).unwrap();
            assert_ne!(text(sql).unwrap(), shape, "{sql:?}");
        }
        for sql in [
            "SELECT id FROM orders WHERE id = 7 ORDER BY id",
            "SELECT date '2024-01-01', interval '1 day', 'x'::regclass",
            "SELECT a[1:2] FROM t WHERE b IN ('x', 'y') OFFSET 3",
        ] {
            assert_eq!(
                text(sql).unwrap(),
                pg_query::normalize(sql).unwrap(),
                "{sql:?}"
            );
        }
    }

    /// The guard's answer for a statement never depends on what it remembered: after any
    /// statement, one that differs from it only in its constants (of the same kinds or not) gets
    /// the answer of a guard that saw nothing. Statements are built from pieces that put constants
    /// where a byte scan could misread them (type modifiers, `ORDER BY 1`, signs, prefixed and
    /// continued strings, comments, quoted names, dollar quotes).
    #[test]
    fn prop_a_remembered_shape_never_changes_the_guards_answer() {
        use proptest::prelude::*;
        use proptest::test_runner::TestRunner;

        const PREFIXES: &[&str] = &[
            "",
            "WITH w AS (SELECT {C} AS c) ",
            "-- c\n",
            "EXPLAIN ",
            "\n ",
        ];
        const ITEMS: &[&str] = &[
            "id",
            "t1.c2",
            "\"Q\"\"x\"",
            "{C}",
            "{C}::int",
            "CAST({C} AS varchar({I}))",
            "x::float({I})",
            "-{I}",
            "- {I}",
            "{S}::regclass",
            "date {C}",
            "interval {C}",
            "interval {S} second({I})",
            "a[{I}:{I}]",
            "coalesce(x, {C})",
            "{C} || {C}",
            "{S}\n{S}",
            "{S} \r\n {S}",
            "{S} {S}",
            "E{S}",
            "U&{S}",
            "{I}.5",
            "{I}e3",
            "upper({S})",
            "now() - interval {S}",
            "count(*)",
            "lower(\"name\")",
            "$1",
            "$${I}$$",
            "{I}abc",
            "0x{I}",
        ];
        const FROMS: &[&str] = &[
            "",
            " FROM orders",
            " FROM orders t1",
            " FROM (SELECT {C} AS c) s",
        ];
        const WHERES: &[&str] = &[
            "",
            " WHERE id = {C}",
            " WHERE id IN ({C}, {C})",
            " WHERE name LIKE {S}",
            " WHERE x BETWEEN {I} AND {I}",
            " WHERE {C} = {C}",
            " WHERE id = -{I}",
        ];
        const TAILS: &[&str] = &[
            "",
            " ORDER BY {I}",
            " ORDER BY id",
            " GROUP BY {I}",
            " LIMIT {I}",
            " OFFSET {I}",
            " FETCH FIRST {I} ROWS ONLY",
            " -- {S}",
            ";",
            " ;  ",
            "; SELECT {I}",
            " /* {I} */",
        ];

        fn fill(skeleton: &str, values: &[(String, String, String)]) -> String {
            let mut out = String::new();
            let mut rest = skeleton;
            for (integer, string, either) in values {
                let open = rest.find('{').unwrap();
                out.push_str(&rest[..open]);
                out.push_str(match &rest[open..open + 3] {
                    "{I}" => integer,
                    "{S}" => string,
                    _ => either,
                });
                rest = &rest[open + 3..];
            }
            out.push_str(rest);
            out
        }

        // Mostly constants a sketch takes; sometimes ones it must not (too long, a backslash).
        let integer = prop_oneof![
            4 => "[0-9]{1,3}",
            4 => "0[0-9]{1,8}",
            1 => "[1-9][0-9]{8,11}",
        ];
        let piece = prop_oneof![
            Just("a"),
            Just("''"),
            Just("\n"),
            Just("é"),
            Just("7"),
            Just(" "),
            Just("$"),
        ];
        let piece = prop_oneof![12 => piece, 1 => Just("\\")];
        let string = proptest::collection::vec(piece, 0..4)
            .prop_map(|parts| format!("'{}'", parts.concat()));
        let constant = prop_oneof![integer.clone(), string.clone()];
        let pick = |pieces: &'static [&'static str]| proptest::sample::select(pieces);
        // A skeleton's placeholders, filled twice: `{I}` and `{S}` keep their kind, `{C}` may not.
        let pairs = (
            (pick(PREFIXES), proptest::collection::vec(pick(ITEMS), 1..3)),
            (pick(FROMS), pick(WHERES), pick(TAILS)),
        )
            .prop_map(|((prefix, items), (from, filter, tail))| {
                format!("{prefix}SELECT {}{from}{filter}{tail}", items.join(", "))
            })
            .prop_flat_map(move |skeleton| {
                let holes = skeleton.matches('{').count();
                let values = proptest::collection::vec(
                    (integer.clone(), string.clone(), constant.clone()),
                    holes..=holes,
                );
                (Just(skeleton), values.clone(), values)
            })
            .prop_map(|(skeleton, first, then)| (fill(&skeleton, &first), fill(&skeleton, &then)));

        let mut runner = TestRunner::new(switchboard_testkit::fuzz::config(3000));
        runner
            .run(&pairs, |(first, then)| {
                let warm = Guard::default();
                let _ = warm.check(&first);
                prop_assert_eq!(
                    warm.check(&then),
                    Guard::default().check(&then),
                    "after {:?}",
                    first
                );
                Ok(())
            })
            .unwrap();
    }
}
