//! Writes the pack's zip archive one file at a time, hashing each file as it streams past so
//! the manifest can list its SHA-256 without reading it back.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use openssl::sha::Sha256;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::ManifestFile;
use crate::AuditError;

/// Packs may hold personal data (usernames, user IDs): readable by the owner only.
const PACK_FILE_MODE: u32 = 0o600;

/// The archive being written and the hashes of the files finished so far.
pub(super) struct PackWriter {
    zip: ZipWriter<BufWriter<File>>,
    path: PathBuf,
    files: Vec<ManifestFile>,
    current: Option<Current>,
}

struct Current {
    name: String,
    listed: bool,
    size: u64,
    hasher: Sha256,
}

impl PackWriter {
    /// Creates (or truncates) the temporary archive at `path`.
    pub(super) fn create(path: &Path) -> Result<Self, AuditError> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(PACK_FILE_MODE)
            .open(path)
            .map_err(|source| io_error(path, source))?;
        Ok(Self {
            zip: ZipWriter::new(BufWriter::new(file)),
            path: path.to_owned(),
            files: Vec::new(),
            current: None,
        })
    }

    /// Starts a file that the manifest lists.
    pub(super) fn start(&mut self, name: &str) -> Result<(), AuditError> {
        self.begin(name, true)
    }

    /// Starts a file the manifest cannot list (the manifest and its signature).
    pub(super) fn start_unlisted(&mut self, name: &str) -> Result<(), AuditError> {
        self.begin(name, false)
    }

    /// Appends bytes to the current file.
    pub(super) fn write(&mut self, bytes: &[u8]) -> Result<(), AuditError> {
        if let Some(current) = self.current.as_mut() {
            current.hasher.update(bytes);
            current.size += bytes.len() as u64;
        }
        self.zip
            .write_all(bytes)
            .map_err(|source| io_error(&self.path, source))
    }

    /// Appends `value` as one JSON line.
    pub(super) fn write_json_line<T: serde::Serialize>(
        &mut self,
        value: &T,
    ) -> Result<(), AuditError> {
        let mut line = serde_json::to_vec(value)?;
        line.push(b'\n');
        self.write(&line)
    }

    /// The files finished so far.
    pub(super) fn files(&mut self) -> &[ManifestFile] {
        self.close_current();
        &self.files
    }

    /// Writes the central directory and syncs the file to disk.
    pub(super) fn finish(mut self) -> Result<(), AuditError> {
        self.close_current();
        let buffered = self.zip.finish()?;
        let file = buffered
            .into_inner()
            .map_err(|error| io_error(&self.path, error.into_error()))?;
        file.sync_all()
            .map_err(|source| io_error(&self.path, source))
    }

    fn begin(&mut self, name: &str, listed: bool) -> Result<(), AuditError> {
        self.close_current();
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            // The fastest deflate level: JSON lines still shrink about sevenfold, and the
            // export is bounded by compression time at higher levels (docs/benchmarks.md).
            .compression_level(Some(1))
            .large_file(true);
        self.zip.start_file(name, options)?;
        self.current = Some(Current {
            name: name.to_owned(),
            listed,
            size: 0,
            hasher: Sha256::new(),
        });
        Ok(())
    }

    fn close_current(&mut self) {
        if let Some(current) = self.current.take()
            && current.listed
        {
            self.files.push(ManifestFile {
                name: current.name,
                size: current.size,
                sha256: hex::encode(current.hasher.finish()),
            });
        }
    }
}

impl std::fmt::Debug for PackWriter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PackWriter")
            .field("path", &self.path)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

fn io_error(path: &Path, source: std::io::Error) -> AuditError {
    AuditError::Io {
        path: path.display().to_string(),
        source,
    }
}
