//! Local TLS endpoints for `bench-coldstart`: a throwaway CA and server certificate made with `rcgen`, and a
//! TLS-terminating HTTP/1.1 reverse proxy (tokio-rustls + hyper, keep-alive on its TLS side) in front of a
//! plain-HTTP upstream on 127.0.0.1 (moto_server, the Management API stub). The proxy counts completed and failed handshakes, so the benchmark can show *when*
//! a function opened its TLS connections (during init, or on its first request).
//!
//! The AWS SDK's default HTTPS client (aws-smithy-http-client, rustls) loads its roots with
//! `rustls-native-certs`, which reads only `SSL_CERT_FILE` when it is set: [`LocalCa::write_bundle`] writes
//! the system bundle plus this CA there, so the root-loading cost stays realistic.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The system CA bundle the generated bundle starts from.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

pub struct LocalCa {
    pub ca_pem: String,
    pub server_config: Arc<ServerConfig>,
}

impl LocalCa {
    /// A CA and a server certificate for `127.0.0.1` and `localhost`, signed by it (ECDSA P-256).
    pub fn generate() -> Result<Self, String> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose, SanType,
        };
        let e = |e: rcgen::Error| e.to_string();
        let ca_key = KeyPair::generate().map_err(e)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "auction-bench throwaway CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(e)?;
        let leaf_key = KeyPair::generate().map_err(e)?;
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).map_err(e)?;
        leaf.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        leaf.distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf.signed_by(&leaf_key, &ca).map_err(e)?;
        let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            ca_pem: ca.pem(),
            server_config: Arc::new(config),
        })
    }

    /// Write `SSL_CERT_FILE` content: the system bundle (when present) followed by this CA.
    pub fn write_bundle(&self, path: &Path) -> std::io::Result<()> {
        let mut text = std::fs::read_to_string(SYSTEM_BUNDLE).unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&self.ca_pem);
        std::fs::write(path, text)
    }
}

#[derive(Debug, Default)]
pub struct ProxyStats {
    pub handshakes_ok: AtomicU64,
    pub handshakes_failed: AtomicU64,
}

impl ProxyStats {
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.handshakes_ok.load(Ordering::SeqCst),
            self.handshakes_failed.load(Ordering::SeqCst),
        )
    }
}

/// HTTPS on `addr`, each request forwarded over plain HTTP to `upstream`. Stops when dropped.
///
/// HTTP-aware on purpose: moto_server answers every request with `Connection: close`, so a byte relay
/// would force a new TLS handshake per request; DynamoDB keeps connections alive, and so does this proxy on
/// its TLS side (HTTP/1.1 keep-alive), which is what makes an init-time warm-up connection reusable.
pub struct TlsProxy {
    pub addr: SocketAddr,
    pub stats: Arc<ProxyStats>,
    task: JoinHandle<()>,
}

impl TlsProxy {
    pub async fn start(config: Arc<ServerConfig>, upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(ProxyStats::default());
        let acceptor = TlsAcceptor::from(config);
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        let s = stats.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let stats = s.clone();
                let client = client.clone();
                tokio::spawn(async move {
                    let tls = match acceptor.accept(tcp).await {
                        Ok(t) => {
                            stats.handshakes_ok.fetch_add(1, Ordering::SeqCst);
                            t
                        }
                        Err(_) => {
                            stats.handshakes_failed.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    };
                    let svc = hyper::service::service_fn(move |req| {
                        forward(req, upstream, client.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Ok(Self { addr, stats, task })
    }

    /// `https://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
];

async fn forward(
    req: hyper::Request<Incoming>,
    upstream: SocketAddr,
    client: reqwest::Client,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut rb = client.request(parts.method, format!("http://{upstream}{path}"));
    for (k, v) in &parts.headers {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            rb = rb.header(k, v);
        }
    }
    let mut out = hyper::Response::builder();
    let body = match rb.body(bytes).send().await {
        Ok(resp) => {
            out = out.status(resp.status());
            for (k, v) in resp.headers() {
                if !HOP_BY_HOP.contains(&k.as_str()) {
                    out = out.header(k, v);
                }
            }
            resp.bytes().await.unwrap_or_default()
        }
        Err(e) => {
            out = out.status(502);
            Bytes::from(format!("upstream: {e}"))
        }
    };
    Ok(out
        .body(Full::new(body))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new()))))
}
