//! Making error texts safe to show: secrets replaced by `[redacted]`, anything shaped like a
//! JWT too, and every text cut to one line of at most [`MAX_MESSAGE_CHARS`] characters.

use super::{Error, ErrorKind};

/// Longest message text handed to callers, in characters: a server's message, a refresh
/// callback's error. Longer texts are cut (after redaction, so no secret is cut in half).
pub const MAX_MESSAGE_CHARS: usize = 1000;

impl Error {
    /// Replaces every occurrence of `secret` in the texts with `[redacted]`.
    pub fn redact(&mut self, secret: &str) {
        if secret.len() >= 4 {
            self.edit_text(|s| {
                if s.contains(secret) {
                    *s = s.replace(secret, "[redacted]");
                }
            });
        }
    }

    /// Replaces anything shaped like a JWT (`eyJ...`.`...`.`...`) with `[redacted]`: callbacks
    /// and servers can echo tokens this client never held.
    pub fn redact_jwts(&mut self) {
        self.edit_text(|s| {
            if s.contains("eyJ") {
                *s = scrub_jwts(s);
            }
        });
    }

    /// Makes every text one line of at most [`MAX_MESSAGE_CHARS`] characters: a server or a
    /// callback must not be able to forge log lines or flood logs through an error message.
    /// Runs after redaction.
    pub fn tidy(&mut self) {
        self.edit_text(|s| {
            if s.len() > MAX_MESSAGE_CHARS || s.chars().any(is_break) {
                *s = one_line(s, MAX_MESSAGE_CHARS);
            }
        });
        // The message is the text inside its kind's wording ("token refresh failed: ..."):
        // cut the text again by what the wording adds, so the whole message keeps the cap.
        let excess = self.to_string().chars().count().saturating_sub(MAX_MESSAGE_CHARS);
        if excess > 0 {
            self.edit_text(|s| {
                let keep = s.chars().count().saturating_sub(excess + 1);
                *s = one_line(s, keep);
            });
        }
    }

    fn edit_text(&mut self, fix: impl Fn(&mut String)) {
        match &mut self.kind {
            ErrorKind::Api { message, .. } | ErrorKind::Unexpected { message, .. } => fix(message),
            ErrorKind::InvalidArgument(m)
            | ErrorKind::FileNotFound(m)
            | ErrorKind::EmptyFile(m)
            | ErrorKind::InvalidFileType(m)
            | ErrorKind::FileTooLarge(m)
            | ErrorKind::Network(m)
            | ErrorKind::Internal(m) => fix(m),
            ErrorKind::Server { detail, .. } | ErrorKind::RateLimited { detail } => fix(detail),
            ErrorKind::TokenRefreshFailed { cause } => fix(cause),
            ErrorKind::ConsentRequired
            | ErrorKind::Timeout(_)
            | ErrorKind::Aborted
            | ErrorKind::ClientClosed
            | ErrorKind::NoCredentials
            | ErrorKind::ResponseTooLarge { .. } => {}
        }
    }
}

/// Line breaks and other control characters, including Unicode's line and paragraph separators.
fn is_break(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `s` on one line (each run of control characters becomes one space), cut at `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 4));
    let mut chars = 0;
    let mut gap = false;
    for c in s.chars() {
        if is_break(c) {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
            chars += 1;
        }
        gap = false;
        if chars >= max {
            out.push('…');
            break;
        }
        out.push(c);
        chars += 1;
    }
    out.trim_end().to_string()
}

pub(super) fn scrub_jwts(s: &str) -> String {
    let is_tok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("eyJ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let len = tail.find(|c: char| !is_tok(c)).unwrap_or(tail.len());
        let candidate = &tail[..len];
        if candidate.matches('.').count() >= 2 {
            out.push_str("[redacted]");
        } else {
            out.push_str(candidate);
        }
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}
