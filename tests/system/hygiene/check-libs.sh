#!/usr/bin/env bash
# DESIGN §9.11: every exported symbol of our libraries carries the dk_ prefix,
# and engine layers call no socket, file, clock, malloc or rand functions.
set -euo pipefail
libdir=${DK_LIBDIR:?}
fail=0
for lib in "$libdir"/libdk_*.a; do
  bad=$(nm -g --defined-only "$lib" 2>/dev/null | awk 'NF==3 && $2 ~ /[TDBRC]/ {print $3}' |
        grep -v '^dk_' || true)
  if [[ -n "$bad" ]]; then
    echo "FAIL: $(basename "$lib") exports symbols without dk_ prefix:"; echo "$bad" | sed 's/^/  /'
    fail=1
  fi
done
forbidden='^(socket|bind|connect|sendto|recvfrom|sendmsg|recvmsg|send|recv|poll|select|epoll_wait|open|open64|openat|fopen|fopen64|read|write|close|unlink|rename|fsync|clock_gettime|gettimeofday|time|malloc|calloc|realloc|free|rand|random|srand|srandom|getrandom)$'
for engine in coap lwm2m client bootstrap server; do
  lib="$libdir/libdk_$engine.a"
  [[ -f "$lib" ]] || continue
  bad=$(nm -u "$lib" | awk '{print $NF}' | sed 's/@.*//' | grep -E "$forbidden" | sort -u || true)
  if [[ -n "$bad" ]]; then
    echo "FAIL: engine library libdk_$engine.a calls forbidden functions:"; echo "$bad" | sed 's/^/  /'
    fail=1
  fi
done
[[ $fail -eq 0 ]] && echo "hygiene: all libraries clean"
exit $fail
