# bench/lib.sh: helpers shared by the bench scripts; source it after
# setting GROUP_PREFIX (the cgroup name prefix, e.g. "pailbench-imap-") and
# PIDS=() (background processes to kill on exit). Each server runs in its
# own cgroup v1 under $CG so that CPU counts every process it forks.

CG=/sys/fs/cgroup/cpuacct

# need_packages PKG...: apt-get install the Debian packages not yet there.
need_packages() {
	local missing=() p
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

# group_dir GROUP: the cgroup directory of GROUP.
group_dir() { echo "$CG/$GROUP_PREFIX$1"; }

# spawn GROUP CMD...: run CMD in the background inside cgroup GROUP.
spawn() {
	local g; g=$(group_dir "$1"); shift
	mkdir -p "$g"
	sh -c 'echo $$ >"$0/cgroup.procs"; exec "$@"' "$g" "$@" &
	PIDS+=($!)
}

# cpu_ns GROUP: CPU nanoseconds used by the group's processes so far.
cpu_ns() { cat "$(group_dir "$1")/cpuacct.usage"; }

# rss_kb GROUP: the sum of VmRSS over the group's processes, in KiB.
rss_kb() {
	local t=0 p r
	for p in $(cat "$(group_dir "$1")/cgroup.procs"); do
		r=$(awk '/VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || true)
		t=$((t + ${r:-0}))
	done
	echo $t
}

# watch_peak GROUP FILE: sample rss_kb every 0.1 s, keeping the peak in
# FILE, until FILE.stop exists.
watch_peak() {
	local peak=0 r
	while [ ! -e "$2.stop" ]; do
		r=$(rss_kb "$1"); [ "$r" -gt "$peak" ] && { peak=$r; echo "$peak" >"$2"; }
		sleep 0.1
	done
}

# remove_group GROUP: kill what is left in the group and remove it.
remove_group() {
	local g; g=$(group_dir "$1")
	[ -d "$g" ] || return 0
	xargs -r kill <"$g/cgroup.procs" 2>/dev/null || true
	sleep 0.3
	rmdir "$g" 2>/dev/null || true
}

# stop_group GROUP: stop the group's processes (TERM, then KILL after 10 s)
# and wait until none is left; the group stays for the next spawn.
stop_group() {
	local g; g=$(group_dir "$1")
	[ -d "$g" ] || return 0
	xargs -r kill <"$g/cgroup.procs" 2>/dev/null || true
	for _ in $(seq 100); do [ -s "$g/cgroup.procs" ] || return 0; sleep 0.1; done
	xargs -r kill -KILL <"$g/cgroup.procs" 2>/dev/null || true
	for _ in $(seq 50); do [ -s "$g/cgroup.procs" ] || return 0; sleep 0.1; done
	echo "processes of $1 did not stop" >&2
	exit 1
}

# wait_port PORT: wait until 127.0.0.1:PORT accepts connections.
wait_port() {
	for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done
	echo "port $1 not listening" >&2
	exit 1
}

# field KEY FILE: the value of KEY=... in the last RESULT line of FILE.
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" "$2" | tail -1; }

# now: the time in seconds with nanoseconds.
now() { date +%s.%N; }

# dovecot_common DIR FSYNC: the Dovecot settings the IMAP and POP3 benchmarks
# share: loopback only, no TLS, plaintext login allowed, users from
# DIR/users (passwd-file), Maildir under DIR/mail/USER owned by uid 65534,
# mail_fsync FSYNC, INBOX with "/" as separator, and an auth cache like
# pail's (a repeated right login skips the password hash for 15 minutes).
dovecot_common() {
	cat <<CONF
listen = 127.0.0.1
base_dir = $1/run
state_dir = $1/state
log_path = $1/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 10M
auth_cache_ttl = 15 min
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1000
passdb {
  driver = passwd-file
  args = username_format=%u $1/users
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$1/mail/%u
}
mail_location = maildir:~/Maildir
mail_fsync = $2
namespace inbox {
  inbox = yes
  separator = /
}
CONF
}

# Repeated runs. Every script measures pail and its peer RUNS times,
# alternately (pail, peer, pail, peer, ...), so that load that comes and
# goes on the machine falls on both sides, and prints each run's figures,
# then the median and the spread (min–max) of each side and of the ratio
# of each run's pair.
RUNS=${RUNS:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive integer, not '$RUNS'" >&2; exit 2; }

# stats V...: print "median min max" of the values (for an even count the
# median is the mean of the middle two).
stats() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

# summary LABEL FORMAT V...: print "LABEL median X (min Y, max Z) over N
# runs", each figure formatted with the printf FORMAT ("%.0f msg/s",
# "%.2fx"). The scripts' last lines use it, so README figures can be
# copied from them.
summary() {
	local label=$1 fmt=$2 med lo hi
	shift 2
	read -r med lo hi < <(stats "$@")
	printf "%s median $fmt (min $fmt, max $fmt) over %d runs\n" "$label" "$med" "$lo" "$hi" $#
}

# ratio A B: A / B.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", a / b }'; }
