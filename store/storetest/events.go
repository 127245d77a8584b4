package storetest

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/scanner"
	"github.com/mailwarden/mailwarden/store"
)

// RunEventLog tests the tracking log.
func RunEventLog(t *testing.T, open func(t *testing.T) store.EventLog) {
	tests := []struct {
		name string
		f    func(t *testing.T, l store.EventLog)
	}{
		{"RoundTrip", testEventRoundTrip},
		{"Defaults", testEventDefaults},
		{"Filters", testEventFilters},
		{"EqualTimes", testEventEqualTimes},
		{"KeyOnce", testEventKeyOnce},
		{"Limit", testEventLimit},
		{"Concurrent", testEventConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, open(t)) })
	}
}

func addEvents(t *testing.T, l store.EventLog, events ...*store.Event) {
	t.Helper()
	if err := l.AddEvents(ctx, events); err != nil {
		t.Fatalf("AddEvents: %v", err)
	}
}

func events(t *testing.T, l store.EventLog, q store.EventQuery) []store.Event {
	t.Helper()
	evs, err := l.Events(ctx, q)
	if err != nil {
		t.Fatalf("Events(%+v): %v", q, err)
	}
	return evs
}

// diffEvent describes how got differs from want, "" when it does not:
// times as instants in UTC, everything else exactly.
func diffEvent(got, want store.Event) string {
	if !sameTime(got.Time, want.Time) {
		return fmt.Sprintf("Time %v, want %v in UTC", got.Time, want.Time)
	}
	got.Time, want.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("\n got %+v\nwant %+v", got, want)
	}
	return ""
}

func testEventRoundTrip(t *testing.T, l store.EventLog) {
	tokyo := time.FixedZone("JST", 9*60*60)
	in := []store.Event{
		{
			Key:        "row-1",
			Time:       time.Date(2025, 3, 1, 21, 4, 5, 123456000, tokyo),
			QueueID:    "4XyZ1k2Lmnz",
			ClientIP:   "2001:db8::25",
			ClientName: "mx.example.net",
			Helo:       "mx.example.net",
			TLSVersion: "TLSv1.3",
			TLSCipher:  "TLS_AES_256_GCM_SHA384",
			AuthUser:   "alice",
			Direction:  "outbound",
			Stage:      "eom",
			Sender:     "Alice@Example.com",
			Recipients: []store.RecipientOutcome{
				{Address: "bob@example.net", Action: "accept"},
				{Address: "carol@example.org", Action: "quarantine", Rule: "virus", Reply: "250 2.0.0 ok"},
				{Address: "Bob@example.net", Action: "reject", Rule: "dup", Reply: "550 5.1.1 no"},
			},
			HeaderFrom:  "アリス <alice@example.com>",
			HeaderTo:    "Bob <bob@example.net>",
			Subject:     "【重要】請求書 \"quoted\" 100% 'x'; --",
			MessageID:   "<abc@example.com>",
			Size:        123456,
			Attachments: []string{"請求書.pdf", "invoice.zip"},
			Matches: []scanner.Match{
				{Rule: "virus", Stage: "eom", Action: "quarantine", Findings: []scanner.Finding{
					{Name: "av.virus", Value: "Eicar-Signature", Where: "attachment invoice.zip/eicar.com", Reason: "ClamAV found Eicar-Signature"},
				}},
				{Rule: "tag", Stage: "eom", Action: "accept"},
			},
			Findings:      []scanner.Finding{{Name: "release.invalid", Reason: "bad signature"}, {Name: "mime.malformed", Where: "part 2"}},
			Action:        "mixed(accept,quarantine)",
			Reply:         "250 2.0.0 Ok",
			Duration:      1234567 * time.Microsecond,
			QuarantineIDs: []string{"0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"},
		},
		{
			Time:     base,
			ClientIP: "192.0.2.1",
			Stage:    "connect",
			Action:   "reject",
			Reply:    "554 5.7.1 Service unavailable",
		},
	}
	ptrs := make([]*store.Event, len(in))
	for i := range in {
		e := in[i]
		ptrs[i] = &e
	}
	addEvents(t, l, ptrs...)
	if ptrs[0].ID == 0 || ptrs[1].ID == 0 || ptrs[0].ID == ptrs[1].ID {
		t.Fatalf("IDs %d and %d, want two distinct non-zero IDs", ptrs[0].ID, ptrs[1].ID)
	}
	got := events(t, l, store.EventQuery{})
	if len(got) != 2 {
		t.Fatalf("%d events, want 2", len(got))
	}
	for i, g := range got { // newest first: the first is later
		want := in[i]
		want.ID = ptrs[i].ID
		if d := diffEvent(g, want); d != "" {
			t.Errorf("event %d: %s", i, d)
		}
	}
}

