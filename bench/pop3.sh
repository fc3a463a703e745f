#!/usr/bin/env bash
# POP3 download benchmark. One mailbox of MESSAGES messages of 4 KiB;
# bench/imapload -pop3 logs in (USER/PASS, not timed), then RETRs every
# message (no DELE), one command at a time, full download after full
# download in the same session until SECONDS have passed, against
#   1. pail     (messages imported with `pail import` from a generated mbox);
#   2. Dovecot  (the same messages written as Maildir files, named with
#                S= and W= sizes as Dovecot's own deliveries are);
# on loopback in the same invocation, RUNS times alternately (pail,
# Dovecot, pail, Dovecot, ...; see bench/lib.sh). The login is left out of
# the timed window because the two do not do equal work there: pail answers
# a repeated login from its auth cache, Dovecot verifies the argon2id hash
# each time. Each server gets one untimed download first (Dovecot builds its
# index and UID list, both read the files into page cache). CPU is the
# server cgroup's CPU time during the timed window; peak memory the largest
# sum of resident memory of the cgroup's processes during the run.
#
# Usage: [RUNS=3] bench/pop3.sh [MESSAGES] [SECONDS]   (defaults 10000 10)
# Needs root (apt-get, cgroups, Dovecot).
set -euo pipefail
MESSAGES=${1:-10000}
SECS=${2:-10}
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


# warm GROUP PORT: one untimed download; check the mailbox.
warm() {
	local g=$1 port=$2 n
	"$WORK/imapload" -pop3 -d 0 -addr "127.0.0.1:$port" -user u1@hill.test >"$WORK/$g.warm" || { cat "$WORK/$g.warm" >&2; exit 1; }
	n=$(field messages "$WORK/$g.warm")
	[ "$n" -eq "$MESSAGES" ] || { echo "$g: mailbox has $n messages, want $MESSAGES" >&2; exit 1; }
}

# measure GROUP PORT: one timed run; print "msg_per_s mb_per_s
# cpu_s_per_1000_msg peak_kb passes seconds".
measure() {
	local g=$1 port=$2 out
	out=$WORK/$g.out
	rm -f "$WORK/$g.peak" "$WORK/$g.peak.stop"; echo 0 >"$WORK/$g.peak"
	watch_peak "$g" "$WORK/$g.peak" & local w=$!
	"$WORK/imapload" -pop3 -d "${SECS}s" -addr "127.0.0.1:$port" -user u1@hill.test -cpuacct "$(group_dir "$g")" >"$out" ||
		{ touch "$WORK/$g.peak.stop"; cat "$out" >&2; exit 1; }
	touch "$WORK/$g.peak.stop"; wait $w
	local n b s c
	n=$(field retrieved "$out") b=$(field bytes "$out") s=$(field seconds "$out") c=$(field server_cpu_s "$out")
	echo "$(echo "$n / $s" | bc -l) $(echo "$b / 1000000 / $s" | bc -l) $(echo "$c * 1000 / $n" | bc -l) $(cat "$WORK/$g.peak") $(field passes "$out") $s"
}
report() { # name run msg/s MB/s cpu/1000 peak_kb passes seconds
	printf '%-8s run %d  %7.0f msg/s  %6.1f MB/s  %6.3f CPU s per 1000 msg  %6.1f MiB peak RSS  (%d downloads in %.1fs)\n' \
		"$1" "$2" "$3" "$4" "$5" "$(echo "$6 / 1024" | bc -l)" "$7" "$8"
}

echo "== POP3: RETR of all $MESSAGES messages of 4 KiB, again and again for ${SECS}s in one session after an untimed login; $RUNS runs each, alternating; $(nproc) cores; $(uname -sr)"
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
warm pail $PAIL_PORT

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
warm dovecot $DOVECOT_PORT
echo "-- pail $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); Dovecot $(dovecot --version | cut -d' ' -f1), Maildir"

p_rate=() d_rate=() ratios=() cpu_ratios=()
for run in $(seq "$RUNS"); do
	read -r pr pmb pc ppk ppa ps < <(measure pail $PAIL_PORT)
	report pail "$run" "$pr" "$pmb" "$pc" "$ppk" "$ppa" "$ps"
	read -r dr dmb dc dpk dpa ds < <(measure dovecot $DOVECOT_PORT)
	report Dovecot "$run" "$dr" "$dmb" "$dc" "$dpk" "$dpa" "$ds"
	p_rate+=("$pr") d_rate+=("$dr") ratios+=("$(ratio "$pr" "$dr")") cpu_ratios+=("$(ratio "$pc" "$dc")")
	printf '         run %d  pail / Dovecot: %.2fx messages per second, %.2fx CPU per message\n' "$run" "${ratios[-1]}" "${cpu_ratios[-1]}"
done
kill -TERM "$(head -1 "$(group_dir pail)/cgroup.procs")" 2>/dev/null || true # let pail write its profile

echo "== results over $RUNS runs (messages per second, pail / Dovecot)"
summary "pail    " "%.0f msg/s" "${p_rate[@]}"
summary "Dovecot " "%.0f msg/s" "${d_rate[@]}"
summary "CPU per message, pail / Dovecot:" "%.2fx" "${cpu_ratios[@]}"
summary "ratio" "%.2fx" "${ratios[@]}"
