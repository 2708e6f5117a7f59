//! Numbers with bounds: how long a record lives ([`Ttl`]), how large a page of a listing
//! is ([`PageLimit`]), how long a long-poll waits ([`WaitSeconds`]).

use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// The conversions serde uses: from the raw number through `parse`, and back.
macro_rules! number_newtype {
    ($name:ident, $raw:ty) => {
        impl TryFrom<$raw> for $name {
            type Error = ValidationError;

            fn try_from(value: $raw) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for $raw {
            fn from(value: $name) -> $raw {
                value.0
            }
        }
    };
}

/// How many records one page of a listing holds: 1 to 100, 20 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = u32, example = 20))]
pub struct PageLimit(u32);

impl PageLimit {
    /// The largest page.
    pub const MAX: PageLimit = PageLimit(100);
    /// The page size when the request names none.
    pub const DEFAULT: PageLimit = PageLimit(20);

    /// Accepts 1 ..= 100.
    pub fn parse(limit: u32) -> Result<Self, ValidationError> {
        if (1..=Self::MAX.0).contains(&limit) {
            Ok(Self(limit))
        } else {
            Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {} (got {limit})", Self::MAX.0),
            ))
        }
    }

    /// The number of records.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

number_newtype!(PageLimit, u32);

/// How long a long-poll waits for a change, in whole seconds: 0 to 25.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = u64, example = 25))]
pub struct WaitSeconds(u64);

impl WaitSeconds {
    /// The longest wait.
    pub const MAX: WaitSeconds = WaitSeconds(25);
    /// No wait: answer at once.
    pub const NONE: WaitSeconds = WaitSeconds(0);

    /// Accepts 0 ..= 25.
    pub fn parse(seconds: u64) -> Result<Self, ValidationError> {
        if seconds <= Self::MAX.0 {
            Ok(Self(seconds))
        } else {
            Err(ValidationError::new(
                "wait",
                format!("must be at most {} seconds (got {seconds})", Self::MAX.0),
            ))
        }
    }

    /// The wait.
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }

    /// The wait in seconds.
    pub fn seconds(self) -> u64 {
        self.0
    }
}

number_newtype!(WaitSeconds, u64);

/// How long something lives, in whole seconds: from 60 seconds to 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(value_type = u64, example = 86400))]
pub struct Ttl(u64);

impl Ttl {
    /// The shortest lifetime: one minute.
    pub const MIN: Ttl = Ttl(60);
    /// The longest lifetime: thirty days.
    pub const MAX: Ttl = Ttl(30 * 24 * 60 * 60);
    /// The lifetime of a pending token when the request names none: one day.
    pub const DEFAULT: Ttl = Ttl(24 * 60 * 60);
    /// How long a short code can be used when the request names no lifetime: fifteen
    /// minutes (or the token's lifetime, when that is shorter).
    pub const CODE_DEFAULT: Ttl = Ttl(15 * 60);

    /// Accepts 60 ..= 2 592 000 seconds.
    pub fn parse(seconds: u64) -> Result<Self, ValidationError> {
        if (Self::MIN.0..=Self::MAX.0).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(ValidationError::new(
                "ttl_seconds",
                format!(
                    "must be between {} and {} seconds (got {seconds})",
                    Self::MIN.0,
                    Self::MAX.0
                ),
            ))
        }
    }

    /// The lifetime in seconds.
    pub fn seconds(self) -> u64 {
        self.0
    }

    /// The lifetime as a [`chrono::Duration`].
    pub fn duration(self) -> chrono::Duration {
        // At most 30 days: always fits.
        chrono::Duration::seconds(self.0 as i64)
    }
}

number_newtype!(Ttl, u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limits_and_waits_keep_their_bounds() {
        assert_eq!(PageLimit::parse(100).unwrap().get(), 100);
        assert_eq!(PageLimit::parse(0).unwrap_err().field(), "limit");
        assert!(PageLimit::parse(101).is_err());
        assert_eq!(WaitSeconds::parse(25).unwrap().seconds(), 25);
        assert_eq!(WaitSeconds::parse(26).unwrap_err().field(), "wait");
    }

    #[test]
    fn ttl_error_can_name_another_field() {
        let err = Ttl::parse(1).unwrap_err().for_field("pair_ttl_seconds");
        assert_eq!(err.field(), "pair_ttl_seconds");
        assert!(err.to_string().starts_with("pair_ttl_seconds must be"));
    }
    #[test]
    fn ttl_bounds_are_inclusive() {
        assert!(Ttl::parse(59).is_err());
        assert_eq!(Ttl::parse(60).unwrap(), Ttl::MIN);
        assert_eq!(Ttl::parse(2_592_000).unwrap(), Ttl::MAX);
        assert!(Ttl::parse(2_592_001).is_err());
        assert!(Ttl::parse(0).is_err());
        assert!(Ttl::parse(u64::MAX).is_err());
    }

    #[test]
    fn bounded_numbers_deserialize_only_valid_values() {
        assert!(serde_json::from_str::<Ttl>("59").is_err());
        assert_eq!(serde_json::to_string(&Ttl::DEFAULT).unwrap(), "86400");
        assert!(serde_json::from_str::<PageLimit>("101").is_err());
        assert!(serde_json::from_str::<WaitSeconds>("26").is_err());
    }
}
