#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A scripted Claude transport and a ready [`AppState`] for unit tests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::AppState;
use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::exchange::{ExchangeError, ExchangeRequest, RawResponse, Transport};
use crate::keys::{KeySet, KeyState, PublishedKey, SigningKey};

/// Answers each exchange with the next scripted `(status, body)`, or a
/// fresh one-hour token `sk-ant-oat01-tok<n>` when the script is empty.
#[derive(Default)]
pub struct ScriptedClaude {
    pub requests: Mutex<Vec<ExchangeRequest>>,
    pub script: Mutex<VecDeque<(u16, String)>>,
}

impl ScriptedClaude {
    pub fn answering(script: impl IntoIterator<Item = (u16, &'static str)>) -> Self {
        ScriptedClaude {
            script: Mutex::new(script.into_iter().map(|(s, b)| (s, b.to_owned())).collect()),
            ..Default::default()
        }
    }

    pub fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

impl Transport for ScriptedClaude {
    fn post(
        &self,
        request: ExchangeRequest,
    ) -> BoxFuture<'static, Result<RawResponse, ExchangeError>> {
        let n = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(request);
            requests.len()
        };
        let (status, body) = self.script.lock().unwrap().pop_front().unwrap_or_else(|| {
            (
                200,
                format!(r#"{{"access_token":"sk-ant-oat01-tok{n}","token_type":"Bearer","expires_in":3600,"scope":"workspace:developer"}}"#),
            )
        });
        async move {
            Ok(RawResponse {
                status,
                request_id: Some("req_test".into()),
                retry_after: None,
                body: body.into_bytes(),
            })
        }
        .boxed()
    }
}

/// One active ES256 key.
pub fn one_key() -> KeySet {
    let (key, _) = SigningKey::generate_es256().unwrap();
    KeySet::new(vec![PublishedKey {
        key: Arc::new(key),
        state: KeyState::Active,
    }])
    .unwrap()
}

/// A state serving `config` with one key, a manual clock at a fixed recent
/// time, and `claude` as the transport.
pub fn state(config: Config, claude: Arc<ScriptedClaude>) -> AppState {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at_unix(1_700_000_000));
    AppState::new(config, one_key(), clock, claude)
}
