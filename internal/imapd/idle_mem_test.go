package imapd

import (
	"bufio"
	"compress/flate"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// idleClientsEnv, when set in the environment ("addr sessions tls"),
// makes the test binary the client side of TestIdleSessionMemory: a
// process of its own, so that its connections and TLS state are not
// counted in the server's memory.
const idleClientsEnv = "PAIL_TEST_IDLE_CLIENTS"

func TestMain(m *testing.M) {
	if spec := os.Getenv(idleClientsEnv); spec != "" {
		if err := idleClients(spec); err != nil {
			fmt.Fprintln(os.Stderr, "idle clients:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// idleClients opens the sessions of spec, each LOGIN, SELECT INBOX and
// IDLE, says "ready", and when its stdin closes ends every IDLE with DONE
// and checks the tagged OK, proving the sessions lived through the wait.
func idleClients(spec string) error {
	var addr, mode string
	var n int
	if _, err := fmt.Sscan(spec, &addr, &n, &mode); err != nil {
		return err
	}
	type sess struct {
		c  net.Conn
		w  io.Writer
		br *bufio.Reader
	}
	var all []sess
	for i := range n {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		s := sess{c: nc, w: nc, br: bufio.NewReaderSize(nc, 512)}
		expect := func(tag string) error {
			s.c.SetReadDeadline(time.Now().Add(30 * time.Second))
			for {
				l, err := s.br.ReadString('\n')
				if err != nil {
					return fmt.Errorf("session %d: %w", i, err)
				}
				if strings.HasPrefix(l, tag+" ") {
					if !strings.HasPrefix(l, tag+" OK") && tag != "*" && tag != "+" {
						return fmt.Errorf("session %d: %q", i, l)
					}
					return nil
				}
			}
		}
		if err := expect("*"); err != nil {
			return err
		}
		if mode == "tls" {
			io.WriteString(s.c, "s STARTTLS\r\n")
			if err := expect("s"); err != nil {
				return err
			}
			tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
			s.c, s.w, s.br = tc, tc, bufio.NewReaderSize(tc, 512)
		}
		if mode == "compress" {
			io.WriteString(s.c, `l LOGIN bob@hill.com "`+testPassword+"\"\r\nz COMPRESS DEFLATE\r\n")
			for _, tag := range []string{"l", "z"} {
				if err := expect(tag); err != nil {
					return err
				}
			}
			zw, _ := flate.NewWriter(nc, flate.BestSpeed)
			s.w = &syncFlusher{zw}
			s.br = bufio.NewReaderSize(flate.NewReader(nc), 512)
		}
		cmds, tags := `l LOGIN bob@hill.com "`+testPassword+"\"\r\ns SELECT INBOX\r\ni IDLE\r\n", []string{"l", "s", "+"}
		if mode == "compress" {
			cmds, tags = "s SELECT INBOX\r\ni IDLE\r\n", []string{"s", "+"}
		}
		io.WriteString(s.w, cmds)
		for _, tag := range tags {
			if err := expect(tag); err != nil {
				return err
			}
		}
		all = append(all, s)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for i, s := range all {
		io.WriteString(s.w, "DONE\r\n")
		s.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		l, err := s.br.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "i OK") {
			return fmt.Errorf("session %d after the wait: %q %v", i, l, err)
		}
	}
	fmt.Println("alive")
	return nil
}

// syncFlusher sync-flushes a compressor after every write.
type syncFlusher struct{ zw *flate.Writer }

func (f *syncFlusher) Write(p []byte) (int, error) {
	n, err := f.zw.Write(p)
	if err == nil {
		err = f.zw.Flush()
	}
	return n, err
}

// serverMemory is the Go memory the process uses for heap objects and
// goroutine stacks, after collections that also shrink idle stacks.
func serverMemory() (bytes uint64, goroutines int) {
	for range 5 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse, runtime.NumGoroutine()
}

// TestIdleSessionMemory opens many sessions in IDLE (a client process of
// their own, INBOX of 10 messages) over plain text, over STARTTLS and
// with COMPRESS, and bounds what each costs the server: at most one
// goroutine, and Go memory (heap in use and stacks). Measured (go test -v
// shows it): plain 5.9 KiB per session and no goroutine (the session
// hibernates, see imapengine), 8.9–10.3 before hibernation and 17.9 with
// IDLE's second goroutine; TLS 20–21 KiB, 25.1 before (crypto/tls
// keeps each connection's record buffers and cipher state, and its reads
// need an 8 KiB stack); COMPRESS 57 KiB (the client's 32 KiB window and
// the inflater's tables). bench/idle.sh measures the whole process.
func TestIdleSessionMemory(t *testing.T) {
	const sessions = 400
	for _, tc := range []struct {
		mode     string
		maxBytes uint64 // per session, with margin over what was measured
	}{
		{"plain", 12 << 10},
		{"tls", 24 << 10},
		{"compress", 64 << 10},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			e := newEnv(t, func(c *Config, _ *Server) {
				c.MaxConnections, c.MaxConnectionsPerIP = sessions+10, sessions+10
			})
			for range 10 {
				e.deliver(t, e.acct.ID, "INBOX", testMsg)
			}
			// One session first, so that what every session shares
			// (prepared statements, pools, the auth cache) is made.
			warm := dialRaw(t, e.addr)
			if tc.mode == "tls" {
				startTLS(t, warm)
			}
			warm.cmd(`LOGIN bob@hill.com "` + testPassword + `"`)
			warm.cmd("SELECT INBOX")
			warm.cmd("LOGOUT")
			time.Sleep(100 * time.Millisecond)
			mem0, g0 := serverMemory()

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), idleClientsEnv+"="+e.addr+" "+strconv.Itoa(sessions)+" "+tc.mode)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			out := bufio.NewReader(stdout)
			if l, err := out.ReadString('\n'); l != "ready\n" {
				t.Fatalf("clients: %q %v", l, err)
			}
			time.Sleep(200 * time.Millisecond) // the last session settles in IDLE
			mem1, g1 := serverMemory()
			per := (int64(mem1) - int64(mem0)) / sessions
			t.Logf("%s: %d sessions in IDLE: %.1f KiB per session (heap and stacks), %.2f goroutines per session",
				tc.mode, sessions, float64(per)/1024, float64(g1-g0)/sessions)
			if g1-g0 > sessions {
				t.Errorf("%d goroutines for %d sessions in IDLE, want at most one each", g1-g0, sessions)
			}
			if per > int64(tc.maxBytes) {
				t.Errorf("%.1f KiB per session in IDLE, want at most %.1f", float64(per)/1024, float64(tc.maxBytes)/1024)
			}
			stdin.Close()
			if l, err := out.ReadString('\n'); l != "alive\n" {
				t.Errorf("clients after the wait: %q %v", l, err)
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("clients: %v", err)
			}
		})
	}
}
