#!/usr/bin/env bash
# Regenerate the static shell completion scripts from the CLI's command tree.
# tests/test_completions.py fails when these files are stale.
set -euo pipefail
cd "$(dirname "$0")"
for shell in bash zsh fish; do
  python -m phasecli.cli.completion "$shell" > "phasecli.${shell}"
done
