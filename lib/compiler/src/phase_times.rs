//! The wall-clock time of each phase of a compilation, for `wasm2pvm --time-phases`
//! (what `scripts/bench-compile.sh` times, broken down; docs/results.md).

use std::time::{Duration, Instant};

/// Phases in the order they ran, each with its time: a phase ends where the next starts.
#[derive(Clone, Debug)]
pub struct PhaseTimes {
    phases: Vec<(&'static str, Duration)>,
    since: Instant,
}

impl PhaseTimes {
    /// Starts the first phase now.
    pub fn start() -> Self {
        PhaseTimes { phases: Vec::new(), since: Instant::now() }
    }

    /// Ends the phase that is running, named `phase`, and starts the next.
    pub fn end(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.phases.push((phase, now - self.since));
        self.since = now;
    }

    /// The phases ended so far, in order.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// Appends the phases of `other`, which ran after these.
    pub fn extend(&mut self, other: PhaseTimes) {
        self.phases.extend(other.phases);
        self.since = other.since;
    }
}

/// A table: one line per phase with its milliseconds and share, then the total.
impl std::fmt::Display for PhaseTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total: Duration = self.phases.iter().map(|(_, t)| *t).sum();
        let width = self.phases.iter().map(|(name, _)| name.len()).max().unwrap_or(0).max("total".len());
        let share = |t: Duration| if total.is_zero() { 0.0 } else { 100.0 * t.as_secs_f64() / total.as_secs_f64() };
        for (name, time) in &self.phases {
            writeln!(f, "{name:<width$} {:9.2} ms {:5.1} %", time.as_secs_f64() * 1e3, share(*time))?;
        }
        writeln!(f, "{:<width$} {:9.2} ms", "total", total.as_secs_f64() * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_keep_their_order_and_the_table_sums_them() {
        let mut times = PhaseTimes::start();
        times.end("first");
        let mut later = PhaseTimes::start();
        later.end("second");
        later.end("third");
        times.extend(later);
        let names: Vec<&str> = times.phases().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["first", "second", "third"]);
        let fixed = PhaseTimes {
            phases: vec![("parse", Duration::from_millis(1)), ("optimise", Duration::from_millis(3))],
            since: Instant::now(),
        };
        assert_eq!(
            fixed.to_string(),
            "parse         1.00 ms  25.0 %\noptimise      3.00 ms  75.0 %\ntotal         4.00 ms\n"
        );
    }
}
