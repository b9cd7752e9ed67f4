//! The rules of feature flags: where a ramp stands at a time, which keys get a flag, and what
//! a flag's name and key lists may hold.
//!
//! A key's bucket is a stable number in [0, 1) from the flag's name and the key: the first
//! eight bytes of SHA-256(`flag:key`) read as a big-endian integer, over 2^64. A key gets the
//! flag when its bucket is below the rollout, so a key that is in at 10% is still in at 20%,
//! and each flag splits keys independently of the others. Applications can compute the same
//! bucket themselves from this description.

use crate::model::{FlagSetting, Ramp, RampShape};
use serde::{Deserialize, Serialize};

/// Rollouts are served to 1/10,000 (0.01%): a ramp moves in steps a client can cache.
const GRAIN: f64 = 10_000.0;

/// The longest flag name, and the longest key in an allow or deny list.
pub const MAX_FLAG_KEY: usize = 64;
pub const MAX_KEY: usize = 200;
/// Keys per allow or deny list.
pub const MAX_KEYS: usize = 1_000;

fn grain(x: f64) -> f64 {
    (x.clamp(0.0, 1.0) * GRAIN).round() / GRAIN
}

impl Ramp {
    /// The rollout this ramp gives at `now`.
    pub fn at(&self, now: i64) -> f64 {
        let span = (self.ends_at - self.starts_at).max(1) as f64;
        let done = ((now - self.starts_at) as f64 / span).clamp(0.0, 1.0);
        let done = match self.shape {
            RampShape::Linear => done,
            RampShape::Steps(n) => {
                let n = n.max(1) as f64;
                (done * n).floor() / n
            }
        };
        grain(self.from + (self.to - self.from) * done)
    }

    /// The ramp in words: `0% → 100% linearly over 7 days from 2026-11-24 09:00 UTC`.
    pub fn describe(&self) -> String {
        let how = match self.shape {
            RampShape::Linear => "linearly".to_string(),
            RampShape::Steps(1) => "in one step".to_string(),
            RampShape::Steps(n) => format!("in {n} steps"),
        };
        format!(
            "{} → {} {how} over {} from {}",
            share(self.from),
            share(self.to),
            span_words(self.ends_at - self.starts_at),
            crate::logic::time::format_utc(self.starts_at)
        )
    }
}

/// A fraction as a percentage with no more digits than it has: `30%`, `12.5%`, `0.01%`.
pub fn share(x: f64) -> String {
    let text = format!("{:.2}", x * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

fn span_words(ms: i64) -> String {
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    if ms % DAY == 0 {
        let d = ms / DAY;
        format!("{d} day{}", if d == 1 { "" } else { "s" })
    } else if ms % HOUR == 0 {
        let h = ms / HOUR;
        format!("{h} hour{}", if h == 1 { "" } else { "s" })
    } else {
        format!("{} min", ms / 60_000)
    }
}

/// The share of keys that get the flag at `now` (0 when the flag is off), to 1/10,000.
pub fn rollout_at(s: &FlagSetting, now: i64) -> f64 {
    if !s.enabled {
        return 0.0;
    }
    match &s.ramp {
        Some(r) => r.at(now),
        None => grain(s.rollout),
    }
}

/// Why a key gets a flag or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// The flag is off in this environment.
    Off,
    /// The key is on the deny list.
    Denied,
    /// The key is on the allow list.
    Allowed,
    /// The key's bucket is below the rollout.
    InRollout,
    /// The key's bucket is at or above the rollout.
    OutOfRollout,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Off => "off",
            Reason::Denied => "denied",
            Reason::Allowed => "allowed",
            Reason::InRollout => "in_rollout",
            Reason::OutOfRollout => "out_of_rollout",
        }
    }

    pub fn on(self) -> bool {
        matches!(self, Reason::Allowed | Reason::InRollout)
    }
}

/// Whether the key with `bucket` gets the flag at `rollout` (from [`rollout_at`]).
pub fn decide(s: &FlagSetting, key: &str, bucket: f64, rollout: f64) -> Reason {
    if !s.enabled {
        Reason::Off
    } else if s.deny.iter().any(|k| k == key) {
        Reason::Denied
    } else if s.allow.iter().any(|k| k == key) {
        Reason::Allowed
    } else if bucket < rollout {
        Reason::InRollout
    } else {
        Reason::OutOfRollout
    }
}

