//! A streaming JUnit XML reader: yields one test case at a time, so a report of any size is read
//! in bounded memory (the largest single text node aside).
//!
//! Counting follows the rule CI users expect (and EnricoMi's publish-unit-test-result-action
//! applies): one count per `<testcase>` element, by its most severe result (error > failure >
//! skipped > passed); cases with neither `name` nor `classname` are dropped. A case that passed
//! after Surefire/Gradle retries (`flakyFailure`, `flakyError`, `rerunFailure`, `rerunError`
//! without a final `failure`/`error`) is a pass that flaked.
//!
//! Documents with a DTD are refused: no entity, external or internal, is ever expanded. Only the
//! five predefined entities and character references are resolved.

use app::model::{CaseStatus, TestTotals};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;
use std::io::{BufRead, Read};

/// Failure messages and stack traces are kept up to this many bytes.
pub const MESSAGE_LIMIT: usize = 4096;

/// One `<testcase>` (the store takes this type as it is).
pub use app::model::NewTestCase as ParsedCase;

/// Why a report was refused, at a byte offset of the (decompressed) document.
#[derive(Debug, Clone, PartialEq)]
pub struct JunitError {
    pub message: String,
    pub offset: u64,
}

impl JunitError {
    /// The error with its line and column, found by reading the document again up to the
    /// offset (only done for refused reports).
    pub fn locate(&self, document: impl Read) -> Located {
        let (line, column) = line_and_column(document, self.offset);
        Located {
            message: self.message.clone(),
            line,
            column,
        }
    }
}

/// A refusal with its 1-based line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub message: String,
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (line {}, column {})",
            self.message, self.line, self.column
        )
    }
}

/// 1-based line and column (in characters) of byte `offset` in `document`.
pub fn line_and_column(document: impl Read, offset: u64) -> (u64, u64) {
    let mut line = 1;
    let mut column = 1;
    let mut seen = 0u64;
    let mut reader = std::io::BufReader::new(document.take(offset));
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(c) => c,
        };
        for &b in chunk {
            if b == b'\n' {
                line += 1;
                column = 1;
            } else if b & 0xC0 != 0x80 {
                // Count characters, not UTF-8 continuation bytes.
                column += 1;
            }
        }
        let n = chunk.len();
        seen += n as u64;
        reader.consume(n);
    }
    let _ = seen;
    (line, column)
}

/// Reads test cases from a JUnit XML document.
pub struct JunitReader<R: BufRead> {
    reader: Reader<R>,
    buf: Vec<u8>,
    /// Names of the enclosing `<testsuite>` elements.
    suites: Vec<String>,
    /// Open elements outside test cases.
    depth: usize,
    root_seen: bool,
    finished: bool,
    totals: TestTotals,
}

impl<R: BufRead> JunitReader<R> {
    pub fn new(input: R) -> Self {
        let mut reader = Reader::from_reader(input);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        JunitReader {
            reader,
            buf: Vec::with_capacity(8 * 1024),
            suites: Vec::new(),
            depth: 0,
            root_seen: false,
            finished: false,
            totals: TestTotals::default(),
        }
    }

    /// Totals of the cases read so far (all of them once [`Self::next_case`] returned `None`).
    pub fn totals(&self) -> &TestTotals {
        &self.totals
    }

