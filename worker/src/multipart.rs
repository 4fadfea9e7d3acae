//! A multipart/form-data parser over the body bytes already in wasm memory:
//! the `file` parts come back as slices of the body, nothing is copied, and
//! parsing stops at the first `file` part over the limit, so a body of tens
//! of thousands of parts costs one linear scan and no allocation per part.

use memchr::memmem;

use crate::errors::ApiError;

/// Largest header block of one part. Browsers and `requests` send two short
/// lines (Content-Disposition, Content-Type).
pub const MAX_PART_HEADER_BYTES: usize = 8 * 1024;

/// One uploaded file: its name as sent and its bytes (a slice of the body).
#[derive(Debug, PartialEq)]
pub struct FilePart<'a> {
    pub filename: String,
    pub bytes: &'a [u8],
}

/// The `boundary` parameter of a `multipart/form-data` Content-Type, or
/// `None` when the type is something else or has no usable boundary.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = split_params(content_type);
    let kind = params.next()?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let value = params.find_map(|p| param(p, "boundary"))?;
    // RFC 2046: 1 to 70 characters.
    (1..=70).contains(&value.len()).then_some(value)
}

/// The parts named `file`, in order. Errors: `bad_multipart` (400) for a body
/// that does not parse, `too_many_files` (413) as soon as part `max_files + 1`
/// named `file` is seen, `missing_file` (400) when there is none or `file` is
/// a text field.
pub fn file_parts<'a>(body: &'a [u8], boundary: &str, max_files: usize) -> Result<Vec<FilePart<'a>>, ApiError> {
    let bad = |what: &str| ApiError::new(400, "bad_multipart", format!("malformed multipart body: {what}"));
    let delimiter = [b"\r\n--", boundary.as_bytes()].concat();
    let next_delimiter = memmem::Finder::new(&delimiter);
    let end_of_headers = memmem::Finder::new(b"\r\n\r\n");

    // The first delimiter may open the body (no CRLF before it).
    let mut at = if body.starts_with(&delimiter[2..]) {
        0
    } else {
        next_delimiter.find(body).ok_or_else(|| bad("no boundary line found"))? + 2
    };
    let mut files = Vec::new();
    let mut file_fields = 0usize;
    loop {
        let mut rest = &body[at + delimiter.len() - 2..];
        if rest.starts_with(b"--") {
            break; // the closing delimiter; what follows is an epilogue
        }
        // Transport padding (RFC 2046) before the line break.
        while let [b' ' | b'\t', tail @ ..] = rest {
            rest = tail;
        }
        let Some(part) = rest.strip_prefix(b"\r\n") else {
            return Err(bad("a boundary line is not followed by a line break"));
        };
        let part_start = body.len() - part.len();
        let (headers, content_start) = if part.starts_with(b"\r\n") {
            (&part[..0], part_start + 2)
        } else {
            let window = &part[..part.len().min(MAX_PART_HEADER_BYTES + 4)];
            let end = end_of_headers.find(window).ok_or_else(|| {
                if part.len() > MAX_PART_HEADER_BYTES {
                    bad(&format!("part headers longer than {MAX_PART_HEADER_BYTES} bytes"))
                } else {
                    bad("part headers never end")
                }
            })?;
            (&part[..end], part_start + end + 4)
        };
        let content_len = next_delimiter
            .find(&body[content_start..])
            .ok_or_else(|| bad("the body ends before its closing boundary"))?;
        let content = &body[content_start..content_start + content_len];
        at = content_start + content_len + 2;

        let disposition = disposition(headers).ok_or_else(|| bad("a part has no Content-Disposition: form-data"))?;
        if disposition.name.as_deref() != Some("file") {
            continue;
        }
        file_fields += 1;
        if file_fields > max_files {
            return Err(ApiError::new(
                413,
                "too_many_files",
                format!("more than {max_files} files sent, at most {max_files} per request"),
            ));
        }
        let Some(filename) = disposition.filename else {
            // `-F file=text` instead of `-F file=@path`.
            return Err(ApiError::new(400, "missing_file", "field \"file\" must be a file upload, not a text value"));
        };
        files.push(FilePart { filename, bytes: content });
    }
    if files.is_empty() {
        return Err(ApiError::new(400, "missing_file", "no field named \"file\" in the form"));
    }
    Ok(files)
}

struct Disposition {
    name: Option<String>,
    filename: Option<String>,
}

/// `Content-Disposition: form-data; name="..."; filename="..."` among the
/// part's header lines (names case-insensitive).
fn disposition(headers: &[u8]) -> Option<Disposition> {
    let text = String::from_utf8_lossy(headers);
    let value = text.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-disposition").then_some(value)
    })?;
    let mut params = split_params(value);
    if !params.next()?.trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    let (mut name, mut filename, mut filename_ext) = (None, None, None);
    for p in params {
        if let Some(v) = param(p, "name") {
            name = Some(v);
        } else if let Some(v) = param(p, "filename") {
            filename = Some(v);
        } else if let Some(v) = param(p, "filename*") {
            // RFC 5987: charset'language'percent-encoded
            filename_ext = v.splitn(3, '\'').nth(2).map(percent_decode);
        }
    }
    Some(Disposition { name, filename: filename_ext.or(filename) })
}

