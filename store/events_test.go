package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mailwarden/mailwarden/scanner"
)

func TestEventRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	tokyo := time.FixedZone("JST", 9*60*60)
	tests := []struct {
		name string
		in   Event
	}{
		{"full", Event{
			Time:       time.Date(2025, 3, 1, 21, 4, 5, 123456789, tokyo),
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
			Recipients: []RecipientOutcome{
				{Address: "bob@example.net", Action: "accept"},
				{Address: "carol@example.org", Action: "quarantine", Rule: "virus", Reply: "250 2.0.0 ok"},
			},
			HeaderFrom:  "アリス <alice@example.com>",
			HeaderTo:    "Bob <bob@example.net>",
			Subject:     "【重要】請求書 \"quoted\" 100%",
			MessageID:   "<abc@example.com>",
			Size:        123456,
			Attachments: []string{"請求書.pdf", "invoice.zip"},
			Matches: []scanner.Match{
				{Rule: "virus", Stage: "eom", Action: "quarantine", Findings: []scanner.Finding{
					{Name: "av.virus", Value: "Eicar-Signature", Where: "attachment invoice.zip/eicar.com", Reason: "ClamAV found Eicar-Signature"},
				}},
				{Rule: "tag", Stage: "eom", Action: "accept"},
			},
			Action:        "mixed(accept,quarantine)",
			Reply:         "250 2.0.0 Ok",
			Duration:      1234567 * time.Microsecond,
			QuarantineIDs: []string{"0123456789abcdef0123456789abcdef"},
		}},
		{"connect only", Event{
			Time:     time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
			ClientIP: "192.0.2.1",
			Stage:    "connect",
			Action:   "reject",
			Reply:    "554 5.7.1 Service unavailable",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			id, err := s.AddEvent(ctx, &in)
			if err != nil {
				t.Fatal(err)
			}
			if id == 0 || in.ID != id {
				t.Fatalf("AddEvent returned %d and set ID %d", id, in.ID)
			}
			got, err := s.Events(ctx, EventQuery{Since: in.Time, Until: in.Time.Add(1)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("got %d events, want 1", len(got))
			}
			want := in
			if !got[0].Time.Equal(want.Time) {
				t.Errorf("Time = %v, want %v", got[0].Time, want.Time)
			}
			if got[0].Time.Location() != time.UTC {
				t.Errorf("Time location = %v, want UTC", got[0].Time.Location())
			}
			want.Time = got[0].Time
			if !reflect.DeepEqual(got[0], want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got[0], want)
			}
		})
	}
}

func TestAddEventDefaultsTime(t *testing.T) {
	s := openTest(t, "")
	before := time.Now()
	e := &Event{QueueID: "Q"}
	if _, err := s.AddEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if e.Time.Before(before) || e.Time.After(time.Now()) {
		t.Errorf("Time = %v, want about now", e.Time)
	}
}

