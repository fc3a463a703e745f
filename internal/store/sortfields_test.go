package store

import (
	"context"
	"reflect"
	"testing"
	"time"

	"pail/internal/message"
)

// TestSortFields: the fields SORT and THREAD use, picked out of the kept
// summary in SQL, equal those of the message read from its file, for a
// message with every field, one whose To starts with a group, one with
// none of them, and one stored before summaries were kept (read from
// its file).
func TestSortFields(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	a, _ := s.AddAccount(ctx, "jill@hill.test", "h", false)
	raws := []string{
		"From: =?utf-8?q?J=C3=BCrgen?= <jj@town.test>, b@x.test\r\nTo: jill@hill.test\r\nCc: Carl <c@x.test>\r\nSubject: Re: [list] caf\xc3\xa9\r\n" +
			"Date: Mon, 7 Dec 2026 23:30:00 -0500\r\nMessage-ID: <m1@town>\r\nIn-Reply-To: <p@town> <q@town>\r\nReferences: <r@town> <p@town>\r\n\r\nhi\r\n",
		summaryMsg(1),
		"X-Nothing: at all\r\n\r\nbody\r\n",
		"From: old@x.test\r\nSubject: old\r\nReferences: <o@x>\r\n\r\nold\r\n",
	}
	var uids []uint32
	var mailbox int64
	for _, raw := range raws {
		ds, err := s.DeliverBody(ctx, spool(t, s, raw), []Delivery{{AccountID: a.ID}})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, ds[0].UID)
		mailbox = ds[0].MailboxID
	}
	if _, err := s.db.Exec("UPDATE messages SET summary = NULL WHERE uid = ?", uids[3]); err != nil {
		t.Fatal(err)
	}
	collect := func(uids []uint32, want SortWant) ([]SortFields, error) {
		var out []SortFields
		err := s.SortFields(ctx, mailbox, uids, want, func(f *SortFields) { out = append(out, *f) })
		return out, err
	}
	got, err := collect(append(uids, 999), SortDate|SortSubject|SortFrom|SortTo|SortCc|SortReferences)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := s.MessagesByUID(ctx, mailbox, uids)
	if len(got) != len(raws) || len(msgs) != len(raws) {
		t.Fatalf("%d sort fields, %d messages, want %d", len(got), len(msgs), len(raws))
	}
	first := func(l []message.EnvelopeAddress) message.EnvelopeAddress {
		if len(l) == 0 {
			return message.EnvelopeAddress{}
		}
		return l[0]
	}
	for i, m := range msgs {
		info, err := keepFile(m.path)
		if err != nil {
			t.Fatal(err)
		}
		want := SortFields{UID: m.UID, InternalDate: m.InternalDate, Size: m.Size, Date: info.Date, Subject: info.Subject,
			From: first(info.Envelope.From), To: first(info.Envelope.To), Cc: first(info.Envelope.Cc),
			MessageID: info.MessageID, InReplyTo: info.InReplyTo, References: info.References}
		g := got[i]
		if !g.Date.Equal(want.Date) {
			t.Errorf("%d: Date %v, want %v", i, g.Date, want.Date)
		}
		g.Date, want.Date = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, want) {
			t.Errorf("%d:\n got %+v\nwant %+v", i, g, want)
		}
	}
	// Only what is asked for is read.
	some, err := collect(uids[:1], SortDate)
	if err != nil || len(some) != 1 || some[0].Date.IsZero() || some[0].Subject != "" || some[0].From.Mailbox != "" || some[0].References != nil || some[0].Size != got[0].Size {
		t.Errorf("SortFields(SortDate) = %+v, %v", some, err)
	}
	if got[0].From.Name != "Jürgen" || got[0].Subject != "Re: [list] café" || len(got[0].References) != 2 || !got[1].To.IsGroupStart() || got[2].Subject != "" {
		t.Errorf("fields not as written: %+v / %+v / %+v", got[0], got[1], got[2])
	}
}
