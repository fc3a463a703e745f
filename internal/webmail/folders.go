package webmail

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"pail/internal/store"
)

// handleFolders creates, renames and deletes the user's own folders: "op"
// is create (a new folder "name", parents made as needed), rename (folder
// "box" to "name", its subfolders with it) or delete (folder "box"; its
// messages go to Trash first, so nothing is lost by a slip). INBOX and the
// special-use folders (Sent, Drafts, Trash, Junk, Archive) stay as they
// are: mail clients find them by those roles. A folder that is not the
// user's is a 404, whether it exists or not.
func (s *Server) handleFolders(w http.ResponseWriter, r *http.Request, u *user) {
	ctx := r.Context()
	st := s.deps.Store
	op := r.PostFormValue("op")
	if op == "create" {
		name, err := store.CleanMailboxName(r.PostFormValue("name"))
		if err != nil || name == store.Inbox {
			s.fail(w, r, u, http.StatusBadRequest, badFolderName)
			return
		}
		mb, err := st.CreateMailboxPath(ctx, u.acct.ID, name, "")
		if s.folderFailed(w, r, u, err) {
			return
		}
		http.Redirect(w, r, folderURL(mb.ID, "created"), http.StatusSeeOther)
		return
	}

	id, err := strconv.ParseInt(r.PostFormValue("box"), 10, 64)
	if err != nil {
		s.notFound(w, r, u)
		return
	}
	mb, err := s.ownMailbox(r, u, id)
	if err != nil {
		s.notFound(w, r, u)
		return
	}
	if mb.Name == store.Inbox || mb.SpecialUse != "" {
		s.fail(w, r, u, http.StatusBadRequest, "INBOX and the Sent, Drafts, Trash, Junk and Archive folders cannot be renamed or deleted.")
		return
	}
	switch op {
	case "rename":
		name, err := store.CleanMailboxName(r.PostFormValue("name"))
		if err != nil || name == store.Inbox {
			s.fail(w, r, u, http.StatusBadRequest, badFolderName)
			return
		}
		if s.folderFailed(w, r, u, st.RenameMailbox(ctx, u.acct.ID, mb.Name, name)) {
			return
		}
		http.Redirect(w, r, folderURL(mb.ID, "renamed"), http.StatusSeeOther)
	case "delete":
		trash, err := s.specialMailbox(r, u, `\Trash`, "Trash")
		if err != nil {
			s.internal(w, r, u, err)
			return
		}
		msgs, err := st.Messages(ctx, mb.ID)
		if err != nil {
			s.internal(w, r, u, err)
			return
		}
		if len(msgs) > 0 {
			uids := make([]uint32, len(msgs))
			for i, m := range msgs {
				uids[i] = m.UID
			}
			if _, err := st.Move(ctx, mb.ID, uids, trash.ID); err != nil {
				s.internal(w, r, u, err)
				return
			}
		}
		if err := st.DeleteMailbox(ctx, u.acct.ID, mb.Name); err != nil {
			s.internal(w, r, u, err)
			return
		}
		http.Redirect(w, r, "/mail?note=folder-deleted", http.StatusSeeOther)
	default:
		s.fail(w, r, u, http.StatusBadRequest, "Unknown action.")
	}
}

// folderFailed answers a failed create or rename, if err is one, and
// reports whether it did.
func (s *Server) folderFailed(w http.ResponseWriter, r *http.Request, u *user, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrExists):
		s.fail(w, r, u, http.StatusConflict, "A folder of that name already exists.")
	default:
		s.internal(w, r, u, err)
	}
	return true
}

const badFolderName = "A folder name cannot be empty, start with “/”, have “//”, “*”, “%” or control characters, or be longer than 512 bytes."

// folderURL is the message list of folder id with a confirmation note.
func folderURL(id int64, note string) string {
	return "/mail?" + url.Values{"box": {strconv.FormatInt(id, 10)}, "note": {note}}.Encode()
}
