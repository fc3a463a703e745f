package config

import "fmt"

// Sieve defaults, each with its reason.
const (
	// DefaultSieveMaxScriptBytes: a long hand-written script is a few
	// KiB; 128 KiB holds thousands of rules (Dovecot's
	// sieve_max_script_size is 1 MiB; the interpreter's own bound).
	DefaultSieveMaxScriptBytes = 128 << 10
	// DefaultSieveMaxScripts: a few scripts to switch between, and
	// includes; Dovecot's sieve_quota_max_scripts is unlimited, Stalwart
	// allows 100.
	DefaultSieveMaxScripts = 32
	// DefaultSieveMaxRedirects: RFC 5228 §10 asks implementations to
	// bound redirects per run; Dovecot's sieve_max_redirects is 4.
	DefaultSieveMaxRedirects = 4
	// maxSieveScriptBytes is the interpreter's compile-time bound
	// (package sieve, 1 MiB).
	maxSieveScriptBytes = 1 << 20
)

// Sieve bounds users' Sieve scripts ([sieve]).
type Sieve struct {
	// MaxScriptBytes bounds one script (ManageSieve QUOTA/MAXSIZE).
	MaxScriptBytes int `toml:"max_script_bytes"`
	// MaxScripts bounds the scripts of one account (QUOTA/MAXSCRIPTS).
	MaxScripts int `toml:"max_scripts"`
	// MaxRedirects bounds the redirects of one script run.
	MaxRedirects int `toml:"max_redirects"`
}

func defaultSieve() Sieve {
	return Sieve{MaxScriptBytes: DefaultSieveMaxScriptBytes, MaxScripts: DefaultSieveMaxScripts, MaxRedirects: DefaultSieveMaxRedirects}
}

func (s Sieve) validate() error {
	if s.MaxScriptBytes < 1 || s.MaxScriptBytes > maxSieveScriptBytes {
		return fmt.Errorf("sieve.max_script_bytes must be 1 to %d", maxSieveScriptBytes)
	}
	if s.MaxScripts < 1 {
		return fmt.Errorf("sieve.max_scripts must be at least 1")
	}
	if s.MaxRedirects < 1 || s.MaxRedirects > 64 {
		return fmt.Errorf("sieve.max_redirects must be 1 to 64")
	}
	return nil
}
