#!/usr/bin/env bash
# Benchmark: hf-hubd CDN blob download throughput vs nginx (sendfile) serving the same bytes.
#
# Env: BENCH_SIZE_MB (default 1024), BENCH_RUNS (default 5), HUBD (default build/bin/hf-hubd),
#      NGINX (default /usr/sbin/nginx).
# Prints: server | median GB/s | min | max | runs   (GB = 1e9 bytes), the hf-hubd/nginx ratio of
# medians and "target >= 0.70: PASS|FAIL". Exits 0 even on FAIL; non-zero only if something broke.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
HUBD="${HUBD:-$repo_root/build/bin/hf-hubd}"
NGINX="${NGINX:-/usr/sbin/nginx}"
SIZE_MB="${BENCH_SIZE_MB:-1024}"
RUNS="${BENCH_RUNS:-5}"
TARGET="0.70"

for tool in "$HUBD" "$NGINX"; do
  [[ -x "$tool" ]] || { echo "error: $tool not found or not executable" >&2; exit 2; }
done
for tool in curl python3 sha256sum; do
  command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 2; }
done
[[ "$SIZE_MB" =~ ^[1-9][0-9]*$ ]] || { echo "error: BENCH_SIZE_MB must be a positive integer" >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "error: BENCH_RUNS must be a positive integer" >&2; exit 2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/hubd-serve.XXXXXX")"
hubd_pid=""
nginx_pid=""

stop_pid() {
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  stop_pid "$hubd_pid"
  stop_pid "$nginx_pid"
  if [[ $rc -ne 0 ]]; then
    for log in "$tmp/hubd.err" "$tmp/nginx/logs/error.log"; do
      if [[ -s "$log" ]]; then
        echo "--- $log (tail) ---" >&2
        tail -n 20 "$log" >&2
      fi
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_http URL: until the server answers anything at all (any HTTP status).
wait_for_http() {
  local url="$1" i
  for i in $(seq 1 200); do
    if curl -s -o /dev/null "$url"; then
      return 0
    fi
    sleep 0.05
  done
  echo "error: no answer from $url" >&2
  return 1
}

# ---- 1. Data ------------------------------------------------------------------------------------
ns="bench"
name="blob"
file="model.bin"
mkdir -p "$tmp/src" "$tmp/root"
echo "creating ${SIZE_MB} MiB random file..." >&2
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$tmp/src/$file"
size_bytes="$(stat -c %s "$tmp/src/$file")"
want_sha="$(sha256sum "$tmp/src/$file" | cut -d' ' -f1)"

"$HUBD" import --root "$tmp/root" --repo "models/$ns/$name" -m "bench" \
  "$tmp/src" >"$tmp/import.log" 2>&1 || { cat "$tmp/import.log" >&2; exit 1; }
object="$tmp/root/objects/${want_sha:0:2}/$want_sha"
[[ -f "$object" ]] || { echo "error: LFS object $object missing after import" >&2; exit 1; }
# The original is no longer needed; both servers read the same object file.
rm -f "$tmp/src/$file"

# ---- 2. hf-hubd ---------------------------------------------------------------------------------
"$HUBD" serve --root "$tmp/root" --listen 127.0.0.1:0 --cdn-listen 127.0.0.1:0 \
  >"$tmp/hubd.out" 2>"$tmp/hubd.err" &
hubd_pid=$!
api_url=""
for _ in $(seq 1 200); do
  api_url="$(head -n 1 "$tmp/hubd.out" 2>/dev/null || true)"
  [[ -n "$api_url" ]] && break
  kill -0 "$hubd_pid" 2>/dev/null || { echo "error: hf-hubd exited" >&2; exit 1; }
  sleep 0.05
done
[[ -n "$api_url" ]] || { echo "error: hf-hubd printed no URL" >&2; exit 1; }
api_url="${api_url%/}"

resolve_url="$api_url/$ns/$name/resolve/main/$file"
headers="$(curl -sS -I "$resolve_url")"
status="$(printf '%s\n' "$headers" | head -n 1 | tr -d '\r')"
hubd_url="$(printf '%s\n' "$headers" | tr -d '\r' | awk 'tolower($1) == "location:" { print $2; exit }')"
if [[ -z "$hubd_url" ]]; then
  echo "error: resolve did not redirect ($status):" >&2
  printf '%s\n' "$headers" >&2
  exit 1
fi

# ---- 3. nginx -----------------------------------------------------------------------------------
ngx="$tmp/nginx"
mkdir -p "$ngx/logs" "$ngx/html" "$ngx/client_body" "$ngx/proxy" "$ngx/fastcgi" "$ngx/uwsgi" \
  "$ngx/scgi"
ln -s "$object" "$ngx/html/$file"
nginx_port="$(free_port)"
user_line=""
if [[ $EUID -eq 0 ]]; then
  # Workers must be able to read the 0700 temp dir.
  user_line="user root root;"
fi
cat >"$ngx/nginx.conf" <<EOF
$user_line
worker_processes auto;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000;
  client_body_temp_path $ngx/client_body;
  proxy_temp_path $ngx/proxy;
  fastcgi_temp_path $ngx/fastcgi;
  uwsgi_temp_path $ngx/uwsgi;
  scgi_temp_path $ngx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $ngx/html;
    disable_symlinks off;
  }
}
EOF
"$NGINX" -p "$ngx" -e "$ngx/logs/error.log" -c "$ngx/nginx.conf" -g 'daemon off;' \
  >"$ngx/logs/stdout.log" 2>&1 &
