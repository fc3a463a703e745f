#!/usr/bin/env bash
# Submission benchmark: what DKIM signing costs. bench/submitload sends N
# messages of SIZE bytes over SESSIONS parallel sessions (EHLO, STARTTLS,
# AUTH PLAIN, then MAIL/RCPT/DATA/RSET on one connection per session) to
# two pail instances built from the tree, identical but for
# [dkim] enabled = true (every message signed with the domain's RSA-2048
# and Ed25519 keys as it is queued) and false. Each relays through its
# queue to one smtp-sink ([outbound] routes far.test to it), and the clock
# runs from the first connection until the pail's mail log shows N more
# "delivered" lines: each message accepted (fsynced into the queue), signed
# or not, and relayed. RUNS times, alternately (signed, unsigned, signed,
# ...; see bench/lib.sh); both pails are started before the first run and
# kept up. Each pail runs in its own cgroup, so CPU time counts everything
# it does, the TLS and the relaying included; the difference between the
# two is the signing.
#
# Before the timed runs, one message through each pail to a second
# smtp-sink that dumps what it receives shows that the signed side's mail
# carries two DKIM-Signature fields (rsa-sha256 and ed25519-sha256) and the
# unsigned side's none. It also logs in once on each side, so that the
# timed runs' logins are answered from pail's auth cache on both sides
# alike rather than the first run's paying for argon2id.
#
# Usage: [RUNS=3] bench/submission.sh [N] [SESSIONS] [SIZE]   (defaults 5000 10 4096)
# Needs root (apt-get, cgroups) and Go.
set -euo pipefail
N=${1:-5000}
SESSIONS=${2:-10}
SIZE=${3:-4096}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pail-bench-sub.XXXXXX)
chmod 755 "$WORK" # nobody (smtp-sink) must reach its dump directory
GROUP_PREFIX=pailbench-sub-
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
PIDS=()

SINK=13626  # smtp-sink every timed message is relayed to
CHECK=13627 # smtp-sink that dumps the check messages
declare -A PORT=([signed]=13587 [unsigned]=13588)
# A run must finish within this many seconds after the load ends: the
# queue relays as fast as it accepts, so only a stuck relay takes longer.
DRAIN_LIMIT=300

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	for g in sink signed unsigned; do remove_group "$g"; done
	rm -rf "$WORK"
}
trap cleanup EXIT

need_packages postfix bc

# delivered SIDE: the number of "delivered" lines in SIDE's mail log.
delivered() { grep -c ' delivered ' "$WORK/$1/mail.log" || true; }

# wait_delivered SIDE COUNT: wait until SIDE's mail log has COUNT
# delivered lines, failing after DRAIN_LIMIT seconds.
wait_delivered() {
	local deadline=$((SECONDS + DRAIN_LIMIT))
	until [ "$(delivered "$1")" -ge "$2" ]; do
		[ $SECONDS -lt $deadline ] || { echo "$1: $(delivered "$1") of $2 messages delivered after ${DRAIN_LIMIT}s" >&2; tail -3 "$WORK/$1/mail.log" >&2; exit 1; }
		sleep 0.05
	done
}

# measure SIDE: load SIDE's pail, wait until all N are delivered, print
# "seconds cpu_seconds".
measure() {
	local side=$1 base t0 c0 t1 c1
	base=$(delivered "$side")
	c0=$(cpu_ns "$side"); t0=$(now)
	"$WORK/submitload" -addr "127.0.0.1:${PORT[$side]}" -user ann@hill.test -pass pw \
		-to someone@far.test -n "$N" -s "$SESSIONS" -size "$SIZE" >"$WORK/$side.load" ||
		{ echo "$side: submitload failed:" >&2; cat "$WORK/$side.load" >&2; exit 1; }
	wait_delivered "$side" $((base + N))
	t1=$(now); c1=$(cpu_ns "$side")
	echo "$(echo "$t1 - $t0" | bc -l) $(echo "($c1 - $c0) / 1000000000" | bc -l)"
}
report() { # name run seconds cpu
	printf '%-9s run %d %7.0f msg/s  %6.2f CPU s per 1000 msg\n' "$1" "$2" "$(echo "$N / $3" | bc -l)" "$(echo "$4 * 1000 / $N" | bc -l)"
}

echo "== submitload: $N messages of $SIZE bytes per run, $SESSIONS sessions (STARTTLS, AUTH PLAIN), relayed to smtp-sink; $RUNS runs each, alternating; $(nproc) cores; $(uname -sr)"

(cd "$ROOT" && go build -o "$WORK/pail" ./cmd/pail && go build -o "$WORK/submitload" ./bench/submitload)

mkdir -p "$WORK/dump"
chown nobody "$WORK/dump"
spawn sink smtp-sink -u nobody 127.0.0.1:$SINK 1000 >/dev/null
spawn sink smtp-sink -u nobody -d "$WORK/dump/%H%M%S." 127.0.0.1:$CHECK 100 >/dev/null
wait_port $SINK
wait_port $CHECK

