package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// A section is a top-level table ([dns]) or array of tables ([[dnsbl]])
// that a check package owns: it registers the section's Go type, its
// defaults and its validation, and reads the decoded value back with
// [Section]. The core sections ([server], [limits], [[rule]], ...) are
// fields of [Config] instead.
type section struct {
	name     string
	typ      reflect.Type // T: a struct for a table, a slice of structs for an array of tables
	defaults func() any   // a *T holding the defaults
	validate func(r *Report, v any)
}

var (
	sectionsMu sync.Mutex
	sections   = map[string]*section{}
)

// Register adds the section name, decoded into a T: a struct for a table
// such as [dns], or a slice of structs for an array of tables such as
// [[dnsbl]]. defaults returns the value before decoding (for an array, its
// elements' defaults are the validator's to fill in); validate checks the
// decoded value and reports each problem with [Report.Add] on its key path
// ("dns.timeout", "dnsbl[1].zone"), so it gets its line. Check packages call
// Register from init; a name registered twice, or one of the core
// sections, panics.
//
// Every field of T needs a toml tag and a doc comment, like the core
// sections' (contrib/mailwarden.toml documents every key; a test keeps the
// two in step).
func Register[T any](name string, defaults func() T, validate func(r *Report, v *T)) {
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	if _, dup := sections[name]; dup || coreSection(name) {
		panic(fmt.Sprintf("config: section %q registered twice", name))
	}
	sections[name] = &section{
		name: name,
		typ:  reflect.TypeFor[T](),
		defaults: func() any {
			v := defaults()
			unshare(reflect.ValueOf(&v).Elem())
			return &v
		},
		validate: func(r *Report, v any) { validate(r, v.(*T)) },
	}
}

// unshare gives v's slices and maps (and those of its settable fields) a
// backing store of their own. The TOML decoder writes array elements into a
// slice that has room, so a default that is a package-level slice
// (DefaultMassMailers) would otherwise be overwritten by the first file
// that sets the key, and every later config, a SIGHUP's included, would
// start from the file's values.
func unshare(v reflect.Value) {
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		for i := 0; i < c.Len(); i++ {
			unshare(c.Index(i))
		}
	case reflect.Map:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			c.SetMapIndex(it.Key(), it.Value())
		}
		v.Set(c)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() {
				unshare(f)
			}
		}
	}
}

// Section returns the decoded value of a registered section, or its
// defaults when the file does not set it. It panics when name was not
// registered as a T: that is a bug in the caller, not in the file.
func Section[T any](c *Config, name string) *T {
	if v, ok := c.sections[name]; ok {
		return v.(*T)
	}
	sectionsMu.Lock()
	s := sections[name]
	sectionsMu.Unlock()
	if s == nil {
		panic(fmt.Sprintf("config: section %q is not registered", name))
	}
	return s.defaults().(*T)
}

// registered lists the registered sections, sorted by name.
func registered() []*section {
	sectionsMu.Lock()
	defer sectionsMu.Unlock()
	out := make([]*section, 0, len(sections))
	for _, s := range sections {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Sections lists the names of the registered sections, sorted.
func Sections() []string {
	var out []string
	for _, s := range registered() {
		out = append(out, s.name)
	}
	return out
}

// coreSection reports whether name is a field of [Config].
func coreSection(name string) bool {
	t := reflect.TypeFor[Config]()
	for i := 0; i < t.NumField(); i++ {
		if tomlName(t.Field(i)) == name {
			return true
		}
	}
	return false
}

func tomlName(f reflect.StructField) string {
	return strings.Split(f.Tag.Get("toml"), ",")[0]
}

// decodeTarget builds what the TOML decoder fills: a struct with a pointer
// to each core section of cfg and to a fresh defaults value of each
// registered section, which it records in cfg.sections. The decoder follows
// the pointers, so defaults survive where the file is silent, and keys of
// no field stay undecoded, which makes them "unknown key" problems.
func decodeTarget(cfg *Config, secs []*section) any {
	cv := reflect.ValueOf(cfg).Elem()
	var fields []reflect.StructField
	var ptrs []reflect.Value
	for i := 0; i < cv.NumField(); i++ {
		f := cv.Type().Field(i)
		name := tomlName(f)
		if name == "" || name == "-" {
			continue
		}
		fields = append(fields, reflect.StructField{Name: f.Name, Type: reflect.PointerTo(f.Type), Tag: f.Tag})
		ptrs = append(ptrs, cv.Field(i).Addr())
	}
	cfg.sections = map[string]any{}
	for i, s := range secs {
		v := s.defaults()
		cfg.sections[s.name] = v
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("Section%d", i), Type: reflect.PointerTo(s.typ),
			Tag: reflect.StructTag(fmt.Sprintf("toml:%q", s.name))})
		ptrs = append(ptrs, reflect.ValueOf(v))
	}
	t := reflect.New(reflect.StructOf(fields))
	for i, p := range ptrs {
		t.Elem().Field(i).Set(p)
	}
	return t.Interface()
}
