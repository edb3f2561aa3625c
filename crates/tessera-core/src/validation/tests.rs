//! Django's validators against vectors produced by Django itself.

use super::*;

type Vector = (
    usize,
    f64,
    String,
    &'static str,
    &'static str,
    &'static [&'static str],
);

const SIMILAR_USERNAME: &str = "The password is too similar to the username.";
const SIMILAR_EMAIL: &str = "The password is too similar to the email address.";
const TOO_SHORT: &str = "This password is too short. It must contain at least 8 characters.";
const COMMON: &str = "This password is too common.";
const NUMERIC: &str = "This password is entirely numeric.";
const TOO_LONG: &str = "This password is too long. It must contain at most 4096 bytes.";

fn check(password: &str, username: &str, email: &str) -> Vec<String> {
    validate_password(&PasswordPolicy::default(), password, username, email)
}

#[test]
fn a_good_password_passes() {
    assert!(check("Tr0ub4dor&3", "alice", "alice@example.com").is_empty());
    assert!(check("correct horse battery staple", "alice", "alice@example.com").is_empty());
}

#[test]
fn minimum_length_counts_code_points() {
    assert_eq!(check("Tr0ub4d", "alice", ""), [TOO_SHORT]);
    assert!(check("Tr0ub4d&", "alice", "").is_empty());
    // 8 code points, 32 bytes.
    assert!(check("🔒🔑🔒🔑🔒🔑🔒🔑", "alice", "").is_empty());
    // "café!!!" decomposed is 8 code points, composed 7.
    assert!(check("cafe\u{301}!!!", "alice", "").is_empty());
    assert_eq!(check("caf\u{e9}!!!", "alice", ""), [TOO_SHORT]);
    let policy = PasswordPolicy::new(12).unwrap();
    assert_eq!(
        validate_password(&policy, "Tr0ub4dor&3", "alice", ""),
        ["This password is too short. It must contain at least 12 characters."]
    );
}

#[test]
fn the_short_message_is_an_ngettext() {
    assert_eq!(
        too_short(1),
        "This password is too short. It must contain at least 1 character."
    );
    assert_eq!(too_short(8), TOO_SHORT);
}

#[test]
fn maximum_length_counts_utf8_bytes() {
    assert!(check(&"é".repeat(2048), "alice", "").is_empty());
    assert_eq!(check(&"é".repeat(2049), "alice", ""), [TOO_LONG]);
    assert!(check(&"a".repeat(MAX_PASSWORD_BYTES), "alice", "").is_empty());
    assert_eq!(
        check(&"a".repeat(MAX_PASSWORD_BYTES + 1), "alice", ""),
        [TOO_LONG]
    );
}

#[test]
fn similarity_to_username_and_email() {
    assert_eq!(
        check("alice2024", "alice", "alice@example.com"),
        [SIMILAR_USERNAME]
    );
    assert_eq!(
        check("aliceexample", "alice", "alice@example.com"),
        [SIMILAR_EMAIL]
    );
    assert_eq!(
        check("yourcenar1", "bob", "marguerite.yourcenar@example.com"),
        [SIMILAR_EMAIL]
    );
    // Similar to both: Django's validator stops at the username.
    assert_eq!(
        check("alice2024", "alice", "alice2024@example.com"),
        [SIMILAR_USERNAME]
    );
    // Case-insensitive, and a multiset comparison, not a sequence one.
    assert_eq!(check("ECILA2024", "alice", ""), [SIMILAR_USERNAME]);
    // Empty attributes are not compared.
    assert!(check("whatever-it-is", "", "").is_empty());
}

#[test]
fn an_empty_password_is_similar_to_an_empty_part() {
    // "alice." splits into "alice" and "", and quick_ratio("", "") is 1.0.
    assert_eq!(check("", "alice.", ""), [SIMILAR_USERNAME, TOO_SHORT]);
    assert_eq!(check("", "alice", ""), [TOO_SHORT]);
}

