//! Validated newtypes: a value of one of these types has passed its `parse`, so nothing
//! downstream of the edge ever sees a raw, unchecked string.

use std::fmt;

use icu_properties::CodePointMapData;
use icu_properties::props::GeneralCategory;
use serde::{Deserialize, Serialize};

/// A value that did not pass validation, naming the request field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct ValidationError {
    field: &'static str,
    reason: String,
}

impl ValidationError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }

    /// The request field that was rejected, such as `entity` or `ttl_seconds`.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The same error, attributed to another field that shares the type (for example
    /// `pair_ttl_seconds`, which is a [`crate::Ttl`] too).
    #[must_use]
    pub fn for_field(mut self, field: &'static str) -> Self {
        self.field = field;
        self
    }
}

/// Rejects the characters that are invisible or change the layout of what surrounds them:
/// controls (Unicode category Cc), format characters (Cf: bidi overrides, zero-width
/// joiners, the byte-order mark) and line and paragraph separators (Zl, Zp). They have no
/// place in identifiers or labels: they break logs and terminals, and make one name look
/// like another.
fn check_visible(field: &'static str, value: &str) -> Result<(), ValidationError> {
    let categories = CodePointMapData::<GeneralCategory>::new();
    let kind = |c: char| match categories.get(c) {
        GeneralCategory::Control => Some("control"),
        GeneralCategory::Format => Some("format"),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some("line or paragraph separator")
        }
        _ => None,
    };
    match value.chars().find_map(|c| kind(c).map(|kind| (c, kind))) {
        Some((c, kind)) => Err(ValidationError::new(
            field,
            format!(
                "must not contain control, format or separator characters (found U+{:04X}, a \
                 {kind} character)",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

/// Checks that `value` has between `min` and `max` characters (Unicode scalar values).
fn check_length(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
    let len = value.chars().count();
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!("must be {min} to {max} characters long (got {len})"),
        ))
    }
}

/// Implements the string plumbing shared by the string newtypes: `as_str`, `Display`,
/// `AsRef<str>`, `TryFrom<String>` (through `parse`) and `From<T> for String`, so that
/// serde can go through `try_from`/`into`.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The validated value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = ValidationError;

            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        // Written as the string it holds, without copying it first (as `serde(into)` would).
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

/// The secret that pairs entity B with entity A.
///
/// At most 64 characters from `[A-Za-z0-9_-]`, so it fits in a URL path and in a
/// Telegram deep link (`t.me/<bot>?start=<token>`) unescaped. Tokens the API issues are
/// 44 hexadecimal digits: the creation time (12 digits of Unix milliseconds, so that
/// tokens sort in creation order), then a random UUIDv4 (122 random bits). The 32 digits
/// of earlier tokens, and the seed's hyphenated UUIDs, are valid too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "01a24fd6b23b3f1c9a6b0e2d4b7f9a51c2d8e4f60718"))]
pub struct Token(String);

impl Token {
    /// The longest token accepted.
    pub const MAX_LEN: usize = 64;

    /// Accepts 1 to 64 characters from `[A-Za-z0-9_-]`.
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        // Every allowed character is one byte: a valid token's length in bytes is its length.
        if (1..=Self::MAX_LEN).contains(&value.len()) && value.bytes().all(allowed) {
            return Ok(Self(value));
        }
        check_length("token", &value, 1, Self::MAX_LEN)?;
        if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(ValidationError::new(
                "token",
                format!("may contain only A-Z, a-z, 0-9, '-' and '_' (found {c:?})"),
            ));
        }
        Ok(Self(value))
    }
}

string_newtype!(Token);

/// The identifier of one side of a pairing: a chat id, a user id, a device id…
///
/// 1 to 256 characters (Unicode scalar values), none of them control, format or separator
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "chat:42"))]
pub struct EntityId(String);

impl EntityId {
    /// The longest entity id accepted, in characters.
    pub const MAX_LEN: usize = 256;

    /// Accepts 1 to 256 characters without control, format or separator characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        check_length("entity", &value, 1, Self::MAX_LEN)?;
        check_visible("entity", &value)?;
        Ok(Self(value))
    }
}

string_newtype!(EntityId);

