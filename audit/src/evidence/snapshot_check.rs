//! `verify-pack`'s cross-check of `policy-snapshots.jsonl` against the chain in the pack
//! (EV-7): every snapshot said to be applied within the period must be the
//! `CONFIGURATION_APPLIED` event at that sequence number in `events.jsonl`, with the same
//! settings, changed keys and hash; every such event must be listed; and the snapshot said to
//! be in force at the period's start must lie before the period's first event.
//!
//! The file's bytes are already covered by the signed manifest; this check makes a pack whose
//! file and chain disagree fail on its own, whoever produced it. Packs made before the file
//! existed do not list it and are not checked here.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::pack::Finding;
use super::{Manifest, PackRecord};
use crate::config_history::{KIND, MAX_SNAPSHOTS};

/// The file checked.
pub(super) const FILE: &str = "policy-snapshots.jsonl";

/// The `CONFIGURATION_APPLIED` records seen in `events.jsonl`, by sequence number.
#[derive(Debug, Default)]
pub(super) struct SeenSnapshots {
    records: BTreeMap<i64, Seen>,
    overflow: bool,
}

#[derive(Debug)]
struct Seen {
    hash: String,
    settings: Option<serde_json::Value>,
    changed: Option<serde_json::Value>,
}

impl SeenSnapshots {
    /// Notes `record` if it is a snapshot; at most [`MAX_SNAPSHOTS`] are kept, so a hostile
    /// pack cannot grow this without bound.
    pub(super) fn note(&mut self, record: &PackRecord) {
        if record.kind != KIND {
            return;
        }
        if self.records.len() as i64 >= MAX_SNAPSHOTS {
            self.overflow = true;
            return;
        }
        let fields = serde_json::from_str::<serde_json::Value>(&record.data)
            .ok()
            .and_then(|data| data.get("fields").cloned());
        let field = |name: &str| fields.as_ref().and_then(|fields| fields.get(name).cloned());
        self.records.insert(
            record.seq,
            Seen {
                hash: hex::encode(&record.hash),
                settings: field("settings"),
                changed: field("changed"),
            },
        );
    }
}

/// One line of the file, as written by the export.
#[derive(Debug, Deserialize)]
struct Line {
    in_force: String,
    seq: i64,
    hash: String,
    settings: serde_json::Value,
    changed: serde_json::Value,
}

/// Checks the file's `bytes` against the snapshots seen in the chain.
pub(super) fn check(
    bytes: &[u8],
    seen: &SeenSnapshots,
    manifest: &Manifest,
    findings: &mut Vec<Finding>,
) {
    let problem = |place: Option<String>, text: &str| Finding {
        file: FILE.to_owned(),
        place,
        problem: text.to_owned(),
    };
    if seen.overflow {
        findings.push(problem(
            None,
            &format!("more than {MAX_SNAPSHOTS} snapshots in events.jsonl; not cross-checked"),
        ));
        return;
    }
    let mut listed = BTreeSet::new();
    for (index, text) in bytes.split(|byte| *byte == b'\n').enumerate() {
        if text.is_empty() {
            continue;
        }
        let number = index + 1;
        let Ok(line) = serde_json::from_slice::<Line>(text) else {
            findings.push(problem(
                Some(format!("line {number}")),
                "not a snapshot line",
            ));
            continue;
        };
        let place = Some(format!("line {number}, seq {}", line.seq));
        match line.in_force.as_str() {
            "at_period_start" if line.seq < manifest.first_seq => {}
            "at_period_start" => findings.push(problem(
                place,
                "said to be in force at the period's start but does not precede the period",
            )),
            "applied_in_period" => {
                listed.insert(line.seq);
                let matches = seen.records.get(&line.seq).is_some_and(|record| {
                    record.hash == line.hash
                        && record.settings.as_ref() == Some(&line.settings)
                        && record.changed.as_ref() == Some(&line.changed)
                });
                if !matches {
                    findings.push(problem(
                        place,
                        "does not match the CONFIGURATION_APPLIED event at this sequence \
                         number in events.jsonl",
                    ));
                }
            }
            _ => findings.push(problem(place, "unknown in_force value")),
        }
    }
    for seq in seen.records.keys().filter(|seq| !listed.contains(seq)) {
        findings.push(problem(
            Some(format!("seq {seq}")),
            "the CONFIGURATION_APPLIED event in events.jsonl is missing from this file",
        ));
    }
}
