package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// RunCounters tests sliding-window counters.
func RunCounters(t *testing.T, open func(t *testing.T) store.Counters) {
	tests := []struct {
		name string
		f    func(t *testing.T, c store.Counters)
	}{
		{"Basics", testCounterBasics},
		{"Window", testCounterWindow},
		{"Slide", testCounterSlide},
		{"Invalid", testCounterInvalid},
		{"Now", testCounterNow},
		{"Concurrent", testCounterConcurrent},
		{"Reset", testCounterReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

func incr(t *testing.T, c store.Counters, key string, window time.Duration, n int64, at time.Time) int64 {
	t.Helper()
	got, err := c.Incr(ctx, key, window, n, at)
	if err != nil {
		t.Fatalf("Incr(%q, %v, %d, %v): %v", key, window, n, at, err)
	}
	return got
}

func count(t *testing.T, c store.Counters, key string, window time.Duration, at time.Time) int64 {
	t.Helper()
	got, err := c.Count(ctx, key, window, at)
	if err != nil {
		t.Fatalf("Count(%q, %v, %v): %v", key, window, at, err)
	}
	return got
}

func testCounterBasics(t *testing.T, c store.Counters) {
	const h = time.Hour
	long := strings.Repeat("k", store.MaxKeyLen)
	steps := []struct {
		key    string
		window time.Duration
		n      int64
		want   int64
	}{
		{"ip:192.0.2.1", h, 1, 1},
		{"ip:192.0.2.1", h, 1, 2},
		{"ip:192.0.2.1", h, 5, 7},
		{"ip:192.0.2.1", h, 0, 7}, // adds nothing, still counts
		{"ip:192.0.2.2", h, 1, 1}, // another key
		{"IP:192.0.2.1", h, 1, 1}, // keys are exact
		{"ip:192.0.2.1", time.Minute, 1, 1},
		{"ip:192.0.2.1", h, 1, 8}, // unaffected by the minute counter
		{long, h, 3, 3},
		{"ünïcode\x00key", h, 2, 2},
	}
	for i, s := range steps {
		if got := incr(t, c, s.key, s.window, s.n, base); got != s.want {
			t.Errorf("step %d: Incr(%.20q, %v, %d) = %d, want %d", i, s.key, s.window, s.n, got, s.want)
		}
	}
	for _, tc := range []struct {
		key    string
		window time.Duration
		want   int64
	}{
		{"ip:192.0.2.1", h, 8},
		{"ip:192.0.2.1", time.Minute, 1},
		{"ip:192.0.2.1", 2 * h, 0}, // a window never incremented
		{"never", h, 0},
		{long, h, 3},
	} {
		if got := count(t, c, tc.key, tc.window, base); got != tc.want {
			t.Errorf("Count(%.20q, %v) = %d, want %d", tc.key, tc.window, got, tc.want)
		}
	}
}

// testCounterWindow checks the documented bounds: an increment counts for
// the whole window after it, and not once it is more than window +
// window/8 old (the contract allows up to a sixteenth, plus rounding).
func testCounterWindow(t *testing.T, c store.Counters) {
	for _, w := range []time.Duration{16 * time.Second, time.Hour, 90 * time.Second, 7 * time.Millisecond} {
		key := fmt.Sprint("w", w)
		t0 := base.Add(3 * time.Millisecond) // not on a bucket boundary
		incr(t, c, key, w, 1, t0)
		for _, tc := range []struct {
			at   time.Time
			want int64
		}{
			{t0, 1},
			{t0.Add(w / 2), 1},
			{t0.Add(w - time.Microsecond), 1},
			{t0.Add(w + w/8 + time.Microsecond), 0},
			{t0.Add(10 * w), 0},
		} {
			if got := count(t, c, key, w, tc.at); got != tc.want {
				t.Errorf("window %v: Count at t0+%v = %d, want %d", w, tc.at.Sub(t0), got, tc.want)
			}
		}
		// The increment returned counts what the window ending at at
		// holds: the old one has left it.
		if got := incr(t, c, key, w, 1, t0.Add(2*w)); got != 1 {
			t.Errorf("window %v: Incr two windows later = %d, want 1", w, got)
		}
	}
}

// testCounterSlide steps through time one sixteenth of the window at a
// time: the count holds the increments of the last window, at most those of
// one step more.
func testCounterSlide(t *testing.T, c store.Counters) {
	const w = 16 * time.Second
	step := w / 16
	for i := range 60 {
		at := base.Add(time.Duration(i) * step)
		got := incr(t, c, "slide", w, 1, at)
		lo, hi := int64(min(i+1, 16)), int64(min(i+1, 17))
		if got < lo || got > hi {
			t.Errorf("step %d: count %d, want %d to %d", i, got, lo, hi)
		}
	}
	// Increments at t0, t0+5s and t0+10s; just under a window after the
	// last, only it counts: the others are over window + window/8 old.
	t0 := base.Add(time.Hour)
	for _, d := range []time.Duration{0, 5 * time.Second, 10 * time.Second} {
		incr(t, c, "three", w, 1, t0.Add(d))
	}
	if got := count(t, c, "three", w, t0.Add(15*time.Second)); got != 3 {
		t.Errorf("all three in the window: %d", got)
	}
	if got := count(t, c, "three", w, t0.Add(10*time.Second+w-time.Microsecond)); got != 1 {
		t.Errorf("one left in the window: %d", got)
	}
}

func testCounterInvalid(t *testing.T, c store.Counters) {
	long := strings.Repeat("k", store.MaxKeyLen+1)
	for _, tc := range []struct {
		name   string
		key    string
		window time.Duration
		n      int64
	}{
		{"zero window", "k", 0, 1},
		{"negative window", "k", -time.Second, 1},
		{"negative n", "k", time.Second, -1},
		{"empty key", "", time.Second, 1},
		{"long key", long, time.Second, 1},
	} {
		if _, err := c.Incr(ctx, tc.key, tc.window, tc.n, base); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Incr %s: %v, want ErrInvalid", tc.name, err)
		}
		if tc.n >= 0 {
			if _, err := c.Count(ctx, tc.key, tc.window, base); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("Count %s: %v, want ErrInvalid", tc.name, err)
			}
		}
	}
	if got := count(t, c, "k", time.Second, base); got != 0 {
		t.Errorf("a refused Incr counted: %d", got)
	}
}

func testCounterNow(t *testing.T, c store.Counters) {
	incr(t, c, "now", time.Hour, 2, time.Time{})
	if got := count(t, c, "now", time.Hour, time.Now()); got != 2 {
		t.Errorf("Count now = %d, want the 2 added at a zero (now) time", got)
	}
	if got := count(t, c, "now", time.Hour, time.Time{}); got != 2 {
		t.Errorf("Count at zero time = %d, want 2", got)
	}
	if got := count(t, c, "now", time.Hour, time.Now().Add(2*time.Hour)); got != 0 {
		t.Errorf("Count two hours on = %d, want 0", got)
	}
}

// testCounterConcurrent: concurrent increments are atomic; each sees its
// own count.
func testCounterConcurrent(t *testing.T, c store.Counters) {
	const workers, each = 8, 25
	var (
		mu  sync.Mutex
		got []int64
	)
	parallel(workers, func(int) {
		for range each {
			n, err := c.Incr(ctx, "hot", time.Minute, 1, base)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		}
	})
	slices.Sort(got)
	for i, n := range got {
		if n != int64(i+1) {
			t.Fatalf("counts returned %v…, want each of 1 to %d once", got[:min(len(got), i+3)], workers*each)
		}
	}
	if n := count(t, c, "hot", time.Minute, base); n != workers*each {
		t.Errorf("Count = %d, want %d", n, workers*each)
	}
}

// testCounterReset: a reset forgets every window of its key, and only of
// its key; counting starts again from zero.
func testCounterReset(t *testing.T, c store.Counters) {
	incr(t, c, "profiler.spam:192.0.2.1", time.Hour, 5, base)
	incr(t, c, "profiler.spam:192.0.2.1", time.Minute, 2, base)
	incr(t, c, "profiler.spam:192.0.2.2", time.Hour, 3, base)
	if err := c.ResetCounter(ctx, "profiler.spam:192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key    string
		window time.Duration
		want   int64
	}{
		{"profiler.spam:192.0.2.1", time.Hour, 0},
		{"profiler.spam:192.0.2.1", time.Minute, 0},
		{"profiler.spam:192.0.2.2", time.Hour, 3},
	} {
		if got := count(t, c, tc.key, tc.window, base); got != tc.want {
			t.Errorf("after reset: Count(%s, %v) = %d, want %d", tc.key, tc.window, got, tc.want)
		}
	}
	if got := incr(t, c, "profiler.spam:192.0.2.1", time.Hour, 1, base); got != 1 {
		t.Errorf("Incr after reset = %d, want 1", got)
	}
	if err := c.ResetCounter(ctx, "never"); err != nil {
		t.Errorf("resetting a key never counted: %v", err)
	}
	if err := c.ResetCounter(ctx, ""); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ResetCounter with an empty key: %v, want ErrInvalid", err)
	}
}

