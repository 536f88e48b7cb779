//! A real SMTP server on loopback for the email tests: `mailin`'s protocol machine (the whole
//! protocol, `EHLO` to `QUIT`, dot-stuffing, replies) behind a TCP listener with a thread per
//! connection, that keeps what it accepts and can be told to refuse (`451`) or to hang before it
//! answers.
//!
//! Each [`SmtpServer::start`] binds its own `127.0.0.1` port; the server lives until the test
//! process ends; hanging connections are let go when the behaviour changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin::{Action, Handler, Response, SessionBuilder, response};

/// What the server does with the next emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// `250`: keeps the email.
    Accept,
    /// `451` after the data: a transient refusal (greylisting, a full queue).
    Refuse,
    /// Takes the data and does not answer while the behaviour stays (at most a minute); then
    /// refuses (`451`): a hung email is never kept, so the client's retry is the one copy.
    Hang,
}

/// An email the server accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and MIME parts), CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    /// A header's value (the first one named `name`, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = value.as_mut() {
                    value.push_str(line.trim_start());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }

    /// The decoded body of the part whose content type starts with `content_type` (`text/plain`,
    /// `text/html`); lettre writes them quoted-printable or base64.
    pub fn part(&self, content_type: &str) -> Option<String> {
        let lower = self.data.to_ascii_lowercase();
        let at = lower.find(&format!("content-type: {content_type}"))?;
        let part = &self.data[at..];
        let (head, body) = part.split_once("\r\n\r\n")?;
        let body = body.split("\r\n--").next()?;
        let head = head.to_ascii_lowercase();
        if head.contains("content-transfer-encoding: base64") {
            use base64::Engine;
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()?;
            String::from_utf8(bytes).ok()
        } else if head.contains("content-transfer-encoding: quoted-printable") {
            Some(decode_quoted_printable(body))
        } else {
            Some(body.to_owned())
        }
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let mut bytes = Vec::with_capacity(body.len());
    let raw = body.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'=' if raw.get(i + 1) == Some(&b'\r') && raw.get(i + 2) == Some(&b'\n') => i += 3,
            b'=' if i + 2 < raw.len() => {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => bytes.push(byte),
                    Err(_) => bytes.extend_from_slice(&raw[i..i + 3]),
                }
                i += 3;
            }
            byte => {
                bytes.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[derive(Debug)]
struct State {
    behaviour: Behaviour,
    accepted: Vec<ReceivedMail>,
    /// Emails refused or left hanging (their data was received).
    refused: Vec<ReceivedMail>,
}

/// The server's handle.
#[derive(Clone)]
pub struct SmtpServer {
    port: u16,
    state: Arc<Mutex<State>>,
}

#[derive(Clone)]
struct Session {
    state: Arc<Mutex<State>>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Session {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = ReceivedMail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        };
        let started = Instant::now();
        let mut hung = false;
        loop {
            let behaviour = self.state.lock().unwrap().behaviour;
            match behaviour {
                Behaviour::Accept if !hung => {
                    self.state.lock().unwrap().accepted.push(mail);
                    return response::OK;
                }
                Behaviour::Hang if started.elapsed() < Duration::from_secs(60) => {
                    hung = true;
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    self.state.lock().unwrap().refused.push(mail);
                    return Response::custom(451, "Try again later".to_owned());
                }
            }
        }
    }
}

/// One connection: the greeting, then a reply per line as the protocol machine says.
fn serve(stream: TcpStream, handler: Session) {
    let Ok(peer) = stream.peer_addr() else { return };
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut session = SessionBuilder::new("smtp.test").build(peer.ip(), handler);
    if session.greeting().write_to(&mut writer).is_err() {
        return;
    }
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let reply = session.process(&line);
        match reply.action {
            Action::NoReply => continue,
            Action::Reply | Action::UpgradeTls => {
                if reply
                    .write_to(&mut writer)
                    .and_then(|()| writer.flush())
                    .is_err()
                {
                    return;
                }
            }
            Action::Close => {
                let _ = reply.write_to(&mut writer).and_then(|()| writer.flush());
                return;
            }
        }
    }
}

impl SmtpServer {
    /// Starts a server on a free `127.0.0.1` port that accepts everything.
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            behaviour: Behaviour::Accept,
            accepted: Vec::new(),
            refused: Vec::new(),
        }));
        let session = Session {
            state: state.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let session = session.clone();
                std::thread::spawn(move || serve(stream, session));
            }
        });
        SmtpServer { port, state }
    }

    /// `SMTP_URL` for this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = behaviour;
    }

    /// The emails accepted so far.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// Emails refused (or let go after hanging) so far.
    pub fn refused(&self) -> Vec<ReceivedMail> {
        self.state.lock().unwrap().refused.clone()
    }

    /// Waits until at least `n` emails were accepted (at most `timeout`), and returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let mails = self.mails();
            if mails.len() >= n || Instant::now() >= deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until at least `n` emails were refused (at most `timeout`).
    pub async fn wait_for_refusals(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let refused = self.refused();
            if refused.len() >= n || Instant::now() >= deadline {
                return refused;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
