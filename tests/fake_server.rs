//! The fake provider servers (`testing::fake`), exercised over real TCP with a small raw HTTP/1.1 client, so
//! these tests depend on no HTTP library.

use std::io;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use twelve_factor_ai::testing::fake::{
    FakeReply, FakeServer, FakeUsage, Fault, SseChunk, StreamEnd, anthropic, openai,
};

/// Generous bound for things that must happen.
const T: Duration = Duration::from_secs(10);

const ANTHROPIC_HEADERS: &[(&str, &str)] = &[
    ("anthropic-version", "2023-06-01"),
    ("x-api-key", "sk-ant-test"),
    ("content-type", "application/json"),
];

/// One parsed HTTP response.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The HTTP chunks of a chunked body, in order.
    chunks: Vec<Vec<u8>>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The server-sent events of the body: `(event name, data)`.
    fn events(&self) -> Vec<(Option<String>, String)> {
        let text = String::from_utf8(self.body.clone()).expect("utf-8 stream");
        text.split("\n\n")
            .filter(|block| !block.is_empty())
            .filter(|block| !block.starts_with(':'))
            .map(|block| {
                let mut event = None;
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event: ") {
                        event = Some(name.to_owned());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push(d);
                    } else {
                        panic!("unexpected SSE line {line:?}");
                    }
                }
                (event, data.join("\n"))
            })
            .collect()
    }

    /// The data of every event that is JSON (not `[DONE]`).
    fn data_json(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|(_, d)| d != "[DONE]")
            .map(|(_, d)| serde_json::from_str(&d).expect("event data is JSON"))
            .collect()
    }
}

/// A raw HTTP/1.1 client on one connection.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(server: &FakeServer) -> Client {
        Client {
            stream: TcpStream::connect(server.addr()).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: fake\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes()).await.expect("write");
        self.stream.write_all(body).await.expect("write");
    }

    async fn post(&mut self, path: &str, headers: &[(&str, &str)], body: &Value) -> Response {
        self.send("POST", path, headers, body.to_string().as_bytes())
            .await;
        timeout(T, self.read_response())
            .await
            .expect("response in time")
            .expect("response")
    }

    async fn fill(&mut self) -> io::Result<usize> {
        let mut scratch = [0u8; 16 * 1024];
        let n = self.stream.read(&mut scratch).await?;
        self.buf.extend_from_slice(&scratch[..n]);
        Ok(n)
    }

    async fn fill_to(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n {
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    async fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                self.buf.drain(..at + 2);
                return Ok(line);
            }
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads the status line and headers.
    async fn read_head(&mut self) -> io::Result<(u16, Vec<(String, String)>)> {
        let status_line = self.line().await?;
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(
            parts.next(),
            Some("HTTP/1.1"),
            "status line {status_line:?}"
        );
        let status = parts.next().and_then(|s| s.parse().ok()).expect("status");
        let mut headers = Vec::new();
        loop {
            let line = self.line().await?;
            if line.is_empty() {
                return Ok((status, headers));
            }
            let (name, value) = line.split_once(':').expect("header line");
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }

    async fn read_response(&mut self) -> io::Result<Response> {
        let (status, headers) = self.read_head().await?;
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
            chunks: Vec::new(),
        };
        if response.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(&self.line().await?, 16).expect("chunk size");
                if size == 0 {
                    assert_eq!(self.line().await?, "", "no trailers");
                    return Ok(response);
                }
                self.fill_to(size + 2).await?;
                let chunk: Vec<u8> = self.buf.drain(..size).collect();
                assert_eq!(self.buf.drain(..2).as_slice(), b"\r\n");
                response.body.extend_from_slice(&chunk);
                response.chunks.push(chunk);
            }
        }
        let length: usize = response
            .header("content-length")
            .expect("content-length or chunked")
            .parse()
            .expect("numeric content-length");
        self.fill_to(length).await?;
        response.body = self.buf.drain(..length).collect();
        Ok(response)
    }

    /// Whether the server closed the connection (EOF or reset) within `T`.
    async fn closed_by_server(&mut self) -> bool {
        matches!(timeout(T, self.fill()).await, Ok(Ok(0) | Err(_)))
    }
}

fn chat_body(text: &str) -> Value {
    json!({ "model": "gpt-4o-mini-2024-07-18", "messages": [
        { "role": "system", "content": "You are terse." },
        { "role": "user", "content": text }
    ]})
}

