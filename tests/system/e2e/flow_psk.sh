#!/usr/bin/env bash
# The life cycle of issue 6 for a device with psk bootstrap credentials (flow.sh).
exec bash "$(dirname "$0")/flow.sh" psk
