//go:build interop

package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"pail/internal/testnet"
)

// A recipe in README.md is a fenced code block right after a comment
// `<!-- recipe: NAME -->`, or `<!-- recipe: NAME; file: PATH MODE -->` for a
// file the client reads, or `<!-- recipe: NAME; tty -->` for a command
// that wants a terminal. The fence may be indented (inside a list item); the
// indentation is not part of the text, as in CommonMark.
var recipeRE = regexp.MustCompile("(?m)^([ \t]*)<!-- recipe: ([a-z0-9-]+)(?:; ([^>]*?))? -->\n[ \t]*```[a-z]*\n((?s:.*?))^[ \t]*```")

// recipe is one block of README.md.
type recipe struct {
	name string
	opts string // "", "tty" or "file: PATH MODE"
	body string
}

// readmeRecipes reads every recipe in README.md in order.
func readmeRecipes(t *testing.T) []recipe {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []recipe
	for _, m := range recipeRE.FindAllStringSubmatch(string(b), -1) {
		indent := m[1]
		var body strings.Builder
		for _, l := range strings.SplitAfter(m[4], "\n") {
			body.WriteString(strings.TrimPrefix(l, indent))
		}
		out = append(out, recipe{name: m[2], opts: m[3], body: body.String()})
	}
	return out
}

// defaultPorts are the built-in listen ports the README's recipes use
// (and https as the README suggests it); the test server listens on free
// ports instead, and the recipes' port numbers are changed to those: the
// only change made to them.
var defaultPorts = []struct{ service, port string }{
	{"smtp", "2525"}, {"submission", "2587"}, {"submissions", "2465"},
	{"pop3", "2110"}, {"pop3s", "2995"}, {"imap", "2143"}, {"imaps", "2993"},
	{"http", "8080"}, {"https", "8443"},
}

// recipeServer is a fresh `pail serve` on built-in defaults (data in
// ./pail-data, domain localhost, the OS host name, the self-signed
// certificate) except for its ports, with a home directory for the
// clients' files.
type recipeServer struct {
	t     *testing.T
	dir   string // the working directory: pail-data is here
	home  string
	env   []string
	ports map[string]string // default port -> this server's
	proc  *process
	log   *syncBuffer
}

func startRecipeServer(t *testing.T) *recipeServer {
	t.Helper()
	dir := t.TempDir()
	r := &recipeServer{t: t, dir: dir, home: filepath.Join(dir, "home"), ports: map[string]string{}, log: &syncBuffer{}}
	bin := filepath.Join(dir, "bin")
	for _, d := range []string{r.home, bin} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The README says `go run ./cmd/pail` in the set-up and `pail` after.
	if err := os.Symlink(pailBin, filepath.Join(bin, "pail")); err != nil {
		t.Fatal(err)
	}
	var cfg strings.Builder
	cfg.WriteString("[listen]\n")
	var addrs []string
	for _, p := range defaultPorts {
		addr := testnet.Addr(t)
		_, port, _ := strings.Cut(addr, ":")
		r.ports[p.port] = port
		addrs = append(addrs, addr)
		fmt.Fprintf(&cfg, "%s = %q\n", p.service, addr)
	}
	config := filepath.Join(dir, "pail.toml")
	if err := os.WriteFile(config, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env = append(os.Environ(), "PAIL_CONFIG="+config, "HOME="+r.home, "PATH="+bin+":"+os.Getenv("PATH"))

	cmd := exec.Command(pailBin, "serve")
	cmd.Dir, cmd.Env = dir, r.env
	cmd.Stdout, cmd.Stderr = r.log, r.log
	cmd.WaitDelay = stopTimeout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	r.proc = p
	t.Cleanup(func() {
		if !p.exited() {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(stopTimeout):
				cmd.Process.Kill()
				<-p.done
			}
		} else {
			t.Errorf("pail serve exited by itself: %v", p.err)
		}
		if t.Failed() {
			t.Logf("pail serve output:\n%s", r.log.tail(maxLogDump))
		}
	})
	deadline := time.Now().Add(startTimeout)
	for _, a := range addrs {
		if err := waitListening(a, p, deadline); err != nil {
			t.Fatalf("pail serve not listening on %s: %v\n%s", a, err, r.log.tail(maxLogDump))
		}
	}
	return r
}

// portRE finds the default port numbers in a recipe.
var portRE = regexp.MustCompile(`\b(2525|2587|2465|2110|2995|2143|2993|8080|8443)\b`)

