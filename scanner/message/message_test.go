package message

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailwarden/mailwarden/scanner"
)

var update = flag.Bool("update", false, "rewrite testdata/messages (.eml from the builders, .golden from Parse)")

const corpusDir = "../../testdata/messages"

// TestCorpus checks that every generated .eml file matches its builder.
func TestCorpus(t *testing.T) {
	for _, c := range corpus {
		path := filepath.Join(corpusDir, c.name+".eml")
		want := c.bytes()
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to generate)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its builder; run go test -run TestCorpus -update", path)
		}
	}
}

// golden is what a .golden file holds for one message.
type golden struct {
	*Message
	GTUBE *scanner.Finding `json:"gtube"`
}

func TestGolden(t *testing.T) {
	if *update {
		// The .eml files must exist before they are parsed.
		TestCorpus(t)
	}
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no messages in %s: %v", corpusDir, err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m := Parse(bytes.NewReader(raw), DefaultLimits())
			g := golden{Message: m}
			if f, ok := m.GTUBE(); ok {
				g.GTUBE = &f
			}
			var buf bytes.Buffer
			je := json.NewEncoder(&buf)
			je.SetEscapeHTML(false)
			je.SetIndent("", "  ")
			if err := je.Encode(g); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			gpath := strings.TrimSuffix(file, ".eml") + ".golden"
			if *update {
				if err := os.WriteFile(gpath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gpath)
			if err != nil {
				t.Fatalf("%v (run with -update to generate)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Parse(%s) differs from %s; got:\n%s", file, gpath, got)
			}
		})
	}
}
