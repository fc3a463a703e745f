package main

import (
	"bufio"
	"bytes"
	cryptorand "crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/argon2"
)

// words fill generated bodies; no line starts with "From " so mbox needs
// no quoting.
var words = []string{
	"mail", "server", "bench", "pail", "hill", "town", "queue", "folder",
	"message", "flag", "seen", "answer", "draft", "inbox", "fetch", "store",
	"append", "search", "expunge", "idle", "login", "select", "body", "header",
}

// message returns generated message n of about size bytes, lines ending in
// eol ("\r\n" for IMAP APPEND, "\n" for mbox and Maildir files).
func message(n, size int, eol string) []byte {
	var b bytes.Buffer
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	fmt.Fprintf(&b, "From: Bench Sender <sender%d@town.test>%s", n%97, eol)
	fmt.Fprintf(&b, "To: Bench Reader <reader@hill.test>%s", eol)
	fmt.Fprintf(&b, "Subject: bench message %d%s", n, eol)
	fmt.Fprintf(&b, "Date: %s%s", date.Format(time.RFC1123Z), eol)
	fmt.Fprintf(&b, "Message-ID: <bench.%d.%d@town.test>%s", n, size, eol)
	fmt.Fprintf(&b, "MIME-Version: 1.0%s", eol)
	fmt.Fprintf(&b, "Content-Type: text/plain; charset=us-ascii%s%s", eol, eol)
	w := n
	for b.Len() < size-len(eol) {
		line := make([]byte, 0, 80)
		for len(line) < 70 {
			line = append(line, words[w%len(words)]...)
			line = append(line, ' ')
			w = w*31 + 7
			if w < 0 {
				w = -w
			}
		}
		line = line[:len(line)-1]
		if rest := size - b.Len() - len(eol); len(line) > rest {
			line = line[:rest]
		}
		b.Write(line)
		b.WriteString(eol)
	}
	return b.Bytes()
}

// benchMessage is generated message n of size bytes (LF line ends) and
// its arrival time, one a minute from 2026-01-01: the corpus of imap.sh,
// pop3.sh and idle.sh.
func benchMessage(n, size int) (time.Time, []byte) {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute), message(n, size, "\n")
}

// writeMbox writes messages 1 to n of gen (arrival time and message with
// LF line ends, no line starting with "From ") as an mbox (mboxrd) file.
func writeMbox(path string, n int, gen func(n int) (time.Time, []byte)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 1; i <= n; i++ {
		date, m := gen(i)
		fmt.Fprintf(w, "From sender@town.test %s\n", date.UTC().Format(time.ANSIC))
		w.Write(m)
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeMaildir writes n generated messages into dir/cur as unseen
// messages, named the way Dovecot names what it delivers itself
// (S= is the size on disk, W= the size with CRLF line ends), so the peer
// needs no extra pass over the files to learn sizes.
func writeMaildir(dir string, n, size int) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := 1; i <= n; i++ {
		m := message(i, size, "\n")
		lines := bytes.Count(m, []byte("\n"))
		name := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d:2,", base+int64(i)*60, i, len(m), len(m)+lines)
		if err := os.WriteFile(filepath.Join(dir, "cur", name), m, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// argon2id parameters of pail's password hashes (internal/auth), so the
// peer's passwd-file can make each login cost the same.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

// dovecotHash returns password hashed the way pail hashes it, in Dovecot's
// passwd-file syntax ({ARGON2ID}, verified by libsodium).
func dovecotHash(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := cryptorand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("{ARGON2ID}$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}