    /// The next test case, `None` at the end of the document.
    pub fn next_case(&mut self) -> Result<Option<ParsedCase>, JunitError> {
        if self.finished {
            return Ok(None);
        }
        loop {
            let (at, event) = read_event(&mut self.reader, &mut self.buf)?;
            match event {
                Event::Start(e) | Event::Empty(e) if self.depth == 0 && self.root_seen => {
                    let name = e.local_name().as_ref().to_string();
                    return Err(err(
                        format!("a second root element <{name}> after the report's end"),
                        at,
                    ));
                }
                Event::Start(e) => {
                    check_tag(&e).map_err(|m| err(m, at))?;
                    let start = e.into_owned();
                    if let Some(case) = self.open(&start, false, at)? {
                        return Ok(Some(case));
                    }
                }
                Event::Empty(e) => {
                    check_tag(&e).map_err(|m| err(m, at))?;
                    let start = e.into_owned();
                    if let Some(case) = self.open(&start, true, at)? {
                        return Ok(Some(case));
                    }
                }
                Event::End(e) => {
                    if e.local_name().as_ref() == "testsuite" {
                        self.suites.pop();
                    }
                    self.depth = self.depth.saturating_sub(1);
                }
                Event::Text(t) => {
                    if self.depth == 0 && !t.trim_ascii().is_empty() {
                        return Err(err("text outside the root element", at));
                    }
                }
                Event::GeneralRef(r) => {
                    check_reference(&r).map_err(|m| err(m, at))?;
                }
                // A DTD named by URL is never fetched; declared entities are refused, so
                // nothing beyond XML's five predefined entities is ever expanded.
                Event::DocType(d) if d.contains("ENTITY") => {
                    return Err(err(
                        "documents that declare entities (<!ENTITY …>) are not accepted: \
                         entities are never expanded",
                        at,
                    ))
                }
                Event::CData(_)
                | Event::Comment(_)
                | Event::Decl(_)
                | Event::PI(_)
                | Event::DocType(_) => {}
                Event::Eof => {
                    if self.depth > 0 {
                        return Err(err(
                            "the document ends before its elements are closed",
                            self.reader.buffer_position(),
                        ));
                    }
                    if !self.root_seen {
                        return Err(err("the report is empty: no root element", at));
                    }
                    self.finished = true;
                    return Ok(None);
                }
            }
        }
    }

    /// Handles an element opened outside a test case; returns the case when it is one.
    fn open(
        &mut self,
        start: &BytesStart<'static>,
        empty: bool,
        at: u64,
    ) -> Result<Option<ParsedCase>, JunitError> {
        let local = start.local_name();
        let name = local.as_ref();
        if self.depth == 0 {
            if name != "testsuites" && name != "testsuite" {
                return Err(err(
                    format!(
                        "not a JUnit report: the root element is <{}>, expected <testsuites> or \
                         <testsuite>",
                        name
                    ),
                    at,
                ));
            }
            self.root_seen = true;
        }
        match name {
            "testsuite" => {
                if !empty {
                    let suite = attr(start, "name").map_err(|m| err(m, at))?;
                    self.suites.push(suite.unwrap_or_default());
                    self.depth += 1;
                }
                Ok(None)
            }
            "testcase" => {
                let case = self.read_case(start, empty, at)?;
                Ok(case)
            }
            _ => {
                if !empty {
                    self.depth += 1;
                }
                Ok(None)
            }
        }
    }

