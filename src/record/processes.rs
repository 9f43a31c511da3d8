//! Which process, thread, binary and library every sample belongs to.
//!
//! Built from the side-band records (MMAP2, COMM with exec, FORK, EXIT),
//! applied in time order; attached processes are seeded from /proc.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One executable file mapping of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    /// File offset of `start`.
    pub pgoff: u64,
    pub path: Arc<str>,
    pub build_id: Option<Arc<[u8]>>,
}

impl Mapping {
    /// True for mappings backed by a file on disk (not `[vdso]`, `//anon`, ...).
    pub fn is_file(&self) -> bool {
        self.path.starts_with('/') && !self.path.starts_with("//anon")
    }

    /// The file offset of `addr` within this mapping.
    pub fn file_offset(&self, addr: u64) -> u64 {
        addr - self.start + self.pgoff
    }
}

/// A process as far as the recording has seen it.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub pid: u32,
    /// The command name after its last exec.
    pub comm: String,
    /// Executable mappings keyed by start address.
    pub maps: BTreeMap<u64, Mapping>,
    /// Bumped whenever `maps` changes, so unwinders know to refresh.
    pub maps_generation: u64,
}

impl Process {
    /// The mapping holding `addr`.
    pub fn mapping_at(&self, addr: u64) -> Option<&Mapping> {
        let (_, mapping) = self.maps.range(..=addr).next_back()?;
        (addr < mapping.end).then_some(mapping)
    }

    /// Adds a mapping, dropping whatever it overlays (a new mmap replaces old pages).
    pub fn add_mapping(&mut self, mapping: Mapping) {
        let overlapping: Vec<u64> = self
            .maps
            .range(..mapping.end)
            .filter(|(_, m)| m.end > mapping.start)
            .map(|(&start, _)| start)
            .collect();
        for start in overlapping {
            if let Some(old) = self.maps.remove(&start) {
                // Keep the parts of the old mapping outside the new one.
                if old.start < mapping.start {
                    self.maps.insert(
                        old.start,
                        Mapping {
                            end: mapping.start,
                            ..old.clone()
                        },
                    );
                }
                if old.end > mapping.end {
                    let cut = mapping.end - old.start;
                    self.maps.insert(
                        mapping.end,
                        Mapping {
                            start: mapping.end,
                            pgoff: old.pgoff + cut,
                            ..old
                        },
                    );
                }
            }
        }
        self.maps.insert(mapping.start, mapping);
        self.maps_generation += 1;
    }
}

/// A thread and what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    pub pid: u32,
    pub tid: u32,
    pub name: String,
}

/// All processes and threads of a recording.
#[derive(Debug, Default)]
pub struct Processes {
    procs: HashMap<u32, Process>,
    threads: HashMap<u32, Thread>,
}

impl Processes {
    pub fn process(&self, pid: u32) -> Option<&Process> {
        self.procs.get(&pid)
    }

    pub fn process_mut(&mut self, pid: u32) -> &mut Process {
        self.procs.entry(pid).or_insert_with(|| Process {
            pid,
            ..Process::default()
        })
    }

    pub fn thread(&self, tid: u32) -> Option<&Thread> {
        self.threads.get(&tid)
    }

    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.procs.values()
    }

    /// Records a thread's name (COMM).
    pub fn set_comm(&mut self, pid: u32, tid: u32, comm: &str, exec: bool) {
        if exec {
            // A new program: none of the old mappings survive exec.
            let process = self.process_mut(pid);
            process.maps.clear();
            process.maps_generation += 1;
        }
        if exec || pid == tid {
            self.process_mut(pid).comm = comm.to_string();
        }
        self.threads.insert(
            tid,
            Thread {
                pid,
                tid,
                name: comm.to_string(),
            },
        );
    }

    /// A new task: a thread of `pid`, or (pid != ppid) a new process that
    /// starts with a copy of its parent's mappings.
    pub fn fork(&mut self, pid: u32, ppid: u32, tid: u32) {
        if pid != ppid && !self.procs.contains_key(&pid) {
            let parent = self.procs.get(&ppid).cloned().unwrap_or_default();
            self.procs.insert(
                pid,
                Process {
                    pid,
                    comm: parent.comm.clone(),
                    maps: parent.maps,
                    maps_generation: parent.maps_generation + 1,
                },
            );
        }
        let name = self
            .threads
            .get(&tid)
            .or_else(|| self.procs.get(&pid).and(self.threads.get(&pid)))
            .map(|t| t.name.clone());
        let name = name
            .or_else(|| self.procs.get(&pid).map(|p| p.comm.clone()))
            .unwrap_or_default();
        self.threads.insert(tid, Thread { pid, tid, name });
    }

    /// A process that has just exec'd (stopped by the tracer): its old
    /// mappings are gone and the new ones are read from /proc.
    pub fn exec_from_proc(&mut self, pid: u32) {
        let comm = crate::target::attach::comm_of(pid as i32);
        self.set_comm(pid, pid, &comm, true);
        self.seed_from_proc(pid);
    }

    /// Reads an already-running process's executable mappings and thread names.
    pub fn seed_from_proc(&mut self, pid: u32) {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        let process = self.process_mut(pid);
        process.comm = crate::target::attach::comm_of(pid as i32);
        for line in maps.lines() {
            if let Some(mapping) = parse_maps_line(line) {
                process.add_mapping(mapping);
            }
        }
        for tid in crate::target::attach::threads_of(pid as i32).unwrap_or_default() {
            let name = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                .map(|s| s.trim_end().to_string())
                .unwrap_or_default();
            self.threads.insert(
                tid as u32,
                Thread {
                    pid,
                    tid: tid as u32,
                    name,
                },
            );
        }
    }
}

