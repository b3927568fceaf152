//! Input files for the command-line programs: a named file is read into memory, `-` or
//! no file reads standard input. Errors are one line naming the input.

use std::io::Read;
use std::path::Path;

/// Reads `path` (standard input for `None` or `-`) and returns its bytes and the name
/// errors should use.
pub fn open(path: Option<&Path>) -> Result<(Vec<u8>, String), String> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let name = p.display().to_string();
            let bytes = std::fs::read(p).map_err(|e| format!("{name}: {e}"))?;
            Ok((bytes, name))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("<stdin>: {e}"))?;
            Ok((buf, "<stdin>".to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_and_names_missing_ones() {
        let dir = std::env::temp_dir().join(format!("pvm-input-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let full = dir.join("full.bin");
        std::fs::write(&full, [1, 2, 3]).unwrap();
        let empty = dir.join("empty.bin");
        std::fs::write(&empty, []).unwrap();
        let (input, name) = open(Some(&full)).unwrap();
        assert_eq!(input, [1, 2, 3]);
        assert!(name.ends_with("full.bin"));
        assert!(open(Some(&empty)).unwrap().0.is_empty());
        let missing = open(Some(&dir.join("missing.bin"))).err().unwrap();
        assert!(missing.ends_with("missing.bin: No such file or directory (os error 2)"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
