package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/store"
)

// RunQuarantine tests the quarantine. [store.ErrCorrupt] is left to each
// backend's own tests: provoking it takes writing behind the interface.
func RunQuarantine(t *testing.T, open func(t *testing.T) store.Quarantine) {
	tests := []struct {
		name string
		f    func(t *testing.T, q store.Quarantine)
	}{
		{"AddGet", testQuarantineAddGet},
		{"Defaults", testQuarantineDefaults},
		{"NotFound", testQuarantineNotFound},
		{"MarkReleasedNow", testMarkReleasedNow},
		{"Delete", testQuarantineDelete},
		{"List", testListQuarantine},
		{"ResolveID", testResolveQuarantineID},
		{"Concurrent", testQuarantineConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
	t.Run("MarkReleased", func(t *testing.T) { testMarkReleased(t, open) })
}

// rawMessage has CR LF line ends, 8-bit bytes that are not UTF-8, an
// ISO-2022-JP escape sequence, a NUL and no final line end: all must come
// back byte for byte.
var rawMessage = []byte("Received: from mx.example.net\r\n" +
	"Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\n" +
	"\r\n" +
	"caf\xe9 \x80\x81\xfe\xff \x1b$B$3$s$K$A$O\x1b(B\r\n" +
	"bare LF\nbare CR\rnul \x00 end\r\n.\r\nno final newline")

var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func addQuarantine(t *testing.T, q store.Quarantine, e *store.QuarantineEntry) string {
	t.Helper()
	id, err := q.AddQuarantine(ctx, e)
	if err != nil {
		t.Fatalf("AddQuarantine: %v", err)
	}
	return id
}

func getQuarantine(t *testing.T, q store.Quarantine, id string) *store.QuarantineEntry {
	t.Helper()
	e, err := q.GetQuarantine(ctx, id)
	if err != nil {
		t.Fatalf("GetQuarantine(%s): %v", id, err)
	}
	return e
}

// diffEntry describes how got differs from want, "" when it does not.
func diffEntry(got, want store.QuarantineEntry) string {
	if !sameTime(got.Time, want.Time) {
		return fmt.Sprintf("Time %v, want %v in UTC", got.Time, want.Time)
	}
	if len(got.Released) != len(want.Released) {
		return fmt.Sprintf("Released %v, want %v", got.Released, want.Released)
	}
	for r, at := range want.Released {
		if !sameTime(got.Released[r], at) {
			return fmt.Sprintf("Released %v, want %v", got.Released, want.Released)
		}
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	got.Released, want.Released = nil, nil
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("\n got %+v\nwant %+v", got, want)
	}
	return ""
}

func testQuarantineAddGet(t *testing.T, q store.Quarantine) {
	in := store.QuarantineEntry{
		Time:       time.Date(2025, 3, 1, 21, 4, 5, 987654000, time.FixedZone("JST", 9*3600)),
		Area:       "virus",
		Rule:       "clamav",
		Reason:     "Eicar-Signature",
		QueueID:    "4XyZ1k2Lmnz",
		ClientIP:   "2001:db8::25",
		ClientName: "mx.example.net",
		Helo:       "helo.example.net",
		Sender:     "Alice@Example.com",
		Recipients: []string{"Bob@Example.net", "carol@example.org"},
		HeaderFrom: "アリス <alice@example.com>",
		Subject:    "【重要】請求書",
		MessageID:  "<abc@example.com>",
		Size:       99999, // as given, not len(Raw)
		Raw:        rawMessage,
	}
	e := in
	id := addQuarantine(t, q, &e)
	sum := sha256.Sum256(rawMessage)
	if !idPattern.MatchString(id) || e.ID != id {
		t.Errorf("ID %q (entry %q), want 32 lower-case hex digits set in the entry", id, e.ID)
	}
	if e.Digest != hex.EncodeToString(sum[:]) {
		t.Errorf("Digest %q, want the hex SHA-256 of Raw", e.Digest)
	}
	got := getQuarantine(t, q, id)
	want := in
	want.ID, want.Digest = id, e.Digest
	if d := diffEntry(*got, want); d != "" {
		t.Errorf("Get: %s", d)
	}
	// Another entry of the same message gets another ID.
	again := in
	if id2 := addQuarantine(t, q, &again); id2 == id {
		t.Errorf("two entries got the one ID %s", id)
	}
}

func testQuarantineDefaults(t *testing.T, q store.Quarantine) {
	before := time.Now()
	e := &store.QuarantineEntry{Raw: []byte("12345")}
	id := addQuarantine(t, q, e)
	if !aboutNow(e.Time, before) || e.Size != 5 {
		t.Errorf("defaults set in the entry: Time %v, Size %d; want about now and 5", e.Time, e.Size)
	}
	got := getQuarantine(t, q, id)
	if d := got.Time.Sub(e.Time); d > time.Microsecond || d < -time.Microsecond || got.Size != 5 {
		t.Errorf("stored Time %v, Size %d; want %v and 5", got.Time, got.Size, e.Time)
	}
	if got.Recipients != nil || got.Released != nil {
		t.Errorf("entry without recipients: Recipients %v, Released %v", got.Recipients, got.Released)
	}
	// An empty message is still a message.
	empty := addQuarantine(t, q, &store.QuarantineEntry{})
	got = getQuarantine(t, q, empty)
	sum := sha256.Sum256(nil)
	if got.Raw == nil || len(got.Raw) != 0 || got.Size != 0 || got.Digest != hex.EncodeToString(sum[:]) {
		t.Errorf("empty message: Raw %q (nil %t), Size %d, Digest %s", got.Raw, got.Raw == nil, got.Size, got.Digest)
	}
}

func testQuarantineNotFound(t *testing.T, q store.Quarantine) {
	id := addQuarantine(t, q, &store.QuarantineEntry{Raw: []byte("x"), Recipients: []string{"a@example.com"}})
	tests := []struct {
		name string
		call func() error
	}{
		{"get missing", func() error { _, err := q.GetQuarantine(ctx, "0123456789abcdef0123456789abcdef"); return err }},
		{"get empty id", func() error { _, err := q.GetQuarantine(ctx, ""); return err }},
		{"get prefix", func() error { _, err := q.GetQuarantine(ctx, id[:8]); return err }},
		{"delete missing", func() error { return q.DeleteQuarantine(ctx, "nope") }},
		{"release missing entry", func() error { return q.MarkReleased(ctx, "nope", nil, base) }},
		{"release unknown recipient", func() error {
			return q.MarkReleased(ctx, id, []string{"a@example.com", "zed@example.com"}, base)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
	// The failed release with one unknown recipient changed nothing.
	if e := getQuarantine(t, q, id); len(e.Released) != 0 {
		t.Errorf("Released = %v after a failed release, want none", e.Released)
	}
}

func testMarkReleased(t *testing.T, open func(t *testing.T) store.Quarantine) {
	t1 := base.Add(24 * time.Hour)
	t2 := t1.Add(time.Hour)
	type release struct {
		rcpts []string
		at    time.Time
	}
	tests := []struct {
		name     string
		releases []release
		want     map[string]time.Time
	}{
		{"none", nil, nil},
		{"one, other case", []release{{[]string{"BOB@example.NET"}, t1}},
			map[string]time.Time{"Bob@Example.net": t1}},
		{"two steps", []release{{[]string{"bob@example.net"}, t1}, {[]string{"carol@example.org"}, t2}},
			map[string]time.Time{"Bob@Example.net": t1, "carol@example.org": t2}},
		{"all", []release{{nil, t2}},
			map[string]time.Time{"Bob@Example.net": t2, "carol@example.org": t2, "dave@example.org": t2}},
		{"again overwrites", []release{{[]string{"carol@example.org"}, t1}, {[]string{"carol@example.org"}, t2}},
			map[string]time.Time{"carol@example.org": t2}},
		{"zone", []release{{[]string{"dave@example.org"}, t1.In(time.FixedZone("X", 3600))}},
			map[string]time.Time{"dave@example.org": t1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := open(t)
			id := addQuarantine(t, q, &store.QuarantineEntry{Raw: []byte("x"),
				Recipients: []string{"Bob@Example.net", "carol@example.org", "dave@example.org"}})
			other := addQuarantine(t, q, &store.QuarantineEntry{Raw: []byte("y"), Recipients: []string{"Bob@Example.net"}})
			for _, r := range tt.releases {
				if err := q.MarkReleased(ctx, id, r.rcpts, r.at); err != nil {
					t.Fatal(err)
				}
			}
			check := func(how string, got map[string]time.Time) {
				t.Helper()
				ok := len(got) == len(tt.want)
				for r, at := range tt.want {
					ok = ok && sameTime(got[r], at)
				}
				if !ok {
					t.Errorf("%s: Released = %v, want %v", how, got, tt.want)
				}
			}
			check("Get", getQuarantine(t, q, id).Released)
			list, err := q.ListQuarantine(ctx, store.QuarantineQuery{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range list {
				switch e.ID {
				case id:
					check("List", e.Released)
				case other:
					if e.Released != nil {
						t.Errorf("other entry Released = %v, want nil", e.Released)
					}
				}
			}
		})
	}
}

func testMarkReleasedNow(t *testing.T, q store.Quarantine) {
	id := addQuarantine(t, q, &store.QuarantineEntry{Raw: []byte("x"), Recipients: []string{"a@example.com"}})
	before := time.Now()
	if err := q.MarkReleased(ctx, id, []string{"a@example.com"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if at, ok := getQuarantine(t, q, id).Released["a@example.com"]; !ok || !aboutNow(at, before) {
		t.Errorf("released at %v (%t), want about now", at, ok)
	}
}

func testQuarantineDelete(t *testing.T, q store.Quarantine) {
	keep := addQuarantine(t, q, &store.QuarantineEntry{Raw: []byte("keep"), Recipients: []string{"a@example.com"}})
	del := addQuarantine(t, q, &store.QuarantineEntry{Raw: []byte("del"), Recipients: []string{"a@example.com", "b@example.com"}})
	if err := q.DeleteQuarantine(ctx, del); err != nil {
		t.Fatal(err)
	}
	if _, err := q.GetQuarantine(ctx, del); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after delete: %v, want ErrNotFound", err)
	}
	if err := q.DeleteQuarantine(ctx, del); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	if err := q.MarkReleased(ctx, del, nil, base); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("release after delete: %v, want ErrNotFound", err)
	}
	if e := getQuarantine(t, q, keep); string(e.Raw) != "keep" {
		t.Errorf("other entry: Raw %q", e.Raw)
	}
	list, err := q.ListQuarantine(ctx, store.QuarantineQuery{Recipient: "b@example.com"})
	if err != nil || len(list) != 0 {
		t.Errorf("deleted entry's recipients still listed: %v, %v", list, err)
	}
}

func testListQuarantine(t *testing.T, q store.Quarantine) {
	entries := []store.QuarantineEntry{
		{QueueID: "A", Time: base, Area: "spam", Sender: "Alice@Example.com",
			Recipients: []string{"bob@example.net"}, Subject: "Cheap Watches", Helo: "h", ClientName: "c"},
		{QueueID: "C", Time: base.Add(2 * time.Hour), Area: "policy", Sender: "carol@example.org",
			Recipients: []string{"Dave@Example.COM", "erin@example.net"}, Subject: "【重要】パスワード変更",
			Rule: "r", Reason: "why", ClientIP: "192.0.2.1", HeaderFrom: "Carol <carol@example.org>", MessageID: "<m@x>"},
		{QueueID: "B", Time: base.Add(time.Hour), Area: "virus", Sender: "mallory@evil.test",
			Recipients: []string{"bob@example.net"}, Subject: "Invoice ÄÖÜ"},
		{QueueID: "D", Time: base.Add(3 * time.Hour), Area: "spam", Sender: "",
			Recipients: []string{"postmaster@example.com"}, Subject: "Undelivered Mail 100%"},
	}
	for i := range entries {
		entries[i].Raw = []byte("message " + entries[i].QueueID)
		addQuarantine(t, q, &entries[i])
	}
	tests := []struct {
		name string
		q    store.QuarantineQuery
		want []string
	}{
		{"all newest first", store.QuarantineQuery{}, []string{"D", "C", "B", "A"}},
		{"since", store.QuarantineQuery{Since: base.Add(time.Hour)}, []string{"D", "C", "B"}},
		{"until exclusive", store.QuarantineQuery{Until: base.Add(time.Hour)}, []string{"A"}},
		{"period", store.QuarantineQuery{Since: base.Add(time.Hour), Until: base.Add(3 * time.Hour)}, []string{"C", "B"}},
		{"area", store.QuarantineQuery{Area: "spam"}, []string{"D", "A"}},
		{"area unknown", store.QuarantineQuery{Area: "nope"}, nil},
		{"sender case-insensitive", store.QuarantineQuery{Sender: "ALICE@example.COM"}, []string{"A"}},
		{"sender domain", store.QuarantineQuery{Sender: "*@Evil.Test"}, []string{"B"}},
		{"sender domain not subdomain", store.QuarantineQuery{Sender: "*@test"}, nil},
		{"recipient", store.QuarantineQuery{Recipient: "bob@EXAMPLE.net"}, []string{"B", "A"}},
		{"recipient mixed case stored", store.QuarantineQuery{Recipient: "dave@example.com"}, []string{"C"}},
		{"recipient domain", store.QuarantineQuery{Recipient: "*@example.com"}, []string{"D", "C"}},
		{"subject", store.QuarantineQuery{Subject: "watches"}, []string{"A"}},
		{"subject japanese", store.QuarantineQuery{Subject: "パスワード"}, []string{"C"}},
		{"subject non-ascii fold", store.QuarantineQuery{Subject: "äöü"}, []string{"B"}},
		{"subject percent literal", store.QuarantineQuery{Subject: "0%"}, []string{"D"}},
		{"subject underscore literal", store.QuarantineQuery{Subject: "_"}, nil},
		{"limit", store.QuarantineQuery{Limit: 3}, []string{"D", "C", "B"}},
		{"combined", store.QuarantineQuery{Area: "spam", Recipient: "*@example.net"}, []string{"A"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := q.ListQuarantine(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.QueueID)
				if e.Raw != nil {
					t.Errorf("%s: Raw filled by List", e.QueueID)
				}
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ListQuarantine(%+v) = %v, want %v", tt.q, ids, tt.want)
			}
		})
	}
	// Listed entries carry everything but Raw.
	got, err := q.ListQuarantine(ctx, store.QuarantineQuery{Sender: "carol@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	want := entries[1]
	want.Raw = nil
	if len(got) != 1 {
		t.Fatalf("%d entries, want 1", len(got))
	}
	if d := diffEntry(got[0], want); d != "" {
		t.Errorf("listed entry: %s", d)
	}
}

func testResolveQuarantineID(t *testing.T, q store.Quarantine) {
	// IDs are random: add entries until two share their first four digits,
	// for the ambiguous case (about 320 entries on average).
	byPrefix := map[string][]string{}
	var one, amb string
	for i := 0; amb == "" && i < 3000; i++ {
		id := addQuarantine(t, q, &store.QuarantineEntry{Raw: []byte{byte(i)}})
		byPrefix[id[:4]] = append(byPrefix[id[:4]], id)
		if len(byPrefix[id[:4]]) == 2 {
			amb = id[:4]
		}
		if one == "" {
			one = id
		}
	}
	if amb == "" {
		t.Fatal("3000 random IDs without a shared 4-digit prefix")
	}
	var unknown string // a prefix no ID has
	for i := 0; unknown == ""; i++ {
		if p := fmt.Sprintf("%04x", i); byPrefix[p] == nil {
			unknown = p
		}
	}
	pairs := slices.Sorted(slices.Values(byPrefix[amb]))
	for _, tc := range []struct {
		prefix, want string
		err          error
	}{
		{one, one, nil},
		{strings.ToUpper(one), one, nil},
		{" " + one + " ", one, nil},
		{amb, "", store.ErrAmbiguous},
		{strings.ToUpper(amb), "", store.ErrAmbiguous},
		{unknown, "", store.ErrNotFound},
		{one[:3], "", nil}, // too short: an error of its own
		{"abcg", "", store.ErrNotFound},
		{"", "", store.ErrNotFound},
		{one + "0", "", store.ErrNotFound},
	} {
		got, err := q.ResolveQuarantineID(ctx, tc.prefix)
		switch {
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%q: %q, %v; want %q", tc.prefix, got, err, tc.want)
		case tc.want == "" && err == nil:
			t.Errorf("%q: %q, want an error", tc.prefix, got)
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("%q: err %v, want %v", tc.prefix, err, tc.err)
		}
	}
	// The ambiguity names its candidates; a longer prefix picks one.
	_, err := q.ResolveQuarantineID(ctx, amb)
	for _, id := range pairs {
		if err == nil || !strings.Contains(err.Error(), id) {
			t.Errorf("ambiguity %v does not name %s", err, id)
		}
	}
	for i := 5; i <= 32; i++ {
		if pairs[0][:i] != pairs[1][:i] {
			if got, err := q.ResolveQuarantineID(ctx, pairs[1][:i]); err != nil || got != pairs[1] {
				t.Errorf("%q: %q, %v; want %q", pairs[1][:i], got, err, pairs[1])
			}
			break
		}
	}
}

func testQuarantineConcurrent(t *testing.T, q store.Quarantine) {
	const writers, each = 4, 5
	ids := make([][]string, writers)
	parallel(writers, func(w int) {
		for i := range each {
			raw := bytes.Repeat([]byte{byte('a' + w)}, 1000+i)
			id, err := q.AddQuarantine(ctx, &store.QuarantineEntry{Raw: raw, Recipients: []string{fmt.Sprintf("r%d@example.com", w)}})
			if err != nil {
				t.Error(err)
				return
			}
			ids[w] = append(ids[w], id)
		}
	})
	all := map[string]int{}
	for w, l := range ids {
		for _, id := range l {
			all[id] = w
		}
	}
	if len(all) != writers*each {
		t.Fatalf("%d distinct IDs, want %d", len(all), writers*each)
	}
	list, err := q.ListQuarantine(ctx, store.QuarantineQuery{})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, e := range list {
		listed[e.ID] = true
	}
	for _, id := range slices.Sorted(maps.Keys(all)) {
		if !listed[id] {
			t.Errorf("entry %s not listed", id)
		}
		e := getQuarantine(t, q, id)
		if e.Raw[0] != byte('a'+all[id]) || e.Recipients[0] != fmt.Sprintf("r%d@example.com", all[id]) {
			t.Errorf("entry %s holds another writer's message", id)
		}
	}
}
