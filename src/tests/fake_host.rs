//! A recording [`Host`] for native tests: request headers, shared data,
//! dispatched calls, local replies, resumes, counters and log lines, with a
//! settable clock.
//!
//! Several requests (contexts) can live in one fake host: the per-request
//! fields (`request_headers`, `replies`, `resumed`, `response_headers`) are
//! those of the effective context `ctx`; the others are parked in `parked`
//! and swapped in by `set_effective_context` / [`FakeHost::switch_to`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::host::{Host, HostError};
use crate::stats::Stat;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub cluster: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The per-request part of the fake host.
#[derive(Debug, Default, Clone)]
pub struct RequestSide {
    pub request_headers: Vec<(String, Vec<u8>)>,
    pub replies: Vec<Reply>,
    pub resumed: u32,
    pub response_headers: Vec<(String, Vec<u8>)>,
}

#[derive(Debug, Default)]
pub struct FakeHost {
    /// The effective context.
    pub ctx: u32,
    /// The other live contexts.
    pub parked: HashMap<u32, RequestSide>,
    pub response_headers: Vec<(String, Vec<u8>)>,
    pub properties: HashMap<String, Vec<u8>>,
    pub counts: RefCell<HashMap<Stat, u64>>,
    pub now: Option<SystemTime>,
    pub request_headers: Vec<(String, Vec<u8>)>,
    /// key → (value, cas version)
    pub shared: HashMap<String, (Vec<u8>, u32)>,
    pub dispatches: Vec<Dispatch>,
    pub replies: Vec<Reply>,
    pub resumed: u32,
    pub logs: RefCell<Vec<(log::Level, String)>>,
    /// The issuer answer being delivered: headers and body.
    pub call_headers: Vec<(String, Vec<u8>)>,
    pub call_body: Option<Vec<u8>>,
    /// Knobs for failure paths.
    pub fail_header_edits: bool,
    pub fail_dispatch: Option<HostError>,
    /// Simulates another worker writing between read and write.
    pub cas_race: bool,
    /// Shared queues: name → id, and each id's messages.
    pub queue_ids: HashMap<String, u32>,
    pub queues: HashMap<u32, std::collections::VecDeque<Vec<u8>>>,
    /// Refuse shared queues (a host without them).
    pub no_queues: bool,
    /// Shared-data reads so far.
    pub shared_reads: std::cell::Cell<u32>,
    /// Clock reads so far.
    pub clock_reads: std::cell::Cell<u32>,
    /// Every property path asked for, segment by segment.
    pub property_reads: RefCell<Vec<Vec<String>>>,
    next_token: u32,
}

impl FakeHost {
    pub fn new() -> Self {
        Self {
            ctx: 1,
            now: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            next_token: 1,
            ..Self::default()
        }
    }

    /// Makes `ctx` effective, creating it (with no headers) if it is new.
    pub fn switch_to(&mut self, ctx: u32) {
        if ctx == self.ctx {
            return;
        }
        let next = self.parked.remove(&ctx).unwrap_or_default();
        let current = RequestSide {
            request_headers: std::mem::replace(&mut self.request_headers, next.request_headers),
            replies: std::mem::replace(&mut self.replies, next.replies),
            resumed: std::mem::replace(&mut self.resumed, next.resumed),
            response_headers: std::mem::replace(&mut self.response_headers, next.response_headers),
        };
        self.parked.insert(self.ctx, current);
        self.ctx = ctx;
    }

    /// Ends context `ctx` (its stream is gone).
    pub fn drop_context(&mut self, ctx: u32) {
        if ctx == self.ctx {
            self.switch_to(0);
        }
        self.parked.remove(&ctx);
    }

    pub fn with_property(mut self, path: &str, value: &[u8]) -> Self {
        self.properties.insert(path.to_owned(), value.to_vec());
        self
    }

    /// A dynamic metadata value at `filter_metadata[namespace][path…]`, as
    /// Envoy's property call returns it (a string's bytes, or the raw
    /// encoding of another type).
    pub fn with_metadata(self, namespace: &str, path: &[&str], value: &[u8]) -> Self {
        let mut key = format!("metadata.filter_metadata.{namespace}");
        for part in path {
            key.push('.');
            key.push_str(part);
        }
        self.with_property(&key, value)
    }

    pub fn count_of(&self, stat: Stat) -> u64 {
        self.counts.borrow().get(&stat).copied().unwrap_or(0)
    }

    pub fn with_request_header(self, name: &str, value: &str) -> Self {
        self.with_request_header_bytes(name, value.as_bytes().to_vec())
    }

    pub fn with_request_header_bytes(mut self, name: &str, value: Vec<u8>) -> Self {
        self.request_headers.push((name.to_owned(), value));
        self
    }

    pub fn with_shared_data(mut self, key: &str, value: &[u8]) -> Self {
        self.shared.insert(key.to_owned(), (value.to_vec(), 1));
        self
    }

    pub fn now_ms(&self) -> u64 {
        crate::host::unix_ms(self.now())
    }

    pub fn advance(&mut self, by: Duration) {
        self.now = Some(self.now() + by);
    }

