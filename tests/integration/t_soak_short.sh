#!/usr/bin/env bash
# The soak (tests/soak/soak.sh) for 60 s: mixed traffic with ~10 % faults
# from 12 concurrent clients; zero lost requests, flat RSS and fds.
. "$(dirname "$0")/lib.sh"

DURATION=${SOAK_SHORT_S:-60} CLIENTS=12 SAMPLE_S=3 WARMUP_S=15 \
    SCEN_DIR=$T/soak bash "$ROOT/tests/soak/soak.sh"
