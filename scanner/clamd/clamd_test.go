package clamd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/scanner/clamd"
	"github.com/mailwarden/mailwarden/scanner/clamd/clamdtest"
)

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		in, network, addr string
		ok                bool
	}{
		{"unix:/run/clamav/clamd.ctl", "unix", "/run/clamav/clamd.ctl", true},
		{"inet:127.0.0.1:3310", "tcp", "127.0.0.1:3310", true},
		{"inet:[::1]:3310", "tcp", "[::1]:3310", true},
		{"inet:clamd.example:3310", "tcp", "clamd.example:3310", true},
		{"unix:relative.sock", "", "", false},
		{"inet:127.0.0.1", "", "", false},
		{"inet::3310", "", "", false},
		{"/run/clamav/clamd.ctl", "", "", false},
		{"tcp:127.0.0.1:3310", "", "", false},
		{"", "", "", false},
	} {
		n, a, err := clamd.ParseAddress(tc.in)
		if tc.ok != (err == nil) || n != tc.network || a != tc.addr {
			t.Errorf("ParseAddress(%q) = %q, %q, %v", tc.in, n, a, err)
		}
		if err != nil && !errors.Is(err, clamd.ErrAddress) {
			t.Errorf("ParseAddress(%q): %v is not ErrAddress", tc.in, err)
		}
	}
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		line string
		want clamd.Result
		err  error
	}{
		{"stream: OK", clamd.Result{}, nil},
		{"stream: Eicar-Test-Signature FOUND", clamd.Result{Infected: true, Signature: "Eicar-Test-Signature"}, nil},
		{"1: stream: Win.Test.EICAR_HDB-1 FOUND", clamd.Result{Infected: true, Signature: "Win.Test.EICAR_HDB-1"}, nil},
		{"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND", clamd.Result{Infected: true, Signature: "Heuristics.Limits.Exceeded.MaxFileSize"}, nil},
		{"INSTREAM size limit exceeded. ERROR", clamd.Result{}, clamd.ErrSizeLimit},
		{"stream: Can't allocate memory ERROR", clamd.Result{}, clamd.ErrClamd},
		{"UNKNOWN COMMAND", clamd.Result{}, clamd.ErrProtocol},
		{"stream:  FOUND", clamd.Result{}, clamd.ErrProtocol},
		{"", clamd.Result{}, clamd.ErrProtocol},
		{"stream: OKAY", clamd.Result{}, clamd.ErrProtocol},
	} {
		got, err := clamd.ParseReply(tc.line)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("ParseReply(%q) = %+v, %v; want %+v, %v", tc.line, got, err, tc.want, tc.err)
		}
	}
}

// fake is a scripted clamd on a unix socket: each connection is handed to
// serve.
type fake struct {
	addr string
	l    net.Listener
	wg   sync.WaitGroup
}

func newFake(t *testing.T, serve func(c net.Conn)) *fake {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{addr: "unix:" + p, l: l}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() { defer f.wg.Done(); defer c.Close(); serve(c) }()
		}
	}()
	t.Cleanup(func() { l.Close(); f.wg.Wait() })
	return f
}

// readInstream reads an INSTREAM command and its chunks, returning the
// content and the chunk sizes.
func readInstream(c net.Conn) ([]byte, []int, error) {
	cmd := make([]byte, len("zINSTREAM\x00"))
	if _, err := io.ReadFull(c, cmd); err != nil {
		return nil, nil, err
	}
	if string(cmd) != "zINSTREAM\x00" {
		return nil, nil, errors.New("bad command " + string(cmd))
	}
	var data []byte
	var sizes []int
	for {
		var n uint32
		if err := binary.Read(c, binary.BigEndian, &n); err != nil {
			return nil, nil, err
		}
		if n == 0 {
			return data, sizes, nil
		}
		sizes = append(sizes, int(n))
		b := make([]byte, n)
		if _, err := io.ReadFull(c, b); err != nil {
			return nil, nil, err
		}
		data = append(data, b...)
	}
}

