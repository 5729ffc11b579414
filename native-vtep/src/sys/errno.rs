//! `errno` values the callers match on, re-exported so they need no libc import.

pub const EPERM: i32 = libc::EPERM;
pub const EACCES: i32 = libc::EACCES;
pub const ENOENT: i32 = libc::ENOENT;
pub const ENODEV: i32 = libc::ENODEV;
pub const ENXIO: i32 = libc::ENXIO;
pub const EBUSY: i32 = libc::EBUSY;
pub const EBADFD: i32 = libc::EBADFD;
pub const EINVAL: i32 = libc::EINVAL;
pub const EADDRINUSE: i32 = libc::EADDRINUSE;
pub const EADDRNOTAVAIL: i32 = libc::EADDRNOTAVAIL;
pub const EOPNOTSUPP: i32 = libc::EOPNOTSUPP;
pub const ECONNREFUSED: i32 = libc::ECONNREFUSED;
