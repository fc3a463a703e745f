// Package webmail is pail's web page for reading and sending mail: server
// rendered HTML (html/template, assets embedded with go:embed, a little
// JavaScript for keyboard shortcuts), sessions with CSRF tokens, HTML mail
// sanitized and shown in a sandboxed frame under a strict
// Content-Security-Policy, and sending through the same submission path
// as SMTP.
package webmail

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"pail/internal/admin"
	"pail/internal/maillog"
	"pail/internal/sieve"
	"pail/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// HTTP server bounds. Every timeout is set so that no client can hold a
// connection or a goroutine forever.
const (
	readHeaderTimeout = 10 * time.Second
	// readTimeout and writeTimeout allow an upload or download of a
	// message at the size limit over a slow line.
	readTimeout    = 5 * time.Minute
	writeTimeout   = 5 * time.Minute
	idleTimeout    = 2 * time.Minute
	maxHeaderBytes = 64 << 10
	// maxFormBytes bounds the body of every POST except compose.
	maxFormBytes = 1 << 20
	// maxMemoryForm is how much of an upload is kept in memory; the rest
	// goes to temporary files that are removed after the request.
	maxMemoryForm = 8 << 20
)

// Config configures the web pages.
type Config struct {
	// Hostname is the right side of generated Message-IDs.
	Hostname string
	// MaxMessageBytes bounds a composed message and its uploads.
	MaxMessageBytes int64
	// PageSize is the number of messages per list page; 0 means 50.
	PageSize int
	// SessionIdle ends a session unused this long; 0 means 2 hours.
	SessionIdle time.Duration
	// SessionMax ends a session this long after login; 0 means 7 days.
	SessionMax time.Duration
	// MaxSessions bounds the session table; 0 means 10000.
	MaxSessions int
	// DoctorDir is the data directory, where pail doctor leaves its
	// latest results (doctor.json), shown on the admin pages; "" means none.
	DoctorDir string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed for the client address (login limits, logs, Received).
	TrustedProxies []netip.Prefix
	// Sieve compiles the scripts of the Filters and Vacation pages, and
	// SieveLimits bounds them, as ManageSieve does.
	Sieve       sieve.Options
	SieveLimits store.SieveLimits
}

