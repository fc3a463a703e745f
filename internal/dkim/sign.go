package dkim

import (
	"bufio"
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// maxHeaderBytes bounds the header section read to choose what to sign;
// a message with a larger one is queued unsigned.
const maxHeaderBytes = 1 << 20

// signedHeaders are the fields RFC 6376 §5.4.1 recommends signing, in
// the order they are listed in h=. Those present are signed (each
// instance); the rest are left out.
var signedHeaders = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc",
	"Resent-Date", "Resent-From", "Resent-To", "Resent-Cc",
	"In-Reply-To", "References",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe",
	"List-Post", "List-Owner", "List-Archive",
	"Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Sender",
}

// oversigned are the fields a message may have at most once (RFC 5322
// §3.6). Each is listed in h= once more than present, which signs its
// absence (RFC 6376 §5.4.2, §8.15): a second From, Subject... added on
// the way breaks the signature. From is always listed, and so always
// at least twice.
var oversigned = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "In-Reply-To", "References",
	"Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Sender",
}

// ErrNotSigned is what Sign returns for a message it does not sign: its
// From is not a domain Signer signs for, or it has no single From
// domain.
var ErrNotSigned = errors.New("dkim: not signed")

// Policy says, per From domain, whether to sign and with which
// selectors.
type Policy struct {
	// Local reports whether a domain is one of ours; no other domain
	// is signed.
	Local func(domain string) bool
	// Disabled reports whether signing is turned off for a domain.
	Disabled func(domain string) bool
	// Selectors returns the selectors that sign for a domain; nil means
	// the active ones.
	Selectors func(domain string) []string
	// Host is pail's host name. Mail From the host name itself (DSNs from
	// MAILER-DAEMON@host, reports) is signed by the nearest local domain
	// the host name lies under (mx.hill.com by hill.com), which DMARC's
	// relaxed alignment accepts (RFC 7489 §3.1.1): that mail is pail's
	// own, and the host name has no keys of its own.
	Host string
}

// signingDomain returns the domain that signs mail From domain, or ""
// when none does.
func (p Policy) signingDomain(domain string) string {
	if p.Local == nil {
		return ""
	}
	if p.Local(domain) {
		return domain
	}
	if p.Host == "" || !strings.EqualFold(strings.TrimSuffix(p.Host, "."), domain) {
		return ""
	}
	for d := domain; ; {
		_, parent, ok := strings.Cut(d, ".")
		if !ok || !strings.Contains(parent, ".") {
			return "" // never a top-level domain
		}
		if p.Local(parent) {
			return parent
		}
		d = parent
	}
}

// Signer signs messages with a Store's keys.
type Signer struct {
	store  *Store
	policy Policy
}

// NewSigner returns a Signer for the local domains of p, which gets keys
// from s (creating them for a local domain that has none).
func NewSigner(s *Store, p Policy) *Signer {
	return &Signer{store: s, policy: p}
}

// Sign reads a message (CRLF line endings) from r and returns the
// DKIM-Signature header fields to put in front of it, one per signing
// key, each ending in CRLF. It returns ErrNotSigned, wrapped, when the
// message is not to be signed, and other errors when it cannot be.
func (s *Signer) Sign(r io.Reader) ([]byte, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	head, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(head))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return nil, fmt.Errorf("dkim: header: %w", err)
	}
	from, err := fromDomain(h)
	if err != nil {
		return nil, err
	}
	domain := s.policy.signingDomain(from)
	if domain == "" {
		return nil, fmt.Errorf("%w: From domain %s is not local", ErrNotSigned, from)
	}
	if s.policy.Disabled != nil && s.policy.Disabled(domain) {
		return nil, fmt.Errorf("%w: signing is off for %s", ErrNotSigned, domain)
	}
	keys, err := s.store.Ensure(domain)
	if err != nil {
		return nil, err
	}
	keys, err = s.signing(domain, keys)
	if err != nil {
		return nil, err
	}
	fields := headerKeys(h)
	signers := make([]*msgdkim.Signer, 0, len(keys))
	writers := make([]io.Writer, 0, len(keys))
	for _, k := range keys {
		sg, err := msgdkim.NewSigner(&msgdkim.SignOptions{
			Domain:                 domain,
			Selector:               k.Selector,
			Signer:                 k.signer,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
			BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
			HeaderKeys:             fields,
		})
		if err != nil {
			for _, o := range signers {
				o.Close()
			}
			return nil, fmt.Errorf("dkim: %s %s: %w", domain, k.Selector, err)
		}
		signers = append(signers, sg)
		writers = append(writers, sg)
	}
	w := io.MultiWriter(writers...)
	_, err = w.Write(head)
	if err == nil {
		_, err = io.Copy(w, br)
	}
	var out bytes.Buffer
	for _, sg := range signers {
		if cerr := sg.Close(); cerr != nil && err == nil {
			err = cerr
		}
		out.WriteString(sg.Signature())
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: sign for %s: %w", domain, err)
	}
	return out.Bytes(), nil
}

// signing picks the keys that sign for domain: those the policy names,
// else the active ones.
func (s *Signer) signing(domain string, keys []Key) ([]Key, error) {
	var names []string
	if s.policy.Selectors != nil {
		names = s.policy.Selectors(domain)
	}
	var out []Key
	if len(names) == 0 {
		for _, k := range keys {
			if k.State == Active {
				out = append(out, k)
			}
		}
		return out, nil
	}
	for _, n := range names {
		i := slices.IndexFunc(keys, func(k Key) bool { return k.Selector == n })
		if i < 0 {
			return nil, fmt.Errorf("dkim: %s has no selector %q (configured in [dkim.domains])", domain, n)
		}
		out = append(out, keys[i])
	}
	return out, nil
}

// readHeader returns the header section with the empty line that ends
// it (all of a message that has no body).
func readHeader(br *bufio.Reader) ([]byte, error) {
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if len(head) > maxHeaderBytes {
			return nil, fmt.Errorf("dkim: header section over %d bytes", maxHeaderBytes)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			return head, nil
		}
		if err != nil {
			return nil, fmt.Errorf("dkim: read header: %w", err)
		}
		if string(line) == "\r\n" || string(line) == "\n" {
			return head, nil
		}
	}
}

// fromDomain returns the one domain of the header From (RFC 6376 §6.1.1
// needs d= to match it for DMARC alignment), in lower case.
func fromDomain(h textproto.MIMEHeader) (string, error) {
	if len(h["From"]) != 1 {
		return "", fmt.Errorf("%w: %d From fields", ErrNotSigned, len(h["From"]))
	}
	list, err := mail.ParseAddressList(h.Get("From"))
	if err != nil || len(list) == 0 {
		return "", fmt.Errorf("%w: From does not parse", ErrNotSigned)
	}
	var domain string
	for _, a := range list {
		i := strings.LastIndexByte(a.Address, '@')
		if i < 0 {
			return "", fmt.Errorf("%w: From address without domain", ErrNotSigned)
		}
		d := normalize(a.Address[i+1:])
		if domain != "" && d != domain {
			return "", fmt.Errorf("%w: From names more than one domain", ErrNotSigned)
		}
		domain = d
	}
	return domain, nil
}

// headerKeys lists the fields to sign (the h= tag) for a message with
// header h.
func headerKeys(h textproto.MIMEHeader) []string {
	var keys []string
	for _, f := range signedHeaders {
		n := len(h[textproto.CanonicalMIMEHeaderKey(f)])
		if slices.Contains(oversigned, f) && (n > 0 || f == "From") {
			n++
		}
		for range n {
			keys = append(keys, f)
		}
	}
	return keys
}
