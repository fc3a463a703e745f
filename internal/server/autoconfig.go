package server

import "pail/internal/autoconfig"

// clientServices are the mail services described to clients (package
// autoconfig): those that listen, on the host name, each with its
// listener's real port. New adds services in config.Listen.Services'
// order, every mail service before http and https, so when the web pages
// are added (the one caller) the mail listeners are bound.
func (s *Server) clientServices() autoconfig.Services {
	l := s.cfg.Listen
	for _, svc := range s.services {
		addr := svc.ln.Addr().String()
		switch svc.name {
		case "submission":
			l.Submission = addr
		case "submissions":
			l.Submissions = addr
		case "imap":
			l.IMAP = addr
		case "imaps":
			l.IMAPS = addr
		case "pop3":
			l.POP3 = addr
		case "pop3s":
			l.POP3S = addr
		}
	}
	return autoconfig.New(s.cfg.Hostname, l)
}