/// Whether every key gets the flag (what a caller that names no key is told): on, at 100%,
/// with nobody denied.
pub fn on_for_all(s: &FlagSetting, rollout: f64) -> bool {
    s.enabled && rollout >= 1.0 && s.deny.is_empty()
}

/// The bucket of `key` for `flag`, in [0, 1).
#[cfg(feature = "ssr")]
pub fn bucket(flag: &str, key: &str) -> f64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(flag.as_bytes());
    h.update(b":");
    h.update(key.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    // 53 bits keep the quotient exact in an f64 and strictly below 1.
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// A flag's name: 1–64 of lowercase letters, digits, `-`, `_` and `.`, starting with a letter
/// or digit.
pub fn check_flag_key(text: &str) -> Result<String, String> {
    let k = text.trim();
    if k.is_empty() {
        return Err("a flag needs a name".into());
    }
    if k.len() > MAX_FLAG_KEY {
        return Err(format!(
            "a flag's name has at most {MAX_FLAG_KEY} characters"
        ));
    }
    let ok = k
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    let first_ok = k.as_bytes()[0].is_ascii_alphanumeric();
    if !ok || !first_ok {
        return Err(format!(
            "`{k}`: a flag's name is lowercase letters, digits, '-', '_' and '.', starting with a letter or digit"
        ));
    }
    Ok(k.to_string())
}

/// An allow or deny list from text: keys separated by new lines or commas, blanks dropped,
/// duplicates kept once, in the order given.
pub fn parse_keys(text: &str, list: &str) -> Result<Vec<String>, String> {
    let mut keys: Vec<String> = Vec::new();
    for raw in text.split(['\n', ',']) {
        let k = raw.trim();
        if k.is_empty() || keys.iter().any(|x| x == k) {
            continue;
        }
        if k.len() > MAX_KEY {
            return Err(format!(
                "{list}: `{}…` is longer than {MAX_KEY} characters",
                k.chars().take(20).collect::<String>()
            ));
        }
        if k.chars().any(char::is_control) {
            return Err(format!("{list}: a key may not hold control characters"));
        }
        keys.push(k.to_string());
        if keys.len() > MAX_KEYS {
            return Err(format!("{list}: at most {MAX_KEYS} keys"));
        }
    }
    Ok(keys)
}

/// A fraction checked to lie in [0, 1].
pub fn check_fraction(x: f64, field: &str) -> Result<f64, String> {
    if x.is_finite() && (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!("{field}: a fraction from 0 to 1 (got {x})"))
    }
}

