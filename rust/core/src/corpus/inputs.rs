//! What the user named as input (files, directories, globs) -> a sorted, de-duplicated list of
//! files. A directory written by prepare-corpus contributes its shards only, a Hugging Face
//! `datasets` directory (`save_to_disk`) its data files only.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::columnar::dataset_dir_files;
use super::{prepared, remote};
use crate::error::{Error, Result};

/// The files named by the user, plus what was skipped on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSet {
    /// Sorted, de-duplicated files.
    pub files: Vec<PathBuf>,
    /// Hidden files and directories (name starting with `.`) skipped inside directories and globs.
    pub skipped_hidden: u64,
}

/// Files named by the user: plain files, directories (walked recursively, entries sorted, hidden
/// files and directories skipped, symlinks followed once) and glob patterns (the `glob` crate;
/// `*` does not match a leading dot). The result is sorted and de-duplicated (two spellings of
/// one file count once). A missing path is [`Error::NotFound`]; a glob matching nothing, a
/// directory without files or an empty list is [`Error::InvalidInput`] naming it. A directory
/// written by prepare-corpus (it holds `.prepare-state.json`) yields only its `corpus-NNNNN.txt`
/// shards, not its `stats.json` or `punkt/` parameters.
pub fn expand_inputs<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<PathBuf>> {
    expand_inputs_detailed(inputs).map(|set| set.files)
}

/// [`expand_inputs`] that also reports how many hidden entries were skipped.
pub fn expand_inputs_detailed<S: AsRef<str>>(inputs: &[S]) -> Result<InputSet> {
    if inputs.is_empty() {
        return Err(Error::InvalidInput("no input files given".into()));
    }
    let mut set = InputSet::default();
    let mut found: Vec<PathBuf> = Vec::new();
    let mut visited_dirs = HashSet::new();
    for input in inputs {
        let input = input.as_ref();
        if input.is_empty() {
            return Err(Error::InvalidInput("an input path is the empty string".into()));
        }
        let path = Path::new(input);
        if remote::is_url(path) {
            // The application expanded URL directories and globs; an object is taken as named.
            found.push(path.to_path_buf());
        } else if !path.exists() && has_glob_meta(input) {
            expand_glob(input, &mut found, &mut set.skipped_hidden, &mut visited_dirs)?;
        } else {
            add_path(path, &mut found, &mut set.skipped_hidden, &mut visited_dirs)?;
        }
    }
    found.sort();
    let mut seen = HashSet::new();
    for file in found {
        // Canonical form only as the de-duplication key; the user's spelling is kept.
        let key = if remote::is_url(&file) { file.clone() } else { fs::canonicalize(&file).unwrap_or_else(|_| file.clone()) };
        if seen.insert(key) {
            set.files.push(file);
        }
    }
    Ok(set)
}

fn has_glob_meta(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn expand_glob(
    pattern: &str,
    found: &mut Vec<PathBuf>,
    skipped: &mut u64,
    visited: &mut HashSet<PathBuf>,
) -> Result<()> {
    let options = glob::MatchOptions { require_literal_leading_dot: true, ..Default::default() };
    let matches = glob::glob_with(pattern, options)
        .map_err(|e| Error::invalid_arg("input", format!("bad glob pattern {pattern:?}: {e}")))?;
    let before = found.len();
    let mut matched_any = false;
    for entry in matches {
        let path = entry.map_err(|e| {
            let path = e.path().to_path_buf();
            Error::io(path, io::Error::from(e))
        })?;
        matched_any = true;
        add_path(&path, found, skipped, visited)?;
    }
    if !matched_any {
        return Err(Error::InvalidInput(format!("{pattern}: glob pattern matches no files")));
    }
    if found.len() == before {
        return Err(Error::InvalidInput(format!("{pattern}: glob pattern matches only directories without files")));
    }
    Ok(())
}

fn add_path(path: &Path, found: &mut Vec<PathBuf>, skipped: &mut u64, visited: &mut HashSet<PathBuf>) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        // A Hugging Face datasets directory (save_to_disk) contributes its data files only.
        if let Some(files) = dataset_dir_files(path)? {
            if files.is_empty() {
                return Err(Error::InvalidInput(format!("{}: a datasets directory without data files", path.display())));
            }
            found.extend(files);
            return Ok(());
        }
        let before = found.len();
        walk_dir(path, found, skipped, visited)?;
        if found.len() == before {
            return Err(Error::InvalidInput(format!(
                "{}: directory contains no input files (hidden files are skipped)",
                path.display()
            )));
        }
    } else {
        found.push(path.to_path_buf());
    }
    Ok(())
}

