// Package config is mailwarden's configuration file: the TOML model of the
// core sections ([server], [organization], [limits], [store], [release],
// [policy] and the [[rule]] tables), the registry through which a check
// package adds its own section ([dns], [[dnsbl]], [[throttle]], ...), and
// line-precise validation.
//
// [Decode] reads a file once into the core sections and every registered
// one, and collects every problem at once in a [Report]: unknown keys (with
// a "did you mean" hint), type mismatches, and what each section's
// validator finds, each as "file:line: key: problem (hint: ...)". The rule
// compiler in policy/ adds its problems to the same report, so a file with
// a bad [[dnsbl]] zone and a bad rule hears about both.
//
// Importing nothing of mailwarden's, config can be imported by any check.
package config
