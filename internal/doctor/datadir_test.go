package doctor

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDataDir: a data directory owned by the server's user is OK; one
// with a file of another user, or a world-writable entry, FAILs; one
// that is not there yet WARNs.
func TestDataDir(t *testing.T) {
	cfg := testConfig(t)
	uid := os.Geteuid()
	d := &doctor{o: Options{Config: cfg, ServerUID: uid}, cfg: cfg}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "pail.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	want(t, d.checkDataDir(), OK, "belongs to")

	// The server runs as another user than the files'.
	d.o.ServerUID = uid + 4242
	want(t, d.checkDataDir(), Fail, "not owned by uid", "pail.db", "chown -R")
	d.o.ServerUID = uid

	if err := os.Chmod(filepath.Join(cfg.DataDir, "pail.db"), 0o666); err != nil {
		t.Fatal(err)
	}
	want(t, d.checkDataDir(), Fail, "world-writable: "+filepath.Join(cfg.DataDir, "pail.db")+" (0666)", "chmod -R o-w")

	cfg.DataDir = filepath.Join(cfg.DataDir, "nothing")
	want(t, d.checkDataDir(), Warn, "does not exist yet")
}

// TestDataDirRootGuess: the doctor run by root without --user on a
// directory of another user takes that user for the server's (admin
// commands run as root take its identity, and systemd's User= runs the
// server as it), and says that it assumed so.
func TestDataDirRootGuess(t *testing.T) {
	cfg := testConfig(t)
	owner := os.Geteuid()
	if owner == 0 {
		// As root (CI), give the directory to another user; as anyone
		// else it already is not root's.
		owner = 4242
		if err := os.Chown(cfg.DataDir, owner, owner); err != nil {
			t.Fatal(err)
		}
	}
	d := &doctor{o: Options{Config: cfg, ServerUID: 0, UIDGuessed: true}, cfg: cfg}
	want(t, d.checkDataDir(), OK, "belongs to "+userName(owner), "the user it is assumed the server runs as", "--user NAME")
	d.o.UIDGuessed = false // --user root
	want(t, d.checkDataDir(), Fail, "not owned by root (uid 0)")
}
