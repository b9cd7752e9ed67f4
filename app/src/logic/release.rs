//! Release versions and notes from conventional commits: `feat` proposes a minor release,
//! `fix` and `perf` a patch, `!` after the type or a `BREAKING CHANGE:` footer a major one;
//! pre-releases count up `-rc.N`. Notes group the commits by type.

use semver::{Prerelease, Version};
use serde::{Deserialize, Serialize};

/// A commit as parsed from its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conventional {
    /// `feat`, `fix`, …; empty when the message does not follow the convention.
    pub kind: String,
    pub scope: Option<String>,
    pub breaking: bool,
    pub subject: String,
}

/// Parses `type(scope)!: subject` from the first line, and a `BREAKING CHANGE:` (or
/// `BREAKING-CHANGE:`) footer anywhere after it.
pub fn parse_commit(message: &str) -> Conventional {
    let mut lines = message.lines();
    let first = lines.next().unwrap_or_default().trim();
    let footer_breaking = lines.any(|l| {
        let l = l.trim_start();
        l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:")
    });
    let plain = || Conventional {
        kind: String::new(),
        scope: None,
        breaking: footer_breaking,
        subject: first.to_string(),
    };
    let Some((head, subject)) = first.split_once(':') else {
        return plain();
    };
    let (head, bang) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((k, rest)) => match rest.strip_suffix(')') {
            Some(scope) if !scope.is_empty() => (k, Some(scope.to_string())),
            _ => return plain(),
        },
        None => (head, None),
    };
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphabetic()) {
        return plain();
    }
    Conventional {
        kind: kind.to_ascii_lowercase(),
        scope,
        breaking: bang || footer_breaking,
        subject: subject.trim().to_string(),
    }
}

/// How far a set of commits moves the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Bump {
    Patch,
    Minor,
    Major,
}

pub fn bump_of<'a>(messages: impl IntoIterator<Item = &'a str>) -> Bump {
    messages
        .into_iter()
        .map(parse_commit)
        .map(|c| {
            if c.breaking {
                Bump::Major
            } else if c.kind == "feat" {
                Bump::Minor
            } else {
                Bump::Patch
            }
        })
        .max()
        .unwrap_or(Bump::Patch)
}

/// Parses a version, with or without a leading `v`.
pub fn parse_version(raw: &str) -> Result<Version, String> {
    let s = raw.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    Version::parse(s)
        .map_err(|e| format!("`{raw}` is not a semantic version (like 1.4.0 or 2.0.0-rc.1): {e}"))
}