func TestScanChunks(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	var sizes []int
	f := newFake(t, func(c net.Conn) {
		data, sz, err := readInstream(c)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		got, sizes = data, sz
		mu.Unlock()
		reply := "stream: OK\x00"
		if bytes.Contains(data, []byte("bad")) {
			reply = "stream: Bad.Thing FOUND\x00"
		}
		io.WriteString(c, reply)
	})
	c, err := clamd.New(f.addr, clamd.Options{Chunk: 10})
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("0123456789abcdefghijklmnopqrstuvwxyz!")
	res, err := c.ScanBytes(ctxT(t, 5*time.Second), content)
	if err != nil || res.Infected {
		t.Fatalf("clean scan = %+v, %v", res, err)
	}
	mu.Lock()
	if !bytes.Equal(got, content) || len(sizes) != 4 || sizes[0] != 10 || sizes[3] != 7 {
		t.Errorf("clamd got %q in chunks %v", got, sizes)
	}
	mu.Unlock()
	res, err = c.ScanBytes(ctxT(t, 5*time.Second), []byte("a bad thing"))
	if err != nil || !res.Infected || res.Signature != "Bad.Thing" {
		t.Fatalf("infected scan = %+v, %v", res, err)
	}
	// Empty content is a stream of no chunks.
	res, err = c.ScanBytes(ctxT(t, 5*time.Second), nil)
	if err != nil || res.Infected {
		t.Fatalf("empty scan = %+v, %v", res, err)
	}
}

func TestScanFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(c net.Conn)
		want  error
	}{
		{"size limit as clamd sends it", func(c net.Conn) {
			// clamd answers once the stream passes its limit and closes,
			// while the client is still writing.
			io.ReadFull(c, make([]byte, 100))
			io.WriteString(c, "INSTREAM size limit exceeded. ERROR\x00")
		}, clamd.ErrSizeLimit},
		{"other error", func(c net.Conn) {
			readInstream(c)
			io.WriteString(c, "stream: Can't allocate memory ERROR\x00")
		}, clamd.ErrClamd},
		{"closed without reply", func(c net.Conn) { readInstream(c) }, clamd.ErrProtocol},
		{"garbage", func(c net.Conn) { readInstream(c); io.WriteString(c, "HELLO\x00") }, clamd.ErrProtocol},
		{"endless reply", func(c net.Conn) {
			readInstream(c)
			c.Write(bytes.Repeat([]byte("x"), 10000))
		}, clamd.ErrProtocol},
		{"verdict before the end", func(c net.Conn) {
			io.ReadFull(c, make([]byte, 100))
			io.WriteString(c, "stream: OK\x00")
		}, clamd.ErrProtocol},
		{"silent", func(c net.Conn) { readInstream(c); io.Copy(io.Discard, c) }, context.DeadlineExceeded},
		{"never reads", func(c net.Conn) { time.Sleep(time.Second) }, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.serve)
			c, err := clamd.New(f.addr, clamd.Options{})
			if err != nil {
				t.Fatal(err)
			}
			// 8 MB: more than the socket buffers hold, so a clamd that
			// stops reading blocks the writer.
			d := 5 * time.Second // ample on a loaded machine
			if tc.want == context.DeadlineExceeded {
				d = 300 * time.Millisecond
			}
			res, err := c.ScanBytes(ctxT(t, d), bytes.Repeat([]byte("a"), 8<<20))
			if !errors.Is(err, tc.want) || res.Infected {
				t.Errorf("Scan = %+v, %v; want %v", res, err, tc.want)
			}
		})
	}
}

