#!/usr/bin/env bash
# Large-mailbox benchmark (issue 17). Generates one realistic mailbox of N
# messages (imapload -write-mbox -corpus: 2–8 KiB, 15% multipart, encoded-
# word and raw UTF-8 subjects, UTF-8 quoted-printable texts, a Zipf mix of
# correspondents, two years of arrival dates, a rare sender "zoe" and a rare
# word "zanzibar"), imports the same mbox into
#   1. pail     (`pail import`: SQLite WAL synchronous=FULL + one fsynced
#                file per message);
#   2. Dovecot  (`doveadm import` from the mbox into Maildir,
#                mail_fsync=always as bench/imap.sh sets it up);
# timing each import once, then times single commands on one IMAP session
# (imapload -time-cmds: LOGIN, SELECT and FETCH 1:* (UID FLAGS) untimed,
# then each command once, every response read to its end):
#   FETCH 1:* (ENVELOPE), UID SEARCH FROM "zoe", UID SEARCH SINCE $SINCE,
#   STORE 1:* ±FLAGS (\Seen) (the sign alternates from pass to pass, so each
#   STORE changes every message), UID SEARCH TEXT "zanzibar";
# and, for pail only, the webmail inbox's first page of 50 (GET /mail) and
# a webmail search of the whole folder (GET /mail?q=zanzibar), timed by
# curl with a logged-in session. One untimed pass on each server first
# (printed, not counted: it fills Dovecot's cache and the page cache), then
# RUNS timed passes alternately (pail, Dovecot, pail, ...; see bench/lib.sh).
# The table gives each side's median and spread and the median and spread
# of the per-run ratio pail/Dovecot.
#
# Usage: [RUNS=3] [SINCE=1-Oct-2026] bench/scale.sh [N]   (default 100000)
# Needs root (apt-get, cgroups, Dovecot), curl, and about 12 KiB of disk
# per message (the mbox, pail's and Dovecot's copies).
set -euo pipefail
N=${1:-100000}
SINCE=${SINCE:-1-Oct-2026}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer, not '$N'" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/pail-bench-scale.XXXXXX)
chmod 755 "$WORK" # Dovecot's unprivileged processes must reach their directories
GROUP_PREFIX=pailbench-scale-
. "$(dirname "$0")/lib.sh"
PIDS=()
PAIL_PORT=13243
PAIL_HTTP=13280
DOVECOT_PORT=14243
USER_ADDR=reader@hill.test

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 1
	for g in pail dovecot; do
		remove_group "$g"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

need_packages dovecot-core dovecot-imapd curl

echo "== scale: one mailbox of $N messages (2–8 KiB, 15% multipart), pail and Dovecot; $RUNS timed passes each, alternating; $(nproc) cores; $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
(cd "$ROOT" && go build -o "$WORK/pail" ./cmd/pail && go build -o "$WORK/imapload" ./bench/imapload)
mkdir -p "$WORK/src"
"$WORK/imapload" -write-mbox "$WORK/src/corpus.mbox" -n "$N" -corpus >"$WORK/corpus.out"
cat "$WORK/corpus.out"
ZOE=$(field zoe "$WORK/corpus.out")
ZANZIBAR=$(field zanzibar "$WORK/corpus.out")
echo "-- corpus: $(du -m "$WORK/src/corpus.mbox" | cut -f1) MB of mbox"

# 1. pail
cat >"$WORK/pail.toml" <<CONF
hostname = "mx.hill.test"
domains = ["hill.test"]
data_dir = "$WORK/pail-data"
[listen]
imap = "127.0.0.1:$PAIL_PORT"
http = "127.0.0.1:$PAIL_HTTP"
[log]
mail_file = "$WORK/pail-mail.log"
CONF
echo pw | "$WORK/pail" user add -c "$WORK/pail.toml" --password-stdin "$USER_ADDR" >/dev/null
t0=$(now)
"$WORK/pail" import -c "$WORK/pail.toml" "$USER_ADDR" "$WORK/src/corpus.mbox" >/dev/null
t1=$(now)
P_IMPORT=$(echo "$t1 - $t0" | bc -l)
printf 'pail     import %8.1f s  (%.0f msg/s)\n' "$P_IMPORT" "$(echo "$N / $P_IMPORT" | bc -l)"
spawn pail "$WORK/pail" serve -c "$WORK/pail.toml" 2>"$WORK/pail.err"
wait_port $PAIL_PORT
wait_port $PAIL_HTTP

