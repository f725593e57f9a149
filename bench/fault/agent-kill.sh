#!/bin/sh
# The long mode of the agent kill fault suite (issue 13 §1): 1,000 kill -9s of the real agent mid-transfer
# (FAULT_KILLS overrides; FAULT_LANES sets how many agents are killed in parallel, default 3).
set -eu
cd "$(dirname "$0")/../.."
export FAULT_KILLS="${FAULT_KILLS:-1000}"
echo "FAULT_KILLS=$FAULT_KILLS FAULT_LANES=${FAULT_LANES:-3}"
exec node --import tsx --test --test-reporter=spec --test-timeout="${TEST_TIMEOUT_MS:-1800000}" test/integration/fault-agent-kill.test.ts
