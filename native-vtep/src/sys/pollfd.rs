//! The entries of a `poll` set (plain data: no `unsafe` here; `poll` itself is in `sys.rs`).

use std::os::fd::RawFd;

/// One entry of a [`poll`](super::poll) set.
pub type PollFd = libc::pollfd;

/// Interest in readability of `fd`.
pub fn poll_in(fd: RawFd) -> PollFd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Interest in writability of `fd`.
pub fn poll_out(fd: RawFd) -> PollFd {
    libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    }
}

/// Whether `poll` reported anything for this entry (ready, or in error: the next read or write
/// then says which).
pub fn is_ready(p: &PollFd) -> bool {
    p.revents != 0
}