#[test]
fn common_passwords_are_lowercased_and_stripped() {
    assert_eq!(check("password", "alice", ""), [COMMON]);
    assert_eq!(check("PassWord", "alice", ""), [COMMON]);
    assert_eq!(check(" qwertyuiop\n", "alice", ""), [COMMON]);
    assert_eq!(check("\u{1c}password\u{1f}", "alice", ""), [COMMON]);
    // U+200B is not whitespace to Python either.
    assert!(check("\u{200b}password", "alice", "").is_empty());
    // Django does not normalise: fullwidth "password" is not common.
    assert!(check("ｐａｓｓｗｏｒｄ", "alice", "").is_empty());
}

#[test]
fn the_common_list_is_djangos() {
    assert_eq!(COMMON_PASSWORDS.lines().count(), 20_000);
    assert_eq!(common_passwords().len(), 19_729);
    assert!(!common_passwords().contains(""));
    for p in ["123456", "password", "qwertyuiop", "пароль", "fallen_angel"] {
        assert!(common_passwords().contains(p), "{p}");
    }
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(COMMON_PASSWORDS.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "f4fef4ce827f0d0313e2dc1558f6d58fb791656e0185b051cb453add640974ea"
    );
}

#[test]
fn numeric_is_pythons_isdigit() {
    assert_eq!(check("31415926535", "alice", ""), [NUMERIC]);
    assert_eq!(check("٣١٤١٥٩٢٦٥", "alice", ""), [NUMERIC]);
    assert_eq!(check("²³¹⁴⁵⁶⁷⁸⁹", "alice", ""), [NUMERIC]);
    assert!(check("ⅠⅡⅢⅣⅤⅥⅦⅧ", "alice", "").is_empty());
    assert!(check("3.14159265", "alice", "").is_empty());
    assert!(check(" 31415926535", "alice", "").is_empty());
}

#[test]
fn every_failing_rule_in_djangos_order() {
    assert_eq!(
        check("alice", "alice", "alice@example.com"),
        [SIMILAR_USERNAME, TOO_SHORT, COMMON]
    );
    assert_eq!(check("1234", "alice", ""), [TOO_SHORT, COMMON, NUMERIC]);
    assert_eq!(check(&"1".repeat(5000), "alice", ""), [NUMERIC, TOO_LONG]);
    let policy = PasswordPolicy::new(4096).unwrap();
    let long = "alice".repeat(1000);
    assert_eq!(
        validate_password(&policy, &long, "alice", ""),
        [TOO_LONG.to_owned()]
    );
    assert_eq!(
        validate_password(&policy, "alice", "alice", ""),
        [
            SIMILAR_USERNAME,
            "This password is too short. It must contain at least 4096 characters.",
            COMMON
        ]
    );
}

#[test]
fn policies_below_the_minimum_are_refused() {
    assert_eq!(PasswordPolicy::default().min_length(), 8);
    assert_eq!(PasswordPolicy::default().max_similarity(), 0.7);
    assert!(PasswordPolicy::new(7).is_err());
    assert!(PasswordPolicy::new(0).is_err());
    assert_eq!(PasswordPolicy::new(8).unwrap(), PasswordPolicy::default());
    assert!(PasswordPolicy::new(MAX_PASSWORD_BYTES).is_ok());
    assert!(PasswordPolicy::new(MAX_PASSWORD_BYTES + 1).is_err());
    let policy = PasswordPolicy::default();
    assert!(policy.with_max_similarity(0.09).is_err());
    assert!(policy.with_max_similarity(f64::NAN).is_err());
    assert!(policy.with_max_similarity(-1.0).is_err());
    assert_eq!(
        policy.with_max_similarity(0.1).unwrap().max_similarity(),
        0.1
    );
    assert!(policy.with_max_similarity(f64::INFINITY).is_ok());
}

