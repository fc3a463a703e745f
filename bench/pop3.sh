#!/usr/bin/env bash
# POP3 download benchmark. One mailbox of MESSAGES messages of 4 KiB;
# bench/imapload -pop3 logs in (USER/PASS) and RETRs every message (no
# DELE), one command at a time, timing the whole session from connect to
# QUIT, against
#   1. pail     (messages imported with `pail import` from a generated mbox);
#   2. Dovecot  (the same messages written as Maildir files, named with
#                S= and W= sizes as Dovecot's own deliveries are);
# one after the other on loopback in the same run. Each server gets one
# untimed download first (Dovecot builds its index and UID list, both read
# the files into page cache), then the timed one. CPU is the server
# cgroup's CPU time during the timed download; peak memory the largest sum
# of resident memory of the cgroup's processes.
#
# Usage: bench/pop3.sh [MESSAGES]   (default 10000)
# Needs root (apt-get, cgroups, Dovecot).
set -euo pipefail
MESSAGES=${1:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pail-bench-pop3.XXXXXX)
chmod 755 "$WORK"
GROUP_PREFIX=pailbench-pop3-
. "$(dirname "$0")/lib.sh"
PIDS=()
PAIL_PORT=13110
DOVECOT_PORT=14110

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	for g in pail dovecot; do
		remove_group "$g"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

need_packages dovecot-core dovecot-pop3d bc


# measure GROUP PORT: print "seconds bytes cpu_seconds peak_kb first_seconds".
measure() {
	local g=$1 port=$2
	"$WORK/imapload" -pop3 -addr "127.0.0.1:$port" -user u1@hill.test >"$WORK/$g.warm" || { cat "$WORK/$g.warm" >&2; exit 1; }
	local n; n=$(field messages "$WORK/$g.warm")
	[ "$n" -eq "$MESSAGES" ] || { echo "$g: mailbox has $n messages, want $MESSAGES" >&2; exit 1; }
	rm -f "$WORK/$g.peak" "$WORK/$g.peak.stop"; echo 0 >"$WORK/$g.peak"
	watch_peak "$g" "$WORK/$g.peak" & local w=$!
	"$WORK/imapload" -pop3 -addr "127.0.0.1:$port" -user u1@hill.test -cpuacct "$(group_dir "$g")" | tee "$WORK/$g.out" >&2
	touch "$WORK/$g.peak.stop"; wait $w
	echo "$(field seconds "$WORK/$g.out") $(field bytes "$WORK/$g.out") $(field server_cpu_s "$WORK/$g.out") $(cat "$WORK/$g.peak") $(field seconds "$WORK/$g.warm")"
}
report() { # name seconds bytes cpu peak_kb first_seconds
	printf '%-8s %7.0f msg/s  %6.1f MB/s  %6.3f CPU s per 1000 msg  %6.1f MiB peak RSS  (first, untimed download: %.2fs)\n' \
		"$1" "$(echo "$MESSAGES / $2" | bc -l)" "$(echo "$3 / 1000000 / $2" | bc -l)" "$(echo "$4 * 1000 / $MESSAGES" | bc -l)" \
		"$(echo "$5 / 1024" | bc -l)" "$6"
}

echo "== POP3: RETR of $MESSAGES messages of 4 KiB, one session; $(nproc) cores; $(uname -sr)"
(cd "$ROOT" && go build -o "$WORK/pail" ./cmd/pail && go build -o "$WORK/imapload" ./bench/imapload)
"$WORK/imapload" -write-mbox "$WORK/msgs.mbox" -n "$MESSAGES"

# 1. pail
cat >"$WORK/pail.toml" <<CONF
hostname = "mx.hill.test"
domains = ["hill.test"]
data_dir = "$WORK/pail-data"
[listen]
pop3 = "127.0.0.1:$PAIL_PORT"
[log]
mail_file = "$WORK/pail-mail.log"
CONF
echo pw | "$WORK/pail" user add -c "$WORK/pail.toml" --password-stdin u1@hill.test >/dev/null
"$WORK/pail" import -c "$WORK/pail.toml" u1@hill.test "$WORK/msgs.mbox" >/dev/null
spawn pail env ${PAIL_CPUPROFILE:+PAIL_CPUPROFILE="$PAIL_CPUPROFILE"} "$WORK/pail" serve -c "$WORK/pail.toml" 2>"$WORK/pail.err"
wait_port $PAIL_PORT
echo "-- pail" >&2
read -r p_s p_bytes p_cpu p_peak p_first < <(measure pail $PAIL_PORT)
kill -TERM "$(head -1 "$(group_dir pail)/cgroup.procs")" 2>/dev/null || true # let pail write its profile

# 2. Dovecot, Maildir
D=$WORK/dovecot
mkdir -p "$D/run" "$D/state" "$D/mail"
echo "u1@hill.test:$("$WORK/imapload" -argon2 pw)" >"$D/users"
"$WORK/imapload" -write-maildir "$D/mail/u1@hill.test/Maildir" -n "$MESSAGES"
chown -R 65534:65534 "$D/mail"
{
	echo "protocols = pop3"
	dovecot_common "$D" "always"
	cat <<CONF
pop3_uidl_format = %08Xu%08Xv
service pop3-login {
  inet_listener pop3 {
    port = $DOVECOT_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
CONF
} >"$D/dovecot.conf"
spawn dovecot dovecot -F -c "$D/dovecot.conf"
wait_port $DOVECOT_PORT
echo "-- Dovecot $(dovecot --version | cut -d' ' -f1), Maildir" >&2
read -r d_s d_bytes d_cpu d_peak d_first < <(measure dovecot $DOVECOT_PORT)

echo "== results"
report pail "$p_s" "$p_bytes" "$p_cpu" "$p_peak" "$p_first"
report Dovecot "$d_s" "$d_bytes" "$d_cpu" "$d_peak" "$d_first"
printf 'pail / Dovecot: %.2f× messages per second, %.2f× CPU per message\n' \
	"$(echo "$d_s / $p_s" | bc -l)" "$(echo "$p_cpu / $d_cpu" | bc -l)"
