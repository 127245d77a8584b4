package ioc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNormalise(t *testing.T) {
	for _, tc := range []struct {
		in   string
		hint Kind
		kind Kind
		key  string // "" for unrecognised
	}{
		{"evil.example", KindNone, KindDomain, "evil.example"},
		{"Evil.Example.", KindNone, KindDomain, "evil.example"},
		{"*.evil.example", KindNone, KindDomain, "evil.example"},
		{"evil[.]example", KindNone, KindDomain, "evil.example"},
		{"bücher.example", KindNone, KindDomain, "xn--bcher-kva.example"},
		{"ＥＶＩＬ.example", KindNone, KindDomain, "evil.example"},
		{"localhost", KindNone, KindNone, ""},
		{"1.2.3", KindNone, KindNone, ""},
		{"-", KindNone, KindNone, ""},
		{"evil..example", KindNone, KindNone, ""},
		{"192.0.2.1", KindNone, KindIP, "192.0.2.1/32"},
		{"[2001:db8::1]", KindNone, KindIP, "2001:db8::1/128"},
		{"::ffff:192.0.2.1", KindNone, KindIP, "192.0.2.1/32"},
		{"192.0.2.77/24", KindNone, KindIP, "192.0.2.0/24"},
		{"2001:db8::/32", KindNone, KindIP, "2001:db8::/32"},
		{"192.0.2.300", KindNone, KindNone, ""},
		{"https://Evil.Example:8443/Login?x=1#frag", KindNone, KindURL, "evil.example/Login?x=1"},
		{"hxxp://evil[.]example", KindNone, KindURL, "evil.example/"},
		{"hXXps://evil.example/a", KindNone, KindURL, "evil.example/a"},
		{"hxxy.example", KindNone, KindDomain, "hxxy.example"},
		{"evil.example/path", KindNone, KindURL, "evil.example/path"},
		{"http://[2001:db8::1]/x", KindNone, KindURL, "[2001:db8::1]/x"},
		{"http://bücher.example/a", KindNone, KindURL, "xn--bcher-kva.example/a"},
		{"http:///nohost", KindNone, KindNone, ""},
		{"Bad.Guy@Evil.Example", KindNone, KindEmail, "bad.guy@evil.example"},
		{"mailto:x@evil.example", KindNone, KindEmail, "x@evil.example"},
		{"x[@]evil[.]example", KindNone, KindEmail, "x@evil.example"},
		{"@evil.example", KindNone, KindNone, ""},
		{"x@localhost", KindNone, KindNone, ""},
		{strings.Repeat("AB", 32), KindNone, KindSHA256, strings.Repeat("ab", 32)},
		{"sha256:" + strings.Repeat("0f", 32), KindNone, KindSHA256, strings.Repeat("0f", 32)},
		{strings.Repeat("a", 63), KindNone, KindNone, ""},
		{strings.Repeat("g", 64), KindNone, KindNone, ""},
		{"d41d8cd98f00b204e9800998ecf8427e", KindNone, KindNone, ""}, // MD5
		// A type column decides the kind.
		{"evil.example/x", KindURL, KindURL, "evil.example/x"},
		{"evil.example", KindURL, KindURL, "evil.example/"},
		{"192.0.2.1", KindDomain, KindNone, ""},
		{"evil.example", KindIP, KindNone, ""},
		{"", KindNone, KindNone, ""},
	} {
		e, err := Normalise(tc.in, tc.hint)
		if tc.key == "" {
			if err == nil || !errors.Is(err, ErrUnrecognised) {
				t.Errorf("Normalise(%q, %v) = %v %q, %v; want unrecognised", tc.in, tc.hint, e.Kind, e.Key, err)
			}
			continue
		}
		if err != nil || e.Kind != tc.kind || e.Key != tc.key {
			t.Errorf("Normalise(%q, %v) = %v %q, %v; want %v %q", tc.in, tc.hint, e.Kind, e.Key, err, tc.kind, tc.key)
		}
	}
}

// parseAll renders what Parse gives, one line per entry or problem.
func parseAll(t *testing.T, name string, f Format, src string) string {
	t.Helper()
	var out []string
	err := Parse(strings.NewReader(src), name, f, func(p Parsed) bool {
		if p.Err != nil {
			out = append(out, fmt.Sprintf("%d: bad", p.Line))
		} else {
			out = append(out, fmt.Sprintf("%d: %s %s", p.Line, p.Entry.Kind, p.Entry.Key))
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, "\n")
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		format     Format
		src, want  string
	}{
		{"lines with comments, BOM and CRLF", "c2.txt", FormatAuto,
			"\xef\xbb\xbf# C2 servers\r\nevil.example\r\n\r\n  192.0.2.1  # seen 2025-01\r\nhttp://evil.example/a#b\r\nnot a value\r\nx@evil.example",
			"2: domain evil.example\n4: ip 192.0.2.1/32\n5: url evil.example/a\n6: bad\n7: email x@evil.example"},
		{"csv by extension, header with value and type columns", "feed.csv", FormatAuto,
			"id,type,value,comment\n1,domain,evil.example,c2\n2,url,evil.example/x,\n3,md5,d41d8cd98f00b204e9800998ecf8427e,\n4,ip-dst,192.0.2.9,\n5,domain,192.0.2.9,",
			"2: domain evil.example\n3: url evil.example/x\n4: bad\n5: ip 192.0.2.9/32\n6: bad"},
		{"csv sniffed, type,value pairs without header", "feed", FormatAuto,
			"domain,evil.example\nsha256," + strings.Repeat("ab", 32) + "\nemail,\"x@evil.example\"",
			"1: domain evil.example\n2: sha256 " + strings.Repeat("ab", 32) + "\n3: email x@evil.example"},
		{"csv without header: the first column that holds an entry", "f.csv", FormatAuto,
			"2025-01-02,evil.example,phishing\n2025-01-03,\"other.example\",c2\n2025-01-04,,x",
			"1: domain evil.example\n2: domain other.example\n3: bad"},
		{"csv header naming a kind", "f.csv", FormatCSV,
			"first_seen,url,status\n2025-01-02,evil.example/dl,online",
			"2: url evil.example/dl"},
		{"unknown header is skipped", "f.csv", FormatCSV,
			"when,what\n2025-01-02,evil.example",
			"2: domain evil.example"},
		{"forced lines: commas are not separators", "f.csv", FormatLines,
			"evil.example\nother.example,c2",
			"1: domain evil.example\n2: bad"},
		{"a URL with a comma stays one line", "f.txt", FormatAuto,
			"http://evil.example/a,b\nevil.example",
			"1: url evil.example/a,b\n2: domain evil.example"},
		{"long line", "f.txt", FormatAuto,
			"evil.example\n" + strings.Repeat("x", maxLine+10) + "\nother.example\n",
			"1: domain evil.example\n2: bad\n3: domain other.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseAll(t, tc.file, tc.format, tc.src); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestSplitCSV(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a,b,c", "a|b|c"},
		{` a , "b,c" ,d`, "a|b,c|d"},
		{`"say ""hi""",x`, `say "hi"|x`},
		{`"unterminated,x`, "unterminated,x"},
		{"a,,", "a||"},
		{"", ""},
	} {
		if got := strings.Join(splitCSV(tc.in), "|"); got != tc.want {
			t.Errorf("splitCSV(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := len(splitCSV(strings.Repeat(",", 1000))); n != maxFields {
		t.Errorf("%d fields, want the cap %d", n, maxFields)
	}
}