    /// Reads a `<testcase>` up to its end tag.
    fn read_case(
        &mut self,
        start: &BytesStart<'static>,
        empty: bool,
        at: u64,
    ) -> Result<Option<ParsedCase>, JunitError> {
        let get = |key: &str| attr(start, key);
        let name = get("name").map_err(|m| err(m, at))?;
        let classname = get("classname").map_err(|m| err(m, at))?;
        let file = get("file").map_err(|m| err(m, at))?;
        let time = get("time").map_err(|m| err(m, at))?;
        let status_attr = get("status").map_err(|m| err(m, at))?;

        let mut status = CaseStatus::Passed;
        if matches!(
            status_attr.as_deref(),
            Some("disabled" | "skipped" | "notrun")
        ) {
            status = CaseStatus::Skipped;
        }
        let mut retried = false;
        let mut message = Message::default();

        if !empty {
            // Depth inside the case; `capture` is the depth of the result element whose text
            // is kept (failure, error or skipped).
            let mut depth = 0usize;
            let mut capture: Option<usize> = None;
            loop {
                let (at, event) = read_event(&mut self.reader, &mut self.buf)?;
                match event {
                    Event::Start(e) if depth == 0 => {
                        check_tag(&e).map_err(|m| err(m, at))?;
                        let outcome = case_child(&e, &mut status, &mut retried, &mut message)
                            .map_err(|m| err(m, at))?;
                        if outcome {
                            capture = Some(1);
                        }
                        depth += 1;
                    }
                    Event::Empty(e) if depth == 0 => {
                        check_tag(&e).map_err(|m| err(m, at))?;
                        case_child(&e, &mut status, &mut retried, &mut message)
                            .map_err(|m| err(m, at))?;
                    }
                    Event::Start(e) => {
                        check_tag(&e).map_err(|m| err(m, at))?;
                        depth += 1;
                    }
                    Event::Empty(e) => check_tag(&e).map_err(|m| err(m, at))?,
                    Event::End(e) => {
                        if depth == 0 {
                            // check_end_names guarantees this closes the <testcase>.
                            let _ = e;
                            break;
                        }
                        if capture == Some(depth) {
                            capture = None;
                        }
                        depth -= 1;
                    }
                    Event::Text(t) => {
                        if capture.is_some() {
                            message.push(&t.xml10_content());
                        }
                    }
                    Event::CData(c) => {
                        if capture.is_some() {
                            message.push(&c.xml10_content());
                        }
                    }
                    Event::GeneralRef(r) => {
                        let resolved = check_reference(&r).map_err(|m| err(m, at))?;
                        if capture.is_some() {
                            message.push(&resolved);
                        }
                    }
                    Event::Comment(_) | Event::PI(_) => {}
                    Event::Decl(_) | Event::DocType(_) => {
                        return Err(err("a declaration inside a <testcase>", at))
                    }
                    Event::Eof => {
                        return Err(err(
                            "the document ends inside a <testcase>",
                            self.reader.buffer_position(),
                        ))
                    }
                }
            }
        }

        if name.is_none() && classname.is_none() {
            return Ok(None);
        }
        let duration_s = time.as_deref().and_then(parse_seconds);
        self.totals.add(status, retried, duration_s);
        Ok(Some(ParsedCase {
            suite: self.suites.last().cloned().unwrap_or_default(),
            classname: classname.unwrap_or_default(),
            name: name.unwrap_or_default(),
            file,
            status,
            retried,
            duration_s,
            message: message.finish(),
        }))
    }
}

/// Applies a child element of a `<testcase>` (`failure`, `error`, `skipped`, retry records) to
/// the case; returns whether its text belongs to the message.
fn case_child(
    e: &BytesStart<'_>,
    status: &mut CaseStatus,
    retried: &mut bool,
    message: &mut Message,
) -> Result<bool, String> {
    let result = match e.local_name().as_ref() {
        "failure" => CaseStatus::Failed,
        "error" => CaseStatus::Error,
        "skipped" => CaseStatus::Skipped,
        "flakyFailure" | "flakyError" | "rerunFailure" | "rerunError" => {
            *retried = true;
            return Ok(false);
        }
        _ => return Ok(false),
    };
    if result > *status {
        *status = result;
        *message = Message::default();
    }
    if result < *status {
        return Ok(false);
    }
    if let Some(text) = attr(e, "message")? {
        message.push_summary(&text);
    }
    Ok(true)
}

fn err(message: impl Into<String>, offset: u64) -> JunitError {
    JunitError {
        message: message.into(),
        offset,
    }
}

/// A message being collected: the result element's `message` attribute and its body text,
/// each cut at [`MESSAGE_LIMIT`] bytes on a character boundary.
#[derive(Default)]
struct Message {
    summary: String,
    body: String,
}

impl Message {
    fn push_summary(&mut self, part: &str) {
        push_limited(&mut self.summary, part);
    }

    fn push(&mut self, part: &str) {
        push_limited(&mut self.body, part);
    }

    fn finish(self) -> Option<String> {
        let summary = self.summary.trim();
        let body = self.body.trim();
        let text = if body.is_empty() || body == summary {
            summary.to_string()
        } else if summary.is_empty() {
            body.to_string()
        } else {
            format!("{summary}\n{body}")
        };
        if text.is_empty() {
            return None;
        }
        let mut out = String::new();
        push_limited(&mut out, &text);
        Some(out)
    }
}

/// Appends `part` while `text` stays within [`MESSAGE_LIMIT`] bytes; marks a cut with `…`.
fn push_limited(text: &mut String, part: &str) {
    if text.len() >= MESSAGE_LIMIT {
        return;
    }
    let room = MESSAGE_LIMIT - text.len();
    if part.len() <= room {
        text.push_str(part);
    } else {
        let mut end = room;
        while !part.is_char_boundary(end) {
            end -= 1;
        }
        text.push_str(&part[..end]);
        text.push('…');
    }
}

