//! `EmbeddedPromptRegistry`: the repository's `prompts/` compiled in with `embed_prompts!` serves exactly
//! what `DirPromptRegistry` serves from disk; the conformance suite over fixture files; the build-script
//! helper `build::embed_dir`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use twelve_factor_ai::ErrorKind;
use twelve_factor_ai::embed_prompts;
use twelve_factor_ai::llm::Role;
use twelve_factor_ai::prompt::{
    DirPromptRegistry, EmbeddedPromptRegistry, PromptRegistry, Selector, build,
};
use twelve_factor_ai::testing::conformance::prompt_registry::{
    PromptRegistryCapabilities, fixture_files, prompt_registry,
};

static REPO_PROMPTS: &[(&str, &str)] = embed_prompts!(
    "prompts",
    [
        "system/code-review-agent.j2",
        "system/customer-support-agent.j2",
        "templates/email-generation@1.0.0+a.j2",
        "templates/email-generation@1.0.0+b.j2",
        "templates/summarization.j2",
        "templates/summarization@1.1.0.j2",
    ]
);

/// A folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "tfa-prompt-embedded-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, rel: &str, contents: &str) {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn embedded_repository_prompts_match_the_folder() {
    let embedded = EmbeddedPromptRegistry::from_files(REPO_PROMPTS).unwrap();
    let dir = DirPromptRegistry::load(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts")).unwrap();
    // Same names, versions, variants and hashes: the same loader parsed the same bytes.
    assert_eq!(embedded.list().await.unwrap(), dir.list().await.unwrap());
    for reference in dir.list().await.unwrap() {
        let selector = Selector::version(reference.version.clone());
        let from_dir = dir.variants(&reference.name, selector.clone()).unwrap();
        let from_binary = embedded.variants(&reference.name, selector).unwrap();
        assert_eq!(from_dir, from_binary, "{reference}");
    }

    let vars = json!({ "language": "Rust", "diff": "- a\n+ b" });
    let rendered = embedded
        .render(
            "system/code-review-agent",
            Selector::label("production"),
            &vars,
        )
        .await
        .unwrap();
    assert_eq!(rendered.messages[0].role, Role::System);
    assert_eq!(
        rendered,
        dir.render(
            "system/code-review-agent",
            Selector::label("production"),
            &vars
        )
        .await
        .unwrap()
    );
    let email = json!({
        "tone": "warm", "recipient_name": "Ada", "subject": "the launch",
        "key_points": [], "sender_name": "Bo",
    });
    for user in ["u1", "u2", "u3", "u4"] {
        assert_eq!(
            embedded
                .render_for("templates/email-generation", Selector::Latest, user, &email)
                .unwrap(),
            dir.render_for("templates/email-generation", Selector::Latest, user, &email)
                .unwrap(),
            "the sticky choice is the same in both registries"
        );
    }
    assert_eq!(embedded.prompts().len(), 6);
}

#[tokio::test]
async fn embedded_registry_passes_the_suite() {
    let files = fixture_files();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(path, contents)| (path.as_str(), contents.as_str()))
        .collect();
    let registry = EmbeddedPromptRegistry::from_files(&borrowed).unwrap();
    prompt_registry(&registry, &PromptRegistryCapabilities::new()).await;
    let shared: std::sync::Arc<dyn PromptRegistry> = std::sync::Arc::new(registry.clone());
    prompt_registry(&shared, &PromptRegistryCapabilities::new()).await;
}

#[test]
fn bad_embedded_files_fail_with_every_path() {
    let err = EmbeddedPromptRegistry::from_files(&[
        ("../escape.j2", "x"),
        ("/abs.j2", "x"),
        ("ok.j2", "{{ fine }}"),
        ("bad.j2", "line 1\n{% if %}"),
        ("noext", "x"),
    ])
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Template);
    let message = err.message();
    assert!(
        message.starts_with("4 prompt files failed to load"),
        "{message}"
    );
    for expected in [
        "../escape.j2: file path \"../escape.j2\" is refused",
        "/abs.j2: file path \"/abs.j2\" is refused",
        "bad.j2:2: syntax error",
        "noext: file path \"noext\" has no extension",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in {message}"
        );
    }
}

#[test]
fn build_helper_embeds_and_validates_a_folder() {
    let dir = TempDir::new("build");
    dir.write("b/second.txt", "+++\nversion = \"2\"\n+++\nSecond {{ x }}");
    dir.write("a.j2", "First \"quoted\" \\ {{ y }}");
    dir.write("README.md", "docs, not a prompt");
    dir.write(".hidden.j2", "skipped");
    let out = dir.path().join("out/prompts.rs");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();

    let embedded = build::embed_dir(dir.path(), &out).unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(embedded, [root.join("a.j2"), root.join("b/second.txt")]);
    let generated = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = generated.lines().collect();
    assert!(
        lines[0].starts_with("// @generated by twelve_factor_ai::prompt::build::embed_dir"),
        "{generated}"
    );
    assert_eq!(lines[1], "&[");
    assert_eq!(
        lines[2],
        format!(
            "    (\"a.j2\", include_str!({:?})),",
            root.join("a.j2").to_str().unwrap()
        )
    );
    assert_eq!(
        lines[3],
        format!(
            "    (\"b/second.txt\", include_str!({:?})),",
            root.join("b/second.txt").to_str().unwrap()
        )
    );
    assert_eq!(lines[4], "]");
    assert_eq!(lines.len(), 5);

    // What the generated file embeds loads as a registry.
    let contents: Vec<(String, String)> = embedded
        .iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            (rel, std::fs::read_to_string(path).unwrap())
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = contents
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let registry = EmbeddedPromptRegistry::from_files(&borrowed).unwrap();
    let rendered = registry
        .prompts()
        .render("a", Selector::Latest, &json!({ "y": 1 }))
        .unwrap();
    assert_eq!(rendered.text(), "First \"quoted\" \\ 1");

    // A bad prompt fails the build, and the previous output stays as it was.
    dir.write("c.j2", "{% for %}");
    let err = build::embed_dir(dir.path(), &out).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Template);
    assert!(err.message().contains("c.j2:1: syntax error"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), generated);

    let err = build::embed_dir(dir.path().join("missing"), &out).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn the_repository_folder_embeds_cleanly() {
    let dir = TempDir::new("repo");
    let out = dir.path().join("prompts.rs");
    let embedded = build::embed_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts"), &out).unwrap();
    assert_eq!(embedded.len(), REPO_PROMPTS.len());
    let generated = std::fs::read_to_string(&out).unwrap();
    for (path, _) in REPO_PROMPTS {
        assert!(
            generated.contains(&format!("({path:?}, include_str!(")),
            "{path}"
        );
    }
}
