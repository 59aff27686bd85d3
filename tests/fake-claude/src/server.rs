//! Serving [`app`](crate::app()) over HTTP/1.1 on a TCP listener, with one
//! addition axum's own `serve` lacks: a handler can ask for the connection to
//! be closed without any answer (the `drop_connection` fault), by putting
//! [`DropConnection`] in its response's extensions.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::ServiceExt as _;

/// Response extension: close the TCP connection instead of answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropConnection;

/// Accepts connections until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, router.clone()));
                }
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
            () = &mut shutdown => return Ok(()),
        }
    }
}

async fn serve_connection(stream: TcpStream, router: Router) {
    let dropped = Arc::new(Notify::new());
    let signal = Arc::clone(&dropped);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        let signal = Arc::clone(&signal);
        async move {
            let request: Request = request.map(Body::new);
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                signal.notify_one();
                std::future::pending::<()>().await;
            }
            Ok::<_, Infallible>(response)
        }
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        () = dropped.notified() => {
            tracing::info!("dropping the connection without an answer (injected fault)");
        }
    }
}
