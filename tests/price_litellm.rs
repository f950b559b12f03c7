//! The LiteLLM price-file reader against an excerpt of the real `model_prices_and_context_window.json`
//! (tests/data/litellm_prices_sample.json: real entries, plus one malformed entry), and the lookup and
//! precedence rules of `PriceTable` on what it reads.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use twelve_factor_ai::ErrorKind;
use twelve_factor_ai::llm::{LiteLlmFile, ModelPrice, PriceTable, Usage};

fn sample_path() -> String {
    format!(
        "{}/tests/data/litellm_prices_sample.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn sample() -> String {
    std::fs::read_to_string(sample_path()).unwrap()
}

/// Warnings recorded by a local subscriber, as field maps.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() == Level::WARN {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(fields);
        }
    }
}

#[test]
fn reads_every_entry_of_the_excerpt_and_skips_the_malformed_one() {
    let file = LiteLlmFile::parse(&sample()).unwrap();
    // 11 keys: sample_spec is not a model, the malformed entry is skipped.
    assert_eq!(file.len(), 9);
    assert!(file.get("sample_spec").is_none());
    assert_eq!(file.skipped().len(), 1);
    let skipped = &file.skipped()[0];
    assert_eq!(skipped.id, "example-malformed-model");
    assert!(
        skipped
            .reason
            .starts_with("input_cost_per_token: invalid type: string \"3e-06\""),
        "{}",
        skipped.reason
    );
    assert!(file.get("example-malformed-model").is_none());
}

#[test]
fn keeps_the_fields_a_model_catalog_needs() {
    let file = LiteLlmFile::read(sample_path()).unwrap();

    let mini = file.get("gpt-4o-mini").unwrap();
    assert_eq!(mini.litellm_provider.as_deref(), Some("openai"));
    assert_eq!(mini.mode.as_deref(), Some("chat"));
    assert_eq!(mini.max_tokens, Some(16_384));
    assert_eq!(mini.max_input_tokens, Some(128_000));
    assert_eq!(mini.max_output_tokens, Some(16_384));
    assert_eq!(mini.supports_function_calling, Some(true));
    assert_eq!(mini.supports_parallel_function_calling, Some(true));
    assert_eq!(mini.supports_vision, Some(true));
    assert_eq!(mini.supports_response_schema, Some(true));
    assert_eq!(mini.supports_system_messages, Some(true));
    assert_eq!(mini.supports_tool_choice, Some(true));
    assert_eq!(mini.supports_prompt_caching, Some(true));
    assert_eq!(mini.supports_reasoning, None, "not mentioned is not false");
    assert_eq!(mini.deprecation_date.as_deref(), Some("2026-07-17"));
    assert_eq!(mini.input_cost_per_token_batches, Some(7.5e-08));

    let sonnet = file.get("claude-sonnet-4-5-20250929").unwrap();
    assert_eq!(sonnet.supports_reasoning, Some(true));
    assert_eq!(sonnet.cache_creation_input_token_cost, Some(3.75e-06));
    assert_eq!(
        sonnet.cache_creation_input_token_cost_above_1hr,
        Some(6e-06)
    );
    assert_eq!(sonnet.input_cost_per_token_above_200k_tokens, Some(6e-06));
    assert_eq!(
        sonnet.output_cost_per_token_above_200k_tokens,
        Some(2.25e-05)
    );

    let gpt5 = file.get("gpt-5").unwrap();
    assert_eq!(gpt5.supported_modalities, ["text", "image"]);
    assert_eq!(gpt5.supported_output_modalities, ["text"]);
    assert_eq!(gpt5.supported_endpoints.len(), 3);
    assert_eq!(gpt5.max_input_tokens, Some(272_000));

    let embedding = file.get("text-embedding-3-small").unwrap();
    assert_eq!(embedding.mode.as_deref(), Some("embedding"));
    assert_eq!(embedding.output_vector_size, Some(1536));
    assert_eq!(embedding.max_input_tokens, Some(8191));
}

#[test]
fn per_token_prices_become_per_million_prices() {
    let table = PriceTable::from_litellm_file(sample_path()).unwrap();
    assert_eq!(
        table.get("gpt-4o-mini"),
        Some(&ModelPrice::new(0.15, 0.6).with_cached_input(0.075))
    );
    assert_eq!(
        table.get("claude-sonnet-4-5-20250929"),
        Some(
            &ModelPrice::new(3.0, 15.0)
                .with_cached_input(0.3)
                .with_cache_write(3.75)
        )
    );
    assert_eq!(
        table.get("text-embedding-3-small"),
        Some(&ModelPrice::new(0.02, 0.0))
    );
    // Priced per pixel, or only by tiers: no token price, so not in the table (the catalog still has them).
    assert!(table.get("1024-x-1024/dall-e-2").is_none());
    assert!(table.get("dashscope/qwen3-max").is_none());
    assert!(table.get("example-malformed-model").is_none());
    assert_eq!(table.len(), 7);
}

