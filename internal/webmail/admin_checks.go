package webmail

import (
	"errors"
	"io/fs"
	"net/http"
	"pail/internal/doctor"
)

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

// Doctor page texts.
const (
	msgDoctorNotRun     = "pail doctor has not run yet; run pail doctor"
	msgDoctorUnreadable = "The results of pail doctor could not be read; run pail doctor again."
)

// doctorPage is the data of the doctor's page.
type doctorPage struct {
	adminBase
	Report *doctor.Report
	Fails  int
	Warns  int
}

// handleAdminDoctor shows the latest results of pail doctor.
func (s *Server) handleAdminDoctor(w http.ResponseWriter, r *http.Request, u *user) {
	p := doctorPage{adminBase: s.adminBase(r, u, "Doctor", "doctor")}
	rep, err := s.readDoctor()
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

// readDoctor reads the doctor's latest report (doctor.Load) from the
// data directory; fs.ErrNotExist when it has not run or none is set.
func (s *Server) readDoctor() (*doctor.Report, error) {
	if s.cfg.DoctorDir == "" {
		return nil, fs.ErrNotExist
	}
	return doctor.Load(s.cfg.DoctorDir)
}
