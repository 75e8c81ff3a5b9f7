//! The percent-encodings the two signature algorithms define. Both keep only `A-Za-z0-9-_.~`;
//! SigV4 keeps `/` in paths.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Query values may also use `+` for a space (HTML forms, some SDKs).
pub fn decode_query(s: &str) -> String {
    decode(&s.replace('+', "%20"))
}

/// Everything but the unreserved characters, `/` included.
pub fn strict(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// As [`strict`], keeping `/` (SigV4 canonical URI).
pub fn path(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED_AND_SLASH).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(strict("a b/c~d*"), "a%20b%2Fc~d%2A");
        assert_eq!(path("/up/a b+c.jpg"), "/up/a%20b%2Bc.jpg");
        assert_eq!(decode_query("a+b%2B"), "a b+");
    }
}
