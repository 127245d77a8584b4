package config

import (
	"fmt"
	"reflect"
	"strings"
)

// keyLines maps key paths to the line that sets them. BurntSushi/toml keeps
// key positions private, so validation errors find their line here. Paths
// use indexes for arrays of tables ("rule[2].action"); plain holds the same
// keys without indexes ("rule.action"), one line per occurrence, because
// MetaData.Undecoded reports keys that way.
type keyLines struct {
	indexed map[string]int
	plain   map[string][]int
	// body is, for a key set to a multi-line string, the line its text
	// starts on: the next line when the opening delimiter ends the line,
	// because TOML drops that newline.
	body map[string]int
	// elems holds the line of each element of an array that spans lines
	// ("rule[0].senders[2]"), so a problem with one element points at it.
	// They are kept apart from indexed, whose keys name what a line sets.
	elems map[string]int
}

// line returns the line of key, or of its nearest parent that has one.
func (k keyLines) line(key string) int {
	for key != "" {
		if n, ok := k.elems[key]; ok {
			return n
		}
		if n, ok := k.indexed[key]; ok {
			return n
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// keyAt returns the indexed key path set on line, or "".
func (k keyLines) keyAt(line int) string {
	if line == 0 {
		return ""
	}
	for key, l := range k.indexed {
		if l == line {
			return key
		}
	}
	return ""
}

// nth returns the line of the n-th occurrence of an unindexed key path.
func (k keyLines) nth(plain string, n int) int {
	if ls := k.plain[plain]; n < len(ls) {
		return ls[n]
	}
	return 0
}

// indexKeys scans TOML source for table headers and keys. It is lenient:
// the real parse is BurntSushi/toml's, and a line this scan misreads only
// costs a less precise line number.
func indexKeys(src []byte) keyLines {
	k := keyLines{indexed: map[string]int{}, plain: map[string][]int{}, body: map[string]int{}, elems: map[string]int{}}
	var arr arrayScan
	arrays := map[string]int{} // plain array-of-tables path -> count so far
	var prefix, plainPrefix string
	lines := strings.Split(string(src), "\n")
	depth := 0    // open [ or { of a value spanning lines
	inMulti := "" // open """ or ''' delimiter
	for i, raw := range lines {
		lineNo := i + 1
		line := strings.TrimSpace(raw)
		if inMulti != "" {
			if strings.Contains(line, inMulti) {
				inMulti = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDelta(line)
			arr.scan(k, line, lineNo)
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[[") {
			name := keyPath(strings.TrimSpace(strings.TrimSuffix(strings.SplitN(line[2:], "]]", 2)[0], "]]")))
			plainPrefix = name
			n := arrays[name]
			arrays[name] = n + 1
			prefix = indexedPrefix(name, arrays)
			k.indexed[prefix] = lineNo
			k.plain[plainPrefix] = append(k.plain[plainPrefix], lineNo)
			continue
		}
		if line[0] == '[' {
			name := keyPath(strings.TrimSpace(strings.SplitN(line[1:], "]", 2)[0]))
			plainPrefix = name
			prefix = indexedPrefix(name, arrays)
			k.indexed[prefix] = lineNo
			k.plain[plainPrefix] = append(k.plain[plainPrefix], lineNo)
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq < 0 {
			continue
		}
		key := keyPath(strings.TrimSpace(line[:eq]))
		full, plain := join(prefix, key), join(plainPrefix, key)
		if _, dup := k.indexed[full]; !dup {
			k.indexed[full] = lineNo
		}
		k.plain[plain] = append(k.plain[plain], lineNo)
		val := strings.TrimSpace(line[eq+1:])
		for _, d := range []string{`"""`, `'''`} {
			if strings.HasPrefix(val, d) && !strings.Contains(val[3:], d) {
				inMulti = d
				k.body[full] = lineNo
				if val == d && strings.HasSuffix(strings.TrimSuffix(raw, "\r"), d) {
					k.body[full] = lineNo + 1
				}
			}
		}
		if inMulti == "" {
			depth = bracketDelta(val)
			if depth > 0 && strings.HasPrefix(val, "[") {
				arr = arrayScan{key: full, first: lineNo}
				arr.scan(k, val, lineNo)
			}
		}
	}
	return k
}

// arrayScan follows an array value over the lines it spans and records the
// line each of its elements starts on.
type arrayScan struct {
	key   string // "" when done
	first int    // the key's line; elements there need no entry
	depth int    // bracket depth inside the value; 1 is the array itself
	elem  int    // index of the current element
	seen  bool   // the current element has started
}

func (a *arrayScan) scan(k keyLines, s string, lineNo int) {
	var quote byte
	for i := 0; i < len(s) && a.key != ""; i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' {
			continue
		}
		if c == '#' {
			return
		}
		if a.depth == 1 && c != ',' && c != ']' && !a.seen {
			a.seen = true
			if lineNo != a.first {
				k.elems[fmt.Sprintf("%s[%d]", a.key, a.elem)] = lineNo
			}
		}
		switch c {
		case '"', '\'':
			quote = c
		case '[', '{':
			a.depth++
		case ']', '}':
			if a.depth--; a.depth == 0 {
				a.key = ""
			}
		case ',':
			if a.depth == 1 {
				a.elem++
				a.seen = false
			}
		}
	}
}

// indexedPrefix turns "rule.headers" into "rule[N].headers" using the current
// count of each array of tables along the path.
func indexedPrefix(name string, arrays map[string]int) string {
	parts := strings.Split(name, ".")
	var out []string
	for i := range parts {
		p := parts[i]
		if n, ok := arrays[strings.Join(parts[:i+1], ".")]; ok {
			p = fmt.Sprintf("%s[%d]", p, n-1)
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

// keyPath normalises a dotted, possibly quoted TOML key to a.b.c.
func keyPath(s string) string {
	var parts []string
	for s != "" {
		s = strings.TrimSpace(s)
		var part string
		if s != "" && (s[0] == '"' || s[0] == '\'') {
			end := strings.IndexByte(s[1:], s[0])
			if end < 0 {
				return strings.Join(append(parts, s), ".")
			}
			part, s = s[1:end+1], s[end+2:]
		} else {
			dot := strings.IndexByte(s, '.')
			if dot < 0 {
				part, s = s, ""
			} else {
				part, s = s[:dot], s[dot:]
			}
		}
		parts = append(parts, strings.TrimSpace(part))
		s = strings.TrimSpace(s)
		s = strings.TrimPrefix(s, ".")
	}
	return strings.Join(parts, ".")
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// bracketDelta counts opening minus closing brackets outside strings and
// comments.
func bracketDelta(s string) int {
	d := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return d
		case c == '[' || c == '{':
			d++
		case c == ']' || c == '}':
			d--
		}
	}
	return d
}

// KnownKeys lists every key path the config accepts, unindexed.
func KnownKeys() []string {
	var keys []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("toml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			path := join(prefix, tag)
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) && ft != reflect.TypeOf(Size{}) {
				walk(path, ft)
				continue
			}
			keys = append(keys, path)
		}
	}
	walk("", reflect.TypeOf(Config{}))
	for _, s := range registered() {
		t := s.typ
		if t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		walk(s.name, t)
	}
	return keys
}

// closestKey suggests the known key nearest to an unknown one.
func closestKey(unknown string) string {
	best, bestD := "", 4
	for _, k := range KnownKeys() {
		if d := EditDistance(unknown, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return "did you mean " + best + "?"
}

// EditDistance is the Levenshtein distance of a and b, for "did you mean" hints.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