// RunEntries tests entries with a TTL.
func RunEntries(t *testing.T, open func(t *testing.T) store.Entries) {
	tests := []struct {
		name string
		f    func(t *testing.T, e store.Entries)
	}{
		{"SetGet", testEntrySetGet},
		{"Expiry", testEntryExpiry},
		{"Add", testEntryAdd},
		{"Delete", testEntryDelete},
		{"Invalid", testEntryInvalid},
		{"Now", testEntryNow},
		{"ConcurrentAdd", testEntryConcurrentAdd},
		{"List", testEntryList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

func getEntry(t *testing.T, s store.Entries, ns, key string, at time.Time) (store.Entry, bool) {
	t.Helper()
	e, err := s.GetEntry(ctx, ns, key, at)
	if errors.Is(err, store.ErrNotFound) {
		return e, false
	}
	if err != nil {
		t.Fatalf("GetEntry(%s, %s): %v", ns, key, err)
	}
	return e, true
}

func setEntry(t *testing.T, s store.Entries, ns, key string, value []byte, ttl time.Duration, at time.Time) {
	t.Helper()
	if err := s.SetEntry(ctx, ns, key, value, ttl, at); err != nil {
		t.Fatalf("SetEntry(%s, %s): %v", ns, key, err)
	}
}

func diffStored(e store.Entry, value []byte, stored time.Time, ttl time.Duration) string {
	if !bytes.Equal(e.Value, value) || e.Value == nil || !sameTime(e.Stored, stored) || !sameTime(e.Expires, stored.Add(ttl)) {
		return fmt.Sprintf("entry %q (nil %t) stored %v expires %v; want %q stored %v expires %v",
			e.Value, e.Value == nil, e.Stored, e.Expires, value, stored, stored.Add(ttl))
	}
	return ""
}

func testEntrySetGet(t *testing.T, s store.Entries) {
	big := bytes.Repeat([]byte{0, 0xff, 'x'}, store.MaxValueLen/3)
	cases := []struct {
		ns, key string
		value   []byte
	}{
		{"grey", "192.0.2.1/a@example.com/b@example.net", []byte("first")},
		{"grey", "other", []byte{0, 1, 2, 0xfe, 0xff}},
		{"throttle.block", "192.0.2.1/a@example.com/b@example.net", []byte("another namespace")},
		{"empty", "nil", nil},
		{"empty", "empty", []byte{}},
		{"big", "k", big},
		{strings.Repeat("n", store.MaxKeyLen), strings.Repeat("k", store.MaxKeyLen), []byte("long names")},
	}
	for _, c := range cases {
		setEntry(t, s, c.ns, c.key, c.value, time.Hour, base)
	}
	for _, c := range cases {
		e, ok := getEntry(t, s, c.ns, c.key, base)
		want := c.value
		if want == nil {
			want = []byte{}
		}
		if !ok {
			t.Errorf("%.20s/%.20s: not found", c.ns, c.key)
		} else if d := diffStored(e, want, base, time.Hour); d != "" {
			t.Errorf("%.20s/%.20s: %s", c.ns, c.key, d)
		}
	}
	// Set replaces value and times.
	later := base.Add(10 * time.Minute)
	setEntry(t, s, "grey", "other", []byte("second"), 2*time.Hour, later)
	if e, ok := getEntry(t, s, "grey", "other", later); !ok {
		t.Error("replaced entry not found")
	} else if d := diffStored(e, []byte("second"), later, 2*time.Hour); d != "" {
		t.Errorf("replaced: %s", d)
	}
	// A set shorter than the live one's expiry shortens it.
	setEntry(t, s, "grey", "other", []byte("third"), time.Minute, later)
	if _, ok := getEntry(t, s, "grey", "other", later.Add(time.Minute)); ok {
		t.Error("entry set for a minute still there a minute on")
	}
	if _, ok := getEntry(t, s, "grey", "missing", base); ok {
		t.Error("a missing entry found")
	}
}

func testEntryExpiry(t *testing.T, s store.Entries) {
	setEntry(t, s, "ns", "k", []byte("v"), time.Minute, base)
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{base.Add(-time.Hour), true}, // before it was stored: still the entry there
		{base, true},
		{base.Add(time.Minute - time.Microsecond), true},
		{base.Add(time.Minute), false}, // gone at Expires
		{base.Add(time.Hour), false},
	} {
		if _, ok := getEntry(t, s, "ns", "k", tc.at); ok != tc.want {
			t.Errorf("Get at base+%v: found %t, want %t", tc.at.Sub(base), ok, tc.want)
		}
	}
}

func testEntryAdd(t *testing.T, s store.Entries) {
	add := func(value string, ttl time.Duration, at time.Time) (store.Entry, bool) {
		t.Helper()
		e, added, err := s.AddEntry(ctx, "grey", "triplet", []byte(value), ttl, at)
		if err != nil {
			t.Fatalf("AddEntry: %v", err)
		}
		return e, added
	}
	e, added := add("first", time.Hour, base)
	if !added || diffStored(e, []byte("first"), base, time.Hour) != "" {
		t.Errorf("first add: added %t, %s", added, diffStored(e, []byte("first"), base, time.Hour))
	}
	// A live entry stays; the call returns it.
	e, added = add("second", 5*time.Hour, base.Add(30*time.Minute))
	if added || diffStored(e, []byte("first"), base, time.Hour) != "" {
		t.Errorf("add over a live entry: added %t, %s", added, diffStored(e, []byte("first"), base, time.Hour))
	}
	if got, _ := getEntry(t, s, "grey", "triplet", base.Add(30*time.Minute)); string(got.Value) != "first" {
		t.Errorf("live entry changed to %q", got.Value)
	}
	// An expired one is replaced.
	at := base.Add(time.Hour)
	e, added = add("third", time.Hour, at)
	if !added || diffStored(e, []byte("third"), at, time.Hour) != "" {
		t.Errorf("add over an expired entry: added %t, %s", added, diffStored(e, []byte("third"), at, time.Hour))
	}
	// Add after Set sees the set entry.
	setEntry(t, s, "grey", "triplet", []byte("set"), time.Hour, at)
	if e, added = add("fourth", time.Hour, at); added || string(e.Value) != "set" {
		t.Errorf("add over a set entry: added %t, value %q", added, e.Value)
	}
	// An empty value.
	e, added, err := s.AddEntry(ctx, "grey", "nil", nil, time.Hour, base)
	if err != nil || !added || e.Value == nil || len(e.Value) != 0 {
		t.Errorf("add nil value: %q (nil %t), added %t, %v", e.Value, e.Value == nil, added, err)
	}
}

func testEntryDelete(t *testing.T, s store.Entries) {
	setEntry(t, s, "ns", "a", []byte("a"), time.Hour, base)
	setEntry(t, s, "ns", "b", []byte("b"), time.Hour, base)
	setEntry(t, s, "other", "a", []byte("a"), time.Hour, base)
	if err := s.DeleteEntry(ctx, "ns", "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok := getEntry(t, s, "ns", "a", base); ok {
		t.Error("deleted entry found")
	}
	if _, ok := getEntry(t, s, "ns", "b", base); !ok {
		t.Error("another key deleted")
	}
	if _, ok := getEntry(t, s, "other", "a", base); !ok {
		t.Error("another namespace's entry deleted")
	}
	if err := s.DeleteEntry(ctx, "ns", "a"); err != nil {
		t.Errorf("deleting an absent entry: %v", err)
	}
	// A deleted entry can be added again.
	if _, added, err := s.AddEntry(ctx, "ns", "a", []byte("again"), time.Hour, base); err != nil || !added {
		t.Errorf("add after delete: added %t, %v", added, err)
	}
}

func testEntryInvalid(t *testing.T, s store.Entries) {
	long := strings.Repeat("k", store.MaxKeyLen+1)
	for _, tc := range []struct {
		name, ns, key string
		value         []byte
		ttl           time.Duration
	}{
		{"zero ttl", "ns", "k", nil, 0},
		{"negative ttl", "ns", "k", nil, -time.Second},
		{"empty ns", "", "k", nil, time.Second},
		{"empty key", "ns", "", nil, time.Second},
		{"long ns", long, "k", nil, time.Second},
		{"long key", "ns", long, nil, time.Second},
		{"large value", "ns", "k", make([]byte, store.MaxValueLen+1), time.Second},
	} {
		if err := s.SetEntry(ctx, tc.ns, tc.key, tc.value, tc.ttl, base); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("SetEntry %s: %v, want ErrInvalid", tc.name, err)
		}
		if _, _, err := s.AddEntry(ctx, tc.ns, tc.key, tc.value, tc.ttl, base); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AddEntry %s: %v, want ErrInvalid", tc.name, err)
		}
	}
	if _, err := s.GetEntry(ctx, "", "k", base); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("GetEntry with an empty namespace: %v, want ErrInvalid", err)
	}
	if err := s.DeleteEntry(ctx, "ns", long); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("DeleteEntry with a long key: %v, want ErrInvalid", err)
	}
	if _, ok := getEntry(t, s, "ns", "k", base); ok {
		t.Error("a refused entry was stored")
	}
}