/// A free-text note shown in the dashboard next to a token.
///
/// 1 to 200 characters, none of them control, format or separator characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "living-room TV"))]
pub struct Label(String);

impl Label {
    /// The longest label accepted, in characters.
    pub const MAX_LEN: usize = 200;

    /// Accepts 1 to 200 characters without control, format or separator characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        check_length("label", &value, 1, Self::MAX_LEN)?;
        check_visible("label", &value)?;
        Ok(Self(value))
    }
}

string_newtype!(Label);

/// A short human code for a token, to type where a token is too long (a TV, a phone).
///
/// Eight letters from [`ShortCode::ALPHABET`], which has no vowels (no words) and no
/// look-alikes of digits (no I, O, U, Y): 20⁸ ≈ 2.6 × 10¹⁰ codes. Shown and serialized as
/// `XXXX-XXXX`; parsed case-insensitively, with or without the dash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String, example = "BCDF-GHJK"))]
pub struct ShortCode(String);

impl ShortCode {
    /// The letters a code is made of.
    pub const ALPHABET: &'static [u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
    /// How many letters a code has.
    pub const LEN: usize = 8;

    /// Accepts `XXXX-XXXX` or `XXXXXXXX` in any case.
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let letters: String = match value.split_once('-') {
            Some((head, tail)) if head.len() == 4 => format!("{head}{tail}"),
            _ => value.clone(),
        }
        .to_ascii_uppercase();
        let valid =
            letters.len() == Self::LEN && letters.bytes().all(|b| Self::ALPHABET.contains(&b));
        if valid {
            Ok(Self(letters))
        } else {
            Err(ValidationError::new(
                "code",
                format!(
                    "must be 8 letters from {} as XXXX-XXXX (got {value:?})",
                    std::str::from_utf8(Self::ALPHABET).unwrap_or_default()
                ),
            ))
        }
    }

    /// The code's eight letters without the dash, as stored.
    pub fn letters(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShortCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", &self.0[..4], &self.0[4..])
    }
}

impl TryFrom<String> for ShortCode {
    type Error = ValidationError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<ShortCode> for String {
    fn from(code: ShortCode) -> String {
        code.to_string()
    }
}

/// The value of an `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to 255 visible ASCII characters (`!` to `~`).
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        header_value("Idempotency-Key", value.into()).map(Self)
    }
}

/// `value`, if it is 1 to 255 visible ASCII characters (`!` to `~`), as the `header`'s
/// value may be.
fn header_value(header: &'static str, value: String) -> Result<String, ValidationError> {
    let valid = (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(value)
    } else {
        Err(ValidationError::new(
            header,
            "must be 1 to 255 visible ASCII characters",
        ))
    }
}

string_newtype!(IdempotencyKey);

/// Who, among a tenant's own users, is acting: the value of the `Tandem-End-User` header
/// ([`END_USER_HEADER`]), 1 to 255 visible ASCII characters.
///
/// Applications that serve many users through one API key name the user that typed a
/// short code, so that the API limits failed guesses per user instead of per address
/// (which would put every user of the application behind the application server's one
/// address). Any stable id will do: `telegram:4242`, a user id, a session id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct EndUser(String);

/// The request header that names the [`EndUser`].
pub const END_USER_HEADER: &str = "Tandem-End-User";

impl EndUser {
    /// Accepts 1 to 255 visible ASCII characters (`!` to `~`).
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        header_value(END_USER_HEADER, value.into()).map(Self)
    }
}

string_newtype!(EndUser);

/// Where the next page of a listing starts: the `next_cursor` of the page before.
///
/// Opaque to clients: only the API that issued it can read it. It is URL-safe, 1 to 256
/// characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = String))]
pub struct PageCursor(String);

impl PageCursor {
    /// Accepts 1 to 256 characters from `[A-Za-z0-9_-]`.
    pub fn parse(value: impl Into<String>) -> Result<Self, ValidationError> {
        let value = value.into();
        let valid = (1..=256).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(value))
        } else {
            Err(ValidationError::new(
                "cursor",
                "is not one this API issued: pass a page's next_cursor as it is",
            ))
        }
    }
}

string_newtype!(PageCursor);

#[cfg(test)]
mod tests;
