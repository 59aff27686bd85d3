//! [`Host`] implemented by the fake: records what the filter does, answers
//! from what the test set up.

use std::time::{Duration, SystemTime};

use super::{Dispatch, FakeHost, Reply};
use crate::host::{Host, HostError};
use crate::stats::Stat;

impl Host for FakeHost {
    fn now(&self) -> SystemTime {
        self.clock_reads.set(self.clock_reads.get() + 1);
        self.now
    }

    fn request_header_values(&self, name: &str) -> Vec<Vec<u8>> {
        self.side
            .request_headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn set_request_header(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        self.edit()?;
        self.side.request_headers.retain(|(n, _)| n != name);
        self.side
            .request_headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
        Ok(())
    }

    fn remove_request_header(&mut self, name: &str) -> Result<(), HostError> {
        self.edit()?;
        self.side.request_headers.retain(|(n, _)| n != name);
        Ok(())
    }

    fn resume_request(&mut self) -> Result<(), HostError> {
        self.side.resumed += 1;
        Ok(())
    }

    fn send_reply(
        &mut self,
        status: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), HostError> {
        self.side.replies.push(Reply {
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
        if self.faults.cas_race || (cas.is_some() && cas != current) {
            return Err(HostError::CasMismatch);
        }
        self.write_shared(key, value.unwrap_or_default().to_vec());
        Ok(())
    }

    fn dispatch(
        &mut self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<u32, HostError> {
        if let Some(error) = self.faults.dispatch {
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
        self.dispatch_tokens.push(token);
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
        self.side
            .response_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn set_effective_context(&mut self, context_id: u32) -> Result<(), HostError> {
        if !self.has_context(context_id) {
            return Err(HostError::BadArgument);
        }
        self.switch_to(context_id);
        Ok(())
    }

    fn count(&self, stat: Stat) {
        self.metrics.count(stat, |id, n| {
            let _ = self.increment_metric(id, n);
        });
    }

    fn define_metric(&mut self, name: &str) -> Result<u32, HostError> {
        self.metric_table.definitions.push(name.to_owned());
        Ok(self.metric_table.intern(name))
    }

    fn increment_metric(&self, id: u32, by: u64) -> Result<(), HostError> {
        if id as usize >= self.metric_table.names.len() {
            return Err(HostError::BadArgument);
        }
        self.metric_table.increments.borrow_mut().push((id, by));
        Ok(())
    }

    fn set_tick_period(&mut self, period: Duration) -> Result<(), HostError> {
        if self.faults.no_tick {
            return Err(HostError::Failed(12));
        }
        self.tick_period = Some(period);
        Ok(())
    }

    fn register_queue(&mut self, name: &str) -> Result<u32, HostError> {
        if self.faults.no_queues {
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
}