// Deps are the services the web pages use.
type Deps struct {
	Store  Store
	Auth   Authenticator
	Submit Submitter
	// Admin runs the admin pages' operations on accounts, aliases and
	// DNS records, the ones the pail command runs, and sets passwords
	// on the settings page; nil means no admin pages.
	Admin *admin.Admin
	// Queue is the outgoing queue the admin pages list, flush and
	// delete from; nil means none.
	Queue   admin.Queue
	Log     *slog.Logger
	MailLog *maillog.Logger
	// Profiles makes the configuration profile served at ProfilePath;
	// nil serves none.
	Profiles Profiles
	// Learner, if set, is told of every move (deletes to Trash too).
	Learner Learner
	// Sieve stores the accounts' Sieve scripts for the Filters and
	// Vacation pages; nil means no such pages.
	Sieve SieveStore
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Server serves the web pages on any number of listeners.
type Server struct {
	cfg      Config
	deps     Deps
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
	// policies sanitize HTML mail: blocked drops remote images, remote
	// keeps them (after the reader asked).
	blocked, remote *bluemonday.Policy

	mu      sync.Mutex
	servers []*http.Server
	closed  bool // Shutdown or Close was called; Serve returns at once
}

// New returns a Server.
func New(ctx context.Context, cfg Config, deps Deps) (*Server, error) {
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 2 * time.Hour
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 7 * 24 * time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10000
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 25 << 20
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg,
		deps:     deps,
		sessions: newSessions(deps.Store, cfg.SessionIdle, cfg.SessionMax, cfg.MaxSessions, deps.Now),
		blocked:  newPolicy(false),
		remote:   newPolicy(true),
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	if err := s.sessions.load(ctx); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	m.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, files)))
	m.HandleFunc("GET /{$}", s.page(s.handleIndex))
	m.HandleFunc("GET /login", s.handleLoginForm)
	m.HandleFunc("POST /login", s.handleLogin)
	m.HandleFunc("POST /logout", s.post(maxFormBytes, s.handleLogout))
	m.HandleFunc("GET /mail", s.page(s.handleList))
	m.HandleFunc("GET /msg/{id}", s.page(s.handleRead))
	m.HandleFunc("GET /msg/{id}/body", s.page(s.handleBody))
	m.HandleFunc("GET /msg/{id}/part/{n}", s.page(s.handlePart))
	m.HandleFunc("POST /action", s.post(maxFormBytes, s.handleAction))
	m.HandleFunc("POST /folders", s.post(maxFormBytes, s.handleFolders))
	m.HandleFunc("GET /compose", s.page(s.handleComposeForm))
	m.HandleFunc("POST /compose", s.post(s.cfg.MaxMessageBytes+maxFormBytes, s.handleCompose))
	m.HandleFunc("GET "+ProfilePath, s.page(s.handleProfile))
	m.HandleFunc("GET /settings", s.page(s.handleSettings))
	m.HandleFunc("POST /settings/password", s.post(maxAdminForm, s.handleSettingsPassword))
	if s.deps.Sieve != nil {
		m.HandleFunc("GET /filters", s.page(s.handleFilters))
		m.HandleFunc("POST /filters/script", s.post(maxFormBytes, s.handleFiltersScript))
		m.HandleFunc("POST /filters/rules", s.post(maxFormBytes, s.handleFiltersRules))
		m.HandleFunc("GET /vacation", s.page(s.handleVacation))
		m.HandleFunc("POST /vacation", s.post(maxFormBytes, s.handleVacationPost))
	}
	m.HandleFunc("GET /admin", s.adminPage(func(w http.ResponseWriter, r *http.Request, _ *user) {
		http.Redirect(w, r, "/admin/accounts", http.StatusSeeOther)
	}))
	m.HandleFunc("GET /admin/accounts", s.adminPage(s.handleAdminAccounts))
	m.HandleFunc("POST /admin/accounts", s.adminPost(s.handleAdminAccountsPost))
	m.HandleFunc("GET /admin/aliases", s.adminPage(s.handleAdminAliases))
	m.HandleFunc("POST /admin/aliases", s.adminPost(s.handleAdminAliasesPost))
	m.HandleFunc("GET /admin/queue", s.adminPage(s.handleAdminQueue))
	m.HandleFunc("GET /admin/queue/{id}", s.adminPage(s.handleAdminQueueMessage))
	m.HandleFunc("POST /admin/queue", s.adminPost(s.handleAdminQueuePost))
	m.HandleFunc("GET /admin/dns", s.adminPage(s.handleAdminDNS))
	m.HandleFunc("GET /admin/doctor", s.adminPage(s.handleAdminDoctor))
	s.mux = m
}

// Handler returns the web pages as an http.Handler, every response with
// the security headers.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.deps.Log.Error("webmail: panic", "err", v, "path", r.URL.Path)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		s.mux.ServeHTTP(w, r)
	})
}

// Serve answers HTTP requests on ln until Shutdown. ln may be a TLS
// listener (tls.NewListener); session cookies are then Secure.
func (s *Server) Serve(ln net.Listener) error { return s.ServeHandler(ln, s.Handler()) }

// ServeHandler is Serve with h answering instead of the web pages: h
// wraps Handler to serve more on one listener (ACME challenges on the
// http listener, the MTA-STS policy on https), with the same timeouts,
// bounds and shutdown.
func (s *Server) ServeHandler(ln net.Listener, h http.Handler) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.deps.Log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests on every listener and waits for those
// in progress, at most until ctx ends. Calling it again does nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	servers := s.servers
	s.servers, s.closed = nil, true
	s.mu.Unlock()
	var errs []error
	for _, hs := range servers {
		errs = append(errs, hs.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// Close stops every listener and connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	servers := s.servers
	s.servers, s.closed = nil, true
	s.mu.Unlock()
	var errs []error
	for _, hs := range servers {
		errs = append(errs, hs.Close())
	}
	return errors.Join(errs...)
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age="+itoa(int64(d/time.Second)))
		h.ServeHTTP(w, r)
	})
}
