//! The word filter: masks configured words in relayed text.

/// Masks whole words, case-insensitively, with asterisks of the same length.
#[derive(Debug, Clone, Default)]
pub struct WordFilter {
    words: Vec<String>,
}

impl WordFilter {
    /// A filter of `words` (blank entries are ignored).
    pub fn new(words: &[String]) -> Self {
        let words = words
            .iter()
            .map(|w| w.trim().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        Self { words }
    }

    /// `text` with every filtered word masked; `None` when nothing was masked.
    pub fn mask(&self, text: &str) -> Option<String> {
        if self.words.is_empty() {
            return None;
        }
        let mut masked = String::with_capacity(text.len());
        let mut changed = false;
        let mut word = String::new();
        let flush = |word: &mut String, masked: &mut String, changed: &mut bool| {
            if !word.is_empty() {
                if self.words.contains(&word.to_lowercase()) {
                    masked.extend(std::iter::repeat_n('*', word.chars().count()));
                    *changed = true;
                } else {
                    masked.push_str(word);
                }
                word.clear();
            }
        };
        for c in text.chars() {
            if c.is_alphanumeric() || c == '\'' {
                word.push(c);
            } else {
                flush(&mut word, &mut masked, &mut changed);
                masked.push(c);
            }
        }
        flush(&mut word, &mut masked, &mut changed);
        changed.then_some(masked)
    }
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
}
