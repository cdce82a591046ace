#!/usr/bin/env bash
# The scale-out topology of deploy/compose.yaml from local processes: N `codeqr serve`
# processes on one PostgreSQL and one Redis, behind Debian's nginx (round-robin). The tests
# and the scale-out benchmark start it; an operator can try the topology with it too.
#
#   CODEQR_DATABASE_URL=postgresql://… CODEQR_REDIS_URL=redis://… CODEQR_SECRET_KEY=… \
#     deploy/local-cluster.sh start DIR [--apps N] [--port P]
#   deploy/local-cluster.sh stop DIR
#
# DIR holds the run's logs, pid files and nginx configuration. nginx listens on P (default
# 8080); app i listens on P+i. Short links are served for the domain CODEQR_SHORT_DOMAIN
# (default 127.0.0.1:P, the address of nginx).
set -euo pipefail

usage() { sed -n '2,12p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
command=$1 dir=$2
shift 2
apps=2 port=8080
while [ $# -gt 0 ]; do
  case $1 in
    --apps) apps=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    *) usage ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)
codeqr=${CODEQR_BIN:-$here/.venv/bin/codeqr}
nginx=${NGINX_BIN:-/usr/sbin/nginx}

stop() {
  for pidfile in "$dir"/*.pid; do
    [ -e "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "$dir"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

wait_ready() {  # url
  for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FATAL: $1 did not answer; logs in $dir" >&2
  return 1
}

case $command in
  stop) stop; exit 0 ;;
  start) ;;
  *) usage ;;
esac

: "${CODEQR_DATABASE_URL:?set CODEQR_DATABASE_URL (PostgreSQL)}"
: "${CODEQR_REDIS_URL:?set CODEQR_REDIS_URL}"
: "${CODEQR_SECRET_KEY:?set CODEQR_SECRET_KEY (the same for every process)}"
[ -x "$nginx" ] || { echo "FATAL: nginx not found at $nginx (apt-get install nginx-light)" >&2; exit 1; }
mkdir -p "$dir"
export CODEQR_SHORT_DOMAIN=${CODEQR_SHORT_DOMAIN:-127.0.0.1:$port}
export CODEQR_TRUSTED_PROXIES=${CODEQR_TRUSTED_PROXIES:-'["127.0.0.1"]'}
export CODEQR_DATA_DIR=${CODEQR_DATA_DIR:-$dir/data}
export CODEQR_MIGRATE_ON_START=false

# Migrations once, before any process serves.
"$codeqr" migrate >"$dir/migrate.log" 2>&1 || { cat "$dir/migrate.log" >&2; exit 1; }

upstream=""
for i in $(seq 1 "$apps"); do
  app_port=$((port + i))
  "$codeqr" serve --host 127.0.0.1 --port "$app_port" >"$dir/app$i.log" 2>&1 &
  echo $! >"$dir/app$i.pid"
  upstream+="        server 127.0.0.1:$app_port;"$'\n'
done

mkdir -p "$dir/nginx"
cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    server_tokens off;
    client_body_temp_path $dir/nginx/body;
    proxy_temp_path $dir/nginx/proxy;
    fastcgi_temp_path $dir/nginx/fastcgi;
    uwsgi_temp_path $dir/nginx/uwsgi;
    scgi_temp_path $dir/nginx/scgi;
    upstream codeqr {
$upstream        keepalive 64;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://codeqr;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_next_upstream error timeout;
        }
        location /api/events/stream {
            proxy_pass http://codeqr;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }
    }
}
CONF
"$nginx" -p "$dir/nginx" -c "$dir/nginx.conf" -e "$dir/nginx/error.log" >"$dir/nginx.log" 2>&1 &
echo $! >"$dir/nginx.pid"

trap 'stop' ERR
for i in $(seq 1 "$apps"); do wait_ready "http://127.0.0.1:$((port + i))/healthz"; done
wait_ready "http://127.0.0.1:$port/healthz"
trap - ERR
echo "cluster: nginx on http://127.0.0.1:$port, $apps app processes on $((port + 1))-$((port + apps))"
