#!/bin/sh
# Runs test/procket_doctor_SUITE.erl (the doctor: procket --check and
# procket:diagnose/0,1) through scripts/ct.sh: logs in
# logs/ct-procket_doctor_SUITE/.
PROCKET_CT_SUITE=procket_doctor_SUITE exec "$(dirname "$0")/ct.sh" "$@"
