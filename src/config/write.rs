//! Getting bytes onto disk without losing anything: the exclusive lock beside the config, the
//! atomic replace (temp file in the target's directory, fsync, rename, fsync of the directory),
//! symlinks followed so the link survives, and the existing file's mode and owner kept.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::ConfigError;

/// How long a writer waits while the lock does not change hands before giving up with a clear
/// error (`REGLOGIN_LOCK_TIMEOUT` overrides it).
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Follows a chain of symlinks to the file that is really written, even when that file does not
/// exist yet (a dangling link to a config that will be created).
pub fn resolve_target(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// Creates the directory that holds the config as Docker does (0700), parents included.
pub fn ensure_dir(dir: &Path) -> Result<(), ConfigError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| ConfigError::Write {
            path: dir.to_path_buf(),
            source,
        })
}

/// An exclusive lock on `<config>.lock`, held until dropped. The lock file is never the file that
/// is renamed over, so every writer locks the same inode.
pub struct ConfigLock {
    _file: File,
}

impl ConfigLock {
    pub fn acquire(target: &Path) -> Result<ConfigLock, ConfigError> {
        let mut lock_path = target.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let write_error = |source| ConfigError::Write {
            path: lock_path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(write_error)?;
        // The wait is bounded by progress, not in total: a long queue behind slow helpers moves
        // (each holder stamps the file when it takes the lock), a holder that is stuck does not.
        let patience = crate::seconds_from_env("REGLOGIN_LOCK_TIMEOUT", LOCK_WAIT);
        let started = Instant::now();
        let mut last_stamp = Vec::new();
        let mut progress_at = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => {
                    crate::debug_line!(
                        "locked {} after {:.1} ms",
                        lock_path.display(),
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                    stamp(&file);
                    return Ok(ConfigLock { _file: file });
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let current = read_stamp(&file);
                    if current != last_stamp {
                        last_stamp = current;
                        progress_at = Instant::now();
                    } else if progress_at.elapsed() >= patience {
                        return Err(ConfigError::LockTimeout {
                            path: lock_path,
                            waited: patience,
                            holder: holder_pid(&last_stamp),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(fs::TryLockError::Error(source)) => return Err(write_error(source)),
            }
        }
    }
}

/// Writes "PID NANOS" into the lock file: a waiter that sees it change knows the queue moved.
/// Best effort: a lock file that cannot be written still locks.
fn stamp(file: &File) {
    use std::os::unix::fs::FileExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let text = format!("{} {nanos}\n", std::process::id());
    let _ = file.set_len(0);
    let _ = file.write_at(text.as_bytes(), 0);
}

fn read_stamp(file: &File) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut buffer = [0u8; 64];
    let read = file.read_at(&mut buffer, 0).unwrap_or(0);
    buffer[..read].to_vec()
}

fn holder_pid(stamp: &[u8]) -> Option<u32> {
    std::str::from_utf8(stamp)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Replaces `target` with `bytes` atomically. A new file gets mode 0600; an existing one keeps
/// its mode and owner.
pub fn replace_file(target: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    replace_file_with_mode(target, bytes, None)
}

/// As [`replace_file`]; `force_mode` sets the mode whatever an existing file had (a store of
/// secrets is always 0600).
pub fn replace_file_with_mode(
    target: &Path,
    bytes: &[u8],
    force_mode: Option<u32>,
) -> Result<(), ConfigError> {
    let write_error = |source| ConfigError::Write {
        path: target.to_path_buf(),
        source,
    };
    let existing = fs::metadata(target).ok();
    let mode =
        force_mode.unwrap_or_else(|| existing.as_ref().map_or(0o600, |meta| meta.mode() & 0o7777));
    let dir = target.parent().unwrap_or(Path::new("."));
    let file_name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.json".to_owned());
    remove_stale_temp_files(dir, &file_name);
    // Unique per process and per call: threads of one library user may save at once (they
    // serialise on the lock, but a crashed writer's leftover must not block the next one).
    static NEXT_TEMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let sequence = NEXT_TEMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    let temp_path = dir.join(format!(
        ".{file_name}.{}.{sequence}.{nanos}.tmp",
        std::process::id()
    ));

    let result = (|| {
        let mut temp = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp_path)?;
        temp.write_all(bytes)?;
        temp.set_permissions(fs::Permissions::from_mode(mode))?;
        if let Some(meta) = &existing {
            // Only root may give a file away; for anyone else the owner is already theirs.
            let _ = std::os::unix::fs::fchown(&temp, Some(meta.uid()), Some(meta.gid()));
        }
        temp.sync_all()?;
        fs::rename(&temp_path, target)
    })();

    match result {
        Ok(()) => {
            if let Ok(dir_handle) = File::open(dir) {
                let _ = dir_handle.sync_all();
            }
            Ok(())
        }
        Err(err) => {
            let _ = fs::remove_file(&temp_path);
            // A config bind-mounted into a container cannot be renamed over (EBUSY), and a
            // directory we may not create files in (EACCES) still allows writing the file itself.
            if existing.is_some() && matches!(err.raw_os_error(), Some(16 | 18 | 13 | 30)) {
                overwrite_in_place(target, bytes).map_err(write_error)
            } else {
                Err(write_error(err))
            }
        }
    }
}

/// A writer killed between creating its temp file and renaming it leaves a full copy of the
/// file behind, credentials included. Callers hold the lock, so no live writer owns one.
fn remove_stale_temp_files(dir: &Path, file_name: &str) {
    let prefix = format!(".{file_name}.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn overwrite_in_place(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).truncate(true).open(target)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "reglogin-write-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn new_files_are_private_and_existing_modes_are_kept() {
        let dir = scratch("mode");
        let target = dir.join("config.json");
        replace_file(&target, b"{}").unwrap();
        assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o600);
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
        replace_file(&target, b"{\"a\":1}").unwrap();
        assert_eq!(fs::metadata(&target).unwrap().mode() & 0o777, 0o644);
        assert_eq!(fs::read(&target).unwrap(), b"{\"a\":1}");
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temp file left behind");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_killed_writers_temp_file_is_swept_by_the_next_write() {
        let dir = scratch("sweep");
        let target = dir.join("config.json");
        let stale = dir.join(".config.json.999999.0.1.tmp");
        fs::write(&stale, b"{\"auths\": {\"secret\": 1}}").unwrap();
        fs::write(dir.join("keep.tmp"), b"not ours").unwrap();
        replace_file(&target, b"{}").unwrap();
        assert!(!stale.exists(), "stale temp file left behind");
        assert!(dir.join("keep.tmp").exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn symlinks_are_followed_and_kept() {
        let dir = scratch("link");
        let real = dir.join("real.json");
        let link = dir.join("config.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        let target = resolve_target(&link).unwrap();
        assert_eq!(target, real);
        replace_file(&target, b"{}").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&link).unwrap(), b"{}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_lock_excludes_a_second_holder() {
        let dir = scratch("lock");
        let target = dir.join("config.json");
        let first = ConfigLock::acquire(&target).unwrap();
        let lock_file = OpenOptions::new()
            .write(true)
            .open(dir.join("config.json.lock"))
            .unwrap();
        assert!(matches!(
            lock_file.try_lock(),
            Err(fs::TryLockError::WouldBlock)
        ));
        drop(first);
        lock_file.try_lock().unwrap();
        fs::remove_dir_all(dir).unwrap();
    }
}
