//! Input files for the command-line programs: a file is memory-mapped (the only `unsafe`
//! in the binaries), `-` or no file reads standard input.

use memmap2::Mmap;
use std::io::Read;
use std::ops::Deref;
use std::path::Path;

/// The bytes of an input, mapped or read.
pub enum Input {
    /// A memory-mapped file.
    Mapped(Mmap),
    /// Bytes read into memory (standard input, empty files).
    Owned(Vec<u8>),
}

impl Deref for Input {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Input::Mapped(m) => m,
            Input::Owned(v) => v,
        }
    }
}

/// Opens `path` (standard input for `None` or `-`); the error is one line naming it.
pub fn open(path: Option<&Path>) -> Result<(Input, String), String> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let name = p.display().to_string();
            let file = std::fs::File::open(p).map_err(|e| format!("{name}: {e}"))?;
            let len = file.metadata().map_err(|e| format!("{name}: {e}"))?.len();
            if len == 0 {
                // Empty files cannot be mapped.
                return Ok((Input::Owned(Vec::new()), name));
            }
            // SAFETY: the map is read-only and lives only while the program inspects the
            // file; the tools document that the file must not be modified meanwhile
            // (another process truncating it could make reads fault).
            let map = unsafe { Mmap::map(&file) }.map_err(|e| format!("{name}: {e}"))?;
            Ok((Input::Mapped(map), name))
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("<stdin>: {e}"))?;
            Ok((Input::Owned(buf), "<stdin>".to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_files_and_handles_empty_ones() {
        let dir = std::env::temp_dir().join(format!("pvm-input-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let full = dir.join("full.bin");
        std::fs::write(&full, [1, 2, 3]).unwrap();
        let empty = dir.join("empty.bin");
        std::fs::write(&empty, []).unwrap();
        let (input, name) = open(Some(&full)).unwrap();
        assert_eq!(&*input, &[1, 2, 3]);
        assert!(name.ends_with("full.bin"));
        assert!(open(Some(&empty)).unwrap().0.is_empty());
        let missing = open(Some(&dir.join("missing.bin"))).err().unwrap();
        assert!(missing.ends_with("missing.bin: No such file or directory (os error 2)"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
