package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…" (make
// build does). When it is not, [buildVersion] reads the module's build
// information instead.
var version = ""

func init() {
	register(&command{
		name:    "version",
		summary: "print the version (also: mailwarden --version, -V)",
		flags: func(fs *flag.FlagSet) func(context.Context, []string, *stdio) error {
			return func(_ context.Context, args []string, s *stdio) error {
				if len(args) > 0 {
					return errUsage
				}
				fmt.Fprintf(s.out, "mailwarden %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			}
		},
	})
}

// buildVersion is the version this binary reports.
func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(version, bi)
}

// versionOf picks the version: the one set at link time; else the module
// version `go install …@v1.2.3` records (or, since Go 1.24, the
// pseudo-version `go build` derives from the VCS); else the VCS revision
// `go build` stamps in a checkout, marked when the tree had changes; else
// "devel".
func versionOf(linked string, bi *debug.BuildInfo) string {
	if linked != "" && linked != "dev" {
		return linked
	}
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := "devel-" + rev
	if modified == "true" {
		v += "-dirty"
	}
	return v
}