func testEntryNow(t *testing.T, s store.Entries) {
	before := time.Now()
	setEntry(t, s, "ns", "k", []byte("v"), time.Hour, time.Time{})
	e, ok := getEntry(t, s, "ns", "k", time.Time{})
	if !ok || !aboutNow(e.Stored, before) || !e.Expires.Equal(e.Stored.Add(time.Hour)) {
		t.Errorf("entry set now: found %t, stored %v, expires %v", ok, e.Stored, e.Expires)
	}
	if _, ok := getEntry(t, s, "ns", "k", time.Now().Add(2*time.Hour)); ok {
		t.Error("entry set now for an hour still there two hours on")
	}
}

// testEntryConcurrentAdd: of concurrent adds of one absent entry, exactly
// one stores it and all see its value.
func testEntryConcurrentAdd(t *testing.T, s store.Entries) {
	const workers = 8
	var (
		mu     sync.Mutex
		added  int
		values = map[string]int{}
	)
	parallel(workers, func(i int) {
		e, ok, err := s.AddEntry(ctx, "grey", "race", []byte(fmt.Sprint(i)), time.Hour, base)
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if ok {
			added++
		}
		values[string(e.Value)]++
	})
	if added != 1 || len(values) != 1 {
		t.Errorf("%d adds stored the entry, values seen %v; want exactly one, and one value", added, values)
	}
}

