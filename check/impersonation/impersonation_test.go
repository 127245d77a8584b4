package impersonation

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/check"
	"github.com/mailwarden/mailwarden/check/checktest"
	"github.com/mailwarden/mailwarden/config"
	"github.com/mailwarden/mailwarden/store"
)

const testConfig = `
[organization]
internal_domains = ["example.com", "*.example.co.jp"]
trusted_networks = ["192.0.2.0/24"]

[impersonation]
protected_domains = ["apple.com", "paypal.com", "ibm.com", "mailwarden-bank.com"]
allow_domains = ["example.net"]

[[impersonation.people]]
name = "Taro Yamada"
aliases = ["山田 太郎", "ヤマダ タロウ"]
addresses = ["taro.yamada@example.com", "@yamada-family.example"]
`

func checks(t testing.TB, src string) (*Check, *ReplyTo, *FirstTime) {
	t.Helper()
	cs := build(checktest.Config(t, src))
	return cs[0].(*Check), cs[1].(*ReplyTo), cs[2].(*FirstTime)
}

func show(fs []check.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name+"="+f.Value+" @"+f.Where)
	}
	return out
}

func env() *check.Env {
	trusted := netip.MustParsePrefix("192.0.2.0/24")
	return &check.Env{Trusted: trusted.Contains}
}

func TestLookalike(t *testing.T) {
	c, _, _ := checks(t, testConfig)
	tests := []struct {
		domain, imitates string // "" for no finding
	}{
		{"example.com", ""},
		{"EXAMPLE.COM", ""},
		{"mail.example.com", ""},
		{"ｅｘａｍｐｌｅ．com", ""}, // the same domain, in full width
		{"tokyo.example.co.jp", ""},
		{"example.net", ""}, // allow_domains
		{"apple.com", ""},
		{"unrelated.org", ""},
		{"example-support.com", ""},
		{"xn--pple-43d.com", "apple.com"},   // Cyrillic а, punycode
		{"аpple.com", "apple.com"},          // the same, as UTF-8
		{"xn--80ak6aa92e.com", "apple.com"}, // аррӏе, all Cyrillic
		{"paypa1.com", "paypal.com"},
		{"paypai.com", "paypal.com"},
		{"paypal.co", "paypal.com"},
		{"www.paypal.com.evil.example", ""}, // the registrable domain is evil.example
		{"examp1e.com", "example.com"},
		{"exarnple.com", "example.com"},
		{"exmaple.com", "example.com"},   // transposition
		{"exampe.com", "example.com"},    // deletion
		{"example.co.uk", "example.com"}, // same name, other suffix
		{"exanpie.com", ""},              // two edits from a short label
		{"ibn.com", ""},                  // labels under 4 letters: skeleton only
		{"ibrn.com", "ibm.com"},
		{"mailwardem-bamk.com", "mailwarden-bank.com"}, // two edits, long label
		{"mailwardem-bamx.com", ""},                    // three
		{"xn--zz.com", ""},
		{"", ""},
	}
	for _, tt := range tests {
		f, ok := c.lookalike(tt.domain, "envelope", "the sender")
		got := ""
		if ok {
			got = f.Reason
		}
		if (tt.imitates == "") != !ok || (ok && !strings.Contains(got, "imitates "+tt.imitates+":")) {
			t.Errorf("lookalike(%q) = %v %q, want imitating %q", tt.domain, ok, got, tt.imitates)
		}
		if ok && f.Value != strings.ToLower(tt.domain) {
			t.Errorf("lookalike(%q) value = %q", tt.domain, f.Value)
		}
	}
}

func TestNoInternalDomains(t *testing.T) {
	c, _, _ := checks(t, "")
	if _, ok := c.lookalike("examp1e.com", "envelope", "x"); ok {
		t.Error("a lookalike without any protected domain")
	}
}

