// Package emptytest holds one empty test: the guest workload of kmodvm's
// framework-cost benchmark.
package emptytest

import "testing"

func TestEmpty(t *testing.T) {}
