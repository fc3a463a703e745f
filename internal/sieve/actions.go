package sieve

import "time"

// Action is one thing a script asks delivery to do. The types are Keep,
// FileInto, Redirect, Discard, Reject and Vacation.
type Action interface{ isAction() }

// Keep files the message into the INBOX (RFC 5228 §4.3), with the
// flags of imap4flags (RFC 5232 §5); Implicit marks the implicit keep
// (§2.10.2).
type Keep struct {
	Flags    []string
	Implicit bool
}

// FileInto files the message into Mailbox (RFC 5228 §4.1), creating it
// first when Create (RFC 5490 §3.2) and it does not exist. Copy (RFC
// 3894) says it did not cancel the implicit keep.
type FileInto struct {
	Mailbox string
	Flags   []string
	Copy    bool
	Create  bool
}

// Redirect sends the message on to Address unchanged (RFC 5228 §4.2);
// Copy (RFC 3894) says it did not cancel the implicit keep.
type Redirect struct {
	Address string
	Copy    bool
}

// Discard drops the message silently (RFC 5228 §4.4). It only cancels
// the implicit keep; it is listed for the log.
type Discard struct{}

// Reject refuses the message with Reason (RFC 5429): ereject
// (Extended) at the SMTP level where delivery can still refuse, with a
// delivery status notification otherwise; reject prefers the
// notification (its reason as the human-readable part).
type Reject struct {
	Reason   string
	Extended bool
}

// Vacation is an automatic answer (RFC 5230 §4) to the envelope sender.
// Delivery must still send at most one answer per sender and Handle
// within Period (§4.2) and send it from the null sender (§5.1).
type Vacation struct {
	// To is who the answer goes to: the envelope sender.
	To string
	// Reason is the answer's text, or a MIME entity when MIME (§4.4).
	Reason string
	MIME   bool
	// Subject is :subject, or "" for "Auto: " and the original's (§4.6).
	Subject string
	// From is :from, "" for the recipient's address (§4.3).
	From string
	// Addresses are :addresses (§4.5).
	Addresses []string
	// Handle is :handle, or one derived from the arguments (§4.2).
	Handle string
	// Period is :days (in days, 1 at least) or :seconds (RFC 6131), 7
	// days by default.
	Period time.Duration
	// Suppress, when not empty, says why no answer may be sent: a null
	// sender (§5), mail not addressed to the user (§4.5), or mail that
	// RFC 3834 §2 says not to answer (Auto-Submitted, lists, bulk).
	Suppress string
}

func (Keep) isAction()     {}
func (FileInto) isAction() {}
func (Redirect) isAction() {}
func (Discard) isAction()  {}
func (Reject) isAction()   {}
func (Vacation) isAction() {}

// DuplicateMark is a duplicate-tracking record the caller stores once
// the message is delivered (RFC 7352 §3: tracking is committed when the
// script succeeds): Key for Expiry from delivery time; with Refresh
// (:last) an existing record's expiry is renewed, otherwise an existing
// record keeps its own.
type DuplicateMark struct {
	Key     string
	Expiry  time.Duration
	Refresh bool
}

// Result is what a run asks for.
type Result struct {
	// Actions in the order the script took them; the implicit keep, if
	// it stands, last.
	Actions []Action
	// Duplicates to record after delivery.
	Duplicates []DuplicateMark
	// Flags is imap4flags' internal variable at the end of the run (RFC
	// 5232 §3), nil if the script never set it.
	Flags []string
}
