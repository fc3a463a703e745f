package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CopyResult maps source UIDs to the UIDs the copies got, in the same order
// (RFC 4315 COPYUID).
type CopyResult struct {
	UIDValidity uint32 // of the destination
	SrcUIDs     []uint32
	DestUIDs    []uint32
}

// Copy copies the messages with the given UIDs from one mailbox to another
// of the same account, keeping flags and internal dates (RFC 9051 §6.4.7).
// Each copy is a hard link to the same bytes under a new name. When Copy
// returns nil the copies are durable. UIDs that do not exist are skipped.
func (s *Store) Copy(ctx context.Context, srcID int64, uids []uint32, destID int64) (CopyResult, error) {
	src, err := s.MailboxByID(ctx, srcID)
	if err != nil {
		return CopyResult{}, err
	}
	msgs, err := s.MessagesByUID(ctx, srcID, uids)
	if err != nil {
		return CopyResult{}, err
	}
	dir := s.accountDir(src.AccountID)
	links := make([]string, 0, len(msgs))
	for _, m := range msgs {
		if s.db.pg() {
			// The copy names the same bodies row.
			links = append(links, strconv.FormatInt(m.bodyID, 10))
			continue
		}
		p := filepath.Join(dir, s.owner.name())
		if err := os.Link(m.path, p); err != nil {
			// Expunged meanwhile: no copy of it.
			links = append(links, "")
			continue
		}
		links = append(links, p)
	}
	if s.afterPlace != nil {
		s.afterPlace()
	}
	var res CopyResult
	var dirs []string
	if !s.db.pg() {
		dirs = []string{dir}
	}
	err = s.write(ctx, dirs, func(tx *dbTx) error {
		res = CopyResult{}
		var account int64
		var uidnext uint32
		var modseq uint64
		if err := tx.QueryRow("SELECT account_id, uidvalidity, uidnext, modseq FROM mailboxes WHERE id = ?"+s.d.forUpdate, destID).Scan(&account, &res.UIDValidity, &uidnext, &modseq); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if account != src.AccountID {
			return fmt.Errorf("%w: mailbox %d", ErrNotFound, destID)
		}
		modseq++
		now := time.Now().Unix()
		for i, m := range msgs {
			if links[i] == "" {
				continue
			}
			var file any = filepath.Base(links[i])
			if tx.pg() {
				file = m.bodyID
			}
			var flags string
			var date, size int64
			var summary, structure, emailID, threadID sql.NullString
			var sentDay sql.NullInt64
			err := tx.QueryRow("SELECT flags, internal_date, size, summary, structure, sent_day, email_id, thread_id FROM messages WHERE id = ?", m.ID).Scan(&flags, &date, &size, &summary, &structure, &sentDay, &emailID, &threadID)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			// The copy keeps the original's summary: the bytes are the
			// same; and its EMAILID and THREADID (RFC 8474 §5.1, §5.2).
			// Its save date is now (RFC 8514 §1).
			if _, err := tx.Exec("INSERT INTO messages (mailbox_id, uid, modseq, internal_date, size, flags, file, summary, structure, sent_day, saved, email_id, thread_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				destID, uidnext, modseq, date, size, flags, file, summary, structure, sentDay, now, emailID, threadID); err != nil {
				return err
			}
			res.SrcUIDs = append(res.SrcUIDs, m.UID)
			res.DestUIDs = append(res.DestUIDs, uidnext)
			uidnext++
		}
		_, err := tx.Exec("UPDATE mailboxes SET uidnext = ?, modseq = ? WHERE id = ?", uidnext, modseq, destID)
		return err
	})
	// Links whose rows were not written are removed.
	used := map[string]bool{}
	if err == nil {
		for i, m := range msgs {
			for _, u := range res.SrcUIDs {
				if u == m.UID {
					used[links[i]] = true
				}
			}
		}
	}
	for _, l := range links {
		if l != "" && !used[l] && !s.db.pg() {
			os.Remove(l)
		}
	}
	if err != nil {
		return CopyResult{}, err
	}
	if len(res.DestUIDs) > 0 {
		s.hub.publish(Event{AccountID: src.AccountID, MailboxID: destID, Kind: EventNewMessage})
		s.kickText() // copies are indexed from their files
	}
	return res, nil
}

