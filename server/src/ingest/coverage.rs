//! Coverage reports: Cobertura XML and LCOV, told apart by their first byte, read as streams.
//!
//! Totals are what the producer states when it states them (Cobertura's root `lines-covered`,
//! `lines-valid`, `line-rate`, …); otherwise they are counted from the report: each class-level
//! `<line>` entry (as gcovr counts them), each `condition-coverage="…(k/n)"`, and LCOV's
//! `LH`/`LF`/`BRH`/`BRF` (or its `DA`/`BRDA` records when those are missing). A rate is `None`
//! when nothing was measured (0 of 0) or the producer wrote `NaN`.

use app::model::{CoverageFile, CoverageFormat, CoverageReport, CoverageTotals};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::BTreeMap;
use std::io::BufRead;

/// Why a coverage report was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageError {
    pub message: String,
    /// 1-based line of the problem, when known.
    pub line: Option<u64>,
    /// Byte offset of an XML problem; [`CoverageError::locate`] turns it into a line.
    pub offset: Option<u64>,
}

impl CoverageError {
    /// Fills in the line of an XML problem by reading the document again up to its offset.
    pub fn locate(mut self, document: impl std::io::Read) -> Self {
        if let (None, Some(offset)) = (self.line, self.offset) {
            self.line = Some(super::junit::line_and_column(document, offset).0);
        }
        self
    }
}

impl std::fmt::Display for CoverageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} (line {line})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

fn refuse(message: impl Into<String>, line: Option<u64>) -> CoverageError {
    CoverageError {
        message: message.into(),
        line,
        offset: None,
    }
}

/// Reads a Cobertura or LCOV report, whichever it is.
pub fn read(mut input: impl BufRead) -> Result<CoverageReport, CoverageError> {
    // Skip a byte-order mark and leading blanks to see the first significant byte.
    let first = loop {
        let buf = input
            .fill_buf()
            .map_err(|e| refuse(format!("cannot read the report: {e}"), None))?;
        if buf.is_empty() {
            return Err(refuse("the coverage report is empty", None));
        }
        let skip = if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            3
        } else {
            buf.iter().take_while(|b| b.is_ascii_whitespace()).count()
        };
        if skip == 0 {
            break buf[0];
        }
        input.consume(skip);
    };
    if first == b'<' {
        read_cobertura(input)
    } else {
        read_lcov(input)
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    lines_covered: i64,
    lines_valid: i64,
    branches_covered: i64,
    branches_valid: i64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.lines_covered += other.lines_covered;
        self.lines_valid += other.lines_valid;
        self.branches_covered += other.branches_covered;
        self.branches_valid += other.branches_valid;
    }

    fn sum<'a>(all: impl Iterator<Item = &'a Counts>) -> Counts {
        let mut total = Counts::default();
        all.for_each(|c| total.add(*c));
        total
    }
}

