//! Password validation, as Django's `django.contrib.auth.password_validation`
//! (Django 5.1) with its four default `AUTH_PASSWORD_VALIDATORS`, plus
//! Tessera's own maximum length.
//!
//! [`validate_password`] reports every failing rule at once, with Django's
//! messages, in the order of Django's default settings:
//!
//! 1. `UserAttributeSimilarityValidator`: "The password is too similar to the
//!    username." (or "... email address."), at most once, the username first;
//! 2. `MinimumLengthValidator`: "This password is too short. It must contain at
//!    least 8 characters.", counting code points as Python's `len`;
//! 3. `CommonPasswordValidator`: "This password is too common.", against
//!    Django's list of 20,000 common passwords;
//! 4. `NumericPasswordValidator`: "This password is entirely numeric.", as
//!    Python's `str.isdigit()`;
//! 5. Tessera's maximum: "This password is too long. It must contain at most
//!    4096 bytes." past [`MAX_PASSWORD_BYTES`] bytes of UTF-8.
//!
//! The password is validated as received, as Django does (it is hashed as its
//! NFKC form, see [`crate::password`]), so "ｐａｓｓｗｏｒｄ" is not common.
//! Python's string semantics are reproduced where Django relies on them:
//! `str.lower()` (Rust's `to_lowercase`, final sigma included), `str.strip()`
//! (which also strips U+001C..U+001F), `str.isdigit()` and `re`'s `\w`
//! (tables of Python 3.11, Unicode 14.0.0).
//!
//! ```
//! use tessera_core::validation::{validate_password, PasswordPolicy};
//!
//! let policy = PasswordPolicy::default();
//! assert!(validate_password(&policy, "Tr0ub4dor&3", "alice", "alice@example.com").is_empty());
//! assert_eq!(
//!     validate_password(&policy, "alice", "alice", "alice@example.com"),
//!     [
//!         "The password is too similar to the username.",
//!         "This password is too short. It must contain at least 8 characters.",
//!         "This password is too common.",
//!     ]
//! );
//! assert!(PasswordPolicy::new(6).is_err());
//! ```

use crate::password::MAX_PASSWORD_BYTES;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Django's default, and the least Tessera accepts: passwords of at least 8
/// characters.
pub const DEFAULT_MIN_LENGTH: usize = 8;

/// Django's default `max_similarity` of `UserAttributeSimilarityValidator`.
pub const DEFAULT_MAX_SIMILARITY: f64 = 0.7;

/// The least `max_similarity` Django accepts.
pub const MIN_MAX_SIMILARITY: f64 = 0.1;

/// The options of the validators: Django's `MinimumLengthValidator(min_length)`
/// and `UserAttributeSimilarityValidator(max_similarity)`.
///
/// The fields are private so that no policy asks for fewer than
/// [`DEFAULT_MIN_LENGTH`] characters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PasswordPolicy {
    min_length: usize,
    max_similarity: f64,
}

impl Default for PasswordPolicy {
    /// Django's defaults: at least 8 characters, a similarity below 0.7.
    fn default() -> Self {
        PasswordPolicy {
            min_length: DEFAULT_MIN_LENGTH,
            max_similarity: DEFAULT_MAX_SIMILARITY,
        }
    }
}

impl PasswordPolicy {
    /// A policy asking for at least `min_length` characters (code points).
    ///
    /// Refuses fewer than [`DEFAULT_MIN_LENGTH`] (8), and more than
    /// [`MAX_PASSWORD_BYTES`], which no password could satisfy.
    pub fn new(min_length: usize) -> Result<Self, String> {
        if min_length < DEFAULT_MIN_LENGTH {
            return Err(format!(
                "the minimum password length must be at least {DEFAULT_MIN_LENGTH}, got {min_length}"
            ));
        }
        if min_length > MAX_PASSWORD_BYTES {
            return Err(format!(
                "the minimum password length must be at most {MAX_PASSWORD_BYTES}, got {min_length}"
            ));
        }
        Ok(PasswordPolicy {
            min_length,
            ..PasswordPolicy::default()
        })
    }

    /// This policy with another `max_similarity`; as Django, refuses less than
    /// [`MIN_MAX_SIMILARITY`] (0.1), and a value that is not a number. 1.0 only
    /// refuses a password made of the very characters of a username or e-mail
    /// part; above 1.0 the similarity rule never fails.
    pub fn with_max_similarity(self, max_similarity: f64) -> Result<Self, String> {
        if max_similarity.is_nan() || max_similarity < MIN_MAX_SIMILARITY {
            return Err(format!(
                "max_similarity must be at least {MIN_MAX_SIMILARITY}, got {max_similarity}"
            ));
        }
        Ok(PasswordPolicy {
            max_similarity,
            ..self
        })
    }

    /// The least number of characters (code points) of a password.
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// A password at least this similar to a user attribute is refused.
    pub fn max_similarity(&self) -> f64 {
        self.max_similarity
    }
}

