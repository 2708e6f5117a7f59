//! The word filter: masks configured words in relayed text and captions.
//!
//! Words are compared in a normal form, so that look-alike spellings are caught: NFKC
//! (compatibility forms such as fullwidth `ｄａｒｎ` or the ligature `ﬁ` become plain
//! letters), with format characters (zero-width joiners, bidi controls: Unicode's `Cf`)
//! dropped, in lower case. The message keeps its own spelling, except for masked words.

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::CodePointMapData;
use icu_properties::props::GeneralCategory;

/// Masks whole words, in any case and spelling that normalizes alike, with asterisks.
#[derive(Debug, Clone, Default)]
pub struct WordFilter {
    /// The filtered words, in the normal form.
    words: Vec<String>,
}

impl WordFilter {
    /// A filter of `words` (blank entries are ignored).
    pub fn new(words: &[String]) -> Self {
        let words = words
            .iter()
            .map(|w| normal_form(w.trim()))
            .filter(|w| !w.is_empty())
            .collect();
        Self { words }
    }

    /// `text` with every filtered word masked, one asterisk per visible character;
    /// `None` when nothing was masked.
    pub fn mask(&self, text: &str) -> Option<String> {
        if self.words.is_empty() {
            return None;
        }
        let mut masked = String::with_capacity(text.len());
        let mut changed = false;
        let mut word = String::new();
        let mut flush = |word: &mut String, masked: &mut String| {
            if word.is_empty() {
                return;
            }
            if self.words.contains(&normal_form(word)) {
                let visible = word.chars().filter(|&c| !is_format(c)).count();
                masked.extend(std::iter::repeat_n('*', visible));
                changed = true;
            } else {
                masked.push_str(word);
            }
            word.clear();
        };
        for c in text.chars() {
            // A format character inside a word stays part of it, so it cannot split a
            // word into pieces that each pass.
            if c.is_alphanumeric() || c == '\'' || (is_format(c) && !word.is_empty()) {
                word.push(c);
            } else {
                flush(&mut word, &mut masked);
                masked.push(c);
            }
        }
        flush(&mut word, &mut masked);
        changed.then_some(masked)
    }
}

/// Whether `c` is a Unicode format character (`Cf`).
fn is_format(c: char) -> bool {
    CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
}

/// `word` as the filter compares it: NFKC, without format characters, in lower case.
fn normal_form(word: &str) -> String {
    let visible: String = word.chars().filter(|&c| !is_format(c)).collect();
    ComposingNormalizerBorrowed::new_nfkc()
        .normalize(&visible)
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_whole_words_in_any_case_and_keeps_the_rest() {
        let filter = WordFilter::new(&["darn".into(), " heck ".into(), "".into()]);
        assert_eq!(
            filter
                .mask("Darn it, what the HECK! darned heckle")
                .as_deref(),
            Some("**** it, what the ****! darned heckle")
        );
        assert_eq!(filter.mask("all fine"), None);
        assert_eq!(WordFilter::new(&[]).mask("darn"), None);
        assert_eq!(filter.mask("¡darn!").as_deref(), Some("¡****!"));
    }

    #[test]
    fn look_alike_spellings_are_masked_too() {
        let filter = WordFilter::new(&["darn".into(), "ﬁne".into()]);
        // Fullwidth letters, and a zero-width joiner or a bidi override inside the word.
        assert_eq!(filter.mask("ｄａｒｎ!").as_deref(), Some("****!"));
        assert_eq!(filter.mask("da\u{200d}rn it").as_deref(), Some("**** it"));
        assert_eq!(filter.mask("d\u{202e}arn").as_deref(), Some("****"));
        // The configured word is normalized as well: the ligature matches plain letters.
        assert_eq!(filter.mask("fine").as_deref(), Some("****"));
        assert_eq!(filter.mask("darning"), None);
    }
}
