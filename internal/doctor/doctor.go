// Package doctor checks what an operator of a pail domain gets wrong
// (`pail doctor`): that the MX records point here, that the outbound
// address has forward-confirmed reverse DNS, that SPF allows it, that the
// published DKIM keys are the ones in use, that DMARC, MTA-STS and
// TLS-RPT are published and consistent, that the certificate is valid for
// every name clients use and not about to expire, that the outbound
// address is on none of the configured DNS blocklists, and that the data
// directory belongs to the server's user. Every check gives a Result with
// a status and, when something is wrong, the fix.
//
// Every DNS lookup goes through the configured resolver (package
// resolve), each with its deadline, so that the doctor sees what the
// server sees. The last report is kept in data_dir/doctor.json (Save,
// Load) for the admin page.
package doctor

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"pail/internal/config"
	"pail/internal/dkim"
	"pail/internal/resolve"
	"pail/internal/safeio"
)

// Status is the outcome of one check.
type Status string

// The statuses, in the words `pail doctor` prints.
const (
	// OK: nothing to do.
	OK Status = "OK"
	// Warn: works, but is weaker than it should be, or could not be
	// made sure of.
	Warn Status = "WARN"
	// Fail: mail is lost, refused, or not protected as published.
	Fail Status = "FAIL"
)

// Result is the outcome of one check.
type Result struct {
	// Check names what was checked: the check and its subject
	// ("mx hill.com", "dkim p20261206r._domainkey.hill.com").
	Check string `json:"check"`
	// Status is OK, WARN or FAIL.
	Status Status `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail"`
	// Fix says what to do about it; empty when Status is OK.
	Fix string `json:"fix"`
}

// Report is one run of the doctor, as data_dir/doctor.json holds it.
type Report struct {
	// Time is when the checks ran, to the second (RFC 3339 in JSON).
	Time time.Time `json:"time"`
	// Results are the checks' outcomes, in the order they ran.
	Results []Result `json:"results"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	for _, res := range r.Results {
		if res.Status == Fail {
			return true
		}
	}
	return false
}

// FileName is the report's file in the data directory.
const FileName = "doctor.json"

// maxReportBytes bounds what Load reads: a report of a thousand checks
// is a few hundred kilobytes.
const maxReportBytes = 4 << 20

// Path returns the report file of a data directory.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Save writes r to dataDir/doctor.json atomically (a temporary file
// renamed into place), so that a reader sees the old report or the new
// one, never a part.
func Save(dataDir string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	if err := safeio.WriteFile(Path(dataDir), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("doctor: saving the report: %w", err)
	}
	return nil
}

// Load reads the last report from dataDir/doctor.json. It returns an
// error satisfying errors.Is(err, fs.ErrNotExist) when the doctor has not
// run yet.
func Load(dataDir string) (*Report, error) {
	f, err := os.Open(Path(dataDir))
	if err != nil {
		return nil, fmt.Errorf("doctor: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxReportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("doctor: reading %s: %w", f.Name(), err)
	}
	if len(b) > maxReportBytes {
		return nil, fmt.Errorf("doctor: %s is larger than %d bytes", f.Name(), maxReportBytes)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("doctor: %s: %w", f.Name(), err)
	}
	return &r, nil
}

// Options is what the checks need.
type Options struct {
	// Config is the configuration the server runs with (required).
	Config *config.Config
	// Resolver makes every DNS lookup (required): the one built from
	// cfg.Resolver, as the server's.
	Resolver *resolve.Resolver
	// Keys returns the DKIM keys in use for a domain (active and
	// retiring); nil means none exist.
	Keys func(domain string) ([]dkim.Key, error)
	// DNSBL are the blocklist zones to look the outbound address up in
	// (config.Config.DoctorDNSBL: [doctor] dnsbl, else [inbound] dnsbl).
	DNSBL []string
	// Roots verify certificates: the policy hosts' and pail's own; nil
	// means the system's (SSL_CERT_FILE and SSL_CERT_DIR are honoured).
	Roots *x509.CertPool
	// HTTPSPort is the port MTA-STS policies are fetched from; "" means
	// 443, the only one senders use (RFC 8461 §3.3). Tests set it.
	HTTPSPort string
	// ServerUID is the user ID `pail serve` runs as, and ServerUser its
	// name for messages. UIDGuessed says it is merely the user running
	// the doctor, not one the operator named.
	ServerUID  int
	ServerUser string
	UIDGuessed bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// checkTimeout bounds the lookups of one check together: each query has
// its own deadline (resolve.DefaultTimeout), and SPF may make ten of
// them (RFC 7208 §4.6.4) besides the MX and address lookups.
const checkTimeout = 30 * time.Second

// Run runs every check and returns the report. It never stops early: a
// failing check is a line of the report, as is one that could not be
// made.
func Run(ctx context.Context, o Options) *Report {
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &doctor{o: o, cfg: o.Config, r: o.Resolver}
	rep := &Report{Time: o.Now().UTC().Truncate(time.Second)}
	add := func(rs ...Result) { rep.Results = append(rep.Results, rs...) }
	step := func(f func(ctx context.Context) []Result) {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		add(f(cctx)...)
	}
	step(d.outboundAddrs)
	for _, dom := range d.cfg.Domains {
		step(func(ctx context.Context) []Result { return []Result{d.checkMX(ctx, dom)} })
	}
	step(d.checkPTR)
	for _, dom := range d.cfg.Domains {
		step(func(ctx context.Context) []Result { return []Result{d.checkSPF(ctx, dom)} })
		step(func(ctx context.Context) []Result { return d.checkDKIM(ctx, dom) })
		step(func(ctx context.Context) []Result { return []Result{d.checkDMARC(ctx, dom)} })
		step(func(ctx context.Context) []Result { return []Result{d.checkMTASTS(ctx, dom)} })
		step(func(ctx context.Context) []Result { return []Result{d.checkTLSRPT(ctx, dom)} })
	}
	step(func(context.Context) []Result { return d.checkCertificates() })
	step(d.checkDNSBL)
	add(d.checkDataDir())
	return rep
}

// doctor holds what the checks share.
type doctor struct {
	o   Options
	cfg *config.Config
	r   *resolve.Resolver
	// out are the addresses mail leaves from; guessed says they are the
	// host name's, not outbound.source.
	out     []netip.Addr
	guessed bool
}

// lookupFailed is the detail of a lookup that got no answer.
func lookupFailed(what string, err error) string {
	return fmt.Sprintf("looking up %s: %v", what, err)
}

// resolverFix is the fix for a lookup that got no answer.
const resolverFix = "check that the resolver (resolver in the config, else /etc/resolv.conf) answers, then run pail doctor again"

// isNotFound reports whether err says the records do not exist.
func isNotFound(err error) bool { return err != nil && resolve.IsNotFound(err) }

// errNoOutbound is why the address checks cannot run.
var errNoOutbound = errors.New("no outbound address is known (see the outbound address check)")
