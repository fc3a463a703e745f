#!/usr/bin/env bash
# Idle-connection benchmark. bench/imapload -idle opens SESSIONS IMAP
# sessions (RAMP at a time), each LOGIN, SELECT INBOX, IDLE, spread over
# ACCOUNTS accounts (INBOX of 10 messages each), holds them HOLD seconds,
# then ends IDLE with DONE + NOOP on each to prove it was still alive,
# against
#   1. pail     ([limits] max_connections and max_connections_per_ip raised);
#   2. Dovecot  (imap-login in high-performance mode; by default idle
#                sessions are hibernated into the imap-hibernate process
#                after 2 s, Dovecot's own set-up for many idle clients;
#                DOVECOT_HIBERNATE=0 keeps one imap process per session);
# on loopback in the same invocation, RUNS times alternately (pail, Dovecot,
# pail, ...; see bench/lib.sh), each run with a server started afresh (so
# that "above the idle server" is the same base every time). Each server runs in its
# own cgroup; near the end of the hold the script sums the resident memory
# of the cgroup's processes, twice: VmRSS (the house figure, which counts
# pages shared between processes once per process) and Pss (shared pages
# divided among their sharers, the fair sum for multi-process servers),
# and divides by the sessions: in total, and above the server's resident
# memory before the run's first connection.
#
# Logins are not what this measures. pail remembers a verified login for
# 15 minutes, so only the first login of each account checks its argon2id
# hash; Dovecot's auth cache keeps the passdb's hash and still verifies
# against it on every login (10 000 argon2id checks take its auth process
# over half an hour here), so Dovecot's passwd-file holds plain passwords;
# the set-up times printed are therefore not comparable. pail's resident memory does
# include what the login storm left behind in Go's heap; the memory is read
# HOLD-3 seconds after the last session went idle, and a HOLD over 120 s
# lets Go's periodic forced collection (every 2 minutes) and scavenger
# return that to the kernel, which is the steady state of a server holding
# idle clients for hours.
#
# Usage: [RUNS=3] bench/idle.sh [SESSIONS] [HOLD] [ACCOUNTS] [RAMP]   (defaults 10000 150 100 4)
# A run takes about 2 × HOLD plus both set-ups (Dovecot's is the longer).
# Needs root (apt-get, cgroups, Dovecot) and a file-descriptor limit above
# SESSIONS for the servers and the client: the script asks for 65536 and
# settles for the hard limit.
set -euo pipefail
SESSIONS=${1:-10000}
HOLD=${2:-150}
ACCOUNTS=${3:-100}
RAMP=${4:-4}
DOVECOT_HIBERNATE=${DOVECOT_HIBERNATE:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pail-bench-idle.XXXXXX)
chmod 755 "$WORK"
GROUP_PREFIX=pailbench-idle-
. "$(dirname "$0")/lib.sh"
PIDS=()
PAIL_PORT=13144
DOVECOT_PORT=14144

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((SESSIONS + 1000)) ]; then
	echo "file-descriptor limit $(ulimit -n) is too low for $SESSIONS sessions" >&2
	exit 1
fi
[ "$HOLD" -ge 10 ] || { echo "HOLD must be at least 10 seconds" >&2; exit 1; }

# Dovecot watches each selected mailbox with an inotify instance, which a
# hibernated session keeps; all sessions run as one uid, and the kernel's
# default is 128 instances per uid. Raised for the run, restored after.
INOTIFY=/proc/sys/fs/inotify/max_user_instances
INOTIFY_OLD=$(cat $INOTIFY)
[ "$INOTIFY_OLD" -ge $((SESSIONS + 1000)) ] || echo $((SESSIONS + 1000)) >$INOTIFY

