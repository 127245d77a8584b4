package doctext

import (
	"context"
	"testing"
)

func BenchmarkExtract(b *testing.B) {
	for _, f := range []struct {
		k    Kind
		name string
	}{{PDF, "report.pdf"}, {DOCX, "memo.docx"}, {XLSX, "cards.xlsx"}} {
		data := fixture(b, f.name)
		b.Run(f.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Extract(context.Background(), f.k, data, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