    /// First value of a request header, as text.
    pub fn request_header(&self, name: &str) -> Option<String> {
        self.request_header_all(name).into_iter().next()
    }

    pub fn request_header_all(&self, name: &str) -> Vec<String> {
        self.request_headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    pub fn shared_value(&self, key: &str) -> Option<String> {
        self.shared
            .get(key)
            .map(|(v, _)| String::from_utf8_lossy(v).into_owned())
    }

    /// Sets the issuer answer that the next `on_issuer_answer` reads.
    pub fn answer(&mut self, status: Option<&str>, body: &str) {
        self.call_headers = status
            .map(|s| vec![(":status".to_owned(), s.as_bytes().to_vec())])
            .unwrap_or_default();
        self.call_body = Some(body.as_bytes().to_vec());
    }

    pub fn all_logs(&self) -> String {
        self.logs
            .borrow()
            .iter()
            .map(|(level, line)| format!("{level} {line}\n"))
            .collect()
    }

    fn edit(&self) -> Result<(), HostError> {
        if self.fail_header_edits {
            Err(HostError::Failed(10))
        } else {
            Ok(())
        }
    }
}

impl Host for FakeHost {
    fn now(&self) -> SystemTime {
        self.clock_reads.set(self.clock_reads.get() + 1);
        self.now.unwrap_or(UNIX_EPOCH)
    }

    fn request_header_values(&self, name: &str) -> Vec<Vec<u8>> {
        self.request_headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn set_request_header(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        self.edit()?;
        self.request_headers.retain(|(n, _)| n != name);
        self.request_headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
        Ok(())
    }

    fn remove_request_header(&mut self, name: &str) -> Result<(), HostError> {
        self.edit()?;
        self.request_headers.retain(|(n, _)| n != name);
        Ok(())
    }

    fn resume_request(&mut self) -> Result<(), HostError> {
        self.resumed += 1;
        Ok(())
    }

    fn send_reply(
        &mut self,
        status: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), HostError> {
        self.replies.push(Reply {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: String::from_utf8_lossy(body).into_owned(),
        });
        Ok(())
    }

    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        self.shared_reads.set(self.shared_reads.get() + 1);
        match self.shared.get(key) {
            Some((value, cas)) => (Some(value.clone()), Some(*cas)),
            None => (None, None),
        }
    }

    fn set_shared_data(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
        cas: Option<u32>,
    ) -> Result<(), HostError> {
        let current = self.shared.get(key).map(|(_, c)| *c);
        if self.cas_race || (cas.is_some() && cas != current) {
            return Err(HostError::CasMismatch);
        }
        let next = current.unwrap_or(0) + 1;
        self.shared
            .insert(key.to_owned(), (value.unwrap_or_default().to_vec(), next));
        Ok(())
    }

    fn dispatch(
        &mut self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<u32, HostError> {
        if let Some(error) = self.fail_dispatch {
            return Err(error);
        }
        self.dispatches.push(Dispatch {
            cluster: cluster.to_owned(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
            timeout,
        });
        let token = self.next_token;
        self.next_token += 1;
        Ok(token)
    }

    fn call_response_header(&self, name: &str) -> Option<Vec<u8>> {
        self.call_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn call_response_body(&self, max_size: usize) -> Option<Vec<u8>> {
        self.call_body
            .as_ref()
            .map(|b| b.iter().take(max_size).copied().collect())
    }

    fn log(&self, level: log::Level, message: &str) {
        self.logs.borrow_mut().push((level, message.to_owned()));
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.property_reads
            .borrow_mut()
            .push(path.iter().map(|p| (*p).to_owned()).collect());
        self.properties.get(&path.join(".")).cloned()
    }

    fn response_header(&self, name: &str) -> Option<Vec<u8>> {
        self.response_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn set_effective_context(&mut self, context_id: u32) -> Result<(), HostError> {
        if context_id != self.ctx && !self.parked.contains_key(&context_id) {
            return Err(HostError::BadArgument);
        }
        self.switch_to(context_id);
        Ok(())
    }

    fn register_queue(&mut self, name: &str) -> Result<u32, HostError> {
        if self.no_queues {
            return Err(HostError::Failed(12));
        }
        let next = u32::try_from(self.queue_ids.len()).unwrap() + 1;
        let id = *self.queue_ids.entry(name.to_owned()).or_insert(next);
        self.queues.entry(id).or_default();
        Ok(id)
    }

    fn resolve_queue(&self, name: &str) -> Option<u32> {
        self.queue_ids.get(name).copied()
    }

    fn enqueue(&mut self, queue: u32, message: &[u8]) -> Result<(), HostError> {
        match self.queues.get_mut(&queue) {
            Some(q) => {
                q.push_back(message.to_vec());
                Ok(())
            }
            None => Err(HostError::BadArgument),
        }
    }

    fn dequeue(&mut self, queue: u32) -> Option<Vec<u8>> {
        self.queues.get_mut(&queue)?.pop_front()
    }

    fn count(&self, stat: Stat) {
        *self.counts.borrow_mut().entry(stat).or_default() += 1;
    }
}
