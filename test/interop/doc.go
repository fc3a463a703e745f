//go:build interop

// Package interop drives a real `pail serve` process with third-party
// clients (swaks, python3's smtplib) and with raw sockets, the way an
// operator or a peer mail server would, and checks what lands in the store
// through `pail export`.
//
// The tests build ./cmd/pail once, start one server per test on free
// 127.0.0.1 ports with a config file written for that test, and stop it
// when the test ends. They need the build tag and the peers that
// scripts/install-deps.sh installs:
//
//	go test -tags interop -count=1 ./test/interop/...
//
// A missing peer fails the test that needs it; nothing is skipped.
package interop
