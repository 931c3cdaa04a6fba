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
//! alone, each distinct token once; a word of two or more characters is
//! then the AND of its pairs, and a word of one character is a prefix
//! query (every character starts some token). The index keeps no
//! positions (cheaper to write, see `store/db.rs`), so it only narrows the
//! candidates: each is checked with a real substring test ([`matches`]),
//! so the answer is exactly "contains every word, ignoring case".
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

/// The tokens indexed for `text`, separated by spaces, each once: the
/// index keeps no positions (`detail=none`, see `store/db.rs`), so a
/// second copy of a token would only cost a write.
pub fn index_tokens(text: &str) -> String {
    // (first, second) for a pair, (last, None) for a run's last character.
    let mut tokens: Vec<(char, Option<char>)> = Vec::new();
    for run in fold(text).split_whitespace() {
        let chars: Vec<char> = run.chars().collect();
        tokens.extend(chars.windows(2).map(|pair| (pair[0], Some(pair[1]))));
        if let Some(&last) = chars.last() {
            tokens.push((last, None));
        }
    }
    tokens.sort_unstable();
    tokens.dedup();
    let mut out = String::with_capacity(tokens.len() * 13);
    for (first, second) in tokens {
        if !out.is_empty() {
            out.push(' ');
        }
        hex(first, &mut out);
        if let Some(second) = second {
            hex(second, &mut out);
        }
    }
    out
}

/// The FTS5 query for `words` (already [`fold`]ed): every distinct pair of
/// every word, and a prefix query for a word of one character, joined by
/// AND. The index has no positions, so this finds the messages that have
/// all the pairs anywhere; [`matches`] then keeps those with the words
/// themselves. `None` for no words.
pub fn fts_query(words: &[String]) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in words {
        let chars: Vec<char> = word.chars().collect();
        let mut term = String::new();
        match chars.as_slice() {
            [] => continue,
            [only] => {
                term.push('"');
                hex(*only, &mut term);
                term.push_str("\"*");
                terms.push(term);
            }
            _ => {
                for pair in chars.windows(2) {
                    let mut term = String::with_capacity(14);
                    term.push('"');
                    hex(pair[0], &mut term);
                    hex(pair[1], &mut term);
                    term.push('"');
                    if !terms.contains(&term) {
                        terms.push(term);
                    }
                }
            }
        }
    }
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_becomes_its_pairs_and_its_last_character() {
        assert_eq!(index_tokens("Ab c"), "000061000062 000062 000063");
        assert_eq!(index_tokens("과제는"), "00acfc00c81c 00b294 00c81c00b294");
        // Each token once, whatever the repeats.
        assert_eq!(index_tokens("aa aa aaa"), "000061 000061000061");
        assert_eq!(index_tokens("   "), "");
    }

    #[test]
    fn words_are_folded_and_deduplicated() {
        assert_eq!(words(" Hello  hello 과제 "), ["hello", "과제"]);
        assert!(words("   ").is_empty());
    }

    #[test]
    fn a_query_is_the_distinct_pairs_or_a_prefix() {
        assert_eq!(
            fts_query(&words("과제")).as_deref(),
            Some("\"00acfc00c81c\"")
        );
        assert_eq!(
            fts_query(&words("abc 가")).as_deref(),
            Some("\"000061000062\" AND \"000062000063\" AND \"00ac00\"*")
        );
        assert_eq!(
            fts_query(&words("aaa aa")).as_deref(),
            Some("\"000061000061\"")
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
