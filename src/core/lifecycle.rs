//! Where the master is in its life. Each state holds only what it can have, so a reload
//! while stopping, or an exit before a start, cannot be written down.

use std::time::Instant;

use super::reason::StopReason;
use super::reload::Reload;
use super::scale::Scaling;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lifecycle {
    /// Before `Event::Start`.
    Idle,
    /// Serving; a reload may run, and one more may be queued behind it; a scale may run,
    /// and the latest target asked for meanwhile waits behind it (or behind the reload).
    /// `announced` once every slot of the first generation was ready and the service
    /// manager was told. `stop_at`: a stop was asked and waits out the shutdown delay while
    /// the workers go on serving (nothing new begins meanwhile).
    Running {
        reload: Option<Reload>,
        queued: bool,
        scale: Option<Scaling>,
        scale_to: Option<u32>,
        announced: bool,
        stop_at: Option<DelayedStop>,
    },
    /// Retiring every worker; the master exits with `code` once none is left.
    Stopping { code: i32 },
    /// `Exit { code }` was sent: nothing happens any more.
    Exited,
}

/// A stop asked for `reason` that begins `at` (the shutdown delay after it was asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DelayedStop {
    pub(super) at: Instant,
    pub(super) reason: StopReason,
}

impl Lifecycle {
    /// Running, with nothing in progress.
    pub(super) fn running() -> Self {
        Lifecycle::Running {
            reload: None,
            queued: false,
            scale: None,
            scale_to: None,
            announced: false,
            stop_at: None,
        }
    }

    pub(super) fn is_running(&self) -> bool {
        matches!(self, Lifecycle::Running { .. })
    }

    /// Running and not waiting out a shutdown delay: a reload, scale or upgrade may begin.
    pub(super) fn is_accepting(&self) -> bool {
        matches!(self, Lifecycle::Running { stop_at: None, .. })
    }

    /// The stop that waits out the shutdown delay, if one does.
    pub(super) fn delayed_stop(&self) -> Option<&DelayedStop> {
        match self {
            Lifecycle::Running { stop_at, .. } => stop_at.as_ref(),
            _ => None,
        }
    }

    /// Wait out the shutdown delay before `stop`; what was queued will not begin.
    pub(super) fn delay_stop(&mut self, stop: DelayedStop) {
        if let Lifecycle::Running {
            stop_at,
            queued,
            scale_to,
            ..
        } = self
        {
            *stop_at = Some(stop);
            *queued = false;
            *scale_to = None;
        }
    }

    /// A stop is under way or done.
    pub(super) fn is_stopping(&self) -> bool {
        matches!(self, Lifecycle::Stopping { .. } | Lifecycle::Exited)
    }

    pub(super) fn reload(&self) -> Option<&Reload> {
        match self {
            Lifecycle::Running { reload, .. } => reload.as_ref(),
            _ => None,
        }
    }

    pub(super) fn reload_mut(&mut self) -> Option<&mut Reload> {
        match self {
            Lifecycle::Running { reload, .. } => reload.as_mut(),
            _ => None,
        }
    }

    pub(super) fn take_reload(&mut self) -> Option<Reload> {
        match self {
            Lifecycle::Running { reload, .. } => reload.take(),
            _ => None,
        }
    }

    pub(super) fn set_reload(&mut self, new: Reload) {
        if let Lifecycle::Running { reload, .. } = self {
            *reload = Some(new);
        }
    }

    pub(super) fn is_announced(&self) -> bool {
        matches!(
            self,
            Lifecycle::Running {
                announced: true,
                ..
            }
        )
    }

    pub(super) fn set_announced(&mut self) {
        if let Lifecycle::Running { announced, .. } = self {
            *announced = true;
        }
    }

    pub(super) fn is_queued(&self) -> bool {
        matches!(self, Lifecycle::Running { queued: true, .. })
    }

    pub(super) fn set_queued(&mut self, value: bool) {
        if let Lifecycle::Running { queued, .. } = self {
            *queued = value;
        }
    }
}

impl Lifecycle {
    pub(super) fn scale(&self) -> Option<&Scaling> {
        match self {
            Lifecycle::Running { scale, .. } => scale.as_ref(),
            _ => None,
        }
    }

    pub(super) fn set_scale(&mut self, new: Option<Scaling>) {
        if let Lifecycle::Running { scale, .. } = self {
            *scale = new;
        }
    }

    /// The target waiting for the reload or scale in progress.
    pub(super) fn scale_to(&self) -> Option<u32> {
        match self {
            Lifecycle::Running { scale_to, .. } => *scale_to,
            _ => None,
        }
    }

    pub(super) fn set_scale_to(&mut self, target: Option<u32>) {
        if let Lifecycle::Running { scale_to, .. } = self {
            *scale_to = target;
        }
    }
}
