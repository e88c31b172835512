//! Room in a bounded map whose entries expire: what console sessions and task routes are kept in.

use std::collections::HashMap;

use tokio::time::Instant;

/// Drops the entries of `map` that expired by `now` and, if it still holds `max` or more, the one
/// that would expire first, so one more fits.
pub(crate) fn make_room<V>(
    map: &mut HashMap<String, V>,
    max: usize,
    now: Instant,
    expires: impl Fn(&V) -> Instant,
) {
    map.retain(|_, v| expires(v) > now);
    if map.len() >= max
        && let Some(soonest) = map
            .iter()
            .min_by_key(|(_, v)| expires(v))
            .map(|(k, _)| k.clone())
    {
        map.remove(&soonest);
    }
}
