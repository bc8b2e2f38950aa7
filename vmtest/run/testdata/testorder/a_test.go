// Package testorder is a fixture of vmtest/run's tests: the order in
// which go test runs a package's tests (that of -test.list).
package testorder

import "testing"

// Declared before TestA, so run before it.
func TestZ(t *testing.T) {}

func TestA(t *testing.T) {}

func TestMain(m *testing.M) { m.Run() }
