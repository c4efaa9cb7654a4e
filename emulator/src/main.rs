//! `yunup-emulator`: a local WCS, UFile and Wantu that the official SDKs talk to unchanged, plus a
//! token backend and the demo page. Each service listens on its own address; state lives under
//! `--data` and survives restarts (see `store.rs` for the crash-safety rule).

mod demo;
mod faults;
mod http;
mod multipart;
mod outbound;
mod store;
mod ufile;
mod wantu;
mod wcs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use clap::Parser;
use yunup::sign::Credentials;

use crate::faults::{FaultConfig, Faults};
use crate::http::AppState;
use crate::store::{Durability, Service, Store};

#[derive(Parser)]
#[command(name = "yunup-emulator", version, about = "A local WCS, UFile and Wantu for development and tests")]
struct Args {
    /// Where objects and metadata are kept (created if missing; reused across restarts).
    #[arg(long, default_value = "yunup-data", value_name = "DIR")]
    data: PathBuf,
    /// An access key pair the services accept (repeatable). The first one signs for the demo host.
    #[arg(long = "credential", value_name = "AK:SK", required = true)]
    credentials: Vec<String>,
    /// A bucket (WCS bucket, UFile bucket, Wantu namespace) to create in every service (repeatable).
    #[arg(long = "bucket", value_name = "NAME[:private]")]
    buckets: Vec<String>,
    #[arg(long, default_value = "127.0.0.1:9101", value_name = "ADDR")]
    wcs: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:9102", value_name = "ADDR")]
    ufile: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:9103", value_name = "ADDR")]
    wantu: SocketAddr,
    /// The token backend, the demo page and the admin endpoint (`/admin/faults`).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    demo: SocketAddr,
    /// Fault injection at start, as JSON (see `faults.rs`), e.g. '{"errorRate":0.1,"seed":7}'.
    #[arg(long, value_name = "JSON")]
    faults: Option<String>,
    /// The demo page's directory.
    #[arg(long, default_value = "www-demo", value_name = "DIR")]
    www: PathBuf,
    /// The built npm package served under /pkg/.
    #[arg(long, default_value = "pkg", value_name = "DIR")]
    pkg: PathBuf,
    /// Sync every object's bytes to disk before acknowledging it, so that it survives a power
    /// loss too. Without it, acknowledged writes survive a crash or `kill -9` of the emulator.
    #[arg(long)]
    fsync: bool,
}

fn parse_credential(text: &str) -> Result<Credentials, String> {
    match text.split_once(':') {
        Some((ak, sk)) if !ak.is_empty() && !sk.is_empty() => Ok(Credentials::new(ak, sk)),
        _ => Err(format!("--credential wants AK:SK, got {:?}", text.split(':').next().unwrap_or(""))),
    }
}

fn parse_bucket(text: &str) -> Result<(String, bool), String> {
    let (name, private) = match text.split_once(':') {
        Some((name, "private")) => (name, true),
        Some((name, "public")) => (name, false),
        Some((_, other)) => {
            return Err(format!("--bucket {text}: the suffix must be :private or :public, not :{other}"));
        }
        None => (text, false),
    };
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok((name.to_owned(), private))
    } else {
        Err(format!("--bucket {text:?}: use letters, digits, '-' and '_'"))
    }
}

/// Wrap a service router with what every service shares. Outermost first: the log sees the
/// final status, CORS headers are on every reply (injected failures included), then faults.
fn with_common_layers(service: Service, router: Router, state: &AppState) -> Router {
    router
        .layer(from_fn_with_state((service.as_str(), state.faults.clone()), http::inject_faults))
        .layer(from_fn(http::cors))
        .layer(from_fn_with_state((service.as_str(), state.requests.clone()), http::log_requests))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("yunup-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let credentials = args.credentials.iter().map(|c| parse_credential(c)).collect::<Result<Vec<_>, _>>()?;
    let buckets = args.buckets.iter().map(|b| parse_bucket(b)).collect::<Result<Vec<_>, _>>()?;
    let fault_config = match &args.faults {
        Some(json) => serde_json::from_str::<FaultConfig>(json).map_err(|e| format!("--faults: {e}"))?,
        None => FaultConfig::default(),
    };
    fault_config.validate().map_err(|e| format!("--faults: {e}"))?;
    let durability = if args.fsync { Durability::PowerLoss } else { Durability::ProcessCrash };
    let store = Store::open_with(&args.data, durability)
        .map_err(|e| format!("cannot open --data {}: {e}", args.data.display()))?;
    for (name, private) in &buckets {
        for service in [Service::Wcs, Service::Ufile, Service::Wantu] {
            store.ensure_bucket(service, name, *private).map_err(|e| e.to_string())?;
        }
    }
    let state = AppState {
        store,
        credentials: Arc::new(credentials),
        faults: Arc::new(Faults::new(fault_config)),
        requests: Arc::new(http::RequestLog::default()),
    };

    // Bind everything first: the demo host tells the page where the services really listen
    // (ports may be 0, chosen by the OS).
    let mut listeners = Vec::new();
    for (name, addr) in [("wcs", args.wcs), ("ufile", args.ufile), ("wantu", args.wantu), ("demo", args.demo)] {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen for {name} on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        listeners.push((name, listener, format!("http://{local}")));
    }
    let endpoints =
        demo::Endpoints { wcs: listeners[0].2.clone(), ufile: listeners[1].2.clone(), wantu: listeners[2].2.clone() };
    let demo_app = demo::router(state.clone(), endpoints, &args.www, &args.pkg)
        .layer(from_fn(http::cors))
        .layer(from_fn_with_state(("demo", state.requests.clone()), http::log_requests));
    let apps = [
        with_common_layers(Service::Wcs, wcs::router(state.clone()), &state),
        with_common_layers(Service::Ufile, ufile::router(state.clone()), &state),
        with_common_layers(Service::Wantu, wantu::router(state.clone()), &state),
        demo_app,
    ];
    let mut tasks = Vec::new();
    for ((name, listener, url), app) in listeners.into_iter().zip(apps) {
        println!("yunup-emulator: {name} ready on {url}");
        tasks.push(tokio::spawn(async move { axum::serve(listener, app).await }));
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        result = futures_util::future::select_all(tasks) => match result.0 {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("server stopped: {e}")),
            Err(e) => Err(format!("server task failed: {e}")),
        },
    }
}
