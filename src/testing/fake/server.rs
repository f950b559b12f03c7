//! The server: accepting connections, recording requests, and writing replies and faults.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::echo::{self, Family};
use super::http::{self, Conn, Framing, Gone, ReadError};
use super::{FakeReply, FakeRules, Fault, RecordedRequest, StreamEnd, new_id};

/// A fake LLM provider: a real HTTP/1.1 server on `127.0.0.1` (an ephemeral port) that answers queued
/// [`FakeReply`]s in order, and by echo when the queue is empty (see the [module docs](super)).
///
/// Dropping it stops it: the accept task and every connection task are aborted, so held sockets (hangs,
/// stalled streams) close.
///
/// It must be started and dropped inside a Tokio runtime with the I/O and time drivers (any
/// `#[tokio::test]`).
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

/// State shared by the handle and the connection tasks.
#[derive(Debug)]
struct Shared {
    queue: Mutex<VecDeque<FakeReply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    request_count: watch::Sender<usize>,
    disconnects: watch::Sender<usize>,
    rules: FakeRules,
}

/// Locks a mutex, ignoring poisoning (a panicking test thread must not take the server down with it).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn record(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
        self.request_count.send_modify(|n| *n += 1);
    }

    fn next_reply(&self) -> Option<FakeReply> {
        lock(&self.queue).pop_front()
    }

    fn disconnected(&self) {
        self.disconnects.send_modify(|n| *n += 1);
    }
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .field("queued", &lock(&self.shared.queue).len())
            .field("requests", &lock(&self.shared.requests).len())
            .field("disconnects", &*self.shared.disconnects.borrow())
            .finish()
    }
}

impl FakeServer {
    /// Binds `127.0.0.1:0` and starts serving, enforcing none of the real APIs' request rules
    /// ([`FakeRules::none`]).
    pub async fn start() -> std::io::Result<FakeServer> {
        FakeServer::start_with(FakeRules::none()).await
    }

    /// Starts a server that refuses what the real APIs refuse ([`FakeRules::real_apis`]): a client that
    /// sends `max_tokens` to `o3`, or `temperature` to `claude-opus-4-7`, gets the real 400.
    ///
    /// ```
    /// use twelve_factor_ai::testing::fake::{FakeRules, FakeServer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let server = FakeServer::enforcing().await?;
    /// assert_eq!(server.rules(), FakeRules::real_apis());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn enforcing() -> std::io::Result<FakeServer> {
        FakeServer::start_with(FakeRules::real_apis()).await
    }

    /// Binds `127.0.0.1:0` and starts serving, enforcing `rules`.
    pub async fn start_with(rules: FakeRules) -> std::io::Result<FakeServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            request_count: watch::Sender::new(0),
            disconnects: watch::Sender::new(0),
            rules,
        });
        let accept = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(FakeServer {
            addr,
            shared,
            accept,
        })
    }

    /// The request rules this server enforces.
    pub fn rules(&self) -> FakeRules {
        self.shared.rules
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`: the OpenAI SDK convention, the base URL includes the version path
    /// (what `OPENAI_BASE_URL` holds).
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// `http://127.0.0.1:PORT`: the Anthropic SDK convention, the base URL has no version path (what
    /// `ANTHROPIC_BASE_URL` holds).
    pub fn anthropic_base_url(&self) -> String {
        self.url()
    }

    /// Queues `reply` for the next request, on any route and any connection (first in, first out).
    pub fn push(&self, reply: FakeReply) {
        lock(&self.shared.queue).push_back(reply);
    }

    /// Queues several replies, in order.
    pub fn push_all(&self, replies: impl IntoIterator<Item = FakeReply>) {
        lock(&self.shared.queue).extend(replies);
    }

    /// How many queued replies no request has taken yet.
    pub fn queued(&self) -> usize {
        lock(&self.shared.queue).len()
    }

    /// Every request received so far, in order of arrival (complete requests only: one refused as too
    /// large or malformed is not recorded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The last request received, if any.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.shared.requests).last().cloned()
    }

    /// How many times a client went away before the server finished a response: a failed write, or the
    /// peer closing while a stream, a slow drip, a stalled stream or a hang was pending.
    pub fn disconnects(&self) -> usize {
        *self.shared.disconnects.borrow()
    }

    /// Waits until at least `n` requests have been received (wrap it in `tokio::time::timeout`).
    pub async fn wait_for_requests(&self, n: usize) {
        let mut rx = self.shared.request_count.subscribe();
        // The sender lives in `self`, so the channel cannot close while this borrow lasts.
        let _ = rx.wait_for(|count| *count >= n).await;
    }

    /// Waits until at least `n` disconnects have been counted (wrap it in `tokio::time::timeout`).
    pub async fn wait_for_disconnects(&self, n: usize) {
        let mut rx = self.shared.disconnects.subscribe();
        let _ = rx.wait_for(|count| *count >= n).await;
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        // Dropping the accept task's future drops its `JoinSet`, which aborts every connection task.
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                connections.spawn(serve(stream, Arc::clone(&shared)));
            }
            // Out of file descriptors and the like: wait a little instead of spinning.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
        while connections.try_join_next().is_some() {}
    }
}

