//! Turning the command line's paths into the list of images to classify.

use std::path::{Path, PathBuf};

use crate::error::CliError;

/// File name extensions taken from a directory. Named files are taken
/// whatever their name: the format is sniffed from their content.
const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "webp", "gif", "bmp"];

/// Files as given, in order; each directory replaced by its images
/// (recursively, sorted by path). A directory without images is an error:
/// it is more likely a wrong path than a wish to classify nothing.
pub fn expand(paths: &[PathBuf]) -> crate::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            walk(path, &mut files)?;
            files[before..].sort();
            if files.len() == before {
                return Err(CliError::Usage(format!(
                    "no images ({}) in directory {}",
                    IMAGE_EXTENSIONS.join(", "),
                    path.display()
                )));
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> crate::Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| CliError::Read { path: dir.to_path_buf(), source })?;
    for entry in entries {
        let path = entry.map_err(|source| CliError::Read { path: dir.to_path_buf(), source })?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if has_image_extension(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn has_image_extension(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    IMAGE_EXTENSIONS.contains(&ext.as_str())
}
