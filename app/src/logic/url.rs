//! Building URLs from user input.

/// Percent-encodes a query-string value (everything but unreserved characters and `/`).
pub fn encode_query_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_separators_and_non_ascii_but_keeps_paths_readable() {
        assert_eq!(encode_query_value("/settings/users"), "/settings/users");
        assert_eq!(encode_query_value("a&b=c #d"), "a%26b%3Dc%20%23d");
        assert_eq!(encode_query_value("Inés"), "In%C3%A9s");
    }
}
