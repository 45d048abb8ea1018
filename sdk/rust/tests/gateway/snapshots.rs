//! Snapshots, restores, branches and merges of a checkpointed python context.

use faas_sdk::{Error, ExecuteRequest, Language, MergeStrategy, Mode};

use crate::common::{client, client2};

#[test]
fn snapshots_restores_branches_and_merges_round_trip() {
    let c = client();
    let run = |execution_id: &str, code: &str| c.execute(&ExecuteRequest::new(code, "python").execution_id(execution_id)).unwrap();

    let first = c.execute(&ExecuteRequest::new("x = 41\nopen('f.txt', 'w').write('base')", "python").mode(Mode::Checkpointed)).unwrap();
    // The context keeps its memory between runs.
    assert_eq!(run(&first.execution_id, "x += 0\nprint(x)").stdout, "41\n");

    let snap = c.create_snapshot(&first.execution_id).unwrap();
    assert!(snap.has_memory);
    assert_eq!(snap.size_bytes, 4);
    assert_eq!(snap.content_hash.len(), 64);
    assert_eq!(snap.language, Language::Python);
    assert_eq!(c.get_snapshot(&snap.id).unwrap(), snap);
    assert!(c.list_snapshots().unwrap().iter().any(|s| s.id == snap.id));

    // A restore has the snapshot's memory and files.
    let restored = c.restore_snapshot(&snap.id).unwrap();
    assert_eq!(restored.snapshot_id, snap.id);
    assert!(restored.has_memory);
    assert_eq!(run(&restored.execution_id, "print(x + 1, open('f.txt').read())").stdout, "42 base\n");

    // Two branches change the same file differently.
    let b1 = c.create_branch(&snap.id).unwrap();
    let b2 = c.create_branch(&snap.id).unwrap();
    assert_eq!((b1.snapshot_id.as_str(), b2.snapshot_id.as_str()), (snap.id.as_str(), snap.id.as_str()));
    assert_ne!(b1.execution_id, b2.execution_id);
    run(&b1.execution_id, "open('f.txt', 'w').write('one')\nopen('only-one.txt', 'w').write('1')");
    run(&b2.execution_id, "open('f.txt', 'w').write('two')");
    assert_eq!(run(&b2.execution_id, "print(open('f.txt').read(), x)").stdout, "two 41\n");

    match c.merge_branches(&[&b1.id, &b2.id], None) {
        Err(Error::MergeConflict(e)) => {
            assert_eq!(e.error.code, "MERGE_CONFLICT");
            assert_eq!(e.error.status, Some(409));
            assert_eq!(e.conflicts, vec!["f.txt".to_string()]);
        }
        other => panic!("expected a merge conflict, got {:?}", other),
    }
    let merged = c.merge_branches(&[b1.id.clone(), b2.id.clone()], Some(MergeStrategy::Ours)).unwrap();
    assert_eq!(merged.memory_from, "base");
    assert_eq!(merged.strategy, MergeStrategy::Ours);
    assert_eq!(merged.conflicts, vec!["f.txt".to_string()]);
    assert_eq!(merged.branch_ids, vec![b1.id.clone(), b2.id.clone()]);
    assert_eq!((merged.summary.added, merged.summary.changed), (1, 1));
    // The earlier branch won; memory is the base snapshot's.
    let from_merge = c.restore_snapshot(&merged.id).unwrap();
    assert_eq!(run(&from_merge.execution_id, "print(open('f.txt').read(), open('only-one.txt').read(), x)").stdout, "one 1 41\n");

    // Branches of different snapshots cannot be merged.
    let other = c.create_branch(&merged.id).unwrap();
    let err = c.merge_branches(&[&b1.id, &other.id], Some(MergeStrategy::Theirs)).unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{:?}", err);
    assert_eq!(err.field(), Some("branchIds"));

    // Another key sees none of it.
    assert!(matches!(client2().get_snapshot(&snap.id), Err(Error::NotFound(_))));
    assert!(matches!(client2().restore_snapshot(&snap.id), Err(Error::NotFound(_))));
    assert!(!client2().list_snapshots().unwrap().iter().any(|s| s.id == snap.id));

    c.delete_snapshot(&merged.id).unwrap();
    assert!(matches!(c.get_snapshot(&merged.id), Err(Error::NotFound(_))));
    assert!(matches!(c.restore_snapshot(&merged.id), Err(Error::NotFound(_))));
    c.delete_snapshot(&snap.id).unwrap();
}
