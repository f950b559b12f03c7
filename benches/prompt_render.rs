//! What a prompt registry costs: rendering a typical chat prompt (`system/customer-support-agent` from
//! `prompts/`: a system message with three facts in a loop, and a user message) against `format!` building
//! the same two messages; and loading a folder of 1,000 prompt files.
//!
//! Run: `cargo bench --bench prompt_render`. Targets: at least 200,000 renders per second on one core
//! (5 µs per render), and 1,000 files loaded in under 200 ms. After criterion, the bench prints renders
//! per second, the ratio to `format!` measured in the same run, and the load time.
//!
//! Under `cargo test --benches` (criterion's test mode) each routine runs once, on 50 files.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use serde_json::{Value, json};
use twelve_factor_ai::embed_prompts;
use twelve_factor_ai::llm::Message;
use twelve_factor_ai::prompt::{DirPromptRegistry, EmbeddedPromptRegistry, PromptSet, Selector};

const NAME: &str = "system/customer-support-agent";

fn vars() -> Value {
    json!({
        "company_name": "Acme Shop",
        "facts": [
            "Orders ship within two business days from our warehouse in Rotterdam.",
            "Refunds are paid to the original payment method within five days of the return arriving.",
            "Support is open Monday to Friday, nine to five Central European Time.",
        ],
        "question": "How long do refunds take?",
    })
}

/// The same two messages, written by hand with `format!`.
fn by_hand(company: &str, facts: &[&str], question: &str) -> Vec<Message> {
    let mut list = String::new();
    for fact in facts {
        list.push_str(&format!("- {fact}\n"));
    }
    vec![
        Message::system(format!(
            "You are the customer support assistant of {company}.\n\
             Answer the customer's question using only the facts below. If the facts do not answer it, say so \
             and offer to hand over to a human colleague.\n\
             Keep answers short and friendly.\n\nFacts:\n{}",
            list.trim_end()
        )),
        Message::user(question.to_owned()),
    ]
}

/// Mean nanoseconds per render for the registry and for `format!`, over interleaved rounds.
fn interleaved(set: &PromptSet, rounds: u32) -> (f64, f64) {
    let vars = vars();
    let facts: Vec<&str> = vars["facts"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let (mut t_render, mut t_format) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let t = Instant::now();
        black_box(
            set.render(NAME, Selector::Latest, black_box(&vars))
                .expect("render"),
        );
        t_render += t.elapsed();
        let t = Instant::now();
        black_box(by_hand(
            black_box("Acme Shop"),
            black_box(&facts),
            black_box("How long do refunds take?"),
        ));
        t_format += t.elapsed();
    }
    (
        t_render.as_nanos() as f64 / f64::from(rounds),
        t_format.as_nanos() as f64 / f64::from(rounds),
    )
}

/// A folder of `n` prompt files like real ones: front matter, declared variables, a loop, a chat split.
struct Folder(PathBuf);

impl Folder {
    fn new(n: usize) -> Self {
        let root = std::env::temp_dir().join(format!("tfa-bench-prompts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for i in 0..n {
            let dir = root.join(format!("team-{}", i % 20));
            std::fs::create_dir_all(&dir).expect("bench folder");
            let file = format!(
                "+++\nversion = \"1.{i}\"\ndescription = \"Prompt {i}\"\nlabels = [\"production\"]\ntemperature = 0.2\n\
                 variables = [\"company_name\", \"facts\", \"question\"]\n+++\n\
                 system:\nYou are assistant {i} of {{{{ company_name }}}}.\nFacts:\n\
                 {{% for fact in facts -%}}\n- {{{{ fact }}}}\n{{% endfor %}}\nuser:\n{{{{ question }}}}\n"
            );
            std::fs::write(dir.join(format!("prompt-{i}.j2")), file).expect("bench file");
        }
        Folder(root)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bench(c: &mut Criterion) {
    // Criterion passes `--bench` under `cargo bench`; without it (cargo test) keep everything quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let registry = EmbeddedPromptRegistry::from_files(embed_prompts!(
        "prompts",
        ["system/customer-support-agent.j2"]
    ))
    .expect("prompts/ loads");
    let set = registry.prompts();

    // The two sides build the same messages.
    let sample = vars();
    let rendered = set.render(NAME, Selector::Latest, &sample).expect("render");
    let facts: Vec<&str> = sample["facts"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        rendered.messages,
        by_hand("Acme Shop", &facts, "How long do refunds take?"),
        "the format! baseline must build the same messages"
    );

    let files = if quick { 50 } else { 1_000 };
    let folder = Folder::new(files);

    let mut g = c.benchmark_group("prompt_render");
    g.bench_function("render_chat_prompt", |b| {
        let vars = vars();
        b.iter(|| {
            set.render(NAME, Selector::Latest, black_box(&vars))
                .expect("render")
        })
    });
    g.bench_function("format_same_messages", |b| {
        b.iter(|| {
            by_hand(
                black_box("Acme Shop"),
                black_box(&facts),
                black_box("How long do refunds take?"),
            )
        })
    });
    g.finish();
    let mut g = c.benchmark_group("prompt_load");
    g.sample_size(10);
    g.bench_function(format!("load_{files}_files"), |b| {
        b.iter(|| DirPromptRegistry::load(&folder.0).expect("load"))
    });
    g.finish();

    let rounds = if quick { 200 } else { 200_000 };
    let (render, format) = interleaved(set, rounds);
    println!(
        "render {NAME}: {render:.0} ns/render ({:.0} renders/s on one core, target 200,000); \
         format! of the same messages: {format:.0} ns ({:.1}x)",
        1e9 / render,
        render / format
    );
    let loads = if quick { 1 } else { 10 };
    let t = Instant::now();
    for _ in 0..loads {
        black_box(DirPromptRegistry::load(&folder.0).expect("load"));
    }
    let per_load = t.elapsed() / loads;
    println!(
        "load {files} prompt files: {:.1} ms per load (target: 1,000 files under 200 ms)",
        per_load.as_secs_f64() * 1e3
    );
}

criterion::criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion::criterion_main!(benches);
