#!/usr/bin/env bash
# install-deps.sh installs the third-party peers that test/interop drives
# (swaks with its TLS and SASL modules, python3 for smtplib) from Debian's
# packages. It is idempotent: when every package is present it does nothing.
# It fails loudly when a package cannot be installed.
set -euo pipefail

packages=(
	swaks
	libnet-ssleay-perl
	libio-socket-ssl-perl
	libauthen-sasl-perl
	python3
	fetchmail
	ca-certificates
	chromium fonts-dejavu-core # webmail browser test (test/interop/webmail_test.go)
	isync s-nail
	mutt tmux # README recipes run as written, mutt in a terminal (test/interop/readme_test.go)
	openssl # s_client ALPN refusal after STARTTLS (test/interop/hardening_smtp_test.go)
	curl # web cache interop (test/interop/proxy_test.go)
	dnsutils knot-dnsutils # dig and kdig against pail's name server (test/interop/dns_test.go)
	bind9-dnsutils # delv validating pail's signed zones (test/interop/pail_dnssec_test.go)
	python3-dkim python3-nacl # DKIM verifier and signer, Ed25519 too, run with /usr/bin/python3 (test/interop/dkim_test.go, inbound_checks_test.go)
	pebble # Let's Encrypt's test ACME CA (test/interop/acme_test.go)
	nsd unbound ldnsutils # DNSSEC: zones signed by ldns-signzone, served by NSD, validated by unbound (test/interop/dnssec_test.go)
	rspamd redis-server # spam filter checks and Bayes learning, statistics in redis (test/interop/rspamd_test.go)
	sieve-connect # ManageSieve client (test/interop/sieve_test.go)
	postgresql # initdb/pg_ctl for the private test clusters of internal/pgtest (the PostgreSQL store's tests)
	offlineimap3 getmail6 neomutt # IMAP/POP3 clients: sync, retrieval, a terminal reader (test/interop/mailclients_test.go)
)

die() {
	echo "install-deps: FAIL: $*" >&2
	exit 1
}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

command -v dpkg-query >/dev/null || die "dpkg-query not found: this script expects Debian or Ubuntu"

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all present: ${packages[*]}"
else
	echo "install-deps: installing: ${missing[*]}"
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "not root and no sudo; cannot install ${missing[*]}"
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update || die "apt-get update failed"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}" ||
		die "apt-get install ${missing[*]} failed"
	for p in "${missing[@]}"; do
		installed "$p" || die "$p is still not installed after apt-get install"
	done
fi

# The packages are no use unless the programs run.
for cmd in swaks python3 pebble nsd unbound delv kdig ldns-keygen ldns-signzone rspamd redis-server sieve-connect offlineimap getmail neomutt; do
	command -v "$cmd" >/dev/null || die "$cmd not found in PATH"
done
perl -MIO::Socket::SSL -MNet::SSLeay -MAuthen::SASL -e 1 ||
	die "swaks's Perl modules (IO::Socket::SSL, Net::SSLeay, Authen::SASL) do not load"
python3 -c 'import smtplib, ssl' || die "python3 cannot import smtplib and ssl"
/usr/bin/python3 -c 'import dkim, nacl' || die "Debian's /usr/bin/python3 cannot import dkim and nacl (python3-dkim, python3-nacl)"
echo "install-deps: ok"
