//! Where the engine tells and counts what happened: the event queue and the counters of
//! traffic that belongs to no network.
//!
//! A field of `Vtep` of its own, so the FDB's callbacks (ageing) and the ingress paths can
//! record into it while the FDB or a network is borrowed.

use alloc::collections::VecDeque;

use super::{Event, GlobalCounters, NetworkCounters};
use crate::Vni;
use crate::addr::{Destination, Mac};
use crate::fdb::LearnOutcome;

#[derive(Debug)]
pub(super) struct Sink {
    /// Fixed capacity: an event that does not fit is counted as lost, never queued.
    events: VecDeque<Event>,
    pub(super) global: GlobalCounters,
}

impl Sink {
    pub(super) fn new(capacity: usize) -> Sink {
        Sink {
            events: VecDeque::with_capacity(capacity),
            global: GlobalCounters::default(),
        }
    }

    /// Counts `event` in `counters`, its network's (`None`: traffic of no network), and
    /// queues it.
    pub(super) fn record(&mut self, counters: Option<&mut NetworkCounters>, event: Event) {
        match counters {
            Some(counters) => counters.count(&event),
            None => self.global.count(&event),
        }
        self.push(event);
    }

    /// Queues an event that counts nothing.
    pub(super) fn push(&mut self, event: Event) {
        if self.events.len() < self.events.capacity() {
            self.events.push_back(event);
        } else {
            self.global.events_lost += 1;
        }
    }

    #[inline]
    pub(super) fn pop(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// The event of a learning outcome, if it has one: a refresh (every frame from a known source)
/// or an ignored source has nothing to count or tell.
pub(super) fn learn_event(
    vni: Vni,
    mac: Mac,
    dest: Destination,
    outcome: LearnOutcome,
) -> Option<Event> {
    Some(match outcome {
        LearnOutcome::Learned => Event::Learned { vni, mac, dest },
        LearnOutcome::Moved { from, seq } => Event::Moved {
            vni,
            mac,
            from,
            to: dest,
            seq,
        },
        LearnOutcome::Frozen { moves } => Event::DuplicateFrozen { vni, mac, moves },
        LearnOutcome::Full => Event::FdbFull { vni, mac },
        LearnOutcome::Refreshed | LearnOutcome::Ignored(_) => return None,
    })
}
