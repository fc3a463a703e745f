package webmail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"time"
)

// maxDoctorBytes bounds the doctor's results file read for its page: a
// few hundred checks of a few lines each.
const maxDoctorBytes = 1 << 20

// dnsDomain is one local domain on the DNS records page.
type dnsDomain struct {
	Domain  string
	Notes   []string
	Records []string // zone-file lines, as pail dns-records prints them
	Error   string
}

// dnsPage is the data of the DNS records page.
type dnsPage struct {
	adminBase
	Domains []dnsDomain
}

// handleAdminDNS shows, for every local domain, what pail dns-records
// prints.
func (s *Server) handleAdminDNS(w http.ResponseWriter, r *http.Request, u *user) {
	p := dnsPage{adminBase: s.adminBase(r, u, "DNS records", "dns")}
	for _, d := range s.deps.Admin.Domains() {
		dd := dnsDomain{Domain: d}
		l, err := s.deps.Admin.DNSRecords(d)
		if err != nil {
			s.deps.Log.Error("webmail: dns records", "domain", d, "err", err)
			dd.Error = "The records could not be made; the server log says why."
		}
		dd.Notes = l.Notes
		for _, rr := range l.Records {
			dd.Records = append(dd.Records, rr.String())
		}
		p.Domains = append(p.Domains, dd)
	}
	s.render(w, http.StatusOK, "admin-dns", p)
}

// doctorReport is what pail doctor writes to data_dir/doctor.json: when
// it ran and one result per check.
type doctorReport struct {
	Time    time.Time      `json:"time"`
	Results []doctorResult `json:"results"`
}

// doctorResult is one check of pail doctor.
type doctorResult struct {
	Check  string `json:"check"`
	Status string `json:"status"` // OK, WARN or FAIL
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// Doctor page texts.
const (
	msgDoctorNotRun     = "pail doctor has not run yet; run pail doctor"
	msgDoctorUnreadable = "The results of pail doctor could not be read; run pail doctor again."
)

// doctorPage is the data of the doctor's page.
type doctorPage struct {
	adminBase
	Report *doctorReport
	Fails  int
	Warns  int
}

// handleAdminDoctor shows the latest results of pail doctor.
func (s *Server) handleAdminDoctor(w http.ResponseWriter, r *http.Request, u *user) {
	p := doctorPage{adminBase: s.adminBase(r, u, "Doctor", "doctor")}
	rep, err := readDoctor(s.cfg.DoctorFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.Error = msgDoctorNotRun
	case err != nil:
		s.deps.Log.Error("webmail: doctor results", "err", err)
		p.Error = msgDoctorUnreadable
	default:
		p.Report = rep
		for _, res := range rep.Results {
			switch res.Status {
			case "FAIL":
				p.Fails++
			case "WARN":
				p.Warns++
			}
		}
	}
	s.render(w, http.StatusOK, "admin-doctor", p)
}

// readDoctor reads the doctor's results file, at most maxDoctorBytes of
// it; a missing file (or none configured) is fs.ErrNotExist.
func readDoctor(path string) (*doctorReport, error) {
	if path == "" {
		return nil, fs.ErrNotExist
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("webmail: doctor results: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDoctorBytes+1))
	if err != nil {
		return nil, fmt.Errorf("webmail: doctor results: %w", err)
	}
	if len(data) > maxDoctorBytes {
		return nil, fmt.Errorf("webmail: doctor results: %s is larger than %d bytes", path, maxDoctorBytes)
	}
	var rep doctorReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("webmail: doctor results %s: %w", path, err)
	}
	return &rep, nil
}
