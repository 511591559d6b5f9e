//! The receive side of a connection: bytes read from the socket, cut into frames.
//!
//! A decoded command's body is a zero-copy slice of the buffer it was read into, and pulled message
//! bodies are slices of that body, so a cached message keeps its whole read buffer allocated. Read
//! into one growing buffer, a 1 MiB frame would pin an allocation of up to twice its size (the buffer
//! doubles while the frame arrives) shared with the start of the next frame, and memory would depend
//! on the order in which messages are consumed. So a frame that does not fit in what the shared
//! buffer has left is read into a buffer of exactly its own length: it pins only itself, and the
//! bytes are copied at most once (the part already read) instead of at every doubling.

use bytes::BytesMut;
use rmq_protocol::frame::{self, FrameStatus};
use rmq_protocol::{ProtocolError, RemotingCommand};

/// Capacity of the shared buffer that small frames are read into.
const SHARED_CAPACITY: usize = 64 * 1024;

/// Read buffer of one connection.
#[derive(Debug)]
pub(crate) struct ReadBuffer {
    /// Small frames, several per allocation.
    shared: BytesMut,
    /// The frame being read into its own allocation (capacity = the frame's length).
    large: Option<BytesMut>,
    max_frame: usize,
}

impl ReadBuffer {
    pub(crate) fn new(max_frame: usize) -> Self {
        ReadBuffer {
            shared: BytesMut::with_capacity(SHARED_CAPACITY),
            large: None,
            max_frame,
        }
    }

    /// Where the next socket read goes. A large frame's buffer has room for exactly the rest of
    /// that frame, so a read never takes bytes of the frame after it.
    pub(crate) fn target(&mut self) -> &mut BytesMut {
        match &mut self.large {
            Some(large) => large,
            None => &mut self.shared,
        }
    }

    /// The next complete frame, parsed; `Ok(None)` when more bytes are needed. An error means the
    /// stream is desynchronised.
    pub(crate) fn next_frame(&mut self) -> Result<Option<RemotingCommand>, ProtocolError> {
        if let Some(large) = &mut self.large {
            let cmd = frame::decode(large, self.max_frame)?;
            if cmd.is_some() {
                self.large = None;
            }
            return Ok(cmd);
        }
        match frame::check(&self.shared, self.max_frame)? {
            FrameStatus::Complete(_) => frame::decode(&mut self.shared, self.max_frame),
            // The length is known (4 bytes read) and the frame will not fit: give it its own buffer.
            FrameStatus::Incomplete(len) if self.shared.len() >= 4 && len > self.shared.capacity() => {
                let mut large = BytesMut::with_capacity(len);
                large.extend_from_slice(&self.shared);
                self.shared.clear();
                self.large = Some(large);
                Ok(None)
            }
            FrameStatus::Incomplete(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, Bytes};
    use rmq_protocol::{ExtFields, RequestCode};

    fn encoded(body_len: usize, opaque: i32) -> Bytes {
        let mut cmd = RemotingCommand::new_request(RequestCode::SEND_MESSAGE, ExtFields::default());
        cmd.opaque = opaque;
        cmd.body = Bytes::from(vec![7u8; body_len]);
        let mut out = BytesMut::new();
        frame::encode(&cmd, &mut out).unwrap();
        out.freeze()
    }

    /// Feeds `stream` in reads of at most `chunk` bytes, as a socket would, and returns the frames.
    fn feed(buf: &mut ReadBuffer, stream: &[u8], chunk: usize) -> Vec<RemotingCommand> {
        let mut out = Vec::new();
        let mut rest = stream;
        while !rest.is_empty() {
            let target = buf.target();
            let room = if target.capacity() > target.len() {
                target.capacity() - target.len()
            } else {
                chunk
            };
            let n = rest.len().min(chunk).min(room);
            target.put_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(cmd) = buf.next_frame().unwrap() {
                out.push(cmd);
            }
        }
        out
    }

    #[test]
    fn large_frame_gets_a_buffer_of_its_own_length() {
        let small = encoded(100, 1);
        let big = encoded(1 << 20, 2);
        let after = encoded(200, 3);
        let stream = [small.as_ref(), big.as_ref(), after.as_ref()].concat();
        let mut buf = ReadBuffer::new(frame::DEFAULT_MAX_FRAME);
        let cmds = feed(&mut buf, &stream, 16 * 1024);
        let opaques: Vec<i32> = cmds.iter().map(|c| c.opaque).collect();
        assert_eq!(opaques, [1, 2, 3]);
        assert_eq!(cmds[1].body.len(), 1 << 20);
        assert!(cmds[1].body.iter().all(|b| *b == 7));
        assert!(buf.large.is_none());
        assert_eq!(buf.shared.len(), 0);
    }

    #[test]
    fn reads_into_a_large_frame_stop_at_its_end() {
        let big = encoded(300 * 1024, 9);
        let next = encoded(10, 10);
        let mut buf = ReadBuffer::new(frame::DEFAULT_MAX_FRAME);
        buf.target().put_slice(&big[..100]);
        assert!(buf.next_frame().unwrap().is_none());
        let target = buf.target();
        assert_eq!(target.capacity(), big.len(), "exactly the frame's length");
        assert_eq!(target.len(), 100);
        target.put_slice(&big[100..]);
        assert_eq!(buf.next_frame().unwrap().map(|c| c.opaque), Some(9));
        // Back to the shared buffer for what follows.
        buf.target().put_slice(&next);
        assert_eq!(buf.next_frame().unwrap().map(|c| c.opaque), Some(10));
    }

    #[test]
    fn over_limit_length_is_an_error_before_any_allocation() {
        let mut buf = ReadBuffer::new(1024);
        buf.target().put_slice(&(1_000_000i32).to_be_bytes());
        assert!(matches!(
            buf.next_frame(),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        assert!(buf.large.is_none());
    }
}
