//! The one secret masker: every text that may hold a secret (diffs, plans, a
//! validator's message) goes through [`mask`] before it is shown.

/// What a secret value is replaced with.
pub const MASK: &str = "********";

/// Replace every secret value in `text` with [`MASK`]: the known values, and the value
/// of any key that names a secret (so the *previous* secret on disk, which monstack no
/// longer knows, is not shown either).
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), MASK);
    }
    let mut masked = String::with_capacity(out.len());
    for line in out.split_inclusive('\n') {
        masked.push_str(&mask_secret_key(line));
    }
    masked
}

/// `  smtp_auth_password: xyz` -> `  smtp_auth_password: ********`.
fn mask_secret_key(line: &str) -> String {
    const KEYS: [&str; 5] = ["password", "secret", "token", "api_key", "credentials"];
    let Some((key, value)) = line.split_once(':') else { return line.to_string() };
    let k = key.trim().trim_start_matches("- ").trim_matches(['"', '\'']).to_ascii_lowercase();
    let v = value.trim();
    if v.is_empty() || v == MASK || !KEYS.iter().any(|s| k.ends_with(s)) || k.ends_with("_file") {
        return line.to_string();
    }
    let nl = if line.ends_with('\n') { "\n" } else { "" };
    format!("{key}: {MASK}{nl}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_and_secret_keys_are_masked() {
        let s = vec!["hunter2".to_string()];
        assert_eq!(mask("undefined receiver \"hunter2\"", &s), "undefined receiver \"********\"");
        assert_eq!(mask("  api_key: abc\nurl: x\n", &[]), "  api_key: ********\nurl: x\n");
        assert_eq!(mask("password_file: /x\n", &[]), "password_file: /x\n");
        assert_eq!(mask("a: hunter2", &[String::new()]), "a: hunter2");
    }
}