func testEventDefaults(t *testing.T, l store.EventLog) {
	before := time.Now()
	e := &store.Event{QueueID: "Q"}
	addEvents(t, l, e)
	if !aboutNow(e.Time, before) {
		t.Errorf("AddEvents set Time to %v, want about now", e.Time)
	}
	got := events(t, l, store.EventQuery{})
	if len(got) != 1 {
		t.Fatalf("%d events, want 1", len(got))
	}
	g := got[0]
	if d := g.Time.Sub(e.Time); g.ID != e.ID || d > time.Microsecond || d < -time.Microsecond {
		t.Errorf("stored ID %d at %v, want %d at %v", g.ID, g.Time, e.ID, e.Time)
	}
	if len(g.Recipients)+len(g.Attachments)+len(g.Matches)+len(g.Findings)+len(g.QuarantineIDs) != 0 {
		t.Errorf("lists of an event without any: %+v", g)
	}
	if g.Key != "" || g.Sender != "" || g.Size != 0 || g.Duration != 0 {
		t.Errorf("zero fields came back set: %+v", g)
	}
}

func testEventFilters(t *testing.T, l store.EventLog) {
	rc := func(addrs ...string) []store.RecipientOutcome {
		var r []store.RecipientOutcome
		for _, a := range addrs {
			r = append(r, store.RecipientOutcome{Address: a, Action: "accept"})
		}
		return r
	}
	// Added out of time order, so that "newest first" is the backend's doing.
	in := []*store.Event{
		{QueueID: "Q3", Time: base.Add(2 * time.Hour), Direction: "inbound", Sender: "bob@sub.example.com",
			Recipients: rc("alice@example.com"), Subject: "ÜBER Straße Sale", Action: "reject", ClientIP: "2001:db8::1"},
		{QueueID: "Q1", Time: base, Direction: "inbound", Sender: "Alice@Example.COM",
			Recipients: rc("bob@example.net"), Subject: "Hello World", Action: "accept", ClientIP: "192.0.2.1"},
		{QueueID: "Q5", Time: base.Add(4 * time.Hour), Direction: "inbound", Stage: "connect",
			Action: "reject", ClientIP: "203.0.113.9"},
		{QueueID: "q2", Time: base.Add(time.Hour), Direction: "outbound", Sender: "carol@example.org",
			Recipients: rc("Dave@Example.COM", "erin@other.test"), Subject: "【重要】請求書のご案内",
			Action: "mixed(accept,reject)", ClientIP: "198.51.100.7"},
		{QueueID: "Q4", Time: base.Add(3 * time.Hour), Direction: "inbound", Sender: "",
			Recipients: rc("postmaster@example.net"), Subject: "Ｒｅ： 会議の件", Action: "quarantine", ClientIP: "192.0.2.1"},
		{QueueID: "Q6", Time: base.Add(5 * time.Hour), Action: "accept", ClientIP: "::ffff:192.0.2.200"},
		{QueueID: "Q7", Time: base.Add(6 * time.Hour), Action: "accept", ClientIP: "2001:db8:1::5"},
		{QueueID: "Q8", Time: base.Add(7 * time.Hour), Action: "tempfail", ClientIP: "unknown"},
	}
	addEvents(t, l, in...)
	net := netip.MustParsePrefix
	tests := []struct {
		name string
		q    store.EventQuery
		want []string
	}{
		{"all newest first", store.EventQuery{}, []string{"Q8", "Q7", "Q6", "Q5", "Q4", "Q3", "q2", "Q1"}},
		{"since inclusive", store.EventQuery{Since: base.Add(4 * time.Hour)}, []string{"Q8", "Q7", "Q6", "Q5"}},
		{"until exclusive", store.EventQuery{Until: base.Add(2 * time.Hour)}, []string{"q2", "Q1"}},
		{"period", store.EventQuery{Since: base.Add(time.Hour), Until: base.Add(3 * time.Hour)}, []string{"Q3", "q2"}},
		{"period in other zones", store.EventQuery{Since: base.Add(time.Hour).In(time.FixedZone("X", -5*3600)),
			Until: base.Add(3 * time.Hour).In(time.FixedZone("Y", 9*3600))}, []string{"Q3", "q2"}},
		{"until a microsecond after", store.EventQuery{Since: base, Until: base.Add(time.Microsecond)}, []string{"Q1"}},
		{"empty period", store.EventQuery{Since: base.Add(10 * time.Hour)}, nil},
		{"direction", store.EventQuery{Direction: "outbound"}, []string{"q2"}},
		{"sender case-insensitive", store.EventQuery{Sender: "alice@example.com"}, []string{"Q1"}},
		{"sender upper", store.EventQuery{Sender: "ALICE@EXAMPLE.COM"}, []string{"Q1"}},
		{"sender angle brackets", store.EventQuery{Sender: "<alice@example.com>"}, []string{"Q1"}},
		{"sender domain", store.EventQuery{Sender: "*@example.com"}, []string{"Q1"}},
		{"sender domain upper", store.EventQuery{Sender: "*@EXAMPLE.ORG"}, []string{"q2"}},
		{"sender subdomain", store.EventQuery{Sender: "*@sub.example.com"}, []string{"Q3"}},
		{"sender unknown", store.EventQuery{Sender: "nobody@example.com"}, nil},
		{"recipient", store.EventQuery{Recipient: "dave@example.com"}, []string{"q2"}},
		{"recipient second of two", store.EventQuery{Recipient: "ERIN@other.test"}, []string{"q2"}},
		{"recipient domain", store.EventQuery{Recipient: "*@example.net"}, []string{"Q4", "Q1"}},
		{"recipient domain mixed case stored", store.EventQuery{Recipient: "*@example.com"}, []string{"Q3", "q2"}},
		{"recipient unknown", store.EventQuery{Recipient: "x@example.com"}, nil},
		{"subject substring", store.EventQuery{Subject: "world"}, []string{"Q1"}},
		{"subject upper query", store.EventQuery{Subject: "HELLO"}, []string{"Q1"}},
		{"subject japanese", store.EventQuery{Subject: "請求書"}, []string{"q2"}},
		{"subject non-ascii fold", store.EventQuery{Subject: "über"}, []string{"Q3"}},
		{"subject sharp s", store.EventQuery{Subject: "straße"}, []string{"Q3"}},
		{"subject fullwidth fold", store.EventQuery{Subject: "ｒｅ："}, []string{"Q4"}},
		{"subject percent is literal", store.EventQuery{Subject: "%"}, nil},
		{"subject underscore is literal", store.EventQuery{Subject: "_"}, nil},
		{"action", store.EventQuery{Action: "reject"}, []string{"Q5", "Q3"}},
		{"action free text", store.EventQuery{Action: "mixed(accept,reject)"}, []string{"q2"}},
		{"client ip", store.EventQuery{ClientIP: "192.0.2.1"}, []string{"Q4", "Q1"}},
		{"client ipv6", store.EventQuery{ClientIP: "2001:db8::1"}, []string{"Q3"}},
		{"queue id", store.EventQuery{QueueID: "Q4"}, []string{"Q4"}},
		{"queue id case-insensitive", store.EventQuery{QueueID: "Q2"}, []string{"q2"}},
		{"queue id lower", store.EventQuery{QueueID: "q5"}, []string{"Q5"}},
		{"queue id not a prefix", store.EventQuery{QueueID: "Q"}, nil},
		{"client net /24", store.EventQuery{ClientNet: net("192.0.2.0/24")}, []string{"Q6", "Q4", "Q1"}},
		{"client net /25", store.EventQuery{ClientNet: net("192.0.2.0/25")}, []string{"Q4", "Q1"}},
		{"client net host bits ignored", store.EventQuery{ClientNet: net("192.0.2.130/25")}, []string{"Q6"}},
		{"client net /32", store.EventQuery{ClientNet: net("203.0.113.9/32")}, []string{"Q5"}},
		{"client net all ipv4", store.EventQuery{ClientNet: net("0.0.0.0/0")}, []string{"Q6", "Q5", "Q4", "q2", "Q1"}},
		{"client net ipv4-mapped", store.EventQuery{ClientNet: net("::ffff:192.0.2.0/120")}, []string{"Q6", "Q4", "Q1"}},
		{"client net /32 v6", store.EventQuery{ClientNet: net("2001:db8::/32")}, []string{"Q7", "Q3"}},
		{"client net /48 v6", store.EventQuery{ClientNet: net("2001:db8::/48")}, []string{"Q3"}},
		{"client net all ipv6", store.EventQuery{ClientNet: net("::/0")}, []string{"Q7", "Q3"}},
		{"client net none", store.EventQuery{ClientNet: net("10.0.0.0/8")}, nil},
		{"limit", store.EventQuery{Limit: 2}, []string{"Q8", "Q7"}},
		{"limit with filter", store.EventQuery{Direction: "inbound", Limit: 3}, []string{"Q5", "Q4", "Q3"}},
		{"combined", store.EventQuery{Direction: "inbound", Action: "reject", Since: base.Add(3 * time.Hour)}, []string{"Q5"}},
		{"combined net and time", store.EventQuery{ClientNet: net("192.0.2.0/24"), Until: base.Add(5 * time.Hour)}, []string{"Q4", "Q1"}},
		{"combined no match", store.EventQuery{Direction: "outbound", Action: "reject"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			for _, e := range events(t, l, tt.q) {
				ids = append(ids, e.QueueID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("Events(%+v) = %v, want %v", tt.q, ids, tt.want)
			}
		})
	}
	// Recipients come back with their events, all and in order, whatever
	// the filter matched.
	got := events(t, l, store.EventQuery{Recipient: "erin@other.test"})
	if len(got) != 1 || !reflect.DeepEqual(got[0].Recipients, in[3].Recipients) {
		t.Errorf("recipients = %+v, want %+v", got, in[3].Recipients)
	}
}

// testEventEqualTimes: among rows of one time, the later added comes first,
// also across a batch boundary.
func testEventEqualTimes(t *testing.T, l store.EventLog) {
	addEvents(t, l, &store.Event{QueueID: "A", Time: base}, &store.Event{QueueID: "B", Time: base})
	addEvents(t, l, &store.Event{QueueID: "C", Time: base}, &store.Event{QueueID: "D", Time: base.Add(-time.Microsecond)})
	var ids []string
	for _, e := range events(t, l, store.EventQuery{}) {
		ids = append(ids, e.QueueID)
	}
	if want := []string{"C", "B", "A", "D"}; !slices.Equal(ids, want) {
		t.Errorf("order %v, want %v", ids, want)
	}
}

// testEventKeyOnce: a row added again with its key is stored once, with
// its recipients once, and gets the stored row's ID; rows without a key
// never merge.
func testEventKeyOnce(t *testing.T, l store.EventLog) {
	mk := func(key, qid string) *store.Event {
		return &store.Event{Key: key, QueueID: qid, Time: base, Action: "accept",
			Recipients: []store.RecipientOutcome{{Address: "bob@example.com", Action: "accept"}}}
	}
	first := mk("k1", "A")
	addEvents(t, l, first, mk("", "B"))
	again := mk("k1", "A-replayed")
	dup, twice := mk("k2", "C"), mk("k2", "C-twice-in-one-batch")
	addEvents(t, l, again, mk("", "B"), dup, twice)
	if again.ID != first.ID {
		t.Errorf("replayed row got ID %d, want the stored %d", again.ID, first.ID)
	}
	if twice.ID != dup.ID {
		t.Errorf("a key twice in one batch got IDs %d and %d, want one", dup.ID, twice.ID)
	}
	var got []string
	for _, e := range events(t, l, store.EventQuery{}) {
		got = append(got, fmt.Sprintf("%s/%s/%d", e.Key, e.QueueID, len(e.Recipients)))
	}
	slices.Sort(got)
	if want := "[/B/1 /B/1 k1/A/1 k2/C/1]"; fmt.Sprint(got) != want {
		t.Errorf("stored %v, want %s", got, want)
	}
}

// testEventLimit: Limit caps the rows, 0 or less means 1000.
func testEventLimit(t *testing.T, l store.EventLog) {
	batch := make([]*store.Event, 1001)
	for i := range batch {
		batch[i] = &store.Event{QueueID: fmt.Sprint(i), Time: base.Add(time.Duration(i) * time.Second)}
	}
	addEvents(t, l, batch...)
	for _, tc := range []struct{ limit, want int }{{0, 1000}, {-1, 1000}, {1, 1}, {1001, 1001}, {5000, 1001}} {
		got := events(t, l, store.EventQuery{Limit: tc.limit})
		if len(got) != tc.want {
			t.Errorf("Limit %d: %d events, want %d", tc.limit, len(got), tc.want)
		}
		if len(got) > 0 && got[0].QueueID != "1000" {
			t.Errorf("Limit %d: first is %s, want the newest", tc.limit, got[0].QueueID)
		}
	}
}

// testEventConcurrent: concurrent writers lose nothing and get distinct IDs.
func testEventConcurrent(t *testing.T, l store.EventLog) {
	const writers, batches, size = 4, 5, 8
	ids := make([][]int64, writers)
	parallel(writers, func(w int) {
		for b := range batches {
			batch := make([]*store.Event, size)
			for i := range batch {
				batch[i] = &store.Event{QueueID: fmt.Sprintf("%d-%d-%d", w, b, i), Time: base,
					Recipients: []store.RecipientOutcome{{Address: fmt.Sprintf("r%d@example.com", i)}}}
			}
			if err := l.AddEvents(ctx, batch); err != nil {
				t.Error(err)
				return
			}
			for _, e := range batch {
				ids[w] = append(ids[w], e.ID)
			}
		}
	})
	seen := map[int64]bool{}
	for _, l := range ids {
		for _, id := range l {
			if seen[id] {
				t.Errorf("ID %d given twice", id)
			}
			seen[id] = true
		}
	}
	got := events(t, l, store.EventQuery{})
	if len(got) != writers*batches*size {
		t.Fatalf("%d events stored, want %d", len(got), writers*batches*size)
	}
	for _, e := range got {
		if !seen[e.ID] || len(e.Recipients) != 1 {
			t.Errorf("event %d (%s): unknown ID or %d recipients", e.ID, e.QueueID, len(e.Recipients))
		}
	}
}