func TestNoDeadline(t *testing.T) {
	c, err := clamd.New("unix:/nonexistent/clamd.sock", clamd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScanBytes(context.Background(), nil); !errors.Is(err, clamd.ErrNoDeadline) {
		t.Errorf("Scan without a deadline: %v", err)
	}
}

func TestDown(t *testing.T) {
	c, err := clamd.New("unix:"+filepath.Join(t.TempDir(), "none.sock"), clamd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScanBytes(ctxT(t, time.Second), []byte("x")); err == nil {
		t.Error("scan with no clamd did not fail")
	}
	if err := c.Ping(ctxT(t, time.Second)); err == nil {
		t.Error("ping with no clamd did not fail")
	}
}

// TestMaxConns: the connections open at once are bounded, and a scan
// waiting for a slot gives up at its deadline.
func TestMaxConns(t *testing.T) {
	var mu sync.Mutex
	open, peak := 0, 0
	release := make(chan struct{})
	f := newFake(t, func(c net.Conn) {
		mu.Lock()
		open++
		peak = max(peak, open)
		mu.Unlock()
		readInstream(c)
		<-release
		io.WriteString(c, "stream: OK\x00")
		mu.Lock()
		open--
		mu.Unlock()
	})
	c, err := clamd.New(f.addr, clamd.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.ScanBytes(ctxT(t, 5*time.Second), []byte("x"))
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond) // both hold their slot
	if _, err := c.ScanBytes(ctxT(t, 100*time.Millisecond), []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("third scan while two run: %v", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if peak != 2 {
		t.Errorf("peak connections %d, want 2", peak)
	}
}

// TestRealClamd runs the client against Debian's clamd with the test
// database, over the unix socket and TCP.
func TestRealClamd(t *testing.T) {
	s := clamdtest.Start(t, clamdtest.Options{StreamMaxLength: "1M", TCP: true})
	for _, addr := range []string{s.Address(), s.TCPAddress()} {
		t.Run(addr[:4], func(t *testing.T) {
			c, err := clamd.New(addr, clamd.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Ping(ctxT(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			v, err := c.Version(ctxT(t, 5*time.Second))
			if err != nil || !strings.HasPrefix(v, "ClamAV ") {
				t.Errorf("Version = %q, %v", v, err)
			}
			for _, tc := range []struct {
				name, content, sig string
			}{
				{"clean", "hello, world\n", ""},
				{"eicar file", clamdtest.EICAR, clamdtest.EICARSignature},
				{"eicar in text", "see:\n" + clamdtest.EICAR + "\nbye\n", clamdtest.EICARSignature},
				{"custom", "x " + clamdtest.Custom + " y", clamdtest.CustomSignature},
			} {
				res, err := c.ScanBytes(ctxT(t, 5*time.Second), []byte(tc.content))
				if err != nil || res.Infected != (tc.sig != "") || !clamdtest.SameSignature(res.Signature, tc.sig) && tc.sig != "" {
					t.Errorf("%s: Scan = %+v, %v; want %q", tc.name, res, err, tc.sig)
				}
			}
			// Over StreamMaxLength: an error, never clean.
			res, err := c.ScanBytes(ctxT(t, 5*time.Second), bytes.Repeat([]byte("a"), 3<<20))
			if !errors.Is(err, clamd.ErrSizeLimit) {
				t.Errorf("3 MB over a 1M StreamMaxLength: %+v, %v", res, err)
			}
		})
	}
}

// TestLongReply: a reply longer than a small read buffer still parses.
func TestLongReply(t *testing.T) {
	name := strings.Repeat("A", 3000)
	f := newFake(t, func(c net.Conn) {
		readInstream(c)
		io.WriteString(c, "stream: "+name+" FOUND\x00")
	})
	c, err := clamd.New(f.addr, clamd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.ScanBytes(ctxT(t, 5*time.Second), []byte("x"))
	if err != nil || res.Signature != name {
		t.Errorf("Scan = %.20q..., %v", res.Signature, err)
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: X FOUND", "INSTREAM size limit exceeded. ERROR",
		"1: stream: Y FOUND", "stream: z ERROR", "PONG", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		res, err := clamd.ParseReply(line)
		if err != nil && res != (clamd.Result{}) {
			t.Errorf("%q: a verdict with an error: %+v, %v", line, res, err)
		}
		if err == nil && res.Infected != (res.Signature != "") {
			t.Errorf("%q: %+v", line, res)
		}
		if err == nil && !res.Infected && !strings.HasSuffix(line, "OK") {
			t.Errorf("%q: clean without OK", line)
		}
		if strings.Contains(line, "size limit exceeded") && err == nil {
			t.Errorf("%q: a size limit read as a verdict %+v", line, res)
		}
	})
}
