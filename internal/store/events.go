package store

import "sync"

// EventKind says what changed.
type EventKind int

// The kinds of change the store announces.
const (
	EventNewMessage     EventKind = iota + 1 // a message was added to a mailbox
	EventFlags                               // flags of messages changed
	EventExpunge                             // messages were removed
	EventMailboxes                           // mailboxes were created, renamed or deleted
	EventAccountDeleted                      // the account is gone
	EventSubscriptions                       // a name was subscribed or unsubscribed (IMAP NOTIFY, RFC 5465 §5.5)
)

// Event tells subscribers that an account's data changed. Events are hints:
// a subscriber that falls behind may miss some, and should re-read the
// state it cares about whenever it receives any.
type Event struct {
	AccountID int64
	MailboxID int64
	Kind      EventKind
}

// Subscription receives the events of one account on C until Close.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	account int64
	hub     *hub
	notify  func() // called after each event is offered on C; see Notify
}

// Notify makes f run after each event is offered on C (dropped or not),
// until Close, so that a subscriber can wait without a goroutine of its
// own parked on C. f runs on the publisher's goroutine under the hub's
// lock: it must be quick and must not block or call back into the store.
// Nil stops the calls.
func (sub *Subscription) Notify(f func()) {
	sub.hub.mu.Lock()
	sub.notify = f
	sub.hub.mu.Unlock()
}

// Close stops the subscription.
func (sub *Subscription) Close() {
	sub.hub.mu.Lock()
	delete(sub.hub.subs[sub.account], sub)
	if len(sub.hub.subs[sub.account]) == 0 {
		delete(sub.hub.subs, sub.account)
	}
	sub.hub.mu.Unlock()
}

// Subscribe returns a subscription to the changes of one account.
func (s *Store) Subscribe(accountID int64) *Subscription {
	// One pending event is enough: events are hints, and a subscriber
	// re-reads all it cares about on any (see Event). An idle IMAP session
	// holds one of these, so it is kept small.
	c := make(chan Event, 1)
	sub := &Subscription{C: c, c: c, account: accountID, hub: &s.hub}
	s.hub.mu.Lock()
	if s.hub.subs == nil {
		s.hub.subs = map[int64]map[*Subscription]struct{}{}
	}
	if s.hub.subs[accountID] == nil {
		s.hub.subs[accountID] = map[*Subscription]struct{}{}
	}
	s.hub.subs[accountID][sub] = struct{}{}
	s.hub.mu.Unlock()
	return sub
}

// hub fans events out to subscribers without ever blocking the writer.
type hub struct {
	mu   sync.Mutex
	subs map[int64]map[*Subscription]struct{}
}

func (h *hub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs[ev.AccountID] {
		select {
		case sub.c <- ev:
		default: // the subscriber has unread events and will re-read anyway
		}
		if sub.notify != nil {
			sub.notify()
		}
	}
}
