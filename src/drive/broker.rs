//! An embedded MQTT broker (rumqttd) on a loopback port, for `shedwatch demo`, tests and
//! trying shedwatch out with no broker installed. Not for production: use mosquitto or EMQX.

use std::collections::HashMap;
use std::net::SocketAddr;

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// Largest payload the embedded broker accepts (bytes): big enough for any frame.
pub const MAX_PAYLOAD_BYTES: usize = 64 << 20;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The broker's settings for one MQTT 3.1.1 listener on `listen`.
pub fn config(listen: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: MAX_PAYLOAD_BYTES,
        max_inflight_count: 200,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 1000,
            max_outgoing_packet_count: 200,
            max_segment_size: 64 << 20,
            max_segment_count: 4,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("v4".to_owned(), server)])),
        ..Config::default()
    }
}

/// Starts the broker on its own threads and returns; it runs until the process ends.
pub fn spawn(listen: SocketAddr) -> std::io::Result<()> {
    let mut broker = Broker::new(config(listen));
    std::thread::Builder::new()
        .name("broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded broker stopped");
            }
        })?;
    Ok(())
}
