//! `rejects.csv` and `refused.csv`, the lists written beside the recipient file.

use super::NotifyError;
use std::path::{Path, PathBuf};

/// `rejects.csv` (rows that cannot be used) and `refused.csv` (people the mail server
/// refused for good, to notify by letter), written beside the input under temporary
/// names and put in place at the end; a list left empty removes a stale one.
pub(super) struct Lists {
    rejects: (csv::Writer<std::fs::File>, PathBuf, PathBuf, bool),
    refused: (csv::Writer<std::fs::File>, PathBuf, PathBuf, bool),
}

impl Lists {
    pub(super) fn new(input: &Path, header: &[String]) -> Result<Lists, NotifyError> {
        let open = |name: &str, head: Vec<String>| {
            let path = input.with_file_name(name);
            let tmp = input.with_file_name(format!(".{name}.tmp"));
            let file = crate::util::private::create(&tmp)
                .map_err(|e| NotifyError::Runtime(format!("{}: {e}", tmp.display())))?;
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(file);
            w.write_record(&head)
                .map_err(|e| NotifyError::Runtime(e.to_string()))?;
            Ok::<_, NotifyError>((w, tmp, path, false))
        };
        let mut rejects_head = vec!["line".to_string(), "reason".to_string()];
        rejects_head.extend(header.iter().cloned());
        Ok(Lists {
            rejects: open("rejects.csv", rejects_head)?,
            refused: open(
                "refused.csv",
                vec!["line".into(), "id".into(), "refusal".into()],
            )?,
        })
    }

    fn write(
        list: &mut (csv::Writer<std::fs::File>, PathBuf, PathBuf, bool),
        rec: Vec<String>,
    ) -> Result<(), NotifyError> {
        list.3 = true;
        list.0
            .write_record(&rec)
            .map_err(|e| NotifyError::Runtime(e.to_string()))
    }

    pub(super) fn reject(
        &mut self,
        line: u64,
        reason: &str,
        fields: &[String],
    ) -> Result<(), NotifyError> {
        let mut rec = vec![line.to_string(), reason.to_string()];
        rec.extend(fields.iter().cloned());
        Lists::write(&mut self.rejects, rec)
    }

    pub(super) fn refused(&mut self, line: u64, id: &str, why: &str) -> Result<(), NotifyError> {
        Lists::write(
            &mut self.refused,
            vec![line.to_string(), id.to_string(), why.to_string()],
        )
    }

    /// Puts the lists in place; their paths, when not empty.
    pub(super) fn finish(self) -> Result<(Option<String>, Option<String>), NotifyError> {
        let put =
            |(mut w, tmp, path, used): (csv::Writer<std::fs::File>, PathBuf, PathBuf, bool)| {
                w.flush()
                    .map_err(|e| NotifyError::Runtime(format!("{}: {e}", tmp.display())))?;
                drop(w);
                if used {
                    std::fs::rename(&tmp, &path)
                        .map_err(|e| NotifyError::Runtime(format!("{}: {e}", path.display())))?;
                    Ok::<_, NotifyError>(Some(path.display().to_string()))
                } else {
                    // No stale list from an earlier run may suggest rows are still listed.
                    let _ = std::fs::remove_file(&tmp);
                    let _ = std::fs::remove_file(&path);
                    Ok(None)
                }
            };
        Ok((put(self.rejects)?, put(self.refused)?))
    }
}
