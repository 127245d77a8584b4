package spamtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/scanner/message"
)

const html = "Content-Type: text/html; charset=utf-8\n"

// page is an HTML body long enough for no HTML test to hold, around a.
func page(a string) string { return "<p>" + letters(10) + "</p><p>" + a + "</p>\n" }

func TestURLTests(t *testing.T) {
	text := func(body string) string { return spam("Subject: hello\n"+plain, body+"\n") }
	htm := func(a string) string { return spam("Subject: hello\n"+html, page(a)) }
	cases := []struct {
		name  string
		msg   string
		want  []string
		value string // the finding's value, when one is wanted
	}{
		// url_shortener
		{"bit.ly in text", text("see http://bit.ly/3xYz for details"), []string{"url_shortener"}, "http://bit.ly/3xYz"},
		{"t.co upper case", text("see HTTPS://T.CO/AbC"), []string{"url_shortener"}, "HTTPS://T.CO/AbC"},
		{"shortener subdomain", text("go to https://on.tinyurl.com/x9"), []string{"url_shortener"}, ""},
		{"www. shortener", text("go to www.cutt.ly/x9"), []string{"url_shortener"}, ""},
		{"shortener in href", htm(`<a href="https://rb.gy/abc12">our offer</a>`), []string{"url_shortener"}, "https://rb.gy/abc12"},
		{"shortener in img src", htm(`<img src="https://is.gd/i.gif" alt="">`), []string{"url_shortener"}, ""},
		{"shortener inside a redirector", text("https://www.google.com/url?q=https%3A%2F%2Fow.ly%2Fabc&sa=D"), []string{"url_shortener"}, ""},
		{"youtu.be leads only to YouTube", text("look: https://youtu.be/dQw4w9WgXcQ"), nil, ""},
		{"bit.ly as a word is no URL", text("a bit.ly pricey, is.gd a site?"), nil, ""},
		{"a domain ending like a shortener", text("https://habit.ly.example.com/ and https://robit.ly/x"), nil, ""},
		// url_ip
		{"public dotted ip", text("log in at http://198.51.100.7/login"), []string{"url_ip"}, "http://198.51.100.7/login"},
		{"public ip with port, https", text("https://203.0.113.9:8443/admin"), []string{"url_ip"}, ""},
		{"ipv6", text("http://[2001:db8::7]/x"), []string{"url_ip"}, "http://[2001:db8::7]/x"},
		{"ipv6 unique local", text("http://[fd12:3456::7]/x"), nil, ""},
		{"global ipv6", text("http://[2a00:1450:4001::5]/x"), []string{"url_ip"}, ""},
		{"decimal ip", text("http://3232235777/x"), []string{"url_ip"}, "http://3232235777/x"},
		{"hex ip, loopback", text("http://0x7f.1/"), []string{"url_ip"}, ""},
		{"hex dotted ip", htm(`<a href="http://0xC0.0xA8.0x01.0x01/">here</a>`), []string{"url_ip"}, ""},
		{"octal ip", text("http://0300.0250.0.1/"), []string{"url_ip"}, ""},
		{"short ip", text("http://10.1/"), []string{"url_ip"}, ""},
		{"percent-escaped ip", htm(`<a href="http://%31%32%37.0.0.1/a">click</a>`), []string{"url_ip"}, ""},
		{"ipv4 inside ipv6", text("http://[::ffff:7f00:1]/x"), []string{"url_ip"}, ""},
		{"host-like user name before a private ip", text("http://www.bank.example@10.0.0.1/login"), []string{"url_ip"}, ""},
		{"scheme-relative href", htm(`<a href="//198.51.100.7/x">more</a>`), []string{"url_ip"}, ""},
		{"ip in a technical plain-text mail", text("Hi, the new build is on http://198.51.100.20:8080/ci/, version 1.2.3.4.\nRegards"), []string{"url_ip"}, ""},
		{"version numbers in prose", text("upgrade from 1.2.3.4 to 10.0.0.1, or to 3232235777"), nil, ""},
		{"private dotted ip", text("the dashboard is at http://10.0.0.5:3000/ and http://192.168.1.1/"), nil, ""},
		{"loopback", text("run it and open http://127.0.0.1:8080/ or http://[::1]:8080/"), nil, ""},
		{"plain user before a private ip", text("ftp://admin@192.168.1.10/pub"), nil, ""},
		{"disguised after the plain form", text("http://127.0.0.1/x and http://0x7f.1/x"), []string{"url_ip"}, "http://0x7f.1/x"},
		// url_text_mismatch
		{"link text shows another domain", htm(`<a href="https://login.phish.example/paypal">https://www.paypal.com/signin</a>`), []string{"url_text_mismatch"}, "https://login.phish.example/paypal"},
		{"link text is a bare domain", htm(`<a href="http://evil.example/">paypal.com</a>`), []string{"url_text_mismatch"}, ""},
		{"link text shows its own domain", htm(`<a href="https://www.example.org/a">example.org</a> <a href="https://shop.example.org/">https://www.example.org/shop</a>`), nil, ""},
		{"link text is words", htm(`<a href="https://evil.example/">the paypal.com offers are here</a>`), nil, ""},
		{"link text through a redirector", htm(`<a href="https://www.google.com/url?q=https%3A%2F%2Fwww.example.org%2F">www.example.org</a>`), nil, ""},
		{"link text shows a domain, href an ip", htm(`<a href="http://198.51.100.7/">www.bank.example</a>`), []string{"url_ip", "url_text_mismatch"}, ""},
		// several
		{"shortener and disguised ip", text("http://bit.ly/x and http://3232235777/"), []string{"url_shortener", "url_ip"}, ""},
		{"no url at all", text("hello friend, nothing to see"), nil, ""},
	}
	c := New(Defaults())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := run(t, c, tc.msg)
			if got := names(fs); !slices.Equal(got, tc.want) {
				t.Fatalf("tests = %v, want %v; findings %+v", got, tc.want, fs)
			}
			for _, f := range fs {
				d, _ := DefaultScore(strings.TrimPrefix(f.Name, Prefix))
				if f.Score != d || f.Score == 0 || f.Reason == "" || f.Where == "" || f.Value == "" {
					t.Errorf("finding %+v: want score %g, a reason, a where and a value", f, d)
				}
			}
			if tc.value != "" && (len(fs) == 0 || fs[0].Value != tc.value) {
				t.Errorf("findings %+v, want the first with value %q", fs, tc.value)
			}
		})
	}
}

