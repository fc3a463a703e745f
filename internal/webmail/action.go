package webmail

import (
	"errors"
	"net/http"
	"strconv"

	"pail/internal/store"
)

// maxActionIDs bounds how many messages one action changes.
const maxActionIDs = 1000

// handleAction changes many messages at once: the form's "ids" are store
// message ids, "op" is read, unread, flag, unflag, move (to "dest") or
// delete (to Trash; from Trash for good). Any id that is not the user's
// makes the whole request a 404 and changes nothing.
func (s *Server) handleAction(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	raw := r.PostForm["ids"]
	if len(raw) > maxActionIDs {
		s.fail(w, r, u, http.StatusBadRequest, "Too many messages selected at once.")
		return
	}
	back := localPath(r.PostFormValue("back"))
	if len(raw) == 0 {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	// Messages grouped by folder, in the order first seen.
	type group struct {
		mb   store.Mailbox
		uids []uint32
		ids  []int64
	}
	var groups []*group
	byBox := map[int64]*group{}
	for _, v := range raw {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.notFound(w, r, u)
			return
		}
		m, err := s.deps.Store.MessageOfAccount(ctx, u.acct.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			s.notFound(w, r, u)
			return
		}
		if err != nil {
			s.internal(w, r, u, err)
			return
		}
		g := byBox[m.MailboxID]
		if g == nil {
			mb, err := s.ownMailbox(r, u, m.MailboxID)
			if err != nil {
				s.notFound(w, r, u)
				return
			}
			g = &group{mb: mb}
			byBox[m.MailboxID] = g
			groups = append(groups, g)
		}
		g.uids = append(g.uids, m.UID)
		g.ids = append(g.ids, m.ID)
	}

	op := r.PostFormValue("op")
	note := "updated"
	var err error
	switch op {
	case "read", "unread", "flag", "unflag":
		fop, flag := store.FlagsAdd, `\Seen`
		switch op {
		case "unread":
			fop = store.FlagsRemove
		case "flag":
			flag = `\Flagged`
		case "unflag":
			fop, flag = store.FlagsRemove, `\Flagged`
		}
		for _, g := range groups {
			if _, _, err = s.deps.Store.SetFlags(ctx, g.mb.ID, g.uids, fop, []string{flag}, 0); err != nil {
				break
			}
		}
	case "move":
		note = "moved"
		destID, perr := strconv.ParseInt(r.PostFormValue("dest"), 10, 64)
		dest, derr := s.ownMailbox(r, u, destID)
		if perr != nil || derr != nil {
			s.notFound(w, r, u)
			return
		}
		for _, g := range groups {
			if g.mb.ID == dest.ID {
				continue
			}
			var res store.CopyResult
			if res, err = s.deps.Store.Move(ctx, g.mb.ID, g.uids, dest.ID); err != nil {
				break
			}
			s.filed(g.mb, dest, res)
		}
	case "delete":
		note = "deleted"
		trash, terr := s.specialMailbox(r, u, `\Trash`, "Trash")
		for _, g := range groups {
			// RFC 6154 §2: \Trash holds deleted messages; deleting from
			// there (or without a Trash) removes them for good.
			if terr != nil || g.mb.ID == trash.ID {
				err = s.deps.Store.Expunge(ctx, g.mb.ID, g.ids)
			} else {
				var res store.CopyResult
				res, err = s.deps.Store.Move(ctx, g.mb.ID, g.uids, trash.ID)
				s.filed(g.mb, trash, res)
			}
			if err != nil {
				break
			}
		}
	default:
		s.fail(w, r, u, http.StatusBadRequest, "Unknown action.")
		return
	}
	if err != nil {
		s.internal(w, r, u, err)
		return
	}
	http.Redirect(w, r, addNote(back, note), http.StatusSeeOther)
}

// filed tells the Learner, if any, where moved messages went.
func (s *Server) filed(from, to store.Mailbox, res store.CopyResult) {
	if l := s.deps.Learner; l != nil && len(res.DestUIDs) > 0 {
		l.Filed(from, to, res.DestUIDs)
	}
}

// addNote adds a confirmation to a redirect target.
func addNote(path, note string) string {
	sep := "?"
	for i := 0; i < len(path); i++ {
		if path[i] == '?' {
			sep = "&"
		}
	}
	return path + sep + "note=" + note
}
