package autoconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"pail/internal/address"
)

// Apple's configuration profile (not an RFC: Apple's "Configuration
// Profile Reference", the Mail payload com.apple.mail.managed) is a
// property list. pail's is unsigned: iOS and macOS show it as "Not
// Verified" before installing it, and it carries no password (the device
// asks for it).
const (
	// MobileConfigType is the content type iOS and macOS open as a
	// profile.
	MobileConfigType = "application/x-apple-aspen-config"
	plistHeader      = xml.Header + `<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n"
	mailPayloadType  = "com.apple.mail.managed"
	// emailAuthPassword is a password sent under TLS (the only way pail
	// takes one).
	emailAuthPassword = "EmailAuthPassword"
)

// ErrNoProfile is returned by MobileConfig when the services do not make
// an account: the profile needs a mailbox service and a submission
// service.
var ErrNoProfile = errors.New("autoconfig: a profile needs IMAP or POP3 and submission listening")

// MobileConfig returns the configuration profile of the account addr:
// one Mail payload with the preferred mailbox service (IMAP before POP3,
// implicit TLS before STARTTLS) and submission service, addr as the user
// name for both, TLS on for both (Apple's UseSSL keys: Mail uses TLS
// from the first byte on the implicit-TLS ports and STARTTLS on the
// others), and no password. The payload identifiers and UUIDs are
// derived from the host name and the address, so that downloading the
// profile again replaces the installed one.
func (s Services) MobileConfig(addr string) ([]byte, error) {
	local, domain, err := address.Split(addr)
	if err != nil {
		return nil, fmt.Errorf("autoconfig: profile for %q: %w", addr, err)
	}
	addr = local + "@" + domain
	in, ok := s.first(IMAP)
	accountType := "EmailTypeIMAP"
	if !ok {
		in, ok = s.first(POP3)
		accountType = "EmailTypePOP"
	}
	out, okOut := s.first(SMTP)
	if !ok || !okOut {
		return nil, ErrNoProfile
	}
	id := reverseDNS(s.Hostname) + ".pail.mail." + identifierSafe(addr)
	mail := plistDict{
		{"EmailAccountDescription", addr},
		{"EmailAccountName", addr},
		{"EmailAccountType", accountType},
		{"EmailAddress", addr},
		{"IncomingMailServerAuthentication", emailAuthPassword},
		{"IncomingMailServerHostName", s.Hostname},
		{"IncomingMailServerPortNumber", in.Port},
		{"IncomingMailServerUseSSL", true},
		{"IncomingMailServerUsername", addr},
		{"OutgoingMailServerAuthentication", emailAuthPassword},
		{"OutgoingMailServerHostName", s.Hostname},
		{"OutgoingMailServerPortNumber", out.Port},
		{"OutgoingMailServerUseSSL", true},
		{"OutgoingMailServerUsername", addr},
		{"OutgoingPasswordSameAsIncomingPassword", true},
		{"PayloadDescription", "Mail account " + addr},
		{"PayloadDisplayName", addr},
		{"PayloadIdentifier", id + ".account"},
		{"PayloadType", mailPayloadType},
		{"PayloadUUID", nameUUID(id + ".account")},
		{"PayloadVersion", 1},
	}
	profile := plistDict{
		{"PayloadContent", []plistDict{mail}},
		{"PayloadDescription", "Sets up the mail account " + addr + " on " + s.Hostname + "."},
		{"PayloadDisplayName", "Mail: " + addr},
		{"PayloadIdentifier", id},
		{"PayloadOrganization", domain},
		{"PayloadRemovalDisallowed", false},
		{"PayloadType", "Configuration"},
		{"PayloadUUID", nameUUID(id)},
		{"PayloadVersion", 1},
	}
	var b bytes.Buffer
	b.WriteString(plistHeader)
	b.WriteString(`<plist version="1.0">` + "\n")
	if err := writePlist(&b, profile, 0); err != nil {
		return nil, err
	}
	b.WriteString("</plist>\n")
	return b.Bytes(), nil
}

// plistDict is a property list dictionary, its keys in order.
type plistDict []plistEntry

// plistEntry is one key of a dictionary and its value: a string, int,
// bool, plistDict or []plistDict.
type plistEntry struct {
	key   string
	value any
}

// writePlist writes v in the property list XML format at depth.
func writePlist(b *bytes.Buffer, v any, depth int) error {
	indent := strings.Repeat("\t", depth)
	switch v := v.(type) {
	case string:
		b.WriteString(indent + "<string>")
		xml.EscapeText(b, []byte(v))
		b.WriteString("</string>\n")
	case int:
		fmt.Fprintf(b, "%s<integer>%d</integer>\n", indent, v)
	case bool:
		if v {
			b.WriteString(indent + "<true/>\n")
		} else {
			b.WriteString(indent + "<false/>\n")
		}
	case plistDict:
		b.WriteString(indent + "<dict>\n")
		for _, e := range v {
			b.WriteString(indent + "\t<key>")
			xml.EscapeText(b, []byte(e.key))
			b.WriteString("</key>\n")
			if err := writePlist(b, e.value, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(indent + "</dict>\n")
	case []plistDict:
		b.WriteString(indent + "<array>\n")
		for _, d := range v {
			if err := writePlist(b, d, depth+1); err != nil {
				return err
			}
		}
		b.WriteString(indent + "</array>\n")
	default:
		return fmt.Errorf("autoconfig: no property list form for %T", v)
	}
	return nil
}

// reverseDNS turns mx.hill.test into test.hill.mx, the form of profile
// identifiers.
func reverseDNS(host string) string {
	labels := strings.Split(host, ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// identifierSafe maps what is not a letter, digit, dot or hyphen to a
// hyphen, so that an address fits in a reverse-DNS identifier.
func identifierSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// nameUUID is a UUID made from name (RFC 9562 §5.8, version 8: the
// first 128 bits of its SHA-256), the same for the same name.
func nameUUID(name string) string {
	h := sha256.Sum256([]byte(name))
	h[6] = h[6]&0x0f | 0x80 // version 8
	h[8] = h[8]&0x3f | 0x80 // variant 10 (RFC 9562 §4.1)
	return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
