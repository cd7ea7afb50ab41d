//! Following a log file as it grows, line by line, like `tail -F`: a file replaced under the
//! same name (rotated) is finished, then the new one is read from its start; a file cut shorter
//! than what was read (truncated in place) is read again from its start.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Most bytes one call reads, so a tick's parse stays bounded after a burst of output; the
/// rest waits for the next call.
const MAX_READ: u64 = 8 << 20;
/// A "line" longer than this without a newline is not a GC line: it is dropped.
const MAX_LINE: usize = 64 << 10;

pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    /// (device, inode) of `file`, to notice a rotation.
    id: (u64, u64),
    /// Bytes of `file` consumed.
    offset: u64,
    /// The start of a line whose end has not been written yet.
    partial: Vec<u8>,
    /// True while dropping the rest of an overlong line.
    skipping: bool,
}

impl LogFollower {
    /// Follows `path` from byte `from`, or from its end when `from` is None.
    pub fn open(path: &Path, from: Option<u64>) -> io::Result<LogFollower> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        let offset = from.unwrap_or(meta.len()).min(meta.len());
        Ok(LogFollower {
            path: path.to_path_buf(),
            file: Some(file),
            id: (meta.dev(), meta.ino()),
            offset,
            partial: Vec::new(),
            skipping: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Calls `each` with every complete line written since the last call (at most
    /// [`MAX_READ`] bytes' worth).
    pub fn read_lines(&mut self, mut each: impl FnMut(&str)) -> io::Result<()> {
        let mut budget = MAX_READ;
        // What the name points at now; a missing file (mid-rotation) keeps the old one.
        let now = std::fs::metadata(&self.path).ok();
        if let Some(meta) = &now {
            if (meta.dev(), meta.ino()) == self.id && meta.len() < self.offset {
                // Truncated in place (copytruncate): start over.
                self.offset = 0;
                self.partial.clear();
            }
        }
        budget -= self.drain(budget, &mut each)?;
        let rotated = now.filter(|m| (m.dev(), m.ino()) != self.id);
        // Only once the old file is read to its end (within the budget).
        if let Some(meta) = rotated.filter(|_| budget > 0) {
            // Rotated: the old file is finished above; the new one is read from its start.
            if let Ok(file) = File::open(&self.path) {
                self.file = Some(file);
                self.id = (meta.dev(), meta.ino());
                self.offset = 0;
                self.end_line(&mut each);
                self.drain(budget, &mut each)?;
            }
        }
        Ok(())
    }

    /// Reads the current file from `offset`, at most `budget` bytes; returns the bytes read.
    fn drain(&mut self, budget: u64, each: &mut impl FnMut(&str)) -> io::Result<u64> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        let read = file.take(budget).read_to_end(&mut bytes)? as u64;
        self.offset += read;
        let mut rest = &bytes[..];
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            self.push(&rest[..nl]);
            self.end_line(each);
            rest = &rest[nl + 1..];
        }
        self.push(rest);
        Ok(read)
    }

    fn push(&mut self, bytes: &[u8]) {
        if self.skipping || self.partial.len() + bytes.len() > MAX_LINE {
            self.partial.clear();
            self.skipping = true;
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    /// A newline (or the end of a rotated file): hands the line over.
    fn end_line(&mut self, each: &mut impl FnMut(&str)) {
        if !self.skipping && !self.partial.is_empty() {
            each(&String::from_utf8_lossy(&self.partial));
        }
        self.partial.clear();
        self.skipping = false;
    }
}
