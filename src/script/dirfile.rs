//! Files read relative to their open directory.
//!
//! A revisions directory is opened once and every file in it is stat'ed
//! and opened relative to that handle (`fstatat`/`openat`), so the kernel
//! does not walk the whole path again for each of 10,000 files. On this
//! project's 2-core machines that halves the cost of a stat.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
#[cfg(not(unix))]
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a file looked like when it was read: if any of these differ the
/// next time, the file has changed (or is another file). `ctime` is in the
/// set because nobody can set it back: every write moves it forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FileStamp {
    pub size: u64,
    pub mtime_ns: i128,
    pub ctime_ns: i128,
    pub inode: u64,
    pub device: u64,
}

/// An open directory of revision files.
pub(super) struct DirHandle {
    #[cfg(not(unix))]
    path: PathBuf,
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
}

#[cfg(unix)]
impl DirHandle {
    pub fn open(path: &Path) -> io::Result<DirHandle> {
        use rustix::fs::{Mode, OFlags, CWD};
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(DirHandle { fd })
    }

    /// The stamp of `name` in this directory (following symlinks, as
    /// reading does).
    pub fn stamp(&self, name: &OsStr) -> io::Result<FileStamp> {
        let st = rustix::fs::statat(&self.fd, name, rustix::fs::AtFlags::empty())?;
        Ok(stamp_of(&st))
    }

    /// The stamp of the directory itself: its mtime moves whenever an entry
    /// is added, removed or renamed.
    pub fn own_stamp(&self) -> io::Result<FileStamp> {
        Ok(stamp_of(&rustix::fs::fstat(&self.fd)?))
    }

    fn open_file(&self, name: &OsStr) -> io::Result<File> {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            // Non-blocking: if the entry was swapped for a FIFO after it was
            // listed as a regular file, the open returns at once and the
            // type check in `read_into` refuses it.
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
        )?;
        Ok(File::from(fd))
    }
}

#[cfg(unix)]
fn stamp_of(st: &rustix::fs::Stat) -> FileStamp {
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    // The field types differ between targets; all fit these widths.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    FileStamp {
        size: st.st_size as u64,
        mtime_ns: ns(st.st_mtime as i64, st.st_mtime_nsec as i64),
        ctime_ns: ns(st.st_ctime as i64, st.st_ctime_nsec as i64),
        inode: st.st_ino as u64,
        device: st.st_dev as u64,
    }
}

#[cfg(not(unix))]
impl DirHandle {
    pub fn open(path: &Path) -> io::Result<DirHandle> {
        Ok(DirHandle {
            path: path.to_path_buf(),
        })
    }

    /// Directory times are not a reliable change signal everywhere; the
    /// listing is always read afresh.
    pub fn own_stamp(&self) -> io::Result<FileStamp> {
        Err(io::Error::other("no directory stamps on this platform"))
    }

    pub fn stamp(&self, name: &OsStr) -> io::Result<FileStamp> {
        let m = std::fs::metadata(self.path.join(name))?;
        let ns = |t: io::Result<std::time::SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128)
        };
        Ok(FileStamp {
            size: m.len(),
            mtime_ns: ns(m.modified()),
            ctime_ns: ns(m.created()),
            inode: 0,
            device: 0,
        })
    }

    fn open_file(&self, name: &OsStr) -> io::Result<File> {
        File::open(self.path.join(name))
    }
}

/// The error of [`DirHandle::read_into`] on something that is not a regular
/// file (it changed type after it was listed).
#[derive(Debug)]
pub(super) struct NotRegular(pub &'static str);

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a regular file but a {}", self.0)
    }
}

impl std::error::Error for NotRegular {}

impl DirHandle {
    /// Reads the whole of `name` into `buf` (reused across files, grown as
    /// needed): open, read until end of file, close; no allocation per file.
    pub fn read_into(&self, name: &OsStr, buf: &mut Vec<u8>) -> io::Result<usize> {
        let mut f = self.open_file(name)?;
        let t = f.metadata()?.file_type();
        if !t.is_file() {
            return Err(io::Error::other(NotRegular(special_kind(&t))));
        }
        if buf.len() < 16 * 1024 {
            buf.resize(16 * 1024, 0);
        }
        let mut len = 0;
        loop {
            if len == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            match f.read(&mut buf[len..]) {
                Ok(0) => return Ok(len),
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The name of a file type that is not a regular file, for messages.
pub(super) fn special_kind(t: &std::fs::FileType) -> &'static str {
    if t.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO (named pipe)";
        }
        if t.is_socket() {
            return "socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "device";
        }
    }
    let _ = t;
    "special file"
}
