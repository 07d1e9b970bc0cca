//! The engine's inbox: what the MQTT loop hands to the engine thread.
//!
//! Frames wait in a small queue per camera; when it is full the **oldest frame of that
//! camera is dropped and counted** (a fresh frame matters more than a stale one). Commands
//! wait in one queue and are not dropped, except in a flood: beyond `max_command_bytes` of
//! waiting commands the newest are dropped, counted and logged as errors, so memory stays
//! bounded. Pushing never blocks for longer than a mutex hand-over, so the MQTT loop is never
//! held up.
//!
//! Frame payloads are recycled: the MQTT loop copies each frame into a buffer the engine gave
//! back ([`Inbox::frame_buffer`], [`Inbox::recycle`]), so a steady stream of frames allocates
//! nothing. (Fresh 221 KB buffers allocated on the MQTT threads and freed on the engine thread
//! left glibc's per-thread arenas holding three times the memory in use, and cost page faults.)

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// One received message with what is needed to acknowledge it later.
#[derive(Debug)]
pub struct Received<A> {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// When it arrived (monotonic), for latency measurement.
    pub arrived: Instant,
    /// What to acknowledge once the engine committed its effect (QoS 1 commands).
    pub ack: Option<A>,
}

/// What the engine thread takes out in one go.
#[derive(Debug)]
pub struct Batch<A> {
    /// Commands, oldest first (handled before frames).
    pub commands: Vec<Received<A>>,
    /// Frames, oldest first, at most one per camera per batch so no camera starves others.
    pub frames: Vec<Received<A>>,
    /// Shutdown was requested.
    pub shutdown: bool,
    /// A config reload was requested.
    pub reload: bool,
}

#[derive(Debug)]
struct State<A> {
    frames: BTreeMap<String, VecDeque<Received<A>>>,
    commands: VecDeque<Received<A>>,
    command_bytes: usize,
    shutdown: bool,
    reload: bool,
    accepting_frames: bool,
    dropped_frames: u64,
    dropped_commands: u64,
    /// Frame payload buffers to reuse, at most two per camera.
    spare: Vec<Vec<u8>>,
}

impl<A> State<A> {
    fn keep_spare(&mut self, mut payload: Vec<u8>) {
        if self.spare.len() < 2 * self.frames.len().max(1) {
            payload.clear();
            self.spare.push(payload);
        }
    }
}

/// The inbox. `A` is the acknowledgement handle (the MQTT publish).
#[derive(Debug)]
pub struct Inbox<A> {
    state: Mutex<State<A>>,
    ready: Condvar,
    per_camera: usize,
    max_command_bytes: usize,
}

