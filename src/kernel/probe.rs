//! Whether an event opens on this machine, for `pyperf list`.

use super::sys::{new_attr, open_event, OpenError};
use crate::event::EventSpec;

/// Tries to open `spec` as a disabled counter on pyperf itself, first as given,
/// then user-space only (what an unprivileged user gets).
pub fn can_open(spec: &EventSpec) -> bool {
    let mut attr = new_attr();
    spec.apply_to(&mut attr);
    attr.set_disabled(1);
    match open_event(&attr, 0, -1, None) {
        Ok(_) => true,
        Err(OpenError::PermissionDenied(_)) => {
            attr.set_exclude_kernel(1);
            attr.set_exclude_hv(1);
            open_event(&attr, 0, -1, None).is_ok()
        }
        Err(_) => false,
    }
}

/// Whether `spec` can be *sampled* here (some PMUs count but raise no
/// overflow interrupt): opens a disabled 1 kHz sampling event on pyperf itself.
pub fn can_sample(spec: &EventSpec) -> bool {
    let mut attr = new_attr();
    spec.apply_to(&mut attr);
    attr.set_disabled(1);
    attr.set_freq(1);
    attr.__bindgen_anon_1.sample_freq = 1000;
    attr.set_exclude_kernel(1);
    attr.set_exclude_hv(1);
    open_event(&attr, 0, -1, None).is_ok()
}
