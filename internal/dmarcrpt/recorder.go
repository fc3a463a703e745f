package dmarcrpt

import "pail/internal/reporting"

// RecorderConfig configures a Recorder.
type RecorderConfig = reporting.RecorderConfig

// Recorder counts DMARC outcomes per UTC day and row
// (reporting.Recorder): Record only updates a map, the counts are written
// every FlushInterval, and Close writes what is left.
type Recorder = reporting.Recorder[Outcome, key]

// NewRecorder returns a Recorder writing to db and starts its flusher.
func NewRecorder(db *DB, cfg RecorderConfig) *Recorder {
	return reporting.NewRecorder(cfg, outcomeKey, &countTable, db.db)
}
