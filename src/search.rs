//! `/search`: asking an OpenAI-compatible model, off the reactor thread.
//!
//! A model can take many seconds to answer, and the room must not wait for
//! it. The reactor hands each question to a small pool of worker threads
//! over a bounded channel; a worker makes the blocking HTTP call (ureq) and
//! sends the answer back over another channel, then wakes the reactor with
//! its `mio::Waker`. What the room does with questions and answers (rate,
//! cache, who is told what) is in [`crate::room`]; this module only talks
//! HTTP.
//!
//! It works with the OpenAI API and with local servers that speak the same
//! API (llama.cpp's server, Ollama, vLLM): `POST {url}/chat/completions`
//! with a system and a user message, the answer in
//! `choices[0].message.content`.

use std::fmt;
use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

/// The largest answer body read from the model server.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// How to reach the model.
#[derive(Clone)]
pub struct Endpoint {
    /// Base URL; requests go to `{url}/chat/completions`.
    pub url: String,
    /// Model name sent with every request.
    pub model: String,
    /// The whole request, connection to last byte.
    pub timeout: Duration,
    /// Bearer token, from `OPENAI_API_KEY` or `--search-key-file`. Never
    /// printed: see the `Debug` impl.
    pub key: Option<String>,
    /// The system prompt.
    pub system: String,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("system", &self.system)
            .finish()
    }
}

/// A question for the workers.
#[derive(Debug)]
pub struct Question {
    /// The room's number for it.
    pub id: u64,
    /// What was asked.
    pub text: String,
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    /// The question's number.
    pub id: u64,
    /// The model's text, or why there is none (for `Search failed: ...`).
    pub result: Result<String, String>,
}

/// The reactor's handle on the worker pool.
#[derive(Debug)]
pub struct Searcher {
    /// Questions waiting for a worker (bounded).
    questions: SyncSender<Question>,
    /// Answers waiting for the reactor.
    answers: Receiver<Answer>,
}

impl Searcher {
    /// Starts `workers` threads with room for `queue` waiting questions.
    /// Each answer is followed by `wake()`.
    ///
    /// # Errors
    ///
    /// A thread cannot be started.
    pub fn start(
        endpoint: Endpoint,
        workers: usize,
        queue: usize,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> io::Result<Searcher> {
        let (questions, inbox) = mpsc::sync_channel::<Question>(queue.max(1));
        let (outbox, answers) = mpsc::channel::<Answer>();
        let inbox = Arc::new(Mutex::new(inbox));
        let wake = Arc::new(wake);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(endpoint.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("suda/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let endpoint = Arc::new(endpoint);
        for n in 0..workers.max(1) {
            let inbox = Arc::clone(&inbox);
            let outbox = outbox.clone();
            let wake = Arc::clone(&wake);
            let agent = agent.clone();
            let endpoint = Arc::clone(&endpoint);
            std::thread::Builder::new()
                .name(format!("suda-search-{n}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next question.
                    let question = match inbox.lock() {
                        Ok(inbox) => inbox.recv(),
                        Err(_) => return,
                    };
                    let Ok(question) = question else {
                        return; // the reactor is gone
                    };
                    let result = ask(&agent, &endpoint, &question.text);
                    if outbox
                        .send(Answer {
                            id: question.id,
                            result,
                        })
                        .is_err()
                    {
                        return;
                    }
                    wake();
                })?;
        }
        Ok(Searcher { questions, answers })
    }

    /// Queues a question; gives it back if every worker is busy and the
    /// queue is full.
    pub fn submit(&self, question: Question) -> Result<(), Question> {
        self.questions.try_send(question).map_err(|e| match e {
            TrySendError::Full(q) | TrySendError::Disconnected(q) => q,
        })
    }

    /// An answer that has arrived, if any.
    pub fn try_answer(&self) -> Option<Answer> {
        self.answers.try_recv().ok()
    }
}

/// The parts of a chat-completions response that matter.
#[derive(Debug, Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Debug, Deserialize)]
struct Message {
    content: Option<String>,
}

/// An error body, as the OpenAI API and its imitators send it.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ErrorDetail {
    /// `{"error": {"message": "..."}}` (OpenAI, vLLM, llama.cpp).
    Object { message: String },
    /// `{"error": "..."}` (Ollama).
    Text(String),
}

/// Makes one request. The error is a short reason for the user.
fn ask(agent: &ureq::Agent, endpoint: &Endpoint, question: &str) -> Result<String, String> {
    let url = format!("{}/chat/completions", endpoint.url.trim_end_matches('/'));
    let body = json!({
        "model": endpoint.model,
        "messages": [
            {"role": "system", "content": endpoint.system},
            {"role": "user", "content": question},
        ],
        "stream": false,
    });
    let mut request = agent.post(&url).header("Content-Type", "application/json");
    if let Some(key) = &endpoint.key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    let mut response = request
        .send(body.to_string())
        .map_err(|e| describe(&e, endpoint))?;
    let status = response.status();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_string()
        .map_err(|e| describe(&e, endpoint))?;
    if !status.is_success() {
        let detail = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(ErrorBody {
                error: ErrorDetail::Object { message } | ErrorDetail::Text(message),
            }) => message,
            Err(_) => status.canonical_reason().unwrap_or("error").to_string(),
        };
        return Err(format!("HTTP {}: {}", status.as_u16(), one_line(&detail)));
    }
    let completion: Completion = serde_json::from_str(&text)
        .map_err(|_| "the model server's answer is not chat-completions JSON".to_string())?;
    completion
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| "the model gave an empty answer".to_string())
}

/// Says what went wrong in words a chat user understands.
fn describe(error: &ureq::Error, endpoint: &Endpoint) -> String {
    match error {
        ureq::Error::Timeout(_) => {
            format!(
                "no answer within {}",
                crate::clock::compact(endpoint.timeout)
            )
        }
        ureq::Error::HostNotFound => "the model server's host name is unknown".to_string(),
        ureq::Error::ConnectionFailed => "cannot connect to the model server".to_string(),
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            "cannot connect to the model server (connection refused)".to_string()
        }
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            format!(
                "no answer within {}",
                crate::clock::compact(endpoint.timeout)
            )
        }
        ureq::Error::BodyExceedsLimit(_) => "the model's answer is too large".to_string(),
        other => one_line(&other.to_string()),
    }
}

/// At most one line of 200 characters: error texts go into a chat line.
fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() > 200 {
        let mut cut: String = line.chars().take(200).collect();
        cut.push('…');
        cut
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let endpoint = Endpoint {
            url: "http://127.0.0.1:1".into(),
            model: "m".into(),
            timeout: Duration::from_secs(1),
            key: Some("sk-very-secret".into()),
            system: "s".into(),
        };
        assert!(!format!("{endpoint:?}").contains("sk-very-secret"));
    }

    #[test]
    fn error_texts_are_one_short_line() {
        assert_eq!(one_line("first\nsecond"), "first");
        assert_eq!(one_line(&"x".repeat(300)).chars().count(), 201);
    }

    #[test]
    fn ollama_and_openai_error_shapes_both_parse() {
        for body in [
            r#"{"error":{"message":"bad key","type":"x"}}"#,
            r#"{"error":"bad key"}"#,
        ] {
            let parsed: ErrorBody = serde_json::from_str(body).expect(body);
            let (ErrorDetail::Object { message } | ErrorDetail::Text(message)) = parsed.error;
            assert_eq!(message, "bad key");
        }
    }
}
