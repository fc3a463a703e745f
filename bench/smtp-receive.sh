#!/usr/bin/env bash
# SMTP receive benchmark. Postfix's smtp-source pushes N messages of SIZE
# bytes over SESSIONS parallel sessions (a new connection per message) into
#   1. smtp-sink  stores nothing: the ceiling of the load tool itself;
#   2. pail       fsyncs each message into its mailbox store before 250,
#                 with the inbound checks off ([inbound] checks = false);
#   3. pail+checks the same with the checks on (SPF, DKIM, DMARC, iprev and
#                 the Authentication-Results field, as pail serves by
#                 default): every message looks up the sender's SPF and
#                 DMARC records and the client's PTR and A records, asking
#                 `pail dns` on loopback (its own process, not counted; pail
#                 keeps no DNS cache, so each message makes every lookup);
#   4. pail+sieve50 the same as 2 with a 50-rule Sieve script active for
#                 the recipient (header :contains tests on From, To, Subject
#                 and List-Id, filing and flagging, as users write them):
#                 the first 49 rules match none of the load's mail, so all
#                 are evaluated, and the last files every message into
#                 "Bench", which the mail log shows, so the script is known
#                 to have run to its end on every message;
#   5. Postfix    queues (fsync), then virtual(8) delivers into Maildir;
# on loopback in the same invocation, RUNS times (smtp-sink, pail,
# pail+sieve50, pail+checks, Postfix, smtp-sink, ...; see bench/lib.sh), all started
# before the first run and kept up between runs. Each server runs in its
# own cgroup, so CPU time counts every process it forks and peak memory is
# the largest sum of resident memory of its processes (page cache excluded).
# For Postfix the clock runs until the last message is in the Maildir
# (emptied after each run, untimed, so every run starts alike).
#
# Usage: [RUNS=3] bench/smtp-receive.sh [N] [SESSIONS] [SIZE]   (defaults 10000 20 4096)
# N messages are sent in each run to each server.
# Needs root (apt-get, cgroups, Postfix).
set -euo pipefail
N=${1:-10000}
SESSIONS=${2:-20}
SIZE=${3:-4096}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pail-bench.XXXXXX)
chmod 755 "$WORK" # Postfix and nobody must reach their directories
GROUP_PREFIX=pailbench-
. "$(dirname "$0")/lib.sh"
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	postfix -c "$WORK/postfix/etc" stop >/dev/null 2>&1 || true
	sleep 1
	for g in sink pail sieve checks dns postfix; do remove_group "$g"; done
	rm -rf "$WORK"
}
trap cleanup EXIT

need_packages postfix bc

# measure GROUP PORT DONE_CMD: load the server, wait until DONE_CMD
# succeeds, print "seconds cpu_seconds peak_kb".
measure() {
	local g=$1 port=$2 done_cmd=$3 t0 c0 t1 c1
	rm -f "$WORK/$g.peak" "$WORK/$g.peak.stop"; echo 0 >"$WORK/$g.peak"
	watch_peak "$g" "$WORK/$g.peak" & local w=$!
	c0=$(cpu_ns "$g"); t0=$(now)
	smtp-source -m "$N" -s "$SESSIONS" -l "$SIZE" -f bench@town.test -t bob@hill.test "127.0.0.1:$port"
	until eval "$done_cmd"; do sleep 0.1; done
	t1=$(now); c1=$(cpu_ns "$g")
	touch "$WORK/$g.peak.stop"; wait $w
	echo "$(echo "$t1 - $t0" | bc -l) $(echo "($c1 - $c0) / 1000000000" | bc -l) $(cat "$WORK/$g.peak")"
}
report() { # name run seconds cpu peak_kb
	printf '%-10s run %d %7.0f msg/s  %6.2f CPU s per 1000 msg  %7.1f MiB peak RSS\n' "$1" "$2" "$(echo "$N / $3" | bc -l)" "$(echo "$4 * 1000 / $N" | bc -l)" "$(echo "$5 / 1024" | bc -l)"
}

echo "== smtp-source: $N messages of $SIZE bytes per run, $SESSIONS sessions; $RUNS runs each, alternating; $(nproc) cores; $(uname -sr)"

# 1. smtp-sink
spawn sink smtp-sink -u nobody 127.0.0.1:13026 1000 >/dev/null
wait_port 13026

