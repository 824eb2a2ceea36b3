//! The one-clock workflow the dispatcher benchmarks open their burst of cases with.

pub const BENCH_WORKFLOW: &str = r#"
id: bench
title: Benchmark workflow — one clock, one reminder
timezone: Europe/Paris
tracks:
  authority: { initial: pending, states: [pending, notified], final: [notified] }
facts:
  aware_at: { type: datetime }
events:
  notify_authority: { track: authority, from: pending, to: notified }
clocks:
  art33:
    title: Notification
    starts: { fact: aware_at }
    within: 2h
    met_by: notify_authority
    remind_before: [1h]
    overdue_every: 12h
"#;
