// Package tlsrpt is pail's SMTP TLS Reporting (RFC 8460): it counts the
// outcome of every outbound TLS session per policy domain and day
// (Recorder), sends each day's aggregate report, gzipped JSON, to the
// rua addresses that receiving domains publish in their _smtp._tls TXT
// record (Sender, run once a day by Scheduler), and parses and stores the
// reports that other servers send to pail's own domains (Receiver).
//
// Counts, sent reports and received reports live in their own SQLite
// database, data_dir/tlsrpt/tlsrpt.db. The Recorder aggregates in memory
// and writes every FlushInterval and on Close, so that a delivery pays
// for a map update, not for a commit; a crash loses at most the counts of
// the last FlushInterval, which only makes one day's report a little low.
package tlsrpt

import (
	"context"
	"time"

	"pail/internal/reporting"
)

// PolicyType is the kind of policy a session was checked against
// (RFC 8460 §4.4, "policy-type").
type PolicyType string

// The policy types of RFC 8460 §4.4.
const (
	// PolicySTS: an MTA-STS policy (RFC 8461) applied.
	PolicySTS PolicyType = "sts"
	// PolicyTLSA: DANE TLSA records (RFC 7672) applied.
	PolicyTLSA PolicyType = "tlsa"
	// PolicyNone: neither was found; the session was opportunistic.
	PolicyNone PolicyType = "no-policy-found"
)

// ResultType names why a TLS session failed (RFC 8460 §4.3).
type ResultType string

// The result types of RFC 8460 §4.3.
const (
	// §4.3.1: negotiation failures.
	ResultSTARTTLSNotSupported    ResultType = "starttls-not-supported"
	ResultCertificateHostMismatch ResultType = "certificate-host-mismatch"
	ResultCertificateExpired      ResultType = "certificate-expired"
	ResultCertificateNotTrusted   ResultType = "certificate-not-trusted"
	ResultValidationFailure       ResultType = "validation-failure"
	// §4.3.2: DANE (TLSA) policy failures.
	ResultTLSAInvalid   ResultType = "tlsa-invalid"
	ResultDNSSECInvalid ResultType = "dnssec-invalid"
	ResultDANERequired  ResultType = "dane-required"
	// §4.3.3: MTA-STS policy failures.
	ResultSTSPolicyFetchError ResultType = "sts-policy-fetch-error"
	ResultSTSPolicyInvalid    ResultType = "sts-policy-invalid"
	ResultSTSWebPKIInvalid    ResultType = "sts-webpki-invalid"
)

// Outcome is the result of one outbound TLS session attempt, as the SMTP
// client records it after STARTTLS succeeded or failed.
type Outcome struct {
	// PolicyDomain is the recipient domain whose policy applied.
	PolicyDomain string
	// PolicyType is the kind of policy (PolicyNone when there was none).
	PolicyType PolicyType
	// PolicyStrings are the policy's lines: the MTA-STS policy file's
	// lines, or the TLSA records in presentation format (§4.4
	// "policy-string"). Empty for PolicyNone.
	PolicyStrings []string
	// MXHost is the MX host name connected to (§4.4
	// "receiving-mx-hostname").
	MXHost string
	// SendingIP is our address of the connection ("sending-mta-ip").
	SendingIP string
	// ReceivingIP is the server's address ("receiving-ip").
	ReceivingIP string
	// ReceivingHELO is the name in the server's greeting, when known
	// ("receiving-mx-helo"); optional.
	ReceivingHELO string
	// Success: the session was encrypted as the policy requires.
	Success bool
	// Failure is why it was not; ignored when Success.
	Failure ResultType
	// AdditionalInfo is a URI with more detail ("additional-information");
	// optional.
	AdditionalInfo string
}

// Recording is what the SMTP client needs of a Recorder: one call per TLS
// session attempt. It must be cheap and never block on storage.
type Recording interface {
	Record(ctx context.Context, o Outcome)
}

var _ Recording = (*Recorder)(nil)

// Day returns the UTC day of t as "YYYY-MM-DD".
func Day(t time.Time) string { return reporting.Day(t) }
