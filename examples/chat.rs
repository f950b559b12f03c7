//! chat: try the crate against a real (or local) model from the command line.
//!
//! What: sends the positional arguments, joined by spaces, as one user message and prints the reply.
//! `--stream` prints the text as it arrives, `--system TEXT` adds a system message, `--embed` embeds the
//! text instead and prints `dimension=N` and the first values. Token usage goes to stderr; on any error
//! it prints one line naming the error kind to stderr and exits 1.
//!
//! Run:
//! `LLM_PROVIDER=openai OPENAI_BASE_URL=http://127.0.0.1:11434/v1 MODEL=llama3.2 cargo run --example chat -- --stream "Why is the sky blue?"`
//!
//! Variables: `LLM_PROVIDER` (`openai` or `anthropic`, default `openai`), `MODEL`, `OPENAI_API_KEY` /
//! `ANTHROPIC_API_KEY`, `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL`, `TEMPERATURE`, `MAX_TOKENS`.

use std::io::Write;
use std::process::ExitCode;

use futures_util::StreamExt;
use twelve_factor_ai::llm::{
    Anthropic, AnthropicConfigBuilder, ChatRequest, EmbedRequest, LlmProvider, OpenAi,
    OpenAiConfigBuilder, StreamCollector, StreamEvent, Usage,
};
use twelve_factor_ai::{Error, Result};

struct Args {
    stream: bool,
    embed: bool,
    system: Option<String>,
    text: String,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        stream: false,
        embed: false,
        system: None,
        text: String::new(),
    };
    let mut words = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--stream" => args.stream = true,
            "--embed" => args.embed = true,
            "--system" => {
                args.system = Some(
                    it.next()
                        .ok_or_else(|| Error::config("--system needs a TEXT argument"))?,
                );
            }
            "--" => words.extend(it.by_ref()),
            flag if flag.starts_with("--") => {
                return Err(Error::config(format!("unknown option {flag}")));
            }
            _ => words.push(arg),
        }
    }
    args.text = words.join(" ");
    if args.text.trim().is_empty() {
        return Err(Error::config(
            "nothing to send: usage: chat [--stream] [--embed] [--system TEXT] MESSAGE...",
        ));
    }
    Ok(args)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_env<T: std::str::FromStr>(name: &str) -> Result<Option<T>> {
    env(name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| Error::config(format!("{name}={v:?} is not a valid value")))
        })
        .transpose()
}

fn provider() -> Result<Box<dyn LlmProvider>> {
    match env("LLM_PROVIDER").as_deref().unwrap_or("openai") {
        "openai" => Ok(Box::new(OpenAi::new(
            OpenAiConfigBuilder::from_env().build()?,
        )?)),
        "anthropic" => Ok(Box::new(Anthropic::new(
            AnthropicConfigBuilder::from_env().build()?,
        )?)),
        other => Err(Error::config(format!(
            "LLM_PROVIDER={other:?} is not supported: use openai or anthropic"
        ))),
    }
}

fn print_usage(usage: &Usage) {
    let show = |v: Option<u64>| v.map_or("?".to_owned(), |n| n.to_string());
    eprintln!(
        "usage: input={} output={} cached={}",
        show(usage.input_tokens),
        show(usage.output_tokens),
        show(usage.cached_input_tokens)
    );
}

async fn run() -> Result<()> {
    let args = parse_args()?;
    let llm = provider()?;

    if args.embed {
        let res = llm.embed(EmbedRequest::new([args.text])).await?;
        let v = res
            .embeddings
            .first()
            .ok_or_else(|| Error::decode("the provider returned no embedding"))?;
        let head: Vec<String> = v.iter().take(8).map(|x| format!("{x:.6}")).collect();
        println!("dimension={}", v.len());
        println!("{}", head.join(" "));
        print_usage(&res.usage);
        return Ok(());
    }

    let mut builder = ChatRequest::builder();
    if let Some(system) = args.system {
        builder = builder.system(system);
    }
    builder = builder.user(args.text);
    if let Some(t) = parse_env::<f32>("TEMPERATURE")? {
        builder = builder.temperature(t);
    }
    if let Some(n) = parse_env::<u32>("MAX_TOKENS")? {
        builder = builder.max_tokens(n);
    }
    let request = builder.build()?;

    if args.stream {
        let mut stream = llm.chat_stream(request).await?;
        let mut collector = StreamCollector::new(llm.name(), llm.model());
        let mut out = std::io::stdout();
        while let Some(event) = stream.next().await {
            let event = event?;
            if let StreamEvent::TextDelta { text } = &event {
                // A closed stdout (a pipe to `head`) is not worth failing the call for.
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            }
            collector.push(event)?;
        }
        let response = collector.finish()?;
        println!();
        print_usage(&response.usage);
    } else {
        let response = llm.chat(request).await?;
        println!("{}", response.content);
        for call in &response.tool_calls {
            println!("[tool call {} {}({})]", call.id, call.name, call.arguments);
        }
        print_usage(&response.usage);
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}: {e}", e.kind());
            ExitCode::FAILURE
        }
    }
}
