//! Builds a [`Profile`] while interning frames and stacks, so equal frames and
//! equal stacks get one id each.

use std::collections::HashMap;

use super::model::{
    EventIdx, EventInfo, Frame, FrameId, Meta, Profile, Sample, StackId, ThreadIdx, ThreadInfo,
};

/// Incremental builder of a [`Profile`]; ids are handed out in first-seen order.
#[derive(Debug, Default)]
pub struct ProfileBuilder {
    profile: Profile,
    frame_ids: HashMap<Frame, FrameId>,
    stack_ids: HashMap<Vec<FrameId>, StackId>,
}

impl ProfileBuilder {
    /// An empty builder.
    pub fn new() -> ProfileBuilder {
        ProfileBuilder::default()
    }

    /// Replaces the whole-run facts.
    pub fn set_meta(&mut self, meta: Meta) {
        self.profile.meta = meta;
    }

    /// The whole-run facts, to fill in place.
    pub fn meta_mut(&mut self) -> &mut Meta {
        &mut self.profile.meta
    }

    /// Adds an event; samples refer to it by the returned index.
    pub fn add_event(&mut self, event: EventInfo) -> EventIdx {
        self.profile.events.push(event);
        (self.profile.events.len() - 1) as EventIdx
    }

    /// Adds a thread (no de-duplication: the caller knows thread identity).
    pub fn add_thread(&mut self, thread: ThreadInfo) -> ThreadIdx {
        self.profile.threads.push(thread);
        (self.profile.threads.len() - 1) as ThreadIdx
    }

    /// Renames a thread (comm changes, exec).
    pub fn set_thread_name(&mut self, thread: ThreadIdx, name: &str) {
        if let Some(t) = self.profile.threads.get_mut(thread as usize) {
            t.name = name.to_string();
        }
    }

    /// The id of `frame`, adding it on first sight.
    pub fn intern_frame(&mut self, frame: &Frame) -> FrameId {
        if let Some(&id) = self.frame_ids.get(frame) {
            return id;
        }
        let id = self.profile.frames.len() as FrameId;
        self.profile.frames.push(frame.clone());
        self.frame_ids.insert(frame.clone(), id);
        id
    }

    /// The id of a root-to-leaf stack of frame ids, adding it on first sight.
    pub fn intern_stack(&mut self, frames: &[FrameId]) -> StackId {
        if let Some(&id) = self.stack_ids.get(frames) {
            return id;
        }
        let id = self.profile.stacks.len() as StackId;
        self.profile.stacks.push(frames.to_vec());
        self.stack_ids.insert(frames.to_vec(), id);
        id
    }

    /// Interns each frame of a root-to-leaf list, then the stack they form.
    pub fn intern_frames<'f>(&mut self, frames: impl IntoIterator<Item = &'f Frame>) -> StackId {
        let ids: Vec<FrameId> = frames.into_iter().map(|f| self.intern_frame(f)).collect();
        self.intern_stack(&ids)
    }

    /// Adds one sample; its stack, thread and event must already exist.
    pub fn add_sample(&mut self, sample: Sample) {
        self.profile.samples.push(sample);
    }

    /// Number of samples added so far.
    pub fn sample_count(&self) -> usize {
        self.profile.samples.len()
    }

    /// The finished profile.
    pub fn finish(self) -> Profile {
        self.profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::FrameKind;

    fn py(name: &str, line: u32) -> Frame {
        Frame {
            kind: FrameKind::Python,
            function: name.into(),
            file: Some("app.py".into()),
            line: Some(line),
            module: None,
            inlined: false,
        }
    }

    #[test]
    fn equal_frames_and_stacks_share_ids() {
        let mut b = ProfileBuilder::new();
        let s1 = b.intern_frames(&[py("main", 1), py("a", 2)]);
        let s2 = b.intern_frames(&[py("main", 1), py("a", 2)]);
        let s3 = b.intern_frames(&[py("main", 1), py("a", 3)]);
        assert_eq!(s1, s2);
        assert_ne!(s1, s3);
        let p = b.finish();
        assert_eq!(p.frames.len(), 3);
        assert_eq!(p.stacks, vec![vec![0, 1], vec![0, 2]]);
    }
}
