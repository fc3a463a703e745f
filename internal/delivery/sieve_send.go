package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"

	"pail/internal/dsn"
	"pail/internal/maillog"
	"pail/internal/sieve"
	"pail/internal/store"
)

// enqueueBytes queues data, a whole message, from sender to rcpt.
func (m *Message) enqueueBytes(ctx context.Context, from, rcpt string, data []byte, sign bool) error {
	return m.d.queue.Enqueue(ctx, NewID(), from, []string{rcpt}, io.NewSectionReader(bytes.NewReader(data), 0, int64(len(data))), sign)
}

// redirect queues the message to addr (RFC 5228 §4.2) unchanged but for
// the marker naming the account that redirected it (the loop guard) and
// the trace this hop added. The envelope sender stays the original's: no
// SRS rewriting, so a bounce goes to the author, and a receiver that
// checks SPF sees this host send for the sender's domain (see README).
// The copy is not DKIM-signed: its From is not ours to sign for.
func (m *Message) redirect(ctx context.Context, account, addr string) error {
	sp, err := m.d.store.NewBody()
	if err != nil {
		return fmt.Errorf("delivery: spool: %w", err)
	}
	defer sp.Discard()
	if _, err := fmt.Fprintf(sp, "%s: %s\r\n", redirectMarker, account); err != nil {
		return fmt.Errorf("delivery: spool: %w", err)
	}
	if _, err := io.Copy(sp, m.queued()); err != nil {
		return fmt.Errorf("delivery: spool: %w", err)
	}
	if err := m.d.queue.Enqueue(ctx, NewID(), m.from, []string{addr}, io.NewSectionReader(sp, 0, sp.Size()), false); err != nil {
		return fmt.Errorf("delivery: redirect to %s: %w", addr, err)
	}
	return nil
}

// rejectNotice queues the notice of a script's reject to the sender
// (RFC 5429 §2.1: when the refusal cannot be given in the SMTP reply, a
// DSN, RFC 3464, with the script's reason). None goes to the null sender.
func (m *Message) rejectNotice(ctx context.Context, rcpt string, r *sieve.Reject, header []byte) error {
	if m.from == "" {
		return nil
	}
	notice := dsn.Build(dsn.Report{
		ReportingMTA: m.d.hostname, To: m.from, QueueID: m.ID, ArrivalDate: time.Now(),
		Recipients: []dsn.Recipient{{Address: rcpt, Status: "5.7.1", Reason: "rejected by the recipient's filter: " + r.Reason}},
		Headers:    header,
	})
	if err := m.enqueueBytes(ctx, "", m.from, notice, false); err != nil {
		return fmt.Errorf("delivery: reject notice: %w", err)
	}
	return nil
}

// vacationReply queues a vacation answer (RFC 5230 §4–§5) unless it must
// not go out: a reason the interpreter found (RFC 3834 §2 and RFC 5230
// §4.5), or an answer to this sender with this handle within the period
// (§4.2, recorded in the store). It is sent from the null sender (§5.1),
// marked Auto-Submitted: auto-replied (RFC 3834 §5), From the user, and
// DKIM-signed like the user's own mail. Failures are logged: a missing
// answer never fails the delivery.
func (m *Message) vacationReply(ctx context.Context, t Target, v *sieve.Vacation, header []byte) {
	log := m.d.sieve.Log
	if v.Suppress != "" {
		log.Info("sieve vacation not sent", "id", m.ID, "to", t.Address, "why", v.Suppress)
		return
	}
	due, err := m.d.sieve.Store.VacationDue(ctx, t.ID, strings.ToLower(v.To)+"\x00"+v.Handle, v.Period)
	if err != nil {
		log.Warn("sieve vacation not sent", "id", m.ID, "to", t.Address, "err", err)
		return
	}
	if !due {
		log.Info("sieve vacation not sent", "id", m.ID, "to", t.Address, "why", "already answered "+v.To+" within the period (RFC 5230 §4.2)")
		return
	}
	if err := m.enqueueBytes(ctx, "", v.To, vacationMessage(m.d.hostname, t.Address, v, header, time.Now()), true); err != nil {
		log.Warn("sieve vacation not sent", "id", m.ID, "to", t.Address, "err", err)
		return
	}
	log.Info("sieve vacation sent", "id", m.ID, "from", t.Address, "to", v.To)
}

// maxVacationSubject bounds the subject taken from the original (RFC
// 5322 §2.1.1 lines; the rest is cut).
const maxVacationSubject = 200

