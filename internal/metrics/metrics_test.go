package metrics

import (
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	r := NewRegistry()
	r.Counter("pail_mail_events_total", "Mail events.", "event", "received").Add(3)
	r.Counter("pail_mail_events_total", "Mail events.", "event", "bounced").Inc()
	r.Counter("pail_mail_events_total", "Mail events.", "event", "received").Inc()
	r.GaugeFunc("pail_queue_messages", "Messages waiting.", func() float64 { return 7 })
	r.Counter("pail_x_total", "Odd \"label\".", "v", "a\"b\\c").Inc()
	var b strings.Builder
	r.WriteTo(&b)
	want := `# HELP pail_mail_events_total Mail events.
# TYPE pail_mail_events_total counter
pail_mail_events_total{event="bounced"} 1
pail_mail_events_total{event="received"} 4
# HELP pail_queue_messages Messages waiting.
# TYPE pail_queue_messages gauge
pail_queue_messages 7
# HELP pail_x_total Odd "label".
# TYPE pail_x_total counter
pail_x_total{v="a\"b\\c"} 1
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	var nilReg *Registry
	nilReg.Counter("x", "y").Inc() // a nil registry counts nothing
}
