package policy

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// checkGolden compares got with the golden file at path; with -update it
// rewrites the file instead.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestBadConfigs loads every testdata/badconfig/NAME/config.toml as
// "config.toml" and compares the error with NAME/expected-error. A case with
// a BUG file documents a known bug: it is skipped while the output differs
// and fails once it matches, so the BUG file gets removed with the fix.
func TestBadConfigs(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "testdata", "badconfig", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 8 {
		t.Fatalf("found %d bad configs in ../testdata/badconfig, want at least 8", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "config.toml"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Load("config.toml", src)
			var got string
			if err != nil {
				got = err.Error() + "\n"
				if !errors.Is(err, ErrConfig) {
					t.Errorf("errors.Is(err, ErrConfig) = false for %v", err)
				}
			}
			bug, _ := os.ReadFile(filepath.Join(dir, "BUG"))
			wantPath := filepath.Join(dir, "expected-error")
			if *update && len(bug) == 0 {
				if err == nil {
					t.Fatal("config loads without error; a bad config must fail")
				}
				if err := os.WriteFile(wantPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case got != string(want) && len(bug) > 0:
				t.Skipf("BUG: %s\n--- got\n%s--- want\n%s", strings.TrimSpace(string(bug)), got, want)
			case got != string(want):
				t.Errorf("error differs (run go test -update to accept):\n--- got\n%s--- want\n%s", got, want)
			case len(bug) > 0:
				t.Errorf("the known bug is fixed; remove %s", filepath.Join(dir, "BUG"))
			}
		})
	}
}
