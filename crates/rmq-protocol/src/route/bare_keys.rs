//! Pre-pass that turns fastjson's bare integer object keys (`{0:"a"}`) into standard JSON (`{"0":"a"}`).

use std::borrow::Cow;

/// Quote bare integer object keys so a strict JSON parser accepts the text.
///
/// Only a number token in **key position** (right after `{` or after a `,` inside an object) that is
/// followed by `:` is quoted: `{0:"x",-1:"y"}` becomes `{"0":"x","-1":"y"}`. Everything inside string
/// literals (including escaped quotes) and every value is copied unchanged, so standard JSON comes back
/// unchanged and borrowed. Runs in one pass, O(n) time, memory proportional to the nesting depth plus the
/// output; never panics, whatever the input (garbage stays garbage for the JSON parser to reject).
///
/// ```
/// use rmq_protocol::route::quote_bare_integer_keys;
///
/// let fixed = quote_bare_integer_keys(br#"{"brokerAddrs":{0:"a:1",1:"b:2"},"s":"{0:1}"}"#);
/// assert_eq!(&*fixed, br#"{"brokerAddrs":{"0":"a:1","1":"b:2"},"s":"{0:1}"}"#);
/// ```
pub fn quote_bare_integer_keys(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0; // input[..copied] is already in `out`
    let mut stack: Vec<u8> = Vec::new(); // b'{' or b'['
    let mut key_position = false;
    let mut i = 0;
    let n = input.len();
    while i < n {
        let c = input[i];
        match c {
            b'"' => {
                i = skip_string(input, i);
                key_position = false;
                continue;
            }
            b'{' => {
                stack.push(b'{');
                key_position = true;
            }
            b'[' => {
                stack.push(b'[');
                key_position = false;
            }
            b'}' | b']' => {
                stack.pop();
                key_position = false;
            }
            b',' => key_position = stack.last() == Some(&b'{'),
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'-' | b'0'..=b'9' if key_position => {
                let end = number_end(input, i);
                let mut j = end;
                while j < n && matches!(input[j], b' ' | b'\t' | b'\n' | b'\r') {
                    j += 1;
                }
                if j < n && input[j] == b':' {
                    let buf = out.get_or_insert_with(|| Vec::with_capacity(n + 16));
                    buf.extend_from_slice(&input[copied..i]);
                    buf.push(b'"');
                    buf.extend_from_slice(&input[i..end]);
                    buf.push(b'"');
                    copied = end;
                }
                key_position = false;
                i = end;
                continue;
            }
            _ => key_position = false,
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(input),
        Some(mut buf) => {
            buf.extend_from_slice(&input[copied..]);
            Cow::Owned(buf)
        }
    }
}

/// Index just past the string literal whose opening quote is at `start` (or `input.len()` if it is
/// unterminated).
fn skip_string(input: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < input.len() {
        match input[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    input.len()
}

/// Index just past a number token starting at `start`.
fn number_end(input: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < input.len() && matches!(input[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        String::from_utf8(quote_bare_integer_keys(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn quotes_only_bare_keys() {
        assert_eq!(q(r#"{0:"a",1:"b"}"#), r#"{"0":"a","1":"b"}"#);
        assert_eq!(
            q(r#"{ -12 : "a" , 7:{8:[1,2,{9:3}]}}"#),
            r#"{ "-12" : "a" , "7":{"8":[1,2,{"9":3}]}}"#
        );
        assert_eq!(q(r#"[0,1,{"a":0}]"#), r#"[0,1,{"a":0}]"#);
        assert_eq!(
            q(r#"{"k":"{0:1}","e":"\"{1:2}\\"}"#),
            r#"{"k":"{0:1}","e":"\"{1:2}\\"}"#
        );
        assert_eq!(
            q(r#"{"a":[{1:2},3],"b":{4:5}}"#),
            r#"{"a":[{"1":2},3],"b":{"4":5}}"#
        );
    }

    #[test]
    fn standard_json_is_borrowed() {
        let s = br#"{"brokerAddrs":{"0":"a"},"n":[-1,2.5e3],"x":null}"#;
        assert!(matches!(quote_bare_integer_keys(s), Cow::Borrowed(_)));
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in [
            &b"{"[..],
            b"{0",
            b"{0:",
            b"\"",
            b"\"\\",
            b"}}}]]]",
            b"{-",
            b"{,,,1:",
            b"\xff\xfe{1:2}",
        ] {
            let _ = quote_bare_integer_keys(s);
        }
        assert_eq!(q("{1 :2"), "{\"1\" :2");
    }
}