/// Serves one connection: requests and their replies until one side closes.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream);
    loop {
        let (request, keep_alive) = match conn.read_request().await {
            Ok(Some(read)) => read,
            Ok(None) | Err(ReadError::Closed) => return,
            Err(refusal) => {
                refuse(&mut conn, refusal).await;
                conn.close_after_refusal(std::time::Duration::from_secs(2))
                    .await;
                return;
            }
        };
        let family = echo::family(&request);
        // An enforced rule refuses first, as the real API does, and leaves the queue alone.
        let reply = shared
            .rules
            .check(&request)
            .or_else(|| shared.next_reply())
            .unwrap_or_else(|| echo::reply(&request));
        shared.record(request);
        match respond(&mut conn, reply, family, keep_alive, &shared).await {
            After::KeepAlive if keep_alive => {}
            After::KeepAlive | After::Close => {
                conn.close().await;
                return;
            }
            After::Reset => {
                conn.reset();
                return;
            }
            After::Drop => return,
        }
    }
}

/// Answers a request the server could not read.
async fn refuse(conn: &mut Conn, refusal: ReadError) {
    let (status, reply) = match refusal {
        ReadError::Closed => return,
        ReadError::Bad(why) => (
            400,
            Family::OpenAi.error(400, &format!("Malformed HTTP request: {why}.")),
        ),
        ReadError::HeadTooLarge => (
            431,
            Family::OpenAi.error(431, "The request head is larger than 64 KiB."),
        ),
        ReadError::BodyTooLarge { path } => (
            413,
            echo::family_of(&path, false).error(413, "Request exceeds the maximum size of 16 MiB."),
        ),
    };
    if let FakeReply::Json { headers, body, .. } = reply {
        let body = body.to_string().into_bytes();
        let defaults = [
            ("content-type", "application/json".to_owned()),
            ("x-request-id", new_id("req_")),
        ];
        let mut bytes = http::head(
            status,
            &defaults,
            &headers,
            Framing::Length(body.len()),
            true,
        );
        bytes.extend_from_slice(&body);
        let _ = conn.write_all(&bytes).await;
    }
}

/// What happens to the connection after a response.
enum After {
    /// The response is complete; the connection may serve the next request.
    KeepAlive,
    /// Close cleanly.
    Close,
    /// Close with a TCP reset.
    Reset,
    /// The peer is gone; just drop the socket.
    Drop,
}

/// Writes `reply`, counting a disconnect if the client goes away before it is complete.
async fn respond(
    conn: &mut Conn,
    reply: FakeReply,
    family: Family,
    keep_alive: bool,
    shared: &Shared,
) -> After {
    match write_reply(conn, reply, family, keep_alive).await {
        Ok(after) => after,
        Err(Gone) => {
            shared.disconnected();
            After::Drop
        }
    }
}

