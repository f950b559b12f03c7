//! Quickstart: the four backing services working together, offline.
//!
//! What: renders the customer-support prompt from `prompts/`, embeds a question and retrieves the
//! matching fact from the in-memory vector store, keeps a two-turn conversation in the in-memory
//! conversation store, and answers with the scripted provider (no network, no keys).
//!
//! Run: `cargo run --example quickstart`. Variables: none.

use twelve_factor_ai::embed_prompts;
use twelve_factor_ai::prelude::*;
use twelve_factor_ai::prompt::EmbeddedPromptRegistry;

const FACTS: [&str; 4] = [
    "Orders ship within two business days from our warehouse in Rotterdam.",
    "Refunds are paid to the original payment method within five days of the return arriving.",
    "Support is open Monday to Friday, nine to five Central European Time.",
    "Gift cards never expire and can be combined with discount codes.",
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> twelve_factor_ai::Result<()> {
    // Factor I: prompts are code. The chat prompt is the file in prompts/, compiled into the binary and
    // checked in strict mode at startup (its front matter gives version, label, hints and variables).
    let prompts = EmbeddedPromptRegistry::from_files(embed_prompts!(
        "prompts",
        ["system/customer-support-agent.j2"]
    ))?;
    let support = prompts
        .get(
            "system/customer-support-agent",
            Selector::label("production"),
        )
        .await?;

    // Factor IV: backing services behind traits. The scripted provider embeds by hashing words and
    // answers by script, so this runs anywhere.
    let llm = Scripted::new("demo-chat-2024-01-01").with_hash_embeddings(256);
    let vectors = MemoryVectorStore::new(256, Metric::Cosine)?;
    let conversations = MemoryConversationStore::new();

    // Index the knowledge base.
    let embedded = llm.embed(EmbedRequest::new(FACTS)).await?;
    let docs = FACTS
        .iter()
        .zip(embedded.embeddings)
        .enumerate()
        .map(|(i, (fact, embedding))| {
            Document::new(format!("fact-{i}"), embedding)
                .with_text(*fact)
                .with_metadata("source", "faq")
        });
    vectors.upsert(docs.collect()).await?;

    let conversation = "demo-conversation";
    let turns = [
        (
            "How long do refunds take?",
            "Refunds reach your original payment method within five days of the return arriving.",
        ),
        (
            "And when is support open?",
            "Our support team is there Monday to Friday, nine to five CET.",
        ),
    ];

    for (question, scripted_answer) in turns {
        // Retrieve the fact closest to the question.
        let query = llm.embed_one(question).await?;
        let hits = vectors
            .search(VectorQuery::new(query, 1).with_filter(Filter::eq("source", "faq")))
            .await?;
        let facts: Vec<String> = hits.iter().filter_map(|h| h.text.clone()).collect();
        println!("retrieved: {}", facts.join(" | "));

        // Render the chat prompt (a system and a user message) with the retrieved facts; its name,
        // version and hash go with the request.
        let rendered = prompts
            .render(
                "system/customer-support-agent",
                Selector::label("production"),
                &serde_json::json!({ "company_name": "Acme Shop", "facts": facts, "question": question }),
            )
            .await?;
        let (system, question_turn): (Vec<Message>, Vec<Message>) = rendered
            .messages
            .into_iter()
            .partition(|m| m.role == Role::System);

        // Factor VI: the conversation lives in a store, not in this process's variables.
        let history = conversations
            .history(conversation, Window::LastN(20))
            .await?;
        // The prompt's model hints (temperature, max tokens) come from its front matter.
        let request = support
            .hints
            .apply(ChatRequest::builder())
            .messages(system)
            .messages(history)
            .messages(question_turn)
            .prompt(rendered.prompt.clone())
            .conversation_id(conversation)
            .build()?;

        llm.push_text(scripted_answer);
        let answer = llm.chat(request).await?;
        println!("prompt:    {}", rendered.prompt);
        conversations
            .append(
                conversation,
                &[Message::user(question), answer.to_message()],
            )
            .await?;
    }

    println!("\nconversation {conversation}:");
    for message in conversations.history(conversation, Window::All).await? {
        println!("  {:>9}: {}", message.role, message.text());
    }
    Ok(())
}
