package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// logBuf collects log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func open(t testing.TB, dir string, o Options) (*Journal, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	o.Log = slog.New(slog.NewTextHandler(lb, nil))
	j, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, lb
}

func appendAll(t testing.TB, j *Journal, recs ...string) {
	t.Helper()
	for _, r := range recs {
		if err := j.Append(context.Background(), []byte(r)); err != nil {
			t.Fatalf("Append(%q): %v", r, err)
		}
	}
}

// readAll reads every available record, acknowledging them when ack is set.
func readAll(j *Journal, ack bool) []string {
	var out []string
	for {
		recs := j.Read(3)
		if len(recs) == 0 {
			return out
		}
		for _, r := range recs {
			if r.Data == nil {
				out = append(out, "<skipped>")
			} else {
				out = append(out, string(r.Data))
			}
		}
		if ack {
			j.Ack(recs[len(recs)-1].Pos)
		}
	}
}

func segments(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, _ := e.Info()
		m[e.Name()] = fi.Size()
	}
	return m
}

func TestAppendReadAck(t *testing.T) {
	dir := t.TempDir()
	j, _ := open(t, dir, Options{})
	appendAll(t, j, "one", "two", "", "four")
	if n, b := j.Pending(); n != 4 || b != int64(4*hdrLen+3+3+0+4) {
		t.Errorf("Pending = %d records, %d bytes; want 4, %d", n, b, 4*hdrLen+10)
	}
	if got := fmt.Sprint(readAll(j, false)); got != "[one two  four]" {
		t.Errorf("read %s", got)
	}
	if got := j.Read(10); got != nil {
		t.Errorf("second read = %v, want nothing", got)
	}
	appendAll(t, j, "five")
	recs := j.Read(10)
	if len(recs) != 1 || string(recs[0].Data) != "five" {
		t.Fatalf("read after append = %v", recs)
	}
	j.Ack(recs[0].Pos)
	if n, b := j.Pending(); n != 0 || b != 0 {
		t.Errorf("Pending after Ack = %d, %d; want 0, 0", n, b)
	}
	// The consumed segment is truncated to its magic (by the journal's
	// goroutine, after the Ack): appending once more proves it ran.
	appendAll(t, j, "six")
	if got := fmt.Sprint(readAll(j, true)); got != "[six]" {
		t.Errorf("read after truncation %s", got)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(context.Background(), []byte("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if segs := segments(t, dir); len(segs) != 1 || segs[lockFile] != 0 {
		t.Errorf("files left after everything was acknowledged: %v, want only the lock", segs)
	}
}

// TestReopenReplays is the crash case: a journal abandoned without Close
// (as by kill -9) and opened again gives back every committed record, in
// order, acknowledged or not unless its segment was reclaimed.
func TestReopenReplays(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentBytes: 64} // a few records per segment
	j, _ := open(t, dir, o)
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("record %02d", i))
	}
	appendAll(t, j, want...)
	if n := len(segments(t, dir)); n < 4 {
		t.Fatalf("%d segments, want several with SegmentBytes 64", n)
	}
	// Consume the first 12 records; whole segments among them go.
	var got []string
	for len(got) < 12 {
		recs := j.Read(12 - len(got))
		for _, r := range recs {
			got = append(got, string(r.Data))
		}
		j.Ack(recs[len(recs)-1].Pos)
	}
	appendAll(t, j, "after ack") // the journal goroutine has reclaimed by now

	if _, err := Open(dir, o); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open while the first is open: %v, want ErrLocked", err)
	}
	j.lock.Close()           // j dies (kill -9 drops its lock) ...
	j2, _ := open(t, dir, o) // ... and is never closed
	replayed := readAll(j2, false)
	all := append(want, "after ack")
	// What comes back is a suffix of everything, starting at or before the
	// first unacknowledged record.
	if len(replayed) < len(all)-12 || fmt.Sprint(all[len(all)-len(replayed):]) != fmt.Sprint(replayed) {
		t.Errorf("replayed %v\nwant a suffix of %v with at least %v", replayed, all, all[12:])
	}
	if len(replayed) == len(all) {
		t.Errorf("nothing was reclaimed: replayed all %d records", len(all))
	}
}

func TestTornAndDamagedTails(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b []byte) []byte // the segment's bytes after three records
		want   string
	}{
		{"torn header", func(b []byte) []byte { return append(b, 5, 0, 0) }, "[one two three]"},
		{"torn payload", func(b []byte) []byte { return AppendRecord(b, []byte("four"))[:len(b)+hdrLen+2] }, "[one two three]"},
		{"length over the maximum", func(b []byte) []byte {
			return append(b, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5)
		}, "[one two three]"},
		{"checksum mismatch in the middle", func(b []byte) []byte {
			b[len(magic)+hdrLen+3+hdrLen] ^= 0x20 // first byte of "two"
			return b
		}, "[one]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			j, _ := open(t, dir, Options{})
			appendAll(t, j, "one", "two", "three")
			path := j.segs[len(j.segs)-1].path
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tt.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			j.lock.Close() // as if j's process died
			j2, lb := open(t, dir, Options{})
			if got := fmt.Sprint(readAll(j2, false)); got != tt.want {
				t.Errorf("read back %s, want %s", got, tt.want)
			}
			if !strings.Contains(lb.String(), "torn or damaged record") {
				t.Errorf("no log line for the damage:\n%s", lb.String())
			}
			// The tail is cut off: new records follow the good ones, and a
			// third open finds no damage.
			appendAll(t, j2, "new")
			j2.lock.Close()
			j3, lb3 := open(t, dir, Options{})
			if got, want := fmt.Sprint(readAll(j3, false)), strings.TrimSuffix(tt.want, "]")+" new]"; got != want {
				t.Errorf("after more appends: %s, want %s", got, want)
			}
			if strings.Contains(lb3.String(), "torn") {
				t.Errorf("damage logged again:\n%s", lb3.String())
			}
		})
	}
}