fn read_cobertura(input: impl BufRead) -> Result<CoverageReport, CoverageError> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut root: Option<BTreeMap<String, String>> = None;
    let mut files: BTreeMap<String, Counts> = BTreeMap::new();
    // The open elements' names, to tell class-level <lines> from method-level ones.
    let mut stack: Vec<String> = Vec::new();
    let mut class_file: Option<String> = None;
    loop {
        buf.clear();
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            let mut refusal = refuse(format!("not well-formed XML: {e}"), None);
            refusal.offset = Some(reader.error_position());
            refusal
        })?;
        let (start, empty) = match event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            Event::End(_) => {
                if stack.pop().as_deref() == Some("class") {
                    class_file = None;
                }
                continue;
            }
            // Cobertura writers name their DTD by URL; it is never fetched. Declared
            // entities are refused: nothing beyond XML's five is ever expanded.
            Event::DocType(d) if d.contains("ENTITY") => {
                return Err(refuse(
                    "documents that declare entities (<!ENTITY …>) are not accepted",
                    None,
                ))
            }
            Event::Eof => {
                if !stack.is_empty() {
                    return Err(refuse(
                        "not well-formed XML: the document ends before its elements are closed",
                        None,
                    ));
                }
                break;
            }
            _ => continue,
        };
        let Some(e) = start else { continue };
        if e.attributes_raw().contains('<') {
            let mut refusal = refuse("not well-formed XML: `<` inside an attribute value", None);
            refusal.offset = Some(reader.buffer_position());
            return Err(refusal);
        }
        let name = e.local_name().as_ref().to_string();
        if stack.is_empty() {
            if root.is_some() {
                return Err(refuse("a second root element after the report's end", None));
            }
            if name != "coverage" {
                return Err(refuse(
                    format!(
                        "not a Cobertura report: the root element is <{name}>, expected <coverage>"
                    ),
                    None,
                ));
            }
            root = Some(attributes(&e)?);
        } else if name == "class" {
            class_file = Some(attribute(&e, "filename")?.unwrap_or_default());
        } else if name == "line" && stack.last().map(String::as_str) == Some("lines") {
            let in_class = stack.len() >= 2 && stack[stack.len() - 2] == "class";
            if let (true, Some(file)) = (in_class, &class_file) {
                let counts = files.entry(file.clone()).or_default();
                let hits = attribute(&e, "hits")?
                    .map(|h| h.trim().parse::<f64>().unwrap_or(0.0))
                    .unwrap_or(0.0);
                counts.lines_valid += 1;
                if hits > 0.0 {
                    counts.lines_covered += 1;
                }
                if let Some(cc) = attribute(&e, "condition-coverage")? {
                    if let Some((k, n)) = condition_counts(&cc) {
                        counts.branches_covered += k;
                        counts.branches_valid += n;
                    }
                }
            }
        }
        if !empty {
            stack.push(name);
        }
    }
    let Some(root) = root else {
        return Err(refuse(
            "the coverage report is empty: no root element",
            None,
        ));
    };

    let counted = Counts::sum(files.values());
    let stated_int = |k: &str| root.get(k).and_then(|v| v.trim().parse::<i64>().ok());
    let stated_rate = |k: &str| root.get(k).map(|v| v.trim().parse::<f64>());
    let lines = match (stated_int("lines-covered"), stated_int("lines-valid")) {
        (Some(c), Some(v)) => (c, v),
        _ => (counted.lines_covered, counted.lines_valid),
    };
    let branches = match (stated_int("branches-covered"), stated_int("branches-valid")) {
        (Some(c), Some(v)) => (c, v),
        _ => (counted.branches_covered, counted.branches_valid),
    };
    // A stated rate wins; `NaN` means the producer could not measure it.
    let rate = |key: &str, (covered, valid): (i64, i64)| match stated_rate(key) {
        Some(Ok(r)) if r.is_nan() => None,
        Some(Ok(r)) if (0.0..=1.0).contains(&r) => Some(r),
        _ => ratio(covered, valid),
    };
    let totals = CoverageTotals {
        line_rate: rate("line-rate", lines),
        branch_rate: if branches.1 == 0 && stated_rate("branch-rate").is_none() {
            None
        } else {
            rate("branch-rate", branches)
        },
        lines_covered: lines.0,
        lines_valid: lines.1,
        branches_covered: branches.0,
        branches_valid: branches.1,
    };
    Ok(CoverageReport {
        format: CoverageFormat::Cobertura,
        totals,
        files: files
            .into_iter()
            .map(|(path, c)| file_figures(path, c))
            .collect(),
    })
}

fn file_figures(path: String, c: Counts) -> CoverageFile {
    CoverageFile {
        path,
        lines_covered: c.lines_covered,
        lines_valid: c.lines_valid,
        branches_covered: c.branches_covered,
        branches_valid: c.branches_valid,
        line_rate: ratio(c.lines_covered, c.lines_valid),
        branch_rate: ratio(c.branches_covered, c.branches_valid),
    }
}

