//! The listening side of the control socket, owned by the daemon and serviced from its poll
//! loop: non-blocking, bounded work per call, so a slow or silent client never stalls the data
//! path.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::protocol::{Request, Response};
use crate::sys;

/// A client that has not sent a full request (or read its answer) by then is dropped.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request accepted.
const MAX_REQUEST: usize = 64 * 1024;
/// At most this many clients at once; more are refused.
const MAX_CLIENTS: usize = 16;

#[derive(Debug)]
struct Client {
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    written: usize,
    answered: bool,
    since: Instant,
}

/// The listening side, owned by the daemon. Removes its socket file when dropped.
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    clients: Vec<Client>,
}

impl Server {
    /// Binds `path` with mode 0600 (its directory, if created, gets 0700). A stale socket file
    /// (left by a daemon that was killed: no one answers) is replaced, with a warning; a live
    /// one is an error, and so is a path that is not a socket (never delete someone's file).
    pub fn bind(path: &Path) -> Result<Server, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(format!(
                    "--control {}: the path exists and is not a socket; refusing to replace \
                     it: give another --control PATH",
                    path.display()
                ));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "control socket {} is in use: another native-vtep is running with it; stop \
                     it, or give this one another --control PATH",
                    path.display()
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| format!("cannot remove stale {}: {e}", path.display()))?;
            tracing::warn!(
                "replaced stale control socket {} (left by a native-vtep that was killed, or \
                 that ran as another --user and could not remove it)",
                path.display()
            );
        }
        // Created 0600 at once (umask), not made so afterwards: no window in which another
        // user could connect.
        let old_mask = sys::umask(0o177);
        let bound = UnixListener::bind(path);
        sys::umask(old_mask);
        let listener =
            bound.map_err(|e| format!("cannot create control socket {}: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("control socket: {e}"))?;
        Ok(Server {
            listener,
            path: path.to_path_buf(),
            clients: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the socket and removes its file; the error says why the file stays (after
    /// `--user`, a root-only directory no longer lets this process unlink it).
    pub fn close(mut self) -> io::Result<()> {
        self.clients.clear();
        let path = std::mem::take(&mut self.path);
        std::fs::remove_file(&path)
    }

    /// Appends the descriptors to poll: the listener, then each client (readable while its
    /// request is incomplete, writable while its answer is pending).
    pub fn poll_fds(&self, fds: &mut Vec<sys::PollFd>) {
        fds.push(sys::poll_in(self.listener.as_raw_fd()));
        for c in &self.clients {
            let mut p = sys::poll_in(c.stream.as_raw_fd());
            if c.answered {
                p = sys::poll_out(c.stream.as_raw_fd());
            }
            fds.push(p);
        }
    }

    /// Accepts new clients, reads requests, answers complete ones with `handle`, writes
    /// answers, and drops finished or timed-out clients. Bounded: a few accepts and one read
    /// and write per client per call.
    pub fn service(&mut self, mut handle: impl FnMut(Request) -> Response) {
        for _ in 0..4 {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.clients.len() >= MAX_CLIENTS || stream.set_nonblocking(true).is_err() {
                        continue; // dropping the stream closes it
                    }
                    self.clients.push(Client {
                        stream,
                        input: Vec::new(),
                        output: Vec::new(),
                        written: 0,
                        answered: false,
                        since: Instant::now(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!("control socket accept: {e}");
                    break;
                }
            }
        }
        let now = Instant::now();
        self.clients.retain_mut(|c| {
            if now.duration_since(c.since) > CLIENT_TIMEOUT {
                return false;
            }
            if !c.answered {
                let mut chunk = [0u8; 4096];
                match c.stream.read(&mut chunk) {
                    Ok(0) => {
                        if c.input.is_empty() {
                            return false;
                        }
                        c.input.push(b'\n'); // EOF ends the request too
                    }
                    Ok(n) => c.input.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return false,
                }
                if let Some(end) = c.input.iter().position(|b| *b == b'\n') {
                    let response = match serde_json::from_slice::<Request>(&c.input[..end]) {
                        Ok(request) => handle(request),
                        Err(e) => Response::err(format!("bad request: {e}")),
                    };
                    c.output = serde_json::to_vec(&response).unwrap_or_default();
                    c.output.push(b'\n');
                    c.answered = true;
                } else if c.input.len() > MAX_REQUEST {
                    return false;
                }
            }
            if c.answered {
                match c.stream.write(&c.output[c.written..]) {
                    Ok(n) => c.written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return false,
                }
                return c.written < c.output.len();
            }
            true
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