/// `;`-separated parameters, not splitting inside quoted strings.
fn split_params(value: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    value.split(move |c: char| {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        }
        c == ';' && !quoted
    })
}

/// The value of `key=value` or `key="quoted \" value"`.
fn param(p: &str, key: &str) -> Option<String> {
    let (k, v) = p.split_once('=')?;
    if !k.trim().eq_ignore_ascii_case(key) {
        return None;
    }
    let v = v.trim();
    let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return Some(v.to_string());
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
    }
    Some(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(name: &str, filename: Option<&str>, content: &[u8]) -> Vec<u8> {
        let f = filename.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
        [format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"{f}\r\n\r\n").as_bytes(), content, b"\r\n"]
            .concat()
    }

    fn body(parts: &[Vec<u8>]) -> Vec<u8> {
        [parts.concat(), b"--B--\r\n".to_vec()].concat()
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(boundary("multipart/form-data; boundary=abc").as_deref(), Some("abc"));
        assert_eq!(boundary("Multipart/Form-Data;boundary=\"a;b c\"").as_deref(), Some("a;b c"));
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("application/json; boundary=x"), None);
        assert_eq!(boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))), None);
    }

    #[test]
    fn files_in_order_other_fields_skipped() {
        let b = body(&[
            part("file", Some("a.jpg"), b"AAA"),
            part("note", None, b"x"),
            part("file", Some("b.png"), b"x--B\r\n"),
        ]);
        let files = file_parts(&b, "B", 4).unwrap();
        assert_eq!(
            files,
            vec![
                FilePart { filename: "a.jpg".into(), bytes: b"AAA" },
                FilePart { filename: "b.png".into(), bytes: b"x--B\r\n" },
            ]
        );
    }

    #[test]
    fn preamble_padding_and_empty_file() {
        let b = [b"preamble\r\n".to_vec(), body(&[part("file", Some("e"), b"")])].concat();
        let b = String::from_utf8(b).unwrap().replacen("--B\r\n", "--B  \r\n", 1).into_bytes();
        assert_eq!(file_parts(&b, "B", 1).unwrap()[0].bytes, b"");
    }

    #[test]
    fn too_many_files_stops_early() {
        // The part after the limit is cut off: parsing must stop before it.
        let mut b = (0..3).flat_map(|_| part("file", Some("x"), b"1")).collect::<Vec<u8>>();
        b.extend_from_slice(b"--B\r\nnever parsed");
        assert_eq!(file_parts(&b, "B", 2).unwrap_err().body.code, "too_many_files");
    }

    #[test]
    fn many_tiny_other_parts() {
        let parts: Vec<Vec<u8>> =
            (0..50_000).map(|_| part("x", None, b"")).chain([part("file", Some("f"), b"Z")]).collect();
        assert_eq!(file_parts(&body(&parts), "B", 16).unwrap()[0].bytes, b"Z");
    }

    #[test]
    fn errors() {
        let code = |b: &[u8]| file_parts(b, "B", 4).unwrap_err().body.code;
        assert_eq!(code(b"garbage"), "bad_multipart");
        assert_eq!(
            code(b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nno end"),
            "bad_multipart"
        );
        assert_eq!(code(b"--B\r\nContent-Disposition: form-data; name=\"file\""), "bad_multipart");
        let long =
            [b"--B\r\nX: ".to_vec(), vec![b'a'; MAX_PART_HEADER_BYTES + 10], b"\r\n\r\n\r\n--B--".to_vec()].concat();
        assert_eq!(code(&long), "bad_multipart");
        assert_eq!(code(&body(&[part("image", Some("a"), b"1")])), "missing_file");
        assert_eq!(code(&body(&[part("file", None, b"text")])), "missing_file");
        assert_eq!(code(b"--B--\r\n"), "missing_file");
    }

    #[test]
    fn filename_forms() {
        let b =
            b"--B\r\ncontent-disposition: form-data; name=file; filename=\"a\\\"b;c.jpg\"\r\n\r\n1\r\n--B--".to_vec();
        assert_eq!(file_parts(&b, "B", 1).unwrap()[0].filename, "a\"b;c.jpg");
        let b = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"; filename*=UTF-8''caf%C3%A9.jpg\r\n\r\n1\r\n--B--".to_vec();
        assert_eq!(file_parts(&b, "B", 1).unwrap()[0].filename, "caf\u{e9}.jpg");
    }
}
