//! execute / start / get_execution against the real gateway and engine.

use std::time::{Duration, Instant};

use faas_sdk::{Error, ErrorCode, ExecuteRequest, ExecutionStatus, Failure, Language, Mode, Resources};

use crate::common::client;

#[test]
fn runs_code_in_every_language() {
    let c = client();
    let programs: [(&str, &str, &str); 5] = [
        ("python", "print(sum(range(10)))", "45\n"),
        ("javascript", "console.log([1, 2, 3].map((x) => x * 2).join(','))", "2,4,6\n"),
        ("typescript", "const n: number = 6 * 7;\nconsole.log(`ts ${n}`);", "ts 42\n"),
        ("bash", "for i in 1 2 3; do printf '%s-' $i; done; echo", "1-2-3-\n"),
        ("go", "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"go\", 6*7) }", "go 42\n"),
    ];
    for (language, code, expected) in programs {
        let r = c.execute(&ExecuteRequest::new(code, language).mode(Mode::Cached)).unwrap_or_else(|e| panic!("{}: {}", language, e));
        assert_eq!(r.stdout, expected, "{}: stderr {}", language, r.stderr);
        assert_eq!(r.exit_code, 0, "{}", language);
        assert!(!r.execution_id.is_empty());
        assert_eq!(r.failure, None);
    }
}

#[test]
fn sends_stdin_env_vars_text_and_binary_files_and_resources() {
    let r = client()
        .execute(
            &ExecuteRequest::new(
                "import os, sys\nprint(open('data/in.txt').read().strip(), os.environ['GREETING'], sys.stdin.read().strip(), open('bin.dat', 'rb').read().hex())\nsys.exit(3)",
                Language::Python,
            )
            .mode(Mode::Cached)
            .resources(Resources { cpu_cores: Some(0.5), memory_mb: Some(128), timeout_ms: Some(10_000), disk_mb: Some(64), gpu_count: Some(0) })
            .env("GREETING", "hi")
            .file("data/in.txt", "from a file\n")
            .file("bin.dat", &[0u8, 255, 16])
            .stdin("from stdin\n"),
        )
        .expect("a program that ran and exited 3 is Ok");
    assert_eq!(r.stdout, "from a file hi from stdin 00ff10\n");
    assert_eq!(r.exit_code, 3);
    assert!(!r.timed_out && !r.oom_killed && !r.compile_error);
    assert!(r.usage.cpu_seconds > 0.0, "{:?}", r.usage);
    assert!(r.duration_ms > 0.0);
}

#[test]
fn a_non_zero_exit_is_ok_unless_throw_on_error() {
    let c = client();
    let r = c.execute(&ExecuteRequest::new("echo out; echo err >&2; exit 4", "bash")).expect("Ok for a program that ran");
    assert_eq!((r.exit_code, r.stdout.as_str(), r.stderr.as_str()), (4, "out\n", "err\n"));
    match c.execute(&ExecuteRequest::new("echo err >&2; exit 4", "bash").throw_on_error(true)) {
        Err(Error::Execution(e)) => {
            assert_eq!(e.error.code, ErrorCode::ExecutionError);
            assert_eq!(e.exit_code, Some(4));
            assert_eq!(e.failure, None);
            assert_eq!(e.stderr, "err\n");
            assert!(e.execution_id().is_some());
        }
        other => panic!("expected an ExecutionError, got {:?}", other),
    }
}

#[test]
fn a_program_that_cannot_run_is_an_execution_error() {
    let c = client();
    for (language, code) in [("python", "def broken(:\n    pass"), ("go", "package main\nfunc main() { x }")] {
        match c.execute(&ExecuteRequest::new(code, language).mode(Mode::Cached)) {
            Err(Error::Execution(e)) => {
                assert_eq!(e.error.code, "EXECUTION_ERROR");
                assert_eq!(e.failure, Some(Failure::Compile), "{}", language);
                assert!(!e.stderr.is_empty(), "{}", language);
                assert_ne!(e.exit_code, Some(0), "{}", language);
                assert!(e.error.message.contains("could not run (compile)"), "{}", e.error.message);
            }
            other => panic!("{}: expected an ExecutionError, got {:?}", language, other),
        }
    }
    let started = Instant::now();
    match c.execute(&ExecuteRequest::new("import time; time.sleep(5)", "python").mode(Mode::Cached).resources(Resources { timeout_ms: Some(300), ..Default::default() })) {
        Err(Error::Execution(e)) => {
            assert_eq!(e.failure, Some(Failure::Timeout));
            assert!(matches!(&e.result, Some(r) if r.timed_out));
        }
        other => panic!("expected a timeout, got {:?}", other),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn start_answers_at_once_then_get_execution_has_the_result() {
    let c = client();
    let started = Instant::now();
    let id = c.start(&ExecuteRequest::new("import time\ntime.sleep(1)\nprint('later')", "python").mode(Mode::Cached)).unwrap();
    assert!(started.elapsed() < Duration::from_millis(900), "start waited for the program");
    let first = c.get_execution(&id).unwrap();
    assert!(matches!(first.status, ExecutionStatus::Queued | ExecutionStatus::Running), "{:?}", first.status);
    assert_eq!(first.language, Language::Python);
    let deadline = Instant::now() + Duration::from_secs(60);
    let info = loop {
        let info = c.get_execution(&id).unwrap();
        if info.status == ExecutionStatus::Completed || Instant::now() > deadline {
            break info;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(info.status, ExecutionStatus::Completed);
    assert_eq!(info.execution_id, id);
    assert_eq!(info.result.expect("a completed execution has its result").stdout, "later\n");
}

#[test]
fn every_program_of_several_threads_gets_its_own_result() {
    let c = client();
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || c.execute(&ExecuteRequest::new(format!("print({} * {})", i, i), "python").mode(Mode::Cached)).map(|r| r.stdout))
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap().unwrap(), format!("{}\n", i * i));
    }
}
