//! Output of the command-line programs, written as Unix tools write it: when the reader
//! of standard output or standard error goes away (a closed pipe, as in `… | head -1`),
//! the program ends at once and quietly with the status a shell shows for SIGPIPE.

use std::io::{self, Write};

/// Exit status of a program whose reader went away: 128 + SIGPIPE, as for a program the
/// signal ends.
pub const READER_GONE_STATUS: i32 = 128 + 13;

/// Writes `bytes` to standard output.
pub fn stdout(bytes: &[u8]) -> Result<(), String> {
    let mut out = io::stdout().lock();
    quiet_if_reader_gone(out.write_all(bytes).and_then(|()| out.flush())).map_err(|e| format!("<stdout>: {e}"))
}

/// Writes one line to standard error; a stream that fails otherwise is ignored, since
/// diagnostics must not change a program's outcome.
pub fn stderr_line(line: &str) {
    let mut err = io::stderr().lock();
    let _ = quiet_if_reader_gone(writeln!(err, "{line}"));
}

/// Passes `result` through, except a closed pipe, which ends the program quietly.
fn quiet_if_reader_gone(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(READER_GONE_STATUS),
        other => other,
    }
}
