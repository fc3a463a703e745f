#!/usr/bin/env bash
# IMAP benchmark. bench/imapload runs the same mixed workload (SELECT,
# FETCH 1:* FLAGS, UID FETCH BODY.PEEK[], STORE ±\Seen, APPEND 4 KiB,
# UID SEARCH UNSEEN, STORE \Deleted + UID EXPUNGE) with CLIENTS concurrent
# clients spread over ACCOUNTS accounts, each INBOX preloaded with MESSAGES
# messages of 4 KiB, for SECONDS seconds against
#   1. pail     (SQLite WAL synchronous=FULL + one file per message; fsync
#                before every OK that changes the mailbox);
#   2. Dovecot  (Maildir, mail_fsync=always, so it too syncs before OK);
# on loopback in the same invocation, RUNS times alternately (pail, Dovecot,
# pail, Dovecot, ...; see bench/lib.sh). Logins cost the same on both
# (argon2id m=19 MiB t=2, Dovecot's passwd-file holds such hashes) and are
# not timed: the clients log in and SELECT before the timed window opens.
# Each server runs in its own cgroup: CPU is the cgroup's CPU time during
# the timed window (imapload reads cpuacct.usage), peak memory the largest
# sum of resident memory of its processes. Before the timed window each
# server gets a short untimed warm-up (every client SELECTs and fetches all
# flags), so Dovecot's indexes exist and both have the files in page cache;
# the mailboxes carry over from run to run (appends and expunges about
# balance), the same on both sides.
#
# Usage: [RUNS=3] bench/imap.sh [SECONDS] [CLIENTS] [ACCOUNTS] [MESSAGES]   (defaults 30 20 10 1000)
# Environment: MIX (imapload -mix weights), DOVECOT_FSYNC (default always),
# PAIL_CPUPROFILE (file for a CPU profile of pail's whole run).
# Needs root (apt-get, cgroups, Dovecot).
set -euo pipefail
SECS=${1:-30}
CLIENTS=${2:-20}
ACCOUNTS=${3:-10}
MESSAGES=${4:-1000}
MIX=${MIX:-}
DOVECOT_FSYNC=${DOVECOT_FSYNC:-always}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pail-bench-imap.XXXXXX)
chmod 755 "$WORK" # Dovecot's unprivileged processes must reach their directories
GROUP_PREFIX=pailbench-imap-
. "$(dirname "$0")/lib.sh"
PIDS=()
PAIL_PORT=13143
DOVECOT_PORT=14143

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	for g in pail dovecot; do
		remove_group "$g"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

need_packages dovecot-core dovecot-imapd bc


# measure GROUP PORT: warm up, then run the timed workload; print
# "ops_per_s cpu_s_per_1000_ops peak_kb end_kb errors" (the table of
# each operation goes to WORK/GROUP.RUN.out and to stderr).
measure() {
	local g=$1 port=$2 mixflag=()
	[ -n "$MIX" ] && mixflag=(-mix "$MIX")
	"$WORK/imapload" -addr "127.0.0.1:$port" -users "$ACCOUNTS" -c "$ACCOUNTS" -d 2s -mix select=1,fetchflags=1 >"$WORK/$g.warm" ||
		{ cat "$WORK/$g.warm" >&2; exit 1; }
	rm -f "$WORK/$g.peak" "$WORK/$g.peak.stop"; echo 0 >"$WORK/$g.peak"
	watch_peak "$g" "$WORK/$g.peak" & local w=$!
	"$WORK/imapload" -addr "127.0.0.1:$port" -users "$ACCOUNTS" -c "$CLIENTS" -d "${SECS}s" \
		-cpuacct "$(group_dir "$g")" "${mixflag[@]}" >"$WORK/$g.out" || { cat "$WORK/$g.out" >&2; exit 1; }
	cat "$WORK/$g.out" >&2
	local end; end=$(rss_kb "$g")
	touch "$WORK/$g.peak.stop"; wait $w
	local ops cpu
	ops=$(field ops "$WORK/$g.out"); cpu=$(field server_cpu_s "$WORK/$g.out")
	echo "$(field ops_per_s "$WORK/$g.out") $(echo "$cpu * 1000 / $ops" | bc -l) $(cat "$WORK/$g.peak") $end $(field errors "$WORK/$g.out")"
}
report() { # name run ops/s cpu/1000 peak_kb end_kb errors
	printf '%-8s run %d %8.0f ops/s  %6.3f CPU s per 1000 ops  %7.1f MiB peak RSS  %7.1f MiB at end  %s errors\n' \
		"$1" "$2" "$3" "$4" "$(echo "$5 / 1024" | bc -l)" "$(echo "$6 / 1024" | bc -l)" "$7"
}