# 2. Dovecot, Maildir; doveadm reads the mbox as user 65534.
D=$WORK/dovecot
mkdir -p "$D/run" "$D/state" "$D/mail/$USER_ADDR"
echo "$USER_ADDR:$("$WORK/imapload" -argon2 pw)" >"$D/users"
chown -R 65534:65534 "$D/mail" "$WORK/src"
{
	echo "protocols = imap"
	dovecot_common "$D" always
	cat <<CONF
service imap-login {
  inet_listener imap {
    port = $DOVECOT_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
} >"$D/dovecot.conf"
spawn dovecot dovecot -F -c "$D/dovecot.conf" # doveadm asks its auth service for the user
wait_port $DOVECOT_PORT
t0=$(now)
doveadm -c "$D/dovecot.conf" import -u "$USER_ADDR" "mbox:$WORK/src:INBOX=$WORK/src/corpus.mbox:INDEX=MEMORY" "" all
t1=$(now)
D_IMPORT=$(echo "$t1 - $t0" | bc -l)
printf 'Dovecot  import %8.1f s  (%.0f msg/s)\n' "$D_IMPORT" "$(echo "$N / $D_IMPORT" | bc -l)"
echo "-- pail $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); Dovecot $(dovecot --version | cut -d' ' -f1), Maildir, mail_fsync=always, no FTS plugin; SINCE $SINCE"

OPS=("FETCH 1:* (ENVELOPE)" 'UID SEARCH FROM "zoe"' "UID SEARCH SINCE $SINCE" 'STORE 1:* %sFLAGS (\Seen)' 'UID SEARCH TEXT "zanzibar"')
NAMES=("FETCH 1:* (ENVELOPE)" 'UID SEARCH FROM "zoe"' "UID SEARCH SINCE $SINCE" 'STORE 1:* ±FLAGS (\Seen)' 'UID SEARCH TEXT "zanzibar"')

# imap_pass NAME PORT SIGN OUT: one timed session against the server on
# PORT, STORE with SIGN (+ or -); TIME lines to OUT.
imap_pass() {
	local cmds="" op
	for op in "${OPS[@]}"; do
		# shellcheck disable=SC2059 # the STORE op holds the sign's %s
		cmds+="$(printf "$op" "$3");"
	done
	"$WORK/imapload" -addr "127.0.0.1:$2" -user "$USER_ADDR" -time-cmds "${cmds%;}" >"$4" 2>&1 || { echo "$1:" >&2; cat "$4" >&2; exit 1; }
}
# tm I FILE: seconds of command I; hits I FILE, untagged I FILE likewise.
tm() { awk -v i="$1" '$1 == "TIME" && $2 == "i=" i { sub("s=", "", $3); print $3 }' "$2"; }
hits() { awk -v i="$1" '$1 == "TIME" && $2 == "i=" i { sub("hits=", "", $5); print $5 }' "$2"; }
untagged() { awk -v i="$1" '$1 == "TIME" && $2 == "i=" i { sub("untagged=", "", $4); print $4 }' "$2"; }

# Webmail: log in once (the session cookie is kept), then time GETs.
JAR=$WORK/cookies
curl -sf -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "address=$USER_ADDR" --data-urlencode password=pw "http://127.0.0.1:$PAIL_HTTP/login"
# web_get PATH OUT: time one GET of PATH (seconds), body to OUT.
web_get() {
	curl -sf -b "$JAR" -o "$2" -w '%{time_total}\n' "http://127.0.0.1:$PAIL_HTTP$1"
}
WEB_PATHS=("/mail" "/mail?q=zanzibar")
WEB_NAMES=("webmail inbox, first page of 50" 'webmail search "zanzibar", whole folder')

# report_pass NAME FILE: the pass's figures, one line per command.
report_pass() {
	local i
	for i in "${!OPS[@]}"; do
		printf '  %-8s %-40s %9.4f s  %7s untagged  %6s hits\n' "$1" "${NAMES[$i]}" \
			"$(tm $((i + 1)) "$2")" "$(untagged $((i + 1)) "$2")" "$(hits $((i + 1)) "$2")"
	done
}

echo "-- untimed first pass (STORE +FLAGS), not counted"
imap_pass pail $PAIL_PORT + "$WORK/pail.0"
report_pass pail "$WORK/pail.0"
imap_pass Dovecot $DOVECOT_PORT + "$WORK/dovecot.0"
report_pass Dovecot "$WORK/dovecot.0"
for i in "${!WEB_PATHS[@]}"; do
	printf '  %-8s %-40s %9.4f s\n' pail "${WEB_NAMES[$i]}" "$(web_get "${WEB_PATHS[$i]}" "$WORK/web.0.$i")"
done
grep -q "<tr" "$WORK/web.0.0" || { echo "webmail list page without rows" >&2; exit 1; }

# Each pass's figures: P_<op>_<run>, D_<op>_<run>, W_<path>_<run>.
declare -A P D_ W
for run in $(seq "$RUNS"); do
	sign=-
	[ $((run % 2)) -eq 0 ] && sign=+
	echo "-- run $run (STORE ${sign}FLAGS)"
	imap_pass pail $PAIL_PORT "$sign" "$WORK/pail.$run"
	report_pass pail "$WORK/pail.$run"
	for i in "${!WEB_PATHS[@]}"; do
		W[$i,$run]=$(web_get "${WEB_PATHS[$i]}" "$WORK/web.$run.$i")
		printf '  %-8s %-40s %9.4f s\n' pail "${WEB_NAMES[$i]}" "${W[$i,$run]}"
	done
	imap_pass Dovecot $DOVECOT_PORT "$sign" "$WORK/dovecot.$run"
	report_pass Dovecot "$WORK/dovecot.$run"
	for i in "${!OPS[@]}"; do
		P[$i,$run]=$(tm $((i + 1)) "$WORK/pail.$run")
		D_[$i,$run]=$(tm $((i + 1)) "$WORK/dovecot.$run")
	done
done

# The searches must find the same messages on both sides, and the rare
# ones what the corpus holds.
check() { # name pail dovecot [want]
	if [ "$2" != "$3" ] || { [ -n "${4:-}" ] && [ "$2" != "$4" ]; }; then
		echo "!! $1: pail $2, Dovecot $3${4:+, corpus $4}" >&2
		return 1
	fi
}
ok=0
check "FETCH ENVELOPE responses" "$(untagged 1 "$WORK/pail.1")" "$(untagged 1 "$WORK/dovecot.1")" "$N" || ok=1
check "SEARCH FROM zoe hits" "$(hits 2 "$WORK/pail.1")" "$(hits 2 "$WORK/dovecot.1")" "$ZOE" || ok=1
check "SEARCH SINCE hits" "$(hits 3 "$WORK/pail.1")" "$(hits 3 "$WORK/dovecot.1")" || ok=1
check "STORE responses" "$(untagged 4 "$WORK/pail.1")" "$(untagged 4 "$WORK/dovecot.1")" "$N" || ok=1
check "SEARCH TEXT zanzibar hits" "$(hits 5 "$WORK/pail.1")" "$(hits 5 "$WORK/dovecot.1")" "$ZANZIBAR" || ok=1
web_hits=$(grep -c 'data-href="/msg/' "$WORK/web.1.1" || true)
[ "$ZANZIBAR" -le 50 ] && { check "webmail search zanzibar rows" "$web_hits" "$web_hits" "$ZANZIBAR" || ok=1; }
grep -q "stopped early" "$WORK/web.1.1" && { echo "!! webmail search: the page stopped early (maxSearchTime)" >&2; ok=1; }
[ "$(grep -c 'data-href="/msg/' "$WORK/web.1.0" || true)" -eq $((N < 50 ? N : 50)) ] || { echo "!! webmail first page: not $((N < 50 ? N : 50)) rows" >&2; ok=1; }
echo "-- SINCE $SINCE selects $(hits 3 "$WORK/pail.1") of $N messages; FROM zoe $ZOE, TEXT zanzibar $ZANZIBAR; webmail search page links $web_hits messages"
echo "-- resident memory after the runs: pail $(($(rss_kb pail) / 1024)) MiB, Dovecot $(($(rss_kb dovecot) / 1024)) MiB"

# fmt_stats V...: "median (min–max)" in seconds.
fmt_stats() {
	local med lo hi
	read -r med lo hi < <(stats "$@")
	printf '%.3f s (%.3f–%.3f)' "$med" "$lo" "$hi"
}
fmt_ratio() {
	local med lo hi
	read -r med lo hi < <(stats "$@")
	printf '%.2f× (%.2f–%.2f)' "$med" "$lo" "$hi"
}
echo "== results at $N messages: median (min–max) over $RUNS runs; ratio = pail / Dovecot per run"
echo "| operation | pail | Dovecot | pail/Dovecot |"
echo "|---|---|---|---|"
printf '| import (once) | %.1f s | %.1f s | %.2f× |\n' "$P_IMPORT" "$D_IMPORT" "$(ratio "$P_IMPORT" "$D_IMPORT")"
for i in "${!OPS[@]}"; do
	pv=() dv=() rv=()
	for run in $(seq "$RUNS"); do
		pv+=("${P[$i,$run]}") dv+=("${D_[$i,$run]}") rv+=("$(ratio "${P[$i,$run]}" "${D_[$i,$run]}")")
	done
	echo "| \`${NAMES[$i]}\` | $(fmt_stats "${pv[@]}") | $(fmt_stats "${dv[@]}") | $(fmt_ratio "${rv[@]}") |"
done
for i in "${!WEB_PATHS[@]}"; do
	wv=()
	for run in $(seq "$RUNS"); do wv+=("${W[$i,$run]}"); done
	echo "| ${WEB_NAMES[$i]} | $(fmt_stats "${wv[@]}") | — | — |"
done
exit $ok