fn anthropic_body(text: &str) -> Value {
    json!({ "model": "claude-sonnet-4-20250514", "max_tokens": 64, "system": "Be terse.",
            "messages": [{ "role": "user", "content": text }] })
}

#[tokio::test]
async fn urls_follow_the_sdk_conventions() {
    let server = FakeServer::start().await.unwrap();
    let port = server.addr().port();
    assert!(server.addr().ip().is_loopback());
    assert_eq!(server.url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(
        server.openai_base_url(),
        format!("http://127.0.0.1:{port}/v1")
    );
    assert_eq!(
        server.anthropic_base_url(),
        format!("http://127.0.0.1:{port}")
    );
}

#[tokio::test]
async fn openai_chat_echo() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let r = client
        .post("/v1/chat/completions", &[], &chat_body("hello there"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("x-request-id").unwrap().starts_with("req_"));
    let body = r.json();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(body["choices"][0]["index"], 0);
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], "hello there");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(usage["completion_tokens"], 3); // 11 chars
    assert!(usage["prompt_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(usage["prompt_tokens"].as_u64().unwrap() + 3)
    );

    // Content as an array of parts.
    let parts = json!({ "model": "m", "messages": [{ "role": "user", "content": [
        { "type": "text", "text": "one " }, { "type": "text", "text": "two" }
    ]}]});
    let r = client.post("/v1/chat/completions", &[], &parts).await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "one two");
}

#[tokio::test]
async fn openai_stream_echo_with_usage() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let mut body = chat_body("streaming works");
    body["stream"] = json!(true);
    body["stream_options"] = json!({ "include_usage": true });
    let r = client.post("/v1/chat/completions", &[], &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert!(r.header("x-request-id").is_some());

    let events = r.events();
    assert_eq!(events.len(), r.chunks.len(), "one HTTP chunk per event");
    assert!(
        events.iter().all(|(name, _)| name.is_none()),
        "data-only framing"
    );
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks = r.data_json();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    assert!(chunks.iter().all(|c| c["id"] == chunks[0]["id"]));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "streaming works");
    let content_chunks = chunks
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        })
        .count();
    assert!((2..=3).contains(&content_chunks));
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 4);
    assert!(rest.iter().all(|c| c["usage"].is_null()));
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn openai_stream_echo_without_usage() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let mut body = chat_body("hi");
    body["stream"] = json!(true);
    let r = client.post("/v1/chat/completions", &[], &body).await;
    let chunks = r.data_json();
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert!(
        chunks
            .iter()
            .all(|c| c["choices"].as_array().unwrap().len() == 1)
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
    assert_eq!(r.events().last().unwrap().1, "[DONE]");
}

#[tokio::test]
async fn openai_tool_echo() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let mut body = chat_body("please use a Tool");
    body["tools"] = json!([
        { "type": "function", "function": { "name": "get_weather", "parameters": { "type": "object" } } },
        { "type": "function", "function": { "name": "other", "parameters": { "type": "object" } } }
    ]);
    let r = client.post("/v1/chat/completions", &[], &body).await;
    let choice = &r.json()["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], "{}");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));

    body["stream"] = json!(true);
    let r = client.post("/v1/chat/completions", &[], &body).await;
    let chunks = r.data_json();
    let mut arguments = String::new();
    let mut name = None;
    for c in &chunks {
        for call in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(call["index"], 0);
            if let Some(n) = call["function"]["name"].as_str() {
                name = Some(n.to_owned());
            }
            arguments += call["function"]["arguments"].as_str().unwrap_or("");
        }
    }
    assert_eq!(name.as_deref(), Some("get_weather"));
    assert_eq!(arguments, "{}");
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );

    // Without the word, tools are ignored.
    let mut plain = chat_body("no calls here");
    plain["tools"] = body["tools"].clone();
    let r = client.post("/v1/chat/completions", &[], &plain).await;
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "no calls here"
    );
}

