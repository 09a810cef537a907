//! A view's row order over up to millions of in-memory keys, shared by the
//! queue's and the assets' models: each row is one `u128` sort key
//! (`primary value << 64 | tie-breaker << 32 | index`), so that sorting
//! compares plain integers. Only the rows shown are put in place at once
//! (a partial selection), the rest when the model is idle.

/// The rows of a view, in order or on their way to it.
#[derive(Default)]
pub struct Order {
    /// Indices into the keys, in view order (empty while `unsorted` holds
    /// the view).
    order: Vec<u32>,
    /// A view whose sort is not finished: in order only within `window`.
    unsorted: Vec<u128>,
    window: (usize, usize),
}

/// Up to this many rows, a view is sorted whole at once.
const SORT_WHOLE: usize = 1 << 16;

impl Order {
    /// Forgets the view (before its keys are read again).
    pub fn clear(&mut self) {
        self.order = Vec::new();
        self.unsorted = Vec::new();
    }

    /// Takes a new view's sort keys, and puts the rows `window` (start,
    /// length) shows in order now.
    pub fn set(&mut self, keys: Vec<u128>, (start, len): (usize, usize)) {
        self.order.clear();
        self.unsorted = keys;
        let n = self.unsorted.len();
        if n <= SORT_WHOLE {
            self.finish();
            return;
        }
        let start = start.min(n);
        let end = start.saturating_add(len).min(n);
        sort_window(&mut self.unsorted, start, end);
        self.window = (start, end);
    }

    /// Finishes a sort that put only the rows shown in order.
    pub fn finish(&mut self) {
        if self.unsorted.is_empty() {
            return;
        }
        let mut sorted = std::mem::take(&mut self.unsorted);
        sorted.sort_unstable();
        self.order.clear();
        self.order.extend(sorted.iter().map(|&v| v as u32));
    }

    /// Whether part of the view still waits for [`Order::finish`].
    pub fn sorting(&self) -> bool {
        !self.unsorted.is_empty()
    }

    /// How many rows the view has.
    pub fn len(&self) -> usize {
        if self.unsorted.is_empty() {
            self.order.len()
        } else {
            self.unsorted.len()
        }
    }

    /// The key indices of rows `start..end` (within the view), in order.
    pub fn rows(&mut self, start: usize, end: usize) -> Vec<u32> {
        if self.unsorted.is_empty() {
            return self.order[start..end].to_vec();
        }
        if start < self.window.0 || end > self.window.1 {
            sort_window(&mut self.unsorted, start, end);
            self.window = (start, end);
        }
        self.unsorted[start..end]
            .iter()
            .map(|&v| v as u32)
            .collect()
    }
}

/// Puts `v[start..end]` where a full sort would put it, in order.
fn sort_window(v: &mut [u128], start: usize, end: usize) {
    if start > 0 {
        v.select_nth_unstable(start);
    }
    let tail = &mut v[start..];
    let shown = end - start;
    if shown > 0 && shown < tail.len() {
        tail.select_nth_unstable(shown);
    }
    tail[..shown].sort_unstable();
}

/// An `i64` as a `u64` that sorts the same way.
pub fn ordered_i64(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// An `f64` as a `u64` that sorts the same way.
pub fn ordered_f64(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shuffled(n: u32) -> Vec<u128> {
        let mut x = 88172645463325252u64;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                u128::from(x % 700) << 64 | u128::from(i)
            })
            .collect()
    }

    #[test]
    fn the_window_sorts_as_the_whole_would() {
        let v = shuffled(5000);
        let mut all = v.clone();
        all.sort_unstable();
        for (start, end) in [
            (0, 0),
            (0, 60),
            (10, 70),
            (4990, 5000),
            (0, 5000),
            (2500, 2501),
        ] {
            let mut w = v.clone();
            sort_window(&mut w, start, end);
            assert_eq!(w[start..end], all[start..end], "{start}..{end}");
        }
    }

    #[test]
    fn a_big_view_shows_its_window_in_order_before_and_after_finishing() {
        let v = shuffled(100_000);
        let mut all = v.clone();
        all.sort_unstable();
        let want = |a: usize, b: usize| all[a..b].iter().map(|&x| x as u32).collect::<Vec<_>>();
        let mut order = Order::default();
        order.set(v, (500, 60));
        assert!(order.sorting(), "only the window is sorted at once");
        assert_eq!(order.len(), 100_000);
        assert_eq!(order.rows(500, 560), want(500, 560));
        // A window elsewhere is put in place when asked for.
        assert_eq!(order.rows(90_000, 90_060), want(90_000, 90_060));
        order.finish();
        assert!(!order.sorting());
        assert_eq!(order.rows(0, 100_000), want(0, 100_000));
    }
}
