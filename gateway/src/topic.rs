//! Pure topic rules: token validation, subscription patterns with NATS
//! wildcards (`*` one token, `>` one or more trailing tokens), and the
//! `system.<name>.health` shape whose last event the gateway retains.

/// One token of a subscription pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// `*`: exactly one non-empty token.
    One,
    /// `>`: one or more trailing tokens; only ever the last token.
    Rest,
}

/// A validated subscription pattern, kept as tokens so matching a topic
/// never re-parses the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
    /// The pattern as written, for error messages and upstream `SUB`s.
    source: String,
}

impl Pattern {
    /// Parses a pattern, naming the first rule it breaks.
    pub fn parse(pattern: &str) -> Result<Pattern, String> {
        let raw = split_tokens(pattern)?;
        let last = raw.len() - 1;
        let mut tokens = Vec::with_capacity(raw.len());
        for (i, token) in raw.into_iter().enumerate() {
            tokens.push(match token {
                "*" => Token::One,
                ">" if i == last => Token::Rest,
                ">" => return Err("\">\" is only allowed as the last token".into()),
                t if t.contains('*') => {
                    return Err(format!("\"*\" must be a whole token, not part of {t:?}"))
                }
                t if t.contains('>') => {
                    return Err(format!("\">\" must be a whole token, not part of {t:?}"))
                }
                t => Token::Literal(t.to_owned()),
            });
        }
        Ok(Pattern {
            tokens,
            source: pattern.to_owned(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// True if every topic this pattern matches, `other` matches too: the
    /// test behind `--allow-subscribe` and behind sending upstream only the
    /// patterns no other one already covers.
    pub fn is_subset_of(&self, other: &Pattern) -> bool {
        let mut mine = self.tokens.iter();
        for theirs in &other.tokens {
            let Some(token) = mine.next() else {
                return false; // `other` needs more tokens than we give
            };
            match (theirs, token) {
                // `>` takes one or more tokens; we have at least this one.
                (Token::Rest, _) => return true,
                // We may match longer topics than a fixed-length `other`.
                (_, Token::Rest) => return false,
                (Token::One, _) => {}
                (Token::Literal(a), Token::Literal(b)) if a == b => {}
                (Token::Literal(_), _) => return false,
            }
        }
        mine.next().is_none()
    }

    /// True if the topic, already split into tokens, matches this pattern.
    pub fn matches(&self, topic: &[&str]) -> bool {
        let mut i = 0;
        for token in &self.tokens {
            match token {
                // `>` needs at least one token left to swallow.
                Token::Rest => return topic.len() > i,
                Token::One => {
                    if i >= topic.len() {
                        return false;
                    }
                }
                Token::Literal(lit) => {
                    if topic.get(i) != Some(&lit.as_str()) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == topic.len()
    }
}

/// Checks that a topic is concrete (valid tokens, no wildcards) and returns
/// its tokens.
pub fn parse_topic(topic: &str) -> Result<Vec<&str>, String> {
    let tokens = split_tokens(topic)?;
    if let Some(t) = tokens.iter().find(|t| t.contains(['*', '>'])) {
        return Err(format!(
            "a topic cannot contain wildcards (token {t:?}); publish to a concrete topic"
        ));
    }
    Ok(tokens)
}

/// The worker name of a `system.<name>.health` topic, the only shape whose
/// last event is retained.
pub fn health_name(topic: &str) -> Option<&str> {
    let mut parts = topic.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("system"), Some(name), Some("health"), None) if !name.is_empty() => Some(name),
        _ => None,
    }
}

/// Splits on `.` and applies the rules every token shares: non-empty, no
/// whitespace. Wildcard rules differ between topics and patterns.
fn split_tokens(s: &str) -> Result<Vec<&str>, String> {
    if s.is_empty() {
        return Err("empty topic".into());
    }
    let tokens: Vec<&str> = s.split('.').collect();
    if tokens.iter().any(|t| t.is_empty()) {
        return Err(format!(
            "empty token in {s:?} (leading, trailing or double dot)"
        ));
    }
    if s.chars().any(char::is_whitespace) {
        return Err(format!("whitespace is not allowed in {s:?}"));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, topic: &str) -> bool {
        let p = Pattern::parse(pattern).expect("valid pattern");
        let t = parse_topic(topic).expect("valid topic");
        p.matches(&t)
    }

    #[test]
    fn star_matches_exactly_one_token() {
        assert!(m("system.*.health", "system.api.health"));
        assert!(!m("system.*.health", "system.api.x.health"));
        assert!(!m("system.*", "system"));
        assert!(!m("system.*", "system.a.b"));
    }

    #[test]
    fn rest_matches_one_or_more_trailing_tokens() {
        assert!(m("system.>", "system.api.health"));
        assert!(m("system.>", "system.api"));
        assert!(!m("system.>", "system"));
        assert!(m(">", "anything.at.all"));
    }

    #[test]
    fn literals_match_exactly() {
        assert!(m("system.api.health", "system.api.health"));
        assert!(!m("system.api.health", "system.api.healthy"));
        assert!(!m("system.api", "system.api.health"));
    }

    #[test]
    fn bad_patterns_are_named() {
        for bad in [
            "", "a..b", ".a", "a.", "a.b*", "a.>.b", "a b", "a.>x", "a.\t",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Pattern::parse("*.*.>").is_ok());
    }

    #[test]
    fn topics_must_be_concrete() {
        assert!(parse_topic("system.api.health").is_ok());
        for bad in ["system.*.health", "system.>", "a..b", "", "a b"] {
            assert!(parse_topic(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn subsets() {
        let sub = |a: &str, b: &str| {
            Pattern::parse(a)
                .expect("valid")
                .is_subset_of(&Pattern::parse(b).expect("valid"))
        };
        assert!(sub("system.api.health", "system.*.health"));
        assert!(sub("system.*.health", "system.*.health"));
        assert!(sub("system.bus.health", "system.*.health"));
        assert!(sub("system.*.health", "system.>"));
        assert!(sub("system.a.>", "system.>"));
        assert!(sub("system.>", ">"));
        assert!(sub("a.*", "*.*"));
        assert!(!sub("system.>", "system.*.health"));
        assert!(!sub("system.*.health", "system.api.health"));
        assert!(!sub(">", "system.>"));
        assert!(!sub("system", "system.>"), "`>` needs one more token");
        assert!(!sub("system.a.health.x", "system.*.health"));
        assert!(!sub("system.*", "system.*.health"));
        assert!(!sub("attacker.>", "system.*.health"));
        assert!(!sub("*.api.health", "system.*.health"));
        assert!(!sub("system.*.>", "system.*.health"));
    }

    #[test]
    fn health_shape() {
        assert_eq!(health_name("system.api.health"), Some("api"));
        assert_eq!(health_name("system.api.metrics"), None);
        assert_eq!(health_name("system.a.b.health"), None);
        assert_eq!(health_name("system..health"), None);
    }
}