fn ratio(covered: i64, valid: i64) -> Option<f64> {
    (valid > 0).then(|| covered as f64 / valid as f64)
}

/// `"50% (1/2)"` → `(1, 2)`.
fn condition_counts(text: &str) -> Option<(i64, i64)> {
    let inner = text.split_once('(')?.1.split_once(')')?.0;
    let (k, n) = inner.split_once('/')?;
    Some((k.trim().parse().ok()?, n.trim().parse().ok()?))
}

fn attributes(e: &BytesStart<'_>) -> Result<BTreeMap<String, String>, CoverageError> {
    let mut out = BTreeMap::new();
    for a in e.attributes() {
        let a = a.map_err(|err| refuse(format!("not well-formed XML: {err}"), None))?;
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| refuse(format!("not well-formed XML: {err}"), None))?;
        out.insert(a.key.local_name().as_ref().to_string(), value.into_owned());
    }
    Ok(out)
}

fn attribute(e: &BytesStart<'_>, key: &str) -> Result<Option<String>, CoverageError> {
    for a in e.attributes() {
        let a = a.map_err(|err| refuse(format!("not well-formed XML: {err}"), None))?;
        if a.key.local_name().as_ref() == key {
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| refuse(format!("not well-formed XML: {err}"), None))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// One `SF:` … `end_of_record` block being read.
#[derive(Default)]
struct LcovRecord {
    path: String,
    stated: [Option<i64>; 4],
    counted: Counts,
}

impl LcovRecord {
    fn counts(&self) -> Counts {
        let [lh, lf, brh, brf] = self.stated;
        Counts {
            lines_covered: lh.unwrap_or(self.counted.lines_covered),
            lines_valid: lf.unwrap_or(self.counted.lines_valid),
            branches_covered: brh.unwrap_or(self.counted.branches_covered),
            branches_valid: brf.unwrap_or(self.counted.branches_valid),
        }
    }
}

fn read_lcov(input: impl BufRead) -> Result<CoverageReport, CoverageError> {
    let mut files: BTreeMap<String, Counts> = BTreeMap::new();
    let mut current: Option<LcovRecord> = None;
    let mut records = 0;
    let finish = |files: &mut BTreeMap<String, Counts>, record: LcovRecord| {
        let c = record.counts();
        files.entry(record.path).or_default().add(c);
    };
    for (index, line) in input.split(b'\n').enumerate() {
        let n = index as u64 + 1;
        let line = line.map_err(|e| refuse(format!("cannot read the report: {e}"), Some(n)))?;
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if line == "end_of_record" {
            if let Some(record) = current.take() {
                finish(&mut files, record);
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(refuse(
                format!(
                    "not an LCOV report: `{}` is neither `KEY:value` nor `end_of_record`",
                    cut(line)
                ),
                Some(n),
            ));
        };
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(refuse(
                format!("not an LCOV report: unknown record `{}`", cut(key)),
                Some(n),
            ));
        }
        if key == "SF" {
            if let Some(record) = current.take() {
                finish(&mut files, record);
            }
            records += 1;
            current = Some(LcovRecord {
                path: value.to_string(),
                ..LcovRecord::default()
            });
            continue;
        }
        let Some(record) = current.as_mut() else {
            // TN: and other headers may precede the first SF:.
            continue;
        };
        let number = |v: &str| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| refuse(format!("{key}: `{}` is not a count", cut(v)), Some(n)))
        };
        match key {
            "LH" => record.stated[0] = Some(number(value)?),
            "LF" => record.stated[1] = Some(number(value)?),
            "BRH" => record.stated[2] = Some(number(value)?),
            "BRF" => record.stated[3] = Some(number(value)?),
            "DA" => {
                // DA:<line>,<hits>[,<checksum>]; hits may be absurdly large (2^64-1).
                let hits = value.split(',').nth(1).ok_or_else(|| {
                    refuse(format!("DA: `{}` has no hit count", cut(value)), Some(n))
                })?;
                let hit = hits.trim().parse::<f64>().is_ok_and(|h| h > 0.0);
                record.counted.lines_valid += 1;
                if hit {
                    record.counted.lines_covered += 1;
                }
            }
            "BRDA" => {
                // BRDA:<line>,<block>,<branch>,<taken or ->
                let taken = value.rsplit(',').next().unwrap_or("-").trim();
                record.counted.branches_valid += 1;
                if taken != "-" && taken != "0" {
                    record.counted.branches_covered += 1;
                }
            }
            _ => {}
        }
    }
    if let Some(record) = current.take() {
        finish(&mut files, record);
    }
    if records == 0 {
        return Err(refuse(
            "neither Cobertura XML nor LCOV: no `SF:` record found",
            None,
        ));
    }
    let sum = Counts::sum(files.values());
    Ok(CoverageReport {
        format: CoverageFormat::Lcov,
        totals: CoverageTotals {
            line_rate: ratio(sum.lines_covered, sum.lines_valid),
            branch_rate: ratio(sum.branches_covered, sum.branches_valid),
            lines_covered: sum.lines_covered,
            lines_valid: sum.lines_valid,
            branches_covered: sum.branches_covered,
            branches_valid: sum.branches_valid,
        },
        files: files
            .into_iter()
            .map(|(path, c)| file_figures(path, c))
            .collect(),
    })
}