// text returns a recipe's text with this server's ports.
func (r *recipeServer) text(rc recipe) string {
	return portRE.ReplaceAllStringFunc(rc.body, func(p string) string { return r.ports[p] })
}

// run carries out one recipe: writes its file, or runs its commands with
// bash in the server's directory, stdin as their input. It returns the
// output; a failure fails the test.
func (r *recipeServer) run(rc recipe, stdin string) string {
	r.t.Helper()
	text := r.text(rc)
	if f, ok := strings.CutPrefix(rc.opts, "file: "); ok {
		path, modeText, _ := strings.Cut(f, " ")
		mode, err := strconv.ParseUint(modeText, 8, 32)
		if err != nil {
			r.t.Fatalf("recipe %s: mode %q: %v", rc.name, modeText, err)
		}
		if rest, ok := strings.CutPrefix(path, "~/"); ok {
			path = filepath.Join(r.home, rest)
		} else {
			path = filepath.Join(r.dir, path)
		}
		if err := os.WriteFile(path, []byte(text), os.FileMode(mode)); err != nil {
			r.t.Fatal(err)
		}
		return ""
	}
	if rc.opts == "tty" {
		r.t.Fatalf("recipe %s wants a terminal: use runTTY", rc.name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", strings.ReplaceAll(text, "go run ./cmd/pail", "pail"))
	cmd.Dir, cmd.Env = r.dir, r.env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("README recipe %s failed: %v\n--- as run:\n%s--- output:\n%s", rc.name, err, text, out)
	}
	return string(out)
}

// runTTY runs a recipe's command in a terminal (a tmux of its own) and
// returns the screen once it shows want, or fails the test.
func (r *recipeServer) runTTY(rc recipe, want string) string {
	r.t.Helper()
	tmux := needPeer(r.t, "tmux")
	sock := filepath.Join(r.dir, "tmux.sock")
	tm := func(args ...string) (string, error) {
		cmd := exec.Command(tmux, append([]string{"-S", sock}, args...)...)
		cmd.Dir, cmd.Env = r.dir, r.env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := tm("new-session", "-d", "-x", "120", "-y", "30", "-c", r.dir, "bash", "-c", r.text(rc)); err != nil {
		r.t.Fatalf("tmux: %v\n%s", err, out)
	}
	defer tm("kill-server")
	var screen string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err := tm("capture-pane", "-p")
		if err != nil {
			r.t.Fatalf("README recipe %s: the terminal is gone (%v); last screen:\n%s", rc.name, err, screen)
		}
		screen = out
		if strings.Contains(screen, want) {
			return screen
		}
	}
	r.t.Fatalf("README recipe %s: %q not on the screen:\n%s", rc.name, want, screen)
	return ""
}

// TestREADMERecipes runs every client recipe of README.md as written
// against a fresh `pail serve` with its self-signed certificate, each
// client checking that certificate against pail-data/tls/cert.pem, and
// checks that each did its job. A recipe without a check here fails, so
// the README cannot gain an untested one.
func TestREADMERecipes(t *testing.T) {
	all := readmeRecipes(t)
	byName := map[string][]recipe{}
	for _, rc := range all {
		byName[rc.name] = append(byName[rc.name], rc)
	}
	// get returns the recipes of one name; each must be there.
	get := func(t *testing.T, name string, n int) []recipe {
		t.Helper()
		if len(byName[name]) != n {
			t.Fatalf("README.md has %d recipes named %q, want %d", len(byName[name]), name, n)
		}
		return byName[name]
	}
	// setup is the README's first account and test message.
	setup := func(t *testing.T) *recipeServer {
		t.Helper()
		r := startRecipeServer(t)
		out := r.run(get(t, "setup", 1)[0], "")
		if !strings.Contains(out, "From: jack@example.org") {
			t.Fatalf("the set-up's export does not show the test message:\n%s", out)
		}
		return r
	}
	checks := map[string]func(t *testing.T){
		"setup": func(t *testing.T) { setup(t) },
		"swaks-submission": func(t *testing.T) {
			r := setup(t)
			out := r.run(get(t, "swaks-submission", 1)[0], "")
			if !strings.Contains(out, "250 2.0.0") {
				t.Fatalf("swaks: no 250 for the message:\n%s", out)
			}
			r.wantMessages(2, "")
		},
		"python-smtp": func(t *testing.T) {
			r := setup(t)
			r.run(get(t, "python-smtp", 1)[0], "")
			r.wantMessages(2, "Subject: from python")
		},
		"fetchmail": func(t *testing.T) {
			r := setup(t)
			needPeer(t, "fetchmail")
			rcs := get(t, "fetchmail", 2)
			r.run(rcs[0], "")
			r.run(rcs[1], "")
			b, err := os.ReadFile(filepath.Join(r.dir, "jill.mbox"))
			if err != nil || !strings.Contains(string(b), "From: jack@example.org") {
				t.Fatalf("fetchmail did not deliver the message to jill.mbox (%v):\n%s", err, b)
			}
		},
		"mbsync": func(t *testing.T) {
			r := setup(t)
			needPeer(t, "mbsync")
			rcs := get(t, "mbsync", 2)
			r.run(rcs[0], "")
			r.run(rcs[1], "")
			if got := listMaildir(t, filepath.Join(r.home, "Mail", "jill", "INBOX")); len(got) != 1 {
				t.Fatalf("mbsync brought %d messages into ~/Mail/jill/INBOX, want 1", len(got))
			}
			if _, err := os.Stat(filepath.Join(r.home, "Mail", "jill", "Sent")); err != nil {
				t.Errorf("mbsync did not make the Sent folder: %v", err)
			}
		},
		"mutt": func(t *testing.T) {
			r := setup(t)
			needPeer(t, "mutt")
			rcs := get(t, "mutt", 2)
			r.run(rcs[0], "")
			r.runTTY(rcs[1], "=INBOX [Msgs:1 ")
		},
		"mutt-send": func(t *testing.T) {
			r := setup(t)
			needPeer(t, "mutt")
			r.run(get(t, "mutt", 2)[0], "") // its ~/.muttrc
			r.run(get(t, "mutt-send", 1)[0], "")
			r.wantMessages(2, "Subject: from mutt")
		},
		"s-nail": func(t *testing.T) {
			r := setup(t)
			needPeer(t, "s-nail")
			out := r.run(get(t, "s-nail", 1)[0], "headers\nprint 1\nquit\n")
			if !strings.Contains(out, "jack@example.org") || !strings.Contains(out, "1 message") {
				t.Fatalf("s-nail did not show the message:\n%s", out)
			}
		},
		"python-imap": func(t *testing.T) {
			r := setup(t)
			out := r.run(get(t, "python-imap", 1)[0], "")
			if !strings.Contains(out, "INBOX holds 1 messages") {
				t.Fatalf("python imaplib: %s", out)
			}
		},
		"curl-webmail": func(t *testing.T) {
			r := setup(t)
			out := r.run(get(t, "curl-webmail", 1)[0], "")
			if !strings.Contains(out, `type="password"`) {
				t.Fatalf("curl did not get the login page:\n%s", clip([]byte(out), 2000))
			}
		},
		"curl-autoconfig": func(t *testing.T) {
			r := startRecipeServer(t)
			out := r.run(get(t, "curl-autoconfig", 1)[0], "")
			// The built-in services, on this server's ports.
			for _, want := range []string{`<emailProvider id="localhost">`, "<port>" + r.ports["2993"] + "</port>", "<port>" + r.ports["2465"] + "</port>", "<username>%EMAILADDRESS%</username>"} {
				if !strings.Contains(out, want) {
					t.Fatalf("autoconfig lacks %s:\n%s", want, out)
				}
			}
		},
	}
	for name := range byName {
		if checks[name] == nil {
			t.Errorf("README.md recipe %q has no check in TestREADMERecipes", name)
		}
	}
	for _, rc := range all {
		if _, ok := checks[rc.name]; !ok {
			continue
		}
		if check := checks[rc.name]; check != nil {
			t.Run(rc.name, check)
			checks[rc.name] = nil // once per name
		}
	}
	for name, check := range checks {
		if check != nil {
			t.Errorf("README.md has no recipe %q", name)
		}
	}
}

// wantMessages checks that jill's INBOX holds n messages, one of them with
// the line want.
func (r *recipeServer) wantMessages(n int, want string) {
	r.t.Helper()
	cmd := exec.Command(pailBin, "export", "jill@localhost")
	cmd.Dir, cmd.Env = r.dir, r.env
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("pail export: %v", err)
	}
	msgs, err := parseMbox(out)
	if err != nil {
		r.t.Fatal(err)
	}
	if len(msgs) != n || !strings.Contains(string(out), want) {
		r.t.Fatalf("jill's INBOX holds %d messages, want %d, one with %q:\n%s", len(msgs), n, want, clip(out, 4000))
	}
}
