#!/bin/sh
# Runs test/procket_broker_SUITE.erl (the broker: procket -l PATH) through
# scripts/ct.sh: logs in logs/ct-procket_broker_SUITE/.
PROCKET_CT_SUITE=procket_broker_SUITE exec "$(dirname "$0")/ct.sh" "$@"
