//! Login throttling: how long a sign-in must wait, or whether it is locked, after failures.
//!
//! Failures are counted per account name (existing or not, so the answer reveals nothing) and
//! per client address, over a sliding window.

/// The policy's knobs; [`Default`] gives the console's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures older than this do not count.
    pub window_ms: i64,
    /// Failures of one account before each further try is delayed.
    pub slow_after: i64,
    /// Failures of one account that lock it.
    pub account_lock_after: i64,
    /// Failures from one address that lock the address.
    pub address_lock_after: i64,
    /// How long a lock lasts after the newest failure.
    pub lock_ms: i64,
    /// The longest delay before answering a slowed-down try.
    pub max_delay_ms: u64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            window_ms: 15 * 60 * 1000,
            slow_after: 3,
            account_lock_after: 5,
            address_lock_after: 20,
            lock_ms: 15 * 60 * 1000,
            max_delay_ms: 4_000,
        }
    }
}

/// What to do with a sign-in attempt before checking its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the password, after waiting this many milliseconds (0 = at once).
    Proceed { delay_ms: u64 },
    /// Refuse without checking; retry after this many milliseconds.
    Locked { retry_after_ms: i64 },
}

impl ThrottlePolicy {
    /// Decides from the failure counts inside the window and the time of the newest of each.
    pub fn verdict(
        &self,
        now_ms: i64,
        account_failures: i64,
        last_account_failure: Option<i64>,
        address_failures: i64,
        last_address_failure: Option<i64>,
    ) -> Verdict {
        let lock_left = |last: Option<i64>| last.map(|t| t + self.lock_ms - now_ms).unwrap_or(0);
        let mut retry = 0;
        if account_failures >= self.account_lock_after {
            retry = retry.max(lock_left(last_account_failure));
        }
        if address_failures >= self.address_lock_after {
            retry = retry.max(lock_left(last_address_failure));
        }
        if retry > 0 {
            return Verdict::Locked {
                retry_after_ms: retry,
            };
        }
        if account_failures >= self.slow_after {
            let steps = (account_failures - self.slow_after).min(16) as u32;
            let delay = 500u64.saturating_mul(1u64 << steps).min(self.max_delay_ms);
            return Verdict::Proceed { delay_ms: delay };
        }
        Verdict::Proceed { delay_ms: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn first_failures_are_answered_at_once() {
        let p = ThrottlePolicy::default();
        assert_eq!(
            p.verdict(0, 2, Some(0), 2, Some(0)),
            Verdict::Proceed { delay_ms: 0 }
        );
    }

    #[test]
    fn repeated_failures_slow_down_with_a_capped_delay() {
        let p = ThrottlePolicy::default();
        assert_eq!(
            p.verdict(0, 3, Some(0), 3, Some(0)),
            Verdict::Proceed { delay_ms: 500 }
        );
        assert_eq!(
            p.verdict(0, 4, Some(0), 4, Some(0)),
            Verdict::Proceed { delay_ms: 1000 }
        );
        let capped = ThrottlePolicy {
            account_lock_after: 100,
            ..p
        };
        assert_eq!(
            capped.verdict(0, 50, Some(0), 0, None),
            Verdict::Proceed { delay_ms: 4000 }
        );
    }

    #[test]
    fn an_account_locks_after_five_failures_until_fifteen_minutes_pass() {
        let p = ThrottlePolicy::default();
        assert_eq!(
            p.verdict(MIN, 5, Some(0), 5, Some(0)),
            Verdict::Locked {
                retry_after_ms: 14 * MIN
            }
        );
        assert_eq!(
            p.verdict(15 * MIN, 5, Some(0), 5, Some(0)),
            Verdict::Proceed { delay_ms: 2000 }
        );
    }

    #[test]
    fn an_address_spraying_many_accounts_is_locked() {
        let p = ThrottlePolicy::default();
        assert_eq!(
            p.verdict(0, 1, Some(0), 20, Some(0)),
            Verdict::Locked {
                retry_after_ms: 15 * MIN
            }
        );
    }
}