// vacationMessage composes the answer: From the user (:from only when
// it is the user's own address, so that a script cannot make pail sign
// for someone else), To the sender, the subject (§4.6: "Auto: " and the
// original's by default), In-Reply-To and References (§5.8).
func vacationMessage(hostname, user string, v *sieve.Vacation, orig []byte, now time.Time) []byte {
	h, _ := mail.ReadMessage(bytes.NewReader(append(append([]byte{}, orig...), "\r\n"...)))
	get := func(k string) string {
		if h == nil {
			return ""
		}
		return strings.TrimSpace(h.Header.Get(k))
	}
	from := user
	if v.From != "" {
		if a, err := mail.ParseAddress(v.From); err == nil && strings.EqualFold(a.Address, user) {
			from = a.String()
		}
	}
	subject := v.Subject
	if subject == "" {
		dec := new(mime.WordDecoder)
		s, err := dec.DecodeHeader(get("Subject"))
		if err != nil {
			s = get("Subject")
		}
		subject = "Auto: " + s
	}
	if len(subject) > maxVacationSubject {
		subject = subject[:maxVacationSubject]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", v.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", oneLine(subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", NewID(), hostname)
	if id := get("Message-Id"); id != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\n", oneLine(id))
		refs := get("References")
		if refs == "" {
			refs = get("In-Reply-To")
		}
		fmt.Fprintf(&b, "References: %s\r\n", strings.TrimSpace(oneLine(refs)+" "+oneLine(id)))
	}
	b.WriteString("Auto-Submitted: auto-replied (vacation)\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	reason := strings.ReplaceAll(strings.ReplaceAll(v.Reason, "\r\n", "\n"), "\n", "\r\n")
	if v.MIME {
		// §4.4: the reason is a MIME entity, its own header first.
		b.WriteString(reason)
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		b.WriteString(reason)
	}
	if !strings.HasSuffix(reason, "\r\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// oneLine unfolds a header value and drops control characters.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }), " ")
}

// filterResult is what the scripts of a message's local recipients
// decided, for Commit.
type filterResult struct {
	deliveries []store.Delivery
	targets    []Target
	after      []func(ctx context.Context) error // redirects and notices, after the local copies are in
	retain     bool                              // the spool is read after Deliver
	vacations  []func(ctx context.Context)
	duplicates []func(ctx context.Context)
	rejected   int    // targets whose script rejected
	reason     string // the first reject's reason
}

// filter runs the active script of each local recipient that has one:
// ds and ts are the copies Commit would store without scripts, one per
// target. A recipient without a script keeps its copy as it is.
func (m *Message) filter(ctx context.Context, ds []store.Delivery, ts []Target) (*filterResult, error) {
	ids := make([]int64, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	scripts, err := m.d.sieve.Store.ActiveSieveScripts(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	fr := &filterResult{}
	if len(scripts) == 0 {
		fr.deliveries, fr.targets = ds, ts
		return fr, nil
	}
	msg := openSieveMessage(m.sp, m.returnPath, m.sp.Size())
	header := msg.Header()
	for i, t := range ts {
		sc, ok := scripts[t.ID]
		if !ok {
			fr.deliveries, fr.targets = append(fr.deliveries, ds[i]), append(fr.targets, t)
			continue
		}
		out := m.runSieve(ctx, msg, sc.Text, t, ds[i])
		for j, d := range out.deliveries {
			// Each copy has its own duplicate key, so that a retry finds
			// every one of them (and the first keeps the key it would
			// have without a script).
			if base := ds[i].DedupeKey; base != nil {
				d.DedupeKey, d.DedupeSince = base, ds[i].DedupeSince
				if j > 0 {
					d.DedupeKey = append(append([]byte{}, base...), byte(j), byte(j>>8))
				}
			}
			fr.deliveries, fr.targets = append(fr.deliveries, d), append(fr.targets, t)
		}
		for _, addr := range out.redirects {
			fr.retain = true
			fr.after = append(fr.after, func(ctx context.Context) error {
				if err := m.redirect(ctx, t.Address, addr); err != nil {
					return err
				}
				m.d.log.Log(maillog.Delivered, "id", m.ID, "to", "<"+t.Address+">", "orig_to", "<"+t.Rcpt+">", "status", "redirected", "relay", "<"+addr+">")
				return nil
			})
		}
		if r := out.reject; r != nil {
			fr.rejected++
			if fr.reason == "" {
				fr.reason = r.Reason
			}
			fr.after = append(fr.after, func(ctx context.Context) error {
				if err := m.rejectNotice(ctx, t.Rcpt, r, header); err != nil {
					return err
				}
				m.d.log.Log(maillog.Delivered, "id", m.ID, "to", "<"+t.Address+">", "orig_to", "<"+t.Rcpt+">", "status", "rejected")
				return nil
			})
		} else if len(out.deliveries) == 0 && len(out.redirects) == 0 {
			m.d.log.Log(maillog.Delivered, "id", m.ID, "to", "<"+t.Address+">", "orig_to", "<"+t.Rcpt+">", "status", "discarded")
		}
		if v := out.vacation; v != nil {
			fr.vacations = append(fr.vacations, func(ctx context.Context) { m.vacationReply(ctx, t, v, header) })
		}
		if len(out.duplicates) > 0 {
			marks := make([]store.SieveDuplicateMark, len(out.duplicates))
			for k, d := range out.duplicates {
				marks[k] = store.SieveDuplicateMark{Key: d.Key, Expiry: d.Expiry, Refresh: d.Refresh}
			}
			fr.duplicates = append(fr.duplicates, func(ctx context.Context) {
				if err := m.d.sieve.Store.RecordSieveDuplicates(ctx, t.ID, marks); err != nil {
					m.d.sieve.Log.Warn("sieve duplicate records not stored", "id", m.ID, "to", t.Address, "err", err)
				}
			})
		}
	}
	return fr, nil
}
