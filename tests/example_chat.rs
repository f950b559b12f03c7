//! `examples/chat.rs` behaves as its contract says, against the fake servers: a reply, `--stream`,
//! `--system`, `--embed`, Anthropic, and exit code 1 with the error kind on a 401.

use std::path::PathBuf;
use std::process::{Command, Output};

use twelve_factor_ai::testing::fake::{FakeServer, openai};

/// The example binary that `cargo test` built next to this test's own binary.
fn example_binary() -> PathBuf {
    let mut dir = std::env::current_exe().unwrap();
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir
        .join("examples")
        .join(format!("chat{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built: run through `cargo test`",
        path.display()
    );
    path
}

async fn run(envs: Vec<(&'static str, String)>, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(example_binary());
        for var in [
            "LLM_PROVIDER",
            "MODEL",
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "TEMPERATURE",
            "MAX_TOKENS",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(envs).args(args).output().unwrap()
    })
    .await
    .unwrap()
}

fn openai_env(server: &FakeServer) -> Vec<(&'static str, String)> {
    vec![
        ("LLM_PROVIDER", "openai".into()),
        ("MODEL", "gpt-4o-mini-2024-07-18".into()),
        ("OPENAI_API_KEY", "sk-example-test-key".into()),
        ("OPENAI_BASE_URL", server.openai_base_url()),
        ("TEMPERATURE", "0".into()),
        ("MAX_TOKENS", "64".into()),
    ]
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_streams_and_embeds() {
    let server = FakeServer::start().await.unwrap();

    let out = run(
        openai_env(&server),
        &["--system", "be brief", "Why", "is", "the", "sky", "blue?"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Why is the sky blue?\n");
    assert!(stderr(&out).contains("usage: input="), "{}", stderr(&out));
    let body = server.last_request().unwrap().json();
    assert_eq!(body["messages"][0]["content"], "be brief");
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["max_tokens"], 64);

    let out = run(openai_env(&server), &["--stream", "streamed", "words"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), "streamed words");
    assert_eq!(server.last_request().unwrap().json()["stream"], true);

    let out = run(openai_env(&server), &["--embed", "embed this"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("dimension=8\n"),
        "{}",
        stdout(&out)
    );
    assert!(server.last_request().unwrap().path.ends_with("/embeddings"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talks_to_anthropic() {
    let server = FakeServer::start().await.unwrap();
    let envs = vec![
        ("LLM_PROVIDER", "anthropic".to_string()),
        ("MODEL", "claude-sonnet-4-5-20250929".into()),
        ("ANTHROPIC_API_KEY", "sk-ant-example".into()),
        ("ANTHROPIC_BASE_URL", server.anthropic_base_url()),
    ];
    let out = run(envs.clone(), &["--stream", "hello", "claude"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), "hello claude");
    // Embeddings are not offered by Anthropic: one line naming the kind, exit 1.
    let out = run(envs, &["--embed", "x"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: unsupported:"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_exit_1_with_the_kind() {
    let server = FakeServer::start().await.unwrap();
    server.push(openai::invalid_api_key());
    let out = run(openai_env(&server), &["hi"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: auth:"), "{err}");
    assert!(!err.contains("sk-example-test-key"), "{err}");
    assert!(stdout(&out).is_empty());

    // A bad variable is a config error before anything is sent.
    let mut envs = openai_env(&server);
    envs.push(("TEMPERATURE", "hot".into()));
    let out = run(envs, &["hi"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: config:"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.requests().len(), 1);
}
