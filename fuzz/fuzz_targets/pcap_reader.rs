//! The pcap reader over any bytes: the iteration ends, records lie inside the input, an error
//! ends the iteration; and what the writer writes, the reader reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtep_core::Instant;
use vtep_core::pcap::{GLOBAL_HEADER_LEN, PcapReader, PcapWriter, RECORD_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = PcapReader::new(data) {
        let _ = (
            reader.link_type(),
            reader.snaplen(),
            reader.is_nanosecond(),
            reader.is_big_endian(),
        );
        let mut consumed = GLOBAL_HEADER_LEN;
        let mut failed = false;
        let mut frames = Vec::new();
        for record in reader {
            assert!(!failed, "nothing follows an error");
            match record {
                Ok(record) => {
                    consumed += RECORD_HEADER_LEN + record.data.len();
                    assert!(consumed <= data.len());
                    frames.push((record.at, record.data));
                }
                Err(_) => failed = true,
            }
        }
        if !failed {
            assert_eq!(consumed, data.len(), "every byte belongs to a record");
        }

        // Write the frames again and read them back: the writer holds non-negative times with
        // 32-bit seconds (a microsecond field above 999999 in a hostile file can carry past
        // them).
        let mut writer = PcapWriter::new();
        let frames: Vec<(Instant, &[u8])> = frames
            .into_iter()
            .filter(|(at, _)| (0..=i64::from(u32::MAX)).contains(&(at.total_micros() / 1_000_000)))
            .collect();
        for (at, frame) in &frames {
            writer.write_frame(*at, frame);
        }
        let bytes = writer.into_bytes();
        let back: Vec<(Instant, &[u8])> = PcapReader::new(&bytes)
            .expect("own header")
            .map(|r| r.map(|r| (r.at, r.data)).expect("own records"))
            .collect();
        assert_eq!(back.len(), frames.len());
        for ((at, data), (at2, data2)) in frames.iter().zip(&back) {
            assert_eq!(data2, data);
            assert_eq!(at2, at);
        }
    }
});