cleanup() {
	echo "$INOTIFY_OLD" >$INOTIFY
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	for g in pail dovecot; do
		remove_group "$g"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

need_packages dovecot-core dovecot-imapd bc

# mem_kb GROUP KEY FILE: sum of KEY (VmRSS from status, Pss from
# smaps_rollup) over the cgroup's processes, in KiB.
mem_kb() {
	sed "s|.*|/proc/&/$3|" "$(group_dir "$1")/cgroup.procs" |
		xargs -r awk -v k="$2:" '$1 == k { s += $2 } END { print s + 0 }' 2>/dev/null |
		awk '{ s += $1 } END { print s + 0 }'
}
nprocs() { wc -l <"$(group_dir "$1")/cgroup.procs"; }

# measure GROUP PORT: print "sessions rss_kb pss_kb base_rss_kb base_pss_kb
# procs setup_s idle_cpu_percent" (CPU the server spends while holding
# the idle sessions, in percent of one core).
measure() {
	local g=$1 port=$2
	sleep 2
	local base_rss base_pss; base_rss=$(mem_kb "$g" VmRSS status); base_pss=$(mem_kb "$g" Pss smaps_rollup)
	rm -f "$WORK/$g.ready"
	"$WORK/imapload" -addr "127.0.0.1:$port" -idle "$SESSIONS" -hold "${HOLD}s" -ramp "$RAMP" -users "$ACCOUNTS" \
		-ready "$WORK/$g.ready" >"$WORK/$g.out" 2>&1 &
	local c=$!
	until [ -e "$WORK/$g.ready" ]; do
		kill -0 $c 2>/dev/null || { cat "$WORK/$g.out" >&2; exit 1; }
		sleep 0.2
	done
	sleep 3
	local c0; c0=$(cpu_ns "$g")
	sleep $((HOLD - 6)) # settled: Dovecot has hibernated the sessions, Go has scavenged
	local c1; c1=$(cpu_ns "$g")
	local rss pss procs; rss=$(mem_kb "$g" VmRSS status); pss=$(mem_kb "$g" Pss smaps_rollup); procs=$(nprocs "$g")
	local idle_cpu; idle_cpu=$(echo "($c1 - $c0) / 10000000 / ($HOLD - 6)" | bc -l)
	wait $c || { cat "$WORK/$g.out" >&2; exit 1; }
	cat "$WORK/$g.out" >&2
	local lost; lost=$(field lost "$WORK/$g.out")
	[ "$lost" -eq 0 ] || echo "$g: $lost sessions did not survive the hold" >&2
	echo "$(field sessions "$WORK/$g.out") $rss $pss $base_rss $base_pss $procs $(field setup_s "$WORK/$g.out") $idle_cpu"
}
# per_session SESSIONS RSS PSS BASE_RSS BASE_PSS: print "KiB/session by
# RSS, by Pss, above the idle server by RSS, by Pss".
per_session() {
	echo "$(echo "$2 / $1" | bc -l) $(echo "$3 / $1" | bc -l) $(echo "($2 - $4) / $1" | bc -l) $(echo "($3 - $5) / $1" | bc -l)"
}
report() { # name run sessions rss pss base_rss base_pss procs setup_s idle_cpu
	local name=$1 run=$2
	shift 2
	printf '%-8s run %d %5d sessions  RSS %6.1f MiB = %5.1f KiB/session (%5.1f above idle server)  Pss %6.1f MiB = %5.1f KiB/session (%5.1f above)  %d processes  set-up %.1fs  CPU while idle %.1f%%\n' \
		"$name" "$run" "$1" "$(echo "$2 / 1024" | bc -l)" "$(echo "$2 / $1" | bc -l)" "$(echo "($2 - $4) / $1" | bc -l)" \
		"$(echo "$3 / 1024" | bc -l)" "$(echo "$3 / $1" | bc -l)" "$(echo "($3 - $5) / $1" | bc -l)" "$6" "$7" "$8"
}

echo "== IDLE: $SESSIONS IMAP sessions over $ACCOUNTS accounts, held ${HOLD}s, $RAMP set up at a time; $RUNS runs each, alternating; fd limit $(ulimit -n); $(nproc) cores; $(uname -sr)"
(cd "$ROOT" && go build -o "$WORK/pail" ./cmd/pail && go build -o "$WORK/imapload" ./bench/imapload)
"$WORK/imapload" -write-mbox "$WORK/msgs.mbox" -n 10

# 1. pail
cat >"$WORK/pail.toml" <<CONF
hostname = "mx.hill.test"
domains = ["hill.test"]
data_dir = "$WORK/pail-data"
[listen]
imap = "127.0.0.1:$PAIL_PORT"
[limits]
max_connections = $((SESSIONS + 1000))
max_connections_per_ip = $((SESSIONS + 1000))
[log]
mail_file = "$WORK/pail-mail.log"
CONF
for i in $(seq "$ACCOUNTS"); do
	echo pw | "$WORK/pail" user add -c "$WORK/pail.toml" --password-stdin "u$i@hill.test" >/dev/null
	"$WORK/pail" import -c "$WORK/pail.toml" "u$i@hill.test" "$WORK/msgs.mbox" >/dev/null
done
start_pail() {
	spawn pail "$WORK/pail" serve -c "$WORK/pail.toml" 2>>"$WORK/pail.err"
	wait_port $PAIL_PORT
}

# 2. Dovecot, Maildir
D=$WORK/dovecot
mkdir -p "$D/run" "$D/state" "$D/mail"
: >"$D/users"
for i in $(seq "$ACCOUNTS"); do
	echo "u$i@hill.test:{PLAIN}pw" >>"$D/users" # cheap logins: see the header
	"$WORK/imapload" -write-maildir "$D/mail/u$i@hill.test/Maildir" -n 10
done
chown -R 65534:65534 "$D/mail"
hibernate=0
[ "$DOVECOT_HIBERNATE" = 1 ] && hibernate=2s
LIMIT=$((SESSIONS + 1000))
{
	echo "protocols = imap"
	dovecot_common "$D" "always"
	cat <<CONF
mail_max_userip_connections = $LIMIT
imap_hibernate_timeout = $hibernate
# high-performance login: a few long-lived imap-login processes
service imap-login {
  inet_listener imap {
    port = $DOVECOT_PORT
  }
  inet_listener imaps {
    port = 0
  }
  service_count = 0
  process_min_avail = $(nproc)
  client_limit = $LIMIT
  vsz_limit = 1G
}
service imap {
  process_limit = $LIMIT
  unix_listener imap-master {
    user = \$default_internal_user
  }
  extra_groups = \$default_internal_group
}
service imap-hibernate {
  client_limit = $LIMIT
  unix_listener imap-hibernate {
    mode = 0660
    group = \$default_internal_group
  }
}
service stats {
  client_limit = $((3 * LIMIT))
}
service anvil {
  client_limit = $((3 * LIMIT))
}
service auth {
  client_limit = $((3 * LIMIT))
}
protocol imap {
  mail_max_userip_connections = $LIMIT
}
CONF
} >"$D/dovecot.conf"
start_dovecot() {
	spawn dovecot dovecot -F -c "$D/dovecot.conf"
	wait_port $DOVECOT_PORT
}
echo "-- pail $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); Dovecot $(dovecot --version | cut -d' ' -f1), Maildir, imap_hibernate_timeout=$hibernate"

p_above=() d_above=() p_above_pss=() d_above_pss=() rss_ratios=() pss_ratios=()
for run in $(seq "$RUNS"); do
	echo "-- run $run: pail" >&2
	start_pail
	read -r p_n p_rss p_pss p_brss p_bpss p_procs p_setup p_icpu < <(measure pail $PAIL_PORT)
	stop_group pail
	report pail "$run" "$p_n" "$p_rss" "$p_pss" "$p_brss" "$p_bpss" "$p_procs" "$p_setup" "$p_icpu"
	echo "-- run $run: Dovecot" >&2
	start_dovecot
	read -r d_n d_rss d_pss d_brss d_bpss d_procs d_setup d_icpu < <(measure dovecot $DOVECOT_PORT)
	stop_group dovecot
	report Dovecot "$run" "$d_n" "$d_rss" "$d_pss" "$d_brss" "$d_bpss" "$d_procs" "$d_setup" "$d_icpu"
	read -r p_kib p_kib_pss p_ab p_ab_pss < <(per_session "$p_n" "$p_rss" "$p_pss" "$p_brss" "$p_bpss")
	read -r d_kib d_kib_pss d_ab d_ab_pss < <(per_session "$d_n" "$d_rss" "$d_pss" "$d_brss" "$d_bpss")
	p_above+=("$p_ab") d_above+=("$d_ab") p_above_pss+=("$p_ab_pss") d_above_pss+=("$d_ab_pss")
	rss_ratios+=("$(ratio "$p_kib" "$d_kib")") pss_ratios+=("$(ratio "$p_kib_pss" "$d_kib_pss")")
	printf '         run %d  pail / Dovecot memory per idle session: %.2fx by RSS, %.2fx by Pss\n' "$run" "${rss_ratios[-1]}" "${pss_ratios[-1]}"
done
grep -iE 'error|fatal|warning' "$D/dovecot.log" | sort | uniq -c | sort -rn | head -5 >&2 || true

echo "== results over $RUNS runs (resident memory per session with all sessions in IDLE, above the idle server)"
summary "pail     RSS" "%.1f KiB/session" "${p_above[@]}"
summary "pail     Pss" "%.1f KiB/session" "${p_above_pss[@]}"
summary "Dovecot  RSS" "%.1f KiB/session" "${d_above[@]}"
summary "Dovecot  Pss" "%.1f KiB/session" "${d_above_pss[@]}"
summary "pail / Dovecot memory per idle session by Pss:" "%.2fx" "${pss_ratios[@]}"
summary "pail / Dovecot memory per idle session by RSS (goal: pail under 50 KiB per session): ratio" "%.2fx" "${rss_ratios[@]}"