#[test]
fn exceeds_maximum_length_ratio_as_django() {
    // pwd_len >= 10 * value_len and value_len < max_similarity / 2 * pwd_len
    assert!(exceeds_maximum_length_ratio(20, 0.7, 2));
    assert!(!exceeds_maximum_length_ratio(19, 0.7, 2));
    assert!(exceeds_maximum_length_ratio(1, 0.7, 0));
    assert!(!exceeds_maximum_length_ratio(0, 0.7, 0));
    assert!(!exceeds_maximum_length_ratio(20, 0.1, 1));
    assert!(exceeds_maximum_length_ratio(21, 0.1, 1));
    assert!(!exceeds_maximum_length_ratio(usize::MAX, 0.7, usize::MAX));
}

#[test]
fn django_validate_password() {
    let vectors = django_vectors();
    assert!(vectors.len() >= 60);
    for (min_length, max_similarity, password, username, email, expected) in vectors {
        let policy = PasswordPolicy::new(min_length)
            .unwrap()
            .with_max_similarity(max_similarity)
            .unwrap();
        assert_eq!(
            validate_password(&policy, &password, username, email),
            expected,
            "{min_length} {max_similarity} {password:?} {username:?} {email:?}"
        );
    }
}

#[test]
fn python_quick_ratio_vectors() {
    for (a, b, expected) in python_quick_ratio() {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        assert_eq!(quick_ratio(&a, &b), expected, "{a:?} {b:?}");
    }
}

#[test]
fn python_string_vectors() {
    for (s, parts) in PYTHON_SPLIT {
        assert_eq!(python_split_nonword(s), *parts, "{s:?}");
    }
    for (s, lower) in PYTHON_LOWER {
        assert_eq!(s.to_lowercase(), *lower, "{s:?}");
    }
    for (s, stripped) in PYTHON_STRIP {
        assert_eq!(python_strip(s), *stripped, "{s:?}");
    }
    for (s, isdigit) in PYTHON_ISDIGIT {
        assert_eq!(python_isdigit(s), *isdigit, "{s:?}");
    }
}

