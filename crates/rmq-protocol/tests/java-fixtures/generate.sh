#!/usr/bin/env bash
# Regenerates the golden test vectors in crates/rmq-protocol/tests/fixtures/ from the REAL Apache RocketMQ
# Java libraries (org.apache.rocketmq:rocketmq-client / -remoting / -common / -store 5.5.0 from Maven Central).
#
# How the vectors are captured (details per file: ../fixtures/README.md and the "source" field of every fixture):
#   * frames (frame_*.json): a RemotingCommand is built with the same factory calls the Java client/broker use
#     (RemotingCommand.createRequestCommand / createResponseCommand + the real *RequestHeader classes), then
#       - "hex"  = bytes produced by org.apache.rocketmq.remoting.netty.NettyEncoder in a Netty EmbeddedChannel
#                  (RemotingCommand.fastEncodeHeader + body), i.e. exactly what goes on the socket:
#                  4-byte total length + header word + header + body;
#       - "hex_remoting_command_encode" = RemotingCommand.encode() when it differs from the wire bytes;
#       - "expected" = what org.apache.rocketmq.remoting.netty.NettyDecoder decodes from "hex".
#     Each frame is produced twice: serializeTypeCurrentRPC = JSON and = ROCKETMQ.
#   * stored messages (msg_*.json): MessageDecoder.encode(MessageExt, false) (cross-checked byte-for-byte against
#     the broker's store MessageExtEncoder + CommitLog.doAppend patches); the V2-magic vector comes from the store
#     MessageExtEncoder (MessageDecoder cannot write V2). "expected" = MessageDecoder.decodesBatch(buf, true, true,
#     true), i.e. what PullAPIWrapper hands to the consumer.
#   * properties / batch / message ids / tag hashes / SubscriptionData / HeartbeatData / routes / ClusterInfo /
#     ResetOffsetBody / ConsumerRunningInfo: the named Java static methods or RemotingSerializable.encode().
#   * optional real-broker captures (broker_*.json): ./capture-broker.sh starts its own 5.5.0 namesrv + broker
#     (ports 29876 / 30911 by default), then calls `generate.sh --capture ADDR [PREFIX]` (class BrokerCapture):
#     one DefaultMQProducer send, then raw-socket request/response exchanges whose response frames are stored
#     verbatim, including a PULL_MESSAGE response body.
#
# Everything is deterministic (fixed opaque, timestamps, hosts, UNIQ_KEYs) except uniq_ids.json "live" section and
# the broker_*.json captures, which change on every run.
#
# Requirements: JDK 8+ (tested with 17), Maven 3.8+, access to Maven Central (or a warm ~/.m2).
# Usage:
#   crates/rmq-protocol/tests/java-fixtures/generate.sh                 # (re)write ../fixtures/*.json
#   crates/rmq-protocol/tests/java-fixtures/generate.sh --capture HOST:PORT [PREFIX]  # capture from a running
#                                                      namesrv (normally invoked by capture-broker.sh)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$(cd "$HERE/.." && pwd)/fixtures"
cd "$HERE"

mvn -B -q compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
CP="target/classes:$(cat target/classpath.txt)"
# keep RocketMQ's own logging quiet and out of the repo
JOPTS=(-Duser.home="$HERE/target/home" -Drocketmq.client.logUseSlf4j=false -Drocketmq.log.level=ERROR
       -Dfile.encoding=UTF-8)

mkdir -p "$OUT"
if [[ "${1:-}" == "--capture" ]]; then
    java "${JOPTS[@]}" -cp "$CP" org.rocketmqrs.fixtures.GenerateFixtures capture "${2:?namesrv address}" "$OUT" "${3:-broker_}"
else
    java "${JOPTS[@]}" -cp "$CP" org.rocketmqrs.fixtures.GenerateFixtures "$OUT"
fi