#[tokio::test]
async fn openai_embeddings_echo() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let r = client
        .post(
            "/v1/embeddings",
            &[],
            &json!({ "model": "text-embedding-3-small", "input": "hello" }),
        )
        .await;
    assert_eq!(r.status, 200);
    let one = r.json();
    assert_eq!(one["object"], "list");
    assert_eq!(one["model"], "text-embedding-3-small");
    assert_eq!(one["data"][0]["object"], "embedding");
    assert_eq!(one["data"][0]["index"], 0);
    assert_eq!(one["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert!(one["usage"]["prompt_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(one["usage"]["prompt_tokens"], one["usage"]["total_tokens"]);

    let r = client
        .post(
            "/v1/embeddings",
            &[],
            &json!({ "model": "m", "input": ["a", "hello"], "dimensions": 32, "encoding_format": "float" }),
        )
        .await;
    let two = r.json();
    let data = two["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert!(
        data.iter()
            .all(|d| d["embedding"].as_array().unwrap().len() == 32)
    );
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);

    // Deterministic: the same input gives the same vector.
    let again = client
        .post(
            "/v1/embeddings",
            &[],
            &json!({ "model": "m", "input": ["hello"], "dimensions": 32 }),
        )
        .await;
    assert_eq!(again.json()["data"][0]["embedding"], data[1]["embedding"]);

    let r = client
        .post(
            "/v1/embeddings",
            &[],
            &json!({ "model": "m", "input": "x", "encoding_format": "base64" }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    assert_eq!(r.json()["error"]["param"], "encoding_format");
}

#[tokio::test]
async fn anthropic_message_echo() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let r = client
        .post(
            "/v1/messages",
            ANTHROPIC_HEADERS,
            &anthropic_body("bonjour"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("request-id").unwrap().starts_with("req_"));
    assert!(r.header("x-request-id").is_none());
    let msg = r.json();
    assert_eq!(msg["type"], "message");
    assert_eq!(msg["role"], "assistant");
    assert!(msg["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(msg["model"], "claude-sonnet-4-20250514");
    assert_eq!(
        msg["content"],
        json!([{ "type": "text", "text": "bonjour" }])
    );
    assert_eq!(msg["stop_reason"], "end_turn");
    assert!(msg["stop_sequence"].is_null());
    for field in [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ] {
        assert!(msg["usage"][field].is_u64(), "usage.{field}");
    }

    // Without the version header, the real API's 400.
    let r = client
        .post(
            "/v1/messages",
            &[("x-api-key", "k")],
            &anthropic_body("bonjour"),
        )
        .await;
    assert_eq!(r.status, 400);
    let err = r.json();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert_eq!(err["request_id"], r.header("request-id").unwrap());
}

#[tokio::test]
async fn anthropic_stream_echo() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let mut body = anthropic_body("stream me please");
    body["stream"] = json!(true);
    let r = client.post("/v1/messages", ANTHROPIC_HEADERS, &body).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert!(r.header("request-id").is_some());
    let events = r.events();
    assert_eq!(events.len(), r.chunks.len(), "one HTTP chunk per event");
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_deref().expect("named event"))
        .collect();
    assert_eq!(names[..3], ["message_start", "content_block_start", "ping"]);
    assert_eq!(
        names[names.len() - 4..],
        [
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(names.iter().filter(|n| **n == "ping").count(), 1);
    let data = r.data_json();
    for ((name, _), d) in events.iter().zip(&data) {
        assert_eq!(d["type"], name.as_deref().unwrap());
    }
    assert!(
        data[0]["message"]["usage"]["input_tokens"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(data[0]["message"]["content"], json!([]));
    let text: String = data
        .iter()
        .filter(|d| d["type"] == "content_block_delta")
        .map(|d| {
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "stream me please");
    let delta = &data[data.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 4);
}

#[tokio::test]
async fn anthropic_tool_echo() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let mut body = anthropic_body("call the tool");
    body["tools"] = json!([{ "name": "lookup", "input_schema": { "type": "object" } }]);
    let r = client.post("/v1/messages", ANTHROPIC_HEADERS, &body).await;
    let msg = r.json();
    assert_eq!(msg["stop_reason"], "tool_use");
    assert_eq!(msg["content"][0]["type"], "tool_use");
    assert_eq!(msg["content"][0]["name"], "lookup");
    assert_eq!(msg["content"][0]["input"], json!({}));
    assert!(
        msg["content"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("toolu_")
    );

    body["stream"] = json!(true);
    let r = client.post("/v1/messages", ANTHROPIC_HEADERS, &body).await;
    let data = r.data_json();
    assert_eq!(data[1]["content_block"]["type"], "tool_use");
    assert_eq!(data[1]["content_block"]["name"], "lookup");
    let json_text: String = data
        .iter()
        .filter(|d| d["type"] == "content_block_delta")
        .map(|d| {
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(json_text, "{}");
    assert_eq!(data[data.len() - 2]["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn unknown_route_is_an_openai_404() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let r = client.post("/v1/nothing/here", &[], &json!({})).await;
    assert_eq!(r.status, 404);
    let err = r.json();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/nothing/here")
    );
    assert!(err["error"].get("param").is_some() && err["error"].get("code").is_some());
    assert!(r.header("x-request-id").is_some());
}

#[tokio::test]
async fn azure_style_path() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let body = json!({ "messages": [{ "role": "user", "content": "from azure" }] });
    let r = client
        .post(
            "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21",
            &[("api-key", "azure-key")],
            &body,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.json()["choices"][0]["message"]["content"], "from azure");
    assert_eq!(r.json()["model"], "my-gpt");
    let req = server.last_request().unwrap();
    assert_eq!(
        req.path,
        "/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(
        req.path_without_query(),
        "/openai/deployments/my-gpt/chat/completions"
    );
    assert_eq!(req.header("api-key"), Some("azure-key"));
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let r1 = client
        .post("/v1/chat/completions", &[], &chat_body("one"))
        .await;
    let mut streaming = chat_body("two");
    streaming["stream"] = json!(true);
    let r2 = client.post("/v1/chat/completions", &[], &streaming).await;
    let r3 = client
        .post("/v1/messages", ANTHROPIC_HEADERS, &anthropic_body("three"))
        .await;
    assert_eq!(r1.json()["choices"][0]["message"]["content"], "one");
    assert_eq!(r2.events().last().unwrap().1, "[DONE]");
    assert_eq!(r3.json()["content"][0]["text"], "three");
    assert!(r1.header("connection").is_none());
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn connection_close_is_honoured() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let r = client
        .post(
            "/v1/chat/completions",
            &[("Connection", "close")],
            &chat_body("bye"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(client.closed_by_server().await);
}

#[tokio::test]
async fn queued_replies_come_first_in_order() {
    let server = FakeServer::start().await.unwrap();
    server.push(openai::chat_completion("m", "first"));
    server.push(anthropic::message("c", "second"));
    assert_eq!(server.queued(), 2);
    let mut client = Client::connect(&server).await;
    // Any route takes the next queued reply.
    let r = client.post("/v1/embeddings", &[], &json!({})).await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "first");
    let r = client
        .post("/v1/chat/completions", &[], &chat_body("x"))
        .await;
    assert_eq!(r.json()["content"][0]["text"], "second");
    assert_eq!(server.queued(), 0);
    let r = client
        .post("/v1/chat/completions", &[], &chat_body("echo"))
        .await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "echo");
}

#[tokio::test]
async fn requests_are_recorded_with_headers_and_body() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let body = chat_body("record me");
    client
        .post(
            "/v1/chat/completions?trace=1",
            &[
                ("Authorization", "Bearer sk-test"),
                ("X-Custom-Header", "Value 1"),
            ],
            &body,
        )
        .await;
    client.send("GET", "/v1/models", &[], b"").await;
    let models = client.read_response().await.unwrap();
    assert_eq!(models.json()["object"], "list");

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/chat/completions?trace=1");
    assert!(
        first
            .headers
            .contains(&("x-custom-header".to_owned(), "Value 1".to_owned()))
    );
    assert!(first.headers.iter().all(|(n, _)| *n == n.to_lowercase()));
    assert_eq!(first.header("AUTHORIZATION"), Some("Bearer sk-test"));
    assert_eq!(first.json(), body);
    assert_eq!(first.body, body.to_string().into_bytes());
    assert_eq!(requests[1].method, "GET");
    assert!(requests[1].body.is_empty());
    assert!(requests[1].json().is_null());
}

#[tokio::test]
async fn chunked_request_bodies_are_decoded() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let body = chat_body("chunked upload").to_string();
    let (a, b) = body.as_bytes().split_at(10);
    let mut raw =
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: fake\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for part in [a, b] {
        raw.extend_from_slice(format!("{:x};ext=1\r\n", part.len()).as_bytes());
        raw.extend_from_slice(part);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\nx-trailer: t\r\n\r\n");
    client.stream.write_all(&raw).await.unwrap();
    let r = timeout(T, client.read_response()).await.unwrap().unwrap();
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "chunked upload"
    );
    assert_eq!(server.last_request().unwrap().body, body.into_bytes());
}

#[tokio::test]
async fn malformed_requests_get_400_and_a_close() {
    let server = FakeServer::start().await.unwrap();
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: abc\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /x HTTP/2.0\r\n\r\n",
    ] {
        let mut client = Client::connect(&server).await;
        client.stream.write_all(raw).await.unwrap();
        let r = timeout(T, client.read_response()).await.unwrap().unwrap();
        assert_eq!(r.status, 400, "for {:?}", String::from_utf8_lossy(raw));
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(client.closed_by_server().await);
    }
    assert!(server.requests().is_empty());

    // The server still serves.
    let mut client = Client::connect(&server).await;
    let r = client
        .post("/v1/chat/completions", &[], &chat_body("ok"))
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn oversized_requests_get_413_in_the_provider_format() {
    let server = FakeServer::start().await.unwrap();
    for (path, check) in [
        ("/v1/chat/completions", "request_too_large"),
        ("/v1/messages", "request_too_large"),
    ] {
        let mut client = Client::connect(&server).await;
        let head =
            format!("POST {path} HTTP/1.1\r\nhost: fake\r\ncontent-length: 17000000\r\n\r\n");
        client.stream.write_all(head.as_bytes()).await.unwrap();
        let r = timeout(T, client.read_response()).await.unwrap().unwrap();
        assert_eq!(r.status, 413);
        let err = r.json();
        if path.ends_with("messages") {
            assert_eq!(err["error"]["type"], check);
            assert!(r.header("request-id").is_some());
        } else {
            assert_eq!(err["error"]["code"], check);
        }
    }
}

#[tokio::test]
async fn openai_error_helpers() {
    let server = FakeServer::start().await.unwrap();
    server.push(openai::rate_limited(3));
    server.push(openai::insufficient_quota());
    server.push(openai::context_length_exceeded());
    server.push(openai::content_filtered());
    server.push(openai::error(503, "server_error", None, "Slow down"));
    let mut client = Client::connect(&server).await;
    let path = "/v1/chat/completions";

    let r = client.post(path, &[], &chat_body("x")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert_eq!(r.header("retry-after-ms"), Some("3000"));
    assert!(r.header("x-request-id").is_some());
    let err = &r.json()["error"];
    assert_eq!(err["code"], "rate_limit_exceeded");
    for field in ["message", "type", "param", "code"] {
        assert!(err.get(field).is_some(), "error.{field}");
    }

    let r = client.post(path, &[], &chat_body("x")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(r.json()["error"]["code"], "insufficient_quota");
    assert_eq!(r.json()["error"]["type"], "insufficient_quota");

    let r = client.post(path, &[], &chat_body("x")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "context_length_exceeded");
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");

    let r = client.post(path, &[], &chat_body("x")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "content_filter");

    let r = client.post(path, &[], &chat_body("x")).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["message"], "Slow down");
    assert!(r.json()["error"]["code"].is_null());
}

#[tokio::test]
async fn anthropic_error_helpers() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    let cases = [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ];
    for (status, error_type) in cases {
        server.push(anthropic::error(status, error_type, "nope"));
        let r = client
            .post("/v1/messages", ANTHROPIC_HEADERS, &anthropic_body("x"))
            .await;
        assert_eq!(r.status, status);
        let err = r.json();
        assert_eq!(err["type"], "error");
        assert_eq!(
            err["error"],
            json!({ "type": error_type, "message": "nope" })
        );
        assert_eq!(err["request_id"], r.header("request-id").unwrap());
    }

    server.push(anthropic::overloaded());
    server.push(anthropic::rate_limited(7));
    let r = client
        .post("/v1/messages", ANTHROPIC_HEADERS, &anthropic_body("x"))
        .await;
    assert_eq!(r.status, 529);
    assert_eq!(r.json()["error"]["type"], "overloaded_error");
    let r = client
        .post("/v1/messages", ANTHROPIC_HEADERS, &anthropic_body("x"))
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn stream_helpers_frame_events() {
    let server = FakeServer::start().await.unwrap();
    server.push(openai::chat_stream("m", &["Hel", "lo"], true));
    server.push(openai::stream_error_in_stream("m"));
    server.push(openai::tool_call_stream(
        "m",
        &[
            ("call_1", "a", &["{\"x\"", ":1}"]),
            ("call_2", "b", &["{}"]),
        ],
    ));
    server.push(anthropic::stream_error_event("c"));
    server.push(anthropic::tool_use_stream(
        "c",
        &[("toolu_1", "lookup", &["{\"q\":", "\"rust\"}"])],
    ));
    let mut client = Client::connect(&server).await;
    let path = "/v1/chat/completions";

    let r = client.post(path, &[], &chat_body("x")).await;
    let chunks = r.data_json();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 2);

    let r = client.post(path, &[], &chat_body("x")).await;
    let events = r.events();
    assert_ne!(events.last().unwrap().1, "[DONE]");
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(last["error"]["type"], "server_error");

    let r = client.post(path, &[], &chat_body("x")).await;
    let mut args = [String::new(), String::new()];
    for c in r.data_json() {
        for call in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = call["index"].as_u64().unwrap() as usize;
            args[i] += call["function"]["arguments"].as_str().unwrap();
        }
    }
    assert_eq!(args, ["{\"x\":1}".to_owned(), "{}".to_owned()]);

    let r = client
        .post("/v1/messages", ANTHROPIC_HEADERS, &anthropic_body("x"))
        .await;
    let events = r.events();
    let (name, data) = events.last().unwrap();
    assert_eq!(name.as_deref(), Some("error"));
    let data: Value = serde_json::from_str(data).unwrap();
    assert_eq!(data["error"]["type"], "overloaded_error");

    let r = client
        .post("/v1/messages", ANTHROPIC_HEADERS, &anthropic_body("x"))
        .await;
    let partial: String = r
        .data_json()
        .iter()
        .filter_map(|d| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&partial).unwrap(),
        json!({ "q": "rust" })
    );
}

#[tokio::test]
async fn json_helpers_and_adjusters() {
    let server = FakeServer::start().await.unwrap();
    server.push(openai::chat_completion_with_usage(
        "m",
        "cached",
        FakeUsage::new(100, 5).with_cache_read(80).with_reasoning(2),
    ));
    server.push(openai::tool_calls_completion(
        "m",
        &[("call_9", "f", "{\"a\":1}")],
    ));
    server.push(openai::embeddings("e", &[vec![0.5, -0.5], vec![1.0, 0.0]]));
    server.push(anthropic::message_with_usage(
        "c",
        "hi",
        FakeUsage::new(3, 1)
            .with_cache_creation(40)
            .with_cache_read(7),
    ));
    server.push(anthropic::tool_use_message(
        "c",
        &[("toolu_9", "lookup", json!({ "q": 1 }))],
    ));
    server.push(anthropic::message_with_stop("c", "cut", "max_tokens", None));
    server.push(FakeReply::malformed_json());
    server.push(FakeReply::html_error_page(502).with_header("x-extra", "1"));
    let mut client = Client::connect(&server).await;
    let path = "/v1/chat/completions";

    let usage = client.post(path, &[], &chat_body("x")).await.json()["usage"].clone();
    assert_eq!(usage["prompt_tokens"], 100);
    assert_eq!(usage["total_tokens"], 105);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 80);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 2);

    let call = client.post(path, &[], &chat_body("x")).await.json();
    assert_eq!(
        call["choices"][0]["message"]["tool_calls"][0]["id"],
        "call_9"
    );
    assert_eq!(
        call["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1}"
    );

    let emb = client.post("/v1/embeddings", &[], &json!({})).await.json();
    assert_eq!(emb["data"][1]["embedding"], json!([1.0, 0.0]));

    let msg = client.post(path, &[], &json!({})).await.json();
    assert_eq!(msg["usage"]["cache_creation_input_tokens"], 40);
    assert_eq!(msg["usage"]["cache_read_input_tokens"], 7);

    let msg = client.post(path, &[], &json!({})).await.json();
    assert_eq!(msg["content"][0]["input"], json!({ "q": 1 }));
    assert_eq!(msg["stop_reason"], "tool_use");

    let msg = client.post(path, &[], &json!({})).await.json();
    assert_eq!(msg["stop_reason"], "max_tokens");

    let r = client.post(path, &[], &json!({})).await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());

    let r = client.post(path, &[], &json!({})).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.header("x-extra"), Some("1"));
    assert!(String::from_utf8_lossy(&r.body).contains("502 Bad Gateway"));
}

#[tokio::test]
async fn comments_and_rechunking_keep_the_events() {
    let server = FakeServer::start().await.unwrap();
    server.push(openai::chat_stream("m", &["a", "é✓"], false).with_comments("keep-alive"));
    server.push(anthropic::stream("c", &["x", "y"]).rechunked(5));
    let mut client = Client::connect(&server).await;

    let r = client.post("/v1/chat/completions", &[], &json!({})).await;
    assert!(String::from_utf8_lossy(&r.body).contains(": keep-alive\n\n"));
    let text: String = r
        .data_json()
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "aé✓");

    let r = client.post("/v1/messages", &[], &json!({})).await;
    assert!(r.chunks.iter().all(|c| c.len() <= 5));
    assert_eq!(
        r.events().last().unwrap().0.as_deref(),
        Some("message_stop")
    );
}

#[tokio::test]
async fn truncated_stream_ends_without_the_terminating_chunk() {
    let server = FakeServer::start().await.unwrap();
    server.push(openai::chat_stream("m", &["a", "b"], false).truncated(2));
    let mut client = Client::connect(&server).await;
    client
        .send("POST", "/v1/chat/completions", &[], b"{}")
        .await;
    let result = timeout(T, client.read_response()).await.unwrap();
    let err = result.expect_err("the body is cut");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ),
        "{err:?}"
    );
    assert_eq!(server.disconnects(), 0, "the server cut it, not the client");
}