/// Parses an executable line of /proc/PID/maps:
/// `start-end perms offset dev inode path`.
pub fn parse_maps_line(line: &str) -> Option<Mapping> {
    let mut fields = line.split_whitespace();
    let (range, perms, offset) = (fields.next()?, fields.next()?, fields.next()?);
    if !perms.contains('x') {
        return None;
    }
    let (_dev, _inode) = (fields.next()?, fields.next()?);
    let path: String = fields.collect::<Vec<_>>().join(" ");
    let (start, end) = range.split_once('-')?;
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        pgoff: u64::from_str_radix(offset, 16).ok()?,
        path: if path.is_empty() {
            "//anon".into()
        } else {
            path.into()
        },
        build_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(start: u64, end: u64, path: &str) -> Mapping {
        Mapping {
            start,
            end,
            pgoff: 0,
            path: path.into(),
            build_id: None,
        }
    }

    #[test]
    fn new_mappings_replace_what_they_overlay() {
        let mut p = Process::default();
        p.add_mapping(map(0x1000, 0x5000, "/a"));
        p.add_mapping(map(0x2000, 0x3000, "/b"));
        assert_eq!(&*p.mapping_at(0x1800).unwrap().path, "/a");
        assert_eq!(&*p.mapping_at(0x2800).unwrap().path, "/b");
        let tail = p.mapping_at(0x4000).unwrap();
        assert_eq!(
            (&*tail.path, tail.start, tail.pgoff),
            ("/a", 0x3000, 0x2000)
        );
        assert!(p.mapping_at(0x5000).is_none());
        assert!(p.mapping_at(0x500).is_none());
    }

    #[test]
    fn exec_clears_maps_and_fork_copies_them() {
        let mut ps = Processes::default();
        ps.set_comm(10, 10, "python3", true);
        ps.process_mut(10)
            .add_mapping(map(0x1000, 0x2000, "/usr/bin/python3"));
        ps.fork(11, 10, 11);
        assert_eq!(
            &*ps.process(11).unwrap().mapping_at(0x1000).unwrap().path,
            "/usr/bin/python3"
        );
        ps.fork(10, 10, 12);
        assert_eq!(ps.thread(12).unwrap().pid, 10);
        ps.set_comm(11, 11, "ls", true);
        assert!(ps.process(11).unwrap().maps.is_empty());
        assert_eq!(ps.process(11).unwrap().comm, "ls");
        assert!(ps.process(10).unwrap().mapping_at(0x1000).is_some());
    }

    #[test]
    fn parses_proc_maps_lines() {
        let m = parse_maps_line(
            "7f12a0000000-7f12a0100000 r-xp 00002000 fd:01 1234   /usr/lib/libc.so.6",
        )
        .unwrap();
        assert_eq!(
            (m.start, m.end, m.pgoff, &*m.path),
            (0x7f12a0000000, 0x7f12a0100000, 0x2000, "/usr/lib/libc.so.6")
        );
        assert!(parse_maps_line("7f12a0000000-7f12a0100000 rw-p 00000000 00:00 0").is_none());
        assert_eq!(
            &*parse_maps_line("7ffd000-7ffe000 r-xp 00000000 00:00 0   [vdso]")
                .unwrap()
                .path,
            "[vdso]"
        );
    }

    #[test]
    fn own_process_maps_include_this_binary() {
        let mut ps = Processes::default();
        let me = std::process::id();
        ps.seed_from_proc(me);
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        assert!(ps
            .process(me)
            .unwrap()
            .maps
            .values()
            .any(|m| *m.path == *exe.to_string_lossy()));
        assert!(ps.thread(me).is_some());
    }
}
