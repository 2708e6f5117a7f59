//! The newtypes' validation: what each accepts, what it refuses, and the field it names.

use super::*;

#[test]
fn entity_of_one_and_256_characters_is_accepted() {
    assert!(EntityId::parse("a").is_ok());
    assert!(EntityId::parse("a".repeat(256)).is_ok());
}

#[test]
fn empty_entity_is_rejected() {
    let err = EntityId::parse("").unwrap_err();
    assert_eq!(err.field(), "entity");
    assert!(err.to_string().contains("got 0"), "{err}");
}

#[test]
fn entity_of_257_characters_is_rejected() {
    let err = EntityId::parse("a".repeat(257)).unwrap_err();
    assert!(err.to_string().contains("got 257"), "{err}");
}

#[test]
fn entity_length_counts_characters_not_bytes() {
    // 256 four-byte characters: 1024 bytes, still 256 characters.
    assert!(EntityId::parse("🦀".repeat(256)).is_ok());
    assert!(EntityId::parse("🦀".repeat(257)).is_err());
    assert!(EntityId::parse("Zoë · 東京").is_ok());
}

#[test]
fn entity_with_control_characters_is_rejected() {
    for bad in ["a\nb", "\u{0}", "tab\there", "del\u{7f}", "c1\u{85}"] {
        let err = EntityId::parse(bad).unwrap_err();
        assert!(err.to_string().contains("control"), "{bad:?}: {err}");
    }
}

#[test]
fn entity_and_label_with_format_or_separator_characters_are_rejected() {
    let invisible = [
        (
            "right-to-left override",
            "admin\u{202E}nimda",
            "U+202E, a format",
        ),
        ("zero-width joiner", "al\u{200D}ice", "U+200D, a format"),
        ("zero-width space", "al\u{200B}ice", "U+200B, a format"),
        ("byte-order mark", "\u{FEFF}alice", "U+FEFF, a format"),
        ("soft hyphen", "al\u{AD}ice", "U+00AD, a format"),
        (
            "line separator",
            "a\u{2028}b",
            "U+2028, a line or paragraph separator",
        ),
        (
            "paragraph separator",
            "a\u{2029}b",
            "U+2029, a line or paragraph separator",
        ),
    ];
    for (what, value, named) in invisible {
        let entity = EntityId::parse(value).unwrap_err();
        let label = Label::parse(value).unwrap_err();

        assert_eq!(entity.field(), "entity", "{what}");
        assert!(entity.to_string().contains(named), "{what}: {entity}");
        assert_eq!(label.field(), "label", "{what}");
    }
    // Visible text of any script, and ordinary spaces, stay allowed.
    assert!(EntityId::parse("user:Zoë 東京 مرحبا").is_ok());
    assert!(Label::parse("Living room\u{A0}TV").is_ok());
}

#[test]
fn token_accepts_url_safe_characters_up_to_64() {
    assert!(Token::parse("a").is_ok());
    assert!(Token::parse("3f1c9a6b-0e2d-4b7f-9a51-c2d8e4f60718").is_ok());
    assert!(Token::parse("A_z-09".repeat(10)).is_ok());
    assert!(Token::parse("x".repeat(64)).is_ok());
}

#[test]
fn token_rejects_empty_long_and_unsafe_values() {
    assert!(Token::parse("").is_err());
    assert!(Token::parse("x".repeat(65)).is_err());
    for bad in ["a b", "a/b", "a%2F", "é", "a.b", "a\n", "?start"] {
        assert_eq!(Token::parse(bad).unwrap_err().field(), "token", "{bad:?}");
    }
}

#[test]
fn label_of_200_characters_is_accepted_and_201_rejected() {
    assert!(Label::parse("é".repeat(200)).is_ok());
    assert!(Label::parse("é".repeat(201)).is_err());
    assert!(Label::parse("").is_err());
    assert!(Label::parse("bell\u{7}").is_err());
}

#[test]
fn short_codes_parse_in_any_case_with_or_without_the_dash() {
    let code = ShortCode::parse("BCDF-GHJK").unwrap();
    assert_eq!(code.to_string(), "BCDF-GHJK");
    assert_eq!(code.letters(), "BCDFGHJK");
    assert_eq!(ShortCode::parse("bcdfghjk").unwrap(), code);
    assert_eq!(ShortCode::parse("bcdF-gHjk").unwrap(), code);
    assert_eq!(serde_json::to_string(&code).unwrap(), r#""BCDF-GHJK""#);
}

#[test]
fn short_codes_reject_look_alikes_wrong_lengths_and_misplaced_dashes() {
    for bad in [
        "",
        "BCDF-GHJ",
        "BCDF-GHJKL",
        "BCDFGHJ",
        "ABCD-EFGH",
        "BCD0-GHJK",
        "BCDF-GHIK",
        "BCDFG-HJK",
        "BC-DF-GHJK",
        "BCDF GHJK",
        "ßCDF-GHJK",
        "BCDF--GHJK",
    ] {
        assert_eq!(
            ShortCode::parse(bad).unwrap_err().field(),
            "code",
            "{bad:?}"
        );
    }
}

#[test]
fn idempotency_keys_are_visible_ascii_up_to_255() {
    assert!(IdempotencyKey::parse("order-42/attempt:1").is_ok());
    assert!(IdempotencyKey::parse("k".repeat(255)).is_ok());
    for bad in ["", "with space", "tab\t", "é", &"k".repeat(256)] {
        assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn cursors_are_url_safe_or_refused() {
    assert!(PageCursor::parse("MTIzLmFiYw").is_ok());
    for bad in ["", "a b", "a/b", "é"] {
        assert_eq!(
            PageCursor::parse(bad).unwrap_err().field(),
            "cursor",
            "{bad:?}"
        );
    }
}

#[test]
fn newtypes_deserialize_only_valid_values() {
    assert!(serde_json::from_str::<EntityId>(r#""bob""#).is_ok());
    assert!(serde_json::from_str::<EntityId>(r#""""#).is_err());
    assert!(serde_json::from_str::<Token>(r#""a b""#).is_err());
}

#[test]
fn newtypes_serialize_as_the_string_they_hold() {
    let entity = EntityId::parse("chat:\"42\" é").unwrap();
    assert_eq!(
        serde_json::to_string(&entity).unwrap(),
        r#""chat:\"42\" é""#
    );
    let token = Token::parse("3f1c9a6b-0e2d").unwrap();
    assert_eq!(serde_json::to_string(&token).unwrap(), r#""3f1c9a6b-0e2d""#);
    let label = Label::parse("a label").unwrap();
    assert_eq!(serde_json::to_value(&label).unwrap(), "a label");
    let key = IdempotencyKey::parse("k-1").unwrap();
    assert_eq!(serde_json::to_value(&key).unwrap(), "k-1");
    let cursor = PageCursor::parse("abc_-1").unwrap();
    assert_eq!(serde_json::to_value(&cursor).unwrap(), "abc_-1");
    let user = EndUser::parse("user-7").unwrap();
    assert_eq!(serde_json::to_value(&user).unwrap(), "user-7");
    let back: EntityId = serde_json::from_str(&serde_json::to_string(&entity).unwrap()).unwrap();
    assert_eq!(back, entity);
}
