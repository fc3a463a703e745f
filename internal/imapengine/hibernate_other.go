//go:build !linux

package imapengine

import (
	"errors"
	"log/slog"
	"time"
)

// hibernation says sessions cannot hibernate here: each waits on a
// goroutine of its own (see hibernate.go).
const hibernation = false

// poller is not built on this system.
type poller struct{}

func newPoller(*slog.Logger) (*poller, error) {
	return nil, errors.New("imapengine: hibernation needs Linux")
}

func (*poller) add(*Conn, time.Time) (uint64, error) {
	return 0, errors.New("imapengine: hibernation needs Linux")
}

func (*poller) remove(*Conn, uint64) {}

func (*poller) close() {}
