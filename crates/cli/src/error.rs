//! What can stop a command, and the exit code each one gives.

use std::path::PathBuf;

use densenet_edge::Fault;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The model, its manifest, or the engine.
    #[error("{0}")]
    Core(#[from] densenet_edge::Error),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    /// A reference file that is not what `model/make_references.py` writes.
    #[error("{}: {message}", path.display())]
    Reference { path: PathBuf, message: String },
    /// Arguments clap cannot check on its own.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Core(e) => match e.fault() {
                Fault::Input => 1,
                Fault::Model | Fault::Engine => 3,
            },
            CliError::Read { .. } | CliError::Write { .. } | CliError::Reference { .. } => 4,
        }
    }
}

pub fn read(path: &std::path::Path) -> crate::Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| CliError::Read { path: path.to_path_buf(), source })
}
