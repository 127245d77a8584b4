package check

import (
	"fmt"

	"github.com/mailwarden/mailwarden/scanner/urls"
)

// URLs is the URLs of in's message under lim, searched once per stage for
// every check that asks with the same limits (the spam tests and the
// Bayesian classifier); callers read the collector and never add to it.
func URLs(in *Input, lim urls.Limits) *urls.Collector {
	return in.Shared.Do(fmt.Sprintf("check.URLs %+v", lim), func() any {
		return urls.FromMessage(in.Message, lim)
	}).(*urls.Collector)
}
