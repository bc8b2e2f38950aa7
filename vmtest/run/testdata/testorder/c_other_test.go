//go:build !linux

package testorder

import "testing"

func TestNotLinux(t *testing.T) {}