// Move moves the messages with the given UIDs to another mailbox of the same
// account in one transaction, so that no other session ever sees a message
// in both or in neither (RFC 6851 §3.3: MOVE is atomic). The bytes stay in
// place; only the rows change. The source records the UIDs as expunged.
func (s *Store) Move(ctx context.Context, srcID int64, uids []uint32, destID int64) (CopyResult, error) {
	var res CopyResult
	var account int64
	err := s.write(ctx, nil, func(tx *dbTx) error {
		res = CopyResult{}
		var srcAccount int64
		if err := tx.QueryRow("SELECT account_id FROM mailboxes WHERE id = ?", srcID).Scan(&srcAccount); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if err := tx.QueryRow("SELECT account_id, uidvalidity FROM mailboxes WHERE id = ?", destID).Scan(&account, &res.UIDValidity); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if account != srcAccount {
			return fmt.Errorf("%w: mailbox %d", ErrNotFound, destID)
		}
		var ids []int64
		for _, uid := range uids {
			var id int64
			err := tx.QueryRow("SELECT id FROM messages WHERE mailbox_id = ? AND uid = ?", srcID, uid).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		moved, err := moveRows(tx, srcID, destID, ids)
		if err != nil {
			return err
		}
		res.SrcUIDs, res.DestUIDs = moved.SrcUIDs, moved.DestUIDs
		return nil
	})
	if err != nil {
		return CopyResult{}, err
	}
	if len(res.SrcUIDs) > 0 {
		s.hub.publish(Event{AccountID: account, MailboxID: srcID, Kind: EventExpunge})
		s.hub.publish(Event{AccountID: account, MailboxID: destID, Kind: EventNewMessage})
	}
	return res, nil
}

// moveRows gives the message rows ids new UIDs in mailbox toID, records
// them as expunged from fromID and raises both mailboxes' modification
// sequences. The moved messages are \Recent in the destination.
func moveRows(tx *dbTx, fromID, toID int64, ids []int64) (CopyResult, error) {
	var res CopyResult
	if len(ids) == 0 {
		return res, nil
	}
	var uidnext uint32
	var destSeq, srcSeq uint64
	if err := tx.QueryRow("SELECT uidnext, modseq FROM mailboxes WHERE id = ?"+sqlDialect(tx.db.dialect).forUpdate, toID).Scan(&uidnext, &destSeq); err != nil {
		return res, err
	}
	if err := tx.QueryRow("SELECT modseq FROM mailboxes WHERE id = ?"+sqlDialect(tx.db.dialect).forUpdate, fromID).Scan(&srcSeq); err != nil {
		return res, err
	}
	destSeq++
	srcSeq++
	now := time.Now().Unix() // RFC 8514 §1: saved into the destination now
	for _, id := range ids {
		var uid uint32
		if err := tx.QueryRow("SELECT uid FROM messages WHERE id = ? AND mailbox_id = ?", id, fromID).Scan(&uid); err != nil {
			return res, err
		}
		if _, err := tx.Exec("UPDATE messages SET mailbox_id = ?, uid = ?, modseq = ?, recent = 1, saved = ? WHERE id = ?",
			toID, uidnext, destSeq, now, id); err != nil {
			return res, err
		}
		res.SrcUIDs = append(res.SrcUIDs, uid)
		res.DestUIDs = append(res.DestUIDs, uidnext)
		uidnext++
	}
	for _, uid := range res.SrcUIDs {
		if _, err := tx.Exec(expungedInsert, fromID, uid, srcSeq); err != nil {
			return res, err
		}
	}
	if _, err := tx.Exec("UPDATE mailboxes SET uidnext = ?, modseq = ? WHERE id = ?", uidnext, destSeq, toID); err != nil {
		return res, err
	}
	_, err := tx.Exec("UPDATE mailboxes SET modseq = ? WHERE id = ?", srcSeq, fromID)
	return res, err
}