async fn write_reply(
    conn: &mut Conn,
    reply: FakeReply,
    family: Family,
    keep_alive: bool,
) -> Result<After, Gone> {
    let request_id = (family.request_id_header(), new_id("req_"));
    let close = !keep_alive;
    match reply {
        FakeReply::Json {
            status,
            headers,
            body,
        } => {
            let body = body.to_string().into_bytes();
            let defaults = [("content-type", "application/json".to_owned()), request_id];
            write_whole(conn, status, &defaults, &headers, &body, close).await
        }
        FakeReply::Raw {
            status,
            headers,
            body,
        } => write_whole(conn, status, &[request_id], &headers, &body, close).await,
        FakeReply::Sse {
            status,
            headers,
            chunks,
            end,
        } => {
            let defaults = [
                (
                    "content-type",
                    "text/event-stream; charset=utf-8".to_owned(),
                ),
                ("cache-control", "no-cache".to_owned()),
                request_id,
            ];
            let close = close || http::asks_close(&headers);
            conn.write_all(&http::head(
                status,
                &defaults,
                &headers,
                Framing::Chunked,
                close,
            ))
            .await?;
            for chunk in chunks {
                if !chunk.delay.is_zero() {
                    conn.pause(chunk.delay).await?;
                }
                conn.write_chunk(&chunk.bytes).await?;
            }
            match end {
                StreamEnd::Clean => {
                    conn.write_all(b"0\r\n\r\n").await?;
                    Ok(if close {
                        After::Close
                    } else {
                        After::KeepAlive
                    })
                }
                StreamEnd::Abort => Ok(After::Close),
                StreamEnd::Hang => {
                    conn.wait_for_close().await;
                    Err(Gone)
                }
            }
        }
        FakeReply::Fault(fault) => write_fault(conn, fault, request_id, close).await,
    }
}

/// Writes a head and a `Content-Length` body in one go.
async fn write_whole(
    conn: &mut Conn,
    status: u16,
    defaults: &[(&str, String)],
    headers: &[(String, String)],
    body: &[u8],
    close: bool,
) -> Result<After, Gone> {
    let close = close || http::asks_close(headers);
    let mut bytes = http::head(
        status,
        defaults,
        headers,
        Framing::Length(body.len()),
        close,
    );
    bytes.extend_from_slice(body);
    conn.write_all(&bytes).await?;
    Ok(if close {
        After::Close
    } else {
        After::KeepAlive
    })
}

async fn write_fault(
    conn: &mut Conn,
    fault: Fault,
    request_id: (&str, String),
    close: bool,
) -> Result<After, Gone> {
    let json = |request_id| [("content-type", "application/json".to_owned()), request_id];
    match fault {
        Fault::Hang => {
            conn.wait_for_close().await;
            Err(Gone)
        }
        Fault::ResetMidBody {
            status,
            partial,
            claimed_len,
        } => {
            let mut bytes = http::head(
                status,
                &json(request_id),
                &[],
                Framing::Length(claimed_len),
                close,
            );
            bytes.extend_from_slice(&partial);
            conn.write_all(&bytes).await?;
            Ok(After::Reset)
        }
        Fault::SlowDrip {
            status,
            body,
            chunk,
            interval,
        } => {
            let head = http::head(
                status,
                &json(request_id),
                &[],
                Framing::Length(body.len()),
                close,
            );
            conn.write_all(&head).await?;
            for (i, piece) in body.chunks(chunk.max(1)).enumerate() {
                if i > 0 {
                    conn.pause(interval).await?;
                }
                conn.write_all(piece).await?;
            }
            Ok(if close {
                After::Close
            } else {
                After::KeepAlive
            })
        }
        Fault::Oversized { bytes } => {
            let prefix = br#"{"id":"x","padding":""#;
            let suffix = br#""}"#;
            let padding = bytes.saturating_sub(prefix.len() + suffix.len());
            let mut body = Vec::with_capacity(prefix.len() + padding + suffix.len());
            body.extend_from_slice(prefix);
            body.resize(prefix.len() + padding, b'a');
            body.extend_from_slice(suffix);
            write_whole(conn, 200, &json(request_id), &[], &body, close).await
        }
    }
}