// testEntryList: a namespace's live entries by key, page by page; expired
// entries and other namespaces are left out.
func testEntryList(t *testing.T, s store.Entries) {
	for _, k := range []string{"192.0.2.9", "192.0.2.10", "2001:db8::/64", "192.0.2.1"} {
		setEntry(t, s, "profiler.block", k, []byte("v"+k), time.Hour, base)
	}
	setEntry(t, s, "profiler.block", "192.0.2.5", []byte("short"), time.Minute, base)
	setEntry(t, s, "profiler.blocks", "192.0.2.2", []byte("other ns"), time.Hour, base)
	setEntry(t, s, "other", "192.0.2.3", []byte("other ns"), time.Hour, base)
	list := func(after string, limit int, at time.Time) string {
		t.Helper()
		es, err := s.ListEntries(ctx, "profiler.block", after, limit, at)
		if err != nil {
			t.Fatalf("ListEntries(%q, %d): %v", after, limit, err)
		}
		var keys []string
		for _, e := range es {
			if string(e.Value) != "v"+e.Key && e.Key != "192.0.2.5" {
				t.Errorf("%s: value %q", e.Key, e.Value)
			}
			if e.Key == "192.0.2.1" && !(sameTime(e.Stored, base) && sameTime(e.Expires, base.Add(time.Hour))) {
				t.Errorf("%s: stored %v expires %v", e.Key, e.Stored, e.Expires)
			}
			keys = append(keys, e.Key)
		}
		return strings.Join(keys, " ")
	}
	for _, tc := range []struct {
		after string
		limit int
		at    time.Time
		want  string
	}{
		{"", 10, base, "192.0.2.1 192.0.2.10 192.0.2.5 192.0.2.9 2001:db8::/64"},
		{"", 10, base.Add(2 * time.Minute), "192.0.2.1 192.0.2.10 192.0.2.9 2001:db8::/64"},
		{"", 2, base, "192.0.2.1 192.0.2.10"},
		{"192.0.2.10", 2, base, "192.0.2.5 192.0.2.9"},
		{"192.0.2.9", 2, base, "2001:db8::/64"},
		{"2001:db8::/64", 2, base, ""},
		{"", 10, base.Add(time.Hour), ""},
	} {
		if got := list(tc.after, tc.limit, tc.at); got != tc.want {
			t.Errorf("ListEntries(after %q, limit %d, at base+%v) = %q, want %q", tc.after, tc.limit, tc.at.Sub(base), got, tc.want)
		}
	}
	if es, err := s.ListEntries(ctx, "empty", "", 10, base); err != nil || len(es) != 0 {
		t.Errorf("an empty namespace: %v, %v", es, err)
	}
	for _, limit := range []int{0, -1} {
		if _, err := s.ListEntries(ctx, "profiler.block", "", limit, base); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("limit %d: %v, want ErrInvalid", limit, err)
		}
	}
	if _, err := s.ListEntries(ctx, "", "", 1, base); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty namespace name: %v, want ErrInvalid", err)
	}
}