/// Checks a ramp's shares, its span and its number of steps.
pub fn check_ramp(r: &Ramp) -> Result<(), String> {
    check_fraction(r.from, "ramp from")?;
    check_fraction(r.to, "ramp to")?;
    if r.ends_at <= r.starts_at {
        return Err("ramp: the end must come after the start".into());
    }
    if let RampShape::Steps(n) = r.shape {
        if !(1..=100).contains(&n) {
            return Err(format!("ramp: from 1 to 100 steps (got {n})"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(enabled: bool, rollout: f64) -> FlagSetting {
        FlagSetting {
            enabled,
            rollout,
            ..FlagSetting::unset("staging")
        }
    }

    const DAY: i64 = 86_400_000;

    #[test]
    fn a_linear_ramp_climbs_evenly_and_holds_at_both_ends() {
        let r = Ramp {
            shape: RampShape::Linear,
            from: 0.0,
            to: 1.0,
            starts_at: 10 * DAY,
            ends_at: 17 * DAY,
        };
        assert_eq!(r.at(0), 0.0);
        assert_eq!(r.at(10 * DAY), 0.0);
        assert_eq!(r.at(10 * DAY + DAY * 7 / 2), 0.5);
        assert_eq!(r.at(11 * DAY), grain(1.0 / 7.0));
        assert_eq!(r.at(17 * DAY), 1.0);
        assert_eq!(r.at(40 * DAY), 1.0);
        assert_eq!(
            r.describe(),
            "0% → 100% linearly over 7 days from 1970-01-11 00:00 UTC"
        );
    }

    #[test]
    fn a_stepped_ramp_moves_only_at_its_steps() {
        let r = Ramp {
            shape: RampShape::Steps(4),
            from: 0.1,
            to: 0.9,
            starts_at: 0,
            ends_at: 4 * DAY,
        };
        assert_eq!(r.at(0), 0.1);
        assert_eq!(r.at(DAY - 1), 0.1);
        assert_eq!(r.at(DAY), 0.3);
        assert_eq!(r.at(3 * DAY + DAY / 2), 0.7);
        assert_eq!(r.at(4 * DAY), 0.9);
        // A ramp may also lower a rollout.
        let down = Ramp {
            from: 1.0,
            to: 0.0,
            ..r
        };
        assert_eq!(down.at(2 * DAY), 0.5);
    }

    #[test]
    fn shares_print_without_trailing_zeros() {
        assert_eq!(share(0.3), "30%");
        assert_eq!(share(0.125), "12.5%");
        assert_eq!(share(0.0001), "0.01%");
        assert_eq!(share(1.0), "100%");
        assert_eq!(share(0.0), "0%");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn buckets_are_stable_spread_and_monotone_in_the_rollout() {
        // Fixed values: a change of the hashing would move every user of every flag.
        assert_eq!(
            bucket("checkout-v2", "user-1"),
            bucket("checkout-v2", "user-1")
        );
        assert_ne!(
            bucket("checkout-v2", "user-1"),
            bucket("checkout-v3", "user-1")
        );
        let keys: Vec<String> = (0..20_000).map(|i| format!("user-{i}")).collect();
        let buckets: Vec<f64> = keys.iter().map(|k| bucket("checkout-v2", k)).collect();
        assert!(buckets.iter().all(|b| (0.0..1.0).contains(b)));
        for share in [0.1, 0.3, 0.5] {
            let n = buckets.iter().filter(|b| **b < share).count() as f64 / keys.len() as f64;
            assert!((n - share).abs() < 0.015, "{share}: {n}");
        }
        // In at 10% means in at 20%.
        let s10 = setting(true, 0.1);
        let s20 = setting(true, 0.2);
        for (k, b) in keys.iter().zip(&buckets) {
            if decide(&s10, k, *b, 0.1).on() {
                assert!(decide(&s20, k, *b, 0.2).on());
            }
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_bucket_follows_the_documented_recipe() {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(b"phase-4-deployment:user-42");
        let n = u64::from_be_bytes(d[..8].try_into().unwrap());
        let expected = (n >> 11) as f64 / (1u64 << 53) as f64;
        assert_eq!(bucket("phase-4-deployment", "user-42"), expected);
        assert!((expected - n as f64 / 2f64.powi(64)).abs() < 1e-15);
    }

    #[test]
    fn deny_beats_allow_and_off_beats_both() {
        let mut s = setting(true, 0.0);
        s.allow = vec!["qa-1".into(), "qa-2".into()];
        s.deny = vec!["qa-2".into()];
        assert_eq!(decide(&s, "qa-1", 0.99, 0.0), Reason::Allowed);
        assert_eq!(decide(&s, "qa-2", 0.0, 1.0), Reason::Denied);
        assert_eq!(decide(&s, "other", 0.5, 0.0), Reason::OutOfRollout);
        assert_eq!(decide(&s, "other", 0.5, 0.6), Reason::InRollout);
        s.enabled = false;
        assert_eq!(decide(&s, "qa-1", 0.0, 1.0), Reason::Off);
        assert_eq!(rollout_at(&s, 0), 0.0);
    }

    #[test]
    fn on_for_all_needs_everyone() {
        let mut s = setting(true, 1.0);
        assert!(on_for_all(&s, rollout_at(&s, 0)));
        s.deny = vec!["x".into()];
        assert!(!on_for_all(&s, 1.0));
        assert!(!on_for_all(&setting(true, 0.9999), 0.9999));
        assert!(!on_for_all(&setting(false, 1.0), 0.0));
    }

    #[test]
    fn names_and_lists_are_checked() {
        assert_eq!(
            check_flag_key(" phase-4.deploy_x ").unwrap(),
            "phase-4.deploy_x"
        );
        assert!(check_flag_key("").is_err());
        assert!(check_flag_key("Phase4").is_err());
        assert!(check_flag_key("-x").is_err());
        assert!(check_flag_key(&"a".repeat(65)).is_err());
        assert_eq!(
            parse_keys("a, b\n\n a \r\nc", "allow").unwrap(),
            vec!["a", "b", "c"]
        );
        assert!(parse_keys(&"k".repeat(201), "deny")
            .unwrap_err()
            .starts_with("deny: "));
        let many: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
        assert!(parse_keys(&many.join("\n"), "allow").is_err());
        assert!(check_fraction(1.2, "rollout").is_err());
        assert!(check_fraction(f64::NAN, "rollout").is_err());
    }
}