echo "== IMAP: $CLIENTS clients, $ACCOUNTS accounts, $MESSAGES messages of 4 KiB per INBOX, ${SECS}s timed per run; $RUNS runs each, alternating; $(nproc) cores; $(uname -sr)"
(cd "$ROOT" && go build -o "$WORK/pail" ./cmd/pail && go build -o "$WORK/imapload" ./bench/imapload)
"$WORK/imapload" -write-mbox "$WORK/msgs.mbox" -n "$MESSAGES"

# 1. pail
cat >"$WORK/pail.toml" <<CONF
hostname = "mx.hill.test"
domains = ["hill.test"]
data_dir = "$WORK/pail-data"
[listen]
imap = "127.0.0.1:$PAIL_PORT"
[limits]
max_connections = 20000
max_connections_per_ip = 20000
[log]
mail_file = "$WORK/pail-mail.log"
CONF
for i in $(seq "$ACCOUNTS"); do
	echo pw | "$WORK/pail" user add -c "$WORK/pail.toml" --password-stdin "u$i@hill.test" >/dev/null
	"$WORK/pail" import -c "$WORK/pail.toml" "u$i@hill.test" "$WORK/msgs.mbox" >/dev/null
done
spawn pail env ${PAIL_CPUPROFILE:+PAIL_CPUPROFILE="$PAIL_CPUPROFILE"} "$WORK/pail" serve -c "$WORK/pail.toml" 2>"$WORK/pail.err"
wait_port $PAIL_PORT

# 2. Dovecot, Maildir
D=$WORK/dovecot
mkdir -p "$D/run" "$D/state" "$D/mail"
: >"$D/users"
for i in $(seq "$ACCOUNTS"); do
	echo "u$i@hill.test:$("$WORK/imapload" -argon2 pw)" >>"$D/users"
	"$WORK/imapload" -write-maildir "$D/mail/u$i@hill.test/Maildir" -n "$MESSAGES"
done
chown -R 65534:65534 "$D/mail"
{
	echo "protocols = imap"
	dovecot_common "$D" "$DOVECOT_FSYNC"
	cat <<CONF
mail_max_userip_connections = 20000
service imap-login {
  inet_listener imap {
    port = $DOVECOT_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
protocol imap {
  mail_max_userip_connections = 20000
}
CONF
} >"$D/dovecot.conf"
spawn dovecot dovecot -F -c "$D/dovecot.conf"
wait_port $DOVECOT_PORT
echo "-- pail $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); Dovecot $(dovecot --version | cut -d' ' -f1), Maildir, mail_fsync=$DOVECOT_FSYNC (pail fsyncs before OK)"

p_rate=() d_rate=() ratios=() cpu_ratios=()
for run in $(seq "$RUNS"); do
	echo "-- run $run: pail" >&2
	read -r po pc ppk pe perr < <(measure pail $PAIL_PORT)
	report pail "$run" "$po" "$pc" "$ppk" "$pe" "$perr"
	echo "-- run $run: Dovecot" >&2
	read -r do_ dc dpk de derr < <(measure dovecot $DOVECOT_PORT)
	report Dovecot "$run" "$do_" "$dc" "$dpk" "$de" "$derr"
	p_rate+=("$po") d_rate+=("$do_") ratios+=("$(ratio "$po" "$do_")") cpu_ratios+=("$(ratio "$pc" "$dc")")
	printf '         run %d  pail / Dovecot: %.2fx operations per second, %.2fx CPU per operation\n' "$run" "${ratios[-1]}" "${cpu_ratios[-1]}"
done
kill -TERM "$(head -1 "$(group_dir pail)/cgroup.procs")" 2>/dev/null || true # let pail write its profile

echo "== results over $RUNS runs (operations per second, pail / Dovecot)"
summary "pail    " "%.0f ops/s" "${p_rate[@]}"
summary "Dovecot " "%.0f ops/s" "${d_rate[@]}"
summary "CPU per operation, pail / Dovecot:" "%.2fx" "${cpu_ratios[@]}"
summary "ratio" "%.2fx" "${ratios[@]}"
