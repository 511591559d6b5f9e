#!/usr/bin/env bash
# Regenerates crates/rmq-client/tests/fixtures/allocate/vectors.json by running the real queue allocation
# strategies of org.apache.rocketmq:rocketmq-client (version in pom.xml) on seeded random inputs.
# Needs a JDK (8 or newer) and Maven; extra arguments go to mvn (e.g. -o for offline).
# Usage: ./generate.sh [mvn args...]    Env: INPUTS (default 400), OUT (default the fixture path).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here/../../fixtures/allocate/vectors.json}"
cd "$here"
mvn -q -B -Dstyle.color=never "$@" compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime
java -cp "target/classes:$(cat target/classpath.txt)" org.rocketmqrs.vectors.AllocateVectors "$out" "${INPUTS:-400}"
