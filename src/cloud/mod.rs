//! Cloud registries whose passwords come from the cloud provider's API rather than from the
//! user: Amazon ECR (private and Public) through AWS credentials; Google Container Registry and
//! Artifact Registry through Google's Application Default Credentials; Azure Container Registry
//! through an Entra ID service principal.
//!
//! Nothing in here runs unless a cloud command (`ecr`, `gcr`, `acr`) or one of the provider's
//! hosts asks for it, so `login`/`get` for other registries never pay for it (no files read, no
//! clients built).

pub mod aws;
pub mod azure;
pub mod ecr;
pub mod gcp;

/// Replaces `dir/file_name` with `bytes` (a token cache): directory 0700, file 0600 from its
/// creation, written to a temp file, fsynced and renamed, so a reader sees the old or the new
/// cache, never half of one. The bytes hold tokens: they are wiped afterwards.
pub(crate) fn write_private_cache(
    dir: &std::path::Path,
    file_name: &str,
    mut bytes: Vec<u8>,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let result = (|| {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let temp = dir.join(format!(".{file_name}.{}.{nanos}.tmp", std::process::id()));
        let written = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&temp, dir.join(file_name))
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    })();
    zeroize::Zeroize::zeroize(&mut bytes);
    result
}
