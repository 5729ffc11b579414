//! How fast the animation plays: every hop its share of the screen time. Between two moments
//! where a frame leaves or arrives, the view clock moves linearly, and that stretch lasts
//! [`segment_ms`] on screen: the speed's time per hop for the shortest stretch, up to three
//! times that for a long one (log scale), so a 1 µs hop into a VTEP is as watchable as a 2 ms
//! WAN hop is, and the WAN hop still looks longer. When nothing is on a link the clock jumps to
//! the next frame, and says how much idle time it skipped.

use vtep_core::{Duration, Instant};

use super::lab::Lab;

/// Slider position (0..=100) of the default speed.
pub const DEFAULT_SPEED: u32 = 30;

/// Screen time per hop at slider position `pos`: 600 ms at [`DEFAULT_SPEED`], ten times less
/// every 25 steps up (from ~9.5 s at 0 to ~1 ms at 100).
pub fn hop_ms(pos: u32) -> f64 {
    600.0 * 10f64.powf((f64::from(DEFAULT_SPEED) - f64::from(pos.min(100))) / 25.0)
}

/// The speed slider's label: `0.6 s per hop`, `95 ms per hop`.
pub fn speed_label(pos: u32) -> String {
    let ms = hop_ms(pos);
    if ms >= 100.0 {
        format!("{:.1} s per hop", ms / 1000.0)
    } else {
        format!("{ms:.0} ms per hop")
    }
}

/// Screen time of a stretch of `len` virtual time: `hop` for 1 µs or less, `2 x hop` for a
/// millisecond, `3 x hop` for a second.
pub fn segment_ms(len: Duration, hop: f64) -> f64 {
    let us = len.total_micros().max(1) as f64;
    hop * (1.0 + us.log10() / 3.0)
}

/// At most this many stretches per animation frame (a fast speed in a busy run).
const MAX_SEGMENTS: usize = 400;

/// How far the clock may jump at once when nothing at all is coming (an idle sandbox).
pub const MAX_JUMP: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug, PartialEq)]
struct Segment {
    from: Instant,
    to: Instant,
    ms: f64,
    done_ms: f64,
}

/// What one animation frame did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tick {
    /// Idle virtual time jumped over.
    pub skipped: Duration,
    /// Hops dropped on arrival during the frame.
    pub dropped: Vec<u32>,
}

/// The animation's clock. See the module documentation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pacer {
    seg: Option<Segment>,
}

impl Pacer {
    /// Forgets the stretch under way (after a seek, a step, a new script).
    pub fn reset(&mut self) {
        self.seg = None;
    }

    /// Moves the lab on by `dt_ms` of screen time at `hop` ms per hop.
    pub fn tick(&mut self, lab: &mut Lab, dt_ms: f64, hop: f64) -> Tick {
        let mut tick = Tick::default();
        let before = lab.now();
        let mut budget = dt_ms;
        for _ in 0..MAX_SEGMENTS {
            if lab.at_end() || budget <= 0.0 {
                break;
            }
            let seg = match self.seg {
                Some(s) => s,
                None => {
                    let t = lab.now();
                    let mut limit = t + MAX_JUMP;
                    if let Some(e) = lab.end() {
                        limit = limit.min(e);
                    }
                    let next = lab.next_visible(limit).unwrap_or(limit);
                    if next <= t {
                        break;
                    }
                    if !lab.busy() {
                        // Nothing on the wire: jump.
                        tick.skipped += next - t;
                        lab.advance_to(next);
                        continue;
                    }
                    Segment {
                        from: t,
                        to: next,
                        ms: segment_ms(next - t, hop),
                        done_ms: 0.0,
                    }
                }
            };
            let step = budget.min(seg.ms - seg.done_ms);
            budget -= step;
            let done = seg.done_ms + step;
            let span = (seg.to - seg.from).total_micros() as f64;
            let at = if done >= seg.ms {
                seg.to
            } else {
                seg.from + Duration::from_micros((span * done / seg.ms) as u64)
            };
            lab.advance_to(at);
            self.seg = (done < seg.ms).then_some(Segment {
                done_ms: done,
                ..seg
            });
        }
        tick.dropped = lab.drops_in(before, lab.now());
        tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::view::script_named;

    #[test]
    fn speeds_and_labels() {
        assert!((hop_ms(DEFAULT_SPEED) - 600.0).abs() < 1e-9);
        assert_eq!(speed_label(DEFAULT_SPEED), "0.6 s per hop");
        assert_eq!(speed_label(0), "9.5 s per hop");
        assert_eq!(speed_label(50), "95 ms per hop");
        assert_eq!(speed_label(100), "1 ms per hop");
        let one = segment_ms(Duration::from_micros(1), 600.0);
        let wan = segment_ms(Duration::from_millis(2), 600.0);
        assert!((one - 600.0).abs() < 1e-9);
        assert!(wan > 1200.0 && wan < 1400.0, "{wan}");
    }

    /// At the default speed every hop of S1's first echo request stays on screen at least
    /// 400 ms: watched at 60 frames a second, each hop is in flight for 24 frames or more.
    #[test]
    fn every_hop_gets_its_share_of_the_screen() {
        let mut lab = Lab::new(script_named("S1").unwrap());
        let mut pacer = Pacer::default();
        let mut frames_in_flight: std::collections::BTreeMap<u32, usize> = Default::default();
        let mut skipped = Duration::ZERO;
        for _ in 0..(60 * 40) {
            let t = pacer.tick(&mut lab, 1000.0 / 60.0, hop_ms(DEFAULT_SPEED));
            skipped += t.skipped;
            for f in lab.flights() {
                *frames_in_flight.entry(f.hop).or_default() += 1;
            }
            if lab.now() >= Instant::from_millis(102) {
                break;
            }
        }
        let request = (0..lab.rows().len())
            .filter(|i| lab.rows()[*i].summary.contains("echo request seq 0"))
            .collect::<Vec<_>>();
        assert_eq!(request.len(), 5, "vm-a to vm-b in 5 hops");
        for i in request {
            let n = frames_in_flight.get(&(i as u32)).copied().unwrap_or(0);
            assert!(
                n >= 24,
                "hop {i} ({}) on screen for {n} frames",
                lab.rows()[i].summary
            );
        }
        assert!(
            skipped > Duration::ZERO,
            "idle time between the pings is skipped"
        );
    }

    #[test]
    fn drops_are_reported_by_the_frame_they_happen_in() {
        let mut lab = Lab::new(script_named("S3").unwrap());
        let mut pacer = Pacer::default();
        let mut dropped = Vec::new();
        for _ in 0..200_000 {
            let t = pacer.tick(&mut lab, 1000.0 / 60.0, hop_ms(100));
            dropped.extend(t.dropped);
            if lab.at_end() {
                break;
            }
        }
        assert!(lab.at_end());
        let expect: Vec<u32> = lab
            .sim()
            .trace()
            .iter()
            .filter(|h| h.dropped().is_some())
            .map(|h| h.id.0)
            .collect();
        assert_eq!(dropped, expect);
    }
}
