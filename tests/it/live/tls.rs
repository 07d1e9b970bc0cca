//! The daemon talks to the broker over TLS (rustls) with a CA file, a client certificate and
//! a password read from a credentials directory, and never logs the secret. The test puts a
//! TLS-terminating proxy, which requires a client certificate from its CA, in front of the
//! broker.

use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer, server::WebPkiClientVerifier};

use super::*;
use crate::support::frame;

struct Pki {
    ca_pem: String,
    server: (
        rustls::pki_types::CertificateDer<'static>,
        PrivateKeyDer<'static>,
    ),
    client_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, usage| {
        let mut p = CertificateParams::new(names).unwrap();
        p.extended_key_usages.push(usage);
        let key = KeyPair::generate().unwrap();
        (p.signed_by(&key, &ca).unwrap(), key)
    };
    let (server, server_key) = leaf(
        vec!["127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client, client_key) = leaf(
        vec!["shedwatch".into()],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    Pki {
        ca_pem: ca.pem(),
        server: (
            server.der().clone(),
            PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
        ),
        client_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// Accepts TLS on a free port (client certificate required) and forwards to `broker_port`.
fn tls_proxy(rt: &tokio::runtime::Runtime, pki: &Pki, broker_port: u16) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap();
    roots.add(ca).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![pki.server.0.clone()], pki.server.1.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) =
                    tokio::net::TcpStream::connect(("127.0.0.1", broker_port)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

use rustls::pki_types::pem::PemObject;

#[test]
fn tls_with_client_certificate_and_password_file() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start();
    let pki = pki();
    let proxy_port = tls_proxy(&rt, &pki, broker.port);
    let creds = dir.path().join("credentials");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("mqtt-password"), "s3cret-never-logged\n").unwrap();
    std::fs::write(creds.join("client.key"), &pki.client_key_pem).unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(dir.path().join("client.pem"), &pki.client_pem).unwrap();
    let config = daemon_config(&format!("mqtts://127.0.0.1:{proxy_port}"), dir.path(), "").replace(
        "keep_alive_s = 5",
        &format!(
            "keep_alive_s = 5\nusername = \"gateway\"\npassword_file = \"mqtt-password\"\nca_file = \"{}\"\nclient_cert_file = \"{}\"\nclient_key_file = \"client.key\"",
            dir.path().join("ca.pem").display(),
            dir.path().join("client.pem").display()
        ),
    );
    let mut daemon =
        Daemon::start_with_env(dir.path(), &config, &[("CREDENTIALS_DIRECTORY", &creds)]);
    let watcher = Watcher::start(&rt, broker.port, "watcher-tls", &["shedwatch/gw/#"]);
    watcher.wait_for("online over TLS", Duration::from_secs(15), |s| {
        s.iter()
            .any(|m| m.topic == "shedwatch/gw/status" && m.payload == b"online")
    });
    for n in 0..2 {
        watcher.publish("thermal/cam/frame", frame(n, Some(450.0)));
    }
    watcher.wait_for("a fire over TLS", Duration::from_secs(10), |s| {
        s.iter()
            .any(|m| m.topic.ends_with("/events") && m.json()["severity"] == "fire")
    });
    daemon.terminate();
    assert!(
        !daemon.log_text().contains("s3cret"),
        "the password was logged"
    );
}
