// Package guestpkg is a Go test package in a module of its own, as a user's
// would be, for the tests layer of the image.
package guestpkg

import (
	"os"
	"testing"
)

func TestReadsTestdata(t *testing.T) {
	b, err := os.ReadFile("testdata/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", b)
}
