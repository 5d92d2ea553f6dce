//! The process's allocator settings.
//!
//! glibc's malloc raises its mmap threshold each time a large block is freed (up to 32 MiB on
//! 64-bit), after which megabyte-sized answers are carved from the heap arenas and, once freed,
//! kept by the process. Under the unread-answers attack (docs/reliability.md) that made RSS
//! grow by 158 MB and stay at +116 MB after the attacker left, for a 64 MiB cap on unread bytes;
//! with the threshold pinned, blocks of 128 KiB and more are mapped and unmapped on their own,
//! and the same attack peaked at +64 MB and gave back all but 22 MB.

/// Blocks at least this large are mapped on their own and returned to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Pins glibc's mmap threshold (setting it turns off the dynamic adjustment). A no-op
/// elsewhere; `MALLOC_MMAP_THRESHOLD_` in the environment still wins.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only changes malloc's tuning parameters; it is called before any
        // thread is started, and glibc serialises it against allocations anyway.
        let applied = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        if applied != 1 {
            eprintln!("mcp-auth: could not set malloc's mmap threshold; memory may be kept longer");
        }
    }
}
