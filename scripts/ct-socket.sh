#!/bin/sh
# Runs the Common Test suite of the socket API, test/procket_socket_SUITE.erl
# (the cases that need privileges: raw and packet sockets, SO_BINDTODEVICE,
# ICMP datagram sockets, a tun device), through scripts/ct.sh: root, a build
# (`make all`), a fresh network namespace. Logs in logs/ct-procket_socket_SUITE/.
# Extra arguments go to ct_run, e.g. `scripts/ct-socket.sh -case bindtodevice`.
PROCKET_CT_SUITE=procket_socket_SUITE exec "$(dirname "$0")/ct.sh" "$@"
