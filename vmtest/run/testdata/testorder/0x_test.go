package testorder_test

import "testing"

// An external test package's tests run after the package's own, whatever
// its file's name.
func TestXFirstFile(t *testing.T) {}