func TestDamageSeenByRead(t *testing.T) {
	dir := t.TempDir()
	j, lb := open(t, dir, Options{})
	appendAll(t, j, "one", "two", "three")
	// Damage committed bytes behind the journal's back (a failing disk).
	s := j.segs[len(j.segs)-1]
	if _, err := s.f.WriteAt([]byte{'X'}, int64(len(magic)+hdrLen+3+hdrLen)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(readAll(j, true)); got != "[one <skipped>]" {
		t.Errorf("read %s, want one and a skip", got)
	}
	if !strings.Contains(lb.String(), "damaged record") {
		t.Errorf("no log line:\n%s", lb.String())
	}
	if n, b := j.Pending(); n != 0 || b != 0 {
		t.Errorf("Pending after acknowledging the skip = %d, %d", n, b)
	}
}

func TestFull(t *testing.T) {
	j, _ := open(t, t.TempDir(), Options{MaxBytes: 3 * (hdrLen + 10)})
	ctx := context.Background()
	rec := []byte("0123456789")
	for i := range 3 {
		if err := j.Append(ctx, rec); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if err := j.Append(ctx, rec); !errors.Is(err, ErrFull) {
		t.Fatalf("append over MaxBytes: %v, want ErrFull", err)
	}
	recs := j.Read(1)
	j.Ack(recs[0].Pos)
	if err := j.Append(ctx, rec); err != nil {
		t.Errorf("append after an Ack freed room: %v", err)
	}
	if err := j.Append(ctx, make([]byte, MaxRecord+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized record: %v, want ErrTooLarge", err)
	}
}

func TestForeignFileLeftAlone(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "0000000000000007.jnl")
	if err := os.WriteFile(foreign, []byte("not a journal at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A segment cut short while being created holds nothing: removed.
	if err := os.WriteFile(filepath.Join(dir, "0000000000000003.jnl"), []byte("mwj"), 0o600); err != nil {
		t.Fatal(err)
	}
	j, lb := open(t, dir, Options{})
	appendAll(t, j, "x")
	if !strings.Contains(lb.String(), "not a journal segment") {
		t.Errorf("foreign file not logged:\n%s", lb.String())
	}
	segs := segments(t, dir)
	if _, ok := segs["0000000000000007.jnl"]; !ok {
		t.Error("foreign file removed")
	}
	if _, ok := segs["0000000000000003.jnl"]; ok {
		t.Error("empty cut-short segment kept")
	}
	if _, ok := segs["0000000000000008.jnl"]; !ok {
		t.Errorf("appends do not go to a segment after the foreign one: %v", segs)
	}
}

// TestConcurrentAppends: appends from many goroutines, read and
// acknowledged as they come, arrive exactly once, each goroutine's in its
// order.
func TestConcurrentAppends(t *testing.T) {
	j, _ := open(t, t.TempDir(), Options{SegmentBytes: 4096})
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := j.Append(context.Background(), fmt.Appendf(nil, "%d %d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	next := make([]int, writers)
	got := 0
	for got < writers*each {
		ch := j.Notify()
		recs := j.Read(50)
		if len(recs) == 0 {
			<-ch
			continue
		}
		for _, r := range recs {
			var w, i int
			if _, err := fmt.Sscanf(string(r.Data), "%d %d", &w, &i); err != nil {
				t.Fatalf("record %q: %v", r.Data, err)
			}
			if i != next[w] {
				t.Fatalf("writer %d: record %d after %d", w, i, next[w]-1)
			}
			next[w]++
			got++
		}
		j.Ack(recs[len(recs)-1].Pos)
	}
	wg.Wait()
	if n, _ := j.Pending(); n != 0 {
		t.Errorf("%d records pending after all were acknowledged", n)
	}
}

func FuzzScan(f *testing.F) {
	f.Add(AppendRecord(AppendRecord(nil, []byte("hello")), []byte("")))
	f.Add(append(AppendRecord(nil, []byte("x")), 1, 0, 0, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var payloads [][]byte
		valid, n, damage := Scan(bytes.NewReader(b), func(p []byte) { payloads = append(payloads, bytes.Clone(p)) })
		if valid > int64(len(b)) || n != len(payloads) {
			t.Fatalf("valid %d of %d bytes, n %d with %d payloads", valid, len(b), n, len(payloads))
		}
		if (damage == nil) != (valid == int64(len(b))) {
			t.Fatalf("damage %v with %d of %d bytes valid", damage, valid, len(b))
		}
		// The valid prefix is exactly the re-encoding of what was read.
		var re []byte
		for _, p := range payloads {
			re = AppendRecord(re, p)
		}
		if !bytes.Equal(re, b[:valid]) {
			t.Fatalf("re-encoding differs from the valid prefix")
		}
	})
}

// BenchmarkAppend measures an Append (write + fsync, shared by the
// appends waiting at the time) from 1 and from 16 concurrent sessions.
func BenchmarkAppend(b *testing.B) {
	rec := bytes.Repeat([]byte("x"), 700) // about one tracking row
	for _, par := range []int{1, 16} {
		b.Run(fmt.Sprint("sessions=", par), func(b *testing.B) {
			j, _ := open(b, b.TempDir(), Options{})
			stop := make(chan struct{})
			go func() { // a consumer keeps the journal small
				for {
					ch := j.Notify()
					if recs := j.Read(256); len(recs) > 0 {
						j.Ack(recs[len(recs)-1].Pos)
						continue
					}
					select {
					case <-ch:
					case <-stop:
						return
					}
				}
			}()
			defer close(stop)
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := j.Append(context.Background(), rec); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
