package impersonation

import (
	"testing"
)

func keySet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		for _, k := range NameKeys(n) {
			m[k] = true
		}
	}
	return m
}

func TestMatchName(t *testing.T) {
	tests := []struct {
		person  string
		display string
		want    bool
	}{
		// Latin: case, order, spacing, punctuation, width, diacritics.
		{"Taro Yamada", "Taro Yamada", true},
		{"Taro Yamada", "taro yamada", true},
		{"Taro Yamada", "TARO YAMADA", true},
		{"Taro Yamada", "Yamada Taro", true},
		{"Taro Yamada", "YAMADA, Taro", true},
		{"Taro Yamada", "Yamada.Taro", true},
		{"Taro Yamada", "TaroYamada", true},
		{"Taro Yamada", "T a r o  Y a m a d a", true},
		{"Taro Yamada", "ＴＡＲＯ　ＹＡＭＡＤＡ", true},
		{"Taro Yamada", "Tarō Yamada", true},
		{"Taro Yamada", "Taro Yamada (CEO)", true},
		{"Taro Yamada", "Taro Yamada via Example Corp", true},
		{"Taro Yamada", `"Taro Yamada <taro.yamada@example.com>"`, true},
		{"Taro Yamada", "Taro Yamadas", false},
		{"Taro Yamada", "Jiro Yamada", false},
		{"Taro Yamada", "Taro", false},
		{"Taro Yamada", "Yamada", false},
		{"Taro Yamada", "", false},
		{"José García", "Jose Garcia", true},
		{"Jose Garcia", "JOSÉ GARCÍA", true},
		{"François Müller", "Francois Muller", true},
		{"Ærin Ødegård", "Ærin Odegard", true},
		// Confusables: Cyrillic and Greek letters, digits, capital I for l.
		{"Bill Gates", "Вill Gаtes", true}, // Cyrillic В and а
		{"Bill Gates", "BiII Gates", true}, // capital I twice
		{"Bill Gates", "Bi11 Gates", true}, // digit one
		{"Bill Gates", "BILL GATES", true},
		{"Paul Smith", "PauI Smith", true},
		{"Paul Smith", "Ρaul Smith", true},  // Greek capital rho
		{"Paul Smith", "Pau1 Srnith", true}, // 1 for l, rn for m
		{"Olga Orlova", "0lga 0rlova", true},
		{"Paul Smith", "Paul Smyth", false},
		{"Bill Gates", "Vill Gates", false},
		// Japanese: kanji with or without the space, either order.
		{"山田 太郎", "山田太郎", true},
		{"山田 太郎", "山田　太郎", true},
		{"山田太郎", "山田 太郎", true},
		{"山田 太郎", "太郎 山田", true},
		{"山田 太郎", "山田太郎（代表取締役）", true},
		{"山田 太郎", "山田 次郎", false},
		{"山田 太郎", "山田", false},
		// Kana: hiragana and katakana, half-width, the middle dot.
		{"ヤマダ タロウ", "やまだ たろう", true},
		{"ヤマダ タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ", true},
		{"ヤマダ タロウ", "ヤマダ・タロウ", true},
		{"やまだ たろう", "ヤマダタロウ", true},
		{"ヤマダ タロウ", "ヤマタ タロウ", false}, // ダ is not タ
		{"ヤマダ タロウ", "ヤマダ ジロウ", false},
	}
	for _, tt := range tests {
		if got := MatchName(tt.display, keySet(tt.person)); got != tt.want {
			t.Errorf("MatchName(%q) for %q = %v, want %v (keys %q)", tt.display, tt.person, got, tt.want, NameKeys(tt.person))
		}
	}
}

func TestNameKeysEmpty(t *testing.T) {
	for _, s := range []string{"", "   ", "---", "。、", "\x00\x01"} {
		if k := NameKeys(s); len(k) != 0 {
			t.Errorf("NameKeys(%q) = %q, want none", s, k)
		}
	}
}

