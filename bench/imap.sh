#!/usr/bin/env bash
# IMAP benchmark. bench/imapload runs the same mixed workload (SELECT,
# FETCH 1:* FLAGS, UID FETCH BODY.PEEK[], STORE ±\Seen, APPEND 4 KiB,
# UID SEARCH UNSEEN, STORE \Deleted + UID EXPUNGE) with CLIENTS concurrent
# clients spread over ACCOUNTS accounts, each INBOX preloaded with MESSAGES
# messages of 4 KiB, for SECONDS seconds against
#   1. pail     (SQLite WAL synchronous=FULL + one file per message; fsync
#                before every OK that changes the mailbox);
#   2. Dovecot  (Maildir, mail_fsync=always, so it too syncs before OK);
# one after the other on loopback in the same run. Logins cost the same on
# both (argon2id m=19 MiB t=2, Dovecot's passwd-file holds such hashes).
# Each server runs in its own cgroup: CPU is the cgroup's CPU time during
# the timed window (imapload reads cpuacct.usage), peak memory the largest
# sum of resident memory of its processes. Before the timed window each
# server gets a short untimed warm-up (every client SELECTs and fetches all
# flags), so Dovecot's indexes exist and both have the files in page cache.
#
# Usage: bench/imap.sh [SECONDS] [CLIENTS] [ACCOUNTS] [MESSAGES]   (defaults 30 20 10 1000)
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
# "ops_per_s cpu_s_per_1000_ops peak_kb end_kb errors".
measure() {
	local g=$1 port=$2 mixflag=()
	[ -n "$MIX" ] && mixflag=(-mix "$MIX")
	"$WORK/imapload" -addr "127.0.0.1:$port" -users "$ACCOUNTS" -c "$ACCOUNTS" -d 2s -mix select=1,fetchflags=1 >"$WORK/$g.warm" ||
		{ cat "$WORK/$g.warm" >&2; exit 1; }
	rm -f "$WORK/$g.peak" "$WORK/$g.peak.stop"; echo 0 >"$WORK/$g.peak"
	watch_peak "$g" "$WORK/$g.peak" & local w=$!
	"$WORK/imapload" -addr "127.0.0.1:$port" -users "$ACCOUNTS" -c "$CLIENTS" -d "${SECS}s" \
		-cpuacct "$(group_dir "$g")" "${mixflag[@]}" | tee "$WORK/$g.out" >&2
	local end; end=$(rss_kb "$g")
	touch "$WORK/$g.peak.stop"; wait $w
	local ops cpu
	ops=$(field ops "$WORK/$g.out"); cpu=$(field server_cpu_s "$WORK/$g.out")
	echo "$(field ops_per_s "$WORK/$g.out") $(echo "$cpu * 1000 / $ops" | bc -l) $(cat "$WORK/$g.peak") $end $(field errors "$WORK/$g.out")"
}
report() { # name ops/s cpu/1000 peak_kb end_kb errors
	printf '%-8s %8.0f ops/s  %6.3f CPU s per 1000 ops  %7.1f MiB peak RSS  %7.1f MiB at end  %s errors\n' \
		"$1" "$2" "$3" "$(echo "$4 / 1024" | bc -l)" "$(echo "$5 / 1024" | bc -l)" "$6"
}

echo "== IMAP: $CLIENTS clients, $ACCOUNTS accounts, $MESSAGES messages of 4 KiB per INBOX, ${SECS}s; $(nproc) cores; $(uname -sr)"
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
echo "-- pail" >&2
read -r p_ops p_cpu p_peak p_end p_err < <(measure pail $PAIL_PORT)
kill -TERM "$(head -1 "$(group_dir pail)/cgroup.procs")" 2>/dev/null || true # let pail write its profile

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
echo "-- Dovecot $(dovecot --version | cut -d' ' -f1), Maildir, mail_fsync=$DOVECOT_FSYNC" >&2
read -r d_ops d_cpu d_peak d_end d_err < <(measure dovecot $DOVECOT_PORT)

echo "== results (pail fsyncs before OK; Dovecot mail_fsync=$DOVECOT_FSYNC)"
report pail "$p_ops" "$p_cpu" "$p_peak" "$p_end" "$p_err"
report Dovecot "$d_ops" "$d_cpu" "$d_peak" "$d_end" "$d_err"
printf 'pail / Dovecot: %.2f× operations per second, %.2f× CPU per operation\n' \
	"$(echo "$p_ops / $d_ops" | bc -l)" "$(echo "$p_cpu / $d_cpu" | bc -l)"