func TestDistanceConfig(t *testing.T) {
	c, _, _ := checks(t, "[organization]\ninternal_domains = [\"example.com\"]\n[impersonation]\ndistance_short = 0\n")
	if _, ok := c.lookalike("exmaple.com", "envelope", "x"); ok {
		t.Error("distance_short = 0 still finds one edit")
	}
	if _, ok := c.lookalike("examp1e.com", "envelope", "x"); !ok {
		t.Error("distance_short = 0 lost the equal skeleton")
	}
}

func eoh(headers ...string) []check.RawHeader {
	var out []check.RawHeader
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		out = append(out, check.RawHeader{Name: name, Value: value})
	}
	return out
}

func TestDisplayNameAndDomains(t *testing.T) {
	c, _, _ := checks(t, testConfig)
	tests := []struct {
		name string
		in   check.Input
		want []string
	}{
		{"impostor", check.Input{Headers: eoh("From: Taro Yamada <ceo.office@freemail.example>")},
			[]string{"impersonation.display_name=Taro Yamada @header:From"}},
		{"own address", check.Input{Headers: eoh("From: Taro Yamada <Taro.Yamada@Example.com>")}, nil},
		{"own domain entry", check.Input{Headers: eoh("From: \"YAMADA, Taro\" <taro@yamada-family.example>")}, nil},
		{"kanji in RFC 2047", check.Input{Headers: eoh("From: =?UTF-8?B?5bGx55Sw5aSq6YOO?= <x@freemail.example>")},
			[]string{"impersonation.display_name=Taro Yamada @header:From"}},
		{"ISO-2022-JP kana", check.Input{Headers: eoh("From: =?ISO-2022-JP?B?GyRCJGQkXiRAGyhCIBskQiQ/JG0kJhsoQg==?= <x@freemail.example>")},
			[]string{"impersonation.display_name=Taro Yamada @header:From"}},
		{"lookalike From domain", check.Input{Headers: eoh("From: Taro Yamada <taro.yamada@examp1e.com>")},
			[]string{"impersonation.display_name=Taro Yamada @header:From", "impersonation.domain=examp1e.com @header:From"}},
		{"lookalike Reply-To", check.Input{Headers: eoh("From: news@shop.example", "Reply-To: billing@xn--pple-43d.com")},
			[]string{"impersonation.domain=xn--pple-43d.com @header:Reply-To"}},
		{"malformed From", check.Input{Headers: eoh("From: Taro Yamada <x@freemail.example")}, nil},
		{"unbalanced quote", check.Input{Headers: eoh(`From: "Taro Yamada <x@freemail.example>`)},
			[]string{"impersonation.display_name=Taro Yamada @header:From"}},
		{"someone else", check.Input{Headers: eoh("From: Jiro Yamada <jiro@freemail.example>")}, nil},
		{"their address as the name", check.Input{Headers: eoh(`From: "TARO.YAMADA@EXAMPLE.COM" <x@freemail.example>`)},
			[]string{"impersonation.display_name=Taro Yamada @header:From"}},
		{"their address, really", check.Input{Headers: eoh(`From: "taro.yamada@example.com" <taro.yamada@example.com>`)}, nil},
		{"outbound", check.Input{AuthUser: "jiro", Headers: eoh("From: Taro Yamada <x@freemail.example>")}, nil},
		{"trusted network", check.Input{ClientIP: netip.MustParseAddr("192.0.2.9"), Headers: eoh("From: Taro Yamada <x@freemail.example>")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Env = env()
			fs, err := c.RunLate(context.Background(), &in)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(fs); !slices.Equal(got, tt.want) {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
			for _, f := range fs {
				if f.Name == FindingDisplayName && !strings.Contains(f.Reason, "@freemail.example") && !strings.Contains(f.Reason, "@examp1e.com") {
					t.Errorf("reason %q does not name the address used", f.Reason)
				}
			}
		})
	}
}

func TestEnvelopeLookalike(t *testing.T) {
	c, _, _ := checks(t, testConfig)
	for _, tt := range []struct {
		in   check.Input
		want []string
	}{
		{check.Input{Sender: "bounce@exmaple.com"}, []string{"impersonation.domain=exmaple.com @envelope"}},
		{check.Input{Sender: "bounce@example.com"}, nil},
		{check.Input{Sender: ""}, nil},
		{check.Input{Sender: "bounce@exmaple.com", AuthUser: "u"}, nil},
	} {
		in := tt.in
		in.Env = env()
		fs, err := c.Run(context.Background(), &in)
		if err != nil {
			t.Fatal(err)
		}
		if got := show(fs); !slices.Equal(got, tt.want) {
			t.Errorf("%q: findings = %q, want %q", tt.in.Sender, got, tt.want)
		}
	}
}

func TestReplyToMismatch(t *testing.T) {
	_, r, _ := checks(t, testConfig)
	tests := []struct {
		name    string
		headers []string
		want    []string
	}{
		{"same domain", []string{"From: a@shop.example", "Reply-To: b@shop.example"}, nil},
		{"same registrable domain", []string{"From: a@mail.shop.example.co.uk", "Reply-To: b@support.Shop.Example.co.uk"}, nil},
		{"other domain", []string{"From: ceo@example.com", "Reply-To: ceo@freemail.example"},
			[]string{"reply_to.mismatch=ceo@freemail.example @header:Reply-To"}},
		{"other suffix", []string{"From: a@shop.co.uk", "Reply-To: a@shop.co.jp"},
			[]string{"reply_to.mismatch=a@shop.co.jp @header:Reply-To"}},
		{"one of two", []string{"From: a@shop.example", "Reply-To: b@shop.example, c@elsewhere.example"},
			[]string{"reply_to.mismatch=c@elsewhere.example @header:Reply-To"}},
		{"no Reply-To", []string{"From: a@shop.example"}, nil},
		{"no From", []string{"Reply-To: a@shop.example"}, nil},
		{"IDN and punycode alike", []string{"From: a@xn--r8jz45g.jp", "Reply-To: b@例え.jp"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := check.Input{Headers: eoh(tt.headers...), Env: env()}
			fs, err := r.Run(context.Background(), &in)
			if err != nil {
				t.Fatal(err)
			}
			if got := show(fs); !slices.Equal(got, tt.want) {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
		})
	}
	in := check.Input{AuthUser: "u", Headers: eoh("From: ceo@example.com", "Reply-To: x@freemail.example"), Env: env()}
	if fs, _ := r.Run(context.Background(), &in); len(fs) != 0 {
		t.Errorf("outbound mail: %q", show(fs))
	}
}

func TestFirstTime(t *testing.T) {
	ctx := context.Background()
	st := checktest.OpenState(t, t.TempDir())
	if err := st.AddEvents(ctx, []*store.Event{{Time: checktest.T0, Stage: "eom", Action: "accept", Sender: "friend@ext.example",
		Recipients: []store.RecipientOutcome{{Address: "bob@example.com", Action: "accept"}}}}); err != nil {
		t.Fatal(err)
	}
	_, _, f := checks(t, testConfig)
	e := env()
	e.Correspondents = st
	tests := []struct {
		in   check.Input
		want []string
	}{
		{check.Input{Sender: "friend@ext.example", Rcpt: "bob@example.com"}, nil},
		{check.Input{Sender: "Friend@EXT.example", Rcpt: "Bob@example.com"}, nil},
		{check.Input{Sender: "friend@ext.example", Rcpt: "alice@example.com"}, []string{"sender.first_time=friend@ext.example @envelope"}},
		{check.Input{Sender: "new@ext.example", Rcpt: "bob@example.com"}, []string{"sender.first_time=new@ext.example @envelope"}},
		{check.Input{Sender: "", Rcpt: "bob@example.com"}, nil},
		{check.Input{Sender: "new@ext.example", Rcpt: "bob@example.com", AuthUser: "u"}, nil},
	}
	for _, tt := range tests {
		in := tt.in
		in.Env = e
		fs, err := f.Run(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		if got := show(fs); !slices.Equal(got, tt.want) {
			t.Errorf("%s -> %s: findings = %q, want %q", tt.in.Sender, tt.in.Rcpt, got, tt.want)
		}
	}
	// Without a tracking log there is nothing to say.
	in := check.Input{Sender: "new@ext.example", Rcpt: "bob@example.com", Env: env()}
	if fs, err := f.Run(ctx, &in); err != nil || len(fs) != 0 {
		t.Errorf("without a log: %q, %v", show(fs), err)
	}
	// A log that cannot be read is an error, which on_error skip turns
	// into check.error.
	in.Env.Correspondents = failing{}
	if _, err := f.Run(ctx, &in); !errors.Is(err, errBroken) {
		t.Errorf("broken log: err = %v", err)
	}
}

var errBroken = errors.New("broken")

type failing struct{}

func (failing) Corresponded(context.Context, string, string) (bool, error) { return false, errBroken }

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		src, key string
	}{
		{"[impersonation]\ndistance_short = 9\n", "impersonation.distance_short"},
		{"[impersonation]\ndistance_long = -1\n", "impersonation.distance_long"},
		{"[impersonation]\nlong_label = 0\n", "impersonation.long_label"},
		{"[impersonation]\nprotected_domains = [\"com\"]\n", "impersonation.protected_domains[0]"},
		{"[impersonation]\nallow_domains = [\"*.example.com\"]\n", "impersonation.allow_domains[0]"},
		{"[[impersonation.people]]\nname = \"---\"\naddresses = [\"a@example.com\"]\n", "impersonation.people[0].name"},
		{"[[impersonation.people]]\nname = \"Taro\"\n", "impersonation.people[0].addresses"},
		{"[[impersonation.people]]\nname = \"Taro\"\naddresses = [\"taro\"]\n", "impersonation.people[0].addresses[0]"},
		{"[[impersonation.people]]\nname = \"Taro\"\naliases = [\"\"]\naddresses = [\"t@example.com\"]\n", "impersonation.people[0].aliases[0]"},
		{"[[impersonation.people]]\nname = \"Taro\"\nemail = \"t@example.com\"\n", "email"},
	}
	for _, tt := range tests {
		_, rep, err := config.Decode("t.toml", []byte(tt.src))
		if err == nil {
			err = rep.Err()
		}
		if err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%q: error %v, want one on %s", tt.src, err, tt.key)
		}
	}
}