/// The next event and the byte offset where it starts.
fn read_event<'b, R: BufRead>(
    reader: &mut Reader<R>,
    buf: &'b mut Vec<u8>,
) -> Result<(u64, Event<'b>), JunitError> {
    let at = reader.buffer_position();
    buf.clear();
    match reader.read_event_into(buf) {
        Ok(event) => Ok((at, event)),
        Err(e) => {
            let message = match &e {
                quick_xml::Error::Io(io) => format!("cannot read the report: {io}"),
                other => format!("not well-formed XML: {other}"),
            };
            Err(err(message, reader.error_position()))
        }
    }
}

/// The checks quick-xml leaves to its caller: a `<` inside an attribute value is not XML.
fn check_tag(e: &BytesStart<'_>) -> Result<(), String> {
    if e.attributes_raw().contains('<') {
        return Err(format!(
            "not well-formed XML: `<` inside an attribute value of <{}>",
            e.name().as_ref()
        ));
    }
    Ok(())
}

/// An attribute's value with predefined entities and character references resolved.
fn attr(start: &BytesStart<'_>, key: &str) -> Result<Option<String>, String> {
    for a in start.attributes() {
        let a = a.map_err(|e| format!("not well-formed XML: {e}"))?;
        if a.key.local_name().as_ref() == key {
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| format!("attribute `{}`: {e}", a.key.as_ref()))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// Resolves `&name;` or `&#n;`; any other entity is an error (documents cannot declare any).
fn check_reference(r: &BytesRef<'_>) -> Result<String, String> {
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            Ok(None) | Err(_) => Err(format!(
                "not well-formed XML: invalid character reference &{};",
                r.as_ref() as &str
            )),
        };
    }
    let name: &str = r;
    resolve_predefined_entity(name)
        .map(str::to_string)
        .ok_or_else(|| format!("not well-formed XML: undefined entity &{name};"))
}

