package received

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/received/*.golden from what Parse does")

const goldenDir = "../../testdata/received"

// sample is one Received field of a testdata file.
type sample struct {
	Line  int    `json:"line"`
	Value string `json:"-"`
}

// readSamples reads a testdata file: "Received:" starts a field, lines that
// begin with white space continue it (joined with CRLF, as folded in a
// message), "#" lines are comments.
func readSamples(t testing.TB, path string) []sample {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	open := false
	for i, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "Received:"):
			out = append(out, sample{Line: i + 1, Value: strings.TrimPrefix(line, "Received:")})
			open = true
		case open && line != "" && (line[0] == ' ' || line[0] == '\t'):
			out[len(out)-1].Value += "\r\n" + line
		case line == "" || strings.HasPrefix(line, "#"):
			open = false
		default:
			t.Fatalf("%s:%d: neither a field, a continuation nor a comment: %q", path, i+1, line)
		}
	}
	return out
}

// goldenEntry is what a .golden file holds for one field.
type goldenEntry struct {
	Line int `json:"line"`
	Field
	Error string `json:"error,omitempty"`
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples in %s: %v", goldenDir, err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			var got []goldenEntry
			for _, s := range readSamples(t, file) {
				f, err := Parse(s.Value)
				e := goldenEntry{Line: s.Line, Field: f}
				if err != nil {
					e.Error = err.Error()
					if f.IP.IsValid() {
						t.Errorf("line %d: error %v with an IP %s", s.Line, err, f.IP)
					}
				}
				got = append(got, e)
			}
			var buf bytes.Buffer
			je := json.NewEncoder(&buf)
			je.SetEscapeHTML(false)
			je.SetIndent("", "  ")
			if err := je.Encode(got); err != nil {
				t.Fatal(err)
			}
			gpath := filepath.Join(goldenDir, name+".golden")
			if *update {
				if err := os.WriteFile(gpath, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gpath)
			if err != nil {
				t.Fatalf("%v (run with -update to generate)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Parse of %s differs from %s; got:\n%s", file, gpath, buf.Bytes())
			}
		})
	}
}

// TestParseAddress pins the address, HELO and reverse name of one field of
// each flavour, independently of the golden files.
func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		name, v       string
		ip, helo, rev string
		err           error
	}{
		{"postfix", "from helo.example (rev.example [192.0.2.1]) by mx (Postfix) with ESMTP id X; Mon, 14 Oct 2024 10:00:00 +0200",
			"192.0.2.1", "helo.example", "rev.example", nil},
		{"postfix unknown", "from helo.example (unknown [192.0.2.1]) by mx", "192.0.2.1", "helo.example", "", nil},
		{"postfix ipv6", "from h (h [IPv6:2001:db8::1]) by mx", "2001:db8::1", "h", "h", nil},
		{"sendmail forged", "from h (r [192.0.2.1] (may be forged)) by mx", "192.0.2.1", "h", "", nil},
		{"sendmail ident", "from h (root@r [192.0.2.1]) by mx", "192.0.2.1", "h", "r", nil},
		{"sendmail no name", "from h ([192.0.2.1]) by mx", "192.0.2.1", "h", "", nil},
		{"google", "from h (r. [2001:db8::2]) by mx.google.com", "2001:db8::2", "h", "r", nil},
		{"exim", "from r ([192.0.2.1]:2525 helo=h) by mx", "192.0.2.1", "h", "r", nil},
		{"exim same helo", "from r ([192.0.2.1]:2525) by mx", "192.0.2.1", "r", "r", nil},
		{"exim no name", "from [192.0.2.1] (port=2525 helo=h) by mx", "192.0.2.1", "h", "", nil},
		{"exim ipv6 port", "from r ([2001:db8::3]:2525) by mx", "2001:db8::3", "r", "r", nil},
		{"qmail", "from r (HELO h) (192.0.2.1) by mx", "192.0.2.1", "h", "r", nil},
		{"reverse name HELO", "from h (HELO [192.0.2.1] (may be forged)) by mx", "192.0.2.1", "h", "", nil},
		{"qmail unknown", "from unknown (HELO h) (u@192.0.2.1) by mx", "192.0.2.1", "h", "", nil},
		{"qmail mapped", "from unknown (HELO h) (::ffff:192.0.2.1) by mx", "192.0.2.1", "h", "", nil},
		{"exchange", "from h (192.0.2.1) by mx (10.0.0.1) with Microsoft SMTP Server", "192.0.2.1", "h", "", nil},
		{"exchange ipv6", "from h (2603:10b6:408:fe::8) by mx (2603:10b6:610:a8::20)", "2603:10b6:408:fe::8", "h", "", nil},
		{"courier mapped", "from h (r [::ffff:192.0.2.1]) by mx", "192.0.2.1", "h", "r", nil},
		{"zone dropped", "from h ([fe80::1%12]) by mx", "fe80::1", "h", "", nil},
		{"helo literal", "from [10.0.0.1] (unknown [192.0.2.1]) by mx", "192.0.2.1", "[10.0.0.1]", "", nil},
		{"helo with spaces", "from a b [10.0.0.1] (unknown [192.0.2.1]) by mx", "192.0.2.1", "a b [10.0.0.1]", "", nil},
		{"helo is a keyword", "from by (unknown [192.0.2.1]) by mx", "192.0.2.1", "by", "", nil},
		{"no tcp-info", "from [10.0.0.1] by mx", "", "[10.0.0.1]", "", nil},
		{"by address only", "from h by mx (10.0.0.1)", "", "h", "", nil},
		{"two tcp-info", "from h ([10.0.0.1]) (r [192.0.2.1]) by mx", "", "", "", ErrAmbiguous},
		{"exim and tcp-info", "from [10.0.0.1] (port=1 helo=x) (r [192.0.2.1]) by mx", "", "", "", ErrAmbiguous},
		{"two by", "from a by b (r [192.0.2.1]) by mx", "", "", "", ErrMalformed},
		{"unbalanced", "from h (r [192.0.2.1] by mx", "", "", "", ErrMalformed},
		{"stray paren", "from h) (r [192.0.2.1]) by mx", "", "", "", ErrMalformed},
		{"unterminated quote", `from "h (r [192.0.2.1]) by mx`, "", "", "", ErrMalformed},
		{"quoted pair", `from h (r\) [192.0.2.1]) by mx`, "192.0.2.1", "h", `r\)`, nil},
		{"cert name", `from h (r [192.0.2.1]) (Client CN "[10.0.0.1]", Issuer "x" (verified OK)) by mx`, "192.0.2.1", "h", "r", nil},
		{"auth user", `from h (r [192.0.2.1]) (Authenticated sender: a [10.0.0.1]) by mx`, "192.0.2.1", "h", "r", nil},
		{"envelope sender", `from h (envelope-from <a@[10.0.0.1]>) by mx`, "", "h", "", nil},
		{"bad literal", "from h (r [192.0.2.256]) by mx", "", "h", "", nil},
		{"v4 tagged v6", "from h (r [IPv6:192.0.2.1]) by mx", "", "h", "", nil},
		{"leading zero", "from h (r [010.0.0.1]) by mx", "", "h", "", nil},
		{"bad port", "from h (r [192.0.2.1]:x) by mx", "", "h", "", nil},
		{"depth at the limit", "from h (r [192.0.2.1] " + strings.Repeat("(", MaxDepth-1) + strings.Repeat(")", MaxDepth-1) + ") by mx", "192.0.2.1", "h", "r", nil},
		{"length at the limit", ofLen("from h (r [192.0.2.1]) by mx for <", MaxFieldLen), "192.0.2.1", "h", "r", nil},
		{"tokens at the limit", "from h (r [192.0.2.1]) by mx" + strings.Repeat(" w", MaxTokens-5), "192.0.2.1", "h", "r", nil},
		{"too deep", "from h (r [192.0.2.1] (((((((((x)))))))))) by mx", "", "", "", ErrLimit},
		{"too long", ofLen("from h (r [192.0.2.1]) by mx for <", MaxFieldLen+1), "", "", "", ErrLimit},
		{"too many tokens", "from h (r [192.0.2.1]) by mx" + strings.Repeat(" w", MaxTokens-4), "", "", "", ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.v)
			if !errors.Is(err, tc.err) || (err != nil) != (tc.err != nil) {
				t.Fatalf("Parse(%.100q) error %v, want %v", tc.v, err, tc.err)
			}
			var ip string
			if f.IP.IsValid() {
				ip = f.IP.String()
			}
			if ip != tc.ip {
				t.Errorf("IP %q, want %q", ip, tc.ip)
			}
			if err != nil {
				return
			}
			if f.HELO != tc.helo || f.ReverseName != tc.rev {
				t.Errorf("HELO %q, reverse name %q; want %q, %q", f.HELO, f.ReverseName, tc.helo, tc.rev)
			}
		})
	}
}

// ofLen pads a field to n bytes: prefix, a's, ">".
func ofLen(prefix string, n int) string {
	return prefix + strings.Repeat("a", n-len(prefix)-1) + ">"
}

// TestParseClauses pins the clause values and the date.
func TestParseClauses(t *testing.T) {
	v := " from h (r [192.0.2.1])\r\n\t(using TLSv1.3 with cipher X)\r\n\tby mx.example.com (Postfix) with ESMTPS id 4XSq\r\n\tfor <u@example.com>; Mon, 14 Oct 2024 10:00:00\r\n +0200 (CEST)"
	f, err := Parse(v)
	if err != nil {
		t.Fatal(err)
	}
	want := Field{From: "h", HELO: "h", ReverseName: "r", IP: netip.MustParseAddr("192.0.2.1"),
		By: "mx.example.com", With: "ESMTPS", ID: "4XSq", For: "<u@example.com>"}
	date := f.Date
	f.Date = want.Date
	if f != want {
		t.Errorf("Parse = %+v, want %+v", f, want)
	}
	if got := date.Format("2006-01-02T15:04:05-0700"); got != "2024-10-14T10:00:00+0200" {
		t.Errorf("date %s", got)
	}

	f, _ = Parse("from h (192.0.2.1) by mx (10.0.0.1) with Microsoft\r\n SMTP Server (version=TLS1_3) id 15.20.1 via Frontend\r\n Transport; Tue, 15 Oct 2024\r\n 12:34:53 +0000")
	if f.With != "Microsoft SMTP Server" || f.Via != "Frontend Transport" || f.ID != "15.20.1" || f.Date.IsZero() {
		t.Errorf("Exchange clauses: %+v", f)
	}
	f, _ = Parse("from h (r [::ffff:192.0.2.1]) by mx with ESMTPS; Mon, 14 Oct 2024 10:00:00 +0200\r\n id 0000ABCD.1234")
	if f.ID != "0000ABCD.1234" || f.Date.IsZero() {
		t.Errorf("Courier id after the date: %+v", f)
	}
}
