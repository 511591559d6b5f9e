#!/usr/bin/env bash
# Regenerates crates/rmq-client/tests/fixtures/acl/signatures.json by signing fixed requests with the real
# Java AclClientRPCHook, from the RocketMQ jars the test kit runs (rocketmq-client holds
# org.apache.rocketmq.acl.common since 5.x). Needs a JDK (javac). Uses $RMQ_RUNTIME_DIR/lib when set, else
# the test kit's cache (~/.cache/rocketmq-rs/rocketmq-<version>-*/lib; run any cluster test once to fill it).
# Usage: ./generate.sh    Env: OUT (default the fixture path), LIB (a directory of jars).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here/../../fixtures/acl/signatures.json}"
version="$(sed -n 's/^pub const ROCKETMQ_VERSION: &str = "\(.*\)";/\1/p' "$here/../../../../rmq-testkit/src/runtime.rs")"
if [[ -z "${LIB:-}" ]]; then
  if [[ -n "${RMQ_RUNTIME_DIR:-}" ]]; then
    LIB="$RMQ_RUNTIME_DIR/lib"
  else
    LIB="$(ls -d "${XDG_CACHE_HOME:-$HOME/.cache}"/rocketmq-rs/rocketmq-"$version"-*/lib | head -n 1)"
  fi
fi
ls "$LIB"/rocketmq-client-*.jar >/dev/null
classes="$(mktemp -d)"
trap 'rm -rf "$classes"' EXIT
javac -encoding UTF-8 -cp "$LIB/*" -d "$classes" "$here/AclSignatures.java"
java -Drmq.logback.configurationFile=rmq.client.logback.xml -cp "$classes:$LIB/*" AclSignatures "$out"
echo "wrote $out"
