//! Thread priorities. The threads that do many things at once (hashing an
//! import, copying files, talking to providers) run at a lower priority than
//! the single threads they all wait on: the one recording an import, the
//! engine's writer and dispatcher, and the window. When the cores are busy,
//! the one step nothing can run beside keeps its core, and the person's own
//! programs come before Breakdex's background work.

/// How much lower, in `nice` steps.
const LOWER_BY: i32 = 10;

/// Sets the calling thread's nice value to [`LOWER_BY`] steps above the
/// main thread's, however many times it is called and whichever thread
/// started it (a thread starts with its parent's nice value). On Linux a
/// thread's nice value is its own; elsewhere it would be the whole
/// process's, so nothing is done there.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: these calls only read and set scheduling priorities: asking by
    // the process id gives the main thread's, and `0` names the calling
    // thread. A failure leaves the priority as it was.
    unsafe {
        let main = libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t);
        libc::setpriority(libc::PRIO_PROCESS, 0, main + LOWER_BY);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{LOWER_BY, lower_this_thread};

    /// The nice value of the thread `Some(tid)` (`Some(0)`: the calling one),
    /// or of the main thread (`None`).
    fn nice_of(thread: Option<libc::id_t>) -> i32 {
        // SAFETY: only reads a priority.
        unsafe {
            let who = thread.unwrap_or(libc::getpid() as libc::id_t);
            libc::getpriority(libc::PRIO_PROCESS, who)
        }
    }

    /// A lowered thread, and a thread it starts that lowers itself again,
    /// both end up the same steps below the main thread, not twice as low.
    #[test]
    fn a_thread_is_lowered_once_below_the_main_thread_whoever_started_it() {
        let main = nice_of(None);
        let want = (main + LOWER_BY).min(19);
        let (outer, inner) = std::thread::spawn(move || {
            lower_this_thread();
            let outer = nice_of(Some(0));
            let inner = std::thread::spawn(|| {
                lower_this_thread();
                lower_this_thread();
                nice_of(Some(0))
            })
            .join()
            .unwrap();
            (outer, inner)
        })
        .join()
        .unwrap();
        assert_eq!((outer, inner), (want, want));
        // The main thread keeps its own.
        assert_eq!(nice_of(None), main);
    }
}
