//! A tiny HTTP/1.1 file server on 127.0.0.1 for the download tests: it serves one file with `Range` support and
//! can answer 404 or an HTML page, cut the body short or ignore ranges. Every wait is bounded, so a test can fail
//! but never hang.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the server answers the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The file, honouring `Range: bytes=N-` with 206.
    Serve,
    /// Like `Serve`, but the connection closes once the body reaches this byte offset of the file.
    CutAt(usize),
    /// 404 for everything.
    NotFound,
    /// The whole file with 200, whatever the `Range` header says.
    IgnoreRange,
    /// 200 with `Content-Type: text/html` and a small web page, as a proxy's login page answers.
    HtmlPage,
}

/// What the server saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The request path.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

struct State {
    body: Vec<u8>,
    mode: Mode,
    seen: Vec<Seen>,
}

/// A running server; dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The server gives up on its own after this long, whatever the test does.
const LIFETIME: Duration = Duration::from_secs(120);

impl Server {
    /// Serves `body` at every path.
    pub fn start(body: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State { body, mode: Mode::Serve, seen: Vec::new() }));
        let stop = Arc::new(AtomicBool::new(false));
        let (state2, stop2) = (Arc::clone(&state), Arc::clone(&stop));
        let thread = std::thread::spawn(move || accept_loop(&listener, &state2, &stop2));
        Self { addr, state, stop, thread: Some(thread) }
    }

    /// The address of `file_name` on this server.
    pub fn url(&self, file_name: &str) -> String {
        format!("{}/{file_name}", self.base_url())
    }

    /// The folder every file is served from, as a base address.
    pub fn base_url(&self) -> String {
        format!("http://{}/files", self.addr)
    }

    /// Changes how later requests are answered.
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().expect("server state").mode = mode;
    }

    /// Changes the file served.
    pub fn set_body(&self, body: Vec<u8>) {
        self.state.lock().expect("server state").body = body;
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("server state").seen.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Mutex<State>, stop: &AtomicBool) {
    let deadline = Instant::now() + LIFETIME;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                // A failed exchange is the client's problem to report; the server just moves on.
                let _ = handle(stream, state);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => return,
        }
    }
}

fn handle(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let head = read_head(&mut stream)?;
    let path = head.lines().next().and_then(|line| line.split(' ').nth(1)).unwrap_or("").to_string();
    let range = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("range").then(|| value.trim().to_string())
    });
    let (body, mode) = {
        let mut state = state.lock().expect("server state");
        state.seen.push(Seen { path, range: range.clone() });
        (state.body.clone(), state.mode)
    };
    respond(&mut stream, &body, mode, range.as_deref())
}

/// Reads the request line and headers (bounded to 16 KiB).
fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn respond(stream: &mut TcpStream, body: &[u8], mode: Mode, range: Option<&str>) -> std::io::Result<()> {
    if mode == Mode::NotFound {
        let text = b"no such file";
        write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", text.len())?;
        return stream.write_all(text);
    }
    if mode == Mode::HtmlPage {
        let page = b"<!DOCTYPE html><html><body>Please log in</body></html>";
        write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n")?;
        write!(stream, "Content-Length: {}\r\nConnection: close\r\n\r\n", page.len())?;
        return stream.write_all(page);
    }
    let start = range
        .filter(|_| mode != Mode::IgnoreRange)
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok());
    let len = body.len();
    match start {
        Some(start) if start >= len => {
            write!(stream, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\n")?;
            write!(stream, "Content-Length: 0\r\nConnection: close\r\n\r\n")
        }
        Some(start) => {
            write!(stream, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{len}\r\n", len - 1)?;
            write!(stream, "Content-Length: {}\r\nConnection: close\r\n\r\n", len - start)?;
            send_body(stream, body, start, mode)
        }
        None => {
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")?;
            send_body(stream, body, 0, mode)
        }
    }
}

/// Sends `body[start..]` in small chunks, stopping at the cut offset if there is one.
fn send_body(stream: &mut TcpStream, body: &[u8], start: usize, mode: Mode) -> std::io::Result<()> {
    let end = match mode {
        Mode::CutAt(cut) => cut.clamp(start, body.len()),
        _ => body.len(),
    };
    for chunk in body[start..end].chunks(8 * 1024) {
        stream.write_all(chunk)?;
    }
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Both)
}
