package policy

// Catalog is what policy knows of the checks of one loaded configuration:
// the finding names they declare and the stage at which each is known.
// check.Set implements it; policy never imports the checks themselves.
type Catalog interface {
	// FindingStage is the stage at which name is known, and whether any
	// check declares it.
	FindingStage(name string) (Stage, bool)
	// FindingNames lists every declared name (families as "prefix.*").
	FindingNames() []string
}