// FuzzParseAddresses: the lenient address parser never panics and never
// returns more than its bound.
func FuzzParseAddresses(f *testing.F) {
	for _, s := range []string{"Taro Yamada <t@example.com>", `"a, b" <x@y>, c@d`, "=?UTF-8?B?5bGx55Sw?= <x@y>",
		`"unbalanced <x@y>`, "<<<>>>", "=?ISO-2022-JP?B?GyRCJGQbKEI=?= <x@y", "a@b, " + strings.Repeat("c@d, ", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if as := ParseAddresses(v); len(as) > maxAddrs {
			t.Errorf("%d addresses, bound %d", len(as), maxAddrs)
		}
	})
}

// BenchmarkRunLate is the end-of-headers cost of the check on a message
// whose From shows a protected name from a lookalike domain, with ten
// protected domains and ten people.
func BenchmarkRunLate(b *testing.B) {
	src := testConfig
	for i := range 10 {
		src += fmt.Sprintf("[[impersonation.people]]\nname = \"Person%d Surname%d\"\naddresses = [\"p%d@example.com\"]\n", i, i, i)
	}
	c, _, _ := checks(b, src)
	in := &check.Input{Env: env(), Headers: eoh("From: =?UTF-8?B?5bGx55Sw5aSq6YOO?= <x@examp1e.com>", "Reply-To: y@xn--pple-43d.com")}
	for b.Loop() {
		fs, err := c.RunLate(context.Background(), in)
		if err != nil || len(fs) != 3 {
			b.Fatalf("%q, %v", show(fs), err)
		}
	}
}
