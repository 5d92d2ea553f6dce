//! A process's subtree, read from `/proc`.
//!
//! A process group is not enough to find what a server started: a descendant that calls
//! `setsid` (or `setpgid`) leaves the group, and `kill(-pgid)` no longer reaches it. Parent links
//! are what it cannot leave — while the supervisor lives it is a child subreaper, so orphans are
//! re-parented to it, not to init — so the supervisor (and `RunningChild`'s drop) walk the
//! `ppid` links of every `/proc/<pid>/stat` from the root down.
//!
//! The walk reads one small file per process on the host: cheap next to a process's start, and
//! done only when a tree is being ended.

use std::collections::{HashMap, HashSet, VecDeque};

/// One process, as its `/proc/<pid>/stat` described it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proc {
    /// Its pid.
    pub(crate) pid: i32,
    /// Its parent's pid.
    pub(crate) ppid: i32,
    /// Its process group.
    pub(crate) pgrp: i32,
    /// It has exited and waits to be reaped (`Z`) or is being torn down (`X`).
    pub(crate) dead: bool,
}

/// Parses the content of `/proc/<pid>/stat`: `pid (comm) state ppid pgrp …`. The command name
/// may hold spaces and parentheses, so the fields are taken after its *last* `)`.
pub(crate) fn parse_stat(stat: &str) -> Option<Proc> {
    let (head, rest) = stat.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Proc { pid, ppid, pgrp, dead: matches!(state, "Z" | "X" | "x") })
}

/// Every process that can be read now. A process that exits during the scan is skipped.
pub(crate) fn scan() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|stat| parse_stat(&stat))
        .collect()
}

/// The descendants of `root` (not `root` itself), plus the members of process group `group`
/// when given, in `procs`. Parents come before their children.
pub(crate) fn family_in(procs: &[Proc], root: i32, group: Option<i32>) -> Vec<Proc> {
    let mut children: HashMap<i32, Vec<&Proc>> = HashMap::new();
    for proc in procs {
        children.entry(proc.ppid).or_default().push(proc);
    }
    let mut seen = HashSet::from([root]);
    let mut family = Vec::new();
    let mut parents = VecDeque::from([root]);
    while let Some(parent) = parents.pop_front() {
        for child in children.get(&parent).into_iter().flatten() {
            if seen.insert(child.pid) {
                family.push(**child);
                parents.push_back(child.pid);
            }
        }
    }
    if let Some(group) = group {
        family.extend(procs.iter().filter(|p| p.pgrp == group && seen.insert(p.pid)));
    }
    family
}

/// The descendants of `root` and the members of `group`, read from `/proc` now.
pub(crate) fn family(root: i32, group: Option<i32>) -> Vec<Proc> {
    family_in(&scan(), root, group)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: i32, ppid: i32, pgrp: i32) -> Proc {
        Proc { pid, ppid, pgrp, dead: false }
    }

    #[test]
    fn stat_fields_are_read_after_the_last_parenthesis_of_the_name() {
        let stat = "4242 (we(ird) name) S 4200 4100 4100 0 -1 4194560 0 0";
        assert_eq!(parse_stat(stat), Some(proc(4242, 4200, 4100)));
        let zombie = parse_stat("7 (sh) Z 1 7 7 0").unwrap();
        assert!(zombie.dead);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn family_follows_parent_links_and_adds_the_group() {
        let procs = [
            proc(1, 0, 1),
            proc(10, 1, 10),  // the root
            proc(11, 10, 10), // child
            proc(12, 11, 12), // grandchild that left the group (setsid)
            proc(13, 12, 12), // its child
            proc(20, 1, 10),  // in the group but re-parented elsewhere
            proc(30, 1, 30),  // unrelated
            proc(31, 30, 30), // unrelated
        ];
        let pids = |group| family_in(&procs, 10, group).iter().map(|p| p.pid).collect::<Vec<_>>();
        assert_eq!(pids(None), [11, 12, 13]);
        assert_eq!(pids(Some(10)), [11, 12, 13, 20]);
    }

    #[test]
    fn this_process_is_found_in_its_parents_family() {
        let me = std::process::id() as i32;
        let parent = std::os::unix::process::parent_id() as i32;
        assert!(family(parent, None).iter().any(|p| p.pid == me));
    }
}
