#!/usr/bin/env bash
# Optional: (re)capture the broker_*.json fixtures from a REAL Apache RocketMQ 5.5.0 name server + broker.
#
# What it does
#   1. `mvn -Pbroker dependency:copy-dependencies` -> target/broker-lib (rocketmq-namesrv/-broker 5.5.0 + deps);
#   2. starts NamesrvStartup on 127.0.0.1:$NS_PORT and BrokerStartup (broker-fx, cluster FixtureCluster) on
#      127.0.0.1:$BROKER_PORT (it also binds BROKER_PORT-2 and BROKER_PORT+1) with a throw-away store under
#      $WORK (default: a mktemp dir);
#   3. `generate.sh --capture` (GenerateFixtures capture mode, class BrokerCapture): one DefaultMQProducer send,
#      then raw-socket exchanges whose request frames come from NettyEncoder and whose response frames are
#      stored verbatim -> broker_*.json;
#   4. restarts only the broker with -Drocketmq.serialize.type=ROCKETMQ and captures again -> broker_rocketmq_*.json;
#   5. stops the two JVMs it started (by PID) and runs generate.sh once more so index.json lists everything.
# Refuses to run if any of the ports is already in use (do not point it at somebody else's name server: the
# broker would register there).
# Broker values (timestamps, born-host ports, UNIQ_KEY of the DefaultMQProducer message) differ on every run.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NS_PORT="${NS_PORT:-29876}"
BROKER_PORT="${BROKER_PORT:-30911}"
if [[ -z "${WORK:-}" ]]; then
    WORK="$(mktemp -d /tmp/rmq-fixture-capture.XXXXXX)"
    REMOVE_WORK=1
fi
cd "$HERE"

for p in "$NS_PORT" "$BROKER_PORT" "$((BROKER_PORT - 2))" "$((BROKER_PORT + 1))"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "port $p is already in use; set NS_PORT / BROKER_PORT" >&2
        exit 1
    fi
done

mvn -B -q -Pbroker dependency:copy-dependencies -DoutputDirectory=target/broker-lib -DincludeScope=runtime
LIB="$HERE/target/broker-lib/*"
mkdir -p "$WORK/home" "$WORK/ns" "$WORK/a/store"
cat >"$WORK/namesrv.conf" <<CONF
listenPort=$NS_PORT
bindAddress=127.0.0.1
kvConfigPath=$WORK/ns/kvConfig.json
CONF
cat >"$WORK/broker.conf" <<CONF
brokerClusterName=FixtureCluster
brokerName=broker-fx
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=ASYNC_FLUSH
namesrvAddr=127.0.0.1:$NS_PORT
brokerIP1=127.0.0.1
brokerIP2=127.0.0.1
bindAddress=127.0.0.1
listenPort=$BROKER_PORT
storePathRootDir=$WORK/a/store
storePathCommitLog=$WORK/a/store/commitlog
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
mappedFileSizeCommitLog=67108864
mappedFileSizeConsumeQueue=60000
maxIndexNum=100000
maxHashSlotNum=40000
fileReservedTime=1
sendMessageThreadPoolNums=2
CONF
J17=(--add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.nio=ALL-UNNAMED
     --add-opens java.base/sun.nio.ch=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED)
if java -version 2>&1 | grep -q '"1\.8'; then J17=(); fi
COMMON=(-server -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow "-Drocketmq.home.dir=$WORK/home" "${J17[@]}")

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    done
}
trap cleanup EXIT

wait_boot() { # file
    for _ in $(seq 1 90); do
        if grep -q "boot success" "$1"; then return 0; fi
        if grep -q "Failed to bind\|Exception in thread" "$1"; then break; fi
        sleep 1
    done
    echo "startup failed, see $1" >&2
    exit 1
}

start_broker() { # extra JVM args...
    java "${COMMON[@]}" "$@" -Xms512m -Xmx512m -XX:MaxDirectMemorySize=512m "-Duser.home=$WORK/a" \
        -cp "$LIB" org.apache.rocketmq.broker.BrokerStartup -c "$WORK/broker.conf" >"$WORK/broker.out" 2>&1 &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    wait_boot "$WORK/broker.out"
}

java "${COMMON[@]}" -Xms128m -Xmx256m "-Duser.home=$WORK/ns" -cp "$LIB" org.apache.rocketmq.namesrv.NamesrvStartup \
    -c "$WORK/namesrv.conf" >"$WORK/namesrv.out" 2>&1 &
PIDS+=($!)
wait_boot "$WORK/namesrv.out"

rm -f "$HERE"/../fixtures/broker_*.json
start_broker
"$HERE/generate.sh" --capture "127.0.0.1:$NS_PORT" broker_
kill "$BROKER_PID"
for _ in $(seq 1 40); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 1; done
start_broker -Drocketmq.serialize.type=ROCKETMQ
"$HERE/generate.sh" --capture "127.0.0.1:$NS_PORT" broker_rocketmq_
cleanup
PIDS=()
"$HERE/generate.sh"   # refresh index.json
if [[ -n "${REMOVE_WORK:-}" ]]; then rm -rf "$WORK"; fi
echo "broker captures written"
