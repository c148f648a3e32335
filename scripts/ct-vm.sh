#!/bin/sh
# Runs test/procket_vm_SUITE.erl (the VM never crashes or stalls through
# procket: each case attacks a fresh VM as uid 65534) through scripts/ct.sh:
# root, a build (`make all`), a fresh network namespace. Logs in
# logs/ct-procket_vm_SUITE/. Extra arguments go to ct_run.
PROCKET_CT_SUITE=procket_vm_SUITE exec "$(dirname "$0")/ct.sh" "$@"
