//! `[server.progress]`: progress monitoring (`{mount}/progress/stats` and, with an admin scope,
//! `{mount}/progress/metrics`) for every mount.

use mcp_auth::progress::ProgressOptions;

use super::{ConfigProblem, ConfigReport, raw::RawProgress};

/// The library's options with the section applied; problems go to `report`.
pub(super) fn progress(raw: &RawProgress, report: &mut ConfigReport) -> ProgressOptions {
    let key = |name: &str| format!("server.progress.{name}");
    let mut options = ProgressOptions::default();
    if let Some(enabled) = raw.enabled {
        options.enabled = enabled;
    }
    if let Some(scope) = &raw.admin_scope {
        if let Err(error) = mcp_auth::auth::check_scope(&key("admin_scope"), scope) {
            report.push(ConfigProblem::new(key("admin_scope"), error.expected).with_value(scope));
        }
        options.admin_scope = Some(scope.clone());
    }
    let durations = [
        ("idle_timeout", raw.idle_timeout, &mut options.idle_timeout),
        ("stale_after", raw.stale_after, &mut options.stale_after),
        ("very_old_after", raw.very_old_after, &mut options.very_old_after),
    ];
    for (name, value, slot) in durations {
        match value {
            Some(d) if d.0.is_zero() => {
                report.push(ConfigProblem::new(key(name), "must be more than 0"));
            }
            Some(d) => *slot = d.0,
            None => {}
        }
    }
    let counts = [
        ("max_streams", raw.max_streams, &mut options.max_streams),
        ("max_streams_per_user", raw.max_streams_per_user, &mut options.max_streams_per_user),
    ];
    for (name, value, slot) in counts {
        match value {
            Some(0) => report.push(ConfigProblem::new(key(name), "must be at least 1")),
            Some(n) => *slot = n,
            None => {}
        }
    }
    match raw.high_rate_per_second {
        Some(rate) if !(rate.is_finite() && rate > 0.0) => report.push(
            ConfigProblem::new(key("high_rate_per_second"), "must be a number above 0")
                .with_value(rate),
        ),
        Some(rate) => options.high_rate_per_second = rate,
        None => {}
    }
    options
}
