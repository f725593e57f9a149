#!/bin/sh
# The long mode of the tunnel endpoint fuzz suite (issue 13 §1): the same seeded cases as the test in
# `npm test`, times FUZZ_SCALE (default 10 here). Any seed reproduces exactly:
#   FUZZ_SEED=12345 bench/fuzz/tunnel.sh
#   FUZZ_SCALE=50 bench/fuzz/tunnel.sh
set -eu
cd "$(dirname "$0")/../.."
export FUZZ_SCALE="${FUZZ_SCALE:-10}"
if [ -z "${FUZZ_SEED:-}" ]; then FUZZ_SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); fi
export FUZZ_SEED
echo "FUZZ_SEED=$FUZZ_SEED FUZZ_SCALE=$FUZZ_SCALE"
exec node --import tsx --test --test-reporter=spec --test-timeout="${TEST_TIMEOUT_MS:-1800000}" test/integration/fuzz-tunnel.test.ts
