#!/usr/bin/env bash
# Regenerate the README's figures (docs/figures/*.png): each command as the README shows it, then
# shrunk to 1100 pixels wide with a 256-colour palette so the repository stays small.
set -euo pipefail
cd "$(dirname "$0")"
PHASECLI=${PHASECLI:-phasecli}
draw() {  # draw NAME ARGS...: phasecli ARGS --png NAME.png, rows discarded
    local name=$1; shift
    "$PHASECLI" "$@" --png "$name.png" -f csv > /dev/null
    python - "$name.png" <<'PY'
import sys
from PIL import Image
path = sys.argv[1]
img = Image.open(path).convert("RGB")
if img.width > 1100:
    img = img.resize((1100, round(img.height * 1100 / img.width)), Image.LANCZOS)
img.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
PY
}
draw phase phase -a tanh --sw2 0.5:4:60 --sb2 0:1:40
draw phase_relu phase -a relu --sw2 0.5:4:60 --sb2 0:1:40
draw phase_relu_line phase -a relu --sw2 2 --sb2 0:1:50
draw critical critical -a tanh --sb2 0:1:12
draw kappa kappa -a tanh --sw2 0.5:4:30 --sb2 0.05 --examples 16 --depth log:1:1000:40
draw lr lr -a tanh --sw2 0.5:4:30 --sb2 0.05 --examples 16 --depth 1:60
draw generalize generalize --train digits --test digits --examples 100 --balance --test-examples 100 -a tanh \
    --sw2 0.5:4:20 --sb2 0.05 --depth 1:60:2
draw catapult catapult --lr-factor 0.2:2.2:30
draw train train -a relu --sw2 2 --sb2 0 --depth 3 --train digits --examples 40 --lr-factor 0.5:6:12
draw jacobian jacobian -a tanh --sb2 0.05 --depth 2,8,32,128 --weights gaussian,orthogonal
