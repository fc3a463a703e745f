package webmail

import (
	"errors"
	"fmt"
	"net/http"

	"pail/internal/admin"
	"pail/internal/queue"
)

// queuePage is the data of the outgoing queue's page.
type queuePage struct {
	adminBase
	Messages []queue.Message
	Pending  int // recipients still to be tried
}

func (s *Server) handleAdminQueue(w http.ResponseWriter, r *http.Request, u *user) {
	s.showQueue(w, r, u, http.StatusOK, adminBase{})
}

func (s *Server) showQueue(w http.ResponseWriter, r *http.Request, u *user, status int, res adminBase) {
	p := queuePage{adminBase: s.adminBase(r, u, "Outgoing queue", "queue")}
	p.Notice, p.Error = res.Notice, res.Error
	if s.deps.Queue == nil {
		p.Error = "This server has no outgoing queue."
		s.render(w, status, "admin-queue", p)
		return
	}
	msgs, err := s.deps.Queue.List(r.Context())
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	p.Messages = msgs
	for _, m := range msgs {
		for _, rc := range m.Recipients {
			if rc.State == queue.Pending {
				p.Pending++
			}
		}
	}
	s.render(w, status, "admin-queue", p)
}

// queueMessagePage is the data of one queued message's page.
type queueMessagePage struct {
	adminBase
	Message queue.Message
	Content string
	Cut     bool // Content is the first maxQueueShown bytes only
}

func (s *Server) handleAdminQueueMessage(w http.ResponseWriter, r *http.Request, u *user) {
	if s.deps.Queue == nil {
		s.fail(w, r, u, http.StatusNotFound, "There is no such message in the queue.")
		return
	}
	m, err := s.deps.Queue.Show(r.Context(), r.PathValue("id"))
	if errors.Is(err, queue.ErrNotFound) {
		s.fail(w, r, u, http.StatusNotFound, "There is no such message in the queue.")
		return
	}
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	text, cut, err := admin.Content(r.Context(), s.deps.Queue, m, maxQueueShown)
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	p := queueMessagePage{adminBase: s.adminBase(r, u, "Queued message", "queue"), Message: m, Content: string(text), Cut: cut}
	s.render(w, http.StatusOK, "admin-queuemsg", p)
}

// handleAdminQueuePost flushes the queue or deletes messages from it, as
// pail queue flush and pail queue delete do.
func (s *Server) handleAdminQueuePost(w http.ResponseWriter, r *http.Request, u *user) {
	if s.deps.Queue == nil {
		s.fail(w, r, u, http.StatusNotFound, "This server has no outgoing queue.")
		return
	}
	ctx := r.Context()
	var res adminBase
	var notice string
	var err error
	switch r.PostFormValue("op") {
	case "flush":
		var n int
		n, err = s.deps.Queue.Flush(ctx)
		notice = fmt.Sprintf("%d recipient(s) due now; the server tries them within %s.", n, queue.DefaultPollInterval)
	case "delete":
		id := r.PostFormValue("id")
		err = s.deps.Queue.Delete(ctx, id)
		notice = "Deleted " + id + " from the queue; no bounce was sent."
	default:
		s.fail(w, r, u, http.StatusBadRequest, "Unknown action.")
		return
	}
	if status := s.outcome(w, r, u, &res, notice, err); status != 0 {
		s.showQueue(w, r, u, status, res)
	}
}
