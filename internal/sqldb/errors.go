package sqldb

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// SQLite result codes (the primary code is the low byte of an extended
// one).
const (
	sqliteBusy   = 5
	sqliteLocked = 6
)

// IsRetryable reports whether err is a transaction's failure that says
// nothing about the transaction itself, so that running it again may
// succeed: PostgreSQL's serialization failure (SQLSTATE 40001) and
// deadlock (40P01), SQLite's busy and locked.
func IsRetryable(err error) bool {
	if isCode(err, "40001", "40P01") {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqliteBusy || c == sqliteLocked
	}
	return false
}

// unavailableCodes are the SQLSTATEs of a server that is not serving
// now: admin_shutdown, crash_shutdown, cannot_connect_now (starting up
// or shutting down), too_many_connections.
var unavailableCodes = []string{"57P01", "57P02", "57P03", "53300"}

// IsUnavailable reports whether err means the database cannot be reached
// now, though it may be back soon: a refused, reset or broken connection,
// a connection that could not be made, a server shutting down or still
// starting (SQLSTATE 57P01, 57P02, 57P03, class 08, 53300). Such an error
// is answered 451 4.3.0 (try again later); nothing needs reopening, since
// database/sql makes new connections when the server is back.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || slices.Contains(unavailableCodes, pe.Code)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	// pgconn reports a connection that died under a query as "conn
	// closed" or "unexpected EOF" text around an unexported type.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "unexpected EOF")
}

// isCode reports whether err is a PostgreSQL error with one of codes.
func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && slices.Contains(codes, pe.Code)
}