#[test]
fn the_tables_are_sorted_and_disjoint() {
    for table in [WORD, DIGIT] {
        assert!(table.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(table.iter().all(|(lo, hi)| lo <= hi));
    }
    assert!(python_is_word('_') && python_is_word('a') && python_is_word('9'));
    assert!(!python_is_word('.') && !python_is_word('\u{301}'));
    assert!(!python_is_word('\u{10ffff}') && !python_isdigit("\u{10ffff}"));
}

// BEGIN GENERATED VECTORS (tests/password_validation_vectors.py, Django 5.1)
/// (min_length, max_similarity, password, username, email, Django's messages
/// and then Tessera's maximum)
fn django_vectors() -> Vec<Vector> {
    vec![
        (
            8,
            0.7,
            "password".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            "PassWord".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            "qwertyuiop".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            "12345678".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "This password is too common.",
                "This password is entirely numeric.",
            ],
        ),
        (
            8,
            0.7,
            "1234".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ],
        ),
        (
            8,
            0.7,
            "123456789012".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is entirely numeric."],
        ),
        (
            8,
            0.7,
            "iloveyou".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            "letmein".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
        (
            8,
            0.7,
            "fallen_angel".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            " password ".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            "password\u{a}".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            "\u{9}dragon\u{d}\u{a}".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            "\u{1c}password\u{1f}".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            "\u{a0}password\u{3000}".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too common."],
        ),
        (
            8,
            0.7,
            "\u{200b}password".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "\u{43f}\u{430}\u{440}\u{43e}\u{43b}\u{44c}".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
        (
            8,
            0.7,
            "\u{41f}\u{410}\u{420}\u{41e}\u{41b}\u{42c}".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
        (
            8,
            0.7,
            "\u{439}\u{446}\u{443}\u{43a}\u{435}\u{43d}12".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "\u{ff50}\u{ff41}\u{ff53}\u{ff53}\u{ff57}\u{ff4f}\u{ff52}\u{ff44}".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "31415926535".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is entirely numeric."],
        ),
        (
            8,
            0.7,
            "00000000".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "This password is too common.",
                "This password is entirely numeric.",
            ],
        ),
        (
            8,
            0.7,
            " 31415926535".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "\u{663}\u{661}\u{664}\u{661}\u{665}\u{669}\u{662}\u{666}\u{665}".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is entirely numeric."],
        ),
        (
            8,
            0.7,
            "\u{ff13}\u{ff11}\u{ff14}\u{ff11}\u{ff15}\u{ff19}\u{ff12}\u{ff16}\u{ff15}".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is entirely numeric."],
        ),
        (
            8,
            0.7,
            "\u{b2}\u{b3}\u{b9}\u{2074}\u{2075}\u{2076}\u{2077}\u{2078}\u{2079}".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is entirely numeric."],
        ),
        (
            8,
            0.7,
            "\u{2460}\u{2461}\u{2462}\u{2463}\u{2464}\u{2465}\u{2466}\u{2467}".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is entirely numeric."],
        ),
        (
            8,
            0.7,
            "\u{2160}\u{2161}\u{2162}\u{2163}\u{2164}\u{2165}\u{2166}\u{2167}".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "\u{bd}\u{bc}\u{be}\u{bd}\u{bc}\u{be}\u{bd}\u{bc}".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "3.14159265".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "-31415926".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too short. It must contain at least 8 characters."],
        ),
        (
            8,
            0.7,
            "x".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
        (
            8,
            0.7,
            "Tr0ub4d".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too short. It must contain at least 8 characters."],
        ),
        (
            8,
            0.7,
            "Tr0ub4d&".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "caf\u{e9}!!!".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too short. It must contain at least 8 characters."],
        ),
        (
            8,
            0.7,
            "cafe\u{301}!!".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too short. It must contain at least 8 characters."],
        ),
        (
            8,
            0.7,
            "\u{1f512}\u{1f511}\u{1f512}\u{1f511}\u{1f512}\u{1f511}\u{1f512}".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too short. It must contain at least 8 characters."],
        ),
        (
            8,
            0.7,
            "\u{1f512}\u{1f511}\u{1f512}\u{1f511}\u{1f512}\u{1f511}\u{1f512}\u{1f511}".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "Tr0ub4dor&3".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "correct horse battery staple".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "alice".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
        (
            8,
            0.7,
            "alice2024".to_owned(),
            "alice",
            "alice@example.com",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "ALICE2024!".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "ecila".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
            ],
        ),
        (
            8,
            0.7,
            "alice20245".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "aliceexample".to_owned(),
            "alice",
            "alice@example.com",
            &["The password is too similar to the email address."],
        ),
        (
            8,
            0.7,
            "example.com".to_owned(),
            "alice",
            "alice@example.com",
            &["The password is too similar to the email address."],
        ),
        (
            8,
            0.7,
            "alice@example.com".to_owned(),
            "alice",
            "alice@example.com",
            &["The password is too similar to the email address."],
        ),
        (
            8,
            0.7,
            "dupontjean".to_owned(),
            "jean.dupont",
            "jean.dupont@example.fr",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "jeandupont75".to_owned(),
            "jean.dupont",
            "jean.dupont@example.fr",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "yourcenar1".to_owned(),
            "bob",
            "marguerite.yourcenar@example.com",
            &["The password is too similar to the email address."],
        ),
        (
            8,
            0.7,
            "bob-the-builder".to_owned(),
            "bob",
            "marguerite.yourcenar@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "bobbob".to_owned(),
            "bob",
            "bob@bob.bob",
            &[
                "The password is too similar to the email address.",
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
        (
            8,
            0.7,
            "firstlast".to_owned(),
            "fl",
            "first.last+tag@sub.example.co.uk",
            &["The password is too similar to the email address."],
        ),
        (
            8,
            0.7,
            "subexample".to_owned(),
            "fl",
            "first.last+tag@sub.example.co.uk",
            &["The password is too similar to the email address."],
        ),
        (
            8,
            0.7,
            "tagtagtag".to_owned(),
            "fl",
            "first.last+tag@sub.example.co.uk",
            &[],
        ),
        (
            8,
            0.7,
            "bigbird!".to_owned(),
            "big_bird",
            "bb@example.org",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "big_bird".to_owned(),
            "big_bird",
            "",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "password".to_owned(),
            "",
            "",
            &["This password is too common."],
        ),
        (8, 0.7, "whatever-it-is".to_owned(), "", "", &[]),
        (
            8,
            0.7,
            "".to_owned(),
            "alice.",
            "alice@example.com",
            &[
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
            ],
        ),
        (
            8,
            0.7,
            "".to_owned(),
            "alice",
            "@example.com",
            &[
                "The password is too similar to the email address.",
                "This password is too short. It must contain at least 8 characters.",
            ],
        ),
        (
            8,
            0.7,
            "".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too short. It must contain at least 8 characters."],
        ),
        (
            8,
            0.7,
            "\u{e6}lfr\u{113}d99".to_owned(),
            "\u{c6}lfr\u{113}d",
            "aelfred@example.com",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "\u{3bf}\u{3b4}\u{3c5}\u{3c3}\u{3c3}\u{3b5}\u{3c5}\u{3c2}1".to_owned(),
            "\u{39f}\u{394}\u{3a5}\u{3a3}\u{3a3}\u{395}\u{3a5}\u{3a3}",
            "odysseus@example.gr",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "\u{39f}\u{394}\u{3a5}\u{3a3}\u{3a3}\u{395}\u{3a5}\u{3a3}!".to_owned(),
            "odysseus",
            "odysseus@example.gr",
            &[],
        ),
        (
            8,
            0.7,
            "ibrahim12".to_owned(),
            "\u{130}brahim",
            "ibrahim@example.tr",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "brahim12".to_owned(),
            "\u{130}brahim",
            "ibrahim@example.tr",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "\u{212a}atherine1".to_owned(),
            "katherine",
            "kate@example.com",
            &[
                "The password is too similar to the username.",
                "This password is too common.",
            ],
        ),
        (
            8,
            0.7,
            "stra\u{df}e99".to_owned(),
            "STRASSE",
            "strasse@example.de",
            &[],
        ),
        (
            8,
            0.7,
            "\u{928}\u{92e}\u{938}ab".to_owned(),
            "\u{928}\u{92e}\u{938}\u{94d}\u{924}\u{947}",
            "namaste@example.in",
            &[
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
            ],
        ),
        (
            8,
            0.7,
            "\u{928}\u{92e}\u{938}\u{94d}\u{924}\u{947}123".to_owned(),
            "\u{928}\u{92e}\u{938}\u{94d}\u{924}\u{947}",
            "namaste@example.in",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "\u{6771}\u{4eac}\u{30bf}\u{30ef}\u{30fc}2024".to_owned(),
            "\u{6771}\u{4eac}\u{30bf}\u{30ef}\u{30fc}",
            "tokyo@example.jp",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.7,
            "\u{6771}\u{4eac}\u{5927}\u{962a}\u{540d}\u{53e4}\u{5c4b}\u{798f}\u{5ca1}".to_owned(),
            "\u{6771}\u{4eac}\u{30bf}\u{30ef}\u{30fc}",
            "tokyo@example.jp",
            &[],
        ),
        (
            8,
            0.7,
            "alalalalalalalalalalal".to_owned(),
            "al",
            "al@al.al",
            &[],
        ),
        (
            8,
            0.7,
            "alalalalalalalalalalalalalalalalalalalal".to_owned(),
            "al",
            "al@al.al",
            &[],
        ),
        (8, 0.7, "a".repeat(4096), "alice", "alice@example.com", &[]),
        (
            8,
            0.7,
            "a".repeat(4097),
            "alice",
            "alice@example.com",
            &["This password is too long. It must contain at most 4096 bytes."],
        ),
        (
            8,
            0.7,
            "\u{e9}".repeat(2048),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            8,
            0.7,
            "\u{e9}".repeat(2049),
            "alice",
            "alice@example.com",
            &["This password is too long. It must contain at most 4096 bytes."],
        ),
        (
            8,
            0.7,
            "1".repeat(5000),
            "alice",
            "alice@example.com",
            &[
                "This password is entirely numeric.",
                "This password is too long. It must contain at most 4096 bytes.",
            ],
        ),
        (
            8,
            0.7,
            "alice".repeat(1000),
            "alice",
            "alice@example.com",
            &["This password is too long. It must contain at most 4096 bytes."],
        ),
        (
            12,
            0.7,
            "Tr0ub4dor&3".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too short. It must contain at least 12 characters."],
        ),
        (
            12,
            0.7,
            "Tr0ub4dor&3!".to_owned(),
            "alice",
            "alice@example.com",
            &[],
        ),
        (
            12,
            0.7,
            "12345678".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "This password is too short. It must contain at least 12 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ],
        ),
        (
            64,
            0.7,
            "correct horse battery staple".to_owned(),
            "alice",
            "alice@example.com",
            &["This password is too short. It must contain at least 64 characters."],
        ),
        (
            8,
            0.5,
            "alicia-keys".to_owned(),
            "alice",
            "alice@example.com",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.5,
            "malice".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
        (
            8,
            0.1,
            "alalalalalalalalalalxyz".to_owned(),
            "al",
            "nobody@example.net",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.1,
            "alalalalalalalalalalxy".to_owned(),
            "al",
            "nobody@example.net",
            &["The password is too similar to the username."],
        ),
        (
            8,
            0.1,
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz".to_owned(),
            "al",
            "nobody@example.net",
            &[],
        ),
        (
            8,
            1.0,
            "alice".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
        (
            8,
            1.0,
            "ecila".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
            ],
        ),
        (
            8,
            1.5,
            "alice".to_owned(),
            "alice",
            "alice@example.com",
            &[
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
    ]
}

/// (a, b, difflib's `SequenceMatcher(a=a, b=b).quick_ratio()`)
fn python_quick_ratio() -> Vec<(String, String, f64)> {
    vec![
        ("".to_owned(), "".to_owned(), 1.0),
        ("".to_owned(), "alice".to_owned(), 0.0),
        ("alice".to_owned(), "".to_owned(), 0.0),
        ("alice".to_owned(), "alice".to_owned(), 1.0),
        (
            "alice2024".to_owned(),
            "alice".to_owned(),
            0.7142857142857143,
        ),
        ("aaab".to_owned(), "ab".to_owned(), 0.6666666666666666),
        ("ab".to_owned(), "aaab".to_owned(), 0.6666666666666666),
        ("abcd".to_owned(), "bcde".to_owned(), 0.75),
        ("ecila".to_owned(), "alice".to_owned(), 1.0),
        (
            "aliceexample".to_owned(),
            "example".to_owned(),
            0.7368421052631579,
        ),
        (
            "tr0ub4dor&3".to_owned(),
            "alice@example.com".to_owned(),
            0.07142857142857142,
        ),
        ("\u{fb01}".to_owned(), "fi".to_owned(), 0.0),
        (
            "i\u{307}brahim".to_owned(),
            "ibrahim".to_owned(),
            0.9333333333333333,
        ),
        (
            "\u{1f512}\u{1f511}".to_owned(),
            "\u{1f511}".to_owned(),
            0.6666666666666666,
        ),
        ("a".to_owned(), "aaaaaaaaaa".to_owned(), 0.18181818181818182),
    ]
}

/// (s, `re.split(r"\W+", s)`)
const PYTHON_SPLIT: &[(&str, &[&str])] = &[
    ("", &[""]),
    ("alice", &["alice"]),
    ("alice.", &["alice", ""]),
    (".alice", &["", "alice"]),
    ("...", &["", ""]),
    (
        "jean.dupont@example.fr",
        &["jean", "dupont", "example", "fr"],
    ),
    (
        "first.last+tag@sub.example.co.uk",
        &["first", "last", "tag", "sub", "example", "co", "uk"],
    ),
    ("big_bird", &["big_bird"]),
    ("a--b__c  d", &["a", "b__c", "d"]),
    ("i\u{307}brahim", &["i", "brahim"]),
    (
        "\u{928}\u{92e}\u{938}\u{94d}\u{924}\u{947}",
        &["\u{928}\u{92e}\u{938}", "\u{924}", ""],
    ),
    (
        "\u{6771}\u{4eac}\u{30bf}\u{30ef}\u{30fc}",
        &["\u{6771}\u{4eac}\u{30bf}\u{30ef}\u{30fc}"],
    ),
    (
        "\u{2170}\u{2171}\u{bd}\u{b2}x\u{2460}",
        &["\u{2170}\u{2171}\u{bd}\u{b2}x\u{2460}"],
    ),
    ("a\u{a0}b\u{200b}c\u{301}d", &["a", "b", "c", "d"]),
    ("\u{1c5}emal", &["\u{1c5}emal"]),
    (
        "\u{663}\u{661}\u{664}-\u{661}\u{665}\u{669}",
        &["\u{663}\u{661}\u{664}", "\u{661}\u{665}\u{669}"],
    ),
];

/// (s, `s.lower()`)
const PYTHON_LOWER: &[(&str, &str)] = &[
    ("ALICE", "alice"),
    ("\u{c6}lfr\u{113}d", "\u{e6}lfr\u{113}d"),
    (
        "\u{39f}\u{394}\u{3a5}\u{3a3}\u{3a3}\u{395}\u{3a5}\u{3a3}",
        "\u{3bf}\u{3b4}\u{3c5}\u{3c3}\u{3c3}\u{3b5}\u{3c5}\u{3c2}",
    ),
    (
        "\u{3a3}\u{391}\u{3a3} \u{3a3}\u{391}\u{3a3}.",
        "\u{3c3}\u{3b1}\u{3c2} \u{3c3}\u{3b1}\u{3c2}.",
    ),
    ("\u{130}brahim", "i\u{307}brahim"),
    ("\u{212a}", "k"),
    ("\u{1c5}", "\u{1c6}"),
    ("STRASSE", "strasse"),
    ("\u{2160}\u{2161}\u{2162}", "\u{2170}\u{2171}\u{2172}"),
    ("\u{24b6}\u{24d1}", "\u{24d0}\u{24d1}"),
    (
        "\u{ff30}\u{ff21}\u{ff33}\u{ff33}",
        "\u{ff50}\u{ff41}\u{ff53}\u{ff53}",
    ),
    ("\u{10400}\u{10401}", "\u{10428}\u{10429}"),
];

/// (s, `s.strip()`)
const PYTHON_STRIP: &[(&str, &str)] = &[
    ("", ""),
    (" password ", "password"),
    (
        "\u{9}\u{a}\u{b}\u{c}\u{d} password \u{1c}\u{1d}\u{1e}\u{1f}",
        "password",
    ),
    (
        "\u{85}\u{a0}\u{1680}\u{2000}\u{200a}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}x",
        "x",
    ),
    ("\u{200b}x\u{180e}", "\u{200b}x\u{180e}"),
    ("\u{feff}x", "\u{feff}x"),
];

/// (s, `s.isdigit()`)
const PYTHON_ISDIGIT: &[(&str, bool)] = &[
    ("", false),
    ("0", true),
    ("0123456789", true),
    ("\u{661}\u{662}\u{663}", true),
    ("\u{6f1}\u{6f2}\u{6f3}", true),
    ("\u{967}\u{968}\u{969}", true),
    ("\u{ff10}\u{ff11}\u{ff12}", true),
    ("\u{b2}\u{b3}\u{b9}", true),
    ("\u{2460}\u{2461}\u{2462}", true),
    ("\u{2474}\u{2475}", true),
    ("\u{2488}\u{2489}", true),
    ("\u{2780}\u{2781}", true),
    ("\u{1d7ce}\u{1d7cf}\u{1d7d0}", true),
    ("\u{2160}\u{2161}", false),
    ("\u{bd}", false),
    ("\u{2469}", false),
    ("\u{3007}", false),
    ("\u{4e00}\u{4e8c}\u{4e09}", false),
    ("1.5", false),
    (" 1", false),
    ("-1", false),
];
// END GENERATED VECTORS
