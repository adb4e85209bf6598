//! The protective marking the server puts on what it lets people print (`serve --marking`,
//! default `OFFICIAL-SENSITIVE`): the map page's briefing image carries it at its top and bottom
//! and in its text chunks, and the page shows it read-only, so a user cannot weaken it.

/// The marking when none is configured.
pub const DEFAULT_MARKING: &str = "OFFICIAL-SENSITIVE";
/// The longest marking accepted, in characters.
pub const MAX_MARKING_CHARS: usize = 64;

/// A validated protective marking: 1 to 64 printable characters (no control characters), no
/// space at either end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marking(String);

impl Marking {
    /// Checks `s` (the `--marking` flag's value); the error says what is wrong.
    pub fn parse(s: &str) -> Result<Marking, String> {
        let n = s.chars().count();
        if s.trim().is_empty() {
            return Err("the protective marking is empty".into());
        }
        if n > MAX_MARKING_CHARS {
            return Err(format!(
                "the protective marking has {n} characters; at most {MAX_MARKING_CHARS}"
            ));
        }
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(format!(
                "the protective marking has a control character (U+{:04X}): printable text only",
                c as u32
            ));
        }
        if s.trim() != s {
            return Err("the protective marking starts or ends with a space".into());
        }
        Ok(Marking(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Marking {
    fn default() -> Marking {
        Marking(DEFAULT_MARKING.into())
    }
}

impl std::fmt::Display for Marking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_printable_markings_are_taken_as_given() {
        for ok in [
            "OFFICIAL-SENSITIVE",
            "OFFICIAL",
            "SECRET – UK EYES ONLY",
            &"X".repeat(64),
        ] {
            assert_eq!(
                Marking::parse(ok).map(|m| m.as_str().to_string()),
                Ok(ok.to_string())
            );
        }
        assert_eq!(Marking::default().as_str(), "OFFICIAL-SENSITIVE");
    }

    #[test]
    fn empty_long_control_and_padded_markings_are_refused_with_the_reason() {
        let err = |s: &str| Marking::parse(s).unwrap_err();
        assert_eq!(err(""), "the protective marking is empty");
        assert_eq!(err("   "), "the protective marking is empty");
        // 65 characters (the limit counts characters, not bytes: 64 'é' are 128 bytes and pass)
        assert_eq!(
            err(&"X".repeat(65)),
            "the protective marking has 65 characters; at most 64"
        );
        assert!(Marking::parse(&"é".repeat(64)).is_ok());
        assert_eq!(
            err("OFFICIAL\nSENSITIVE"),
            "the protective marking has a control character (U+000A): printable text only"
        );
        assert!(err("OFFICIAL\u{1b}[0m").contains("U+001B"));
        assert_eq!(
            err(" OFFICIAL"),
            "the protective marking starts or ends with a space"
        );
    }
}
