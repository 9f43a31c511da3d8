//! `pyperf list`: every known event, marking those that open on this machine.

use crate::event;
use crate::kernel::probe::can_open;

pub fn run(filter: Option<&str>) -> anyhow::Result<i32> {
    let mut entries = event::list_entries();
    if let Some(filter) = filter {
        let needle = filter.to_ascii_lowercase();
        entries.retain(|e| {
            e.all_names()
                .any(|n| n.to_ascii_lowercase().contains(&needle))
        });
    }
    print!("{}", event::format_list(&entries, &can_open));
    Ok(0)
}
