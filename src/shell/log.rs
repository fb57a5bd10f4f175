//! The master's log on stderr, in the format of the `debug` module: with colours and
//! `+Nms` on a terminal, else an ISO timestamp, the namespace and the message. Debug lines
//! need `DEBUG` to match `master-process`; error lines always print.

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

pub const NAMESPACE: &str = "master-process";
const COLOR: &str = "\x1b[33"; // what `debug` picks for this namespace among its basic colours

/// Whether a `DEBUG` value turns on `namespace`, read the way the `debug` module reads it;
/// `namespace:*` counts too (users write `master-process:*` for a namespace and all its
/// subnamespaces), as if our lines were `namespace:`.
pub fn debug_enabled(debug: &str, namespace: &str) -> bool {
    let sub = format!("{namespace}:");
    let hit = |p: &str| glob(p, namespace) || glob(p, &sub);
    let mut on = false;
    for pattern in debug
        .split([',', ' ', '\t', '\n'])
        .filter(|p| !p.is_empty())
    {
        match pattern.strip_prefix('-') {
            Some(skip) if hit(skip) => return false,
            Some(_) => {}
            None => on |= hit(pattern),
        }
    }
    on
}

/// `*` matches any run of characters, the rest matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob(tail, &rest[i..]))
        }
    }
}

/// How lines look: decided once from `DEBUG_COLORS` and whether stderr is a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub debug: bool,
    pub colors: bool,
}

impl Style {
    pub fn from_env(debug: Option<&str>, debug_colors: Option<&str>, stderr_tty: bool) -> Self {
        let colors = debug_colors.map_or(stderr_tty, env_truthy);
        let debug = debug.is_some_and(|d| debug_enabled(d, NAMESPACE));
        Style { debug, colors }
    }
}

/// `DEBUG_COLORS` as `debug` reads it: yes/on/true/enabled, else a non-zero number.
fn env_truthy(value: &str) -> bool {
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "on" | "true" | "enabled" => true,
        other => other.parse::<f64>().is_ok_and(|n| n != 0.0),
    }
}

/// The master's log, for every thread of the master (one master per process).
static MASTER_LOG: OnceLock<Dispatch> = OnceLock::new();

/// Set up the master's log in `style` (the first call decides) and return it. Called before
/// any of the master's threads starts, so each finds it.
pub fn master_log(style: Style) -> Dispatch {
    MASTER_LOG
        .get_or_init(|| Dispatch::new(tracing_subscriber::registry().with(DebugLayer::new(style))))
        .clone()
}

/// Run `body` with the master's log as this thread's subscriber: the control, notify and
/// signal threads log there too, not into the void of a thread with no subscriber.
pub fn with_master_log<R>(body: impl FnOnce() -> R) -> R {
    match MASTER_LOG.get() {
        Some(dispatch) => tracing::dispatcher::with_default(dispatch, body),
        None => body(),
    }
}

/// A tracing layer writing `debug`-style lines; span fields (pid, index) are appended.
pub struct DebugLayer {
    style: Style,
    last: Mutex<Option<Instant>>,
}

impl DebugLayer {
    pub fn new(style: Style) -> Self {
        DebugLayer {
            style,
            last: Mutex::new(None),
        }
    }

    fn line(&self, message: &str) -> String {
        if self.style.colors {
            let now = Instant::now();
            let diff = match self.last.lock() {
                Ok(mut last) => {
                    let diff = last.map_or(0, |l| now.duration_since(l).as_millis());
                    *last = Some(now);
                    diff
                }
                Err(_) => 0,
            };
            let prefix = format!("  {COLOR};1m{NAMESPACE} \x1b[0m");
            format!("{prefix}{message} {COLOR}m+{}\x1b[0m\n", humanize(diff))
        } else {
            format!("{} {NAMESPACE} {message}\n", iso_now())
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for DebugLayer {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let is_error = *event.metadata().level() <= Level::WARN;
        if !is_error && !self.style.debug {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut message = fields.message;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<Fields>() {
                    if !f.rest.is_empty() {
                        let _ = write!(message, " ({})", f.rest.trim_start());
                    }
                }
            }
        }
        let text = if !self.style.debug {
            format!("{NAMESPACE}: {message}\n")
        } else {
            self.line(&message)
        };
        super::log_writer::write_line(text);
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

/// `ms`-style short form, as `debug` prints the time since the previous line.
pub fn humanize(ms: u128) -> String {
    const S: u128 = 1000;
    let (unit, name) = match ms {
        m if m >= 86_400 * S => (86_400 * S, "d"),
        m if m >= 3_600 * S => (3_600 * S, "h"),
        m if m >= 60 * S => (60 * S, "m"),
        m if m >= S => (S, "s"),
        _ => return format!("{ms}ms"),
    };
    format!("{}{name}", (ms + unit / 2) / unit)
}

/// The current UTC time as `Date.prototype.toISOString()` writes it.
pub fn iso_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    iso(since.as_millis() as i64)
}

fn iso(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_patterns_read_like_the_debug_module() {
        let ns = NAMESPACE;
        assert!(debug_enabled("master-process", ns));
        assert!(debug_enabled("*", ns));
        assert!(debug_enabled("master-process*", ns));
        assert!(debug_enabled("express:*, master-process", ns));
        assert!(!debug_enabled("*,-master-process", ns));
        assert!(debug_enabled("master-process:*", ns));
        assert!(!debug_enabled("master-processor", ns));
        assert!(!debug_enabled("express", ns));
        assert!(!debug_enabled("", ns));
    }

    #[test]
    fn debug_colors_reads_like_the_debug_module() {
        let style = |v| Style::from_env(Some("*"), v, false).colors;
        assert!(style(Some("1")) && style(Some("yes")) && style(Some("On")));
        assert!(!style(Some("")) && !style(Some("0")) && !style(Some("no")) && !style(Some("abc")));
        assert!(!style(None) && Style::from_env(None, None, true).colors);
    }

    #[test]
    fn humanize_matches_ms_short_form() {
        assert_eq!(humanize(0), "0ms");
        assert_eq!(humanize(999), "999ms");
        assert_eq!(humanize(1500), "2s");
        assert_eq!(humanize(61_000), "1m");
    }

    #[test]
    fn iso_timestamps_match_javascript() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_795_650_000_123), "2026-11-25T23:40:00.123Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
