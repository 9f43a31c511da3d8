//! Choosing what an output shows: one event, idle samples or not, and which
//! frames stay in stacks. Every output reads the profile through a [`View`].

use super::OutputError;
use crate::profile::{EventIdx, EventInfo, Frame, FrameId, Profile, Sample, StackId, ThreadIdx};

/// Which samples and frames an output shows.
#[derive(Clone, Copy, Default)]
pub struct Selection<'a> {
    /// The event to show, by name; `None` shows the first recorded event
    /// (in `script`: every event).
    pub event: Option<&'a str>,
    /// Leave out samples taken while the thread waited in the kernel.
    pub hide_idle: bool,
    /// Frames for which this returns `false` are cut out of every stack (their
    /// samples stay, charged to the nearest kept caller), e.g. to hide
    /// libpython internals.
    pub keep_frame: Option<&'a dyn Fn(&Frame) -> bool>,
}

impl std::fmt::Debug for Selection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selection")
            .field("event", &self.event)
            .field("hide_idle", &self.hide_idle)
            .field("keep_frame", &self.keep_frame.map(|_| "<fn>"))
            .finish()
    }
}

/// Label of a stack that has no frames left (empty, or every frame hidden).
pub const NO_FRAMES: &str = "[unknown]";

/// Sample count and summed weight of one stack.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub samples: u64,
    pub weight: u64,
}

impl Tally {
    /// This tally's share of `total` in percent: by weight, or by samples
    /// when every weight is zero.
    pub fn percent_of(self, total: Tally) -> f64 {
        if total.weight > 0 {
            100.0 * self.weight as f64 / total.weight as f64
        } else if total.samples > 0 {
            100.0 * self.samples as f64 / total.samples as f64
        } else {
            0.0
        }
    }

    pub fn add(&mut self, other: Tally) {
        self.samples += other.samples;
        self.weight = self.weight.saturating_add(other.weight);
    }
}

/// A profile seen through a [`Selection`]: filtered stacks and samples.
pub(crate) struct View<'p> {
    pub profile: &'p Profile,
    /// `None` when every event is shown (script only).
    pub event: Option<EventIdx>,
    hide_idle: bool,
    /// Filtered stacks, root first, indexed by [`StackId`]; a stack left
    /// without frames holds the id of [`NO_FRAMES`].
    stacks: Vec<Vec<FrameId>>,
    no_frames: Frame,
}

