#!/usr/bin/env bash
# http-cache.sh compares pail's web cache with nginx proxy_cache and
# Varnish on this machine, in one run: the same origin (nginx serving a
# 10 KB file with Cache-Control: max-age=3600), the same wrk load, hot
# (one cached object) and cold (every request a new URL, so every request
# is a miss that the cache stores). Prints requests/s, latency percentiles
# and pail's ratio to each peer. A second pail with --no-fast-path (every
# hit through net/http) runs the hot test too, so the fast path's gain is
# measured in the same run. nginx runs one worker per core (auto), as
# pail and Varnish use every core.
#
# Two reference rows go with the cold test: the origin asked directly
# (how fast it serves when no cache stands in front, so whether it limits
# the caches), and pail-full: the second pail, with a 64 MB budget,
# measured after a fill run, so that every miss evicts and its memory is
# reused. The cold test proper is a cache filling from empty: each stored
# object is new memory, which the kernel faults in page by page; pail-full
# shows the miss path without that cost.
#
# The whole set is measured RUNS times (see bench/lib.sh): each run starts
# the origin and the caches afresh, empty, and measures them in turn (hot:
# pail, nginx, Varnish, pail-nethttp; cold: pail, nginx, Varnish, origin,
# pail-full), so load that comes and goes falls on all of them; the end
# prints the median and spread of each figure and of each ratio. SECONDS
# is the length of each wrk measurement.
#
#   [RUNS=3] [PORT_BASE=18080] bench/http-cache.sh [SECONDS] [CONNECTIONS]   (defaults 10 50)
#
# It installs nginx, varnish and wrk with apt-get when they are missing.
set -euo pipefail
secs=${1:-10}
conns=${2:-50}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/pail-http-bench.XXXXXX)
pids=()
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pids=(); }
cleanup() { stop_servers; rm -rf "$dir"; }
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

