//! Output files that appear whole or not at all.
//!
//! Everything pyperf writes for a user (reports, flamegraphs, converted
//! profiles) goes to a temporary file beside the target and is renamed into
//! place on success, so an error or a kill never leaves a half-written file.
//! A target that exists and is not a regular file (`/dev/null`, a FIFO, a
//! terminal) is written directly: renaming over it would replace it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written; becomes visible at `path` only on [`AtomicFile::commit`].
pub struct AtomicFile {
    path: PathBuf,
    /// `None` when writing straight to a special file.
    temp: Option<PathBuf>,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file next to `path`.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let special =
            std::fs::metadata(path).is_ok_and(|m| !m.file_type().is_file() && !m.is_dir());
        if special {
            let file = std::fs::OpenOptions::new().write(true).open(path)?;
            return Ok(AtomicFile {
                path: path.to_path_buf(),
                temp: None,
                writer: Some(BufWriter::new(file)),
            });
        }
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{}' is not a file name", path.display()),
            )
        })?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".pyperf-tmp-{}", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let file = File::create(&temp)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            temp: Some(temp),
            writer: Some(BufWriter::new(file)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        match &self.temp {
            Some(temp) => {
                file.sync_all()?;
                std::fs::rename(temp, &self.path)
            }
            None => Ok(()),
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.writer {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Not committed: remove the partial file.
        if let (Some(_), Some(temp)) = (self.writer.take(), &self.temp) {
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"hello").unwrap();
        assert!(!path.exists());
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"partial").unwrap();
        drop(file);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn special_files_are_written_in_place_not_replaced() {
        let mut file = AtomicFile::create(Path::new("/dev/null")).unwrap();
        file.write_all(b"discarded").unwrap();
        file.commit().unwrap();
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(
            std::os::unix::fs::FileTypeExt::is_char_device(&meta.file_type()),
            "/dev/null is still a device"
        );
    }

    #[test]
    fn missing_directory_is_an_error() {
        assert!(AtomicFile::create(Path::new("/nonexistent-dir/x.txt")).is_err());
    }
}
