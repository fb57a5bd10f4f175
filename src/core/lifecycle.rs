//! Where the master is in its life. Each state holds only what it can have, so a reload
//! while stopping, or an exit before a start, cannot be written down.

use super::reload::Reload;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lifecycle {
    /// Before `Event::Start`.
    Idle,
    /// Serving; a reload may run, and one more may be queued behind it. `announced` once
    /// every slot of the first generation was ready and the service manager was told.
    Running {
        reload: Option<Reload>,
        queued: bool,
        announced: bool,
    },
    /// Retiring every worker; the master exits with `code` once none is left.
    Stopping { code: i32 },
    /// `Exit { code }` was sent: nothing happens any more.
    Exited,
}

impl Lifecycle {
    pub(super) fn is_running(&self) -> bool {
        matches!(self, Lifecycle::Running { .. })
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