/// The version to propose after `latest` for these commits; `pre` (e.g. `rc`) makes it a
/// pre-release, counting up from an existing pre-release of the same version.
pub fn next_version(latest: Option<&Version>, bump: Bump, pre: Option<&str>) -> Version {
    let mut next = match latest {
        None => Version::new(0, 1, 0),
        Some(v) if !v.pre.is_empty() => {
            // After 1.3.0-rc.2 comes 1.3.0 (or rc.3): the pre-release already claimed the bump,
            // unless these commits ask for more than it took.
            let base = Version::new(v.major, v.minor, v.patch);
            let claimed = if v.patch > 0 {
                Bump::Patch
            } else if v.minor > 0 {
                Bump::Minor
            } else {
                Bump::Major
            };
            if bump > claimed {
                bumped(&base, bump)
            } else {
                base
            }
        }
        Some(v) => bumped(v, bump),
    };
    if let Some(tag) = pre.map(str::trim).filter(|t| !t.is_empty()) {
        let n = latest
            .filter(|v| Version::new(v.major, v.minor, v.patch) == next)
            .and_then(|v| {
                let pre = v.pre.as_str();
                pre.strip_prefix(tag)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .map_or(1, |n| n + 1);
        next.pre = Prerelease::new(&format!("{tag}.{n}")).unwrap_or(Prerelease::EMPTY);
    }
    next
}

fn bumped(v: &Version, bump: Bump) -> Version {
    match bump {
        Bump::Major => Version::new(v.major + 1, 0, 0),
        Bump::Minor => Version::new(v.major, v.minor + 1, 0),
        Bump::Patch => Version::new(v.major, v.minor, v.patch + 1),
    }
}

/// A section of release notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotesSection {
    pub title: String,
    /// `(subject with scope, sha, author)`
    pub entries: Vec<NoteEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteEntry {
    pub text: String,
    pub sha: String,
    pub author: Option<String>,
}

const SECTIONS: [(&str, &str); 6] = [
    ("feat", "Features"),
    ("fix", "Bug fixes"),
    ("perf", "Performance"),
    ("revert", "Reverts"),
    ("docs", "Documentation"),
    ("", "Other changes"),
];

/// Groups commits `(sha, message, author)` into notes: breaking changes first, then features,
/// fixes, performance, reverts, documentation and the rest. Empty sections are left out.
pub fn notes(commits: &[(String, String, Option<String>)]) -> Vec<NotesSection> {
    let mut breaking = Vec::new();
    let mut by_kind: Vec<Vec<NoteEntry>> = vec![Vec::new(); SECTIONS.len()];
    for (sha, message, author) in commits {
        let c = parse_commit(message);
        let text = match &c.scope {
            Some(scope) => format!("{scope}: {}", c.subject),
            None => c.subject.clone(),
        };
        let entry = NoteEntry {
            text,
            sha: sha.clone(),
            author: author.clone(),
        };
        if c.breaking {
            breaking.push(entry.clone());
        }
        let slot = SECTIONS
            .iter()
            .position(|(k, _)| *k == c.kind)
            .unwrap_or(SECTIONS.len() - 1);
        by_kind[slot].push(entry);
    }
    let mut out = Vec::new();
    if !breaking.is_empty() {
        out.push(NotesSection {
            title: "Breaking changes".into(),
            entries: breaking,
        });
    }
    for ((_, title), entries) in SECTIONS.iter().zip(by_kind) {
        if !entries.is_empty() {
            out.push(NotesSection {
                title: title.to_string(),
                entries,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        parse_version(s).unwrap()
    }

    #[test]
    fn parses_conventional_commits() {
        let c = parse_commit("feat(api): stream reports\n\nbody");
        assert_eq!(
            (c.kind.as_str(), c.scope.as_deref(), c.breaking),
            ("feat", Some("api"), false)
        );
        assert_eq!(c.subject, "stream reports");
        assert!(parse_commit("refactor!: drop v1 routes").breaking);
        assert!(parse_commit("fix: x\n\nBREAKING CHANGE: config renamed").breaking);
        let plain = parse_commit("Merge branch 'main': conflicts");
        assert_eq!(plain.kind, "");
        assert_eq!(parse_commit("update readme").kind, "");
        assert_eq!(parse_commit("fix(): empty scope").kind, "");
    }

    #[test]
    fn feat_is_minor_fix_is_patch_bang_is_major() {
        assert_eq!(bump_of(["fix: a", "chore: b"]), Bump::Patch);
        assert_eq!(bump_of(["fix: a", "feat: b"]), Bump::Minor);
        assert_eq!(bump_of(["feat: a", "feat(ui)!: b"]), Bump::Major);
        assert_eq!(bump_of(["docs: a\n\nBREAKING CHANGE: c"]), Bump::Major);
        let latest = v("1.4.2");
        assert_eq!(next_version(Some(&latest), Bump::Patch, None), v("1.4.3"));
        assert_eq!(next_version(Some(&latest), Bump::Minor, None), v("1.5.0"));
        assert_eq!(next_version(Some(&latest), Bump::Major, None), v("2.0.0"));
        assert_eq!(next_version(None, Bump::Minor, None), v("0.1.0"));
        assert_eq!(v("v1.2.3"), v("1.2.3"));
        assert!(parse_version("1.2").is_err());
    }

    #[test]
    fn release_candidates_count_up_then_release() {
        let latest = v("1.4.2");
        let rc1 = next_version(Some(&latest), Bump::Minor, Some("rc"));
        assert_eq!(rc1, v("1.5.0-rc.1"));
        let rc2 = next_version(Some(&rc1), Bump::Patch, Some("rc"));
        assert_eq!(rc2, v("1.5.0-rc.2"));
        // A fix after the rc stays within the minor the rc claimed…
        assert_eq!(next_version(Some(&rc2), Bump::Patch, None), v("1.5.0"));
        // …a breaking change does not.
        assert_eq!(
            next_version(Some(&rc2), Bump::Major, Some("rc")),
            v("2.0.0-rc.1")
        );
        assert!(rc2 < v("1.5.0"));
    }

    #[test]
    fn notes_group_by_type_with_breaking_changes_first() {
        let commits = vec![
            (
                "a1".to_string(),
                "fix(cart): rounding".to_string(),
                Some("noor".to_string()),
            ),
            ("b2".into(), "feat!: new checkout".into(), None),
            ("c3".into(), "chore: bump deps".into(), None),
            ("d4".into(), "feat: coupons".into(), None),
        ];
        let n = notes(&commits);
        let titles: Vec<&str> = n.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(
            titles,
            ["Breaking changes", "Features", "Bug fixes", "Other changes"]
        );
        assert_eq!(n[1].entries.len(), 2);
        assert_eq!(n[2].entries[0].text, "cart: rounding");
        assert_eq!(n[2].entries[0].author.as_deref(), Some("noor"));
    }
}
