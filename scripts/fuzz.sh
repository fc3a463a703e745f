#!/usr/bin/env bash
# Runs every fuzz target of the module briefly: first its committed seed
# corpus (testdata/fuzz/), then N new inputs (default 2000; a count rather
# than a duration, which avoids a Go 1.26 fuzzing stall on busy machines).
# Usage: scripts/fuzz.sh [N]
set -euo pipefail
N=${1:-2000}
cd "$(dirname "$0")/.."
fail=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "==> fuzz $pkg $target ($N inputs)"
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "${N}x" "$pkg" >/tmp/fuzz.$$.log 2>&1; then
			cat /tmp/fuzz.$$.log
			fail=1
		fi
	done
done
rm -f /tmp/fuzz.$$.log
exit $fail