# 2. pail, without and with the inbound checks; the sender's zones are
# served by pail's own name server (rate limiting off: every lookup comes
# from 127.0.0.1).
(cd "$ROOT" && go build -o "$WORK/pail" ./cmd/pail)
cat >"$WORK/town.test.zone" <<ZONE
\$ORIGIN town.test.
@      3600 IN SOA ns.town.test. hostmaster.town.test. 1 3600 600 86400 300
@      3600 IN NS  ns.town.test.
ns     3600 IN A   127.0.0.1
@      3600 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
_dmarc 3600 IN TXT "v=DMARC1; p=reject"
mx     3600 IN A   127.0.0.1
ZONE
cat >"$WORK/reverse.zone" <<ZONE
\$ORIGIN 0.0.127.in-addr.arpa.
@      3600 IN SOA ns.town.test. hostmaster.town.test. 1 3600 600 86400 300
@      3600 IN NS  ns.town.test.
1      3600 IN PTR mx.town.test.
ZONE
spawn dns "$WORK/pail" dns --listen 127.0.0.1:13053 --rate-limit 0 --zone "$WORK/town.test.zone" --zone "$WORK/reverse.zone" 2>"$WORK/dns.err"
wait_port 13053
# sieve50: the 50-rule script of pail+sieve50 (see the top).
sieve50() {
	local i
	echo 'require ["fileinto", "imap4flags", "mailbox"];'
	for i in $(seq 0 48); do
		case $((i % 4)) in
		0) echo "if header :contains \"from\" \"sender$i@lists.example.org\" { fileinto \"People/$i\"; stop; }" ;;
		1) echo "if header :contains \"to\" \"team$i@corp.example.org\" { addflag \"\\\\Flagged\"; }" ;;
		2) echo "if header :contains \"subject\" \"[project-$i]\" { fileinto \"Projects/$i\"; stop; }" ;;
		3) echo "if header :contains \"list-id\" \"list$i.lists.example.org\" { addflag \"\$List$i\"; fileinto \"Lists/$i\"; stop; }" ;;
		esac
	done
	echo 'if header :contains "from" "bench@town.test" { fileinto :create "Bench"; }'
}
sieve50 >"$WORK/sieve50.sieve"
for g in pail sieve checks; do
	port=13025 checks=false
	[ "$g" = sieve ] && port=13029
	[ "$g" = checks ] && port=13028 checks=true
	cat >"$WORK/$g.toml" <<CONF
hostname = "mx.hill.test"
domains = ["hill.test"]
data_dir = "$WORK/$g-data"
resolver = "127.0.0.1:13053"
[listen]
smtp = "127.0.0.1:$port"
[limits]
max_connections_per_ip = 1000
[log]
mail_file = "$WORK/$g-mail.log"
[inbound]
checks = $checks
CONF
	echo pw | "$WORK/pail" user add -c "$WORK/$g.toml" --password-stdin bob@hill.test >/dev/null
	[ "$g" = sieve ] && "$WORK/pail" sieve put -c "$WORK/$g.toml" bob@hill.test sieve50 "$WORK/sieve50.sieve" --activate >/dev/null
	spawn "$g" "$WORK/pail" serve -c "$WORK/$g.toml" 2>"$WORK/$g.err"
	wait_port "$port"
done

# 3. Postfix: smtpd → cleanup → queue → virtual(8) → Maildir
mkdir -p "$WORK/postfix/etc" "$WORK/postfix/queue" "$WORK/postfix/data" "$WORK/maildirs"
chown nobody:nogroup "$WORK/maildirs"
chown postfix "$WORK/postfix/data"
sed -e 's/^smtp \+inet .*/13027      inet  n       -       n       -       -       smtpd/' /etc/postfix/master.cf >"$WORK/postfix/etc/master.cf"
cat >"$WORK/postfix/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $WORK/postfix/queue
data_directory = $WORK/postfix/data
meta_directory = /etc/postfix
myhostname = peer.localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = hill.test
virtual_mailbox_base = $WORK/maildirs
virtual_mailbox_maps = inline:{ bob@hill.test=bob/ }
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtp_dns_support_level = disabled
maillog_file = $WORK/postfix/maillog
maillog_file_prefixes = $WORK
alias_maps =
alias_database =
biff = no
CONF
mkdir -p "$CG/pailbench-postfix"
sh -c 'echo $$ >"$0/cgroup.procs"; exec postfix -c "$1" start' "$CG/pailbench-postfix" "$WORK/postfix/etc" >/dev/null 2>&1 ||
	{ echo "postfix did not start:" >&2; tail -5 "$WORK/postfix/maillog" >&2; exit 1; }
