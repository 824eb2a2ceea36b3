//! `vigie workflow graph`: one Mermaid state diagram per track.

use super::Workflow;
use std::fmt::Write;

pub fn mermaid(wf: &Workflow) -> String {
    let mut out = String::new();
    for (name, track) in &wf.tracks {
        let _ = writeln!(out, "%% {} — track {name}", wf.id);
        let _ = writeln!(out, "stateDiagram-v2");
        let _ = writeln!(out, "    [*] --> {}", track.initial);
        for (ename, e) in wf.events.iter().filter(|(_, e)| &e.track == name) {
            for from in &e.from {
                let mut label = ename.clone();
                let clocks: Vec<&str> = wf.clocks_met_by(ename).map(|(c, _)| c.as_str()).collect();
                if !clocks.is_empty() {
                    let _ = write!(label, " (meets {})", clocks.join(", "));
                }
                let _ = writeln!(out, "    {from} --> {}: {label}", e.to);
            }
        }
        for f in &track.finals {
            let _ = writeln!(out, "    {f} --> [*]");
        }
        out.push('\n');
    }
    out
}
