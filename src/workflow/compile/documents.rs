//! Documents: their templates and the facts they need.

use super::{Compiler, is_id};
use crate::workflow::raw::RawWorkflow;
use crate::workflow::{DocumentDef, Workflow};

impl Compiler<'_> {
    /// Documents: their templates and the facts they need.
    pub(super) fn documents(&mut self, wf: &mut Workflow, raw: &RawWorkflow) {
        for (name, d) in &raw.documents {
            if !is_id(&d.value.template.value) {
                self.err(&d.value.template.referenced, format!("document '{name}': template name '{}' must be lowercase letters, digits, '_' or '-'", d.value.template.value));
            }
            for n in &d.value.needs {
                self.fact_ref(wf, n);
            }
            wf.documents.insert(
                name.clone(),
                DocumentDef {
                    template: d.value.template.value.clone(),
                    title: d.value.title.clone(),
                    needs: d.value.needs.iter().map(|n| n.value.clone()).collect(),
                    at: (d.referenced.line() as u32, d.referenced.column() as u32),
                },
            );
        }
    }
}
