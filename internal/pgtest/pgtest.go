// Package pgtest runs a private PostgreSQL cluster for tests: initdb in a
// temporary directory, the server on a free loopback TCP port (no Unix
// socket), run as an unprivileged user (the postgres system user when the
// tests run as root, since PostgreSQL refuses to run as root), and a
// fresh database per test. It uses Debian's server binaries
// (/usr/lib/postgresql/N/bin, the newest N; PAIL_PG_BIN overrides) and
// fails, never skips, when they are missing: .ci/run installs them.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"pail/internal/testnet"
)

// startTimeout bounds initdb and the server's start: both take a second
// or two; a loaded CI machine may take ten times that.
const startTimeout = 60 * time.Second

// Cluster is one running private PostgreSQL server.
type Cluster struct {
	bin     string // directory of initdb, pg_ctl, postgres
	dir     string // temporary directory holding data/ and the log
	data    string
	port    int
	cred    *syscall.Credential // whom the server runs as; nil: this process's user
	created atomic.Int64        // databases made by NewDatabase
}

// Bin returns the directory of the PostgreSQL server binaries.
func Bin() (string, error) {
	if b := os.Getenv("PAIL_PG_BIN"); b != "" {
		return b, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", errors.New("pgtest: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql, or set PAIL_PG_BIN)")
	}
	version := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	slices.SortFunc(found, func(a, b string) int { return version(a) - version(b) })
	return filepath.Dir(found[len(found)-1]), nil
}

// Start makes and starts a cluster. Stop it with Stop. Settings are
// extra server settings (name=value), e.g. "synchronous_commit=off".
func Start(ctx context.Context, settings ...string) (*Cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pail-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c := &Cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	fail := func(err error) (*Cluster, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Mkdir(c.data, 0o700); err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(fmt.Errorf("pgtest: running as root and no postgres user to run the server as: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chmod(dir, 0o755); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
		for _, p := range []string{dir, c.data} {
			if err := os.Chown(p, uid, gid); err != nil {
				return fail(fmt.Errorf("pgtest: %w", err))
			}
		}
	}
	// -N: initdb's own files need no fsync (a test cluster is thrown
	// away); the server itself keeps fsync on unless settings say not.
	if out, err := c.command(ctx, "initdb", "-D", c.data, "-U", "pail", "-A", "trust", "-E", "UTF8", "--locale=C", "-N").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %w\n%s", err, out))
	}
	conf := []string{"listen_addresses = '127.0.0.1'", "unix_socket_directories = ''", "max_connections = 200", "shared_buffers = '32MB'"}
	for _, s := range settings {
		name, value, _ := strings.Cut(s, "=")
		conf = append(conf, fmt.Sprintf("%s = '%s'", strings.TrimSpace(name), strings.TrimSpace(value)))
	}
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	_, err = f.WriteString("\n" + strings.Join(conf, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(fmt.Errorf("pgtest: postgresql.conf: %w", err))
	}
	for range 5 { // a free port can be taken between the probe and the start
		addr, err := testnet.FreeAddr()
		if err != nil {
			return fail(err)
		}
		_, port, _ := net.SplitHostPort(addr)
		if c.port, err = strconv.Atoi(port); err != nil {
			return fail(fmt.Errorf("pgtest: port of %s: %w", addr, err))
		}
		if err = c.Restart(ctx); err == nil {
			return c, nil
		}
	}
	return fail(err)
}

// command makes a command of one of the server binaries, run as the
// server's user.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// Restart starts the server after Stop or Kill (and at first). It waits
// until the server accepts connections.
func (c *Cluster) Restart(ctx context.Context) error {
	out, err := c.command(ctx, "pg_ctl", "-D", c.data, "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60",
		"-o", "-p "+strconv.Itoa(c.port), "start").CombinedOutput()
	if err != nil {
		logText, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, tail(logText, 2000))
	}
	return nil
}

// Stop shuts the server down cleanly (pg_ctl -m fast); Restart brings it
// back with its data.
func (c *Cluster) Stop(ctx context.Context) error {
	if out, err := c.command(ctx, "pg_ctl", "-D", c.data, "-w", "-m", "fast", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Kill stops the server as a crash would (pg_ctl -m immediate: no
// checkpoint; the next start replays the WAL).
func (c *Cluster) Kill(ctx context.Context) error {
	if out, err := c.command(ctx, "pg_ctl", "-D", c.data, "-w", "-m", "immediate", "stop").CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop -m immediate: %w\n%s", err, out)
	}
	return nil
}

// Close stops the server and removes its files.
func (c *Cluster) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err := c.Kill(ctx)
	if rerr := os.RemoveAll(c.dir); err == nil {
		err = rerr
	}
	return err
}

// URL returns the connection URL of database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://pail@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// NewDatabase creates an empty database and returns its URL; each call
// makes a new one, so tests sharing a cluster do not see each other.
func (c *Cluster) NewDatabase(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(context.Background())
	name := fmt.Sprintf("test_%d", c.created.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// tail returns at most n bytes from the end of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
