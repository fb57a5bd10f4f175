//! ms-style durations, as the `ms` module and master-process 4.x read them:
//! `500`, `5s`, `1.5 hours`, `2 minutes`, `100ms` (case-insensitive, one unit).

use std::time::Duration;

/// Parse `text`; `None` when it is not a non-negative ms-style duration.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() || text.len() > 100 {
        return None;
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() || number.matches('.').count() > 1 || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let ms = value * unit_ms(unit.trim_start())?;
    if !ms.is_finite() || ms > u64::MAX as f64 / 2.0 {
        return None;
    }
    Some(Duration::from_micros((ms * 1000.0).round() as u64))
}

fn unit_ms(unit: &str) -> Option<f64> {
    const S: f64 = 1000.0;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => S,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0 * S,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0 * S,
        "d" | "day" | "days" => 86_400.0 * S,
        "w" | "week" | "weeks" => 7.0 * 86_400.0 * S,
        "y" | "yr" | "yrs" | "year" | "years" => 365.25 * 86_400.0 * S,
        _ => return None,
    };
    Some(factor)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn reads_the_forms_4x_documented() {
        assert_eq!(parse_duration("500"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2 minutes"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1 minute"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("100MS"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("0ms"), Some(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["soon", "", "-5s", "5 parsecs", "1.2.3s", "5.s", "s", "1e3"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