/// At most 60 characters of `s`, for error messages.
fn cut(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cobertura_counts_from_the_root_and_lines_per_file() {
        let xml = r#"<?xml version="1.0"?>
<coverage line-rate="0.5" branch-rate="0.25" lines-covered="1" lines-valid="2" branches-covered="1" branches-valid="4">
  <packages><package><classes>
    <class filename="a.rs"><methods><method><lines><line number="1" hits="3"/></lines></method></methods>
      <lines><line number="1" hits="3" branch="true" condition-coverage="25% (1/4)"/><line number="2" hits="0"/></lines>
    </class>
  </classes></package></packages>
</coverage>"#;
        let report = read(xml.as_bytes()).unwrap();
        assert_eq!(report.format, CoverageFormat::Cobertura);
        assert_eq!(report.totals.line_rate, Some(0.5));
        assert_eq!(report.totals.branch_rate, Some(0.25));
        let f = &report.files[0];
        assert_eq!(
            (f.path.as_str(), f.lines_covered, f.lines_valid),
            ("a.rs", 1, 2)
        );
        assert_eq!((f.branches_covered, f.branches_valid), (1, 4));
    }

    #[test]
    fn reads_lcov_and_counts_da_records_when_totals_are_missing() {
        let lcov = "TN:\nSF:src/a.rs\nDA:1,5\nDA:2,0\nDA:3,18446744073709551615\nBRDA:1,0,0,1\nBRDA:1,0,1,-\nend_of_record\nSF:src/b.rs\nLF:4\nLH:4\nend_of_record\n";
        let report = read(lcov.as_bytes()).unwrap();
        assert_eq!(report.format, CoverageFormat::Lcov);
        assert_eq!(
            (report.totals.lines_covered, report.totals.lines_valid),
            (6, 7)
        );
        assert_eq!(
            (report.totals.branches_covered, report.totals.branches_valid),
            (1, 2)
        );
        assert_eq!(report.totals.branch_rate, Some(0.5));
    }

    #[test]
    fn a_nan_rate_is_unknown_and_an_empty_report_is_refused() {
        let xml = r#"<coverage line-rate="0.5" branch-rate="NaN" lines-covered="1" lines-valid="2" branches-covered="NaN" branches-valid="NaN"/>"#;
        let report = read(xml.as_bytes()).unwrap();
        assert_eq!(report.totals.branch_rate, None);
        assert!(read(&b""[..]).unwrap_err().message.contains("empty"));
        assert!(read(&b"{\"json\": true}"[..]).is_err());
        assert!(read(&b"<report/>"[..])
            .unwrap_err()
            .message
            .contains("<coverage>"));
    }
}