for side in signed unsigned; do
	D=$WORK/$side
	mkdir -p "$D"
	enabled=false; [ "$side" = signed ] && enabled=true
	cat >"$D/pail.toml" <<CONF
hostname = "mx.hill.test"
domains = ["hill.test"]
data_dir = "$D/data"
[listen]
submission = "127.0.0.1:${PORT[$side]}"
[limits]
max_connections_per_ip = 1000
[outbound]
routes = { "far.test" = "127.0.0.1:$SINK", "check.test" = "127.0.0.1:$CHECK" }
mta_sts = false
dane = false
[dkim]
enabled = $enabled
[log]
mail_file = "$D/mail.log"
CONF
	echo pw | "$WORK/pail" user add -c "$D/pail.toml" --password-stdin ann@hill.test >/dev/null
	spawn "$side" "$WORK/pail" serve -c "$D/pail.toml" 2>"$D/pail.err"
	wait_port "${PORT[$side]}"
done
echo "-- pail $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); Postfix smtp-sink $(postconf -d -h mail_version)"

# The check: one message through each side to the dumping sink.
for side in signed unsigned; do
	rm -f "$WORK"/dump/*
	"$WORK/submitload" -addr "127.0.0.1:${PORT[$side]}" -user ann@hill.test -pass pw \
		-to check@check.test -n 1 -s 1 -size "$SIZE" >"$WORK/$side.load" ||
		{ echo "$side: check message failed:" >&2; cat "$WORK/$side.load" >&2; exit 1; }
	wait_delivered "$side" 1
	f=
	for _ in $(seq 100); do f=$(find "$WORK/dump" -type f | head -1); [ -n "$f" ] && break; sleep 0.05; done
	[ -n "$f" ] || { echo "$side: the check message did not reach the dumping sink" >&2; exit 1; }
	sleep 0.2 # the sink writes the dump as the transaction ends
	algs=$(grep -a -i '^DKIM-Signature:' -A3 "$f" | grep -a -o 'a=[a-z0-9-]*' | sort | paste -sd ' ' || true)
	want=""; [ "$side" = signed ] && want="a=ed25519-sha256 a=rsa-sha256"
	[ "$algs" = "$want" ] || { echo "$side: relayed message has DKIM-Signature algorithms '$algs', want '$want'" >&2; exit 1; }
	echo "-- $side: relayed message carries DKIM-Signature ${algs:-(none)}"
done

s_rate=() u_rate=() s_cpu=() u_cpu=() ratios=() extra=()
for run in $(seq "$RUNS"); do
	read -r ss sc < <(measure signed)
	report signed "$run" "$ss" "$sc"
	read -r us uc < <(measure unsigned)
	report unsigned "$run" "$us" "$uc"
	s_rate+=("$(echo "$N / $ss" | bc -l)") u_rate+=("$(echo "$N / $us" | bc -l)")
	s_cpu+=("$(echo "$sc * 1000 / $N" | bc -l)") u_cpu+=("$(echo "$uc * 1000 / $N" | bc -l)")
	ratios+=("$(ratio "$sc" "$uc")") extra+=("$(echo "($sc - $uc) * 1000 / $N" | bc -l)")
	printf '          run %d  CPU per message signed / unsigned: %.2fx, signing costs %.3f CPU ms per message\n' "$run" "${ratios[-1]}" "${extra[-1]}"
done

# Signed messages are larger by their two DKIM-Signature fields: the
# mean size= of the delivered lines (check messages included) shows it.
mean_size() { sed -n 's/.* delivered .* size=\([0-9]*\).*/\1/p' "$WORK/$1/mail.log" | awk '{ t += $1 } END { printf "%.0f", t / NR }'; }
ms=$(mean_size signed) mu=$(mean_size unsigned)
[ "$ms" -gt "$mu" ] || { echo "signed messages ($ms bytes) are not larger than unsigned ones ($mu bytes)" >&2; exit 1; }
if grep -a 'signing failed\|no keys' "$WORK"/*/pail.err >&2; then echo "pail logged DKIM failures (above)" >&2; exit 1; fi
echo "-- delivered size: signed $ms bytes, unsigned $mu bytes: $((ms - mu)) bytes of signatures per message; no signing failures logged"

echo "== results over $RUNS runs (submission to relayed, CPU of the whole pail)"
summary "signed   " "%.0f msg/s" "${s_rate[@]}"
summary "unsigned " "%.0f msg/s" "${u_rate[@]}"
summary "signed   " "%.2f CPU s per 1000 msg" "${s_cpu[@]}"
summary "unsigned " "%.2f CPU s per 1000 msg" "${u_cpu[@]}"
summary "signing costs" "%.3f CPU ms per message" "${extra[@]}"
summary "CPU per message signed / unsigned: ratio" "%.2fx" "${ratios[@]}"
