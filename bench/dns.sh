#!/usr/bin/env bash
# Name-server benchmark (issue 9). dnsperf sends the same query mix to
#   1. NSD    (RRL off; a server process per CPU, sharing the port by
#              SO_REUSEPORT),
#   2. Knot   (RRL off: no rrl module configured; a UDP worker per CPU),
#   3. pail   (`pail dns --rate-limit 0`: a socket per CPU, SO_REUSEPORT),
# all serving the same example.test zone on loopback, started once, each
# with as many workers as the machine has CPUs; then
# pail's policy answers (a CDN pool name, ECS in every query, chosen by
# location and weight) are measured apart from its static ones. The four
# measurements take turns, RUNS times (NSD, Knot, pail static, pail policy,
# NSD, ...; see bench/lib.sh); each reports queries per second and average
# latency, and the end the median and spread of each and of the ratios.
#
# Usage: [RUNS=3] bench/dns.sh [SECONDS] [CLIENTS]   (defaults 30 and 20:
# shorter runs on a shared machine swing by 10% and more)
# Needs root to install nsd, knot and dnsperf when they are missing.
set -euo pipefail
SECONDS_PER_RUN=${1:-30}
CLIENTS=${2:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pail-dnsbench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
CPUS=$(nproc)
NSD_PORT=15353 KNOT_PORT=15354 PAIL_PORT=15355
. "$(dirname "$0")/lib.sh"

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	rm -rf "$WORK"
}
trap cleanup EXIT

missing=()
for p in nsd knot dnsperf dnsutils; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packages' own daemons are not wanted: this script runs its own.
systemctl stop nsd knot 2>/dev/null || true

# The zone: /work/shared/peers/example.test.zone, the same for all three.
mkdir -p "$WORK/dns/nsd" "$WORK/knot"
cat >"$WORK/dns/example.test.zone" <<'ZONE'
$ORIGIN example.test.
$TTL 300
@   IN SOA ns1.example.test. hostmaster.example.test. 1 3600 900 604800 300
    IN NS  ns1.example.test.
    IN MX  10 mail.example.test.
    IN TXT "v=spf1 ip4:127.0.0.1 -all"
ns1 IN A   127.0.0.1
mail IN A  127.0.0.1
mail IN AAAA ::1
www IN A   127.0.0.1
www6 IN AAAA ::1
alias IN CNAME www.example.test.
_imap._tcp IN SRV 0 1 10143 mail.example.test.
ZONE

# Static queries: every type in the zone, a CNAME, NXDOMAIN and NODATA.
cat >"$WORK/static.txt" <<'Q'
www.example.test A
mail.example.test A
mail.example.test AAAA
example.test MX
example.test TXT
example.test SOA
example.test NS
alias.example.test A
_imap._tcp.example.test SRV
www6.example.test AAAA
nope.example.test A
www.example.test MX
Q
# Policy queries: the pool name (ECS is added by dnsperf's -E below).
echo "cdn.example.test A" >"$WORK/policy.txt"

cat >"$WORK/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  port: $NSD_PORT
  server-count: $CPUS
  reuseport: yes
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$WORK/dns"
  pidfile: "$WORK/dns/nsd/nsd.pid"
  xfrdfile: "$WORK/dns/nsd/xfrd.state"
  zonelistfile: "$WORK/dns/nsd/zone.list"
  xfrdir: "$WORK/dns/nsd"
  logfile: "$WORK/dns/nsd/nsd.log"
  hide-version: yes
  verbosity: 1
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: example.test
  zonefile: example.test.zone
CONF

cat >"$WORK/knot.conf" <<CONF
server:
    rundir: "$WORK/knot"
    user: root:root
    listen: 127.0.0.1@$KNOT_PORT
    udp-workers: $CPUS
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "$WORK/knot"
template:
  - id: default
    storage: "$WORK/dns"
    semantic-checks: off
zone:
  - domain: example.test
    file: example.test.zone
CONF

cat >"$WORK/pail.toml" <<CONF
[dns]
zone_files = ["$WORK/dns/example.test.zone"]

[[dns.pools]]
name = "cdn.example.test"
ttl = 30
edges = [
  { address = "192.0.2.1", location = "eu", weight = 2 },
  { address = "192.0.2.2", location = "eu", weight = 1 },
  { address = "192.0.2.3", location = "us" },
  { address = "192.0.2.4", location = "35.68,139.69" },
]

[dns.locations]
"10.1.0.0/16" = "eu"
"10.2.0.0/16" = "us"
"10.3.0.0/16" = "35.6,139.7"
CONF

echo "building pail"
(cd "$ROOT" && go build -o "$WORK/pail" ./cmd/pail)

