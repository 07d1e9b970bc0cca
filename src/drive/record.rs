//! `shedwatch record`: captures the live frame and command topics into the recording format,
//! so a real shed's traffic can be replayed (and turned into a test).

use std::path::Path;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Packet, QoS};

use super::mqtt::{self, wall_ms};
use super::recording::Writer;
use crate::config::Config;
use crate::engine::FrameTopic;

/// Parses a duration: `90`, `90s`, `15m`, `2h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 15m or 2h"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: unit must be s, m or h")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("{text:?} must be positive"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Records until `duration` passes (if given) or `stop` resolves; returns messages written.
pub async fn record(
    config: &Config,
    out: &Path,
    duration: Option<Duration>,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<u64> {
    let mut options = mqtt::options(config)?;
    options.set_client_id(format!(
        "shedwatch-{}-record-{}",
        config.gateway,
        std::process::id()
    ));
    options.set_manual_acks(false);
    // A recorder going away is not the gateway going offline.
    options.set_last_will(rumqttc::LastWill::new(
        format!("shedwatch/{}/recorder", config.gateway),
        "",
        QoS::AtMostOnce,
        false,
    ));
    let (client, mut eventloop) = AsyncClient::new(options, 16);
    let frames = FrameTopic::new(&config.mqtt.frame_topic);
    let mut subs = vec![(frames.filter(), QoS::AtLeastOnce)];
    for role in ["platform", "property", "community"] {
        subs.push((
            format!("shedwatch/{}/cmd/{role}", config.gateway),
            QoS::AtLeastOnce,
        ));
    }
    let mut writer = Writer::create(out)?;
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    tokio::pin!(stop);
    let mut count = 0u64;
    loop {
        tokio::select! {
            _ = &mut sleep => break,
            _ = &mut stop => break,
            event = eventloop.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    tracing::info!("connected; recording");
                    for (filter, qos) in &subs {
                        client.subscribe(filter.clone(), *qos).await?;
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let camera = frames.camera(&p.topic).map(str::to_owned);
                    writer.push(wall_ms(), &p.topic, &p.payload, camera.as_deref())?;
                    count += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "broker connection failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
    writer.finish()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("10d").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
