//go:build !unix

package main

// becomeDataOwner does nothing where there are no user IDs to change to.
func becomeDataOwner(dataDir string) error { return nil }
