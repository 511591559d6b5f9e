//! ACL signing without a cluster: byte-for-byte against the Java client's `AclClientRPCHook`, and on the
//! wire for every kind of frame the client writes (requests, oneway requests, answers to server requests).
//!
//! `tests/fixtures/acl/signatures.json` comes from `tests/java/acl-signatures` (`generate.sh`), which signs
//! fixed requests with the real Java hook from the test kit's RocketMQ jars.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::BytesMut;
use rmq_client::acl::{self, AclHook, Credentials};
use rmq_client::transport::{ConnectionOptions, InboundSink};
use rmq_client::{RemotingClient, RpcHook};
use rmq_protocol::header::PullMessageRequestHeader;
use rmq_protocol::{
    frame, CommandHeader, ExtFields, RemotingCommand, RequestCode, ResponseCode, SerializeType,
};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const FIXTURE: &str = include_str!("fixtures/acl/signatures.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fixture {
    rocketmq_version: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    name: String,
    code: i32,
    access_key: String,
    secret_key: String,
    security_token: Option<String>,
    body_base64: String,
    unsigned: BTreeMap<String, String>,
    signed: BTreeMap<String, String>,
}

impl Case {
    fn credentials(&self) -> Credentials {
        let c = Credentials::new(&self.access_key, &self.secret_key);
        match &self.security_token {
            Some(t) => c.with_security_token(t),
            None => c,
        }
    }

    fn body(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.body_base64)
            .unwrap()
    }
}

fn fixture() -> Fixture {
    let f: Fixture = serde_json::from_str(FIXTURE).unwrap();
    assert_eq!(f.rocketmq_version, "V5_5_0");
    assert!(f.cases.len() >= 8);
    f
}

fn ext_map(ext: &ExtFields) -> BTreeMap<String, String> {
    ext.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[test]
fn signatures_match_the_java_hook() {
    for case in fixture().cases {
        // Insert in reverse key order: the signature must not depend on the map's order.
        let mut ext = ExtFields::new();
        for (k, v) in case.unsigned.iter().rev() {
            ext.insert(k.clone(), v.clone());
        }
        let mut cmd = RemotingCommand::new_request(RequestCode(case.code), ext).with_body(case.body());
        AclHook::new(case.credentials()).before_request("127.0.0.1:10911", &mut cmd);
        assert_eq!(ext_map(&cmd.ext_fields), case.signed, "case {}", case.name);
    }
}

/// A request built by this crate's own typed header has the same fields as Java's, so the same signature.
#[test]
fn rust_built_pull_request_signs_like_java() {
    let case = fixture().cases.into_iter().find(|c| c.name == "pull").unwrap();
    let header = PullMessageRequestHeader {
        consumer_group: "cg".into(),
        topic: "orders".into(),
        lite_topic: None,
        queue_id: 3,
        queue_offset: 123_456_789_012,
        max_msg_nums: 32,
        sys_flag: 7,
        commit_offset: -1,
        suspend_timeout_millis: 15_000,
        subscription: Some("TagA || TagB".into()),
        sub_version: 1_700_000_000_000,
        expression_type: Some("TAG".into()),
        max_msg_bytes: None,
        request_source: None,
        proxy_froward_client_id: None,
        bname: Some("broker-a".into()),
    };
    assert_eq!(ext_map(&header.to_ext()), case.unsigned);
    let mut cmd = RemotingCommand::request(RequestCode::PULL_MESSAGE, &header);
    case.credentials().sign(&mut cmd);
    assert_eq!(ext_map(&cmd.ext_fields), case.signed);
}

/// What a broker does: recompute the signature over the fields and body it decoded.
fn assert_signed_by(cmd: &RemotingCommand, access_key: &str, secret: &str) {
    assert_eq!(cmd.ext_fields.get(acl::ACCESS_KEY), Some(access_key), "{cmd:?}");
    let expected = acl::signature(secret, &cmd.ext_fields, &cmd.body);
    assert_eq!(
        cmd.ext_fields.get(acl::SIGNATURE),
        Some(expected.as_str()),
        "{cmd:?}"
    );
}

async fn read_frame(io: &mut TcpStream, buf: &mut BytesMut) -> RemotingCommand {
    loop {
        if let Some(cmd) = frame::decode(buf, frame::DEFAULT_MAX_FRAME).unwrap() {
            return cmd;
        }
        assert!(io.read_buf(buf).await.unwrap() > 0, "client closed");
    }
}

async fn write_frame(io: &mut TcpStream, cmd: &RemotingCommand) {
    io.write_all(&frame::encode_to_bytes(cmd).unwrap()).await.unwrap();
}

/// Requests, oneway requests and answers to server requests all leave signed, in both header encodings,
/// and the signature still holds over what the server decodes (properties separators, non-ASCII text).
#[tokio::test]
async fn every_frame_the_client_writes_is_signed() {
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, mut inbound) = tokio::sync::mpsc::channel(8);
        let sink = InboundSink::new(tx, &[RequestCode::GET_CONSUMER_RUNNING_INFO]);
        let hook: Arc<dyn RpcHook> = Arc::new(AclHook::new(
            Credentials::new("alice", "s3cret").with_security_token("tok"),
        ));
        let client = RemotingClient::new(ConnectionOptions::default(), Some(sink), Some(hook), st);

        let mut ext = ExtFields::new();
        ext.insert("topic", "orders");
        ext.insert(
            "properties",
            "KEYS\u{1}k1\u{2}城市\u{1}上海\u{2}emoji\u{1}😀\u{2}",
        );
        let request = RemotingCommand::new_request(RequestCode::SEND_MESSAGE_V2, ext.clone())
            .with_body(vec![0u8, 159, 255, 1]);
        let oneway = RemotingCommand::new_request(RequestCode::HEART_BEAT, ExtFields::new())
            .with_body(&br#"{"clientID":"c"}"#[..]);

        let server = tokio::spawn(async move {
            let (mut io, _) = listener.accept().await.unwrap();
            let mut buf = BytesMut::new();
            let req = read_frame(&mut io, &mut buf).await;
            assert_signed_by(&req, "alice", "s3cret");
            assert_eq!(req.ext_fields.get(acl::SECURITY_TOKEN), Some("tok"));
            let resp = RemotingCommand::new_response(ResponseCode::SUCCESS, req.opaque, None);
            write_frame(&mut io, &resp).await;

            let ow = read_frame(&mut io, &mut buf).await;
            assert!(ow.is_oneway());
            assert_signed_by(&ow, "alice", "s3cret");

            // A broker-initiated request: its answer is signed too.
            let mut ask =
                RemotingCommand::new_request(RequestCode::GET_CONSUMER_RUNNING_INFO, ExtFields::new());
            ask.opaque = 4242;
            write_frame(&mut io, &ask).await;
            let answer = read_frame(&mut io, &mut buf).await;
            assert!(answer.is_response());
            assert_eq!(answer.opaque, 4242);
            assert_signed_by(&answer, "alice", "s3cret");
        });

        let resp = client
            .invoke(&addr, request, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(resp.response_code(), ResponseCode::SUCCESS);
        client
            .invoke_oneway(&addr, oneway, Duration::from_secs(5))
            .await
            .unwrap();
        let req = tokio::time::timeout(Duration::from_secs(5), inbound.recv())
            .await
            .unwrap()
            .unwrap();
        let answer = RemotingCommand::new_response(ResponseCode::SUCCESS, req.command.opaque, None)
            .with_body(&b"{}"[..]);
        req.connection.respond(answer).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .unwrap()
            .unwrap();
        client.close();
    }
}
