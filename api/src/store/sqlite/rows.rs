//! Rows to records: every column the store reads goes through the `sdk` newtypes, so a
//! damaged row is an error, never a record that breaks the rules.

use chrono::{DateTime, Utc};
use rusqlite::Row;
use rusqlite::types::Type;
use sdk::{EntityId, Label, ShortCode, Token, TokenRecord, ValidationError};

/// The columns [`record_from_row`] reads, in order, as SQL.
macro_rules! columns {
    () => {
        "token, entity_a, entity_b, label, created_at, paired_at, expires_at, code"
    };
}
pub(super) use columns;

/// Unix milliseconds, as the schema keeps times.
pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Reads column `idx` as text and validates it with `parse`.
pub(super) fn parsed<T>(
    row: &Row<'_>,
    idx: usize,
    parse: fn(String) -> Result<T, ValidationError>,
) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
}

fn optional_parsed<T>(
    row: &Row<'_>,
    idx: usize,
    parse: fn(String) -> Result<T, ValidationError>,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| {
        parse(t).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
    })
    .transpose()
}

pub(super) fn time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let value: Option<i64> = row.get(idx)?;
    value
        .map(|ms| {
            DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(idx, ms))
        })
        .transpose()
}

/// Maps a row of [`columns!`] to a record.
pub(super) fn record_from_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    let entity_b = optional_parsed(row, 2, EntityId::parse)?;
    Ok(TokenRecord {
        token: parsed(row, 0, Token::parse)?,
        entity_a: parsed(row, 1, EntityId::parse)?,
        entity_b,
        label: optional_parsed(row, 3, Label::parse)?,
        created_at: time(row, 4)?.ok_or(rusqlite::Error::InvalidColumnType(
            4,
            "created_at".into(),
            Type::Null,
        ))?,
        paired_at: time(row, 5)?,
        expires_at: time(row, 6)?,
        code: optional_parsed(row, 7, ShortCode::parse)?,
    })
}
