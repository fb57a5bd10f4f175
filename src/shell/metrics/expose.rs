//! The exposition: a snapshot as Prometheus text (0.0.4) or OpenMetrics text (1.0.0), from
//! one description of each family. The two differ in a few places only: OpenMetrics names
//! a counter family without `_total`, states units, has an `info` type and ends with `# EOF`.

use std::fmt::Write;
use std::time::Instant;

use super::snapshot::{Snapshot, CONTROL_REQUESTS};
use crate::core::RELOAD_BUCKETS;

/// Which text format a scrape asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when the `Accept` header names it, else Prometheus text.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// What the master knows of itself that no snapshot changes.
#[derive(Debug, Clone, Default)]
pub struct Build {
    pub version: String,
    pub node_version: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Info,
}

struct Out {
    text: String,
    format: Format,
}

impl Out {
    /// `# HELP`/`# TYPE` (and `# UNIT`) of family `name` (counters without `_total`, info
    /// without `_info`), in the format's words.
    fn family(&mut self, name: &str, kind: Kind, unit: Option<&str>, help: &str) {
        let om = self.format == Format::OpenMetrics;
        let (shown, word) = match (kind, om) {
            (Kind::Counter, true) => (name.to_string(), "counter"),
            (Kind::Counter, false) => (format!("{name}_total"), "counter"),
            (Kind::Info, true) => (name.to_string(), "info"),
            (Kind::Info, false) => (format!("{name}_info"), "gauge"),
            (Kind::Gauge, _) => (name.to_string(), "gauge"),
            (Kind::Histogram, _) => (name.to_string(), "histogram"),
        };
        let _ = writeln!(self.text, "# HELP {shown} {help}");
        let _ = writeln!(self.text, "# TYPE {shown} {word}");
        if let (true, Some(unit)) = (om, unit) {
            let _ = writeln!(self.text, "# UNIT {shown} {unit}");
        }
    }

    /// One sample line: `name{labels} value`.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }

    fn counter(&mut self, name: &str, help: &str, series: &[(&[(&str, &str)], u64)]) {
        self.family(name, Kind::Counter, None, help);
        let total = format!("{name}_total");
        for (labels, value) in series {
            self.sample(&total, labels, *value as f64);
        }
    }

