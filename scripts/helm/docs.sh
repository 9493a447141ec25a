#!/usr/bin/env bash
# Regenerates deploy/helm/jit/README.md from values.yaml (its `# --` comments) and README.md.gotmpl
# with the pinned helm-docs; scripts/helm/test.sh fails when the committed README differs.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools="$(bash scripts/helm/tools.sh)"
"$tools/bin/helm-docs" --log-level warning --chart-search-root deploy/helm/jit --template-files README.md.gotmpl