#[test]
fn costs_from_the_file_are_exact() {
    let table = PriceTable::from_litellm_json(&sample()).unwrap();
    // Anthropic with a prompt cache: 10,000 input tokens of which 6,000 read from and 2,000 written to
    // the cache; 1,000 output tokens.
    let usage = Usage {
        input_tokens: Some(10_000),
        cached_input_tokens: Some(6_000),
        cache_creation_input_tokens: Some(2_000),
        output_tokens: Some(1_000),
        reasoning_tokens: None,
    };
    // 2,000 × 3 + 6,000 × 0.3 + 2,000 × 3.75 + 1,000 × 15 = 6,000 + 1,800 + 7,500 + 15,000 = 30,300
    assert_eq!(
        table.cost("claude-sonnet-4-5-20250929", &usage),
        Some(0.0303)
    );
    // OpenAI: 1,000,000 input tokens, half cached, 100,000 output tokens.
    let usage = Usage {
        input_tokens: Some(1_000_000),
        cached_input_tokens: Some(500_000),
        output_tokens: Some(100_000),
        ..Usage::default()
    };
    // 0.5 × 0.15 + 0.5 × 0.075 + 0.1 × 0.6 = 0.075 + 0.0375 + 0.06
    assert_eq!(table.cost("gpt-4o-mini", &usage), Some(0.1725));
    // Embeddings: input tokens × input price.
    let price = table.get("text-embedding-3-small").unwrap();
    let usage = Usage {
        input_tokens: Some(500_000),
        ..Usage::default()
    };
    assert_eq!(price.input_cost(&usage), Some(0.01));
}

#[test]
fn lookup_rules_on_the_file() {
    let table = PriceTable::from_litellm_json(&sample()).unwrap();
    // Prefix removed: the entry is an anthropic one.
    assert!(
        table
            .lookup("anthropic/claude-haiku-4-5-20251001", None)
            .is_some()
    );
    // Prefix added from the provider that answered.
    assert_eq!(
        table
            .lookup("claude-3-5-haiku-20241022", Some("anthropic"))
            .map(|p| p.input),
        Some(0.8)
    );
    assert!(table.lookup("claude-3-5-haiku-20241022", None).is_none());
    // Azure's own price for its deployment id, not OpenAI's.
    assert_eq!(
        table
            .lookup("gpt-4o-mini-2024-07-18", Some("azure"))
            .map(|p| p.input),
        Some(0.165)
    );
    // A dated snapshot the file does not list is not priced as its alias ...
    assert!(
        table
            .lookup("gpt-4o-mini-2024-07-18", Some("openai"))
            .is_none()
    );
    // ... unless the host says so.
    let mut table = table;
    table.alias("gpt-4o-mini-2024-07-18", "gpt-4o-mini");
    assert_eq!(
        table
            .lookup("gpt-4o-mini-2024-07-18", Some("openai"))
            .map(|p| p.input),
        Some(0.15)
    );
}

#[test]
fn the_host_config_wins_over_the_file() {
    let mut table = PriceTable::from_litellm_json(&sample()).unwrap();
    // Inserted after loading: replaces the file's price.
    table.insert("gpt-4o-mini", ModelPrice::new(0.1, 0.4));
    assert_eq!(table.get("gpt-4o-mini"), Some(&ModelPrice::new(0.1, 0.4)));

    // Merged in: the merged-in table wins on shared ids, the rest of the file stays.
    let mut file = PriceTable::from_litellm_json(&sample()).unwrap();
    let host = PriceTable::new()
        .with_price("gpt-5", ModelPrice::new(1.0, 8.0))
        .with_price("my-finetune", ModelPrice::new(3.0, 12.0));
    file.merge(host);
    assert_eq!(file.get("gpt-5"), Some(&ModelPrice::new(1.0, 8.0)));
    assert_eq!(file.get("my-finetune"), Some(&ModelPrice::new(3.0, 12.0)));
    assert_eq!(
        file.get("gpt-4o-mini"),
        Some(&ModelPrice::new(0.15, 0.6).with_cached_input(0.075))
    );
}

#[test]
fn skipped_entries_give_one_warning_with_their_count() {
    let warnings = Warnings::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
    // A callsite first hit on another test thread may have cached "never" before this
    // scoped subscriber existed: make every callsite ask again.
    tracing::callsite::rebuild_interest_cache();
    let mut json = sample();
    // A second malformed entry: still one warning, now counting two.
    json = json.replacen(
        "\"gpt-5\": {",
        "\"bad-limits\": {\"max_input_tokens\": \"lots\", \"mode\": \"chat\"},\n    \"gpt-5\": {",
        1,
    );
    let table = PriceTable::from_litellm_json(&json).unwrap();
    assert_eq!(table.len(), 7);
    let recorded = warnings.0.lock().unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0]["skipped"], "2");
    assert!(recorded[0]["first"].contains("bad-limits"));
    assert!(recorded[0]["first"].contains("example-malformed-model"));
}

#[test]
fn a_clean_file_logs_nothing() {
    let warnings = Warnings::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
    // A callsite first hit on another test thread may have cached "never" before this
    // scoped subscriber existed: make every callsite ask again.
    tracing::callsite::rebuild_interest_cache();
    let json = r#"{"m": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}"#;
    assert_eq!(PriceTable::from_litellm_json(json).unwrap().len(), 1);
    assert!(warnings.0.lock().unwrap().is_empty());
}

#[test]
fn bad_json_is_a_config_error_naming_line_and_column() {
    let mut json = sample();
    // Cut the file in the middle of an entry, as an interrupted download would.
    json.truncate(json.find("\"gpt-5\"").unwrap() + 20);
    let err = PriceTable::from_litellm_json(&json).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let line = json.lines().count();
    assert!(
        err.message().contains(&format!("line {line}, column")),
        "{}",
        err.message()
    );

    let err = LiteLlmFile::parse("\"not an object\"").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);

    let err = PriceTable::from_litellm_file("/no/such/prices.json").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}
