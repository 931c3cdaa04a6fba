//! `/find`'s bigram index never misses: for any text and any query cut
//! from it, the query matches the text, and every term the FTS5 query asks
//! for is one of the tokens written for the text (or, for a one-character
//! word, the start of one). A miss here would be a message `/find` cannot
//! find once it is on disk.
#![no_main]

use suda::history::grams::{fts_query, index_tokens, matches, words};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (cut, text) = data.split_at(2);
    let text = String::from_utf8_lossy(text);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    if chars.is_empty() {
        return;
    }
    let start = usize::from(cut[0]) % chars.len();
    let len = usize::from(cut[1]) % (chars.len() - start) + 1;
    let from = chars[start].0;
    let to = chars.get(start + len).map_or(text.len(), |c| c.0);
    let query = &text[from..to];

    let asked = words(query);
    assert!(matches(&text, &asked), "{query:?} not in {text:?}");
    let tokens = index_tokens(&text);
    let tokens: Vec<&str> = tokens.split(' ').filter(|t| !t.is_empty()).collect();
    let Some(fts) = fts_query(&asked) else {
        assert!(asked.is_empty(), "{asked:?} made no query");
        return;
    };
    for term in fts.split(" AND ") {
        let bare = term.trim_start_matches('"');
        if let Some(prefix) = bare.strip_suffix("\"*") {
            assert!(
                tokens.iter().any(|t| t.starts_with(prefix)),
                "{prefix}* in none of {tokens:?}"
            );
        } else {
            let whole = bare.strip_suffix('"').expect("quoted term");
            assert!(tokens.contains(&whole), "{whole} not in {tokens:?}");
        }
    }
});
