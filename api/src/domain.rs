//! What handlers, the pairing rules and the stores share: whose records (the tenant) and
//! where a listing stands (a cursor into it, a page of it).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sdk::{EndUser, EntityId, PageCursor, Token, TokenRecord};

/// The tenant that owns a record; a tenant never sees another tenant's records.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    /// The tenant of every request when the API runs without API keys.
    pub fn local() -> Self {
        Self("local".to_owned())
    }

    /// Accepts 1 to 64 characters from `[A-Za-z0-9_-]`.
    pub fn parse(name: &str) -> Result<Self, String> {
        let valid = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!(
                "tenant names are 1 to 64 of A-Z a-z 0-9 - _ (got {name:?})"
            ))
        }
    }

    /// The tenant's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who tries a short code, for the limits on failed guesses: the tenant's end user when the
/// caller names one (`Tandem-End-User`), else the client's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guesser {
    /// The user the application says is acting.
    EndUser(EndUser),
    /// The client's address; an IPv6 address counts by its /64, which one subscriber
    /// usually holds whole.
    Address(IpAddr),
    /// Neither is known.
    Unknown,
}

impl Guesser {
    /// The guesser named by the request: its end user if any, else its address.
    pub fn of(end_user: Option<EndUser>, address: Option<IpAddr>) -> Self {
        match (end_user, address) {
            (Some(user), _) => Self::EndUser(user),
            (None, Some(address)) => Self::Address(address),
            (None, None) => Self::Unknown,
        }
    }

    /// The key a store counts this guesser's failures under: `user:…`, `ip:…` (an IPv6
    /// address as its /64), or `unknown`. Never [`crate::store::WHOLE_TENANT`].
    pub fn key(&self) -> String {
        match self {
            Self::EndUser(user) => format!("user:{user}"),
            Self::Address(IpAddr::V4(v4)) => format!("ip:{v4}"),
            Self::Address(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => format!("ip:{v4}"),
                None => {
                    let prefix = u128::from(*v6) & (u128::MAX << 64);
                    format!("ip:{}/64", Ipv6Addr::from(prefix))
                }
            },
            Self::Unknown => "unknown".to_owned(),
        }
    }
}

/// When `entity` joined `record`, which orders an entity's listing (newest first): when
/// it created the token, as entity A, or when it paired with it, as entity B.
pub fn joined_at(record: &TokenRecord, entity: &EntityId) -> DateTime<Utc> {
    match record.paired_at {
        Some(paired_at) if &record.entity_a != entity => paired_at,
        _ => record.created_at,
    }
}

/// A position in a newest-first listing: the last record of the previous page.
///
/// Clients see it as an opaque [`PageCursor`]: it is encoded and decoded here only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// When the listing's entity joined the last record returned (see [`joined_at`]).
    pub at: DateTime<Utc>,
    /// `token` of the last record returned (orders records of the same millisecond).
    pub token: Token,
}

impl Cursor {
    /// The cursor that continues after `record` in `entity`'s listing.
    pub fn after(record: &TokenRecord, entity: &EntityId) -> Self {
        Self {
            at: joined_at(record, entity),
            token: record.token.clone(),
        }
    }
}

impl From<&Cursor> for PageCursor {
    fn from(cursor: &Cursor) -> Self {
        let plain = format!("{}.{}", cursor.at.timestamp_millis(), cursor.token);
        PageCursor::parse(URL_SAFE_NO_PAD.encode(plain))
            .expect("unpadded URL-safe base64 of a short text is a valid cursor")
    }
}

/// The cursor is not one this API issued.
#[derive(Debug, thiserror::Error)]
#[error("cursor is not one this API issued: pass a page's next_cursor as it is")]
pub struct BadCursor;

impl TryFrom<&PageCursor> for Cursor {
    type Error = BadCursor;

    fn try_from(cursor: &PageCursor) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.as_str())
            .map_err(|_| BadCursor)?;
        let plain = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let (millis, token) = plain.split_once('.').ok_or(BadCursor)?;
        let millis: i64 = millis.parse().map_err(|_| BadCursor)?;
        Ok(Self {
            at: DateTime::from_timestamp_millis(millis).ok_or(BadCursor)?,
            token: Token::parse(token).map_err(|_| BadCursor)?,
        })
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Records, newest first.
    pub items: Vec<TokenRecord>,
    /// Where the next page starts, if there may be one.
    pub next: Option<Cursor>,
}

impl Page {
    /// The page of `limit` records of `entity`'s listing from `items`, newest first,
    /// fetched with one extra so that a further page shows itself: if the extra is there, it
    /// is dropped and the page continues after its last record.
    pub fn from_overfetched(mut items: Vec<TokenRecord>, limit: usize, entity: &EntityId) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| Cursor::after(last, entity))
        } else {
            None
        };
        Self { items, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_millis(1_764_000_000_123).unwrap(),
            token: Token::parse("abc_DEF-123").unwrap(),
        };
        let issued = PageCursor::from(&cursor);
        assert_eq!(Cursor::try_from(&issued).unwrap(), cursor);
        for bad in ["bm9wZQ", "MTIzLg", "AAAA"] {
            let bad = PageCursor::parse(bad).unwrap();
            assert!(Cursor::try_from(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn guessers_are_keyed_by_end_user_else_by_address_with_ipv6_by_its_64() {
        let ip = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        let user = EndUser::parse("telegram:42").unwrap();
        assert_eq!(
            Guesser::of(Some(user), ip("10.0.0.1")).key(),
            "user:telegram:42"
        );
        assert_eq!(Guesser::of(None, ip("10.0.0.1")).key(), "ip:10.0.0.1");
        let a = Guesser::of(None, ip("2001:db8:1:2:aaaa::1")).key();
        let b = Guesser::of(None, ip("2001:db8:1:2:ffff:1:2:3")).key();
        let other = Guesser::of(None, ip("2001:db8:1:3::1")).key();
        assert_eq!(a, "ip:2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, other);
        assert_eq!(
            Guesser::of(None, ip("::ffff:10.0.0.1")).key(),
            "ip:10.0.0.1"
        );
        assert_eq!(Guesser::of(None, None).key(), "unknown");
        assert_ne!(Guesser::Unknown.key(), crate::store::WHOLE_TENANT);
    }
}
