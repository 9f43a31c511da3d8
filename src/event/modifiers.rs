//! Event modifiers after `:` (`cycles:u`, `{a,b}:k`, `cycles:pp`), with perf's semantics
//! (tools/perf/util/parse-events.c, `get_event_modifier`).

use super::{EventError, Modifiers};

/// The longest run of `p` perf accepts: precise_ip goes from 0 to 3.
pub const MAX_PRECISE: u8 = 3;

/// Applies the modifier letters `mods` (without the `:`) on top of `current`.
///
/// perf semantics: the first of `u`/`k`/`h` switches to "exclude everything not named"
/// unless something is already excluded, so `:u` counts user only, `:uk` user and
/// kernel, and a group's `:k` on a member written `x:u` adds kernel to it. Each `p`
/// raises the precise level. A letter may appear once (except `p`). `event` is the
/// text being parsed, for messages.
pub fn apply(current: Modifiers, mods: &str, event: &str) -> Result<Modifiers, EventError> {
    let mut m = current;
    let mut excluding = m.exclude_user || m.exclude_kernel || m.exclude_hv;
    let mut seen = String::new();
    for ch in mods.chars() {
        if ch != 'p' && seen.contains(ch) {
            return Err(EventError::RepeatedModifier {
                event: event.to_string(),
                modifier: ch,
            });
        }
        seen.push(ch);
        if matches!(ch, 'u' | 'k' | 'h') && !excluding {
            excluding = true;
            m.exclude_user = true;
            m.exclude_kernel = true;
            m.exclude_hv = true;
        }
        match ch {
            'u' => m.exclude_user = false,
            'k' => m.exclude_kernel = false,
            'h' => m.exclude_hv = false,
            'p' => {
                if m.precise >= MAX_PRECISE {
                    return Err(EventError::TooPrecise {
                        event: event.to_string(),
                    });
                }
                m.precise += 1;
            }
            other => {
                return Err(EventError::UnknownModifier {
                    event: event.to_string(),
                    modifier: other,
                })
            }
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(u: bool, k: bool, h: bool, precise: u8) -> Modifiers {
        Modifiers {
            exclude_user: u,
            exclude_kernel: k,
            exclude_hv: h,
            precise,
        }
    }

    fn ap(mods: &str) -> Result<Modifiers, EventError> {
        apply(Modifiers::default(), mods, "x")
    }

    #[test]
    fn privilege_levels_follow_perf() {
        // Expected values taken from `perf stat -vv -e cs:<mods>` (exclude_* lines).
        assert_eq!(ap("").unwrap(), m(false, false, false, 0));
        assert_eq!(ap("u").unwrap(), m(false, true, true, 0));
        assert_eq!(ap("k").unwrap(), m(true, false, true, 0));
        assert_eq!(ap("h").unwrap(), m(true, true, false, 0));
        assert_eq!(ap("uk").unwrap(), m(false, false, true, 0));
        assert_eq!(ap("ku").unwrap(), m(false, false, true, 0));
        assert_eq!(ap("kuh").unwrap(), m(false, false, false, 0));
    }

    #[test]
    fn group_modifier_adds_to_member_modifier() {
        // perf: `{cs:u,faults}:k` gives cs exclude_hv only, faults exclude_user+hv.
        let member = ap("u").unwrap();
        assert_eq!(apply(member, "k", "x").unwrap(), m(false, false, true, 0));
        // `{cs:p,faults}:p`: precise 2 and 1.
        let member = ap("p").unwrap();
        assert_eq!(apply(member, "p", "x").unwrap().precise, 2);
        assert_eq!(
            apply(ap("pp").unwrap(), "pp", "x"),
            Err(EventError::TooPrecise { event: "x".into() })
        );
    }

    #[test]
    fn precise_levels_and_errors() {
        assert_eq!(ap("p").unwrap().precise, 1);
        assert_eq!(ap("upp").unwrap(), m(false, true, true, 2));
        assert_eq!(ap("ppp").unwrap().precise, 3);
        assert_eq!(
            ap("pppp"),
            Err(EventError::TooPrecise { event: "x".into() })
        );
        assert_eq!(
            ap("uu"),
            Err(EventError::RepeatedModifier {
                event: "x".into(),
                modifier: 'u'
            })
        );
        assert_eq!(
            ap("ux"),
            Err(EventError::UnknownModifier {
                event: "x".into(),
                modifier: 'x'
            })
        );
        assert!(matches!(
            ap("é"),
            Err(EventError::UnknownModifier { modifier: 'é', .. })
        ));
    }
}
