package dmarcrpt

import (
	"log/slog"

	"pail/internal/reporting"
)

// Scheduler returns the daily run of s (reporting.Scheduler): the
// previous UTC day's reports shortly after 00:00 UTC, failed sends tried
// again, counts older than reporting.KeepDays dropped. Run it in a
// goroutine of its own: it never holds up mail.
func (s *Sender) Scheduler(log *slog.Logger) *reporting.Scheduler {
	return &reporting.Scheduler{Name: name, Send: s.SendDay, Prune: s.DB.Prune, Now: s.Now, Log: log}
}
