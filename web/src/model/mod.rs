//! What the playground shows, as plain data: no Yew, no browser. Components only render this.
//!
//! [`script`] is what runs (vtep-sim's script language, serialisable), [`lab`] runs it on the
//! simulator under a view clock and [`pace`] moves that clock while playing (every hop its
//! share of the screen). [`events`] is the event list, [`timeline`] its chapters and the next
//! interesting event, [`frame`] the selected frame (journey, reply, what each device did),
//! [`dissect`] reads a frame into layers and fields with byte ranges, [`explain`] says in words
//! why a frame was dropped and what a field is for. [`forms`] is the actions panel (choices,
//! strict numbers, unique names), [`results`] the result line of each action, [`outcome`] each
//! guided scenario's result, [`tables`] the VTEPs' and hosts' tables, [`layout`] places the
//! topology, [`fragment`] is a shareable moment (URL and JSON), [`view`] the rest (names,
//! labels, frames on the links, cache keys).

pub mod dissect;
pub mod events;
pub mod explain;
pub mod forms;
pub mod fragment;
pub mod frame;
pub mod lab;
pub mod layout;
pub mod outcome;
pub mod pace;
pub mod results;
pub mod tables;
pub mod timeline;
pub mod view;

/// What runs: a scenario or the sandbox plus the user's actions, exported as JSON and carried
/// in the URL. The language is vtep-sim's, so the playground runs exactly what the simulator's
/// scenarios are.
pub use vtep_sim::script;

/// `n` with thousands separators: `500000` -> `"500,000"`.
pub fn fmt_n(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes per hex dump line.
pub const BYTES_PER_LINE: usize = 16;

/// A byte buffer laid out as `offset  hex bytes` lines of [`BYTES_PER_LINE`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexDump {
    /// Total number of bytes.
    pub len: usize,
    /// The lines, in order; empty when the buffer is.
    pub lines: Vec<HexLine>,
}

/// One line of a [`HexDump`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexLine {
    /// Offset of the line's first byte, as 4 hex digits (`"0010"`).
    pub offset: String,
    /// The line's bytes as lowercase hex pairs separated by spaces, with an extra space
    /// after the 8th byte (`"ff ff ff ff ff ff 02 00  00 00 00 01 08 00 45 00"`).
    pub bytes: String,
}

impl HexDump {
    /// Lays `bytes` out in lines.
    pub fn new(bytes: &[u8]) -> Self {
        let lines = bytes
            .chunks(BYTES_PER_LINE)
            .enumerate()
            .map(|(i, chunk)| HexLine {
                offset: format!("{:04x}", i * BYTES_PER_LINE),
                bytes: hex_bytes(chunk),
            })
            .collect();
        Self {
            len: bytes.len(),
            lines,
        }
    }

    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn hex_bytes(chunk: &[u8]) -> String {
    let mut out = String::with_capacity(chunk.len() * 3 + 1);
    for (i, byte) in chunk.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if i == BYTES_PER_LINE / 2 {
            out.push(' ');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders a dump as text, one `offset  bytes` line per line, for exact comparisons.
    fn check(bytes: &[u8], expect: &str) {
        let dump = HexDump::new(bytes);
        assert_eq!(dump.len, bytes.len());
        let text: Vec<String> = dump
            .lines
            .iter()
            .map(|l| format!("{}  {}", l.offset, l.bytes))
            .collect();
        assert_eq!(text.join("\n"), expect);
    }

    #[test]
    fn hex_dump_layout() {
        check(&[], "");
        check(&[0x00], "0000  00");
        check(&[0xab, 0xcd, 0xef], "0000  ab cd ef");
        check(&[0; 8], "0000  00 00 00 00 00 00 00 00");
        check(&[0; 9], "0000  00 00 00 00 00 00 00 00  00");
        let bytes: Vec<u8> = (0..=0x12).collect();
        check(
            &bytes,
            "0000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n0010  10 11 12",
        );
    }

    #[test]
    fn empty_dump_has_no_lines() {
        let dump = HexDump::new(&[]);
        assert!(dump.is_empty());
        assert!(dump.lines.is_empty());
    }
}
