//! Timing shared by the examples' benchmarks (`#[path]`-included: not an example itself).
use std::time::Instant;

/// Seconds this thread has run on a CPU (Linux `/proc/thread-self/schedstat`), so the load of a
/// shared machine does not count; wall-clock time elsewhere.
pub fn cpu_seconds(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| wall.elapsed().as_secs_f64(), |ns| ns as f64 * 1e-9)
}

/// CPU seconds `f` takes.
pub fn timed(mut f: impl FnMut()) -> f64 {
    let wall = Instant::now();
    let start = cpu_seconds(wall);
    f();
    cpu_seconds(wall) - start
}
