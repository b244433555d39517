//! The debug-probe FUS client of wb-host (what STM32CubeProgrammer does over SWD), on the
//! test devices, and the shorthand the FUS tests poll with.

use wb_firmware::presets;

pub use wb_host::probe::{PollEnd, Probe, ProbeError, MS};
pub use wb_proto;

/// A virgin device (the `virgin` preset) powered on with the probe attached, CPU2 not
/// started yet.
pub fn virgin() -> Probe {
    let dev = (presets::preset("virgin").expect("virgin preset").build)();
    Probe::with_device(&dev).expect("a machine for the virgin device")
}

/// Poll FUS_GET_STATE until the FUS is done: `Some((state, error))` when it ends on a state,
/// `None` when a wireless stack announced itself. Still busy at `limit` fails the test.
pub fn poll(p: &mut Probe, limit: u64) -> Result<Option<(u8, u8)>, ProbeError> {
    Ok(match p.poll(limit)? {
        PollEnd::State(state, error) => Some((state, error)),
        PollEnd::StackRunning => None,
        PollEnd::Timeout(last) => panic!("FUS still busy after {} ms: {last:?}", limit / MS),
    })
}
