package policy

import (
	"strings"
	"testing"
)

func TestParseAddressList(t *testing.T) {
	test := func(items []string, wantPatterns []string, wantErrs int) {
		t.Helper()
		l, errs := ParseAddressList(items)
		if len(errs) != wantErrs {
			t.Errorf("ParseAddressList(%q): %d errors %v, want %d", items, len(errs), errs, wantErrs)
		}
		got := patterns(l)
		if strings.Join(got, "|") != strings.Join(wantPatterns, "|") {
			t.Errorf("ParseAddressList(%q) = %q, want %q", items, got, wantPatterns)
		}
	}
	test(nil, nil, 0)
	test([]string{}, nil, 0)
	test([]string{"a@x.example"}, []string{"a@x.example"}, 0)
	test([]string{"a@x.example, b@x.example"}, []string{"a@x.example", "b@x.example"}, 0)
	test([]string{"a@x.example b@x.example\t*@*.y.example"}, []string{"a@x.example", "b@x.example", "*@*.y.example"}, 0)
	test([]string{"a@x.example;b@x.example", "<>"}, []string{"a@x.example", "b@x.example", "<>"}, 0)
	test([]string{"a@x.example,,  ,"}, []string{"a@x.example"}, 0)
	// An element that holds no pattern at all is an error: recipients = [""]
	// would otherwise be a rule for every recipient.
	test([]string{"a@x.example", "", " , ", "\n"}, []string{"a@x.example"}, 3)
	// Every bad element is reported, and the good ones are still kept.
	test([]string{"bad, a@x.example, a*b@x.example", "*@x*y", "c@y.example"}, []string{"a@x.example", "c@y.example"}, 3)
	test([]string{"one", "two", "three"}, nil, 3)

	// The errors name the elements, so a config problem points at the right one.
	_, errs := ParseAddressList([]string{"ok@x.example, first", "second@"})
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), `"first"`) || !strings.Contains(errs[1].Error(), `"second@"`) {
		t.Errorf("errors %v, want one naming \"first\" then one naming \"second@\"", errs)
	}

	// A list matches when any pattern does.
	l, _ := ParseAddressList([]string{"a@x.example, *@*.y.example"})
	for addr, want := range map[string]bool{"a@x.example": true, "b@x.example": false, "c@sub.y.example": true, "c@y.example": false, "": false} {
		if got := l.Match(addr); got != want {
			t.Errorf("list.Match(%q) = %v, want %v", addr, got, want)
		}
	}
	if (AddressList{}).Match("a@x.example") {
		t.Error("an empty list matched")
	}
}