func TestEventsFilters(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rc := func(addrs ...string) []RecipientOutcome {
		var r []RecipientOutcome
		for _, a := range addrs {
			r = append(r, RecipientOutcome{Address: a, Action: "accept"})
		}
		return r
	}
	// Added out of time order, so that "newest first" is the store's doing.
	events := []Event{
		{QueueID: "Q3", Time: base.Add(2 * time.Hour), Direction: "inbound", Sender: "bob@sub.example.com",
			Recipients: rc("alice@example.com"), Subject: "ÜBER Straße Sale", Action: "reject", ClientIP: "2001:db8::1"},
		{QueueID: "Q1", Time: base, Direction: "inbound", Sender: "Alice@Example.COM",
			Recipients: rc("bob@example.net"), Subject: "Hello World", Action: "accept", ClientIP: "192.0.2.1"},
		{QueueID: "Q5", Time: base.Add(4 * time.Hour), Direction: "inbound", Stage: "connect",
			Action: "reject", ClientIP: "203.0.113.9"},
		{QueueID: "Q2", Time: base.Add(time.Hour), Direction: "outbound", Sender: "carol@example.org",
			Recipients: rc("Dave@Example.COM", "erin@other.test"), Subject: "【重要】請求書のご案内",
			Action: "mixed(accept,reject)", ClientIP: "198.51.100.7"},
		{QueueID: "Q4", Time: base.Add(3 * time.Hour), Direction: "inbound", Sender: "",
			Recipients: rc("postmaster@example.net"), Subject: "Ｒｅ： 会議の件", Action: "quarantine", ClientIP: "192.0.2.1"},
	}
	for i := range events {
		if _, err := s.AddEvent(ctx, &events[i]); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name string
		q    EventQuery
		want []string
	}{
		{"all newest first", EventQuery{}, []string{"Q5", "Q4", "Q3", "Q2", "Q1"}},
		{"since inclusive", EventQuery{Since: base.Add(time.Hour)}, []string{"Q5", "Q4", "Q3", "Q2"}},
		{"until exclusive", EventQuery{Until: base.Add(2 * time.Hour)}, []string{"Q2", "Q1"}},
		{"period", EventQuery{Since: base.Add(time.Hour), Until: base.Add(3 * time.Hour)}, []string{"Q3", "Q2"}},
		{"period in other zone", EventQuery{Since: base.Add(time.Hour).In(time.FixedZone("X", -5*3600)),
			Until: base.Add(3 * time.Hour).In(time.FixedZone("Y", 9*3600))}, []string{"Q3", "Q2"}},
		{"empty period", EventQuery{Since: base.Add(10 * time.Hour)}, nil},
		{"direction", EventQuery{Direction: "outbound"}, []string{"Q2"}},
		{"sender case-insensitive", EventQuery{Sender: "alice@example.com"}, []string{"Q1"}},
		{"sender upper", EventQuery{Sender: "ALICE@EXAMPLE.COM"}, []string{"Q1"}},
		{"sender angle brackets", EventQuery{Sender: "<alice@example.com>"}, []string{"Q1"}},
		{"sender domain", EventQuery{Sender: "*@example.com"}, []string{"Q1"}},
		{"sender domain upper", EventQuery{Sender: "*@EXAMPLE.ORG"}, []string{"Q2"}},
		{"sender subdomain", EventQuery{Sender: "*@sub.example.com"}, []string{"Q3"}},
		{"sender unknown", EventQuery{Sender: "nobody@example.com"}, nil},
		{"recipient", EventQuery{Recipient: "dave@example.com"}, []string{"Q2"}},
		{"recipient second of two", EventQuery{Recipient: "ERIN@other.test"}, []string{"Q2"}},
		{"recipient domain", EventQuery{Recipient: "*@example.net"}, []string{"Q4", "Q1"}},
		{"recipient domain mixed case stored", EventQuery{Recipient: "*@example.com"}, []string{"Q3", "Q2"}},
		{"recipient unknown", EventQuery{Recipient: "x@example.com"}, nil},
		{"subject substring", EventQuery{Subject: "world"}, []string{"Q1"}},
		{"subject upper query", EventQuery{Subject: "HELLO"}, []string{"Q1"}},
		{"subject japanese", EventQuery{Subject: "請求書"}, []string{"Q2"}},
		{"subject japanese 2", EventQuery{Subject: "会議"}, []string{"Q4"}},
		{"subject non-ascii fold", EventQuery{Subject: "über"}, []string{"Q3"}},
		{"subject non-ascii fold 2", EventQuery{Subject: "STRASSE"}, nil}, // ToLower, not full case folding
		{"subject sharp s", EventQuery{Subject: "straße"}, []string{"Q3"}},
		{"subject fullwidth fold", EventQuery{Subject: "ｒｅ："}, []string{"Q4"}},
		{"subject percent is literal", EventQuery{Subject: "%"}, nil},
		{"subject underscore is literal", EventQuery{Subject: "_"}, nil},
		{"action", EventQuery{Action: "reject"}, []string{"Q5", "Q3"}},
		{"action free text", EventQuery{Action: "mixed(accept,reject)"}, []string{"Q2"}},
		{"client ip", EventQuery{ClientIP: "192.0.2.1"}, []string{"Q4", "Q1"}},
		{"client ipv6", EventQuery{ClientIP: "2001:db8::1"}, []string{"Q3"}},
		{"limit", EventQuery{Limit: 2}, []string{"Q5", "Q4"}},
		{"limit with filter", EventQuery{Direction: "inbound", Limit: 3}, []string{"Q5", "Q4", "Q3"}},
		{"combined", EventQuery{Direction: "inbound", Action: "reject", Since: base.Add(3 * time.Hour)}, []string{"Q5"}},
		{"combined no match", EventQuery{Direction: "outbound", Action: "reject"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Events(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.QueueID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("Events(%+v) = %v, want %v", tt.q, ids, tt.want)
			}
		})
	}

	// Recipients come back with their events, in order, whatever the filter.
	got, err := s.Events(ctx, EventQuery{Recipient: "erin@other.test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Recipients, events[3].Recipients) {
		t.Errorf("recipients = %+v, want %+v", got, events[3].Recipients)
	}
}

func TestEventsDefaultLimit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "")
	// Insert directly in one transaction: 1001 fsynced AddEvents would be slow.
	tx, err := s.w.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := range defaultLimit + 1 {
		if _, err := tx.Exec(`INSERT INTO events (time_ns) VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, -1} {
		got, err := s.Events(ctx, EventQuery{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != defaultLimit {
			t.Errorf("Limit %d: %d events, want %d", limit, len(got), defaultLimit)
		}
	}
}

func BenchmarkAddEvent(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, "")
	e := Event{
		Time: time.Now(), QueueID: "4XyZ1k2Lmnz", ClientIP: "192.0.2.1", Direction: "inbound", Stage: "eom",
		Sender:     "alice@example.com",
		Recipients: []RecipientOutcome{{Address: "bob@example.net", Action: "accept"}, {Address: "carol@example.net", Action: "accept"}},
		Subject:    "Quarterly report", Size: 20000, Attachments: []string{"report.pdf"},
		Matches: []scanner.Match{{Rule: "r", Stage: "eom", Action: "accept", Findings: []scanner.Finding{{Name: "n", Value: "v"}}}},
		Action:  "accept", Reply: "250 2.0.0 Ok", Duration: 30 * time.Millisecond,
	}
	for b.Loop() {
		ev := e
		if _, err := s.AddEvent(ctx, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAddEventsKeyOnce: a row replayed with the same key is stored once,
// recipients included, and gets the stored row's ID; rows without a key are
// never merged.
func TestAddEventsKeyOnce(t *testing.T) {
	s := openTest(t, "")
	ctx := context.Background()
	mk := func(key, qid string) *Event {
		return &Event{Key: key, QueueID: qid, Action: "accept",
			Recipients: []RecipientOutcome{{Address: "bob@example.com", Action: "accept"}}}
	}
	first := mk("k1", "A")
	if err := s.AddEvents(ctx, []*Event{first, mk("", "B")}); err != nil {
		t.Fatal(err)
	}
	again := mk("k1", "A-replayed")
	if err := s.AddEvents(ctx, []*Event{again, mk("", "B"), mk("k2", "C")}); err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID {
		t.Errorf("replayed row got ID %d, want the stored %d", again.ID, first.ID)
	}
	evs, err := s.Events(ctx, EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Key+"/"+e.QueueID+"/"+fmt.Sprint(len(e.Recipients)))
	}
	slices.Sort(got)
	if want := "[/B/1 /B/1 k1/A/1 k2/C/1]"; fmt.Sprint(got) != want {
		t.Errorf("stored %v, want %s", got, want)
	}
	if n := count(t, s, "event_recipients"); n != 4 {
		t.Errorf("%d recipient rows, want 4", n)
	}
}
