// Package policy is mailwarden's rule engine: rule compilation from the
// [[rule]] tables that package config decodes, and evaluation. Address
// patterns and network lists are parsed and looked up by policy/lists.
//
// Checks report findings ([scanner.Finding]); rules map findings and session
// facts to actions. Each condition knows the [Stage] at which its facts are
// known, and a rule is decided at the latest stage among its conditions, the
// earliest at which it can be decided. [Policy.Evaluate] is a pure function
// of [Facts], shared by the milter and `mailwarden check`.
//
// Precedence, per recipient: rules run in stage order, and within a stage in
// file order. The first matching rule with a terminal action (accept,
// reject, tempfail, discard, quarantine) decides and stops evaluation;
// modifying actions (tag_subject, add_headers) of every matching rule up to
// it add up. Across the recipients of one message at end of message,
// [Combine] applies: tempfail, then reject, then a split delivery.
package policy
