//! Apache RocketMQ client.