impl<A> Inbox<A> {
    /// An inbox holding at most `per_camera` frames per camera and `max_command_bytes` of
    /// commands.
    pub fn new(per_camera: usize, max_command_bytes: usize) -> Inbox<A> {
        Inbox {
            state: Mutex::new(State {
                frames: BTreeMap::new(),
                commands: VecDeque::new(),
                command_bytes: 0,
                shutdown: false,
                reload: false,
                accepting_frames: true,
                dropped_frames: 0,
                dropped_commands: 0,
                spare: Vec::new(),
            }),
            ready: Condvar::new(),
            per_camera: per_camera.max(1),
            max_command_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<A>> {
        // A panic elsewhere must not take the inbox down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a frame of `camera`; returns `false` if it was refused (shutting down). The
    /// queue never holds more than `per_camera` frames per camera.
    pub fn push_frame(&self, camera: &str, frame: Received<A>) -> bool {
        let mut s = self.lock();
        if !s.accepting_frames {
            return false;
        }
        let per_camera = self.per_camera;
        let queue = s.frames.entry(camera.to_owned()).or_default();
        let dropped = if queue.len() >= per_camera {
            queue.pop_front()
        } else {
            None
        };
        queue.push_back(frame);
        if let Some(old) = dropped {
            s.dropped_frames += 1;
            s.keep_spare(old.payload);
        }
        drop(s);
        self.ready.notify_one();
        true
    }

    /// An empty buffer for the next frame's payload: one given back by [`Inbox::recycle`] when
    /// there is one.
    pub fn frame_buffer(&self) -> Vec<u8> {
        self.lock().spare.pop().unwrap_or_default()
    }

    /// Gives handled frames' payload buffers back for reuse (beyond two per camera, they are
    /// freed).
    pub fn recycle(&self, payloads: impl IntoIterator<Item = Vec<u8>>) {
        let mut s = self.lock();
        for p in payloads {
            s.keep_spare(p);
        }
    }

    /// Queues a command; returns `false` if a flood forced it to be dropped.
    pub fn push_command(&self, command: Received<A>) -> bool {
        let mut s = self.lock();
        if s.command_bytes + command.payload.len() > self.max_command_bytes {
            s.dropped_commands += 1;
            return false;
        }
        s.command_bytes += command.payload.len();
        s.commands.push_back(command);
        drop(s);
        self.ready.notify_one();
        true
    }

    /// Asks the engine thread to stop; frames are refused from now on.
    pub fn shutdown(&self) {
        let mut s = self.lock();
        s.shutdown = true;
        s.accepting_frames = false;
        drop(s);
        self.ready.notify_all();
    }

    /// Asks the engine thread to reload its config.
    pub fn reload(&self) {
        self.lock().reload = true;
        self.ready.notify_all();
    }

    /// Frames dropped because their camera's queue was full, and commands dropped in a flood.
    pub fn dropped(&self) -> (u64, u64) {
        let s = self.lock();
        (s.dropped_frames, s.dropped_commands)
    }

    /// Frames waiting.
    pub fn waiting_frames(&self) -> usize {
        self.lock().frames.values().map(VecDeque::len).sum()
    }

    /// Waits until something is queued or `deadline` passes, then takes a batch.
    pub fn take(&self, deadline: Option<Instant>) -> Batch<A> {
        let mut s = self.lock();
        loop {
            let has_work = !s.commands.is_empty()
                || s.frames.values().any(|q| !q.is_empty())
                || s.shutdown
                || s.reload;
            if has_work {
                break;
            }
            match deadline {
                None => s = self.ready.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    s = self
                        .ready
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        let commands: Vec<_> = s.commands.drain(..).collect();
        s.command_bytes = 0;
        let frames = s
            .frames
            .values_mut()
            .filter_map(VecDeque::pop_front)
            .collect();
        Batch {
            commands,
            frames,
            shutdown: s.shutdown,
            reload: std::mem::take(&mut s.reload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(payload: &[u8]) -> Received<()> {
        Received {
            topic: "t".into(),
            payload: payload.to_vec(),
            arrived: Instant::now(),
            ack: None,
        }
    }

    #[test]
    fn full_camera_queue_drops_its_oldest_frame() {
        let inbox = Inbox::new(2, 1000);
        for p in [b"1", b"2", b"3"] {
            inbox.push_frame("cam-a", msg(p));
        }
        inbox.push_frame("cam-b", msg(b"x"));
        assert_eq!(inbox.dropped(), (1, 0));
        let b = inbox.take(Some(Instant::now()));
        let got: Vec<&[u8]> = b.frames.iter().map(|f| f.payload.as_slice()).collect();
        assert_eq!(got, [b"2".as_slice(), b"x"]);
        let b = inbox.take(Some(Instant::now()));
        assert_eq!(b.frames[0].payload, b"3");
    }

    #[test]
    fn frame_buffers_are_reused_two_per_camera_at_most() {
        let inbox = Inbox::new(1, 1000);
        inbox.push_frame("cam-a", msg(b"1"));
        inbox.push_frame("cam-a", msg(b"22")); // drops "1", keeps its buffer
        let reused = inbox.frame_buffer();
        assert!(reused.is_empty() && reused.capacity() >= 1);
        assert_eq!(inbox.frame_buffer().capacity(), 0); // none left
        let handled = inbox.take(Some(Instant::now())).frames;
        let buffers: Vec<Vec<u8>> = (0..5).map(|_| vec![0u8; 16]).collect();
        inbox.recycle(handled.into_iter().map(|f| f.payload).chain(buffers));
        let kept: Vec<Vec<u8>> = (0..3).map(|_| inbox.frame_buffer()).collect();
        // One camera known: two buffers kept, the rest freed.
        assert_eq!(kept.iter().filter(|b| b.capacity() > 0).count(), 2);
        assert!(kept.iter().all(Vec::is_empty));
    }

    #[test]
    fn commands_are_kept_until_the_flood_limit() {
        let inbox = Inbox::new(2, 10);
        assert!(inbox.push_command(msg(b"12345")));
        assert!(inbox.push_command(msg(b"12345")));
        assert!(!inbox.push_command(msg(b"1")));
        assert_eq!(inbox.take(None).commands.len(), 2);
        assert!(inbox.push_command(msg(b"1")));
    }

    #[test]
    fn shutdown_refuses_frames_and_wakes_the_engine() {
        let inbox: Inbox<()> = Inbox::new(2, 10);
        inbox.shutdown();
        assert!(!inbox.push_frame("c", msg(b"1")));
        assert!(inbox.take(None).shutdown);
    }
}