/// Validates `password` for the user `username` / `email` (either may be empty:
/// it is then not compared). Returns every failing rule's message, in Django's
/// order (see the [module documentation](self)); empty when the password is
/// acceptable.
pub fn validate_password(
    policy: &PasswordPolicy,
    password: &str,
    username: &str,
    email: &str,
) -> Vec<String> {
    let mut errors = Vec::new();
    let lower = password.to_lowercase();
    // UserAttributeSimilarityValidator: Django's `user_attributes` order, and
    // the validator stops at its first failure.
    let attributes = [(username, "username"), (email, "email address")];
    if let Some((_, verbose_name)) = attributes
        .iter()
        .find(|(value, _)| too_similar(&lower, value, policy.max_similarity))
    {
        errors.push(format!(
            "The password is too similar to the {verbose_name}."
        ));
    }
    // MinimumLengthValidator, whose message is an ngettext.
    if password.chars().count() < policy.min_length {
        errors.push(too_short(policy.min_length));
    }
    // CommonPasswordValidator.
    if common_passwords().contains(python_strip(&lower)) {
        errors.push("This password is too common.".to_owned());
    }
    // NumericPasswordValidator.
    if python_isdigit(password) {
        errors.push("This password is entirely numeric.".to_owned());
    }
    // Tessera's own rule.
    if password.len() > MAX_PASSWORD_BYTES {
        errors.push(format!(
            "This password is too long. It must contain at most {MAX_PASSWORD_BYTES} bytes."
        ));
    }
    errors
}

/// `MinimumLengthValidator`'s message, English's `ngettext` (singular for 1).
fn too_short(min_length: usize) -> String {
    let noun = if min_length == 1 {
        "character"
    } else {
        "characters"
    };
    format!("This password is too short. It must contain at least {min_length} {noun}.")
}

/// `UserAttributeSimilarityValidator.validate` for one attribute, given the
/// lowercased password.
fn too_similar(password_lower: &str, value: &str, max_similarity: f64) -> bool {
    // `if not value: continue`
    if value.is_empty() {
        return false;
    }
    let password: Vec<char> = password_lower.chars().collect();
    let value_lower = value.to_lowercase();
    // `re.split(r"\W+", value_lower) + [value_lower]`
    let mut parts = python_split_nonword(&value_lower);
    parts.push(&value_lower);
    parts.into_iter().any(|part| {
        let part: Vec<char> = part.chars().collect();
        !exceeds_maximum_length_ratio(password.len(), max_similarity, part.len())
            && quick_ratio(&password, &part) >= max_similarity
    })
}

/// Django's `exceeds_maximum_length_ratio(password, max_similarity, value)`,
/// given the lengths: a value this much shorter than the password cannot be
/// similar enough, so the comparison is skipped.
fn exceeds_maximum_length_ratio(pwd_len: usize, max_similarity: f64, value_len: usize) -> bool {
    let length_bound_similarity = max_similarity / 2.0 * pwd_len as f64;
    pwd_len >= value_len.saturating_mul(10) && (value_len as f64) < length_bound_similarity
}

/// difflib's `SequenceMatcher(a=a, b=b).quick_ratio()`: 2·M/T, where M is the
/// size of the multiset intersection of `a` and `b` and T the sum of their
/// lengths; 1.0 when both are empty.
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let mut available: HashMap<char, usize> = HashMap::new();
    for &c in b {
        *available.entry(c).or_insert(0) += 1;
    }
    let mut matches = 0usize;
    for c in a {
        if let Some(n) = available.get_mut(c) {
            if *n > 0 {
                *n -= 1;
                matches += 1;
            }
        }
    }
    let length = a.len() + b.len();
    if length == 0 {
        1.0
    } else {
        2.0 * matches as f64 / length as f64
    }
}

/// Python's `re.split(r"\W+", s)`: a leading or trailing run of non-word
/// characters gives an empty first or last part.
fn python_split_nonword(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_separator = false;
    for (i, c) in s.char_indices() {
        if python_is_word(c) {
            if in_separator {
                start = i;
                in_separator = false;
            }
        } else if !in_separator {
            parts.push(&s[start..i]);
            in_separator = true;
        }
    }
    parts.push(if in_separator { "" } else { &s[start..] });
    parts
}

/// Python's `str.strip()`: Rust's whitespace and the information separators
/// U+001C..U+001F, which Python's `str.isspace()` includes.
fn python_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Python's `str.isdigit()`: not empty, and only decimal digits and digits such
/// as superscripts and circled digits.
fn python_isdigit(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| in_ranges(DIGIT, c))
}

/// Whether Python's `re` matches `c` with `\w`.
fn python_is_word(c: char) -> bool {
    in_ranges(WORD, c)
}

fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    let c = u32::from(c);
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

// Django's list of common passwords: `django/contrib/auth/common-passwords.txt.gz`
// of Django 5.1, decompressed (20,000 lowercase lines, 19,729 distinct), created
// by Royce Williams (https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce).
// `tests/password_validation_vectors.py --check-list` compares it with Django's.
//
// Copyright (c) Django Software Foundation and individual contributors.
// All rights reserved.
//
// Redistribution and use in source and binary forms, with or without modification,
// are permitted provided that the following conditions are met:
//
//     1. Redistributions of source code must retain the above copyright notice,
//        this list of conditions and the following disclaimer.
//
//     2. Redistributions in binary form must reproduce the above copyright
//        notice, this list of conditions and the following disclaimer in the
//        documentation and/or other materials provided with the distribution.
//
//     3. Neither the name of Django nor the names of its contributors may be used
//        to endorse or promote products derived from this software without
//        specific prior written permission.
//
// THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
// ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
// WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
// DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE FOR
// ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
// (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES;
// LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON
// ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT
// (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS
// SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