    fn gauge(&mut self, name: &str, unit: Option<&str>, help: &str, value: f64) {
        self.family(name, Kind::Gauge, unit, help);
        self.sample(name, &[], value);
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value: whole numbers without a fraction, others as Rust writes them.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// The exposition of `s` at `now`, with the log lines dropped so far.
pub fn render(s: &Snapshot, build: &Build, dropped: u64, now: Instant, format: Format) -> String {
    let mut o = Out {
        text: String::with_capacity(4096),
        format,
    };
    o.family(
        "master_process_build",
        Kind::Info,
        None,
        "master-process and Node.js versions of this master.",
    );
    let labels = [
        ("version", build.version.as_str()),
        ("node_version", build.node_version.as_str()),
    ];
    o.sample("master_process_build_info", &labels, 1.0);
    let uptime = s
        .started_at
        .map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
    o.gauge(
        "master_process_uptime_seconds",
        Some("seconds"),
        "Time since the master started.",
        (uptime * 1000.0).round() / 1000.0,
    );
    o.gauge(
        "master_process_generation",
        None,
        "Reloads so far: the generation of the newest workers.",
        s.generation.into(),
    );
    o.gauge(
        "master_process_slots",
        None,
        "Worker slots the master keeps now.",
        s.slots.into(),
    );
    o.gauge(
        "master_process_slots_wanted",
        None,
        "Worker slots the scales in progress or waiting lead to.",
        s.slots_wanted.into(),
    );
    o.gauge(
        "master_process_reloading",
        None,
        "1 while a reload runs.",
        u8::from(s.reloading).into(),
    );
    o.gauge(
        "master_process_stopping",
        None,
        "1 once the master is stopping (the shutdown delay included).",
        u8::from(s.stopping).into(),
    );
    o.family(
        "master_process_workers",
        Kind::Gauge,
        None,
        "Workers by state.",
    );
    for (state, n) in [
        ("starting", s.workers.starting),
        ("serving", s.workers.serving),
        ("retiring", s.workers.retiring),
    ] {
        o.sample("master_process_workers", &[("state", state)], n as f64);
    }
    per_worker(&mut o, s);
    totals(&mut o, s, dropped);
    if format == Format::OpenMetrics {
        o.text.push_str("# EOF\n");
    }
    o.text
}

fn per_worker(o: &mut Out, s: &Snapshot) {
    o.family(
        "master_process_worker_resident_memory_bytes",
        Kind::Gauge,
        Some("bytes"),
        "RSS of each slot's serving worker at its last sample.",
    );
    for w in &s.per_slot {
        if let Some(rss) = w.rss_bytes {
            let index = w.index.to_string();
            let name = "master_process_worker_resident_memory_bytes";
            o.sample(name, &[("worker_index", &index)], rss as f64);
        }
    }
    o.family(
        "master_process_worker_cpu_ratio",
        Kind::Gauge,
        Some("ratio"),
        "CPU of each slot's serving worker between its last two samples (1 is one core).",
    );
    for w in &s.per_slot {
        if let Some(cpu) = w.cpu_ratio {
            let index = w.index.to_string();
            let name = "master_process_worker_cpu_ratio";
            o.sample(name, &[("worker_index", &index)], cpu);
        }
    }
    o.family(
        "master_process_worker_generation",
        Kind::Gauge,
        None,
        "The generation of each slot's serving worker.",
    );
    for w in &s.per_slot {
        let index = w.index.to_string();
        let name = "master_process_worker_generation";
        o.sample(name, &[("worker_index", &index)], w.generation.into());
    }
}

fn totals(o: &mut Out, s: &Snapshot, dropped: u64) {
    let c = &s.counters;
    o.counter(
        "master_process_reloads",
        "Reloads by outcome.",
        &[
            (&[("outcome", "done")], c.reloads_done),
            (&[("outcome", "rolled_back")], c.reloads_rolled_back),
        ],
    );
    histogram(o, s);
    o.counter(
        "master_process_worker_restarts",
        "Workers that ended without being asked, by how: an exit code or a signal.",
        &[
            (&[("reason", "exit")], c.exits),
            (&[("reason", "signal")], c.kills),
        ],
    );
    let r = &c.replacements;
    o.counter(
        "master_process_worker_replacements",
        "Faulty workers replaced, by reason.",
        &[
            (&[("reason", "memory")], r.memory),
            (&[("reason", "cpu")], r.cpu),
            (&[("reason", "heartbeat")], r.heartbeat),
            (&[("reason", "unsampled")], r.unsampled),
        ],
    );
    o.counter(
        "master_process_connections_orphaned",
        "Connections that reached the master with no worker to take them.",
        &[(&[], c.orphaned)],
    );
    o.counter(
        "master_process_connections_rescued",
        "Orphaned connections a worker took over in the hand-off.",
        &[(&[], c.rescued)],
    );
    o.counter(
        "master_process_log_lines_dropped",
        "Log lines dropped while stderr was not read.",
        &[(&[], dropped)],
    );
    o.family(
        "master_process_control_requests",
        Kind::Counter,
        None,
        "Control requests answered (control socket and the JS handle), by request.",
    );
    for name in CONTROL_REQUESTS {
        let n = s.control.get(name).copied().unwrap_or(0);
        let total = "master_process_control_requests_total";
        o.sample(total, &[("request", name)], n as f64);
    }
}

fn histogram(o: &mut Out, s: &Snapshot) {
    let h = &s.counters.reload_seconds;
    let name = "master_process_reload_duration_seconds";
    o.family(
        name,
        Kind::Histogram,
        Some("seconds"),
        "From a reload's start to its outcome, done or rolled back.",
    );
    let bucket = format!("{name}_bucket");
    for (bound, n) in RELOAD_BUCKETS.iter().zip(h.cumulative()) {
        let le = format!("{bound:?}");
        o.sample(&bucket, &[("le", &le)], n as f64);
    }
    o.sample(&bucket, &[("le", "+Inf")], h.count as f64);
    o.sample(&format!("{name}_sum"), &[], h.sum);
    o.sample(&format!("{name}_count"), &[], h.count as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Policy, Supervisor};

    fn text(format: Format) -> String {
        let core = Supervisor::new(Policy::default());
        let now = Instant::now();
        let s = Snapshot::of(&core, now, &Default::default());
        render(&s, &Build::default(), 3, now, format)
    }

    #[test]
    fn prometheus_text_names_counter_families_with_total_and_has_no_eof() {
        let t = text(Format::Prometheus);
        assert!(t.contains("# TYPE master_process_reloads_total counter\n"));
        assert!(t.contains("master_process_log_lines_dropped_total 3\n"));
        assert!(t.contains("# TYPE master_process_build_info gauge\n"));
        assert!(!t.contains("# EOF") && !t.contains("# UNIT"));
    }

    #[test]
    fn openmetrics_names_families_without_suffixes_states_units_and_ends_with_eof() {
        let t = text(Format::OpenMetrics);
        assert!(t.contains("# TYPE master_process_reloads counter\n"));
        assert!(t.contains("master_process_reloads_total{outcome=\"done\"} 0\n"));
        assert!(t.contains("# TYPE master_process_build info\n"));
        assert!(t.contains("# UNIT master_process_uptime_seconds seconds\n"));
        assert!(t.ends_with("# EOF\n"));
    }

    #[test]
    fn the_accept_header_picks_openmetrics_only_when_it_names_it() {
        let prometheus =
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Prometheus);
        assert_eq!(Format::from_accept(None), Format::Prometheus);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