nsd -c "$WORK/nsd.conf" -d >"$WORK/nsd.out" 2>&1 &
PIDS+=($!)
knotd -c "$WORK/knot.conf" >"$WORK/knot.out" 2>&1 &
PIDS+=($!)
"$WORK/pail" -c "$WORK/pail.toml" dns --listen 127.0.0.1:$PAIL_PORT --rate-limit 0 >"$WORK/pail.out" 2>&1 &
PIDS+=($!)

for port in $NSD_PORT $KNOT_PORT $PAIL_PORT; do
	for _ in $(seq 50); do
		dig +short +time=1 +tries=1 @127.0.0.1 -p $port www.example.test A 2>/dev/null | grep -q 127.0.0.1 && continue 2
		sleep 0.2
	done
	echo "server on port $port did not answer" >&2
	cat "$WORK"/*.out >&2
	exit 1
done
if [ "$(dig +short @127.0.0.1 -p $PAIL_PORT +subnet=10.2.0.0/24 cdn.example.test A)" != 192.0.2.3 ]; then
	echo "pail's pool does not answer as configured" >&2
	exit 1
fi

# run NAME RUN PORT FILE [dnsperf args...]: prints "NAME run RUN qps
# latency_ms lost" and keeps the qps in WORK/qps.NAME.RUN.
run() {
	local name=$1 r=$2 port=$3 file=$4
	shift 4
	local out
	out=$(dnsperf -s 127.0.0.1 -p "$port" -d "$file" -l "$SECONDS_PER_RUN" -c "$CLIENTS" -q 200 "$@" 2>&1)
	local qps lat lost
	qps=$(awk '/Queries per second:/ {print $4}' <<<"$out")
	lat=$(awk '/Average Latency \(s\):/ {printf "%.3f", $4*1000}' <<<"$out")
	lost=$(awk '/Queries lost:/ {print $3}' <<<"$out")
	[ -n "$qps" ] || { echo "dnsperf against $name gave no figure:" >&2; echo "$out" >&2; exit 1; }
	printf "%-12s run %d %12.0f qps   %8s ms avg latency   lost %s\n" "$name" "$r" "$qps" "$lat" "$lost"
	echo "$qps" >"$WORK/qps.$name.$r"
}

echo "dnsperf: ${SECONDS_PER_RUN}s per run, $CLIENTS clients, $RUNS runs each, in turn; $CPUS CPUs (NSD server-count $CPUS, Knot udp-workers $CPUS, pail $CPUS sockets), loopback"
echo "-- pail $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); $(nsd -v 2>&1 | head -1); Knot $(knotd -V | awk '{print $NF}')"
q() { cat "$WORK/qps.$1.$2"; }
static_ratios=() policy_ratios=() policy_peer_ratios=() nsd_ratios=() knot_ratios=()
for r in $(seq "$RUNS"); do
	run nsd "$r" $NSD_PORT "$WORK/static.txt"
	run knot "$r" $KNOT_PORT "$WORK/static.txt"
	run pail-static "$r" $PAIL_PORT "$WORK/static.txt"
	# ECS option 8: family 1, source /24, scope 0, address 10.1.7.0 (RFC 7871 §6).
	run pail-policy "$r" $PAIL_PORT "$WORK/policy.txt" -E 8:000118000a0107
	best=$(sort -g "$WORK/qps.nsd.$r" "$WORK/qps.knot.$r" | tail -1)
	static_ratios+=("$(ratio "$(q pail-static "$r")" "$best")")
	policy_ratios+=("$(ratio "$(q pail-policy "$r")" "$(q pail-static "$r")")")
	policy_peer_ratios+=("$(ratio "$(q pail-policy "$r")" "$best")")
	nsd_ratios+=("$(ratio "$(q pail-static "$r")" "$(q nsd "$r")")")
	knot_ratios+=("$(ratio "$(q pail-static "$r")" "$(q knot "$r")")")
	printf '             run %d  pail static / fastest peer: %.2fx; pail policy / fastest peer: %.2fx; pail policy / pail static: %.2fx\n' \
		"$r" "${static_ratios[-1]}" "${policy_peer_ratios[-1]}" "${policy_ratios[-1]}"
done

echo "== results over $RUNS runs (queries per second)"
for name in nsd knot pail-static pail-policy; do
	vals=()
	for r in $(seq "$RUNS"); do vals+=("$(q "$name" "$r")"); done
	summary "$(printf '%-12s' "$name")" "%.0f q/s" "${vals[@]}"
done
summary "pail static / NSD:" "%.2fx" "${nsd_ratios[@]}"
summary "pail static / Knot:" "%.2fx" "${knot_ratios[@]}"
summary "pail policy / pail static: ratio" "%.2fx" "${policy_ratios[@]}"
summary "pail policy / fastest peer's static (goal >= 1): ratio" "%.2fx" "${policy_peer_ratios[@]}"
summary "pail static / fastest peer (goal >= 1): ratio" "%.2fx" "${static_ratios[@]}"
