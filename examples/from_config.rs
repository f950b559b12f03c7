//! From config: a service's backing services built from settings in one call, as it starts in production.
//!
//! What: reads `models.toml` (the profile from `TFA_PROFILE` or `APP_ENV`), the `prompts/` folder and the
//! environment into `Settings`, builds the recommended stack (`Services`: the chat stack with fallback,
//! prices, logging, metrics and drain; the embedder; the stores), renders the support prompt, asks the
//! primary model, streams a second answer, prints what each cost, and drains.
//!
//! Run offline: `cargo run --example from_config`. Without `OPENAI_API_KEY` it starts the crate's fake
//! OpenAI and Anthropic servers on loopback (feature `testing`) and points the `staging` profile at them,
//! so it needs no network and no keys.
//!
//! Run for real: `OPENAI_API_KEY=.. ANTHROPIC_API_KEY=.. TFA_PROFILE=staging cargo run --example
//! from_config`. Variables: everything `Settings::from_env` reads (`MODELS_CONFIG`, `PROMPTS_DIR`,
//! `MODEL`, `TEMPERATURE`, `CONVERSATION_STORE_URL`, ...).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use twelve_factor_ai::config::{ModelConfig, Settings};
use twelve_factor_ai::llm::{ChatRequest, LlmProviderExt};
use twelve_factor_ai::prompt::PromptRegistryExt;
use twelve_factor_ai::testing::fake::{FakeServer, FakeUsage, openai};

#[tokio::main(flavor = "current_thread")]
async fn main() -> twelve_factor_ai::Result<()> {
    // Offline: fake provider servers and the variables a staging deploy would have.
    let offline = std::env::var_os("OPENAI_API_KEY").is_none();
    let fake = if offline {
        Some(FakeServer::start().await.map_err(|e| {
            twelve_factor_ai::Error::config(format!("could not start the fake server: {e}"))
        })?)
    } else {
        None
    };
    let overrides: HashMap<&str, String> = match &fake {
        Some(server) => HashMap::from([
            ("TFA_PROFILE", "staging".to_owned()),
            ("OPENAI_API_KEY", "sk-offline-example".to_owned()),
            ("ANTHROPIC_API_KEY", "sk-ant-offline-example".to_owned()),
            ("OPENAI_BASE_URL", server.openai_base_url()),
            ("ANTHROPIC_BASE_URL", server.anthropic_base_url()),
            ("CONVERSATION_STORE_URL", "memory://".to_owned()),
        ]),
        None => HashMap::new(),
    };

    // Factor III: defaults < models.toml < profile < environment, all checked at once.
    let settings = Settings::from_env_vars(|name| {
        overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    })?;
    let primary = settings.models().require_role(ModelConfig::PRIMARY)?;
    println!(
        "profile {}, primary {} {}, caching {}",
        settings.profile(),
        primary.provider().as_str(),
        primary.model(),
        settings.enable_caching()
    );

    // Factors II, IV, IX: the whole stack from settings, stored without naming its type.
    let services = settings.build_services()?;

    // Factor I: the prompt carries its name, version and hash into the request.
    let rendered = services
        .prompts
        .render_latest(
            "system/customer-support-agent",
            &json!({
                "company_name": "Acme",
                "facts": ["Orders ship within two business days."],
                "question": "When will my order ship?",
            }),
        )
        .await?;
    println!("prompt {}", rendered.prompt);

    if let Some(server) = &fake {
        let model = primary.model();
        server.push(openai::chat_completion_with_usage(
            model,
            "Your order ships within two business days.",
            FakeUsage::new(120, 12),
        ));
        server.push(openai::chat_stream_with_usage(
            model,
            &["Orders ship ", "within two ", "business days."],
            FakeUsage::new(120, 12),
        ));
    }
    let request = || {
        ChatRequest::builder()
            .messages(rendered.messages.clone())
            .prompt(rendered.prompt.clone())
            .build()
    };
    let answer = services.llm.chat(request()?).await?;
    println!(
        "answer ({}, ${:.6}): {}",
        answer.response_model(),
        answer.cost_usd.unwrap_or(f64::NAN),
        answer.content
    );
    let streamed = services.llm.chat_collected(request()?).await?;
    println!(
        "streamed ({}, ${:.6}): {}",
        streamed.response_model(),
        streamed.cost_usd.unwrap_or(f64::NAN),
        streamed.content
    );

    // Factor IX: stop taking calls and let those in flight finish.
    let report = services.drain.shutdown(Duration::from_secs(10)).await;
    println!(
        "drained: {} finished, {} still running",
        report.finished, report.still_running
    );
    Ok(())
}
