package testorder

import "testing"

func TestM(t *testing.T) {}

func TestN(t *testing.T) {}
