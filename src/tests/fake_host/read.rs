//! What tests read from the fake host: the effective request, dispatches,
//! shared data, counters, metrics, queues and log lines.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::{Dispatch, FakeHost, Reply, cache_key};
use crate::cache::Slot;
use crate::host::unix_ms;
use crate::stats::Stat;

impl FakeHost {
    /// The effective context.
    pub fn ctx(&self) -> u32 {
        self.ctx
    }

    /// Whether context `ctx` is live (effective or parked).
    pub fn has_context(&self, ctx: u32) -> bool {
        ctx == self.ctx || self.parked.contains_key(&ctx)
    }

    pub fn now_ms(&self) -> u64 {
        unix_ms(self.now)
    }

    /// First value of a request header of the effective request, as text.
    pub fn request_header(&self, name: &str) -> Option<String> {
        self.request_header_all(name).into_iter().next()
    }

    pub fn request_header_all(&self, name: &str) -> Vec<String> {
        self.side
            .request_headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    /// The local replies sent to the effective request.
    pub fn replies(&self) -> &[Reply] {
        &self.side.replies
    }

    /// How often the effective request was resumed.
    pub fn resumed(&self) -> u32 {
        self.side.resumed
    }

    /// Every call dispatched, in order.
    pub fn dispatches(&self) -> &[Dispatch] {
        &self.dispatches
    }

    /// The `i`th dispatch's body as JSON.
    pub fn dispatch_json(&self, i: usize) -> serde_json::Value {
        serde_json::from_slice(&self.dispatches[i].body).unwrap()
    }

    /// The token the host gave the `i`th dispatch.
    pub fn dispatch_token(&self, i: usize) -> u32 {
        self.dispatch_tokens[i]
    }

    /// The token the host gave the latest dispatch.
    pub fn last_dispatch_token(&self) -> u32 {
        *self.dispatch_tokens.last().expect("nothing was dispatched")
    }

    /// A token the host never gave.
    pub fn unknown_token(&self) -> u32 {
        self.next_token + 1_000
    }

    /// Every shared-data entry: key → (value, version).
    pub fn shared(&self) -> &HashMap<String, (Vec<u8>, u32)> {
        &self.shared
    }

    pub fn shared_value(&self, key: &str) -> Option<String> {
        self.shared
            .get(key)
            .map(|(v, _)| String::from_utf8_lossy(v).into_owned())
    }

    /// What the cache holds for `identity`, decoded by the real decoder.
    pub fn cached(&self, identity: &str) -> Option<Slot> {
        let (value, _) = self.shared.get(&cache_key(identity))?;
        Slot::decode(value)
    }

    /// Shared-data reads so far.
    pub fn shared_reads(&self) -> u32 {
        self.shared_reads.get()
    }

    /// Clock reads so far.
    pub fn clock_reads(&self) -> u32 {
        self.clock_reads.get()
    }

    /// Every property path asked for, segment by segment.
    pub fn property_reads(&self) -> Vec<Vec<String>> {
        self.property_reads.borrow().clone()
    }

    /// Messages waiting in shared queue `queue`.
    pub fn queue_len(&self, queue: u32) -> usize {
        self.queues.get(&queue).map_or(0, VecDeque::len)
    }

    /// Shared queues registered so far.
    pub fn queues_registered(&self) -> usize {
        self.queue_ids.len()
    }

    /// What the host has counted for `stat` (by its metric name).
    pub fn count_of(&self, stat: Stat) -> u64 {
        self.metric_table
            .increments
            .borrow()
            .iter()
            .filter(|(id, _)| self.metric_table.name(*id) == stat.name())
            .map(|(_, n)| n)
            .sum()
    }

    /// How many `increment_metric` calls `stat` took.
    pub fn increments_of(&self, stat: Stat) -> usize {
        self.metric_table
            .increments
            .borrow()
            .iter()
            .filter(|(id, _)| self.metric_table.name(*id) == stat.name())
            .count()
    }

    /// The names passed to `define_metric`, in order.
    pub fn metric_definitions(&self) -> &[String] {
        &self.metric_table.definitions
    }

    /// The tick period the filter asked for.
    pub fn tick_period(&self) -> Option<Duration> {
        self.tick_period
    }

    /// Every log line, with its level.
    pub fn logs(&self) -> Vec<(log::Level, String)> {
        self.logs.borrow().clone()
    }

    pub fn log_count(&self) -> usize {
        self.logs.borrow().len()
    }

    pub fn all_logs(&self) -> String {
        self.logs
            .borrow()
            .iter()
            .map(|(level, line)| format!("{level} {line}\n"))
            .collect()
    }
}
