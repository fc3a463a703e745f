package autoconfig

import (
	"bytes"
	"encoding/xml"
	"fmt"
)

// Thunderbird's autoconfig format, clientConfig version 1.1 (not an RFC:
// the Mozilla wiki's "Thunderbird:Autoconfiguration:ConfigFileFormat").
const (
	clientConfigVersion = "1.1"
	// emailAddressPlaceholder is replaced by the client with the address
	// the user typed: pail's user name is the full address.
	emailAddressPlaceholder = "%EMAILADDRESS%"
	// passwordCleartext is the password sent as typed (AUTH PLAIN/LOGIN,
	// IMAP LOGIN, POP3 USER/PASS), which pail accepts only under TLS.
	passwordCleartext = "password-cleartext"
)

// ClientConfig is Thunderbird's autoconfig document.
type ClientConfig struct {
	XMLName  xml.Name      `xml:"clientConfig"`
	Version  string        `xml:"version,attr"`
	Provider EmailProvider `xml:"emailProvider"`
}

// EmailProvider is the clientConfig's one provider: a local domain.
type EmailProvider struct {
	ID               string   `xml:"id,attr"`
	Domain           []string `xml:"domain"`
	DisplayName      string   `xml:"displayName"`
	DisplayShortName string   `xml:"displayShortName"`
	Incoming         []Server `xml:"incomingServer"`
	Outgoing         []Server `xml:"outgoingServer"`
}

// Server is one incomingServer or outgoingServer element.
type Server struct {
	Type           string `xml:"type,attr"` // imap, pop3, smtp
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"` // SSL, STARTTLS
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
}

// Thunderbird returns the autoconfig XML for users of domain: every
// listening service, incoming and outgoing each in order of preference
// (a client takes the first it can use).
func (s Services) Thunderbird(domain string) ([]byte, error) {
	cc := ClientConfig{Version: clientConfigVersion, Provider: EmailProvider{
		ID:               domain,
		Domain:           []string{domain},
		DisplayName:      domain + " (pail on " + s.Hostname + ")",
		DisplayShortName: domain,
	}}
	for _, svc := range s.List {
		srv := Server{
			Type:           string(svc.Protocol),
			Hostname:       s.Hostname,
			Port:           svc.Port,
			SocketType:     svc.Security.String(),
			Username:       emailAddressPlaceholder,
			Authentication: passwordCleartext,
		}
		if svc.Protocol == SMTP {
			cc.Provider.Outgoing = append(cc.Provider.Outgoing, srv)
		} else {
			cc.Provider.Incoming = append(cc.Provider.Incoming, srv)
		}
	}
	return marshalXML(cc)
}

// marshalXML encodes v as an indented XML document with its declaration.
func marshalXML(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("autoconfig: encoding %T: %w", v, err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
