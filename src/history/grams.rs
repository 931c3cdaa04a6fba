//! How `/find` looks for words: character bigrams, so that a word matches
//! inside a longer one.
//!
//! # Why bigrams
//!
//! Hangul words are often two syllables and particles attach to them:
//! `과제` must find `과제는 내일까지`. FTS5's `unicode61` keeps `과제는` as
//! one token (a prefix query would find `과제는` but not `숙과제`), and
//! `trigram` cannot look up a word shorter than three characters. So each
//! whitespace-separated run of the lowercased text is indexed as its
//! overlapping pairs of characters (`과제`, `제는`) plus its last character
//! alone; a word of two or more characters is then the phrase of its own
//! pairs (consecutive pairs, so an exact substring), and a word of one
//! character is a prefix query (every character starts some token). The
//! index only narrows the candidates: each is checked with a real
//! substring test ([`matches`]), so the answer is exactly "contains every
//! word, ignoring case".
//!
//! Tokens are written as hexadecimal code points and indexed with FTS5's
//! `ascii` tokenizer, which leaves `[0-9a-f]` runs alone: no tokenizer rule
//! (what counts as a letter, folding, diacritics) can split or change a
//! pair, so what is written and what is asked are always the same tokens.

use std::fmt::Write as _;

/// Text folded for comparison: lowercase, character by character.
pub fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// The words of a `/find`, folded, without duplicates.
pub fn words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in query.split_whitespace() {
        let word = fold(word);
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// Whether `text` contains every one of `words` (already [`fold`]ed).
pub fn matches(text: &str, words: &[String]) -> bool {
    let text = fold(text);
    words.iter().all(|w| text.contains(w.as_str()))
}

fn hex(c: char, out: &mut String) {
    let _ = write!(out, "{:06x}", u32::from(c));
}

/// The tokens indexed for `text`, separated by spaces.
pub fn index_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 8);
    for run in fold(text).split_whitespace() {
        let chars: Vec<char> = run.chars().collect();
        for pair in chars.windows(2) {
            if !out.is_empty() {
                out.push(' ');
            }
            hex(pair[0], &mut out);
            hex(pair[1], &mut out);
        }
        if let Some(&last) = chars.last() {
            if !out.is_empty() {
                out.push(' ');
            }
            hex(last, &mut out);
        }
    }
    out
}

/// The FTS5 query for `words` (already [`fold`]ed): every word's phrase,
/// joined by AND. `None` for no words.
pub fn fts_query(words: &[String]) -> Option<String> {
    let mut query = String::new();
    for word in words {
        let chars: Vec<char> = word.chars().collect();
        if chars.is_empty() {
            continue;
        }
        if !query.is_empty() {
            query.push_str(" AND ");
        }
        query.push('"');
        if let [only] = chars.as_slice() {
            hex(*only, &mut query);
            query.push_str("\"*");
            continue;
        }
        for (i, pair) in chars.windows(2).enumerate() {
            if i > 0 {
                query.push(' ');
            }
            hex(pair[0], &mut query);
            hex(pair[1], &mut query);
        }
        query.push('"');
    }
    (!query.is_empty()).then_some(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_becomes_its_pairs_and_its_last_character() {
        assert_eq!(index_tokens("Ab c"), "000061000062 000062 000063");
        assert_eq!(index_tokens("과제는"), "00acfc00c81c 00c81c00b294 00b294");
        assert_eq!(index_tokens("   "), "");
    }

    #[test]
    fn words_are_folded_and_deduplicated() {
        assert_eq!(words(" Hello  hello 과제 "), ["hello", "과제"]);
        assert!(words("   ").is_empty());
    }

    #[test]
    fn a_query_is_a_phrase_of_pairs_or_a_prefix() {
        assert_eq!(
            fts_query(&words("과제")).as_deref(),
            Some("\"00acfc00c81c\"")
        );
        assert_eq!(
            fts_query(&words("abc 가")).as_deref(),
            Some("\"000061000062 000062000063\" AND \"00ac00\"*")
        );
        assert_eq!(fts_query(&[]), None);
    }

    #[test]
    fn matching_is_substring_and_ignores_case() {
        let w = words("과제");
        assert!(matches("Alice >> 과제는 내일까지", &w));
        assert!(!matches("Alice >> 과자는 내일까지", &w));
        assert!(matches(
            "Bob >> The HOMEWORK is due",
            &words("homework due")
        ));
        assert!(matches("Bob >> notebooks", &words("book")));
        assert!(!matches("Bob >> notebooks", &words("book pen")));
        assert!(matches("Bob >> 내일 Zoom 링크", &words("zoom 링")));
    }
}
