//! Thread priorities. The threads that do many things at once (hashing an
//! import, copying files, talking to providers) run at a lower priority than
//! the single threads they all wait on: the one recording an import, the
//! engine's writer and dispatcher, and the window. When the cores are busy,
//! the one step nothing can run beside keeps its core, and the person's own
//! programs come before Breakdex's background work.

/// How much lower, in `nice` steps.
const LOWER_BY: i32 = 10;

/// Lowers the calling thread's priority by [`LOWER_BY`] nice steps. On Linux
/// a thread's nice value is its own; elsewhere it would be the whole
/// process's, so nothing is done there.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: `nice` only changes the calling thread's scheduling priority; a
    // failure (already as low as it goes) leaves it as it was.
    unsafe {
        libc::nice(LOWER_BY);
    }
}