#[tokio::test]
async fn dropping_a_stream_counts_a_disconnect() {
    let server = FakeServer::start().await.unwrap();
    server.push(
        openai::chat_stream("m", &["a", "b", "c", "d"], true)
            .with_chunk_delay(Duration::from_millis(100)),
    );
    let mut client = Client::connect(&server).await;
    client
        .send("POST", "/v1/chat/completions", &[], b"{}")
        .await;
    let (status, _) = timeout(T, client.read_head()).await.unwrap().unwrap();
    assert_eq!(status, 200);
    // Wait for the first chunk, then go away.
    let size_line = timeout(T, client.line()).await.unwrap().unwrap();
    assert!(usize::from_str_radix(&size_line, 16).unwrap() > 0);
    drop(client);
    timeout(T, server.wait_for_disconnects(1))
        .await
        .expect("the server notices the client left");
    assert_eq!(server.disconnects(), 1);

    // A complete stream is no disconnect.
    let mut client = Client::connect(&server).await;
    let mut body = chat_body("x");
    body["stream"] = json!(true);
    client.post("/v1/chat/completions", &[], &body).await;
    assert_eq!(server.disconnects(), 1);
}

#[tokio::test]
async fn sse_chunk_delays_are_honoured() {
    let server = FakeServer::start().await.unwrap();
    server.push(FakeReply::Sse {
        status: 200,
        headers: vec![("x-stream".into(), "1".into())],
        chunks: vec![
            openai::chunk(json!({ "n": 1 })),
            SseChunk::comment("keep-alive").with_delay(Duration::from_millis(60)),
            SseChunk::new(Vec::new()),
            openai::chunk(json!({ "n": 2 })).with_delay(Duration::from_millis(60)),
            openai::done(),
        ],
        end: StreamEnd::Clean,
    });
    let mut client = Client::connect(&server).await;
    let started = Instant::now();
    let r = client.post("/v1/chat/completions", &[], &json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_eq!(r.header("x-stream"), Some("1"));
    assert_eq!(r.chunks.len(), 4, "the empty chunk is skipped");
    assert_eq!(r.data_json(), [json!({ "n": 1 }), json!({ "n": 2 })]);
}

#[tokio::test]
async fn stalled_stream_holds_until_the_client_leaves() {
    let server = FakeServer::start().await.unwrap();
    server.push(openai::chat_stream("m", &["a"], false).with_end(StreamEnd::Hang));
    let mut client = Client::connect(&server).await;
    client
        .send("POST", "/v1/chat/completions", &[], b"{}")
        .await;
    let stalled = timeout(Duration::from_millis(300), client.read_response()).await;
    assert!(stalled.is_err(), "the stream never ends");
    drop(client);
    timeout(T, server.wait_for_disconnects(1)).await.unwrap();
}

#[tokio::test]
async fn fault_hang_times_out_the_client() {
    let server = FakeServer::start().await.unwrap();
    server.push(FakeReply::Fault(Fault::Hang));
    let mut client = Client::connect(&server).await;
    client
        .send("POST", "/v1/chat/completions", &[], b"{}")
        .await;
    let answer = timeout(Duration::from_millis(300), client.read_response()).await;
    assert!(answer.is_err(), "no answer");
    timeout(T, server.wait_for_requests(1)).await.unwrap();
    assert_eq!(server.requests().len(), 1, "the request was read");
    drop(client);
    timeout(T, server.wait_for_disconnects(1)).await.unwrap();
}

#[tokio::test]
async fn dropping_the_server_closes_held_sockets_and_the_port() {
    let server = FakeServer::start().await.unwrap();
    let addr = server.addr();
    server.push(FakeReply::Fault(Fault::Hang));
    let mut client = Client::connect(&server).await;
    client
        .send("POST", "/v1/chat/completions", &[], b"{}")
        .await;
    timeout(T, server.wait_for_requests(1)).await.unwrap();
    drop(server);
    assert!(client.closed_by_server().await, "the held socket closes");
    let refused = timeout(T, async {
        loop {
            if TcpStream::connect(addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "the port stops accepting");
}

#[tokio::test]
async fn fault_reset_mid_body() {
    let server = FakeServer::start().await.unwrap();
    server.push(FakeReply::Fault(Fault::ResetMidBody {
        status: 200,
        partial: br#"{"id":"chatcmpl-1","object":"#.to_vec(),
        claimed_len: 500,
    }));
    let mut client = Client::connect(&server).await;
    client
        .send("POST", "/v1/chat/completions", &[], b"{}")
        .await;
    let result = timeout(T, client.read_response()).await.unwrap();
    let err = result.expect_err("the body never completes");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ),
        "{err:?}"
    );
    assert!(client.buf.len() < 500);
    assert_eq!(server.disconnects(), 0);
}

#[tokio::test]
async fn fault_slow_drip_arrives_in_pieces() {
    let server = FakeServer::start().await.unwrap();
    let body = br#"{"id":"chatcmpl-slow","object":"chat.completion"}"#.to_vec();
    server.push(FakeReply::Fault(Fault::SlowDrip {
        status: 200,
        body: body.clone(),
        chunk: 10,
        interval: Duration::from_millis(40),
    }));
    let mut client = Client::connect(&server).await;
    client
        .send("POST", "/v1/chat/completions", &[], b"{}")
        .await;
    let started = Instant::now();
    let (status, headers) = timeout(T, client.read_head()).await.unwrap().unwrap();
    assert_eq!(status, 200);
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert_eq!(length, body.len());
    let mut reads = usize::from(!client.buf.is_empty());
    while client.buf.len() < length {
        let n = timeout(T, client.fill()).await.unwrap().unwrap();
        assert!(n > 0, "no early EOF");
        reads += 1;
    }
    assert_eq!(client.buf, body);
    assert!(reads >= 4, "{reads} reads for 5 pieces");
    assert!(started.elapsed() >= Duration::from_millis(150));

    // The connection is reusable afterwards.
    client.buf.clear();
    let r = client
        .post("/v1/chat/completions", &[], &chat_body("after"))
        .await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "after");
}

#[tokio::test]
async fn fault_oversized_body() {
    let server = FakeServer::start().await.unwrap();
    server.push(FakeReply::Fault(Fault::Oversized { bytes: 3_000_000 }));
    server.push(FakeReply::Fault(Fault::Oversized { bytes: 1 }));
    let mut client = Client::connect(&server).await;
    let r = client.post("/v1/chat/completions", &[], &json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 3_000_000);
    let body = r.json();
    assert_eq!(body["id"], "x");
    assert!(body["padding"].as_str().unwrap().bytes().all(|b| b == b'a'));
    let r = client.post("/v1/chat/completions", &[], &json!({})).await;
    assert_eq!(r.json(), json!({ "id": "x", "padding": "" }));
}

#[tokio::test]
async fn anthropic_models_and_count_tokens() {
    let server = FakeServer::start().await.unwrap();
    let mut client = Client::connect(&server).await;
    client
        .send("GET", "/v1/models", ANTHROPIC_HEADERS, b"")
        .await;
    let r = client.read_response().await.unwrap();
    assert_eq!(r.json()["data"][0]["type"], "model");
    assert!(r.header("request-id").is_some());
    client.send("GET", "/v1/models/gpt-x", &[], b"").await;
    let r = client.read_response().await.unwrap();
    assert_eq!(
        r.json(),
        json!({ "id": "gpt-x", "object": "model", "created": r.json()["created"], "owned_by": "system" })
    );
    let r = client
        .post(
            "/v1/messages/count_tokens",
            ANTHROPIC_HEADERS,
            &json!({ "model": "c", "messages": [{ "role": "user", "content": "12345678" }] }),
        )
        .await;
    assert_eq!(r.json(), json!({ "input_tokens": 2 }));
}

#[tokio::test]
async fn concurrent_connections() {
    let server = FakeServer::start().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let addr = server.addr();
        tasks.push(tokio::spawn(async move {
            let mut client = Client {
                stream: TcpStream::connect(addr).await.unwrap(),
                buf: Vec::new(),
            };
            let text = format!("client {i}");
            let r = client
                .post("/v1/chat/completions", &[], &chat_body(&text))
                .await;
            assert_eq!(r.json()["choices"][0]["message"]["content"], text.as_str());
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(server.requests().len(), 8);
}
