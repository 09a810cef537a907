//! Notices: the queue finished, or an op failed permanently. Each shows as a
//! banner in the window, and as a desktop notification (D-Bus, where a
//! notification service runs) while the window is not in front.

use std::time::{Duration, Instant};

use super::model::Snapshot;

/// One thing worth telling the person.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub title: String,
    pub body: String,
    /// A failure (shown in the error colour), not good news.
    pub failure: bool,
    pub at: Instant,
}

/// How long a banner stays unless dismissed.
const SHOWN_FOR: Duration = Duration::from_secs(30);

/// Watches snapshots for the moments worth a notice.
#[derive(Default)]
pub struct Notices {
    /// What the last snapshot said: (unfinished ops, failures seen).
    last: Option<(usize, usize)>,
    /// The banners in the window, newest last.
    pub shown: Vec<Notice>,
}

impl Notices {
    /// Compares `snap` with the one before; returns the new notices (also
    /// kept in `shown`). The first snapshot read only sets the baseline.
    pub fn observe(&mut self, snap: &Snapshot) -> Vec<Notice> {
        if snap.loading {
            return Vec::new();
        }
        let mut new = Vec::new();
        let now = Instant::now();
        let Some((was_unfinished, failures_before)) = self.last else {
            // The counts start when the window opens: a queue already moving
            // then is counted from zero.
            self.last = Some((snap.unfinished, snap.failures_seen));
            return new;
        };
        if snap.failures_seen > failures_before {
            let count = snap.failures_seen - failures_before;
            let latest = snap.last_failure.as_ref().map(|op| {
                format!(
                    "{} of {} to {}: {}",
                    op.operation_type.as_str(),
                    op.asset_name.as_deref().unwrap_or(&op.content_hash),
                    op.provider_name,
                    op.error_message.as_deref().unwrap_or("no reason recorded"),
                )
            });
            new.push(Notice {
                title: if count == 1 {
                    "An operation failed".into()
                } else {
                    format!("{count} operations failed")
                },
                body: latest.unwrap_or_default(),
                failure: true,
                at: now,
            });
        }
        if was_unfinished > 0 && snap.unfinished == 0 {
            // The model counts the run (from its data, not from when this
            // noticed it), as the tabs count the queue.
            let (completed, failed) = (snap.run_completed, snap.run_failed);
            new.push(Notice {
                title: "The queue is finished".into(),
                body: if failed == 0 {
                    format!("{} completed.", plural(completed, "operation"))
                } else {
                    format!(
                        "{} completed, {failed} failed: they are in the Failed tab.",
                        plural(completed, "operation"),
                    )
                },
                failure: failed > 0,
                at: now,
            });
        }
        self.last = Some((snap.unfinished, snap.failures_seen));
        self.shown.extend(new.iter().cloned());
        self.shown.retain(|n| now.duration_since(n.at) < SHOWN_FOR);
        let excess = self.shown.len().saturating_sub(3);
        self.shown.drain(..excess);
        new
    }

    /// Draws the banners at the bottom of the window; a click on × closes one.
    /// Returns whether any is shown (the window looks again to expire them).
    pub fn show(&mut self, ctx: &egui::Context) -> bool {
        let now = Instant::now();
        self.shown.retain(|n| now.duration_since(n.at) < SHOWN_FOR);
        let mut closed = None;
        for (i, notice) in self.shown.iter().enumerate() {
            egui::Area::new(egui::Id::unique(("notice", i)))
                .anchor(
                    egui::Align2::RIGHT_BOTTOM,
                    egui::vec2(-16.0, -40.0 - 76.0 * (self.shown.len() - 1 - i) as f32),
                )
                .order(egui::Order::Foreground)
                .show(ctx, |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        // Stacked banners all one width.
                        ui.set_width(420.0);
                        ui.horizontal(|ui| {
                            let visuals = ui.visuals();
                            let colour = if notice.failure {
                                visuals.error_fg_color
                            } else {
                                visuals.strong_text_color()
                            };
                            let icon = if notice.failure { "⚠" } else { "✔" };
                            ui.label(
                                egui::RichText::new(format!("{icon} {}", notice.title))
                                    .color(colour)
                                    .strong(),
                            );
                            if ui.small_button("×").on_hover_text("Dismiss").clicked() {
                                closed = Some(i);
                            }
                        });
                        if !notice.body.is_empty() {
                            ui.label(&notice.body);
                        }
                    });
                });
        }
        if let Some(i) = closed {
            self.shown.remove(i);
        }
        !self.shown.is_empty()
    }
}

/// Sends a desktop notification on a thread of its own (D-Bus can block);
/// where no notification service runs, the banner in the window is all.
pub fn notify_desktop(notice: &Notice) {
    let (title, body) = (notice.title.clone(), notice.body.clone());
    let _ = std::thread::Builder::new()
        .name("breakdex-notify".into())
        .spawn(move || {
            let sent = notify_rust::Notification::new()
                .appname("Breakdex")
                .summary(&title)
                .body(&body)
                .icon("io.github.breakdex.Breakdex")
                .show();
            if let Err(e) = sent {
                tracing::info!("no desktop notification ({e}); the window shows it");
            }
        });
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot: unfinished ops, the run's completed and failed ops, and
    /// the failures seen.
    fn snap(unfinished: usize, completed: usize, failures_seen: usize) -> Snapshot {
        Snapshot {
            unfinished,
            run_completed: completed,
            run_failed: failures_seen,
            failures_seen,
            ..Snapshot::default()
        }
    }

    #[test]
    fn the_first_read_is_only_a_baseline() {
        let mut n = Notices::default();
        assert!(n.observe(&snap(0, 10, 0)).is_empty());
        assert!(n.observe(&snap(0, 10, 0)).is_empty());
    }

    #[test]
    fn a_queue_that_empties_is_finished_once() {
        let mut n = Notices::default();
        n.observe(&snap(0, 10, 0));
        assert!(n.observe(&snap(5, 0, 0)).is_empty());
        assert!(n.observe(&snap(2, 3, 0)).is_empty());
        let done = n.observe(&snap(0, 5, 0));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].title, "The queue is finished");
        assert_eq!(done[0].body, "5 operations completed.");
        assert!(!done[0].failure);
        assert!(n.observe(&snap(0, 5, 0)).is_empty());
        assert_eq!(n.shown.len(), 1);
    }

    #[test]
    fn a_permanent_failure_is_told_at_once_and_counted_at_the_end() {
        let mut n = Notices::default();
        n.observe(&snap(3, 0, 0));
        let failed = n.observe(&snap(2, 0, 1));
        assert_eq!(failed.len(), 1);
        assert!(failed[0].failure);
        assert_eq!(failed[0].title, "An operation failed");
        let end = n.observe(&snap(0, 1, 2));
        assert_eq!(end.len(), 2, "{end:?}");
        assert_eq!(end[0].title, "An operation failed");
        assert_eq!(
            end[1].body,
            "1 operation completed, 2 failed: they are in the Failed tab."
        );
        assert!(end[1].failure);
    }
}
