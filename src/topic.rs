//! Topic rules of the bus: token validation, NATS wildcard matching, and the
//! one shape the registry cares about, `system.<name>.health`.

/// Longest worker name the registry accepts, in bytes. A bus token has no
/// limit of its own; 64 keeps a row's name printable and the allowlist small.
pub const MAX_NAME_BYTES: usize = 64;

/// Why a string cannot be a bus token (and so cannot be a worker name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Empty,
    TooLong,
    /// The token contains `.`, `*`, `>` or whitespace.
    ForbiddenChar(char),
}

impl TokenError {
    /// The rule that failed, phrased for an error message.
    pub fn rule(self) -> &'static str {
        match self {
            TokenError::Empty => "must not be empty",
            TokenError::TooLong => "must be at most 64 bytes",
            TokenError::ForbiddenChar(_) => "must not contain '.', '*', '>' or whitespace",
        }
    }
}

/// Checks one token by the bus's rules: non-empty, and no `.`, `*`, `>` or
/// whitespace (Unicode whitespace too: a no-break space would render like a
/// normal one in the panel). Worker names also obey [`MAX_NAME_BYTES`].
pub fn check_name(name: &str) -> Result<(), TokenError> {
    if name.is_empty() {
        return Err(TokenError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(TokenError::TooLong);
    }
    match name
        .chars()
        .find(|&c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control())
    {
        Some(c) => Err(TokenError::ForbiddenChar(c)),
        None => Ok(()),
    }
}

/// The worker name of a health topic: `Some("api")` for `system.api.health`,
/// `None` for every other shape (two or four tokens, an empty middle token,
/// `System.api.health`). Byte-exact: no case folding, no normalisation.
pub fn health_worker(topic: &[u8]) -> Option<&[u8]> {
    let rest = topic.strip_prefix(b"system.")?;
    let name = rest.strip_suffix(b".health")?;
    if name.is_empty() || name.contains(&b'.') {
        return None;
    }
    Some(name)
}

/// NATS subject matching: `*` matches exactly one non-empty token, `>` (as the
/// last token) one or more trailing tokens. An empty token in the subject
/// never matches.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    let mut pattern_tokens = pattern.split('.').peekable();
    while let Some(p) = pattern_tokens.next() {
        if p == ">" && pattern_tokens.peek().is_none() {
            // At least one more token, and none of them empty.
            let mut any = false;
            for s in subject_tokens.by_ref() {
                if s.is_empty() {
                    return false;
                }
                any = true;
            }
            return any;
        }
        match subject_tokens.next() {
            Some(s) if !s.is_empty() && (p == "*" || p == s) => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_bus_token_rules() {
        assert_eq!(check_name("api"), Ok(()));
        assert_eq!(check_name("worker-7_b"), Ok(()));
        assert_eq!(
            check_name("рrober"),
            Ok(()),
            "non-ASCII is allowed, compared byte for byte"
        );
        assert_eq!(check_name(""), Err(TokenError::Empty));
        assert_eq!(check_name(&"a".repeat(64)), Ok(()));
        assert_eq!(check_name(&"a".repeat(65)), Err(TokenError::TooLong));
        // 33 two-byte characters are 66 bytes: the limit is bytes, not chars.
        assert_eq!(check_name(&"é".repeat(33)), Err(TokenError::TooLong));
        for bad in ["a.b", "a*", ">", "a b", "a\tb", "api\u{a0}", "x\n"] {
            assert!(
                matches!(check_name(bad), Err(TokenError::ForbiddenChar(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn health_topics_have_exactly_three_tokens() {
        assert_eq!(health_worker(b"system.api.health"), Some(&b"api"[..]));
        assert_eq!(health_worker(b"system.bus.health"), Some(&b"bus"[..]));
        for other in [
            &b"system.health"[..],
            b"system.api.health.extra",
            b"system.a.b.health",
            b"system..health",
            b"System.api.health",
            b"system.api.Health",
            b"attacker.observed",
            b"",
            b"system.api.health ",
        ] {
            assert_eq!(
                health_worker(other),
                None,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn wildcards_follow_nats_rules() {
        assert!(matches("system.*.health", "system.api.health"));
        assert!(matches("system.*.health", "system.bus.health"));
        assert!(!matches("system.*.health", "system.a.b.health"));
        assert!(!matches("system.*.health", "system..health"));
        assert!(matches("system.>", "system.api.health"));
        assert!(matches("system.>", "system.a"));
        assert!(!matches("system.>", "system"));
        assert!(!matches("system.>", "system."));
        assert!(matches("system.bus.health", "system.bus.health"));
        assert!(!matches("system.bus.health", "system.bus.health.x"));
        assert!(!matches("system.bus", "system.bus.health"));
        assert!(matches(">", "a.b.c"));
        assert!(matches("*", "a"));
        assert!(!matches("*", "a.b"));
    }
}
