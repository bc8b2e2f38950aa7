#!/bin/sh
# Lints the GitHub Actions workflows (and, through them, the composite
# action they use) with actionlint, built from source at a pinned version
# through the Go module proxy so that no binary download is needed. With
# ShellCheck on PATH, actionlint also checks every run: script with it.
set -eu

ACTIONLINT_VERSION=v1.7.12

cd "$(dirname "$0")/.."
exec go run "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" "$@"