func TestParseDomain(t *testing.T) {
	tests := []struct {
		in                                string
		ok                                bool
		unicode, registrable, label, skel string
	}{
		{"example.com", true, "example.com", "example.com", "example", "exarnple"},
		{"Mail.Example.COM.", true, "mail.example.com", "example.com", "example", "exarnple"},
		{"shop.example.co.jp", true, "shop.example.co.jp", "example.co.jp", "example", "exarnple"},
		{"xn--pple-43d.com", true, "аpple.com", "аpple.com", "аpple", "apple"}, // Cyrillic а
		{"аpple.com", true, "аpple.com", "аpple.com", "аpple", "apple"},
		{"ｅｘａｍｐｌｅ．com", true, "example.com", "example.com", "example", "exarnple"},
		{"example。com", true, "example.com", "example.com", "example", "exarnple"},
		{"paypa1.com", true, "paypa1.com", "paypa1.com", "paypa1", "paypal"},
		{"rnicrosoft.com", true, "rnicrosoft.com", "rnicrosoft.com", "rnicrosoft", "rnicrosoft"},
		{"microsoft.com", true, "microsoft.com", "microsoft.com", "microsoft", "rnicrosoft"},
		{"xn--80ak6aa92e.com", true, "аррӏе.com", "аррӏе.com", "аррӏе", "appie"}, // palochka's skeleton is i
		{"com", false, "", "", "", ""},
		{"", false, "", "", "", ""},
		{"a b.com", false, "", "", "", ""},
	}
	for _, tt := range tests {
		d, ok := ParseDomain(tt.in)
		if ok != tt.ok {
			t.Errorf("ParseDomain(%q) ok = %v, want %v (%+v)", tt.in, ok, tt.ok, d)
			continue
		}
		if !ok {
			continue
		}
		if d.Unicode != tt.unicode || d.Registrable != tt.registrable || d.Label != tt.label || d.Skeleton != tt.skel {
			t.Errorf("ParseDomain(%q) = %+v, want unicode %q registrable %q label %q skeleton %q",
				tt.in, d, tt.unicode, tt.registrable, tt.label, tt.skel)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b  string
		limit int
		want  int
	}{
		{"", "", 2, 0},
		{"example", "example", 2, 0},
		{"example", "exmaple", 2, 1}, // a transposition is one edit
		{"example", "exampl", 2, 1},
		{"example", "examples", 2, 1},
		{"example", "exampie", 2, 1},
		{"kitten", "sitting", 5, 3},
		{"kitten", "sitting", 2, 3}, // past the limit: limit+1
		{"ab", "abcdef", 1, 2},
		{"山田", "山口", 1, 1},  // runes, not bytes
		{"ca", "abc", 3, 3}, // optimal string alignment, not unrestricted
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b, tt.limit); got != tt.want {
			t.Errorf("Distance(%q, %q, %d) = %d, want %d", tt.a, tt.b, tt.limit, got, tt.want)
		}
		if got := Distance(tt.b, tt.a, tt.limit); got != tt.want {
			t.Errorf("Distance(%q, %q, %d) = %d, want %d (symmetric)", tt.b, tt.a, tt.limit, got, tt.want)
		}
	}
}

// FuzzNormalize: the normaliser never panics, a name always matches
// itself, and the distance is symmetric and bounded.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Taro Yamada", "YAMADA, Taro", "山田 太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "Вill Gаtes", "xn--pple-43d.com",
		"ｅｘａｍｐｌｅ．com", "\xff\xfe", "a\u0301\u0302", "ｶﾞ゙゙", "..", "xn--", "xn--zz-bad.com"} {
		f.Add(s, "example.com")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if keys := NameKeys(a); len(keys) > 0 {
			m := map[string]bool{}
			for _, k := range keys {
				m[k] = true
			}
			if !MatchName(a, m) {
				t.Errorf("%q does not match its own keys %q", a, keys)
			}
		}
		for _, s := range []string{a, b} {
			if d, ok := ParseDomain(s); ok && (d.Registrable == "" || d.Label == "") {
				t.Errorf("ParseDomain(%q) = %+v: ok without a registrable label", s, d)
			}
		}
		if len(a) > 200 || len(b) > 200 {
			return
		}
		d1, d2 := Distance(a, b, 3), Distance(b, a, 3)
		if d1 != d2 || d1 < 0 || d1 > 4 {
			t.Errorf("Distance(%q, %q) = %d, reverse %d", a, b, d1, d2)
		}
		if (d1 == 0) != (a == b) && []rune(a) != nil && string([]rune(a)) == a && string([]rune(b)) == b {
			t.Errorf("Distance(%q, %q) = %d", a, b, d1)
		}
	})
}
