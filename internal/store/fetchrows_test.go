package store

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"pail/internal/imapmsg"
)

// TestEachMessageBatches: EachMessage read in batches (here of 3) gives
// every message asked for once, in UID order, with the forms KeptWire
// gives, for a dense set, a sparse one and one with UIDs that do not
// exist, whatever the batch boundaries; and sorts what it is given.
func TestEachMessageBatches(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		ctx := context.Background()
		s := be.open(t)
		a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
		ds := deliverSummaries(t, s, a.ID, 10)
		mb := ds[0].MailboxID
		var all []uint32
		for _, d := range ds {
			all = append(all, d.UID)
		}
		query := "SELECT " + messageColumns + `, json_extract(m.summary, '$.IMAPEnvelope.Plain'), json_extract(m.summary, '$.IMAPEnvelope.UTF8'),
			NULL, NULL, NULL, NULL FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ? AND `
		for _, set := range [][]uint32{all, {all[1], all[4], all[5], all[9]}, {all[0], all[9], 500, 501, 502}} {
			want, err := s.KeptWire(ctx, mb, set, false)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint32
			err = s.eachMessage(ctx, query, mb, set, KeptEnvelope, 3, func(m *Message, d imapmsg.Described) error {
				got = append(got, m.UID)
				w := want[m.UID]
				if d.Envelope == nil || !reflect.DeepEqual(*d.Envelope, *w.Envelope) {
					t.Errorf("UID %d: %+v, want %+v", m.UID, d.Envelope, w.Envelope)
				}
				return nil
			})
			exist := slices.DeleteFunc(slices.Clone(set), func(u uint32) bool { return u >= 500 })
			if err != nil || !slices.Equal(got, exist) {
				t.Errorf("set %v: %v, got %v", set, err, got)
			}
		}
		// EachMessage takes UIDs in any order, each once.
		var got []uint32
		err := s.EachMessage(ctx, mb, []uint32{all[9], all[0], 500, all[0]}, KeptNone, func(m *Message, d imapmsg.Described) error {
			got = append(got, m.UID)
			return nil
		})
		if err != nil || !slices.Equal(got, []uint32{all[0], all[9]}) {
			t.Errorf("unsorted: %v, got %v", err, got)
		}
	})
}
