#!/usr/bin/env bash
# Regenerate the shell completion scripts from the CLI (click's shell completion).
# tests/test_completions.py fails when these files are stale.
set -euo pipefail
cd "$(dirname "$0")"
for shell in bash zsh fish; do
  _PHASECLI_COMPLETE="${shell}_source" phasecli > "phasecli.${shell}"
done
