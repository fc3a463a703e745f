package autoconfig

import (
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"time"

	"pail/internal/address"
)

// Microsoft's POX autodiscover (not an RFC: [MS-OXDSCLI] and Exchange's
// "POX Autodiscover XML elements"). The request and the response envelope
// have their own namespaces (the request's, .../outlook/requestschema/2006,
// is not checked: the element names are what matter); the settings are in
// the "outlook" response schema, the one mail clients (Outlook,
// Thunderbird, Evolution) ask for.
const (
	// AutodiscoverNS is the namespace of the response envelope.
	AutodiscoverNS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	// OutlookSchema is the response schema pail answers in.
	OutlookSchema = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

// MaxAutodiscoverRequest bounds the request body read: a real request is
// a few hundred bytes (an address and a schema name).
const MaxAutodiscoverRequest = 64 << 10

// Autodiscover error codes ([MS-OXDSCLI], the ErrorCode element): 600 the request
// is not one the server understands, 601 the schema asked for is not
// served (such as mobilesync, Exchange ActiveSync).
const (
	ErrorInvalidRequest = 600
	ErrorNoProvider     = 601
)

// ErrBadRequest is returned by ParseAutodiscoverRequest for a body that is
// not an autodiscover request with an address.
var ErrBadRequest = errors.New("autoconfig: not an autodiscover request with an e-mail address")

// ErrRequestTooLarge is returned by ParseAutodiscoverRequest for a body
// over MaxAutodiscoverRequest bytes.
var ErrRequestTooLarge = fmt.Errorf("autoconfig: autodiscover request over %d bytes", MaxAutodiscoverRequest)

// AutodiscoverRequest is what a client's POST carries.
type AutodiscoverRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string `xml:"EMailAddress"`
		AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
	} `xml:"Request"`
}

// ParseAutodiscoverRequest reads a request from r, at most
// MaxAutodiscoverRequest bytes of it (a longer body is an error), and
// returns the address asked about (checked by address.Split) and the
// response schema the client accepts ("" when it names none).
func ParseAutodiscoverRequest(r io.Reader) (addr, schema string, err error) {
	lr := &io.LimitedReader{R: r, N: MaxAutodiscoverRequest + 1}
	var req AutodiscoverRequest
	if err := xml.NewDecoder(lr).Decode(&req); err != nil {
		if lr.N <= 0 {
			return "", "", ErrRequestTooLarge
		}
		return "", "", fmt.Errorf("autoconfig: autodiscover request: %v: %w", err, ErrBadRequest)
	}
	if lr.N <= 0 {
		// The document ended near the bound, with more after it.
		return "", "", ErrRequestTooLarge
	}
	addr = strings.TrimSpace(req.Request.EMailAddress)
	if _, _, err := address.Split(addr); err != nil {
		return "", "", fmt.Errorf("autoconfig: autodiscover address %q: %w", addr, ErrBadRequest)
	}
	return addr, strings.TrimSpace(req.Request.AcceptableResponseSchema), nil
}

// AutodiscoverResponse is the POX answer: settings or an error.
type AutodiscoverResponse struct {
	XMLName  xml.Name             `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response AutodiscoverSettings `xml:"Response"`
}

// AutodiscoverSettings is the Response element; Account in the outlook
// schema's namespace for settings, Error for a failure.
type AutodiscoverSettings struct {
	XMLName xml.Name
	User    *AutodiscoverUser  `xml:"User,omitempty"`
	Account *AutodiscoverAcct  `xml:"Account,omitempty"`
	Error   *AutodiscoverError `xml:"Error,omitempty"`
}

// AutodiscoverUser names the account the settings are for.
type AutodiscoverUser struct {
	EMailAddress string `xml:"EMailAddress"`
}

// AutodiscoverAcct is an e-mail account's settings.
type AutodiscoverAcct struct {
	AccountType string                 `xml:"AccountType"` // "email"
	Action      string                 `xml:"Action"`      // "settings"
	Protocol    []AutodiscoverProtocol `xml:"Protocol"`
}

// AutodiscoverProtocol is the settings of one service.
type AutodiscoverProtocol struct {
	Type      string `xml:"Type"` // IMAP, POP3, SMTP
	Server    string `xml:"Server"`
	Port      int    `xml:"Port"`
	LoginName string `xml:"LoginName"`
	// DomainRequired off: the login name is the address, not DOMAIN\user.
	DomainRequired string `xml:"DomainRequired"`
	// SPA off: not Microsoft's NTLM; the password is sent under TLS.
	SPA string `xml:"SPA"`
	// SSL on: secure logon is required (every pail service has TLS).
	SSL string `xml:"SSL"`
	// Encryption overrides SSL: "SSL" is TLS from the first byte, "TLS"
	// the STARTTLS command.
	Encryption   string `xml:"Encryption"`
	AuthRequired string `xml:"AuthRequired"`
	// UsePOPAuth off (SMTP only): SMTP has its own login.
	UsePOPAuth string `xml:"UsePOPAuth,omitempty"`
}

// AutodiscoverError is a failure answered instead of settings.
type AutodiscoverError struct {
	Time      string `xml:"Time,attr"`
	ID        string `xml:"Id,attr"`
	ErrorCode int    `xml:"ErrorCode"`
	Message   string `xml:"Message"`
	DebugData string `xml:"DebugData"`
}

// autodiscoverEncryption is the Encryption value of a TLS mode.
func autodiscoverEncryption(s Security) string {
	if s == ImplicitTLS {
		return "SSL"
	}
	return "TLS"
}

// Autodiscover returns the POX answer for addr: for each of IMAP, POP3
// and SMTP that listens, its preferred service (the format has one entry
// per protocol that clients use), with addr as the login name.
func (s Services) Autodiscover(addr string) ([]byte, error) {
	acct := &AutodiscoverAcct{AccountType: "email", Action: "settings"}
	for _, p := range []Protocol{IMAP, POP3, SMTP} {
		svc, ok := s.first(p)
		if !ok {
			continue
		}
		ap := AutodiscoverProtocol{
			Type:           strings.ToUpper(string(p)),
			Server:         s.Hostname,
			Port:           svc.Port,
			LoginName:      addr,
			DomainRequired: "off",
			SPA:            "off",
			SSL:            "on",
			Encryption:     autodiscoverEncryption(svc.Security),
			AuthRequired:   "on",
		}
		if p == SMTP {
			ap.UsePOPAuth = "off"
		}
		acct.Protocol = append(acct.Protocol, ap)
	}
	return marshalXML(AutodiscoverResponse{Response: AutodiscoverSettings{
		XMLName: xml.Name{Space: OutlookSchema, Local: "Response"},
		User:    &AutodiscoverUser{EMailAddress: addr},
		Account: acct,
	}})
}

// AutodiscoverFailure returns an error answer with code and message
// (fixed texts, never input), stamped with now and an Id naming this
// server.
func (s Services) AutodiscoverFailure(code int, msg string, now time.Time) ([]byte, error) {
	return marshalXML(AutodiscoverResponse{Response: AutodiscoverSettings{
		// The envelope's namespace (an empty one would make Go write
		// xmlns="", taking the element out of it).
		XMLName: xml.Name{Space: AutodiscoverNS, Local: "Response"},
		Error: &AutodiscoverError{
			Time:      now.UTC().Format("15:04:05.0000000"),
			ID:        fmt.Sprint(crc32.ChecksumIEEE([]byte(s.Hostname))),
			ErrorCode: code,
			Message:   msg,
		},
	}})
}
