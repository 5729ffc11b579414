//! A shareable moment: the URL fragment and the JSON export carry the script, and optionally
//! the view time and the selected frame, so a teacher can link one moment of a run:
//! `#S4&t=1030000&frame=410`, `#script=<json>&t=500023&frame=410`, or in the JSON export
//! `"t_us": 500023, "frame": 410` beside the script's fields. Both are optional: links and
//! files saved by earlier builds (the script alone) still load, at t = 0.

use serde::{Deserialize, Serialize};

use super::script::Script;

/// A moment of a run: the view time (microseconds) and the selected frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moment {
    pub t_us: Option<u64>,
    pub frame: Option<u32>,
}

/// The JSON export: the script's own fields, and the moment's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    #[serde(flatten)]
    pub script: Script,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<u32>,
}

impl Shared {
    pub fn moment(&self) -> Moment {
        Moment {
            t_us: self.t_us,
            frame: self.frame,
        }
    }
}

/// `decodeURIComponent`, tolerant: a `%` not followed by two hex digits stays as it is.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The raw fragment (without `#`, percent-encoded as in the address bar) split into what
/// names the script (decoded: `S4`, `sandbox`, `script={...}`) and the moment. The script part
/// is everything before the first `&` (a script's JSON has its `&` encoded).
pub fn split(raw: &str) -> (String, Moment) {
    let raw = raw.trim().trim_start_matches('#');
    let mut parts = raw.split('&');
    let spec = decode(parts.next().unwrap_or(""));
    let mut m = Moment::default();
    for p in parts {
        match p.split_once('=') {
            Some(("t", v)) => m.t_us = v.parse().ok(),
            Some(("frame", v)) => m.frame = v.parse().ok(),
            _ => {}
        }
    }
    (spec, m)
}

/// The fragment for a script part (already encoded for a URL) and a moment.
pub fn join(spec: &str, m: Moment) -> String {
    let mut out = spec.to_string();
    if let Some(t) = m.t_us.filter(|t| *t > 0) {
        out.push_str(&format!("&t={t}"));
    }
    if let Some(f) = m.frame {
        out.push_str(&format!("&frame={f}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_carry_a_moment_and_old_ones_still_read() {
        assert_eq!(split("S4"), ("S4".to_string(), Moment::default()));
        assert_eq!(
            split("#S4&t=1030000&frame=410"),
            (
                "S4".to_string(),
                Moment {
                    t_us: Some(1_030_000),
                    frame: Some(410)
                }
            )
        );
        let json = "script=%7B%22a%22%3A%22x%26y%22%7D";
        assert_eq!(split(json).0, "script={\"a\":\"x&y\"}");
        assert_eq!(
            split(&format!("{json}&t=5")).1,
            Moment {
                t_us: Some(5),
                frame: None
            }
        );
        assert_eq!(split("S1&t=oops&x=1").1, Moment::default());
        assert_eq!(join("S4", Moment::default()), "S4");
        let m = Moment {
            t_us: Some(0),
            frame: Some(3),
        };
        assert_eq!(join("S4", m), "S4&frame=3", "t = 0 is the default");
        assert_eq!(decode("100%25 %zz%4"), "100% %zz%4");
    }
}
