//! The simulated time log lines carry: the machine sets it at every bus access and quantum
//! boundary of the thread that runs it, and a log formatter reads it. Observation only: no
//! model reads it, so it cannot change a run.

use std::cell::Cell;

use crate::Picos;

thread_local! {
    static NOW: Cell<Picos> = const { Cell::new(0) };
}

/// The machine on this thread is at `now`.
pub fn set(now: Picos) {
    NOW.with(|n| n.set(now));
}

/// The simulated time last set on this thread.
pub fn now() -> Picos {
    NOW.with(Cell::get)
}
