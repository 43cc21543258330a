#!/usr/bin/env bash
# fastvision's GPU check, for a machine with an NVIDIA GPU, its driver and PyTorch (for the CUDA libraries and the
# comparison), but no Rust and no network. Built by `cargo xtask gpu-bundle`; see docs/gpu.md.
#
#   gpu-check.sh [--dry-run] [--out FILE]
#
# GPU_CHECK_SECTIONS (default "parity epoch_f32 epoch_bf16") chooses fastvision's parts; each runs in its own
# process with its own time limit, so one that hangs cannot take the others' numbers with it.
#
# Finds the CUDA libraries (the driver's libcuda; cuBLAS, cuRAND, NVRTC, cuDNN from PyTorch's pip packages under
# site-packages/nvidia/*/lib), then, within 8 minutes, writes one JSON: fastvision's parity and speed checks
# (`fastvision gpu-check`) and the same epochs in PyTorch (`torch_epoch.py`), with the ratios.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here}/gpu-check.json"
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=1 ;;
        --out) out="$2"; shift ;;
        *) echo "usage: gpu-check.sh [--dry-run] [--out FILE]" >&2; exit 2 ;;
    esac
    shift
done
python="${PYTHON:-python3}"
work="$(dirname "$out")"
mkdir -p "$work"

# The binary travels xz-compressed; unpack it once (Python's lzma: no xz needed there).
bin_dir="${TMPDIR:-/tmp}/fastvision-gpu-bundle"
mkdir -p "$bin_dir"
if [ "$here/fastvision.xz" -nt "$bin_dir/fastvision" ]; then
    "$python" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
        "$here/fastvision.xz" "$bin_dir/fastvision.tmp" && chmod +x "$bin_dir/fastvision.tmp" \
        && mv "$bin_dir/fastvision.tmp" "$bin_dir/fastvision"
fi
fastvision="$bin_dir/fastvision"

# The CUDA libraries: PyTorch's wheels first (same CUDA major version as the bundle: 13), then the driver's.
libdirs=""
sites="$("$python" -c 'import site; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null)"
for site in $sites; do
    for dir in "$site"/nvidia/*/lib "$site"/nvidia/cu13/lib "$site"/torch/lib; do
        [ -d "$dir" ] && libdirs="$libdirs:$dir"
    done
done
for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu; do
    [ -d "$dir" ] && libdirs="$libdirs:$dir"
done
export LD_LIBRARY_PATH="${libdirs#:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

sections="${GPU_CHECK_SECTIONS:-parity epoch_f32 epoch_bf16}"
limit() { case "$1" in parity) echo 90 ;; *) echo 70 ;; esac; }
steps=("nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader")
for section in $sections; do
    steps+=("timeout $(limit "$section") $fastvision gpu-check --sections $section --data $here/data --json $work/fastvision-$section.json")
done
steps+=("timeout 90 $python $here/torch_epoch.py --data $here/data --json $work/pytorch.json"
        "merge $work/fastvision-*.json and $work/pytorch.json into $out")
if [ "$dry_run" = 1 ]; then
    echo "gpu-check.sh --dry-run: would run, in order (8 minutes at most):"
    for step in "${steps[@]}"; do echo "  $step"; done
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    echo "libraries of $fastvision:"
    ldd "$fastvision" 2>&1 | grep -E "cuda|cublas|curand|nvrtc|cudnn|not found" | sed 's/^/  /'
    echo "photos: $(ls "$here/data" 2>/dev/null | wc -l) files in $here/data"
    exit 0
fi

if ldd "$fastvision" | grep -q "not found"; then
    echo "gpu-check.sh: libraries not found (set LD_LIBRARY_PATH to the CUDA 13 libraries):" >&2
    ldd "$fastvision" | grep "not found" >&2
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$work/nvidia-smi.txt" 2>&1
cat "$work/nvidia-smi.txt"
rust_status=0
for section in $sections; do
    timeout "$(limit "$section")" "$fastvision" gpu-check --sections "$section" --data "$here/data" \
        --json "$work/fastvision-$section.json"
    status=$?
    echo "gpu-check.sh: fastvision $section exited $status"
    [ "$status" = 0 ] || rust_status=$status
done
PYTHONUNBUFFERED=1 timeout 90 "$python" "$here/torch_epoch.py" --data "$here/data" --json "$work/pytorch.json"
torch_status=$?
"$python" - "$work" "$out" "$rust_status" "$torch_status" <<'PY'
import json, os, sys
work, out, rust_status, torch_status = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def load(name):
    try:
        with open(os.path.join(work, name)) as f:
            return json.load(f)
    except Exception as e:
        return {"error": f"{name}: {e}"}
fastvision = {}
for name in sorted(os.listdir(work)):
    if name.startswith("fastvision-") and name.endswith(".json"):
        part = load(name)
        fastvision.update({k: v for k, v in part.items() if k != "failed"})
        fastvision.setdefault("failed", []).extend(part.get("failed", []))
report = {"nvidia_smi": open(os.path.join(work, "nvidia-smi.txt")).read().strip(),
          "fastvision": fastvision, "fastvision_exit": rust_status,
          "pytorch": load("pytorch.json"), "pytorch_exit": torch_status, "ratios": {}}
def last_epoch(section):
    epochs = (section or {}).get("epochs") or []
    return epochs[-1]["seconds"] if epochs else None
for precision in ["f32", "bf16"]:
    ours = last_epoch(fastvision.get(f"epoch_{precision}"))
    theirs = last_epoch(report["pytorch"].get(f"epoch_{precision}"))
    if ours and theirs:
        report["ratios"][f"epoch_{precision}_vs_pytorch"] = theirs / ours
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(report, f, indent=2)
os.replace(tmp, out)
print(json.dumps(report["ratios"]))
PY
echo "wrote $out"
exit $rust_status
