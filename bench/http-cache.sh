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
#   [PORT_BASE=18080] bench/http-cache.sh [SECONDS] [CONNECTIONS]
#
# It installs nginx, varnish and wrk with apt-get when they are missing.
set -euo pipefail
secs=${1:-5}
conns=${2:-50}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/pail-http-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

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
nginx -c "$dir/nginx.conf" -p "$dir/" & pids+=($!)
varnishd -F -a 127.0.0.1:$VARNISH -b 127.0.0.1:$ORIGIN -n "$dir/varnish" -s malloc,256m \
	-T 127.0.0.1:$VADMIN -p default_ttl=0 -p default_grace=0 >"$dir/logs/varnish.log" 2>&1 & pids+=($!)
(cd "$root" && go build -o "$dir/pail" ./cmd/pail)
"$dir/pail" proxy --listen 127.0.0.1:$PAIL --origin http://127.0.0.1:$ORIGIN --cache-bytes $((512 << 20)) >"$dir/logs/pail.log" 2>&1 & pids+=($!)
"$dir/pail" proxy --no-fast-path --listen 127.0.0.1:$PAILNET --origin http://127.0.0.1:$ORIGIN --cache-bytes $((64 << 20)) >"$dir/logs/pail-nethttp.log" 2>&1 & pids+=($!)

for port in $ORIGIN $PAIL $NGINX $VARNISH $PAILNET; do
	ok=
	for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/hot.txt" && ok=1 && break; sleep 0.1; done
	[[ -n $ok ]] || { echo "http-cache: port $port does not answer 200" >&2; exit 1; }
done

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
printf '%-12s %-5s %12s %10s %10s %10s\n' cache mode req/s p50 p90 p99
for mode in hot cold; do
	peers=(pail:$PAIL nginx:$NGINX varnish:$VARNISH)
	[[ $mode == hot ]] && peers+=(pail-nethttp:$PAILNET)
	[[ $mode == cold ]] && peers+=(origin:$ORIGIN pail-full:$PAILNET)
	for peer in "${peers[@]}"; do
		name=${peer%%:*} port=${peer##*:}
		# Fill the 64 MB cache (unmeasured) so that every measured miss evicts.
		[[ $name == pail-full ]] && cold "$((secs + 3))" "$port" fill >/dev/null
		read -r r a b c < <(run "$name" "$port" "$mode")
		rps[$name-$mode]=$r
		printf '%-12s %-5s %12s %10s %10s %10s\n' "$name" "$mode" "$r" "$a" "$b" "$c"
	done
done
echo
for mode in hot cold; do
	for peer in nginx varnish; do
		awk -v a="${rps[pail-$mode]}" -v b="${rps[$peer-$mode]}" -v m="$mode" -v p="$peer" \
			'BEGIN { printf "pail/%s %s: %.2f\n", p, m, a / b }'
	done
done
awk -v a="${rps[pail-full-cold]}" -v b="${rps[nginx-cold]}" \
	'BEGIN { printf "pail-full/nginx cold: %.2f (pail with a full cache against nginx filling its own)\n", a / b }'
awk -v a="${rps[pail-hot]}" -v b="${rps[pail-nethttp-hot]}" \
	'BEGIN { printf "pail/pail-nethttp hot: %.2f (the fast path'"'"'s gain)\n", a / b }'
echo "(wrk -t2 -c$conns -d${secs}s on $(nproc) cores shared by load generator, caches and origin)"