impl<'p> View<'p> {
    /// A view of one event: the named one, or the first.
    pub fn one_event(profile: &'p Profile, sel: &Selection<'_>) -> Result<View<'p>, OutputError> {
        let event = match sel.event {
            Some(name) => find_event(profile, name)?,
            None => 0,
        };
        Ok(View::build(profile, Some(event), sel))
    }

    /// A view of the named event, or of all events when none is named.
    pub fn any_event(profile: &'p Profile, sel: &Selection<'_>) -> Result<View<'p>, OutputError> {
        let event = sel.event.map(|n| find_event(profile, n)).transpose()?;
        Ok(View::build(profile, event, sel))
    }

    fn build(profile: &'p Profile, event: Option<EventIdx>, sel: &Selection<'_>) -> View<'p> {
        let no_frames_id = profile.frames.len() as FrameId;
        let keep: Vec<bool> = match sel.keep_frame {
            Some(keep) => profile.frames.iter().map(keep).collect(),
            None => vec![true; profile.frames.len()],
        };
        let stacks = profile
            .stacks
            .iter()
            .map(|stack| {
                let mut kept: Vec<FrameId> = stack
                    .iter()
                    .copied()
                    .filter(|&f| keep.get(f as usize).copied().unwrap_or(false))
                    .collect();
                if kept.is_empty() {
                    kept.push(no_frames_id);
                }
                kept
            })
            .collect();
        View {
            profile,
            event,
            hide_idle: sel.hide_idle,
            stacks,
            no_frames: Frame::marker(NO_FRAMES),
        }
    }

    /// The frame with this id (including the [`NO_FRAMES`] marker).
    pub fn frame(&self, id: FrameId) -> &Frame {
        self.profile
            .frames
            .get(id as usize)
            .unwrap_or(&self.no_frames)
    }

    /// Number of frame ids, the [`NO_FRAMES`] marker included.
    pub fn frame_count(&self) -> usize {
        self.profile.frames.len() + 1
    }

    /// The filtered frames of a stack, root first.
    pub fn stack(&self, id: StackId) -> &[FrameId] {
        self.stacks.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Name of the event shown (`all events` when every event is).
    pub fn event_name(&self) -> &str {
        match self.event {
            Some(e) => self
                .profile
                .events
                .get(usize::from(e))
                .map_or("(no event)", |e| e.name.as_str()),
            None => "all events",
        }
    }

    /// The samples this view shows, in file order.
    pub fn samples(&self) -> impl Iterator<Item = &'p Sample> + '_ {
        self.profile.samples.iter().filter(move |s| {
            self.event.is_none_or(|e| s.event == e)
                && !(self.hide_idle && s.idle)
                && (s.stack as usize) < self.stacks.len()
        })
    }

    /// The recorded event shown, when one event is.
    pub fn event_info(&self) -> Option<&'p EventInfo> {
        self.event
            .and_then(|e| self.profile.events.get(usize::from(e)))
    }

    /// True when the shown weights are nanoseconds (clock events).
    pub fn weights_are_ns(&self) -> bool {
        self.event_info().is_some_and(|e| e.unit == "ns")
    }

    /// Like [`View::samples_by_thread`], but an error when nothing is shown.
    pub fn threads_with_samples(&self) -> Result<Vec<(ThreadIdx, Vec<&'p Sample>)>, OutputError> {
        let threads = self.samples_by_thread();
        if threads.is_empty() {
            return Err(OutputError::NoSamples {
                event: self.event_name().to_string(),
            });
        }
        Ok(threads)
    }

    /// Like [`View::stack_tallies`], but an error when nothing is shown.
    pub fn nonempty_stack_tallies(&self) -> Result<(Vec<Tally>, Tally), OutputError> {
        let (per_stack, total) = self.stack_tallies();
        if total.samples == 0 {
            return Err(OutputError::NoSamples {
                event: self.event_name().to_string(),
            });
        }
        Ok((per_stack, total))
    }

    /// The shown samples of each thread that has any, in time order (equal
    /// times keep file order); threads in profile order.
    pub fn samples_by_thread(&self) -> Vec<(ThreadIdx, Vec<&'p Sample>)> {
        let mut by_thread: Vec<Vec<&'p Sample>> = vec![Vec::new(); self.profile.threads.len()];
        let mut unknown: Vec<(ThreadIdx, Vec<&'p Sample>)> = Vec::new();
        for s in self.samples() {
            match by_thread.get_mut(s.thread as usize) {
                Some(list) => list.push(s),
                // A thread index the table lacks (damaged file): kept apart.
                None => match unknown.iter_mut().find(|(t, _)| *t == s.thread) {
                    Some((_, list)) => list.push(s),
                    None => unknown.push((s.thread, vec![s])),
                },
            }
        }
        let mut out: Vec<(ThreadIdx, Vec<&'p Sample>)> = by_thread
            .into_iter()
            .enumerate()
            .map(|(t, list)| (t as ThreadIdx, list))
            .chain(unknown)
            .filter(|(_, list)| !list.is_empty())
            .collect();
        for (_, list) in &mut out {
            list.sort_by_key(|s| s.time_ns);
        }
        out
    }

    /// Samples and weight per stack id, plus the grand total.
    pub fn stack_tallies(&self) -> (Vec<Tally>, Tally) {
        self.stack_tallies_of(self.samples())
    }

    /// Like [`View::stack_tallies`], over some of the view's samples
    /// (e.g. those of the last second).
    pub fn stack_tallies_of<'s>(
        &self,
        samples: impl Iterator<Item = &'s Sample>,
    ) -> (Vec<Tally>, Tally) {
        let mut per_stack = vec![Tally::default(); self.stacks.len()];
        let mut total = Tally::default();
        for s in samples {
            let one = Tally {
                samples: 1,
                weight: s.weight,
            };
            // Samples from outside the view (another profile) are not counted.
            if let Some(tally) = per_stack.get_mut(s.stack as usize) {
                tally.add(one);
                total.add(one);
            }
        }
        (per_stack, total)
    }

    /// `comm-pid/tid` of a thread, as perf's folding names threads.
    pub fn thread_label(&self, thread: u32) -> String {
        match self.profile.threads.get(thread as usize) {
            Some(t) => format!("{}-{}/{}", t.name.replace(' ', "_"), t.pid, t.tid),
            None => format!("[thread {thread}]"),
        }
    }
}

fn find_event(profile: &Profile, name: &str) -> Result<EventIdx, OutputError> {
    profile
        .event_index(name)
        .ok_or_else(|| OutputError::UnknownEvent {
            name: name.to_string(),
            available: if profile.events.is_empty() {
                "none".into()
            } else {
                profile
                    .events
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
}
