//! `errno` values the callers match on, re-exported so they need no libc import.

pub use libc::{
    EACCES, EADDRINUSE, EADDRNOTAVAIL, EBADFD, EBUSY, ECONNREFUSED, EINVAL, ENODEV, ENOENT, ENXIO,
    EOPNOTSUPP, EPERM,
};