nginx_pid=$!
nginx_url="http://127.0.0.1:$nginx_port/$file"
wait_for_http "$nginx_url"
kill -0 "$nginx_pid" 2>/dev/null || { echo "error: nginx exited" >&2; exit 1; }

# ---- 4. Correctness (untimed) -------------------------------------------------------------------
check_sha() {
  local label="$1" url="$2" got
  got="$(curl -sS --fail "$url" | sha256sum | cut -d' ' -f1)"
  if [[ "$got" != "$want_sha" ]]; then
    echo "error: $label served sha256 $got, want $want_sha" >&2
    exit 1
  fi
  echo "sha256 ok: $label" >&2
}
check_sha hf-hubd "$hubd_url"
check_sha nginx "$nginx_url"

# ---- 5. Timed runs ------------------------------------------------------------------------------
cat "$object" >/dev/null   # warm the page cache
download() {
  local url="$1" out
  out="$(curl -s --fail -o /dev/null -w '%{speed_download} %{size_download}' "$url")"
  local speed="${out% *}" got="${out#* }"
  if [[ "$got" != "$size_bytes" ]]; then
    echo "error: short download from $url ($got of $size_bytes bytes)" >&2
    exit 1
  fi
  echo "$speed"
}
hubd_speeds=()
nginx_speeds=()
for run in $(seq 1 "$RUNS"); do
  # Alternate which server goes first so neither one always follows the other.
  if (( run % 2 )); then
    hubd_speeds+=("$(download "$hubd_url")")
    nginx_speeds+=("$(download "$nginx_url")")
  else
    nginx_speeds+=("$(download "$nginx_url")")
    hubd_speeds+=("$(download "$hubd_url")")
  fi
  printf 'run %d/%d: hf-hubd %.2f GB/s, nginx %.2f GB/s\n' "$run" "$RUNS" \
    "$(python3 -c "print(${hubd_speeds[-1]}/1e9)")" \
    "$(python3 -c "print(${nginx_speeds[-1]}/1e9)")" >&2
done

# ---- 6. Report ----------------------------------------------------------------------------------
python3 - "$TARGET" "$size_bytes" "${hubd_speeds[*]}" "${nginx_speeds[*]}" <<'EOF'
import statistics, sys
target = float(sys.argv[1])
size = int(sys.argv[2])
rows = {"hf-hubd": [float(x) / 1e9 for x in sys.argv[3].split()],
        "nginx": [float(x) / 1e9 for x in sys.argv[4].split()]}
print(f"file: {size} bytes; GB = 1e9 bytes")
print(f"{'server':<8} | {'median GB/s':>11} | {'min':>6} | {'max':>6} | {'runs':>4}")
print(f"{'-'*8}-+-{'-'*11}-+-{'-'*6}-+-{'-'*6}-+-{'-'*4}")
for server, v in rows.items():
    print(f"{server:<8} | {statistics.median(v):>11.2f} | {min(v):>6.2f} | {max(v):>6.2f} | {len(v):>4}")
ratio = statistics.median(rows["hf-hubd"]) / statistics.median(rows["nginx"])
print(f"ratio hf-hubd/nginx = {ratio:.2f}")
print(f"target >= {target:.2f}: {'PASS' if ratio >= target else 'FAIL'}")
EOF