/// The common passwords, as Django's `{x.strip() for x in f}`, read at first use.
fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().map(python_strip).collect())
}

// BEGIN GENERATED TABLES (tests/password_validation_vectors.py, Python 3.11.7, Unicode 14.0.0)
/// The code points `\w` matches in Python's `re` (`str.isalnum()` and `_`).
#[rustfmt::skip]
const WORD: &[(u32, u32)] = &[
    (0x0030, 0x0039), (0x0041, 0x005A), (0x005F, 0x005F), (0x0061, 0x007A), (0x00AA, 0x00AA),
    (0x00B2, 0x00B3), (0x00B5, 0x00B5), (0x00B9, 0x00BA), (0x00BC, 0x00BE), (0x00C0, 0x00D6),
    (0x00D8, 0x00F6), (0x00F8, 0x02C1), (0x02C6, 0x02D1), (0x02E0, 0x02E4), (0x02EC, 0x02EC),
    (0x02EE, 0x02EE), (0x0370, 0x0374), (0x0376, 0x0377), (0x037A, 0x037D), (0x037F, 0x037F),
    (0x0386, 0x0386), (0x0388, 0x038A), (0x038C, 0x038C), (0x038E, 0x03A1), (0x03A3, 0x03F5),
    (0x03F7, 0x0481), (0x048A, 0x052F), (0x0531, 0x0556), (0x0559, 0x0559), (0x0560, 0x0588),
    (0x05D0, 0x05EA), (0x05EF, 0x05F2), (0x0620, 0x064A), (0x0660, 0x0669), (0x066E, 0x066F),
    (0x0671, 0x06D3), (0x06D5, 0x06D5), (0x06E5, 0x06E6), (0x06EE, 0x06FC), (0x06FF, 0x06FF),
    (0x0710, 0x0710), (0x0712, 0x072F), (0x074D, 0x07A5), (0x07B1, 0x07B1), (0x07C0, 0x07EA),
    (0x07F4, 0x07F5), (0x07FA, 0x07FA), (0x0800, 0x0815), (0x081A, 0x081A), (0x0824, 0x0824),
    (0x0828, 0x0828), (0x0840, 0x0858), (0x0860, 0x086A), (0x0870, 0x0887), (0x0889, 0x088E),
    (0x08A0, 0x08C9), (0x0904, 0x0939), (0x093D, 0x093D), (0x0950, 0x0950), (0x0958, 0x0961),
    (0x0966, 0x096F), (0x0971, 0x0980), (0x0985, 0x098C), (0x098F, 0x0990), (0x0993, 0x09A8),
    (0x09AA, 0x09B0), (0x09B2, 0x09B2), (0x09B6, 0x09B9), (0x09BD, 0x09BD), (0x09CE, 0x09CE),
    (0x09DC, 0x09DD), (0x09DF, 0x09E1), (0x09E6, 0x09F1), (0x09F4, 0x09F9), (0x09FC, 0x09FC),
    (0x0A05, 0x0A0A), (0x0A0F, 0x0A10), (0x0A13, 0x0A28), (0x0A2A, 0x0A30), (0x0A32, 0x0A33),
    (0x0A35, 0x0A36), (0x0A38, 0x0A39), (0x0A59, 0x0A5C), (0x0A5E, 0x0A5E), (0x0A66, 0x0A6F),
    (0x0A72, 0x0A74), (0x0A85, 0x0A8D), (0x0A8F, 0x0A91), (0x0A93, 0x0AA8), (0x0AAA, 0x0AB0),
    (0x0AB2, 0x0AB3), (0x0AB5, 0x0AB9), (0x0ABD, 0x0ABD), (0x0AD0, 0x0AD0), (0x0AE0, 0x0AE1),
    (0x0AE6, 0x0AEF), (0x0AF9, 0x0AF9), (0x0B05, 0x0B0C), (0x0B0F, 0x0B10), (0x0B13, 0x0B28),
    (0x0B2A, 0x0B30), (0x0B32, 0x0B33), (0x0B35, 0x0B39), (0x0B3D, 0x0B3D), (0x0B5C, 0x0B5D),
    (0x0B5F, 0x0B61), (0x0B66, 0x0B6F), (0x0B71, 0x0B77), (0x0B83, 0x0B83), (0x0B85, 0x0B8A),
    (0x0B8E, 0x0B90), (0x0B92, 0x0B95), (0x0B99, 0x0B9A), (0x0B9C, 0x0B9C), (0x0B9E, 0x0B9F),
    (0x0BA3, 0x0BA4), (0x0BA8, 0x0BAA), (0x0BAE, 0x0BB9), (0x0BD0, 0x0BD0), (0x0BE6, 0x0BF2),
    (0x0C05, 0x0C0C), (0x0C0E, 0x0C10), (0x0C12, 0x0C28), (0x0C2A, 0x0C39), (0x0C3D, 0x0C3D),
    (0x0C58, 0x0C5A), (0x0C5D, 0x0C5D), (0x0C60, 0x0C61), (0x0C66, 0x0C6F), (0x0C78, 0x0C7E),
    (0x0C80, 0x0C80), (0x0C85, 0x0C8C), (0x0C8E, 0x0C90), (0x0C92, 0x0CA8), (0x0CAA, 0x0CB3),
    (0x0CB5, 0x0CB9), (0x0CBD, 0x0CBD), (0x0CDD, 0x0CDE), (0x0CE0, 0x0CE1), (0x0CE6, 0x0CEF),
    (0x0CF1, 0x0CF2), (0x0D04, 0x0D0C), (0x0D0E, 0x0D10), (0x0D12, 0x0D3A), (0x0D3D, 0x0D3D),
    (0x0D4E, 0x0D4E), (0x0D54, 0x0D56), (0x0D58, 0x0D61), (0x0D66, 0x0D78), (0x0D7A, 0x0D7F),
    (0x0D85, 0x0D96), (0x0D9A, 0x0DB1), (0x0DB3, 0x0DBB), (0x0DBD, 0x0DBD), (0x0DC0, 0x0DC6),
    (0x0DE6, 0x0DEF), (0x0E01, 0x0E30), (0x0E32, 0x0E33), (0x0E40, 0x0E46), (0x0E50, 0x0E59),
    (0x0E81, 0x0E82), (0x0E84, 0x0E84), (0x0E86, 0x0E8A), (0x0E8C, 0x0EA3), (0x0EA5, 0x0EA5),
    (0x0EA7, 0x0EB0), (0x0EB2, 0x0EB3), (0x0EBD, 0x0EBD), (0x0EC0, 0x0EC4), (0x0EC6, 0x0EC6),
    (0x0ED0, 0x0ED9), (0x0EDC, 0x0EDF), (0x0F00, 0x0F00), (0x0F20, 0x0F33), (0x0F40, 0x0F47),
    (0x0F49, 0x0F6C), (0x0F88, 0x0F8C), (0x1000, 0x102A), (0x103F, 0x1049), (0x1050, 0x1055),
    (0x105A, 0x105D), (0x1061, 0x1061), (0x1065, 0x1066), (0x106E, 0x1070), (0x1075, 0x1081),
    (0x108E, 0x108E), (0x1090, 0x1099), (0x10A0, 0x10C5), (0x10C7, 0x10C7), (0x10CD, 0x10CD),
    (0x10D0, 0x10FA), (0x10FC, 0x1248), (0x124A, 0x124D), (0x1250, 0x1256), (0x1258, 0x1258),
    (0x125A, 0x125D), (0x1260, 0x1288), (0x128A, 0x128D), (0x1290, 0x12B0), (0x12B2, 0x12B5),
    (0x12B8, 0x12BE), (0x12C0, 0x12C0), (0x12C2, 0x12C5), (0x12C8, 0x12D6), (0x12D8, 0x1310),
    (0x1312, 0x1315), (0x1318, 0x135A), (0x1369, 0x137C), (0x1380, 0x138F), (0x13A0, 0x13F5),
    (0x13F8, 0x13FD), (0x1401, 0x166C), (0x166F, 0x167F), (0x1681, 0x169A), (0x16A0, 0x16EA),
    (0x16EE, 0x16F8), (0x1700, 0x1711), (0x171F, 0x1731), (0x1740, 0x1751), (0x1760, 0x176C),
    (0x176E, 0x1770), (0x1780, 0x17B3), (0x17D7, 0x17D7), (0x17DC, 0x17DC), (0x17E0, 0x17E9),
    (0x17F0, 0x17F9), (0x1810, 0x1819), (0x1820, 0x1878), (0x1880, 0x1884), (0x1887, 0x18A8),
    (0x18AA, 0x18AA), (0x18B0, 0x18F5), (0x1900, 0x191E), (0x1946, 0x196D), (0x1970, 0x1974),
    (0x1980, 0x19AB), (0x19B0, 0x19C9), (0x19D0, 0x19DA), (0x1A00, 0x1A16), (0x1A20, 0x1A54),
    (0x1A80, 0x1A89), (0x1A90, 0x1A99), (0x1AA7, 0x1AA7), (0x1B05, 0x1B33), (0x1B45, 0x1B4C),
    (0x1B50, 0x1B59), (0x1B83, 0x1BA0), (0x1BAE, 0x1BE5), (0x1C00, 0x1C23), (0x1C40, 0x1C49),
    (0x1C4D, 0x1C7D), (0x1C80, 0x1C88), (0x1C90, 0x1CBA), (0x1CBD, 0x1CBF), (0x1CE9, 0x1CEC),
    (0x1CEE, 0x1CF3), (0x1CF5, 0x1CF6), (0x1CFA, 0x1CFA), (0x1D00, 0x1DBF), (0x1E00, 0x1F15),
    (0x1F18, 0x1F1D), (0x1F20, 0x1F45), (0x1F48, 0x1F4D), (0x1F50, 0x1F57), (0x1F59, 0x1F59),
    (0x1F5B, 0x1F5B), (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D), (0x1F80, 0x1FB4), (0x1FB6, 0x1FBC),
    (0x1FBE, 0x1FBE), (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC), (0x1FD0, 0x1FD3), (0x1FD6, 0x1FDB),
    (0x1FE0, 0x1FEC), (0x1FF2, 0x1FF4), (0x1FF6, 0x1FFC), (0x2070, 0x2071), (0x2074, 0x2079),
    (0x207F, 0x2089), (0x2090, 0x209C), (0x2102, 0x2102), (0x2107, 0x2107), (0x210A, 0x2113),
    (0x2115, 0x2115), (0x2119, 0x211D), (0x2124, 0x2124), (0x2126, 0x2126), (0x2128, 0x2128),
    (0x212A, 0x212D), (0x212F, 0x2139), (0x213C, 0x213F), (0x2145, 0x2149), (0x214E, 0x214E),
    (0x2150, 0x2189), (0x2460, 0x249B), (0x24EA, 0x24FF), (0x2776, 0x2793), (0x2C00, 0x2CE4),
    (0x2CEB, 0x2CEE), (0x2CF2, 0x2CF3), (0x2CFD, 0x2CFD), (0x2D00, 0x2D25), (0x2D27, 0x2D27),
    (0x2D2D, 0x2D2D), (0x2D30, 0x2D67), (0x2D6F, 0x2D6F), (0x2D80, 0x2D96), (0x2DA0, 0x2DA6),
    (0x2DA8, 0x2DAE), (0x2DB0, 0x2DB6), (0x2DB8, 0x2DBE), (0x2DC0, 0x2DC6), (0x2DC8, 0x2DCE),
    (0x2DD0, 0x2DD6), (0x2DD8, 0x2DDE), (0x2E2F, 0x2E2F), (0x3005, 0x3007), (0x3021, 0x3029),
    (0x3031, 0x3035), (0x3038, 0x303C), (0x3041, 0x3096), (0x309D, 0x309F), (0x30A1, 0x30FA),
    (0x30FC, 0x30FF), (0x3105, 0x312F), (0x3131, 0x318E), (0x3192, 0x3195), (0x31A0, 0x31BF),
    (0x31F0, 0x31FF), (0x3220, 0x3229), (0x3248, 0x324F), (0x3251, 0x325F), (0x3280, 0x3289),
    (0x32B1, 0x32BF), (0x3400, 0x4DBF), (0x4E00, 0xA48C), (0xA4D0, 0xA4FD), (0xA500, 0xA60C),
    (0xA610, 0xA62B), (0xA640, 0xA66E), (0xA67F, 0xA69D), (0xA6A0, 0xA6EF), (0xA717, 0xA71F),
    (0xA722, 0xA788), (0xA78B, 0xA7CA), (0xA7D0, 0xA7D1), (0xA7D3, 0xA7D3), (0xA7D5, 0xA7D9),
    (0xA7F2, 0xA801), (0xA803, 0xA805), (0xA807, 0xA80A), (0xA80C, 0xA822), (0xA830, 0xA835),
    (0xA840, 0xA873), (0xA882, 0xA8B3), (0xA8D0, 0xA8D9), (0xA8F2, 0xA8F7), (0xA8FB, 0xA8FB),
    (0xA8FD, 0xA8FE), (0xA900, 0xA925), (0xA930, 0xA946), (0xA960, 0xA97C), (0xA984, 0xA9B2),
    (0xA9CF, 0xA9D9), (0xA9E0, 0xA9E4), (0xA9E6, 0xA9FE), (0xAA00, 0xAA28), (0xAA40, 0xAA42),
    (0xAA44, 0xAA4B), (0xAA50, 0xAA59), (0xAA60, 0xAA76), (0xAA7A, 0xAA7A), (0xAA7E, 0xAAAF),
    (0xAAB1, 0xAAB1), (0xAAB5, 0xAAB6), (0xAAB9, 0xAABD), (0xAAC0, 0xAAC0), (0xAAC2, 0xAAC2),
    (0xAADB, 0xAADD), (0xAAE0, 0xAAEA), (0xAAF2, 0xAAF4), (0xAB01, 0xAB06), (0xAB09, 0xAB0E),
    (0xAB11, 0xAB16), (0xAB20, 0xAB26), (0xAB28, 0xAB2E), (0xAB30, 0xAB5A), (0xAB5C, 0xAB69),
    (0xAB70, 0xABE2), (0xABF0, 0xABF9), (0xAC00, 0xD7A3), (0xD7B0, 0xD7C6), (0xD7CB, 0xD7FB),
    (0xF900, 0xFA6D), (0xFA70, 0xFAD9), (0xFB00, 0xFB06), (0xFB13, 0xFB17), (0xFB1D, 0xFB1D),
    (0xFB1F, 0xFB28), (0xFB2A, 0xFB36), (0xFB38, 0xFB3C), (0xFB3E, 0xFB3E), (0xFB40, 0xFB41),
    (0xFB43, 0xFB44), (0xFB46, 0xFBB1), (0xFBD3, 0xFD3D), (0xFD50, 0xFD8F), (0xFD92, 0xFDC7),
    (0xFDF0, 0xFDFB), (0xFE70, 0xFE74), (0xFE76, 0xFEFC), (0xFF10, 0xFF19), (0xFF21, 0xFF3A),
    (0xFF41, 0xFF5A), (0xFF66, 0xFFBE), (0xFFC2, 0xFFC7), (0xFFCA, 0xFFCF), (0xFFD2, 0xFFD7),
    (0xFFDA, 0xFFDC), (0x10000, 0x1000B), (0x1000D, 0x10026), (0x10028, 0x1003A), (0x1003C, 0x1003D),
    (0x1003F, 0x1004D), (0x10050, 0x1005D), (0x10080, 0x100FA), (0x10107, 0x10133), (0x10140, 0x10178),
    (0x1018A, 0x1018B), (0x10280, 0x1029C), (0x102A0, 0x102D0), (0x102E1, 0x102FB), (0x10300, 0x10323),
    (0x1032D, 0x1034A), (0x10350, 0x10375), (0x10380, 0x1039D), (0x103A0, 0x103C3), (0x103C8, 0x103CF),
    (0x103D1, 0x103D5), (0x10400, 0x1049D), (0x104A0, 0x104A9), (0x104B0, 0x104D3), (0x104D8, 0x104FB),
    (0x10500, 0x10527), (0x10530, 0x10563), (0x10570, 0x1057A), (0x1057C, 0x1058A), (0x1058C, 0x10592),
    (0x10594, 0x10595), (0x10597, 0x105A1), (0x105A3, 0x105B1), (0x105B3, 0x105B9), (0x105BB, 0x105BC),
    (0x10600, 0x10736), (0x10740, 0x10755), (0x10760, 0x10767), (0x10780, 0x10785), (0x10787, 0x107B0),
    (0x107B2, 0x107BA), (0x10800, 0x10805), (0x10808, 0x10808), (0x1080A, 0x10835), (0x10837, 0x10838),
    (0x1083C, 0x1083C), (0x1083F, 0x10855), (0x10858, 0x10876), (0x10879, 0x1089E), (0x108A7, 0x108AF),
    (0x108E0, 0x108F2), (0x108F4, 0x108F5), (0x108FB, 0x1091B), (0x10920, 0x10939), (0x10980, 0x109B7),
    (0x109BC, 0x109CF), (0x109D2, 0x10A00), (0x10A10, 0x10A13), (0x10A15, 0x10A17), (0x10A19, 0x10A35),
    (0x10A40, 0x10A48), (0x10A60, 0x10A7E), (0x10A80, 0x10A9F), (0x10AC0, 0x10AC7), (0x10AC9, 0x10AE4),
    (0x10AEB, 0x10AEF), (0x10B00, 0x10B35), (0x10B40, 0x10B55), (0x10B58, 0x10B72), (0x10B78, 0x10B91),
    (0x10BA9, 0x10BAF), (0x10C00, 0x10C48), (0x10C80, 0x10CB2), (0x10CC0, 0x10CF2), (0x10CFA, 0x10D23),
    (0x10D30, 0x10D39), (0x10E60, 0x10E7E), (0x10E80, 0x10EA9), (0x10EB0, 0x10EB1), (0x10F00, 0x10F27),
    (0x10F30, 0x10F45), (0x10F51, 0x10F54), (0x10F70, 0x10F81), (0x10FB0, 0x10FCB), (0x10FE0, 0x10FF6),
    (0x11003, 0x11037), (0x11052, 0x1106F), (0x11071, 0x11072), (0x11075, 0x11075), (0x11083, 0x110AF),
    (0x110D0, 0x110E8), (0x110F0, 0x110F9), (0x11103, 0x11126), (0x11136, 0x1113F), (0x11144, 0x11144),
    (0x11147, 0x11147), (0x11150, 0x11172), (0x11176, 0x11176), (0x11183, 0x111B2), (0x111C1, 0x111C4),
    (0x111D0, 0x111DA), (0x111DC, 0x111DC), (0x111E1, 0x111F4), (0x11200, 0x11211), (0x11213, 0x1122B),
    (0x11280, 0x11286), (0x11288, 0x11288), (0x1128A, 0x1128D), (0x1128F, 0x1129D), (0x1129F, 0x112A8),
    (0x112B0, 0x112DE), (0x112F0, 0x112F9), (0x11305, 0x1130C), (0x1130F, 0x11310), (0x11313, 0x11328),
    (0x1132A, 0x11330), (0x11332, 0x11333), (0x11335, 0x11339), (0x1133D, 0x1133D), (0x11350, 0x11350),
    (0x1135D, 0x11361), (0x11400, 0x11434), (0x11447, 0x1144A), (0x11450, 0x11459), (0x1145F, 0x11461),
    (0x11480, 0x114AF), (0x114C4, 0x114C5), (0x114C7, 0x114C7), (0x114D0, 0x114D9), (0x11580, 0x115AE),
    (0x115D8, 0x115DB), (0x11600, 0x1162F), (0x11644, 0x11644), (0x11650, 0x11659), (0x11680, 0x116AA),
    (0x116B8, 0x116B8), (0x116C0, 0x116C9), (0x11700, 0x1171A), (0x11730, 0x1173B), (0x11740, 0x11746),
    (0x11800, 0x1182B), (0x118A0, 0x118F2), (0x118FF, 0x11906), (0x11909, 0x11909), (0x1190C, 0x11913),
    (0x11915, 0x11916), (0x11918, 0x1192F), (0x1193F, 0x1193F), (0x11941, 0x11941), (0x11950, 0x11959),
    (0x119A0, 0x119A7), (0x119AA, 0x119D0), (0x119E1, 0x119E1), (0x119E3, 0x119E3), (0x11A00, 0x11A00),
    (0x11A0B, 0x11A32), (0x11A3A, 0x11A3A), (0x11A50, 0x11A50), (0x11A5C, 0x11A89), (0x11A9D, 0x11A9D),
    (0x11AB0, 0x11AF8), (0x11C00, 0x11C08), (0x11C0A, 0x11C2E), (0x11C40, 0x11C40), (0x11C50, 0x11C6C),
    (0x11C72, 0x11C8F), (0x11D00, 0x11D06), (0x11D08, 0x11D09), (0x11D0B, 0x11D30), (0x11D46, 0x11D46),
    (0x11D50, 0x11D59), (0x11D60, 0x11D65), (0x11D67, 0x11D68), (0x11D6A, 0x11D89), (0x11D98, 0x11D98),
    (0x11DA0, 0x11DA9), (0x11EE0, 0x11EF2), (0x11FB0, 0x11FB0), (0x11FC0, 0x11FD4), (0x12000, 0x12399),
    (0x12400, 0x1246E), (0x12480, 0x12543), (0x12F90, 0x12FF0), (0x13000, 0x1342E), (0x14400, 0x14646),
    (0x16800, 0x16A38), (0x16A40, 0x16A5E), (0x16A60, 0x16A69), (0x16A70, 0x16ABE), (0x16AC0, 0x16AC9),
    (0x16AD0, 0x16AED), (0x16B00, 0x16B2F), (0x16B40, 0x16B43), (0x16B50, 0x16B59), (0x16B5B, 0x16B61),
    (0x16B63, 0x16B77), (0x16B7D, 0x16B8F), (0x16E40, 0x16E96), (0x16F00, 0x16F4A), (0x16F50, 0x16F50),
    (0x16F93, 0x16F9F), (0x16FE0, 0x16FE1), (0x16FE3, 0x16FE3), (0x17000, 0x187F7), (0x18800, 0x18CD5),
    (0x18D00, 0x18D08), (0x1AFF0, 0x1AFF3), (0x1AFF5, 0x1AFFB), (0x1AFFD, 0x1AFFE), (0x1B000, 0x1B122),
    (0x1B150, 0x1B152), (0x1B164, 0x1B167), (0x1B170, 0x1B2FB), (0x1BC00, 0x1BC6A), (0x1BC70, 0x1BC7C),
    (0x1BC80, 0x1BC88), (0x1BC90, 0x1BC99), (0x1D2E0, 0x1D2F3), (0x1D360, 0x1D378), (0x1D400, 0x1D454),
    (0x1D456, 0x1D49C), (0x1D49E, 0x1D49F), (0x1D4A2, 0x1D4A2), (0x1D4A5, 0x1D4A6), (0x1D4A9, 0x1D4AC),
    (0x1D4AE, 0x1D4B9), (0x1D4BB, 0x1D4BB), (0x1D4BD, 0x1D4C3), (0x1D4C5, 0x1D505), (0x1D507, 0x1D50A),
    (0x1D50D, 0x1D514), (0x1D516, 0x1D51C), (0x1D51E, 0x1D539), (0x1D53B, 0x1D53E), (0x1D540, 0x1D544),
    (0x1D546, 0x1D546), (0x1D54A, 0x1D550), (0x1D552, 0x1D6A5), (0x1D6A8, 0x1D6C0), (0x1D6C2, 0x1D6DA),
    (0x1D6DC, 0x1D6FA), (0x1D6FC, 0x1D714), (0x1D716, 0x1D734), (0x1D736, 0x1D74E), (0x1D750, 0x1D76E),
    (0x1D770, 0x1D788), (0x1D78A, 0x1D7A8), (0x1D7AA, 0x1D7C2), (0x1D7C4, 0x1D7CB), (0x1D7CE, 0x1D7FF),
    (0x1DF00, 0x1DF1E), (0x1E100, 0x1E12C), (0x1E137, 0x1E13D), (0x1E140, 0x1E149), (0x1E14E, 0x1E14E),
    (0x1E290, 0x1E2AD), (0x1E2C0, 0x1E2EB), (0x1E2F0, 0x1E2F9), (0x1E7E0, 0x1E7E6), (0x1E7E8, 0x1E7EB),
    (0x1E7ED, 0x1E7EE), (0x1E7F0, 0x1E7FE), (0x1E800, 0x1E8C4), (0x1E8C7, 0x1E8CF), (0x1E900, 0x1E943),
    (0x1E94B, 0x1E94B), (0x1E950, 0x1E959), (0x1EC71, 0x1ECAB), (0x1ECAD, 0x1ECAF), (0x1ECB1, 0x1ECB4),
    (0x1ED01, 0x1ED2D), (0x1ED2F, 0x1ED3D), (0x1EE00, 0x1EE03), (0x1EE05, 0x1EE1F), (0x1EE21, 0x1EE22),
    (0x1EE24, 0x1EE24), (0x1EE27, 0x1EE27), (0x1EE29, 0x1EE32), (0x1EE34, 0x1EE37), (0x1EE39, 0x1EE39),
    (0x1EE3B, 0x1EE3B), (0x1EE42, 0x1EE42), (0x1EE47, 0x1EE47), (0x1EE49, 0x1EE49), (0x1EE4B, 0x1EE4B),
    (0x1EE4D, 0x1EE4F), (0x1EE51, 0x1EE52), (0x1EE54, 0x1EE54), (0x1EE57, 0x1EE57), (0x1EE59, 0x1EE59),
    (0x1EE5B, 0x1EE5B), (0x1EE5D, 0x1EE5D), (0x1EE5F, 0x1EE5F), (0x1EE61, 0x1EE62), (0x1EE64, 0x1EE64),
    (0x1EE67, 0x1EE6A), (0x1EE6C, 0x1EE72), (0x1EE74, 0x1EE77), (0x1EE79, 0x1EE7C), (0x1EE7E, 0x1EE7E),
    (0x1EE80, 0x1EE89), (0x1EE8B, 0x1EE9B), (0x1EEA1, 0x1EEA3), (0x1EEA5, 0x1EEA9), (0x1EEAB, 0x1EEBB),
    (0x1F100, 0x1F10C), (0x1FBF0, 0x1FBF9), (0x20000, 0x2A6DF), (0x2A700, 0x2B738), (0x2B740, 0x2B81D),
    (0x2B820, 0x2CEA1), (0x2CEB0, 0x2EBE0), (0x2F800, 0x2FA1D), (0x30000, 0x3134A),
];