wait_port 13027
MAILDIR=$WORK/maildirs/bob/new
echo "-- pail $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); Postfix $(postconf -d -h mail_version)"

sink_rate=() p_rate=() s_rate=() c_rate=() f_rate=() ratios=() c_ratios=() costs=() s_ratios=() s_costs=()
for run in $(seq "$RUNS"); do
	read -r s cpu peak < <(measure sink 13026 true)
	report smtp-sink "$run" "$s" "$cpu" "$peak"
	sink_rate+=("$(echo "$N / $s" | bc -l)")

	read -r pail_s cpu peak < <(measure pail 13025 true)
	got=$(grep -c ' received ' "$WORK/pail-mail.log" || true)
	[ "$got" -eq $((N * run)) ] || { echo "pail stored $got of $((N * run)) messages" >&2; exit 1; }
	report pail "$run" "$pail_s" "$cpu" "$peak"
	pail_cpu=$cpu

	read -r sv_s cpu peak < <(measure sieve 13029 true)
	# Every message ran the whole script: the last rule filed it.
	got=$(grep ' delivered ' "$WORK/sieve-mail.log" | grep -c ' mailbox=Bench ' || true)
	[ "$got" -eq $((N * run)) ] || { echo "pail+sieve50 filed $got of $((N * run)) messages by its script" >&2; tail -2 "$WORK/sieve-mail.log" >&2; exit 1; }
	report pail+sieve50 "$run" "$sv_s" "$cpu" "$peak"
	s_rate+=("$(echo "$N / $sv_s" | bc -l)") s_ratios+=("$(ratio "$sv_s" "$pail_s")")
	s_costs+=("$(echo "($cpu - $pail_cpu) * 1000 / $N" | bc -l)")
	printf '           run %d  pail / pail+sieve50 (messages per second): %.2fx; the script costs %.3f CPU ms per message\n' \
		"$run" "${s_ratios[-1]}" "${s_costs[-1]}"

	read -r chk_s cpu peak < <(measure checks 13028 true)
	# Every message judged, and judged on real answers: SPF, DMARC and
	# iprev all pass.
	got=$(grep ' received ' "$WORK/checks-mail.log" | grep -c 'verdict=deliver spf=pass dmarc=pass iprev=pass' || true)
	[ "$got" -eq $((N * run)) ] || { echo "pail+checks judged $got of $((N * run)) messages as passing" >&2; grep ' received ' "$WORK/checks-mail.log" | tail -2 >&2; exit 1; }
	report pail+checks "$run" "$chk_s" "$cpu" "$peak"
	costs+=("$(echo "($cpu - $pail_cpu) * 1000 / $N" | bc -l)")

	read -r pf_s cpu peak < <(measure postfix 13027 "[ \$(ls $MAILDIR 2>/dev/null | wc -l) -ge $N ]")
	report postfix "$run" "$pf_s" "$cpu" "$peak"
	find "$MAILDIR" -type f -delete # the next run starts from an empty Maildir

	p_rate+=("$(echo "$N / $pail_s" | bc -l)") c_rate+=("$(echo "$N / $chk_s" | bc -l)") f_rate+=("$(echo "$N / $pf_s" | bc -l)")
	ratios+=("$(ratio "$pf_s" "$pail_s")") c_ratios+=("$(ratio "$pf_s" "$chk_s")")
	printf '           run %d  pail / Postfix (messages per second into mailboxes): %.2fx, with checks %.2fx; checks cost %.2f CPU ms per message\n' \
		"$run" "${ratios[-1]}" "${c_ratios[-1]}" "${costs[-1]}"
done

echo "== results over $RUNS runs (messages per second into mailboxes, pail / Postfix)"
summary "smtp-sink " "%.0f msg/s" "${sink_rate[@]}"
summary "pail      " "%.0f msg/s" "${p_rate[@]}"
summary "pail+sieve50" "%.0f msg/s" "${s_rate[@]}"
summary "pail+checks" "%.0f msg/s" "${c_rate[@]}"
summary "Postfix   " "%.0f msg/s" "${f_rate[@]}"
summary "ratio" "%.2fx" "${ratios[@]}"
summary "ratio with checks" "%.2fx" "${c_ratios[@]}"
summary "pail / pail+sieve50 (msg/s)" "%.2fx" "${s_ratios[@]}"
summary "sieve50 cost (CPU ms per message)" "%.3f" "${s_costs[@]}"
summary "checks cost (CPU ms per message)" "%.2f" "${costs[@]}"
