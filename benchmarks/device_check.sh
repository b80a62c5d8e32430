#!/usr/bin/env bash
# Issue 24's checks on a CUDA device, in one run of at most ~9 minutes; everything lands in $OUT (default out/device).
#
#   bash benchmarks/device_check.sh            # on a machine with a GPU, from the repository root
#
# 1. the CUDA tests: every transform under torch.cuda.set_sync_debug_mode("error") (validate async/off),
#    DeviceNoise, CUDA-graph capture of the parametric transforms and both flow samplers, inductor
#    (reduce-overhead) compiles of the parametric transforms: tests/test_device_path.py and the other
#    CUDA-marked tests;
# 2. throughput on CUDA, fp32 and bf16 autocast, batch 32 of 256x256 sRGB (packed raw 128x128), interleaved with
#    the peers and the randn_like floor, plus a DnCNN-17 step on the same batch;
# 3. the scaling sweep (side 128..2048 incl. tiling, batch 1..64);
# 4. flow throughput in patches per second: NAFlow on 256x256 sRGB, Noise Flow on packed 64x64, eager and
#    CUDA-graph replay (benchmarks/flow_patches.py).
# Each step has its own time limit so that a hang in one still brings the others back.
set -u
OUT="${OUT:-out/device}"
mkdir -p "$OUT"
export PYTHONPATH="${PYTHONPATH:-}:$PWD"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
python -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))" \
    > "$OUT/torch.txt" 2>&1
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s)"
    local start=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    echo "rc=$? after $((SECONDS - start))s" | tee -a "$OUT/$name.log"
    tail -n 3 "$OUT/$name.log"
}
step tests 150 python -m pytest -q -p no:cacheprovider -rs tests/test_device_path.py tests/test_recipe_devices.py \
    tests/test_pipeline.py tests/test_naflow_transform.py tests/test_noise_flow_transform.py \
    -k "cuda or graph or device or sync"
step throughput_fp32 110 python benchmarks/throughput.py --device cuda --batch 32 --size 256 --repeats 20 \
    --warmup 3 --inference-mode --out "$OUT/fp32"
step throughput_bf16 110 python benchmarks/throughput.py --device cuda --batch 32 --size 256 --repeats 20 \
    --warmup 3 --inference-mode --autocast --channels-last --out "$OUT/bf16"
step scaling 90 python benchmarks/throughput.py --device cuda --batch 32 --size 256 --repeats 3 --warmup 1 \
    --inference-mode --scaling --scaling-batch 4 --out "$OUT/scaling"
step flow_patches 80 python benchmarks/flow_patches.py --device cuda --out "$OUT/flows"
ls -R "$OUT" | head -50