/// The code points of Python's `str.isdigit()` (Numeric_Type Decimal or Digit).
#[rustfmt::skip]
const DIGIT: &[(u32, u32)] = &[
    (0x0030, 0x0039), (0x00B2, 0x00B3), (0x00B9, 0x00B9), (0x0660, 0x0669), (0x06F0, 0x06F9),
    (0x07C0, 0x07C9), (0x0966, 0x096F), (0x09E6, 0x09EF), (0x0A66, 0x0A6F), (0x0AE6, 0x0AEF),
    (0x0B66, 0x0B6F), (0x0BE6, 0x0BEF), (0x0C66, 0x0C6F), (0x0CE6, 0x0CEF), (0x0D66, 0x0D6F),
    (0x0DE6, 0x0DEF), (0x0E50, 0x0E59), (0x0ED0, 0x0ED9), (0x0F20, 0x0F29), (0x1040, 0x1049),
    (0x1090, 0x1099), (0x1369, 0x1371), (0x17E0, 0x17E9), (0x1810, 0x1819), (0x1946, 0x194F),
    (0x19D0, 0x19DA), (0x1A80, 0x1A89), (0x1A90, 0x1A99), (0x1B50, 0x1B59), (0x1BB0, 0x1BB9),
    (0x1C40, 0x1C49), (0x1C50, 0x1C59), (0x2070, 0x2070), (0x2074, 0x2079), (0x2080, 0x2089),
    (0x2460, 0x2468), (0x2474, 0x247C), (0x2488, 0x2490), (0x24EA, 0x24EA), (0x24F5, 0x24FD),
    (0x24FF, 0x24FF), (0x2776, 0x277E), (0x2780, 0x2788), (0x278A, 0x2792), (0xA620, 0xA629),
    (0xA8D0, 0xA8D9), (0xA900, 0xA909), (0xA9D0, 0xA9D9), (0xA9F0, 0xA9F9), (0xAA50, 0xAA59),
    (0xABF0, 0xABF9), (0xFF10, 0xFF19), (0x104A0, 0x104A9), (0x10A40, 0x10A43), (0x10D30, 0x10D39),
    (0x10E60, 0x10E68), (0x11052, 0x1105A), (0x11066, 0x1106F), (0x110F0, 0x110F9), (0x11136, 0x1113F),
    (0x111D0, 0x111D9), (0x112F0, 0x112F9), (0x11450, 0x11459), (0x114D0, 0x114D9), (0x11650, 0x11659),
    (0x116C0, 0x116C9), (0x11730, 0x11739), (0x118E0, 0x118E9), (0x11950, 0x11959), (0x11C50, 0x11C59),
    (0x11D50, 0x11D59), (0x11DA0, 0x11DA9), (0x16A60, 0x16A69), (0x16AC0, 0x16AC9), (0x16B50, 0x16B59),
    (0x1D7CE, 0x1D7FF), (0x1E140, 0x1E149), (0x1E2F0, 0x1E2F9), (0x1E950, 0x1E959), (0x1F100, 0x1F10A),
    (0x1FBF0, 0x1FBF9),
];
// END GENERATED TABLES

#[cfg(test)]
mod tests {
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
                "\u{ff13}\u{ff11}\u{ff14}\u{ff11}\u{ff15}\u{ff19}\u{ff12}\u{ff16}\u{ff15}"
                    .to_owned(),
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
                "\u{1f512}\u{1f511}\u{1f512}\u{1f511}\u{1f512}\u{1f511}\u{1f512}\u{1f511}"
                    .to_owned(),
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
                "\u{6771}\u{4eac}\u{5927}\u{962a}\u{540d}\u{53e4}\u{5c4b}\u{798f}\u{5ca1}"
                    .to_owned(),
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
}