need=()
command -v nginx >/dev/null || need+=(nginx)
command -v varnishd >/dev/null || need+=(varnish)
command -v wrk >/dev/null || need+=(wrk)
if ((${#need[@]})); then
	sudo=(); [[ $(id -u) -ne 0 ]] && sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
PATH=$PATH:/usr/sbin

# Ports BASE..BASE+5 on loopback; PORT_BASE moves them when another run
# holds them (keep them below the ephemeral range, 32768 and up).
base=${PORT_BASE:-18080}
ORIGIN=$base PAIL=$((base + 1)) NGINX=$((base + 2)) VARNISH=$((base + 3)) VADMIN=$((base + 4)) PAILNET=$((base + 5))
mkdir -p "$dir/www" "$dir/tmp" "$dir/cache" "$dir/logs"
# nginx's workers run as an unprivileged user: let them read and write.
chmod 755 "$dir" "$dir/www"
chmod 777 "$dir/tmp" "$dir/cache"
head -c 10240 /dev/urandom | base64 -w 76 | head -c 10240 >"$dir/www/obj.txt"
cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;
  types { text/plain txt; }
  # Kept-alive connections to the origin, as pail and Varnish keep them.
  upstream origin { server 127.0.0.1:$ORIGIN; keepalive 64; }
  proxy_cache_path $dir/cache levels=1:2 keys_zone=c:64m max_size=1g inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:$ORIGIN;
    root $dir/www;
    location / { add_header Cache-Control "max-age=3600"; try_files /obj.txt =404; }
  }
  server {
    listen 127.0.0.1:$NGINX;
    location / { proxy_pass http://origin; proxy_cache c; proxy_http_version 1.1;
                 proxy_set_header Connection ""; add_header X-Cache \$upstream_cache_status; }
  }
}
CONF
(cd "$root" && go build -o "$dir/pail" ./cmd/pail)
# start_servers: the origin and every cache, with empty caches.
start_servers() {
	rm -rf "$dir/cache"/* "$dir/varnish"
	nginx -c "$dir/nginx.conf" -p "$dir/" & pids+=($!)
	varnishd -F -a 127.0.0.1:$VARNISH -b 127.0.0.1:$ORIGIN -n "$dir/varnish" -s malloc,256m \
		-T 127.0.0.1:$VADMIN -p default_ttl=0 -p default_grace=0 >>"$dir/logs/varnish.log" 2>&1 & pids+=($!)
	"$dir/pail" proxy --listen 127.0.0.1:$PAIL --origin http://127.0.0.1:$ORIGIN --cache-bytes $((512 << 20)) >>"$dir/logs/pail.log" 2>&1 & pids+=($!)
	"$dir/pail" proxy --no-fast-path --listen 127.0.0.1:$PAILNET --origin http://127.0.0.1:$ORIGIN --cache-bytes $((64 << 20)) >>"$dir/logs/pail-nethttp.log" 2>&1 & pids+=($!)
	local port ok
	for port in $ORIGIN $PAIL $NGINX $VARNISH $PAILNET; do
		ok=
		for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/hot.txt" && ok=1 && break; sleep 0.1; done
		[[ -n $ok ]] || { echo "http-cache: port $port does not answer 200" >&2; exit 1; }
	done
}

# Every cold URL is new: a per-run prefix (wrk's math.random repeats its
# sequence from run to run), the thread and a counter.
cat >"$dir/cold.lua" <<'LUA'
local counter = 0
local tid = 0
function setup(thread) tid = tid + 1; thread:set("id", tid) end
function init(args) prefix = args[1] end
function request()
  counter = counter + 1
  return wrk.format("GET", "/cold/" .. prefix .. "-" .. id .. "-" .. counter .. ".txt")
end
LUA
# cold SECONDS PORT TAG: wrk's cold load; each run passes its own TAG.
cold() {
	wrk -t2 -c"$conns" -d"$1s" --latency -s "$dir/cold.lua" "http://127.0.0.1:$2/" -- "$3"
}

# run NAME PORT MODE: prints "rps p50 p90 p99"
run() {
	local port=$2 mode=$3 out
	if [[ $mode == hot ]]; then
		curl -sf -o /dev/null "http://127.0.0.1:$port/hot.txt"
		out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/hot.txt")
	else
		out=$(cold "$secs" "$port" "$1")
	fi
	local rps p50 p90 p99
	rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
	p50=$(awk '$1=="50%" {print $2}' <<<"$out")
	p90=$(awk '$1=="90%" {print $2}' <<<"$out")
	p99=$(awk '$1=="99%" {print $2}' <<<"$out")
	echo "$rps $p50 $p90 $p99"
}

declare -A rps
echo "wrk -t2 -c$conns -d${secs}s per measurement, $RUNS runs, on $(nproc) cores shared by load generator, caches and origin"
echo "-- pail $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'); $(nginx -v 2>&1 | cut -d' ' -f3); $(varnishd -V 2>&1 | head -1 | sed 's/.*(\(varnish-[^ ]*\).*/\1/')"
printf '%-12s %-5s %3s %12s %10s %10s %10s\n' cache mode run req/s p50 p90 p99
for r in $(seq "$RUNS"); do
	start_servers
	for mode in hot cold; do
		peers=(pail:$PAIL nginx:$NGINX varnish:$VARNISH)
		[[ $mode == hot ]] && peers+=(pail-nethttp:$PAILNET)
		[[ $mode == cold ]] && peers+=(origin:$ORIGIN pail-full:$PAILNET)
		for peer in "${peers[@]}"; do
			name=${peer%%:*} port=${peer##*:}
			# Fill the 64 MB cache (unmeasured) so that every measured miss evicts.
			[[ $name == pail-full ]] && cold "$((secs + 3))" "$port" "fill$r" >/dev/null
			read -r rate a b c < <(run "$name$r" "$port" "$mode")
			[[ -n $rate ]] || { echo "http-cache: wrk gave no figure for $name $mode" >&2; exit 1; }
			rps[$name-$mode-$r]=$rate
			printf '%-12s %-5s %3d %12s %10s %10s %10s\n' "$name" "$mode" "$r" "$rate" "$a" "$b" "$c"
		done
	done
	stop_servers
done

# figures NAME-MODE: the requests per second of every run.
figures() { local r; for r in $(seq "$RUNS"); do echo "${rps[$1-$r]}"; done; }
# ratios A-MODE B-MODE: A / B of every run.
ratios() { local r; for r in $(seq "$RUNS"); do ratio "${rps[$1-$r]}" "${rps[$2-$r]}"; done; }
echo
echo "== results over $RUNS runs (requests per second)"
for key in pail-hot nginx-hot varnish-hot pail-nethttp-hot pail-cold nginx-cold varnish-cold origin-cold pail-full-cold; do
	# shellcheck disable=SC2046 # one figure per word
	summary "$(printf '%-17s' "$key")" "%.0f req/s" $(figures "$key")
done
# shellcheck disable=SC2046
{
	summary "pail/pail-nethttp hot (the fast path's gain):" "%.2fx" $(ratios pail-hot pail-nethttp-hot)
	summary "pail-full/nginx cold (pail with a full cache against nginx filling its own):" "%.2fx" $(ratios pail-full-cold nginx-cold)
	summary "pail/varnish cold:" "%.2fx" $(ratios pail-cold varnish-cold)
	summary "pail/nginx cold:" "%.2fx" $(ratios pail-cold nginx-cold)
	summary "pail/varnish hot:" "%.2fx" $(ratios pail-hot varnish-hot)
	summary "pail/nginx hot: ratio" "%.2fx" $(ratios pail-hot nginx-hot)
}
