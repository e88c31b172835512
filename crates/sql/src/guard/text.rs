//! Positions in the SQL text: the one statement's own text (without the surrounding whitespace,
//! comments and semicolons), and the character position of a syntax error.
//!
//! pg_query's Rust binding reports a parse error's message but not libpg_query's cursor position,
//! so the position is recovered with PostgreSQL's own scanner and parser: the error sits at the
//! first token whose prefix of the statement already fails with the same message.

use std::ops::Range;

use pg_query::protobuf::Token;

/// The byte range of the statement between `location` and `location + len` (`len == 0`: to the
/// end), as PostgreSQL's `RawStmt` gives them (byte offsets), from its first to its last token:
/// leading and trailing whitespace, comments and the terminating `;` are left out, comments inside
/// are kept.
pub(super) fn statement_range(sql: &str, location: i32, len: i32) -> Range<usize> {
    let start = usize::try_from(location).unwrap_or(0).min(sql.len());
    let end = match usize::try_from(len) {
        Ok(len) if len > 0 => start.saturating_add(len).min(sql.len()),
        _ => sql.len(),
    };
    let tokens = code_tokens(sql).unwrap_or_default();
    let mut inside = tokens
        .iter()
        .filter(|(from, to)| *from >= start && *to <= end);
    if let Some(first) = inside.next() {
        let last = inside.next_back().unwrap_or(first);
        if sql.get(first.0..last.1).is_some() {
            return first.0..last.1;
        }
    }
    // Unreachable for text the parser accepted (it always has tokens); keep a sensible answer.
    let Some(within) = sql.get(start..end) else {
        return 0..sql.len();
    };
    let trimmed = within.trim().trim_end_matches(';').trim_end();
    let from = start + (within.len() - within.trim_start().len());
    from..from + trimmed.len()
}

/// The 1-based character position of the token where parsing failed with `message`, as
/// PostgreSQL reports a syntax error's position; `None` when it cannot be determined.
pub(super) fn error_position(sql: &str, message: &str) -> Option<usize> {
    if message.ends_with("at end of input") {
        return Some(char_position(sql, sql.len()));
    }
    match code_tokens(sql) {
        Some(tokens) => first_failing_token(sql, message, &tokens),
        None => lexer_error_position(sql, message),
    }
}

/// Finds, by bisection, the first token such that the text up to and including it already fails
/// with `message`: shorter prefixes fail only "at end of input" (they are valid beginnings), so
/// the predicate is monotonic.
fn first_failing_token(sql: &str, message: &str, tokens: &[(usize, usize)]) -> Option<usize> {
    let fails_here = |index: usize| -> bool {
        let Some(prefix) = sql.get(..tokens[index].1) else {
            return false;
        };
        matches!(pg_query::parse(prefix, 0), Err(pg_query::Error::Parse(m)) if m == message)
    };
    let (mut low, mut high) = (0, tokens.len());
    while low < high {
        let middle = low + (high - low) / 2;
        if fails_here(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    (low < tokens.len() && fails_here(low)).then(|| char_position(sql, tokens[low].0))
}

/// For errors the scanner itself raises (an unterminated string, comment or quoted identifier),
/// PostgreSQL's message quotes the offending text `at or near "…"`, which runs to the end of the
/// input; find where it starts.
fn lexer_error_position(sql: &str, message: &str) -> Option<usize> {
    let (_, near) = message.split_once(" at or near \"")?;
    let near = near.strip_suffix('"')?;
    if near.is_empty() {
        return None;
    }
    let trimmed = sql.trim_end();
    if let Some(before) = trimmed.strip_suffix(near) {
        return Some(char_position(sql, before.len()));
    }
    let mut found = sql.match_indices(near);
    match (found.next(), found.next()) {
        (Some((at, _)), None) => Some(char_position(sql, at)),
        _ => None,
    }
}

/// The byte ranges of every token except comments, as PostgreSQL's scanner produces them; `None`
/// when the scanner rejects the text.
fn code_tokens(sql: &str) -> Option<Vec<(usize, usize)>> {
    let scanned = pg_query::scan(sql).ok()?;
    let comments = [Token::SqlComment as i32, Token::CComment as i32];
    Some(
        scanned
            .tokens
            .iter()
            .filter(|token| !comments.contains(&token.token))
            .filter_map(|token| {
                Some((
                    usize::try_from(token.start).ok()?,
                    usize::try_from(token.end).ok()?,
                ))
            })
            .collect(),
    )
}

/// The 1-based character position of byte offset `byte` (PostgreSQL counts characters).
pub(super) fn char_position(sql: &str, byte: usize) -> usize {
    sql.get(..byte)
        .map_or_else(|| sql.chars().count(), |before| before.chars().count())
        + 1
}

#[cfg(test)]
mod tests {
    use super::{char_position, error_position, statement_range};

    fn text_of(sql: &str) -> &str {
        let parsed = pg_query::parse(sql, 0).expect("parses");
        let raw = &parsed.protobuf.stmts[0];
        &sql[statement_range(sql, raw.stmt_location, raw.stmt_len)]
    }

    #[test]
    fn statement_text_drops_surrounding_comments_whitespace_and_semicolons() {
        assert_eq!(text_of("SELECT 1"), "SELECT 1");
        assert_eq!(text_of("  SELECT 1 ;  "), "SELECT 1");
        assert_eq!(text_of("SELECT 1;;"), "SELECT 1");
        assert_eq!(text_of("-- lead\nSELECT 1 -- trail"), "SELECT 1");
        assert_eq!(
            text_of("/* a */ SELECT /* inside */ 1 /* b */ ; -- c"),
            "SELECT /* inside */ 1"
        );
        assert_eq!(text_of("SELECT 'a;b', $$x;y$$"), "SELECT 'a;b', $$x;y$$");
        assert_eq!(text_of("SELECT 'é' -- ü\n;"), "SELECT 'é'");
    }

    fn position(sql: &str) -> Option<usize> {
        let Err(pg_query::Error::Parse(message)) = pg_query::parse(sql, 0) else {
            panic!("{sql} must fail to parse");
        };
        error_position(sql, &message)
    }

    #[test]
    fn syntax_error_positions_match_postgresql() {
        // Positions as psql reports them (1-based characters).
        assert_eq!(position("SELECT FROM WHERE"), Some(13));
        assert_eq!(position("SELEC 1"), Some(1));
        assert_eq!(position("SELECT (1"), Some(10));
        assert_eq!(position("SELECT 'é', FROM t WHERE"), Some(13));
        assert_eq!(position("SELECT (   "), Some(12));
        assert_eq!(position("SELECT \"abc"), Some(8));
        // Errors raised by a grammar action are placed at the token where they were detected.
        assert!(position("SELECT 1 LIMIT 1,2").is_some());
        assert_eq!(position("SELECT 1 FROM t t2 t3"), Some(20));
        assert_eq!(position("SELECT 1, 'abc"), Some(11));
        assert_eq!(position("SELECT 1 /* open"), Some(10));
    }

    #[test]
    fn char_positions_count_characters_not_bytes() {
        assert_eq!(char_position("ééx", 4), 3);
        assert_eq!(char_position("abc", 0), 1);
    }
}
