#!/usr/bin/env bash
# The life cycle of issue 6 for a device with x509 bootstrap credentials (flow.sh).
exec bash "$(dirname "$0")/flow.sh" x509