fn walk_dir(dir: &Path, found: &mut Vec<PathBuf>, skipped: &mut u64, visited: &mut HashSet<PathBuf>) -> Result<()> {
    // A symlink loop would otherwise recurse forever.
    let canonical = fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    if !visited.insert(canonical) {
        return Ok(());
    }
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        entries.push(entry.path());
    }
    entries.sort();
    // A prepare-corpus output directory (marked by its journal) contributes only its shards:
    // its stats.json and Punkt parameters are not text to train or build data on.
    if dir.join(prepared::STATE_FILE).is_file() {
        found.extend(entries.into_iter().filter(|p| prepared::is_shard_file(p) && p.is_file()));
        return Ok(());
    }
    if let Some(files) = dataset_dir_files(dir)? {
        found.extend(files);
        return Ok(());
    }
    for path in entries {
        let hidden = path.file_name().map(|n| n.to_string_lossy().starts_with('.')).unwrap_or(false);
        if hidden {
            *skipped += 1;
            continue;
        }
        // Follows symlinks; a dangling one is an error naming it rather than a silent gap.
        let meta = fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            walk_dir(&path, found, skipped, visited)?;
        } else if meta.is_file() {
            found.push(path);
        }
        // Sockets, FIFOs and devices inside a directory are not corpus files.
    }
    Ok(())
}

/// Size on disk (or in the store) of a file, if it can be read.
pub fn file_size(path: &Path) -> Option<u64> {
    if remote::is_url(path) {
        return remote::size(path).ok();
    }
    fs::metadata(path).ok().map(|m| m.len())
}

/// Total size on disk of `files`, for sizing a progress bar.
pub fn total_size(files: &[PathBuf]) -> u64 {
    files.iter().filter_map(|f| file_size(f)).sum()
}

/// `path<TAB>size<TAB>mtime_ns` of a file (zeros when it cannot be read): what a resume
/// fingerprint records of each input, so that a changed input is never resumed. For a URL the
/// store's version tag (ETag, generation) stands in for the modification time.
pub fn file_stamp(path: &Path) -> String {
    if remote::is_url(path) {
        let version = remote::version(path).unwrap_or_default();
        return format!("{}\t{}\t{version}", path.display(), file_size(path).unwrap_or(0));
    }
    let meta = fs::metadata(path).ok();
    let mtime = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}\t{}\t{mtime}", path.display(), meta.map_or(0, |m| m.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::TempDir;

    #[test]
    fn expand_dirs_recursively_sorted_without_hidden() {
        let d = TempDir::new("expand");
        d.write("b.txt", b"b");
        d.write("a.txt", b"a");
        d.write("sub/c.txt.gz", b"c");
        d.write("sub/.hidden.txt", b"h");
        d.write(".git/config", b"x");
        let set = expand_inputs_detailed(&[d.0.to_str().unwrap()]).unwrap();
        let names: Vec<_> = set.files.iter().map(|p| p.strip_prefix(&d.0).unwrap().to_path_buf()).collect();
        assert_eq!(names, [PathBuf::from("a.txt"), PathBuf::from("b.txt"), PathBuf::from("sub/c.txt.gz")]);
        assert_eq!(set.skipped_hidden, 2);
    }

    #[test]
    fn expand_globs_and_dedups() {
        let d = TempDir::new("glob");
        d.write("x1.txt", b"1");
        d.write("x2.txt", b"2");
        d.write("y.md", b"3");
        d.write(".x3.txt", b"hidden");
        let dir = d.0.to_str().unwrap();
        let pattern = format!("{dir}/*.txt");
        let explicit = format!("{dir}/x2.txt");
        let dotted = format!("{dir}/./x1.txt");
        let files = expand_inputs(&[pattern.as_str(), explicit.as_str(), dotted.as_str()]).unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files[0].ends_with("x1.txt") && files[1].ends_with("x2.txt"));
    }

    #[test]
    fn expand_errors_name_the_input() {
        let d = TempDir::new("experr");
        let missing = d.0.join("missing.txt");
        let err = expand_inputs(&[missing.to_str().unwrap()]).err().unwrap();
        assert!(matches!(err, Error::NotFound(_)) && err.to_string().contains("missing.txt"), "{err}");
        let pattern = format!("{}/*.nothing", d.0.display());
        let err = expand_inputs(&[pattern.as_str()]).err().unwrap();
        assert!(matches!(err, Error::InvalidInput(_)) && err.to_string().contains("*.nothing"), "{err}");
        fs::create_dir_all(d.0.join("emptydir")).unwrap();
        let err = expand_inputs(&[d.0.join("emptydir").to_str().unwrap()]).err().unwrap();
        assert!(err.to_string().contains("emptydir"), "{err}");
        let none: [&str; 0] = [];
        assert!(expand_inputs(&none).is_err());
    }
}