// RunLists tests named lists and their versions.
func RunLists(t *testing.T, open func(t *testing.T) store.Lists) {
	tests := []struct {
		name string
		f    func(t *testing.T, l store.Lists)
	}{
		{"Versions", testListVersions},
		{"Order", testListOrder},
		{"Invalid", testListInvalid},
		{"Concurrent", testListConcurrent},
		{"Expiry", testListExpiry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

func listItems(t *testing.T, l store.Lists, name string) ([]store.ListItem, int64) {
	t.Helper()
	return listItemsAt(t, l, name, time.Time{})
}

func listItemsAt(t *testing.T, l store.Lists, name string, at time.Time) ([]store.ListItem, int64) {
	t.Helper()
	items, v, err := l.ListItems(ctx, name, at)
	if err != nil {
		t.Fatalf("ListItems(%s): %v", name, err)
	}
	if lv, err := l.ListVersion(ctx, name); err != nil || lv != v {
		t.Fatalf("ListVersion(%s) = %d, %v; ListItems says %d", name, lv, err, v)
	}
	return items, v
}

// itemsString renders items as value=note, with the Added times checked
// against added (value to time; values not in it are checked to be about
// now, since before).
func itemsString(t *testing.T, items []store.ListItem, added map[string]time.Time, before time.Time) string {
	t.Helper()
	var s []string
	for _, it := range items {
		if at, ok := added[it.Value]; ok && !sameTime(it.Added, at) || !ok && !aboutNow(it.Added, before) {
			t.Errorf("%s added %v, want %v (or about now)", it.Value, it.Added, added[it.Value])
		}
		s = append(s, it.Value+"="+it.Note)
	}
	return strings.Join(s, " ")
}

func testListVersions(t *testing.T, l store.Lists) {
	before := time.Now()
	if items, v := listItems(t, l, "block"); items != nil || v != 0 {
		t.Fatalf("a list never written: %v, version %d", items, v)
	}
	if ls, err := l.Lists(ctx, time.Time{}); err != nil || len(ls) != 0 {
		t.Fatalf("Lists of an empty backend: %v, %v", ls, err)
	}
	t1 := base
	added := map[string]time.Time{"192.0.2.0/24": t1}
	put := func(items ...store.ListItem) int64 {
		t.Helper()
		v, err := l.ListPut(ctx, "block", items...)
		if err != nil {
			t.Fatalf("ListPut: %v", err)
		}
		return v
	}
	remove := func(values ...string) int64 {
		t.Helper()
		v, err := l.ListRemove(ctx, "block", values...)
		if err != nil {
			t.Fatalf("ListRemove: %v", err)
		}
		return v
	}
	steps := []struct {
		name  string
		do    func() int64
		want  int64
		items string
	}{
		{"first put", func() int64 {
			return put(store.ListItem{Value: "192.0.2.0/24", Note: "spam run", Added: t1},
				store.ListItem{Value: "2001:db8::/32"})
		}, 1, "192.0.2.0/24=spam run 2001:db8::/32="},
		{"same again", func() int64 { return put(store.ListItem{Value: "192.0.2.0/24", Note: "spam run"}) }, 1,
			"192.0.2.0/24=spam run 2001:db8::/32="},
		{"new note keeps Added", func() int64 {
			return put(store.ListItem{Value: "192.0.2.0/24", Note: "ticket 42", Added: t1.Add(time.Hour)})
		}, 2, "192.0.2.0/24=ticket 42 2001:db8::/32="},
		{"old and new", func() int64 {
			return put(store.ListItem{Value: "2001:db8::/32"}, store.ListItem{Value: "198.51.100.7", Note: "n"})
		}, 3, "192.0.2.0/24=ticket 42 198.51.100.7=n 2001:db8::/32="},
		{"put nothing", func() int64 { return put() }, 3, "192.0.2.0/24=ticket 42 198.51.100.7=n 2001:db8::/32="},
		{"remove absent", func() int64 { return remove("203.0.113.1") }, 3, "192.0.2.0/24=ticket 42 198.51.100.7=n 2001:db8::/32="},
		{"remove one", func() int64 { return remove("198.51.100.7", "203.0.113.1") }, 4, "192.0.2.0/24=ticket 42 2001:db8::/32="},
		{"remove all", func() int64 { return remove("192.0.2.0/24", "2001:db8::/32") }, 5, ""},
		{"remove from empty", func() int64 { return remove("192.0.2.0/24") }, 5, ""},
		{"put into emptied", func() int64 { return put(store.ListItem{Value: "192.0.2.0/24", Note: "back", Added: t1}) }, 6,
			"192.0.2.0/24=back"},
	}
	for _, s := range steps {
		if v := s.do(); v != s.want {
			t.Errorf("%s: version %d, want %d", s.name, v, s.want)
		}
		items, v := listItems(t, l, "block")
		if v != s.want {
			t.Errorf("%s: ListItems version %d, want %d", s.name, v, s.want)
		}
		if got := itemsString(t, items, added, before); got != s.items {
			t.Errorf("%s: items %q, want %q", s.name, got, s.items)
		}
	}
	// Another list is independent; Lists describes both.
	if v, err := l.ListPut(ctx, "allow", store.ListItem{Value: "a@example.com"}, store.ListItem{Value: "b@example.com"}); err != nil || v != 1 {
		t.Fatalf("ListPut allow: %d, %v", v, err)
	}
	if v, err := l.ListRemove(ctx, "never-written", "x"); err != nil || v != 0 {
		t.Errorf("ListRemove from a list never written: %d, %v; want 0", v, err)
	}
	ls, err := l.Lists(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ListInfo{{Name: "allow", Version: 1, Items: 2}, {Name: "block", Version: 6, Items: 1}}
	if !slices.Equal(ls, want) {
		t.Errorf("Lists = %+v, want %+v", ls, want)
	}
}

// testListOrder: values are exact and ordered byte by byte.
func testListOrder(t *testing.T, l store.Lists) {
	var items []store.ListItem
	for _, v := range []string{"é", "b", "a", "B", "A", "a ", "10", "9", "a\x00"} {
		items = append(items, store.ListItem{Value: v, Added: base})
	}
	if v, err := l.ListPut(ctx, "order", items...); err != nil || v != 1 {
		t.Fatalf("ListPut: %d, %v", v, err)
	}
	got, _ := listItems(t, l, "order")
	var values []string
	for _, it := range got {
		values = append(values, it.Value)
	}
	if want := []string{"10", "9", "A", "B", "a", "a\x00", "a ", "b", "é"}; !slices.Equal(values, want) {
		t.Errorf("values %q, want %q", values, want)
	}
}

func testListInvalid(t *testing.T, l store.Lists) {
	long := strings.Repeat("x", store.MaxKeyLen+1)
	for _, tc := range []struct {
		name, list string
		item       store.ListItem
	}{
		{"empty name", "", store.ListItem{Value: "v"}},
		{"long name", long, store.ListItem{Value: "v"}},
		{"empty value", "l", store.ListItem{Value: ""}},
		{"long value", "l", store.ListItem{Value: long}},
		{"long note", "l", store.ListItem{Value: "v", Note: long}},
	} {
		// A refused item refuses the whole call.
		if _, err := l.ListPut(ctx, tc.list, store.ListItem{Value: "ok"}, tc.item); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ListPut %s: %v, want ErrInvalid", tc.name, err)
		}
	}
	if _, err := l.ListRemove(ctx, "", "v"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ListRemove with an empty name: %v, want ErrInvalid", err)
	}
	if _, _, err := l.ListItems(ctx, "", time.Time{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ListItems with an empty name: %v, want ErrInvalid", err)
	}
	if _, err := l.ListVersion(ctx, long); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ListVersion with a long name: %v, want ErrInvalid", err)
	}
	if items, v := listItems(t, l, "l"); items != nil || v != 0 {
		t.Errorf("refused puts changed the list: %v, version %d", items, v)
	}
}

// testListConcurrent: concurrent edits each move the version once.
func testListConcurrent(t *testing.T, l store.Lists) {
	const workers = 8
	versions := make([]int64, workers)
	parallel(workers, func(i int) {
		v, err := l.ListPut(ctx, "busy", store.ListItem{Value: fmt.Sprint("v", i)})
		if err != nil {
			t.Error(err)
		}
		versions[i] = v
	})
	slices.Sort(versions)
	for i, v := range versions {
		if v != int64(i+1) {
			t.Fatalf("versions returned %v, want 1 to %d", versions, workers)
		}
	}
	if items, v := listItems(t, l, "busy"); len(items) != workers || v != workers {
		t.Errorf("%d items at version %d, want %d at %d", len(items), v, workers, workers)
	}
}

// testListExpiry: an item with an expiry is read until then, with it; its
// expiry moves the version when it is changed, not when it passes; a value
// put again after it expired is new; PruneState deletes expired items
// without moving the version.
func testListExpiry(t *testing.T, l store.Lists) {
	h := func(n int) time.Time { return base.Add(time.Duration(n) * time.Hour) }
	put := func(items ...store.ListItem) int64 {
		t.Helper()
		v, err := l.ListPut(ctx, "tmp", items...)
		if err != nil {
			t.Fatalf("ListPut: %v", err)
		}
		return v
	}
	// render shows the items live at at as value=note[added,expires] in
	// hours from base.
	render := func(at time.Time) string {
		t.Helper()
		items, _ := listItemsAt(t, l, "tmp", at)
		var s []string
		for _, it := range items {
			if it.Added.Location() != time.UTC || !it.Expires.IsZero() && it.Expires.Location() != time.UTC {
				t.Errorf("%s: times not in UTC: %v, %v", it.Value, it.Added, it.Expires)
			}
			x := "never"
			if !it.Expires.IsZero() {
				x = fmt.Sprint(it.Expires.Sub(base))
			}
			s = append(s, fmt.Sprintf("%s=%s[%v,%s]", it.Value, it.Note, it.Added.Sub(base), x))
		}
		return strings.Join(s, " ")
	}
	steps := []struct {
		name string
		do   func() int64
		want int64
		at   time.Time
		// the items live at at
		items string
	}{
		{"put", func() int64 {
			return put(store.ListItem{Value: "a", Note: "n", Added: base, Expires: h(1)},
				store.ListItem{Value: "b", Added: base},
				store.ListItem{Value: "c", Added: base, Expires: base})
		}, 1, base, "a=n[0s,1h0m0s] b=[0s,never]"},
		{"before the expiry", nil, 1, h(1).Add(-time.Microsecond), "a=n[0s,1h0m0s] b=[0s,never]"},
		{"at the expiry", nil, 1, h(1), "b=[0s,never]"},
		{"now", nil, 1, time.Time{}, "b=[0s,never]"},
		{"the same again", func() int64 {
			return put(store.ListItem{Value: "a", Note: "n", Added: base.Add(time.Minute), Expires: h(1)})
		}, 1, base, "a=n[0s,1h0m0s] b=[0s,never]"},
		{"a later expiry keeps Added", func() int64 {
			return put(store.ListItem{Value: "a", Note: "n", Added: base.Add(time.Minute), Expires: h(2)})
		}, 2, h(1), "a=n[0s,2h0m0s] b=[0s,never]"},
		{"no expiry", func() int64 { return put(store.ListItem{Value: "a", Note: "n", Added: base.Add(time.Minute)}) }, 3,
			h(9), "a=n[0s,never] b=[0s,never]"},
		{"an expiry again", func() int64 {
			return put(store.ListItem{Value: "a", Note: "n", Added: base.Add(time.Minute), Expires: h(2)})
		}, 4, h(1), "a=n[0s,2h0m0s] b=[0s,never]"},
		{"put again after it expired is new", func() int64 {
			return put(store.ListItem{Value: "c", Note: "back", Added: h(3), Expires: h(5)})
		}, 5, h(3), "b=[0s,never] c=back[3h0m0s,5h0m0s]"},
	}
	for _, s := range steps {
		v := int64(-1)
		if s.do != nil {
			v = s.do()
		}
		if lv, err := l.ListVersion(ctx, "tmp"); err != nil || lv != s.want || s.do != nil && v != s.want {
			t.Errorf("%s: version %d (returned %d), %v; want %d", s.name, lv, v, err, s.want)
		}
		if got := render(s.at); got != s.items {
			t.Errorf("%s: items at %v\n%s\nwant\n%s", s.name, s.at.Sub(base), got, s.items)
		}
	}
	for _, tc := range []struct {
		at   time.Time
		want int
	}{{base, 3}, {h(3), 2}, {h(5), 1}} {
		ls, err := l.Lists(ctx, tc.at)
		if err != nil || len(ls) != 1 || ls[0].Items != tc.want || ls[0].Version != 5 {
			t.Errorf("Lists at %v = %+v, %v; want %d items at version 5", tc.at.Sub(base), ls, err, tc.want)
		}
	}
	// The removal of an expired item not yet pruned moves the version.
	if v, err := l.ListRemove(ctx, "tmp", "a"); err != nil || v != 6 {
		t.Errorf("ListRemove of an expired item: %d, %v; want 6", v, err)
	}
}

// testPruneState: pruning removes what has expired and nothing a read can
// still see.
func testPruneState(t *testing.T, s store.State) {
	const w = 16 * time.Second
	for i := range 40 {
		incr(t, s, "c", w, 1, base.Add(time.Duration(i)*time.Second))
	}
	incr(t, s, "idle", w, 1, base)
	setEntry(t, s, "ns", "short", []byte("s"), time.Minute, base)
	setEntry(t, s, "ns", "long", []byte("l"), time.Hour, base)
	if _, err := s.ListPut(ctx, "keep", store.ListItem{Value: "v"}, store.ListItem{Value: "later", Expires: base.Add(time.Hour)},
		store.ListItem{Value: "gone", Added: base, Expires: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	at := base.Add(2 * time.Minute)
	beforeC := count(t, s, "c", w, base.Add(39*time.Second))
	n, err := s.PruneState(ctx, at)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("PruneState deleted nothing, want the expired entry and counter buckets")
	}
	if _, ok := getEntry(t, s, "ns", "short", base); ok {
		t.Error("expired entry still readable at its own time after a prune")
	}
	if _, ok := getEntry(t, s, "ns", "long", at); !ok {
		t.Error("live entry pruned")
	}
	if got := count(t, s, "c", w, base.Add(39*time.Second)); beforeC == 0 || got != 0 {
		t.Errorf("count in a window before the prune time: %d before the prune, %d after; want it pruned to 0", beforeC, got)
	}
	// The expired list item is gone, even for a read before its expiry;
	// the live ones stay, and the version with them.
	if items, v := listItemsAt(t, s, "keep", base); len(items) != 2 || items[0].Value != "later" || items[1].Value != "v" || v != 1 {
		t.Errorf("list after a prune: %v, version %d; want later and v at version 1", items, v)
	}
	if n, err := s.PruneState(ctx, at); err != nil || n != 0 {
		t.Errorf("second prune: %d, %v; want 0", n, err)
	}
	// Counts of windows reaching the prune time are kept whole.
	for i := range 20 {
		incr(t, s, "live", w, 1, at.Add(time.Duration(i)*time.Second))
	}
	end := at.Add(19 * time.Second)
	want := count(t, s, "live", w, end)
	if _, err := s.PruneState(ctx, end); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, "live", w, end); got != want {
		t.Errorf("live count %d after prune, want %d", got, want)
	}
}