/// Reads a `time` attribute as seconds. Real files write `1.5`, `1,234.5` (thousands
/// separators), `` or `N/A`, and negative values; the last three read as unknown.
pub fn parse_seconds(text: &str) -> Option<f64> {
    let t = text.trim();
    let value = t
        .parse::<f64>()
        .ok()
        .or_else(|| t.replace(',', "").parse::<f64>().ok())?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// Reads a whole report (for tests and the CLI's local check).
pub fn read_all(input: impl BufRead) -> Result<(Vec<ParsedCase>, TestTotals), JunitError> {
    let mut reader = JunitReader::new(input);
    let mut cases = Vec::new();
    while let Some(case) = reader.next_case()? {
        cases.push(case);
    }
    Ok((cases, *reader.totals()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> Result<(Vec<ParsedCase>, TestTotals), JunitError> {
        read_all(xml.as_bytes())
    }

    #[test]
    fn counts_each_case_by_its_most_severe_result() {
        let (cases, totals) = read(
            r#"<testsuites><testsuite name="s">
                 <testcase name="a" classname="C" time="0.5"/>
                 <testcase name="b" classname="C"><failure message="boom">trace</failure><error/></testcase>
                 <testcase name="c" classname="C"><skipped/><failure/></testcase>
                 <testcase name="d" classname="C"><skipped message="later"/></testcase>
               </testsuite></testsuites>"#,
        )
        .unwrap();
        let statuses: Vec<_> = cases.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [
                CaseStatus::Passed,
                CaseStatus::Error,
                CaseStatus::Failed,
                CaseStatus::Skipped
            ]
        );
        assert_eq!(
            (
                totals.tests,
                totals.passed,
                totals.failed,
                totals.errors,
                totals.skipped
            ),
            (4, 1, 1, 1, 1)
        );
        assert_eq!(cases[0].suite, "s");
        assert_eq!(cases[3].message.as_deref(), Some("later"));
    }

    #[test]
    fn keeps_the_failure_message_and_its_details() {
        let (cases, _) = read(
            r#"<testsuite><testcase name="t"><failure message="expected 1">at a.rs:3 &amp; more<![CDATA[ <raw> ]]></failure></testcase></testsuite>"#,
        )
        .unwrap();
        assert_eq!(
            cases[0].message.as_deref(),
            Some("expected 1\nat a.rs:3 & more <raw>")
        );
    }

    #[test]
    fn a_pass_after_retries_is_flaky_and_a_failure_after_retries_is_not() {
        let (cases, totals) = read(
            r#"<testsuite>
                 <testcase name="flaky"><flakyFailure message="1st"/><system-out>x</system-out></testcase>
                 <testcase name="broken"><failure/><rerunFailure/></testcase>
               </testsuite>"#,
        )
        .unwrap();
        assert!(cases[0].retried && cases[0].status == CaseStatus::Passed);
        assert!(cases[0].message.is_none());
        assert_eq!(cases[1].status, CaseStatus::Failed);
        assert_eq!((totals.flaky, totals.passed, totals.failed), (1, 1, 1));
    }

    #[test]
    fn drops_cases_without_name_and_classname() {
        let (cases, totals) = read(r#"<testsuite><testcase/><testcase time="1"><failure/></testcase><testcase classname="K"/></testsuite>"#).unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!(totals.tests, 1);
        assert_eq!(totals.time_s, 0.0);
    }

    #[test]
    fn reads_odd_times_as_unknown_or_without_separators() {
        assert_eq!(parse_seconds("1.5"), Some(1.5));
        assert_eq!(parse_seconds(" 2,503.1 "), Some(2503.1));
        assert_eq!(parse_seconds("-3"), None);
        assert_eq!(parse_seconds("N/A"), None);
        assert_eq!(parse_seconds(""), None);
        assert_eq!(parse_seconds("NaN"), None);
    }

    #[test]
    fn refuses_other_roots_empty_documents_and_dtds() {
        assert!(read("<suites/>").unwrap_err().message.contains("<suites>"));
        assert!(read("").unwrap_err().message.contains("empty"));
        assert!(read("  \n ").unwrap_err().message.contains("empty"));
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&x;"/></testsuite>"#;
        assert!(read(xxe).unwrap_err().message.contains("ENTITY"));
        let named = r#"<?xml version="1.0"?><!DOCTYPE testsuite SYSTEM "junit.dtd"><testsuite><testcase name="a"/></testsuite>"#;
        assert_eq!(read(named).unwrap().1.tests, 1);
        assert!(
            read(r#"<testsuite><testcase name="a">&x;</testcase></testsuite>"#)
                .unwrap_err()
                .message
                .contains("undefined entity")
        );
    }

    #[test]
    fn names_the_line_and_column_of_a_broken_document() {
        let xml = "<testsuite>\n  <testcase name=\"a\">\n  </testsuit>\n";
        let err = read(xml).unwrap_err();
        let located = err.locate(xml.as_bytes());
        assert_eq!(located.line, 3, "{located}");
        let truncated = "<testsuite>\n<testcase name=\"a\">\n";
        let err = read(truncated).unwrap_err();
        assert!(err.message.contains("ends"), "{}", err.message);
    }

    #[test]
    fn reads_a_byte_order_mark_and_nested_suites() {
        let xml = "\u{feff}<?xml version=\"1.0\"?><testsuites><testsuite name=\"outer\"><testsuite name=\"inner\"><testcase name=\"a\"/></testsuite><testcase name=\"b\"/></testsuite></testsuites>";
        let (cases, _) = read(xml).unwrap();
        assert_eq!(cases[0].suite, "inner");
        assert_eq!(cases[1].suite, "outer");
    }

    #[test]
    fn cuts_long_messages_on_a_character_boundary() {
        let long = "é".repeat(MESSAGE_LIMIT);
        let xml = format!(
            "<testsuite><testcase name=\"a\"><failure>{long}</failure></testcase></testsuite>"
        );
        let (cases, _) = read(&xml).unwrap();
        let m = cases[0].message.as_deref().unwrap();
        assert!(m.len() <= MESSAGE_LIMIT + '…'.len_utf8());
        assert!(m.ends_with('…'));
    }
}