// The reason names how an IP address is disguised.
func TestURLIPReason(t *testing.T) {
	c := New(Defaults())
	for _, tc := range []struct{ url, want string }{
		{"http://3232235777/", "192.168.1.1, written in decimal form"},
		{"http://0x7f.1/", "127.0.0.1, written in hex form"},
		{"http://017700000001/", "127.0.0.1, written in octal form"},
		{"http://10.1/", "10.0.0.1, written in short form"},
		{"http://%31%32%37.0.0.1/", "127.0.0.1, written with percent-escapes"},
		{"http://[::ffff:127.0.0.1]/", "127.0.0.1, written as an IPv6 address"},
		{"http://www.paypal.example@192.0.2.1/", `written after the user name "www.paypal.example"`},
		{"http://198.51.100.1/", "198.51.100.1 rather than a domain name"},
	} {
		fs := run(t, c, spam("Subject: hello\n"+plain, "see "+tc.url+"\n"))
		if len(fs) != 1 || fs[0].Name != Prefix+"url_ip" || !strings.Contains(fs[0].Reason, tc.want) {
			t.Errorf("%s: findings %+v, want url_ip with a reason holding %q", tc.url, fs, tc.want)
		}
	}
}

// The ham samples gain a URL test from one changed link, and not from a
// link to a private address.
func TestURLHamMutations(t *testing.T) {
	c := New(Defaults())
	const wiki = "https://wiki.example.org/meetings/2026-11-26"
	for _, tc := range []struct {
		name, msg, old, new, want string
	}{
		{"thunderbird link through bit.ly", hamThunderbird, wiki, "https://bit.ly/3kTz9Qa", "url_shortener"},
		{"thunderbird link to a public ip", hamThunderbird, wiki, "http://203.0.113.50/meetings", "url_ip"},
		{"thunderbird link to a private ip", hamThunderbird, wiki, "http://192.168.1.20/meetings", ""},
		{"outlook html link showing another domain", hamOutlook, "the second batch follows a week later.</p>",
			`the second batch follows a week later. <a href=3D"https://track.evil.example/x">www.example.net</a></p>`, "url_text_mismatch"},
		{"outlook html link showing its own domain", hamOutlook, "the second batch follows a week later.</p>",
			`the second batch follows a week later. <a href=3D"https://www.example.net/x">www.example.net</a></p>`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { checkMutation(t, c, tc.msg, tc.old, tc.new, tc.want) })
	}
}

// The URL tests search the text once per message, and hold on nothing
// without URLs.
func TestURLSearchOnce(t *testing.T) {
	m := parse(spam("Subject: hello\n"+plain, "http://bit.ly/x http://3232235777/\n"))
	s := newState(m, now)
	a := s.urlSearch()
	if b := s.urlSearch(); a != b {
		t.Fatal("a second URL test searched the text again")
	}
	c := New(Defaults())
	if fs := c.run(newState(message.ParseBytes([]byte("Subject: x\r\n\r\nno links\r\n"), message.DefaultLimits()), now)); slices.ContainsFunc(fs, func(f check.Finding) bool {
		return strings.HasPrefix(f.Name, Prefix+"url_")
	}) {
		t.Fatalf("URL tests hold without URLs: %+v", fs)
	}
}

func TestMayHoldURL(t *testing.T) {
	for s, want := range map[string]bool{
		"":                        false,
		"no links here, www":      false,
		"see WwW.example.com":     true,
		"http://x":                true,
		`<a href="//x.example/">`: true,
		"wwww":                    false,
		"1.2.3.4 and 3232235777":  false,
	} {
		if got := mayHoldURL(s); got != want {
			t.Errorf("mayHoldURL(%q) = %v, want %v", s, got, want)
		}
	}
}

// [spamtest] scores and disabled know the URL tests.
func TestURLTestsConfig(t *testing.T) {
	_, rep, err := config.Decode("t.toml", []byte("[spamtest]\nscores = { url_ip = 2.5 }\ndisabled = [\"url_shortener\", \"url_text_mismatch\"]\n"))
	if err != nil || rep.Err() != nil {
		t.Fatalf("config refused: %v %v", err, rep.Err())
	}
	_, rep, _ = config.Decode("t.toml", []byte("[spamtest]\ndisabled = [\"url_shortner\"]\n"))
	if e := rep.Err(); e == nil || !strings.Contains(e.Error(), "did you mean url_shortener?") {
		t.Fatalf("misspelt test: %v", e)
	}
	c := New(Config{Enabled: true, Scores: map[string]float64{"url_ip": 2.5}, Disabled: []string{"url_shortener"}})
	fs := run(t, c, spam("Subject: hello\n"+plain, "http://bit.ly/x http://198.51.100.7/\n"))
	if got := names(fs); !slices.Equal(got, []string{"url_ip"}) || fs[0].Score != 2.5 {
		t.Fatalf("findings %+v, want url_ip at 2.5 and no url_shortener", fs)
	}
}
