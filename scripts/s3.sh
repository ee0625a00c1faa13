#!/usr/bin/env bash
# Start (or stop) a private S3-speaking server for the tests — moto's standalone server, which
# speaks the S3 REST API over HTTP, with Object Lock and conditional writes — and print its URL.
#   scripts/s3.sh start   # idempotent; prints http://127.0.0.1:PORT
#   scripts/s3.sh stop
# Port FAPIAO_S3_PORT (default 54331); pid and log in FAPIAO_S3_DIR (default /tmp/fapiao-s3).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${FAPIAO_S3_PORT:-54331}"
DIR="${FAPIAO_S3_DIR:-/tmp/fapiao-s3}"
PY="${FAPIAO_PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
URL="http://127.0.0.1:$PORT"
up() { "$PY" -c "import urllib.request,sys; urllib.request.urlopen('$URL/moto-api/', timeout=1)" >/dev/null 2>&1; }
case "${1:-start}" in
  start)
    if ! up; then
      mkdir -p "$DIR"
      MOTO_BIN="$(dirname "$PY")/moto_server"
      nohup "$MOTO_BIN" -H 127.0.0.1 -p "$PORT" >"$DIR/server.log" 2>&1 &
      echo $! >"$DIR/pid"
      for _ in $(seq 1 100); do up && break; sleep 0.1; done
      up || { echo "moto_server did not start; see $DIR/server.log" >&2; exit 1; }
    fi
    echo "$URL"
    ;;
  stop)
    if [ -f "$DIR/pid" ]; then kill "$(cat "$DIR/pid")" 2>/dev/null || true; rm -f "$DIR/pid"; fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
