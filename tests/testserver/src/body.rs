//! Response body that can pace its frames and can fail on purpose.
//!
//! A hand-written body (instead of a channel + task per response) keeps the common case
//! allocation-free and lets fault injection express "pause between pieces" and "abort the
//! connection after these pieces" as plain data.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// Returned from the body when a fault asks for an abrupt end: hyper then tears the
/// connection down without finishing the message, which is what the client must observe.
#[derive(Debug)]
pub struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection aborted by fault injection")
    }
}

impl std::error::Error for Aborted {}

const ABORT_GRACE: Duration = Duration::from_millis(20);

pub struct RespBody {
    pieces: VecDeque<Bytes>,
    delay: Option<Duration>,
    sleep: Option<Pin<Box<Sleep>>>,
    pause_due: bool,
    abort_at_end: bool,
    abort_armed: bool,
    exact_len: Option<u64>,
}

impl RespBody {
    pub fn empty() -> Self {
        Self::full(Bytes::new())
    }

    pub fn full(bytes: Bytes) -> Self {
        let len = bytes.len() as u64;
        let mut pieces = VecDeque::new();
        if !bytes.is_empty() {
            pieces.push_back(bytes);
        }
        RespBody {
            pieces,
            delay: None,
            sleep: None,
            pause_due: false,
            abort_at_end: false,
            abort_armed: false,
            exact_len: Some(len),
        }
    }

    /// `declared_len` becomes the Content-Length; it may exceed what is sent when the body
    /// aborts, so the client sees a short body rather than a clean end.
    pub fn pieces(
        pieces: VecDeque<Bytes>,
        delay: Option<Duration>,
        declared_len: Option<u64>,
        abort_at_end: bool,
    ) -> Self {
        RespBody {
            pieces,
            delay: delay.filter(|d| !d.is_zero()),
            sleep: None,
            pause_due: false,
            abort_at_end,
            abort_armed: false,
            exact_len: declared_len,
        }
    }
}

impl Body for RespBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        let this = &mut *self;
        loop {
            if let Some(sleep) = this.sleep.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            } else if this.pieces.is_empty() && this.abort_at_end && !this.abort_armed {
                // hyper only flushes its write buffer when the body is pending; erroring right
                // away would discard the headers and pieces we want the client to receive.
                this.abort_armed = true;
                this.sleep = Some(Box::pin(tokio::time::sleep(ABORT_GRACE)));
                continue;
            } else if this.pause_due && !this.pieces.is_empty() {
                if let Some(delay) = this.delay {
                    this.sleep = Some(Box::pin(tokio::time::sleep(delay)));
                    this.pause_due = false;
                    continue;
                }
            }
            return match this.pieces.pop_front() {
                Some(piece) => {
                    this.pause_due = true;
                    Poll::Ready(Some(Ok(Frame::data(piece))))
                }
                None if this.abort_at_end => {
                    this.abort_at_end = false;
                    Poll::Ready(Some(Err(Aborted)))
                }
                None => Poll::Ready(None),
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty() && !self.abort_at_end
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact_len {
            Some(len) => SizeHint::with_exact(len),
            None => SizeHint::default(),
        }
    }
}
