package htmltext

import (
	"strings"
	"testing"
)

// BenchmarkRender renders a 300 KB newsletter-like document.
func BenchmarkRender(b *testing.B) {
	doc := "<html><head><style>p{margin:0}</style></head><body>" +
		strings.Repeat(`<table><tr><td style="color:#333"><p>Dear <b>customer</b>, see our <a href="https://example.com/x">offer</a> &amp; more.</p></td></tr></table><!-- c -->`, 2000) +
		"</body></html>"
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		Render(doc, Limits{})
	}
}
