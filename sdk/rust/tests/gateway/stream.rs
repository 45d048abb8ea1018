//! Streams over GET /v1/executions/:id/events (newline-delimited JSON) and input over
//! POST /v1/executions/:id/input, against the real gateway.

use std::time::{Duration, Instant};

use faas_sdk::{Error, ExecuteRequest, ExecutionStatus, Failure, Mode, StreamEvent};

use crate::common::client;

fn outputs(events: &[StreamEvent]) -> String {
    events.iter().filter_map(|e| if let StreamEvent::Output { data } = e { Some(data.as_str()) } else { None }).collect()
}

#[test]
fn output_arrives_while_the_program_runs_then_complete() {
    let code = "import time\nprint('first', flush=True)\ntime.sleep(1)\nprint('second', flush=True)\n";
    let stream = client().execute_stream(&ExecuteRequest::new(code, "python").mode(Mode::Cached)).unwrap();
    assert!(!stream.execution_id().is_empty());
    let mut seen: Vec<(Instant, StreamEvent)> = Vec::new();
    for event in stream {
        seen.push((Instant::now(), event.expect("a readable event")));
    }
    let (complete_at, last) = seen.last().cloned().expect("some events");
    let first_output_at = seen.iter().find(|(_, e)| matches!(e, StreamEvent::Output { .. })).map(|(t, _)| *t).expect("an output event");
    // The 1 s sleep sits between the prints: the first one cannot have waited for the end.
    assert!(complete_at.duration_since(first_output_at) >= Duration::from_millis(800), "{:?}", complete_at.duration_since(first_output_at));
    let events: Vec<StreamEvent> = seen.into_iter().map(|(_, e)| e).collect();
    assert_eq!(outputs(&events), "first\nsecond\n");
    match last {
        StreamEvent::Complete { exit_code, result } => {
            assert_eq!(exit_code, 0);
            assert_eq!(result.stdout, "first\nsecond\n");
        }
        other => panic!("the last event is complete, not {:?}", other),
    }
}

#[test]
fn a_late_stream_replays_what_was_printed_with_stderr_and_the_end() {
    let c = client();
    let done = c.execute(&ExecuteRequest::new("import sys; print('waited'); print('oops', file=sys.stderr)", "python").mode(Mode::Cached)).unwrap();
    let events: Vec<StreamEvent> = c.stream(&done.execution_id).unwrap().map(|e| e.unwrap()).collect();
    assert_eq!(events.len(), 3, "{:?}", events);
    assert_eq!(events[0], StreamEvent::Output { data: "waited\n".into() });
    assert_eq!(events[1], StreamEvent::Error { data: Some("oops\n".into()), error: None });
    assert!(matches!(&events[2], StreamEvent::Complete { exit_code: 0, result } if result.execution_id == done.execution_id));
    // A stream of a started execution, read to its end with finish().
    let id = c.start(&ExecuteRequest::new("echo out; echo err >&2; exit 4", "bash")).unwrap();
    let result = c.stream(&id).unwrap().finish().expect("a program that ran is Ok whatever its exit code");
    assert_eq!((result.exit_code, result.stdout.as_str(), result.stderr.as_str()), (4, "out\n", "err\n"));
}

#[test]
fn stdin_sent_while_running_reaches_the_program() {
    let code = "line = input()\nprint('got:' + line[::-1], flush=True)\nprint('rest:' + repr(input()))";
    let stream = client().execute_stream(&ExecuteRequest::new(code, "python").mode(Mode::Cached)).unwrap();
    let status = stream.send_input("olleh\nsecond line\n").unwrap();
    assert!(matches!(status, ExecutionStatus::Queued | ExecutionStatus::Running), "{:?}", status);
    stream.close_input().unwrap();
    let result = stream.finish().unwrap();
    assert_eq!(result.stdout, "got:hello\nrest:'second line'\n");
}

#[test]
fn kill_ends_the_program_with_137() {
    let c = client();
    let mut stream = c.execute_stream(&ExecuteRequest::new("import time\nprint('up', flush=True)\ntime.sleep(60)", "python").mode(Mode::Cached)).unwrap();
    let started = Instant::now();
    let first = stream.next().expect("an event").unwrap();
    assert_eq!(first, StreamEvent::Output { data: "up\n".into() });
    stream.kill().unwrap();
    let last = stream.last().expect("complete").unwrap();
    assert!(matches!(last, StreamEvent::Complete { exit_code: 137, .. }), "{:?}", last);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn progress_reports_arrive_as_progress_events() {
    let events: Vec<StreamEvent> =
        client().execute_stream(&ExecuteRequest::new("faas-progress 40 'loading data'\nfaas-progress 100 done\necho finished", "bash")).unwrap().map(|e| e.unwrap()).collect();
    let progress: Vec<(f64, String)> =
        events.iter().filter_map(|e| if let StreamEvent::Progress { percent, message } = e { Some((*percent, message.clone())) } else { None }).collect();
    assert_eq!(progress, vec![(40.0, "loading data".to_string()), (100.0, "done".to_string())]);
    assert_eq!(outputs(&events), "finished\n");
}

#[test]
fn finish_turns_a_compile_error_into_an_execution_error() {
    let stream = client().execute_stream(&ExecuteRequest::new("def broken(:", "python").interactive(false)).unwrap();
    match stream.finish() {
        Err(Error::Execution(e)) => assert_eq!(e.failure, Some(Failure::Compile)),
        other => panic!("expected an ExecutionError, got {:?}", other),
    }
}
